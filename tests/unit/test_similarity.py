"""Tests for e5ui.analysis.similarity and .calibration against sklearn, scipy and plain loops."""

from __future__ import annotations

import json
import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import pdist
from scipy.stats import percentileofscore
from sklearn.metrics.pairwise import cosine_similarity

from e5ui.analysis.calibration import (
    Baseline,
    baseline_from_embeddings,
    calibrate,
    percentile,
    rescale,
)
from e5ui.analysis.similarity import (
    aggregate,
    cosine_matrix,
    default_n_clusters,
    heatmap_order,
    top_pairs,
)
from tests.conftest import rand_rows


def _rand(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    return rand_rows(n, d, seed)


# --- cosine_matrix -----------------------------------------------------------------------------


def test_cosine_matrix_matches_sklearn_unnormalised_with_zero_row():
    a = _rand(7) * np.arange(1, 8, dtype=np.float32)[:, None]
    b = _rand(5, seed=1)
    a[3] = 0.0
    b[0] = 0.0
    np.testing.assert_allclose(cosine_matrix(a, b), cosine_similarity(a, b), atol=1e-6)
    res = cosine_matrix(a)
    assert res.dtype == np.float32 and res.shape == (7, 7)
    np.testing.assert_allclose(res, cosine_similarity(a), atol=1e-6)
    assert not np.isnan(res).any()
    assert res[3, 3] == 0.0


def test_cosine_matrix_empty_and_single():
    assert cosine_matrix(np.zeros((0, 4))).shape == (0, 0)
    assert cosine_matrix(np.zeros((0, 4)), _rand(3, 4)).shape == (0, 3)
    one = cosine_matrix(np.array([3.0, 4.0]))  # a 1-D vector is one row
    np.testing.assert_allclose(one, [[1.0]], atol=1e-6)


def test_cosine_matrix_stays_within_unit_interval():
    a = np.repeat(_rand(1, 1024), 4, axis=0) * 1e3
    assert cosine_matrix(a).max() <= 1.0


def test_cosine_matrix_rejects_bad_input():
    with pytest.raises(ValueError, match="dimension mismatch"):
        cosine_matrix(_rand(2, 3), _rand(2, 4))
    with pytest.raises(ValueError, match="NaN"):
        cosine_matrix(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        cosine_matrix(np.zeros((2, 2, 2)))


# --- heatmap_order -----------------------------------------------------------------------------


def test_order_input_is_identity():
    np.testing.assert_array_equal(heatmap_order(_rand(4)), [0, 1, 2, 3])


def test_order_language_groups_by_first_appearance():
    langs = ["fr", "en", "fr", "de", "en", "fr"]
    expected = []
    for lang in dict.fromkeys(langs):  # insertion order = first appearance
        expected += [i for i, x in enumerate(langs) if x == lang]
    np.testing.assert_array_equal(heatmap_order(_rand(6), "language", langs), expected)


def test_order_cluster_matches_scipy_on_pdist():
    emb = _rand(12, 6, seed=3)
    ref = leaves_list(linkage(pdist(emb, "cosine"), "average", optimal_ordering=True))
    np.testing.assert_array_equal(heatmap_order(emb, "cluster"), ref)


@pytest.mark.parametrize("n", [0, 1, 2, 3])
@pytest.mark.parametrize("method", ["input", "language", "cluster"])
def test_order_small_n_is_permutation(n, method):
    order = heatmap_order(_rand(n), method, langs=["x"] * n)
    assert sorted(order.tolist()) == list(range(n))


def test_order_cluster_with_duplicates_and_zero_rows():
    emb = _rand(6)
    emb[1] = emb[0]
    emb[4] = 0.0
    emb[5] = 0.0
    order = heatmap_order(emb, "cluster")
    assert sorted(order.tolist()) == list(range(6))
    pos = {v: i for i, v in enumerate(order.tolist())}
    assert abs(pos[0] - pos[1]) == 1  # identical texts end up side by side


def test_order_rejects_bad_arguments():
    with pytest.raises(ValueError, match="input, language, cluster"):
        heatmap_order(_rand(3), "alphabetical")
    with pytest.raises(ValueError, match="language code"):
        heatmap_order(_rand(3), "language")
    with pytest.raises(ValueError, match="2 language codes for 3"):
        heatmap_order(_rand(3), "language", ["a", "b"])


# --- aggregate ---------------------------------------------------------------------------------


def _brute_mean_sim(emb: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    sims = cosine_similarity(emb.astype(np.float64))
    out = np.zeros((k, k))
    for a in range(k):
        for b in range(k):
            ia, ib = np.flatnonzero(labels == a), np.flatnonzero(labels == b)
            vals = [sims[i, j] for i in ia for j in ib if i != j]
            out[a, b] = np.mean(vals) if vals else 1.0
    return out


def test_aggregate_mean_sim_matches_brute_force():
    emb = _rand(40, 5, seed=7) * np.random.default_rng(8).uniform(0.1, 9, size=(40, 1))
    emb[5] = 0.0
    view = aggregate(emb, n_clusters=6)
    assert view.k == 6
    np.testing.assert_allclose(view.mean_sim, _brute_mean_sim(emb, view.labels, 6), atol=1e-5)
    assert view.mean_sim.dtype == np.float32


def test_aggregate_structure_is_consistent():
    emb = _rand(50, seed=2)
    view = aggregate(emb)
    assert view.k == default_n_clusters(50) == math.ceil(math.sqrt(50))
    assert view.labels.shape == (50,)
    assert view.sizes.sum() == 50
    for c, members in enumerate(view.members):
        np.testing.assert_array_equal(members, np.flatnonzero(view.labels == c))
        assert view.sizes[c] == members.size > 0
    assert sorted(view.order.tolist()) == list(range(view.k))
    again = aggregate(emb)
    np.testing.assert_array_equal(again.labels, view.labels)


def test_aggregate_singleton_diagonal_is_one():
    emb = np.vstack([np.tile([1.0, 0, 0], (5, 1)), [[0, 1.0, 0]]]).astype(np.float32)
    emb[:5] += np.random.default_rng(0).normal(scale=0.01, size=(5, 3)).astype(np.float32)
    view = aggregate(emb, n_clusters=2)
    single = [c for c in range(view.k) if view.sizes[c] == 1]
    assert single and all(view.mean_sim[c, c] == 1.0 for c in single)


def test_aggregate_duplicates_give_fewer_clusters():
    emb = np.repeat(_rand(3), 10, axis=0)
    view = aggregate(emb, n_clusters=8)
    assert view.k == 3
    np.testing.assert_allclose(np.diag(view.mean_sim), 1.0, atol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_aggregate_tiny(n):
    view = aggregate(_rand(n))
    assert view.labels.shape == (n,)
    assert view.k == n  # default k = ceil(sqrt(n)) clipped to n; two random points differ
    assert view.mean_sim.shape == (n, n)
    np.testing.assert_array_equal(np.diag(view.mean_sim), np.ones(n))


def test_aggregate_respects_max_cells_and_rejects_bad_k():
    assert aggregate(_rand(100), n_clusters=50, max_cells=16).k <= 4
    with pytest.raises(ValueError, match="n_clusters"):
        aggregate(_rand(5), n_clusters=0)


def test_default_n_clusters_caps_at_60():
    assert default_n_clusters(100_000) == 60
    assert default_n_clusters(10) == 4
    assert default_n_clusters(0) == 0


# --- calibration -------------------------------------------------------------------------------


def test_baseline_from_embeddings_uses_all_pairs():
    emb = _rand(9, seed=4)
    sims = cosine_similarity(emb)
    ref = sorted(sims[i, j] for i in range(9) for j in range(i + 1, 9))
    base = baseline_from_embeddings(emb, "m")
    assert base.n_texts == 9 and base.cosines.dtype == np.float32
    np.testing.assert_allclose(base.cosines, ref, atol=1e-6)
    assert base.median == pytest.approx(statistics.median(ref), abs=1e-6)
    assert base.p5 <= base.median <= base.p95


def test_baseline_roundtrips_through_json_exactly():
    base = baseline_from_embeddings(_rand(30, seed=5), "intfloat/multilingual-e5-small")
    back = Baseline.from_dict(json.loads(json.dumps(base.to_dict())))
    np.testing.assert_array_equal(back.cosines, base.cosines)
    assert (back.model, back.n_texts) == (base.model, 30)


def test_baseline_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2"):
        baseline_from_embeddings(_rand(1), "m")
    with pytest.raises(ValueError, match="at least one"):
        Baseline("m", np.zeros(0))
    with pytest.raises(ValueError, match="not a baseline"):
        Baseline.from_dict({"cosines": [0.1]})


def test_baseline_sorts_its_cosines():
    expected = np.array([0.7, 0.8, 0.9], dtype=np.float32)
    np.testing.assert_array_equal(Baseline("m", [0.9, 0.7, 0.8]).cosines, expected)


def test_percentile_matches_scipy_weak():
    ref = np.random.default_rng(1).uniform(0.65, 0.9, size=200).astype(np.float32)
    ref[:20] = ref[20]  # ties
    base = Baseline("m", ref)
    scores = np.concatenate([[0.0, 0.5, 1.0], ref[15:40], np.linspace(0.6, 0.95, 30)])
    scores = scores.astype(np.float32)  # percentile compares at the baseline's precision
    expected = [percentileofscore(ref, s, kind="weak") / 100 for s in scores]
    np.testing.assert_allclose(percentile(scores, base), expected)


def test_percentile_shapes():
    base = Baseline("m", [0.7, 0.8, 0.9])
    scalar = percentile(0.8, base)
    assert scalar.shape == () and float(scalar) == pytest.approx(2 / 3)
    assert percentile(np.full((2, 3), 0.75), base).shape == (2, 3)
    assert np.isnan(percentile([np.nan], base)[0])


@settings(max_examples=50, deadline=None)
@given(
    ref=hnp.arrays(np.float32, st.integers(1, 40), elements=st.floats(-1, 1, width=32)),
    scores=hnp.arrays(np.float64, st.integers(1, 40), elements=st.floats(-1.5, 1.5)),
)
def test_percentile_is_monotone_and_bounded(ref, scores):
    base = Baseline("m", ref)
    scores = np.sort(scores)
    p = percentile(scores, base)
    assert ((p >= 0) & (p <= 1)).all()
    assert (np.diff(p) >= 0).all()


def test_rescale_maps_median_to_zero_and_one_to_one():
    base = Baseline("m", [0.7, 0.75, 0.8, 0.85])  # median 0.775
    out = rescale([0.775, 1.0, 0.55, 0.8], base)
    np.testing.assert_allclose(out, [0.0, 1.0, -1.0, 0.025 / 0.225], atol=1e-6)


def test_rescale_guards_degenerate_baseline():
    with pytest.raises(ValueError, match="too close to 1"):
        rescale(0.9, Baseline("m", [1.0, 1.0, 1.0]))


def test_calibrate_hand_computed():
    base = Baseline("m", [0.7, 0.75, 0.8, 0.85])
    cal = calibrate([0.8, 0.69], base)
    np.testing.assert_allclose(cal.raw, [0.8, 0.69])
    np.testing.assert_allclose(cal.percentile, [0.75, 0.0])
    np.testing.assert_allclose(cal.rescaled, [0.025 / 0.225, -0.085 / 0.225], atol=1e-6)


# --- top_pairs ---------------------------------------------------------------------------------
def test_top_pairs_against_a_loop():
    sim = cosine_similarity(_rand(9, seed=4)).astype(np.float32)
    sim[1, 5] = sim[5, 1] = sim[2, 3] = sim[3, 2] = 0.99  # a tie: (1, 5) comes first
    loop = sorted((-float(sim[i, j]), i, j) for i in range(9) for j in range(i + 1, 9))
    i, j, v = top_pairs(sim, 6)
    assert list(zip(i.tolist(), j.tolist())) == [(a, b) for _, a, b in loop[:6]]
    np.testing.assert_allclose(v, [-x for x, _, _ in loop[:6]])


def test_top_pairs_corner_cases():
    assert [x.size for x in top_pairs(np.ones((1, 1)), 5)] == [0, 0, 0]
    assert top_pairs(np.eye(3), 100)[0].size == 3
    with pytest.raises(ValueError, match="square"):
        top_pairs(np.ones((2, 3)), 1)


@pytest.mark.parametrize("n, block", [(0, 3), (1, 3), (2, 1), (37, 5), (120, 64), (50, 500)])
def test_summarize_pairs_matches_the_full_matrix(n, block):
    from e5ui.analysis.similarity import summarize_pairs

    x = _rand(n, 6, seed=n)
    if n > 5:
        x[3] = x[1]  # a tie at the top
        x[4] = 0.0  # a zero row
    got = summarize_pairs(x, 15, block_rows=block)
    full = cosine_similarity(x) if n else np.zeros((0, 0))
    if n:
        np.fill_diagonal(full, -np.inf)
    pairs = sorted(((full[i, j], i, j) for i in range(n) for j in range(i + 1, n)),
                   key=lambda p: (-p[0], p[1], p[2]))[:15]
    assert got.i.tolist() == [p[1] for p in pairs] and got.j.tolist() == [p[2] for p in pairs]
    np.testing.assert_allclose(got.values, [p[0] for p in pairs], atol=1e-6)
    if n >= 2:
        upper = full[np.triu_indices(n, k=1)]
        assert got.lowest == pytest.approx(upper.min(), abs=1e-6)
        assert got.highest == pytest.approx(upper.max(), abs=1e-6)
    else:
        assert got.lowest is None and got.highest is None
