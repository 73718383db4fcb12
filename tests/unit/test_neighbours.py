"""Tests for e5ui.analysis.neighbours against brute-force numpy/sklearn references."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics.pairwise import cosine_similarity

from e5ui.analysis.hubness import hubness
from e5ui.analysis.neighbours import (
    knn_mean,
    margin_scores,
    rerank_margin,
    select_topk,
    topk,
)
from tests.conftest import rand_rows as _rand


def _lattice(n: int, seed: int, d: int = 6) -> np.ndarray:
    """Rows with four entries of +-0.5 (unit norm) or all zero: every cosine is exact in
    float32 and float64, so ties are real ties."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, d), dtype=np.float32)
    for i in range(n):
        if rng.random() < 0.1:
            continue  # zero vector
        cols = rng.choice(d, size=4, replace=False)
        out[i, cols] = rng.choice([-0.5, 0.5], size=4)
    return out


def _cos64(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if len(a) == 0 or len(b) == 0:  # sklearn refuses empty inputs
        return np.zeros((len(a), len(b)))
    return cosine_similarity(a, b)


def _brute_topk(q, c, k, excluded=None):
    """Full float64 matrix, per-row sort by (-score, index), excluded cells dropped."""
    sims = _cos64(q, c)
    n, m = sims.shape
    k = min(k, m)
    idx = np.full((n, k), -1, dtype=np.int64)
    val = np.full((n, k), np.nan)
    for i in range(n):
        cand = [j for j in range(m) if excluded is None or not excluded[i, j]]
        cand.sort(key=lambda j: (-sims[i, j], j))
        for r, j in enumerate(cand[:k]):
            idx[i, r], val[i, r] = j, sims[i, j]
    return idx, val


def _check(res, ref_idx, ref_val):
    np.testing.assert_array_equal(res.indices, ref_idx)
    np.testing.assert_allclose(res.scores, ref_val, atol=1e-6)
    assert res.indices.dtype == np.int64 and res.scores.dtype == np.float32


@pytest.mark.parametrize("chunk_bytes", [1, 20 * 30 * 7, 64 * 2**20])
def test_topk_matches_brute_force_random(chunk_bytes):
    q, c = _rand(30, seed=1), _rand(50, seed=2) * 3.0
    _check(topk(q, c, 5, chunk_bytes=chunk_bytes), *_brute_topk(q, c, 5))


@pytest.mark.parametrize("chunk_bytes", [1, 20 * 25 * 7, 64 * 2**20])
def test_topk_ties_prefer_lower_index(chunk_bytes):
    q = _lattice(25, seed=3)
    c = np.vstack([_lattice(20, seed=4), _lattice(20, seed=4)])  # every text twice
    _check(topk(q, c, 7, chunk_bytes=chunk_bytes), *_brute_topk(q, c, 7))


def test_topk_exclude_self_and_cross_lingual():
    x = _lattice(40, seed=5)
    langs = np.array(["en", "fr", "de"])[np.random.default_rng(6).integers(0, 3, 40)]
    same_lang = langs[:, None] == langs[None, :]
    diag = np.eye(40, dtype=bool)
    for chunk in (1, 20 * 40 * 9, 64 * 2**20):
        res = topk(x, x, 6, exclude_self=True, chunk_bytes=chunk)
        _check(res, *_brute_topk(x, x, 6, diag))
        res = topk(
            x, x, 6, cross_lingual=True, query_langs=langs, corpus_langs=langs, chunk_bytes=chunk
        )
        _check(res, *_brute_topk(x, x, 6, same_lang))


def test_topk_exclude_self_index_array():
    c = _rand(20, seed=7)
    rows = np.array([3, 0, 17, 9])
    own = np.array([3, -1, 17, 9])  # query 1 has no own index
    excluded = np.zeros((4, 20), dtype=bool)
    for i, j in enumerate(own):
        if j >= 0:
            excluded[i, j] = True
    _check(topk(c[rows], c, 4, exclude_self=own), *_brute_topk(c[rows], c, 4, excluded))


def test_topk_k_larger_than_corpus_pads_invalid():
    c = _rand(3, seed=8)
    res = topk(c, c, 10, exclude_self=True)
    assert res.indices.shape == (3, 3)
    assert (res.indices[:, -1] == -1).all() and np.isnan(res.scores[:, -1]).all()
    _check(res, *_brute_topk(c, c, 3, np.eye(3, dtype=bool)))


def test_topk_everything_excluded():
    x = _rand(4)
    res = topk(x, x, 2, cross_lingual=True, query_langs=["en"] * 4, corpus_langs=["en"] * 4)
    assert (res.indices == -1).all() and np.isnan(res.scores).all()


@pytest.mark.parametrize(("n", "m"), [(0, 5), (5, 0), (0, 0), (1, 1), (1, 2), (2, 1)])
def test_topk_small_shapes(n, m):
    q, c = _rand(n, seed=9), _rand(m, seed=10)
    res = topk(q, c, 3)
    assert res.indices.shape == (n, min(3, m))
    _check(res, *_brute_topk(q, c, 3))


def test_topk_single_vector_query():
    c = _rand(6)
    np.testing.assert_array_equal(topk(c[2], c, 1).indices, [[2]])


def test_topk_rejects_bad_arguments():
    x = _rand(4)
    with pytest.raises(ValueError, match="k must"):
        topk(x, x, 0)
    with pytest.raises(ValueError, match="exclude_self"):
        topk(x, x[:3], 2, exclude_self=True)
    with pytest.raises(ValueError, match="query_langs"):
        topk(x, x, 2, cross_lingual=True)
    with pytest.raises(ValueError, match="3 query languages for 4"):
        topk(x, x, 2, cross_lingual=True, query_langs=["a"] * 3, corpus_langs=["a"] * 4)
    with pytest.raises(ValueError, match="dimension mismatch"):
        topk(x, _rand(4, 8), 2)
    with pytest.raises(ValueError, match="chunk_bytes"):
        topk(x, x, 2, chunk_bytes=0)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(0, 12),
    m=st.integers(0, 12),
    k=st.integers(1, 14),
    seed=st.integers(0, 2**16),
    chunk=st.sampled_from([1, 40, 400, 2**20]),
)
def test_topk_property_matches_brute_force(n, m, k, seed, chunk):
    q, c = _lattice(n, seed), _lattice(m, seed + 1)
    _check(topk(q, c, k, chunk_bytes=chunk), *_brute_topk(q, c, k))


