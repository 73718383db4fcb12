"""2-D / 3-D maps of embeddings (UMAP or PCA) and how well they keep neighbours.

umap-learn compiles its numba kernels on first use (30-40 s on a small CPU), so it is imported
lazily, inside ``fit_umap``; where numba keeps its compiled kernels and the background warm-up
are process set-up, in ``e5ui.runtime``.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from e5ui.analysis.neighbours import select_topk, topk
from e5ui.analysis.similarity import as_matrix, normalize_rows

logger = logging.getLogger(__name__)

METHODS = ("umap", "pca")

# umap-learn 0.5.12's spectral initialisation fails for n <= dim + 1 (eigsh needs k < N);
# below this many texts a UMAP layout says nothing anyway, so PCA is shown instead.
MIN_UMAP_TEXTS = 6

# Above this many points PCA is fitted from the covariance and applied a block at a time.
PCA_BLOCKWISE = 20_000
PCA_BLOCK = 8192

# The quick PCA preview shown while UMAP computes is fitted on a sample of this many points.
PREVIEW_SAMPLE = 10_000

# Neighbour preservation is exact up to this many points, estimated on a sample above it.
PRESERVATION_SAMPLE = 2000


@dataclass(eq=False)
class Projection:
    """Low-dimensional coordinates of embeddings.

    Attributes:
        coords: Float32 (n, dim) coordinates.
        method: The method that actually ran: ``"umap"`` or ``"pca"``.
        dim: 2 or 3.
        preservation: Neighbour preservation (kNN recall, see ``neighbour_preservation``),
            or None when not computed or n < 3.
        note: Empty, or why the result differs from the request (e.g. a PCA fallback).
        model: The fitted reducer (umap.UMAP or sklearn PCA) that places new points
            (``place``); None when there is none (fewer than 2 points).
    """

    coords: np.ndarray
    method: str
    dim: int
    preservation: float | None = None
    note: str = ""
    model: Any = None

    def place(self, vectors: Any) -> np.ndarray:
        """Map coordinates (m, dim) of new embeddings (m, d) on this map: UMAP's
        ``transform`` or the PCA projection (rows L2-normalised first, as the map's were).

        Raises:
            ValueError: the map has no fitted model.
        """
        if self.model is None:
            raise ValueError("This map cannot place new points (too few texts)")
        x = normalize_rows(as_matrix(vectors))
        out = np.zeros((x.shape[0], self.dim), dtype=np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", (UserWarning, RuntimeWarning))
            if self.method == "pca":
                placed = self.model.transform(x.astype(np.float64))
            else:
                placed = self.model.transform(x)
        placed = np.nan_to_num(np.asarray(placed, dtype=np.float32))
        out[:, : placed.shape[1]] = placed
        return out


def fit_umap(x: np.ndarray, dim: int, seed: int, n_neighbors: int, min_dist: float,
             approximate: bool = False) -> np.ndarray:
    """UMAP coordinates (n, dim) with the cosine metric; ``approximate`` forces pynndescent."""
    return fit_umap_model(x, dim, seed, n_neighbors, min_dist, approximate)[0]


def fit_umap_model(x: np.ndarray, dim: int, seed: int, n_neighbors: int, min_dist: float,
                   approximate: bool = False) -> tuple[np.ndarray, Any]:
    """``fit_umap``'s coordinates and the fitted ``umap.UMAP`` (whose ``transform`` places
    new points on the same map)."""
    import umap  # lazy: importing umap triggers numba compilation

    with warnings.catch_warnings():
        # Tiny inputs make umap warn about clipping and graph connectivity; the result is fine.
        warnings.simplefilter("ignore", UserWarning)
        reducer = umap.UMAP(
            n_components=dim,
            n_neighbors=n_neighbors,
            min_dist=min_dist,
            metric="cosine",
            random_state=seed,
            n_jobs=1,  # random_state forces one thread anyway; saying so silences the warning
            force_approximation_algorithm=approximate,
        )
        return np.asarray(reducer.fit_transform(x), dtype=np.float32), reducer


def _pca(x: np.ndarray, dim: int, seed: int, fit_sample: int | None = None
         ) -> tuple[np.ndarray, Any]:
    """PCA coordinates (n, dim), zero-padded when the data have fewer than dim components,
    and the fitted sklearn PCA (None for fewer than 2 points).

    Above ``PCA_BLOCKWISE`` points the PCA is fitted by the eigenvectors of the d x d
    covariance (one pass over the data, where the default randomized SVD took ~50 s at
    100,000 x 1024), or on a seeded sample of ``fit_sample`` points when given, and the points
    are projected a block at a time (no float64 copy of them all)."""
    n, d = x.shape
    out = np.zeros((n, dim), dtype=np.float32)
    r = min(dim, n - 1, d)
    if r < 1:
        return out, None
    from sklearn.decomposition import PCA

    with warnings.catch_warnings():
        # Components with zero variance (duplicates) make sklearn divide by zero; they are 0.
        warnings.simplefilter("ignore", RuntimeWarning)
        if n <= PCA_BLOCKWISE:
            pca = PCA(n_components=r, random_state=seed)
            coords = pca.fit_transform(x.astype(np.float64))
            out[:, :r] = np.nan_to_num(coords)
            return out, pca
        rows = np.arange(n)
        if fit_sample is not None and n > fit_sample:
            rows = np.sort(np.random.default_rng(seed).choice(n, size=fit_sample, replace=False))
        if rows.size < n:  # a sample: sklearn's randomized SVD, no d x d eigenproblem
            pca = PCA(n_components=r, random_state=seed).fit(x[rows].astype(np.float64))
        else:
            pca = PCA(n_components=r, random_state=seed, svd_solver="covariance_eigh").fit(x)
        for start in range(0, n, PCA_BLOCK):
            block = x[start : start + PCA_BLOCK].astype(np.float64)
            out[start : start + PCA_BLOCK, :r] = np.nan_to_num(pca.transform(block))
    return out, pca


def project(
    emb: Any,
    *,
    method: str = "umap",
    dim: int = 2,
    seed: int = 42,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    preservation_k: int | None = 10,
    progress: Callable[[str], None] | None = None,
    fit_sample: int | None = None,
    normalized: bool = False,
) -> Projection:
    """Map embeddings to 2-D or 3-D.

    Args:
        emb: Embeddings (n, d); rows are L2-normalised first, so PCA sees the same cosine
            geometry UMAP does.
        method: ``"umap"`` (cosine metric, deterministic for a seed) or ``"pca"``.
        dim: 2 or 3.
        seed: Random state.
        n_neighbors: UMAP neighbourhood size; clipped to n - 1.
        min_dist: UMAP minimum distance between embedded points.
        preservation_k: k of the neighbour preservation score; None skips it.
        progress: Called with a stage name ("PCA", "UMAP", "neighbour preservation").
        fit_sample: PCA above ``PCA_BLOCKWISE`` points is fitted on a seeded sample of this
            many (a quick preview: two directions of a 100,000-point cloud are found as well
            from 10,000 of them); None fits all.
        normalized: ``emb``'s rows are unit vectors already (float32): no copy of them.

    Returns:
        A Projection. UMAP falls back to PCA for fewer than ``MIN_UMAP_TEXTS`` texts or when
        it fails, and ``note`` says so.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method: {method}. Must be one of: {', '.join(METHODS)}")
    if dim not in (2, 3):
        raise ValueError("dim must be 2 or 3")
    if n_neighbors < 2:
        raise ValueError("n_neighbors must be at least 2")
    if min_dist < 0:
        raise ValueError("min_dist must not be negative")
    if preservation_k is not None and preservation_k < 1:
        raise ValueError("preservation_k must be at least 1")
    x = as_matrix(emb) if normalized else normalize_rows(as_matrix(emb))
    n = x.shape[0]

    def stage(name: str) -> None:
        if progress is not None:
            progress(name)

    ran, note = method, ""
    coords: np.ndarray | None = None
    model = None
    if method == "umap" and n < MIN_UMAP_TEXTS:
        ran = "pca"
        note = f"{n} {'text is' if n == 1 else 'texts are'} too few for UMAP; showing PCA"
    elif method == "umap":
        stage("UMAP")
        try:
            coords, model = fit_umap_model(x, dim, seed, min(n_neighbors, n - 1), min_dist)
        except Exception as exc:  # degrade to a map the user can still read
            logger.warning("UMAP failed (%s); falling back to PCA", exc)
            ran, note = "pca", f"UMAP failed ({exc}); showing PCA"
    if coords is None:
        stage("PCA")
        coords, model = _pca(x, dim, seed, fit_sample)

    score = None
    if preservation_k is not None and n >= 3:
        stage("neighbour preservation")
        score = neighbour_preservation(x, coords, k=preservation_k, seed=seed, normalized=True)
    return Projection(coords=coords, method=ran, dim=dim, preservation=score, note=note,
                      model=model)


