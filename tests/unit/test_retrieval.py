"""Retrieval measures, top-k overlap, model-vs-model pair agreement and language centering,
each against hand-computed values, a plain loop, scipy or numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from e5ui.analysis.centering import MIN_TEXTS, center_languages, cross_lingual_p_at_1
from e5ui.analysis.retrieval import (
    compare_pair_scores,
    evaluate_retrieval,
    relevant_from_ids,
    topk_overlap,
)
from tests.conftest import rand_rows


# -- gold from ids ----------------------------------------------------------------------------
def test_relevant_from_ids():
    rel = relevant_from_ids(["a", "b", None, "z", " a "], ["b", "a", "a", "", float("nan"), "c"])
    assert [r.tolist() for r in rel] == [[1, 2], [0], [], [], [1, 2]]
    assert all(r.dtype == np.int64 for r in rel)
    same = relevant_from_ids(["p", "p", "q"], ["p", "p", "q"], exclude_self=True)
    assert [r.tolist() for r in same] == [[1], [0], []]
    with pytest.raises(ValueError, match="as many queries"):
        relevant_from_ids(["p"], ["p", "q"], exclude_self=True)


# -- MRR@k and Recall@k -----------------------------------------------------------------------
def test_hand_computed_mrr_and_recall():
    ranking = np.array([
        [3, 1, 2],    # relevant {1}: rank 2 -> RR 1/2, recall 1
        [0, 4, -1],   # relevant {5, 6}: none -> RR 0, recall 0
        [2, 5, 6],    # relevant {2, 6, 7}: rank 1 -> RR 1, recall 2/3
        [1, 2, 3],    # no relevant passage: excluded
    ])
    relevant = [[1], [5, 6], [2, 6, 7], []]
    got = evaluate_retrieval(ranking, relevant, k=3)
    assert got.mrr == pytest.approx((0.5 + 0 + 1) / 3)
    assert got.recall == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert got.n_evaluated == 3 and got.n_excluded == 1 and got.excluded.tolist() == [3]
    assert np.isnan(got.reciprocal_ranks[3]) and np.isnan(got.recalls[3])
    at1 = evaluate_retrieval(ranking, relevant, k=1)
    assert at1.mrr == pytest.approx(1 / 3) and at1.recall == pytest.approx((0 + 0 + 1 / 3) / 3)


def mrr_recall_loop(ranking, relevant, k):
    rrs, recalls = [], []
    for row, rel in zip(ranking, relevant):
        rel = set(int(r) for r in rel)
        if not rel:
            continue
        top = [int(c) for c in row[:k] if c >= 0]
        rr = 0.0
        for rank, c in enumerate(row[:k], start=1):
            if c in rel:
                rr = 1.0 / rank
                break
        rrs.append(rr)
        recalls.append(len(rel & set(top)) / len(rel))
    return (np.mean(rrs) if rrs else np.nan), (np.mean(recalls) if recalls else np.nan)


def test_random_rankings_against_a_loop():
    rng = np.random.default_rng(11)
    for trial in range(40):
        n, m, width = int(rng.integers(1, 12)), int(rng.integers(1, 30)), int(rng.integers(1, 12))
        width = min(width, m)
        ranking = np.stack([rng.permutation(m)[:width] for _ in range(n)])
        ranking[rng.random(ranking.shape) < 0.15] = -1  # some empty slots
        relevant = [rng.choice(m, size=rng.integers(0, min(4, m) + 1), replace=False)
                    for _ in range(n)]
        for k in (1, 3, 10, 50):
            got = evaluate_retrieval(ranking, relevant, k=k)
            mrr, recall = mrr_recall_loop(ranking, relevant, k)
            np.testing.assert_allclose([got.mrr, got.recall], [mrr, recall], err_msg=str(trial))


def test_ids_to_mrr_end_to_end():
    query_ids = ["p1", "p2", "p3"]
    corpus_ids = ["p2", "p1", "p3", "p1"]
    ranking = np.array([[0, 3, 1], [0, 1, 2], [1, 0, -1]])
    got = evaluate_retrieval(ranking, relevant_from_ids(query_ids, corpus_ids), k=10)
    # p1: first relevant at rank 2 (index 3); p2: rank 1; p3: not found.
    assert got.mrr == pytest.approx((0.5 + 1 + 0) / 3)
    assert got.recall == pytest.approx((1.0 + 1.0 + 0.0) / 3)


def test_no_evaluable_query_and_empty_input():
    got = evaluate_retrieval(np.array([[0, 1]]), [[]], k=10)
    assert np.isnan(got.mrr) and np.isnan(got.recall) and got.n_excluded == 1
    empty = evaluate_retrieval(np.zeros((0, 5), np.int64), [], k=10)
    assert np.isnan(empty.mrr) and empty.n_evaluated == 0


def test_invalid_rankings():
    with pytest.raises(ValueError, match="2-D"):
        evaluate_retrieval(np.array([1, 2]), [[1]])
    with pytest.raises(ValueError, match="twice"):
        evaluate_retrieval(np.array([[1, 1]]), [[1]])
    with pytest.raises(ValueError, match="relevance for 2"):
        evaluate_retrieval(np.array([[1]]), [[1], [2]])
    with pytest.raises(ValueError, match="k must be at least 1"):
        evaluate_retrieval(np.array([[1]]), [[1]], k=0)
    with pytest.raises(ValueError, match="integers"):
        evaluate_retrieval(np.array([[1.5]]), [[1]])


# -- overlap ----------------------------------------------------------------------------------
def test_overlap_by_hand_and_loop():
    a = np.array([[1, 2, 3], [4, 5, -1], [7, 8, 9]])
    b = np.array([[3, 1, 0], [-1, 6, 4], [0, 1, 2]])
    got = topk_overlap(a, b)
    assert got.k == 3 and got.counts.tolist() == [2, 1, 0]
    np.testing.assert_allclose(got.fractions, [2 / 3, 1 / 3, 0])
    assert got.mean == pytest.approx(1 / 3)
    assert topk_overlap(a, b, k=1).counts.tolist() == [0, 0, 0]
    rng = np.random.default_rng(2)
    for _ in range(20):
        x = np.stack([rng.permutation(20)[:6] for _ in range(5)])
        y = np.stack([rng.permutation(20)[:4] for _ in range(5)])
        x[rng.random(x.shape) < 0.2] = -1
        k = int(rng.integers(1, 7))
        loop = [len({c for c in r[:k] if c >= 0} & {c for c in s[:k] if c >= 0})
                for r, s in zip(x, y)]
        assert topk_overlap(x, y, k=k).counts.tolist() == loop
    with pytest.raises(ValueError, match="queries"):
        topk_overlap(a, b[:2])


# -- model vs model ---------------------------------------------------------------------------
def sims(seed: int, n: int = 9) -> np.ndarray:
    x = rand_rows(n, 8, seed)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x @ x.T


def test_spearman_equals_scipy_over_the_upper_triangle():
    a, b = sims(0), sims(1)
    va = [a[i, j] for i in range(9) for j in range(i + 1, 9)]
    vb = [b[i, j] for i in range(9) for j in range(i + 1, 9)]
    got = compare_pair_scores(a, b)
    assert got.n_pairs == 36
    assert got.spearman == pytest.approx(spearmanr(va, vb).statistic, abs=1e-12)
    # A monotone rescaling of one model's scores changes nothing.
    assert compare_pair_scores(a, 0.7 + 0.3 * a).spearman == pytest.approx(1.0)


def test_largest_rank_disagreements_against_a_loop():
    a, b = sims(3), sims(4)
    b[0, 1] = b[1, 0] = b[2, 5]  # a tie in model B's scores
    pairs = [(i, j) for i in range(9) for j in range(i + 1, 9)]
    va, vb = [a[p] for p in pairs], [b[p] for p in pairs]

    def rank(values, v):  # 1 = highest; ties share their average rank
        higher = sum(x > v for x in values)
        equal = sum(x == v for x in values)
        return higher + (equal + 1) / 2

    diffs = [(abs(rank(va, x) - rank(vb, y)), idx) for idx, (x, y) in enumerate(zip(va, vb))]
    expected = [pairs[idx] for _, idx in sorted(diffs, key=lambda t: (-t[0], t[1]))[:7]]
    got = compare_pair_scores(a, b, limit=7)
    assert list(zip(got.rows.tolist(), got.cols.tolist())) == expected
    for r, c, ra, rb, sa, sb in zip(got.rows, got.cols, got.ranks_a, got.ranks_b, got.scores_a,
                                    got.scores_b):
        assert ra == rank(va, a[r, c]) and rb == rank(vb, b[r, c])
        assert sa == pytest.approx(a[r, c]) and sb == pytest.approx(b[r, c])
    np.testing.assert_array_equal(got.rank_differences, got.ranks_a - got.ranks_b)
    diffs_sorted = np.abs(got.rank_differences)
    assert (diffs_sorted[:-1] >= diffs_sorted[1:]).all()


def test_pair_agreement_corner_cases():
    one = compare_pair_scores(np.eye(2), np.eye(2))
    assert one.n_pairs == 1 and np.isnan(one.spearman)
    flat = compare_pair_scores(np.ones((4, 4)), sims(0, 4))
    assert np.isnan(flat.spearman)
    assert compare_pair_scores(sims(0), sims(1), limit=0).rows.size == 0
    assert compare_pair_scores(np.ones((1, 1)), np.ones((1, 1))).n_pairs == 0
    with pytest.raises(ValueError, match="differ in shape"):
        compare_pair_scores(sims(0, 4), sims(0, 5))
    with pytest.raises(ValueError, match="square"):
        compare_pair_scores(np.ones((3, 4)), np.ones((3, 4)))


# -- meaning vs language ----------------------------------------------------------------------
def test_centering_equals_numpy_and_respects_min_texts():
    x = rand_rows(18, 6, seed=9) + 3.0  # a shared offset, like E5's common direction
    langs = ["en"] * 6 + ["de"] * 5 + ["ja"] * 4 + [None, "", "de"]
    got = center_languages(x, langs)
    assert got.min_texts == MIN_TEXTS == 5
    assert got.centered == {"en": 6, "de": 6} and got.skipped == {"ja": 4}
    assert got.unlabelled == 2 and got.applied

    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    expected = unit.copy()
    for lang in ("en", "de"):  # de: rows 6-10 and 17
        rows = [i for i, v in enumerate(langs) if v == lang]
        centered = unit[rows] - unit[rows].mean(axis=0)
        expected[rows] = centered / np.linalg.norm(centered, axis=1, keepdims=True)
    np.testing.assert_allclose(got.embeddings, expected, atol=1e-6)
    assert got.embeddings.dtype == np.float32
    # The skipped language and the unlabelled texts are the normalised input.
    np.testing.assert_allclose(got.embeddings[11:17], unit[11:17], atol=1e-7)
    assert not np.allclose(got.embeddings[17], unit[17])

    strict = center_languages(x, langs, min_texts=7)
    assert strict.centered == {} and not strict.applied
    assert strict.skipped == {"en": 6, "de": 6, "ja": 4}
    np.testing.assert_allclose(strict.embeddings, unit, atol=1e-6)
    loose = center_languages(x, langs, min_texts=2)
    assert set(loose.centered) == {"en", "de", "ja"}


def test_centering_removes_a_language_offset():
    rng = np.random.default_rng(0)
    meaning = rng.normal(size=(10, 16))
    offsets = {"en": rng.normal(size=16) * 3, "fr": rng.normal(size=16) * 3}
    x = np.concatenate([meaning + offsets["en"], meaning + offsets["fr"]])
    langs = ["en"] * 10 + ["fr"] * 10
    ids = list(range(10)) * 2
    before = cross_lingual_p_at_1(x, langs, ids)
    after = cross_lingual_p_at_1(center_languages(x, langs).embeddings, langs, ids)
    assert after.p_at_1 == 1.0 and after.p_at_1 >= before.p_at_1


def test_centering_invalid():
    with pytest.raises(ValueError, match="languages for 3"):
        center_languages(rand_rows(3), ["en"])
    with pytest.raises(ValueError, match="at least 2"):
        center_languages(rand_rows(3), ["en"] * 3, min_texts=1)


def test_cross_lingual_p_at_1_against_a_loop():
    rng = np.random.default_rng(4)
    for _ in range(10):
        n = 24
        x = rng.normal(size=(n, 5))
        langs = list(rng.choice(["en", "de", "ja", None], size=n))
        ids = list(rng.choice(["a", "b", "c", "d", "e", None], size=n))
        got = cross_lingual_p_at_1(x, langs, ids)
        unit = x / np.linalg.norm(x, axis=1, keepdims=True)
        hits, evaluated = 0, 0
        for i in range(n):
            if langs[i] is None or ids[i] is None:
                continue
            if not any(ids[j] == ids[i] and langs[j] not in (None, langs[i]) for j in range(n)):
                continue
            evaluated += 1
            cands = [j for j in range(n) if langs[j] not in (None, langs[i])]
            best = max(cands, key=lambda j: (unit[i] @ unit[j], -j))
            hits += ids[best] == ids[i]
            assert got.neighbour[i] == best
        assert got.evaluated == evaluated
        assert got.p_at_1 == pytest.approx(hits / evaluated)
    lone = cross_lingual_p_at_1(rand_rows(3), ["en"] * 3, ["a", "a", "b"])
    assert lone.evaluated == 0 and np.isnan(lone.p_at_1) and (lone.neighbour == -1).all()