def test_select_topk_skips_nan_and_neg_inf():
    idx, val = select_topk([[np.nan, 1.0, -np.inf, 1.0, 0.5]], 4)
    np.testing.assert_array_equal(idx, [[1, 3, 4, -1]])
    np.testing.assert_array_equal(val, [[1.0, 1.0, 0.5, np.nan]])


# --- knn_mean and margin -----------------------------------------------------------------------


def test_knn_mean_matches_loop():
    a, b = _rand(9, seed=11), _rand(14, seed=12)
    sims = cosine_similarity(a, b)
    expected = [np.mean(sorted(row, reverse=True)[:4]) for row in sims]
    np.testing.assert_allclose(knn_mean(a, b, 4, chunk_bytes=100), expected, atol=1e-6)
    self_sims = cosine_similarity(b)
    expected = [
        np.mean(sorted((v for j, v in enumerate(row) if j != i), reverse=True)[:3])
        for i, row in enumerate(self_sims)
    ]
    np.testing.assert_allclose(knn_mean(b, b, 3, exclude_self=True), expected, atol=1e-6)
    assert np.isnan(knn_mean(a, b[:0], 2)).all()


def test_margin_scores_formula_and_bad_denominator():
    np.testing.assert_allclose(margin_scores(0.9, 0.8, 0.7), 0.9 / 0.75, rtol=1e-6)
    assert np.isnan(margin_scores(0.5, -0.3, 0.1))


