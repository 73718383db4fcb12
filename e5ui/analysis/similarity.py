"""Cosine matrices, heatmap orderings, cluster summaries and the most similar pairs.

Everything here is a plain function of numpy arrays. Embeddings are float32 ``(n, d)`` arrays,
usually L2-normalised, but no function assumes it: cosines are computed from normalised copies,
and an all-zero row has cosine 0 with everything (never NaN).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

logger = logging.getLogger(__name__)

ORDER_METHODS = ("input", "language", "cluster")

# Above this many texts a full heatmap has > 250k cells; show cluster aggregates instead.
AGGREGATE_ABOVE = 500

# Default cap on heatmap cells sent to the browser (k clusters -> k * k cells).
MAX_CELLS = 250_000

_NORM_BLOCK = 4096


def as_matrix(emb: Any, name: str = "embeddings", check_finite: bool = True) -> np.ndarray:
    """Return ``emb`` as a finite 2-D float32 array; one 1-D vector becomes one row.

    ``check_finite=False`` skips the scan for NaN and infinity, for unit rows a caller made
    (and so checked) once: the scan reads every entry, ~80 ms at 100,000 x 1024, which a
    click on a map would otherwise pay several times."""
    arr = np.asarray(emb, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, dim), got shape {arr.shape}")
    # A float64 sum is non-finite iff some entry is, without an (n, d) boolean temporary.
    if check_finite and arr.size and not np.isfinite(arr.sum(dtype=np.float64)):
        raise ValueError(f"{name} contain NaN or infinite values")
    return arr


def normalize_rows(emb: Any) -> np.ndarray:
    """Return an L2-normalised float32 copy of ``emb``; all-zero rows stay zero.

    Args:
        emb: Array of shape (n, d).

    Returns:
        Float32 array of shape (n, d) whose non-zero rows have unit length.
    """
    arr = as_matrix(emb)
    out = np.empty_like(arr)
    # Blocks keep the float64 temporaries small for 100k-row inputs.
    for start in range(0, arr.shape[0], _NORM_BLOCK):
        block = arr[start : start + _NORM_BLOCK].astype(np.float64)
        norms = np.sqrt(np.einsum("ij,ij->i", block, block))
        scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        out[start : start + _NORM_BLOCK] = block * scale[:, None]
    return out


def cosine_matrix(a: Any, b: Any | None = None) -> np.ndarray:
    """Matrix with ``res[i, j] = cos(a[i], b[j])``.

    Args:
        a: Array of shape (n, d).
        b: Array of shape (m, d); ``None`` compares ``a`` with itself.

    Returns:
        Float32 array of shape (n, m), clipped to [-1, 1]. A zero vector has cosine 0 with
        everything, itself included.
    """
    an = normalize_rows(a)
    bn = an if b is None else normalize_rows(b)
    if b is not None and an.shape[1] != bn.shape[1]:
        raise ValueError(f"dimension mismatch: {an.shape[1]} vs {bn.shape[1]}")
    res = an @ bn.T
    # Rounding can push self-similarity to 1.0000001; calibration assumes cosines <= 1.
    np.clip(res, -1.0, 1.0, out=res)
    return res


def _cosine_condensed(emb: np.ndarray) -> np.ndarray:
    """Condensed cosine-distance vector (as scipy.spatial.distance.pdist), zero rows at 1."""
    dist = 1.0 - cosine_matrix(emb).astype(np.float64)
    np.fill_diagonal(dist, 0.0)
    np.clip(dist, 0.0, 2.0, out=dist)
    return squareform(dist, checks=False)


def _optimal_leaves(condensed: np.ndarray, n: int) -> np.ndarray:
    """Leaf order of an average-linkage tree with optimal leaf ordering."""
    if n <= 2:
        return np.arange(n, dtype=np.int64)
    tree = linkage(condensed, method="average", optimal_ordering=True)
    return leaves_list(tree).astype(np.int64)


def heatmap_order(
    emb: Any,
    method: str = "input",
    langs: Sequence[str] | None = None,
) -> np.ndarray:
    """Order in which to show the rows and columns of a similarity heatmap.

    Args:
        emb: Embeddings of shape (n, d).
        method: ``"input"`` keeps the input order; ``"language"`` groups texts by language
            code (groups in order of first appearance, input order inside a group);
            ``"cluster"`` is the leaf order of an average-linkage tree on cosine distance,
            with optimal leaf ordering (Bar-Joseph et al. 2001) so neighbouring rows are similar;
            O(n^2) memory, so meant for up to ``AGGREGATE_ABOVE`` texts.
        langs: One language code per text; required for ``"language"``.

    Returns:
        Int64 permutation of ``range(n)``.
    """
    if method not in ORDER_METHODS:
        raise ValueError(f"Unknown order: {method}. Must be one of: {', '.join(ORDER_METHODS)}")
    arr = as_matrix(emb)
    n = arr.shape[0]
    if method == "input":
        return np.arange(n, dtype=np.int64)
    if method == "language":
        if langs is None:
            raise ValueError("ordering by language needs one language code per text")
        codes = [str(lang) for lang in langs]
        if len(codes) != n:
            raise ValueError(f"got {len(codes)} language codes for {n} texts")
        first_seen: dict[str, int] = {}
        for code in codes:
            first_seen.setdefault(code, len(first_seen))
        group = np.array([first_seen[c] for c in codes], dtype=np.int64)
        return np.argsort(group, kind="stable").astype(np.int64)
    return _optimal_leaves(_cosine_condensed(arr), n)


@dataclass(eq=False)
class ClusterView:
    """A large similarity matrix summarised by clusters.

    Attributes:
        labels: Cluster of each text, shape (n,), values in ``range(k)``.
        sizes: Number of texts in each cluster, shape (k,).
        mean_sim: Float32 (k, k); ``mean_sim[a, b]`` is the mean cosine between members of
            cluster a and members of cluster b. The diagonal is the mean over distinct pairs
            inside the cluster; 1.0 for a singleton.
        members: Sorted text indices of each cluster.
        order: Cluster order for display (optimal leaf ordering of ``mean_sim``).
    """

    labels: np.ndarray
    sizes: np.ndarray
    mean_sim: np.ndarray
    members: list[np.ndarray]
    order: np.ndarray

    @property
    def k(self) -> int:
        """Number of clusters."""
        return int(self.sizes.shape[0])


def default_n_clusters(n: int, max_cells: int = MAX_CELLS) -> int:
    """Cluster count for ``aggregate``: min(60, ceil(sqrt(n))), at most sqrt(max_cells) and n."""
    if n <= 0:
        return 0
    k = min(60, math.ceil(math.sqrt(n)), n)
    return max(1, min(k, math.isqrt(max(max_cells, 1))))


def aggregate(
    emb: Any,
    n_clusters: int | None = None,
    max_cells: int = MAX_CELLS,
    seed: int = 0,
) -> ClusterView:
    """Cluster texts and summarise the cosine matrix per pair of clusters.

    Meant for inputs above ``AGGREGATE_ABOVE`` texts, so the browser never gets millions of
    cells. Memory is O(n * d + k * k): the n x n matrix is never formed. With unit rows u_i and
    cluster sums S_a, the mean cosine between clusters a != b is ``S_a . S_b / (|a| |b|)`` and
    inside a cluster ``(|S_a|^2 - sum_i |u_i|^2) / (|a| (|a| - 1))`` (zero rows have
    |u_i| = 0, consistent with ``cosine_matrix``).

    Args:
        emb: Embeddings of shape (n, d); normalised internally.
        n_clusters: Number of clusters; default ``default_n_clusters(n, max_cells)``.
            Clipped to n and to sqrt(max_cells).
        max_cells: Upper bound on k * k.
        seed: Random state of the k-means clustering (results are deterministic for a seed).

    Returns:
        A ClusterView. Clusters that k-means leaves empty (fewer distinct points than k) are
        dropped, so ``k`` can be smaller than requested.
    """
    from sklearn.cluster import KMeans

    if n_clusters is not None and n_clusters < 1:
        raise ValueError("n_clusters must be at least 1")
    if max_cells < 1:
        raise ValueError("max_cells must be at least 1")
    unit = normalize_rows(emb)
    n = unit.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return ClusterView(empty, empty, np.zeros((0, 0), np.float32), [], empty)
    k = default_n_clusters(n, max_cells) if n_clusters is None else n_clusters
    k = max(1, min(k, n, math.isqrt(max_cells)))
    if k == 1:
        raw = np.zeros(n, dtype=np.int64)
    else:
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            # Duplicated texts give fewer distinct points than k; empty clusters are dropped below.
            warnings.simplefilter("ignore", ConvergenceWarning)
            km = KMeans(n_clusters=k, n_init=1, random_state=seed)
            raw = km.fit_predict(unit).astype(np.int64)
    # Relabel to 0..k'-1 in order of first appearance, dropping empty clusters.
    _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
    rank = np.empty(first.shape[0], dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
    labels = rank[inverse.reshape(-1)]
    k = first.shape[0]

    sizes = np.bincount(labels, minlength=k).astype(np.int64)
    u64 = unit.astype(np.float64)
    sums = np.zeros((k, unit.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, u64)
    sq_norms = np.bincount(labels, weights=np.einsum("ij,ij->i", u64, u64), minlength=k)
    gram = sums @ sums.T
    mean_sim = gram / np.outer(sizes, sizes)
    pairs = sizes * (sizes - 1)
    diag = np.divide(
        np.diag(gram) - sq_norms, pairs, out=np.ones(k, dtype=np.float64), where=pairs > 0
    )
    np.fill_diagonal(mean_sim, diag)
    mean_sim = np.clip(mean_sim, -1.0, 1.0).astype(np.float32)

    members = [np.flatnonzero(labels == c) for c in range(k)]
    dist = np.clip(1.0 - mean_sim.astype(np.float64), 0.0, 2.0)
    # Symmetrise away float noise; the tree only needs between-cluster distances.
    dist = (dist + dist.T) / 2.0
    np.fill_diagonal(dist, 0.0)
    order = _optimal_leaves(squareform(dist, checks=False), k)
    return ClusterView(labels, sizes, mean_sim, members, order)


def top_pairs(sim: Any, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The most similar distinct pairs of a square similarity matrix.

    Args:
        sim: Square matrix (n, n), e.g. from ``cosine_matrix``.
        limit: How many pairs at most.

    Returns:
        ``(i, j, values)`` with i < j, best first; equal values keep row-major order.
    """
    arr = np.asarray(sim)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
        raise ValueError(f"sim must be a square matrix, got shape {arr.shape}")
    rows, cols = np.triu_indices(arr.shape[0], k=1)
    values = arr[rows, cols]
    best = np.argsort(-values, kind="stable")[: max(0, int(limit))]
    return rows[best], cols[best], values[best]


