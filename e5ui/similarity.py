"""Cosine matrices, heatmap orderings, cluster summaries and score calibration.

Everything here is a plain function of numpy arrays. Embeddings are float32 ``(n, d)`` arrays,
usually L2-normalised, but no function assumes it: cosines are computed from normalised copies,
and an all-zero row has cosine 0 with everything (never NaN).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
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


def as_matrix(emb: Any, name: str = "embeddings") -> np.ndarray:
    """Return ``emb`` as a finite 2-D float32 array; one 1-D vector becomes one row."""
    arr = np.asarray(emb, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, dim), got shape {arr.shape}")
    # A float64 sum is non-finite iff some entry is, without an (n, d) boolean temporary.
    if arr.size and not np.isfinite(arr.sum(dtype=np.float64)):
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


# --- calibration ---------------------------------------------------------------------------
# E5 was trained with InfoNCE at temperature 0.01, which compresses cosines into roughly
# 0.7-1.0: unrelated texts already score ~0.75. A raw score only means something relative to
# the cosines the same model gives to unrelated pairs (the baseline).


@dataclass(eq=False)
class Baseline:
    """Cosines a model gives to pairs of unrelated texts.

    Attributes:
        model: Name of the model that produced the cosines.
        cosines: All unrelated-pair cosines, float32, sorted ascending.
        n_texts: Number of texts the pairs were drawn from.
    """

    model: str
    cosines: np.ndarray
    n_texts: int = 0

    def __post_init__(self) -> None:
        arr = np.asarray(self.cosines, dtype=np.float32).reshape(-1)
        if arr.size == 0:
            raise ValueError("a baseline needs at least one unrelated pair")
        if not np.isfinite(arr).all():
            raise ValueError("baseline cosines contain NaN or infinite values")
        self.cosines = np.sort(arr)

    @property
    def median(self) -> float:
        """Median unrelated-pair cosine."""
        return float(np.median(self.cosines.astype(np.float64)))

    @property
    def p5(self) -> float:
        """5th percentile of unrelated-pair cosines (linear interpolation)."""
        return float(np.percentile(self.cosines.astype(np.float64), 5))

    @property
    def p95(self) -> float:
        """95th percentile of unrelated-pair cosines (linear interpolation)."""
        return float(np.percentile(self.cosines.astype(np.float64), 95))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict; the cosines are kept exactly (float32 round-trips through float)."""
        return {
            "version": 1,
            "model": self.model,
            "n_texts": int(self.n_texts),
            "cosines": self.cosines.astype(np.float64).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Baseline:
        """Inverse of ``to_dict``.

        Args:
            data: A dict with ``model``, ``cosines`` and optionally ``n_texts``.

        Returns:
            The Baseline.
        """
        try:
            return cls(
                model=str(data["model"]),
                cosines=np.asarray(data["cosines"], dtype=np.float32),
                n_texts=int(data.get("n_texts", 0)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a baseline: missing or bad field {exc}") from None


def baseline_from_embeddings(emb: Any, model: str) -> Baseline:
    """Baseline from all pairs i < j of embeddings of mutually unrelated texts.

    Args:
        emb: Embeddings of shape (n, d), n >= 2. Memory is O(n^2): meant for a reference set
            of a few hundred texts.
        model: Model name stored with the baseline.

    Returns:
        A Baseline with n (n - 1) / 2 cosines.
    """
    arr = as_matrix(emb)
    n = arr.shape[0]
    if n < 2:
        raise ValueError("a baseline needs at least 2 texts")
    sims = cosine_matrix(arr)
    return Baseline(model=model, cosines=sims[np.triu_indices(n, k=1)], n_texts=n)


def percentile(scores: Any, baseline: Baseline) -> np.ndarray:
    """Fraction of unrelated-pair cosines that are <= each score.

    Args:
        scores: Cosine(s), any shape.
        baseline: The model's Baseline.

    Returns:
        Float64 array of the same shape as ``scores`` with values in [0, 1] (0-d for a scalar);
        NaN where a score is NaN. Scores are compared at the baseline's float32 precision, so
        a typed 0.8 counts as equal to a stored float32 0.8.
    """
    s = np.asarray(scores, dtype=np.float32)
    frac = np.searchsorted(baseline.cosines, s, side="right") / baseline.cosines.shape[0]
    return np.where(np.isnan(s), np.nan, frac)


def rescale(scores: Any, baseline: Baseline) -> np.ndarray:
    """Map cosines so the typical unrelated pair scores 0 and identical texts 1.

    ``(s - b) / (1 - b)`` with b the baseline median. Not clipped: a negative value means
    "less similar than the typical unrelated pair".

    Args:
        scores: Cosine(s), any shape.
        baseline: The model's Baseline; its median must be below 1.

    Returns:
        Float64 array of the same shape as ``scores``.
    """
    b = baseline.median
    if not b < 1.0 - 1e-6:
        raise ValueError(f"baseline median {b:.6f} is too close to 1 to rescale")
    s = np.asarray(scores, dtype=np.float64)
    return (s - b) / (1.0 - b)


@dataclass(eq=False)
class Calibrated:
    """Scores in three units.

    Attributes:
        raw: The cosines as given.
        percentile: Fraction of unrelated pairs scoring <= each cosine, in [0, 1].
        rescaled: ``(s - median) / (1 - median)`` of the baseline; 0 = typical unrelated pair.
    """

    raw: np.ndarray
    percentile: np.ndarray
    rescaled: np.ndarray


def calibrate(scores: Any, baseline: Baseline) -> Calibrated:
    """Express cosines relative to a model's unrelated-pair baseline.

    Args:
        scores: Cosine(s), any shape.
        baseline: The model's Baseline.

    Returns:
        Calibrated arrays, each of the shape of ``scores``.
    """
    raw = np.asarray(scores, dtype=np.float64)
    return Calibrated(
        raw=raw, percentile=percentile(raw, baseline), rescaled=rescale(raw, baseline)
    )


# --- the reference baseline of a model ------------------------------------------------------
BASELINE_VERSION = 1


def reference_texts() -> list[str]:
    """Returns the calibration reference set: mutually unrelated sentences in 24 languages."""
    from e5ui import assets, textio

    return textio.read_texts(assets.path("calibration", "reference.tsv")).texts


def reference_baseline(encoder: Any, directory: str | os.PathLike[str] | None = None) -> Baseline:
    """Returns the encoder's unrelated-pair baseline, embedding the reference set once per model.

    The baseline is stored as JSON under ``<cache root>/baselines`` keyed by the model, its
    revision, the dtype and the reference set's content, so each model (small, base, large
    differ) gets its own and a restart reads it back instead of re-encoding.

    Args:
        encoder: an ``Encoder`` (anything with ``encode(texts, kind=...)`` and ``describe()``).
        directory: where to keep baselines; None uses the cache root.

    Returns:
        The Baseline.
    """
    from e5ui.cache import cache_root

    info = encoder.describe()
    texts = reference_texts()
    digest = hashlib.sha256()
    for part in (f"v{BASELINE_VERSION}", info["model"], str(info.get("revision")),
                 str(info.get("dtype")), *texts):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    folder = Path(directory) if directory is not None else cache_root() / "baselines"
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(info["model"]))[-60:]
    target = folder / f"{safe}-{digest.hexdigest()[:16]}.json"
    try:
        return Baseline.from_dict(json.loads(target.read_text(encoding="utf-8")))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        logger.warning("Ignoring unreadable baseline %s (%s); recomputing", target, exc)
    emb = encoder.encode(texts, kind="query")
    baseline = baseline_from_embeddings(emb, str(info["model"]))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(baseline.to_dict()), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        logger.warning("Could not store the baseline in %s (%s)", folder, exc)
    return baseline
