"""Tests for e5ui.analysis.bitext against scipy's dense assignment solver and hand-made cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import precision_recall_fscore_support
from sklearn.metrics.pairwise import cosine_similarity

from e5ui.analysis.bitext import Matching, Pair, evaluate, match


def _rand(n: int, d: int = 8, seed: int = 0, positive: bool = False) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return np.abs(x) if positive else x


def _margin_matrix(src, tgt, k):
    """Ratio margin by its definition, over the full cosine matrix."""
    cos = cosine_similarity(src.astype(np.float64), tgt.astype(np.float64))
    kx, ky = min(k, cos.shape[1]), min(k, cos.shape[0])
    x_mean = np.array([np.mean(sorted(row, reverse=True)[:kx]) for row in cos])
    y_mean = np.array([np.mean(sorted(col, reverse=True)[:ky]) for col in cos.T])
    return cos / ((x_mean[:, None] + y_mean[None, :]) / 2)


def _total(result: Matching) -> float:
    return sum(p.score for p in result.pairs)


@pytest.mark.parametrize(("n", "m"), [(6, 6), (8, 5), (5, 9), (1, 4), (4, 1)])
@pytest.mark.parametrize("method", ["cosine", "margin"])
def test_one_to_one_is_optimal_on_complete_graph(n, m, method):
    src, tgt = _rand(n, seed=n, positive=True), _rand(m, seed=100 + m, positive=True)
    res = match(src, tgt, method=method, candidates=max(n, m))
    scores = cosine_similarity(src, tgt) if method == "cosine" else _margin_matrix(src, tgt, 4)
    rows, cols = linear_sum_assignment(scores, maximize=True)
    assert len(res.pairs) == min(n, m)  # all scores > 0: a full matching is optimal
    assert _total(res) == pytest.approx(scores[rows, cols].sum(), rel=1e-5)


def test_one_to_one_never_takes_a_negative_edge():
    src, tgt = _rand(7, seed=1), _rand(7, seed=2)  # signed: some cosines < 0
    res = match(src, tgt, method="cosine", candidates=7)
    clipped = np.maximum(cosine_similarity(src, tgt), 0.0)  # an edge <= 0 = no pair
    rows, cols = linear_sum_assignment(clipped, maximize=True)
    assert _total(res) == pytest.approx(clipped[rows, cols].sum(), rel=1e-5)
    assert all(p.score > 0 for p in res.pairs)


def test_pair_fields_and_bookkeeping():
    src, tgt = _rand(6, seed=3), _rand(4, seed=4)
    res = match(src, tgt, method="cosine", candidates=8)
    cos = cosine_similarity(src, tgt)
    assert [p.src for p in res.pairs] == sorted(p.src for p in res.pairs)
    for p in res.pairs:
        assert p.cosine == pytest.approx(cos[p.src, p.tgt], abs=1e-6)
        assert p.score == pytest.approx(p.cosine, abs=1e-6)
    assert sorted(res.unmatched_src + [p.src for p in res.pairs]) == list(range(6))
    assert sorted(res.unmatched_tgt + [p.tgt for p in res.pairs]) == list(range(4))
    assert (res.method, res.one_to_one, res.threshold) == ("cosine", True, None)


def test_without_one_to_one_each_source_takes_its_argmax():
    base = np.eye(4, dtype=np.float32)
    src = np.array([[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]], np.float32)
    tgt = np.vstack([base[0], base[0], base[2], base[3]])  # duplicate targets: ties
    res = match(src, tgt, method="cosine", one_to_one=False, candidates=4)
    cos = cosine_similarity(src, tgt)
    expected = [int(np.flatnonzero(row == row.max())[0]) for row in cos]  # lowest index wins
    assert [p.tgt for p in res.pairs] == expected == [0, 0, 2, 3]
    assert res.unmatched_src == [] and res.unmatched_tgt == [1]


def test_without_one_to_one_margin_argmax_on_complete_graph():
    src, tgt = _rand(9, seed=5, positive=True), _rand(7, seed=6, positive=True)
    res = match(src, tgt, one_to_one=False, candidates=9)
    assert [p.tgt for p in res.pairs] == _margin_matrix(src, tgt, 4).argmax(axis=1).tolist()


def test_threshold_drops_pairs_after_matching():
    src, tgt = _rand(8, seed=7, positive=True), _rand(8, seed=8, positive=True)
    full = match(src, tgt, method="cosine")
    cut = sorted(p.score for p in full.pairs)[3]
    res = match(src, tgt, method="cosine", threshold=cut)
    assert res.pairs == [p for p in full.pairs if p.score >= cut]
    assert len(res.unmatched_src) == 3 and len(res.unmatched_tgt) == 3


def test_translations_are_recovered():
    rng = np.random.default_rng(9)
    src = rng.normal(size=(200, 32)).astype(np.float32)
    perm = rng.permutation(200)
    tgt = src[perm] + 0.1 * rng.normal(size=(200, 32)).astype(np.float32)
    gold = [(int(perm[j]), j) for j in range(200)]
    ev = evaluate(match(src, tgt), gold)
    assert ev.p_at_1 == 1.0 and ev.f1 == 1.0


@pytest.mark.parametrize(("n", "m"), [(0, 0), (0, 3), (3, 0), (1, 1), (1, 3), (3, 1)])
@pytest.mark.parametrize("one_to_one", [True, False])
@pytest.mark.parametrize("method", ["cosine", "margin"])
def test_small_shapes(n, m, one_to_one, method):
    src, tgt = _rand(n, seed=10, positive=True), _rand(m, seed=11, positive=True)
    res = match(src, tgt, method=method, one_to_one=one_to_one, candidates=1)
    expected = min(n, m) if one_to_one else (n if m else 0)
    assert len(res.pairs) == expected
    assert len(res.unmatched_src) == n - expected


def test_scaling_smoke():
    rng = np.random.default_rng(12)
    src = rng.normal(size=(3000, 32)).astype(np.float32)
    tgt = src[::-1] + 0.2 * rng.normal(size=src.shape).astype(np.float32)
    res = match(src, tgt)
    assert len(res.pairs) == 3000
    assert all(p.tgt == 2999 - p.src for p in res.pairs)


def test_rejects_bad_arguments():
    x = _rand(3)
    with pytest.raises(ValueError, match="margin, cosine"):
        match(x, x, method="bleu")
    with pytest.raises(ValueError, match="k must"):
        match(x, x, k=0)
    with pytest.raises(ValueError, match="candidates"):
        match(x, x, candidates=0)
    with pytest.raises(ValueError, match="dimension mismatch"):
        match(x, _rand(3, d=4))
    with pytest.raises(ValueError, match="threshold"):
        match(x, x, threshold=float("nan"))


_shapes = st.tuples(st.integers(0, 14), st.integers(0, 14), st.integers(0, 2**16))


@settings(max_examples=30, deadline=None)
@given(
    shape=_shapes,
    method=st.sampled_from(["cosine", "margin"]),
    candidates=st.integers(1, 16),
)
def test_one_to_one_never_repeats_an_index(shape, method, candidates):
    n, m, seed = shape
    res = match(_rand(n, seed=seed), _rand(m, seed=seed + 1), method=method, candidates=candidates)
    srcs, tgts = [p.src for p in res.pairs], [p.tgt for p in res.pairs]
    assert len(set(srcs)) == len(srcs) and len(set(tgts)) == len(tgts)
    assert set(srcs).isdisjoint(res.unmatched_src) and set(tgts).isdisjoint(res.unmatched_tgt)


@settings(max_examples=30, deadline=None)
@given(
    shape=_shapes,
    one_to_one=st.booleans(),
    t1=st.floats(-1.0, 1.5),
    t2=st.floats(-1.0, 1.5),
)
def test_higher_threshold_never_adds_pairs(shape, one_to_one, t1, t2):
    n, m, seed = shape
    lo, hi = sorted((t1, t2))
    src, tgt = _rand(n, seed=seed), _rand(m, seed=seed + 1)
    low = match(src, tgt, one_to_one=one_to_one, threshold=lo)
    high = match(src, tgt, one_to_one=one_to_one, threshold=hi)
    assert set(high.pairs) <= set(low.pairs)
    assert all(p.score >= hi for p in high.pairs)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 40), seed=st.integers(0, 2**16))
def test_permuted_noisy_copy_gives_perfect_p_at_1(n, seed):
    rng = np.random.default_rng(seed)
    src = rng.normal(size=(n, 32)).astype(np.float32)
    perm = rng.permutation(n)
    tgt = src[perm] + 0.05 * rng.normal(size=(n, 32)).astype(np.float32)
    gold = [(int(perm[j]), j) for j in range(n)]
    assert evaluate(match(src, tgt, method="margin"), gold).p_at_1 == 1.0


# --- evaluate ----------------------------------------------------------------------------------


def test_evaluate_hand_computed():
    gold = [(0, 0), (1, 1), (2, 2), (3, 3)]
    pred = [Pair(0, 0, 1.0, 0.9), Pair(1, 2, 1.0, 0.9), (2, 2), (5, 5)]
    ev = evaluate(pred, gold)
    assert (ev.n_gold, ev.n_pred, ev.n_correct) == (4, 4, 2)
    assert ev.p_at_1 == 0.5  # sources 0 and 2 right, 1 wrong, 3 unmatched
    assert ev.precision == 0.5 and ev.recall == 0.5 and ev.f1 == 0.5


def test_evaluate_matches_sklearn():
    rng = np.random.default_rng(13)
    gold = {(i, int(rng.integers(0, 20))) for i in range(15)}
    pred = {(i, int(rng.integers(0, 20))) for i in range(5, 20)} | set(list(gold)[:6])
    universe = sorted(gold | pred)
    y_true = [p in gold for p in universe]
    y_pred = [p in pred for p in universe]
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="binary")
    ev = evaluate(sorted(pred), gold)
    assert (ev.precision, ev.recall, ev.f1) == pytest.approx((p, r, f))


def test_evaluate_accepts_result_and_handles_empty():
    res = Matching(pairs=[Pair(0, 1, 1.0, 0.8)], unmatched_src=[1])
    ev = evaluate(res, [(0, 1), (1, 0)])
    assert ev.p_at_1 == 0.5 and ev.precision == 1.0 and ev.recall == 0.5
    empty = evaluate([], [])
    assert (empty.p_at_1, empty.precision, empty.recall, empty.f1) == (0.0, 0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="pairs"):
        evaluate([(1, 2, 3)], [])