def _euclidean_knn(low: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    """k nearest points (euclidean, self excluded, ties by lower index) of ``low[rows]``."""
    n = low.shape[0]
    out = np.empty((rows.size, k), dtype=np.int64)
    sq = np.einsum("ij,ij->i", low, low)
    step = max(1, (16 * 2**20) // max(1, n * 20))
    for start in range(0, rows.size, step):
        r = rows[start : start + step]
        # -|x - y|^2 up to the per-row constant |x|^2, which does not change the ranking.
        neg = 2.0 * (low[r] @ low.T) - sq[None, :]
        neg[np.arange(r.size), r] = -np.inf
        out[start : start + step] = select_topk(neg, k)[0]
    return out


def neighbour_preservation(
    high: Any,
    low: Any,
    k: int = 10,
    *,
    sample: int = PRESERVATION_SAMPLE,
    seed: int = 0,
    normalized: bool = False,
) -> float | None:
    """Mean fraction of each point's k nearest neighbours that the map keeps (kNN recall).

    ``mean_i |kNN_high(i) & kNN_low(i)| / k`` with cosine similarity in the embedding space,
    euclidean distance in the map, the point itself excluded and ties broken by lower index.
    1.0: every neighbourhood survives; about k / n: no better than random.

    Args:
        high: Embeddings (n, d).
        low: Map coordinates (n, dim).
        k: Neighbourhood size; clipped to n - 1.
        sample: Above this many points the mean is estimated over a seeded random sample of
            query points (neighbours are still searched among all points).
        seed: Random state of the sample.
        normalized: ``high``'s rows are unit vectors already (float32): no copy of them.

    Returns:
        The score in [0, 1], or None for fewer than 3 points.
    """
    hi = as_matrix(high, "high-dimensional embeddings")
    lo = as_matrix(low, "map coordinates").astype(np.float64)
    n = hi.shape[0]
    if lo.shape[0] != n:
        raise ValueError(f"got {lo.shape[0]} map points for {n} embeddings")
    if k < 1:
        raise ValueError("k must be at least 1")
    if n < 3:
        return None
    k = min(k, n - 1)
    rows = np.arange(n)
    if n > sample:
        rows = np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))
    hn = hi if normalized else normalize_rows(hi)
    knn_high = topk(hn[rows], hn, k, exclude_self=rows.astype(np.int64), normalized=True).indices
    knn_low = _euclidean_knn(lo, rows, k)
    hits = sum(np.intersect1d(a, b).size for a, b in zip(knn_high, knn_low, strict=True))
    return float(hits / (rows.size * k))