def _loop_margin(q, c, k, margin_k, candidates, excluded=None):
    sims = _cos64(q, c)
    n, m = sims.shape
    ok = np.ones((n, m), dtype=bool) if excluded is None else ~excluded

    def mean_top(vals):
        return sum(sorted(vals, reverse=True)[:margin_k]) / min(margin_k, len(vals))

    x_mean = [mean_top([sims[i, j] for j in range(m) if ok[i, j]]) for i in range(n)]
    y_mean = [mean_top([sims[i, j] for i in range(n) if ok[i, j]]) for j in range(m)]
    idx = np.full((n, min(k, m)), -1)
    val = np.full((n, min(k, m)), np.nan)
    cos = np.full((n, min(k, m)), np.nan)
    for i in range(n):
        pool = sorted((j for j in range(m) if ok[i, j]), key=lambda j: (-sims[i, j], j))
        pool = pool[:candidates]
        scored = [(sims[i, j] / ((x_mean[i] + y_mean[j]) / 2), j) for j in pool]
        scored.sort(key=lambda t: (-t[0], t[1]))
        for r, (s, j) in enumerate(scored[:k]):
            idx[i, r], val[i, r], cos[i, r] = j, s, sims[i, j]
    return idx, val, cos


@pytest.mark.parametrize("candidates", [3, 6, 100])
def test_rerank_margin_matches_loop(candidates):
    q = np.abs(_rand(12, seed=13))  # positive orthant: all cosines > 0
    c = np.abs(_rand(15, seed=14))
    res = rerank_margin(q, c, k=3, margin_k=4, candidates=candidates, chunk_bytes=500)
    idx, val, cos = _loop_margin(q, c, 3, 4, candidates)
    np.testing.assert_array_equal(res.indices, idx)
    np.testing.assert_allclose(res.scores, val, rtol=1e-5)
    np.testing.assert_allclose(res.cosines, cos, atol=1e-6)


def test_rerank_margin_with_exclusions_matches_loop():
    x = np.abs(_rand(18, seed=15))
    langs = ["en", "fr", "de"] * 6
    same = np.array(langs)[:, None] == np.array(langs)[None, :]
    res = rerank_margin(x, x, 4, 3, 8, cross_lingual=True, query_langs=langs, corpus_langs=langs)
    idx, val, _ = _loop_margin(x, x, 4, 3, 8, same)
    np.testing.assert_array_equal(res.indices, idx)
    np.testing.assert_allclose(res.scores, val, rtol=1e-5)
    res = rerank_margin(x, x, 4, 3, 8, exclude_self=True)
    idx, val, _ = _loop_margin(x, x, 4, 3, 8, np.eye(18, dtype=bool))
    np.testing.assert_array_equal(res.indices, idx)


