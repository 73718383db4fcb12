"""Tests for e5ui.analysis.explore against independent numpy / sklearn references."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from e5ui.analysis import explore, projection
from e5ui.analysis.calibration import Baseline


def _unit(n: int, d: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _baseline(seed: int = 9) -> Baseline:
    return Baseline("toy", np.random.default_rng(seed).uniform(-0.3, 0.5, size=997))


def test_neighbourhood_matches_numpy_topk_and_calibration():
    x, coords = _unit(60, 16, 0), np.random.default_rng(1).normal(size=(60, 2))
    base = _baseline()
    got = explore.neighbourhood(x, 7, 5, coords, baseline=base)
    x64 = x.astype(np.float64)
    cos = x64 @ x64[7]
    cos[7] = -np.inf
    want = np.lexsort((np.arange(60), -cos))[:5]
    np.testing.assert_array_equal(got.indices, want)
    np.testing.assert_allclose(got.cosines, cos[want], atol=1e-6)
    ref = np.sort(base.cosines)
    pct = np.array([(ref <= np.float32(c)).mean() for c in cos[want]])
    np.testing.assert_allclose(got.percentile, pct)
    med = np.median(ref.astype(np.float64))
    np.testing.assert_allclose(got.rescaled, (cos[want] - med) / (1 - med), atol=1e-6)


def test_neighbourhood_map_rank_far_langs_partners_hubs():
    n = 41
    x, coords = _unit(n, 8, 2), np.random.default_rng(3).normal(size=(n, 2))
    langs = ["en" if j % 2 else "de" for j in range(n)]
    ids = [str(j // 2) for j in range(n)]  # 0,1 share an id, 2,3 ...
    got = explore.neighbourhood(x, 4, 3, coords, langs=langs, ids=ids)
    d = np.linalg.norm(coords - coords[4], axis=1)
    for j, rank in zip(got.indices, got.map_rank, strict=True):
        assert rank == 1 + sum(d[m] < d[j] for m in range(n) if m != 4)
    assert got.far_rank == min(explore.FAR_MULTIPLE * 3, (n - 1) // 2) == 15
    np.testing.assert_array_equal(got.far_on_map, got.map_rank > 15)
    assert got.langs == [langs[j] for j in got.indices]
    np.testing.assert_array_equal(got.cross_lingual, [langs[j] != "de" for j in got.indices])
    np.testing.assert_array_equal(got.partners, [5])
    # hubs: each text's 10 nearest others, N_k > mean + 2 std and >= 2 mean
    cos = x.astype(np.float64) @ x.astype(np.float64).T
    np.fill_diagonal(cos, -np.inf)
    counts = np.bincount(np.argsort(-cos, axis=1, kind="stable")[:, :10].ravel(), minlength=n)
    hub = (counts > counts.mean() + 2 * counts.std()) & (counts >= 2 * counts.mean())
    np.testing.assert_array_equal(got.hub, hub[got.indices])


def test_far_on_map_marks_a_neighbour_the_map_moved_away():
    x = _unit(30, 8, 4)
    x[1] = x[0] + 0.01  # 1 is 0's nearest neighbour ...
    coords = np.random.default_rng(5).normal(size=(30, 2))
    coords[1] = coords[0] + 100.0  # ... placed farthest of all on the map
    got = explore.neighbourhood(x, 0, 2, coords)
    assert got.indices[0] == 1 and got.map_rank[0] == 29 and got.far_on_map[0]


def test_neighbourhood_refuses_bad_input():
    x, coords = _unit(5, 4, 0), np.zeros((5, 2))
    with pytest.raises(ValueError, match="index"):
        explore.neighbourhood(x, 5, 2, coords)
    with pytest.raises(ValueError, match="k must"):
        explore.neighbourhood(x, 0, 0, coords)
    with pytest.raises(ValueError, match="map points"):
        explore.neighbourhood(x, 0, 2, coords[:4])


def test_search_meaning_percentiles_matches_and_pca_place():
    x, q = _unit(50, 12, 6), _unit(1, 12, 7)[0]
    base = _baseline(8)
    proj = projection.project(x, method="pca", dim=2, preservation_k=None)
    got = explore.search_meaning(x, q * 3.0, base, threshold=0.6, projection=proj)
    cos = x.astype(np.float64) @ q.astype(np.float64)
    np.testing.assert_allclose(got.cosines, cos, atol=1e-6)
    ref = np.sort(base.cosines)
    pct = np.array([(ref <= np.float32(c)).mean() for c in cos])
    np.testing.assert_allclose(got.percentile, pct)
    want = [j for j in np.argsort(-cos, kind="stable") if pct[j] >= 0.6]
    np.testing.assert_array_equal(got.matches, want)
    # PCA placement: sklearn's PCA fitted here on the same (normalised) rows
    pca = PCA(n_components=2, random_state=42).fit(x.astype(np.float64))
    expected = pca.transform(q[None, :].astype(np.float64))[0]
    np.testing.assert_allclose(got.place, expected, atol=1e-5)
    # and the map's own points land where the map drew them
    np.testing.assert_allclose(proj.place(x[:3]), proj.coords[:3], atol=1e-5)


def test_search_meaning_default_threshold_is_the_top_percent():
    assert explore.SEARCH_PERCENTILE == 0.99
    x = _unit(20, 6, 1)
    got = explore.search_meaning(x, x[3], _baseline())
    assert got.matches[0] == 3 and got.place is None
    with pytest.raises(ValueError, match="threshold"):
        explore.search_meaning(x, x[3], _baseline(), threshold=1.5)
    with pytest.raises(ValueError, match="dimensions"):
        explore.search_meaning(x, x[3, :4], _baseline())


def test_umap_map_keeps_its_reducer_and_places_a_point_near_its_twin():
    x = _unit(40, 8, 11)
    proj = projection.project(x, method="umap", dim=2, n_neighbors=5, preservation_k=None)
    assert proj.method == "umap" and proj.model is not None
    placed = proj.place(x[5:6])[0]
    d = np.linalg.norm(proj.coords - placed, axis=1)
    spread = np.linalg.norm(proj.coords - proj.coords.mean(axis=0), axis=1).mean()
    assert d[5] < spread  # a known point lands in its own part of the map


def test_map_hubs_from_a_neighbour_graph_are_those_of_its_rows_without_themselves():
    from e5ui.analysis.hubness import hubness

    x = _unit(80, 8, 3)
    cos = x.astype(np.float64) @ x.astype(np.float64).T
    # Each row's 12 nearest, itself included (first, as in UMAP's graph): an exact search.
    graph = np.stack([np.lexsort((np.arange(80), -row)) for row in cos])[:, :12]
    got = explore.map_hubs(x, 10, graph=graph)
    exact = explore.map_hubs(x, 10)
    np.testing.assert_array_equal(got.counts, exact.counts)
    np.testing.assert_array_equal(got.hubs, exact.hubs)
    # A row's own index anywhere, or missing: the first 10 others are taken in order.
    shuffled = graph.copy()
    shuffled[:, [0, 5]] = shuffled[:, [5, 0]]
    others = [[j for j in row if j != i][:10] for i, row in enumerate(shuffled)]
    want = hubness(np.array(others), 80)
    np.testing.assert_array_equal(explore.map_hubs(x, 10, graph=shuffled).counts, want.counts)
    with pytest.raises(ValueError, match="10 other texts"):
        explore.map_hubs(x, 10, graph=graph[:, :10])


def test_normalized_inputs_give_the_same_answers_without_a_copy():
    from e5ui.analysis.neighbours import topk

    x, coords = _unit(70, 12, 4), np.random.default_rng(5).normal(size=(70, 2))
    base = _baseline()
    a = explore.neighbourhood(x, 9, 6, coords, baseline=base)
    b = explore.neighbourhood(x, 9, 6, coords, baseline=base, normalized=True)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.cosines, b.cosines, atol=1e-7)
    q = x[11] * 3.0
    s1 = explore.search_meaning(x * 2.0, q, base)  # rows scaled: normalised inside
    s2 = explore.search_meaning(x, q, base, normalized=True)
    np.testing.assert_allclose(s1.cosines, x.astype(np.float64) @ x[11].astype(np.float64),
                               atol=1e-6)
    np.testing.assert_allclose(s2.cosines, s1.cosines, atol=1e-6)
    np.testing.assert_array_equal(s1.matches, s2.matches)
    got = topk(x[:5], x, 4, normalized=True)
    want = np.argsort(-(x[:5].astype(np.float64) @ x.T.astype(np.float64)), axis=1,
                      kind="stable")[:, :4]
    np.testing.assert_array_equal(got.indices, want)
