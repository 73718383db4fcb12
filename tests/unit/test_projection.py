"""Tests for e5ui.analysis.projection: PCA/UMAP maps, fallbacks, neighbour preservation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist
from sklearn.metrics.pairwise import cosine_similarity

from e5ui.analysis import projection
from e5ui.analysis.projection import neighbour_preservation, project
from tests.conftest import rand_rows as _rand


def _planar(n: int, d: int = 12, seed: int = 0) -> np.ndarray:
    """Points on a 2-D plane through the origin of R^d; normalised rows stay on that plane."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(d, 2)))[0].T
    return (rng.normal(size=(n, 2)) @ basis).astype(np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# --- PCA ---------------------------------------------------------------------------------------


def test_pca_of_planar_data_is_an_isometry():
    x = _planar(25)
    proj = project(x, method="pca")
    assert proj.method == "pca" and proj.coords.dtype == np.float32 and proj.note == ""
    np.testing.assert_allclose(pdist(proj.coords), pdist(_unit(x)), atol=1e-5)
    assert proj.preservation == 1.0


def test_pca_pads_missing_components_with_zeros():
    proj = project(_planar(10), method="pca", dim=3)
    assert proj.coords.shape == (10, 3)
    np.testing.assert_allclose(proj.coords[:, 2], 0.0, atol=1e-5)


@pytest.mark.parametrize("method", ["umap", "pca"])
@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
def test_tiny_inputs_do_not_crash(method, dim, n):
    proj = project(_rand(n), method=method, dim=dim)
    assert proj.coords.shape == (n, dim) and np.isfinite(proj.coords).all()
    assert proj.method == "pca" and proj.dim == dim
    if n == 1:
        np.testing.assert_array_equal(proj.coords, np.zeros((1, dim)))
    if method == "umap":
        assert "too few for UMAP" in proj.note
    assert (proj.preservation is None) == (n < 3)


def test_pca_with_duplicates_and_zero_rows():
    x = np.vstack([np.tile(_rand(1), (4, 1)), np.zeros((2, 16), np.float32)])
    proj = project(x, method="pca")
    assert np.isfinite(proj.coords).all()
    np.testing.assert_allclose(proj.coords[0], proj.coords[3], atol=1e-6)


def test_project_rejects_bad_arguments():
    x = _rand(4)
    with pytest.raises(ValueError, match="dim must be 2 or 3"):
        project(x, dim=4)
    with pytest.raises(ValueError, match="umap, pca"):
        project(x, method="tsne")
    with pytest.raises(ValueError, match="n_neighbors"):
        project(x, n_neighbors=1)


# --- UMAP (one tiny fit; the first one in a process pays numba's compile time) ----------------


@pytest.fixture(scope="module")
def three_blobs() -> np.ndarray:
    rng = np.random.default_rng(1)
    centers = rng.normal(size=(3, 16)) * 4
    return (np.repeat(centers, 15, axis=0) + rng.normal(size=(45, 16))).astype(np.float32)


def test_umap_is_deterministic_and_keeps_clusters(three_blobs):
    stages: list[str] = []
    a = project(three_blobs, method="umap", n_neighbors=10, progress=stages.append)
    b = project(three_blobs, method="umap", n_neighbors=10)
    assert a.method == "umap" and a.note == "" and a.coords.shape == (45, 2)
    np.testing.assert_array_equal(a.coords, b.coords)
    assert stages == ["UMAP", "neighbour preservation"]
    assert a.preservation is not None and a.preservation > 0.5
    # Each point's nearest map neighbour comes from its own blob.
    d = cdist(a.coords, a.coords)
    np.fill_diagonal(d, np.inf)
    assert (d.argmin(axis=1) // 15 == np.arange(45) // 15).all()


def test_umap_small_n_clips_n_neighbors():
    proj = project(_rand(8, seed=2), method="umap", dim=3)  # n_neighbors 15 > n - 1
    assert proj.method == "umap" and proj.coords.shape == (8, 3)



# --- neighbour preservation --------------------------------------------------------------------


def _loop_preservation(high, low, k):
    hs = cosine_similarity(high.astype(np.float64))
    ld = cdist(low.astype(np.float64), low.astype(np.float64))
    n = len(high)
    total = 0
    for i in range(n):
        others = [j for j in range(n) if j != i]
        nh = sorted(others, key=lambda j: (-hs[i, j], j))[:k]
        nl = sorted(others, key=lambda j: (ld[i, j], j))[:k]
        total += len(set(nh) & set(nl))
    return total / (n * k)


@pytest.mark.parametrize("k", [1, 3, 10, 50])
def test_neighbour_preservation_matches_loop(k):
    high, low = _rand(30, seed=3), _rand(30, d=2, seed=4)
    expected = _loop_preservation(high, low, min(k, 29))
    assert neighbour_preservation(high, low, k=k) == pytest.approx(expected)


def test_neighbour_preservation_sample_estimates_exact_value():
    high = _rand(400, seed=5)
    low = high[:, :2] + 0.3 * _rand(400, d=2, seed=6)
    exact = neighbour_preservation(high, low, k=5, sample=400)
    assert exact == pytest.approx(_loop_preservation(high, low, 5))
    estimate = neighbour_preservation(high, low, k=5, sample=150)
    assert abs(estimate - exact) < 0.1


def test_neighbour_preservation_edge_cases():
    assert neighbour_preservation(_rand(2), _rand(2, d=2)) is None
    assert neighbour_preservation(_rand(0), _rand(0, d=2)) is None
    with pytest.raises(ValueError, match="3 map points for 4"):
        neighbour_preservation(_rand(4), _rand(3, d=2))
    with pytest.raises(ValueError, match="k must"):
        neighbour_preservation(_rand(4), _rand(4, d=2), k=0)


def test_large_pca_is_sklearns_and_a_sampled_fit_projects_every_point(monkeypatch):
    from sklearn.decomposition import PCA

    monkeypatch.setattr(projection, "PCA_BLOCKWISE", 100)
    monkeypatch.setattr(projection, "PCA_BLOCK", 64)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 12)) * np.linspace(3, 0.5, 12)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    got = projection.project(x, method="pca", preservation_k=None)
    ref = PCA(n_components=2, svd_solver="full").fit_transform(unit)
    np.testing.assert_allclose(np.abs(got.coords), np.abs(ref), atol=1e-4)
    sampled = projection.project(x, method="pca", preservation_k=None, fit_sample=200)
    keep = np.sort(np.random.default_rng(42).choice(500, size=200, replace=False))
    fitted = PCA(n_components=2, svd_solver="full").fit(unit[keep])
    np.testing.assert_allclose(np.abs(sampled.coords), np.abs(fitted.transform(unit)),
                               atol=1e-4)