def test_rerank_margin_demotes_a_hub():
    # Every query shares a common direction h; a corpus text lying along h (a hub) is
    # closer to every query than its true partner, but margin discounts it.
    rng = np.random.default_rng(16)
    h = np.eye(64, dtype=np.float32)[0]
    c = rng.normal(size=(30, 64)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    q = 0.6 * c + 0.8 * h
    corpus = np.vstack([c, h])
    plain = topk(q, corpus, 1).indices[:, 0]
    margin = rerank_margin(q, corpus, 1).indices[:, 0]
    assert (plain == 30).mean() > 0.5
    np.testing.assert_array_equal(margin, np.arange(30))


@pytest.mark.parametrize(("n", "m"), [(0, 4), (4, 0), (1, 1), (2, 3)])
def test_rerank_margin_small_shapes(n, m):
    res = rerank_margin(np.abs(_rand(n)), np.abs(_rand(m, seed=1)), k=2)
    assert res.indices.shape == res.scores.shape == res.cosines.shape == (n, min(2, m))


def test_rerank_margin_rejects_small_pool():
    with pytest.raises(ValueError, match="candidates"):
        rerank_margin(_rand(3), _rand(3), k=5, candidates=2)


# --- hubness -----------------------------------------------------------------------------------


def _skew(x):
    x = np.asarray(x, dtype=float)
    d = x - x.mean()
    return (d**3).mean() / (d**2).mean() ** 1.5


def test_hubness_counts_and_skew_against_loop():
    idx = np.array([[0, 1], [0, 2], [0, 1], [0, -1], [3, 0]])
    h = hubness(idx, 5)
    counter = Counter(v for row in idx.tolist() for v in row if v >= 0)
    np.testing.assert_array_equal(h.counts, [counter.get(i, 0) for i in range(5)])
    assert h.skewness == pytest.approx(_skew(h.counts))
    np.testing.assert_array_equal(h.orphans, [4])


def test_hubness_flags_a_point_that_is_everyones_neighbour():
    rng = np.random.default_rng(17)
    n, k = 200, 5
    idx = np.stack([rng.choice(np.arange(1, n), size=k, replace=False) for _ in range(n)])
    idx[:, 0] = 0
    h = hubness(idx, n)
    assert h.hubs.tolist() == [0]
    assert h.skewness > 3


def test_hubness_uniform_table_has_no_hubs():
    n, k = 20, 3
    idx = np.array([[(i + j + 1) % n for j in range(k)] for i in range(n)])
    h = hubness(idx, n)
    assert h.hubs.size == 0 and h.skewness == 0.0 and (h.counts == k).all()


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 30),
    k=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_hubness_rule_property(n, k, seed):
    rng = np.random.default_rng(seed)
    idx = rng.integers(-1, n, size=(n, k))  # -1 = missing slot
    low = rng.integers(0, max(1, n // 3), size=(n, k))
    idx = np.where(rng.random((n, k)) < 0.5, low, idx)  # skew towards low ids
    h = hubness(idx, n)
    counts = [sum(1 for v in idx.ravel() if v == j) for j in range(n)]
    mean = sum(counts) / n
    std = (sum((c - mean) ** 2 for c in counts) / n) ** 0.5
    expected = sorted(
        (j for j in range(n) if counts[j] > mean + 2 * std and counts[j] >= 2 * mean and counts[j]),
        key=lambda j: (-counts[j], j),
    )
    assert h.hubs.tolist() == expected
    assert h.threshold == pytest.approx(mean + 2 * std)


def test_hubness_bad_input():
    with pytest.raises(ValueError, match="out of range"):
        hubness([[0, 5]], 5)
    empty = hubness(np.zeros((0, 3), dtype=np.int64), 0)
    assert empty.counts.size == 0 and np.isnan(empty.skewness)


# --- search (what the app and CLI call) --------------------------------------------------------
def test_search_entries_skip_empty_slots_and_calibrate():
    from scipy.stats import percentileofscore

    from e5ui.analysis.calibration import Baseline
    from e5ui.analysis.neighbours import search

    q, c = _rand(3, seed=11), _rand(4, seed=12)
    qlang, clang = ["en", "de", "en"], ["en", "en", "en", "de"]
    found = search(q, c, 3, cross_lingual=True, query_langs=qlang, corpus_langs=clang,
                   baseline=Baseline("t", np.linspace(-0.5, 0.5, 101, dtype=np.float32)))
    got = list(found.entries())
    # English queries may only see the one German text; the German query the three English.
    assert [(qi, ci) for qi, _, ci in got if qi != 1] == [(0, 3), (2, 3)]
    assert sorted(ci for qi, _, ci in got if qi == 1) == [0, 1, 2]
    sims = cosine_similarity(q, c)
    for qi, rank, ci in got:
        assert found.cosines[qi, rank] == pytest.approx(sims[qi, ci], abs=1e-5)
        ref = percentileofscore(np.linspace(-0.5, 0.5, 101, dtype=np.float32),
                                np.float32(sims[qi, ci]), kind="weak") / 100
        assert found.calibrated.percentile[qi, rank] == pytest.approx(ref, abs=1e-6)
    assert found.hubs == set()  # 3 queries are too few to call anything a hub