@dataclass(eq=False)
class PairSummary:
    """The most similar distinct pairs of a set of texts, and the range of all pair cosines.

    Attributes:
        i, j: Int64 (p,) row indices with i < j, best first (ties in row-major order).
        values: Float32 (p,) their cosines.
        lowest, highest: the smallest and largest cosine over all pairs i < j (None below 2
            rows).
    """

    i: np.ndarray
    j: np.ndarray
    values: np.ndarray
    lowest: float | None
    highest: float | None


def summarize_pairs(emb: Any, limit: int, block_rows: int = 512) -> PairSummary:
    """``top_pairs`` and the cosine range of ``cosine_matrix(emb)`` without forming it.

    Rows are processed ``block_rows`` at a time against the rows after them, so memory stays
    about ``block_rows * n`` cosines: 5,000 texts need ~10 MB where the full matrix and its
    triangle indices need several hundred.

    Args:
        emb: Embeddings (n, d); normalised internally (a zero row has cosine 0).
        limit: How many pairs at most.
        block_rows: Rows per block.

    Returns:
        A PairSummary equal to ``top_pairs(cosine_matrix(emb), limit)`` with the range.
    """
    if block_rows < 1:
        raise ValueError("block_rows must be at least 1")
    unit = normalize_rows(emb)
    n = unit.shape[0]
    limit = max(0, int(limit))
    best_i = np.zeros(0, np.int64)
    best_j = np.zeros(0, np.int64)
    best_v = np.zeros(0, np.float32)
    lowest, highest = np.inf, -np.inf
    for a in range(0, max(n - 1, 0), block_rows):
        b = min(n, a + block_rows)
        sims = unit[a:b] @ unit[a:].T  # rows a..b against columns a..n
        np.clip(sims, -1.0, 1.0, out=sims)
        # Column a + c lies above row a + r exactly when c > r.
        rows, cols = np.nonzero(np.arange(n - a)[None, :] > np.arange(b - a)[:, None])
        values = sims[rows, cols]
        del sims
        if values.size == 0:
            continue
        lowest, highest = min(lowest, float(values.min())), max(highest, float(values.max()))
        gi, gj = rows.astype(np.int64) + a, cols.astype(np.int64) + a
        if limit and values.size > limit:
            keep = np.argpartition(-values, limit - 1)[:limit]
            # Keep every value tied with the last kept one, so ties resolve by position below.
            cut = values[keep].min()
            keep = np.flatnonzero(values >= cut)
            gi, gj, values = gi[keep], gj[keep], values[keep]
        best_i = np.concatenate([best_i, gi])
        best_j = np.concatenate([best_j, gj])
        best_v = np.concatenate([best_v, values.astype(np.float32)])
        order = np.lexsort((best_j, best_i, -best_v.astype(np.float64)))[:limit]
        best_i, best_j, best_v = best_i[order], best_j[order], best_v[order]
    if n < 2:
        return PairSummary(best_i, best_j, best_v, None, None)
    return PairSummary(best_i, best_j, best_v, lowest, highest)
