"""Exploring a map: one point's neighbourhood in the embedding space, and search by meaning.

A 2-D map keeps only part of each point's neighbourhood (``projection.neighbour_preservation``
says how much). These functions answer from the embeddings themselves and say where the map
disagrees: a neighbour the map placed far away is marked ``far_on_map``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from e5ui.analysis.calibration import Baseline, percentile, rescale
from e5ui.analysis.hubness import Hubness, hubness
from e5ui.analysis.neighbours import DEFAULT_CHUNK_BYTES, topk
from e5ui.analysis.projection import Projection
from e5ui.analysis.similarity import as_matrix, normalize_rows

# "Far on the map": more points lie closer to i on the map than FAR_MULTIPLE * k, or than half
# of all the other points, whichever is fewer. A true top-k neighbour that the map pushes past
# that many others is one the picture misrepresents.
FAR_MULTIPLE = 5

# Search by meaning keeps the points that score above this share of unrelated pairs: 0.99 is
# "better than 99% of the pairs of unrelated texts the model scores".
SEARCH_PERCENTILE = 0.99

# Rows of the map's embeddings scored against a query at a time (float64 temporaries of
# SEARCH_BLOCK x d).
SEARCH_BLOCK = 8192

# The hub flag of a map's texts uses each text's HUB_K nearest neighbours (the k-occurrence).
HUB_K = 10


@dataclass(eq=False)
class Neighbourhood:
    """A point's k nearest neighbours in the embedding space, and what the map makes of them.

    Attributes:
        index: The point (0-based).
        indices: Int64 (k,) its neighbours, nearest first (ties by lower index), itself excluded.
        cosines: Float64 (k,) raw cosines.
        percentile: Float64 (k,) share of the baseline's unrelated pairs scoring <= each
            cosine; NaN without a baseline.
        rescaled: Float64 (k,) ``(s - median) / (1 - median)`` of the baseline; NaN without one.
        langs: Each neighbour's language ("" when unknown).
        cross_lingual: Bool (k,) the neighbour's language differs from the point's (False when
            either is unknown).
        hub: Bool (k,) the neighbour is a hub of the map's texts (``map_hubs``).
        partners: Int64 indices of the point's translations: other points with the same
            non-empty id (and another language, where languages are known).
        map_rank: Int64 (k,) how near each neighbour is to the point on the map, among all the
            other points: 1 = the nearest on the map.
        far_rank: The map rank past which a neighbour counts as far: ``min(FAR_MULTIPLE * k,
            (n - 1) // 2)``.
        far_on_map: Bool (k,) ``map_rank > far_rank``: a true neighbour the map placed far away
            (where the map lies).
    """

    index: int
    indices: np.ndarray
    cosines: np.ndarray
    percentile: np.ndarray
    rescaled: np.ndarray
    langs: list[str]
    cross_lingual: np.ndarray
    hub: np.ndarray
    partners: np.ndarray
    map_rank: np.ndarray
    far_rank: int
    far_on_map: np.ndarray


def map_hubs(emb: Any, k: int = HUB_K, *, graph: Any | None = None) -> Hubness:
    """Hubness of the map's texts among themselves: each text's k nearest others (cosine).

    Args:
        emb: Embeddings (n, d).
        k: Neighbours per text; clipped to n - 1.
        graph: A neighbour table already computed for these texts, (n, m) indices nearest
            first, a row's own index anywhere in it or not at all (UMAP's kNN graph, which
            holds each point itself first): each row's first k other entries are used
            instead of an exact search of all n x n pairs (at 100,000 texts, minutes).

    Returns:
        ``hubness.hubness`` of the (n, k) table (no hubs for fewer than 2 texts).
    """
    if graph is not None:
        table = np.asarray(graph, dtype=np.int64)
        n = table.shape[0]
        k = min(k, max(n - 1, 0))
        own = table == np.arange(n)[:, None]
        if table.ndim != 2 or (table.shape[1] - own.sum(axis=1)).min(initial=k) < k:
            raise ValueError(f"the neighbour graph needs {k} other texts per row")
        # Each row's entries that are not the row itself, in their order (a stable sort puts
        # them first), the first k of them.
        first = np.argsort(own, axis=1, kind="stable")[:, :k]
        return hubness(np.take_along_axis(table, first, axis=1), n)
    x = normalize_rows(as_matrix(emb))
    n = x.shape[0]
    if n < 2:
        return hubness(np.zeros((n, 0), dtype=np.int64), n)
    found = topk(x, x, min(k, n - 1), exclude_self=np.arange(n, dtype=np.int64))
    return hubness(found.indices, n)


def _map_rank(coords: np.ndarray, i: int, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each target's map distance from point i among all other points (ties
    counted in the target's favour: the number of points strictly closer, plus one)."""
    d2 = ((coords - coords[i]) ** 2).sum(axis=1)
    others = np.delete(d2, i)
    # Counted per target (k x n comparisons) rather than sorting all n distances.
    closer = (others[None, :] < d2[targets][:, None]).sum(axis=1)
    return closer.astype(np.int64) + 1


def neighbourhood(
    emb: Any,
    index: int,
    k: int,
    coords: Any,
    *,
    langs: Sequence[str] | None = None,
    ids: Sequence[Any] | None = None,
    baseline: Baseline | None = None,
    hubs: Hubness | None = None,
    normalized: bool = False,
) -> Neighbourhood:
    """The k nearest neighbours of point ``index`` in the embedding space, with the map's view.

    Args:
        emb: Embeddings (n, d); rows are L2-normalised first (cosine).
        index: The point, 0-based.
        k: Neighbours; clipped to n - 1.
        coords: The map's coordinates (n, 2) or (n, 3).
        langs: Optional language per point.
        ids: Optional id per point (translations share one); None or "" for none.
        baseline: The model's unrelated-pair baseline, for percentiles and rescaled scores.
        hubs: The map's hubness (``map_hubs``), computed once per map; None computes it.
        normalized: ``emb``'s rows are unit vectors already (float32): no copy of them.

    Returns:
        The Neighbourhood.
    """
    x = as_matrix(emb, check_finite=False) if normalized else normalize_rows(as_matrix(emb))
    n = x.shape[0]
    low = as_matrix(coords, "map coordinates").astype(np.float64)
    if low.shape[0] != n:
        raise ValueError(f"got {low.shape[0]} map points for {n} embeddings")
    if isinstance(index, bool) or not 0 <= int(index) < n:
        raise ValueError(f"index must be between 0 and {n - 1}; got {index}")
    if k < 1:
        raise ValueError("k must be at least 1")
    for name, seq in (("langs", langs), ("ids", ids)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"got {len(seq)} {name} for {n} points")
    i, k = int(index), min(int(k), n - 1)
    found = topk(x[i : i + 1], x, k, exclude_self=np.array([i], dtype=np.int64),
                 normalized=True)
    idx = found.indices[0].astype(np.int64)
    cos = x[idx].astype(np.float64) @ x[i].astype(np.float64)
    if baseline is not None:
        pct, resc = percentile(cos, baseline), rescale(cos, baseline)
    else:
        pct = resc = np.full(k, np.nan)
    lang = [str(langs[j] or "") if langs is not None else "" for j in idx]
    own = str(langs[i] or "") if langs is not None else ""
    cross = np.array([bool(own and a and a != own) for a in lang], dtype=bool)
    hubs = hubs if hubs is not None else map_hubs(x)
    is_hub = np.isin(idx, hubs.hubs)
    partners = np.zeros(0, dtype=np.int64)
    if ids is not None and ids[i] not in (None, ""):
        # One comparison over an array (100,000 ids: a few ms), not a Python loop.
        same = np.flatnonzero(np.asarray(ids, dtype=object) == ids[i])
        same = [int(j) for j in same if j != i]
        if langs is not None and own:
            same = [j for j in same if str(langs[j] or "") != own]
        partners = np.asarray(same, dtype=np.int64)
    rank = _map_rank(low, i, idx)
    far_rank = min(FAR_MULTIPLE * k, (n - 1) // 2)
    return Neighbourhood(i, idx, cos, np.asarray(pct, dtype=np.float64),
                         np.asarray(resc, dtype=np.float64), lang, cross, is_hub, partners,
                         rank, far_rank, rank > far_rank)


@dataclass(eq=False)
class MeaningSearch:
    """Every point scored against a query embedding.

    Attributes:
        cosines: Float64 (n,) each point's cosine with the query.
        percentile: Float64 (n,) share of the baseline's unrelated pairs scoring <= it.
        threshold: The percentile a match reaches.
        matches: Int64 indices of the points with ``percentile >= threshold``, best first
            (ties by lower index).
        place: Float64 (dim,) the query's place on the map, or None when the map cannot place
            new points.
    """

    cosines: np.ndarray
    percentile: np.ndarray
    threshold: float
    matches: np.ndarray
    place: np.ndarray | None


def search_meaning(
    emb: Any,
    query: Any,
    baseline: Baseline,
    *,
    threshold: float = SEARCH_PERCENTILE,
    projection: Projection | None = None,
    normalized: bool = False,
) -> MeaningSearch:
    """Scores every point against a query embedding and places the query on the map.

    Args:
        emb: Point embeddings (n, d).
        query: The query's embedding (d,) (encoded with the query prompt).
        baseline: The model's unrelated-pair baseline.
        threshold: The percentile in [0, 1] a point must reach to match.
        projection: The map (``projection.project``); its fitted model places the query
            (UMAP ``transform``, or the PCA projection). None: no place.
        normalized: ``emb``'s rows are unit vectors already (float32): no copy of them.

    Returns:
        The MeaningSearch.
    """
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError("threshold must be between 0 and 1")
    x = as_matrix(emb, check_finite=False) if normalized else normalize_rows(as_matrix(emb))
    q = np.asarray(query, dtype=np.float64).reshape(-1)
    if q.shape[0] != x.shape[1]:
        raise ValueError(f"the query has {q.shape[0]} dimensions, the points {x.shape[1]}")
    norm = np.linalg.norm(q)
    if not np.isfinite(q).all() or norm == 0:
        raise ValueError("the query embedding must be finite and non-zero")
    q = q / norm
    # In float64, a block of rows at a time: a float64 copy of 100,000 x 1024 would be 800 MB.
    cos = np.empty(x.shape[0], dtype=np.float64)
    for start in range(0, x.shape[0], SEARCH_BLOCK):
        cos[start : start + SEARCH_BLOCK] = x[start : start + SEARCH_BLOCK].astype(np.float64) @ q
    pct = np.asarray(percentile(cos, baseline), dtype=np.float64)
    hit = np.flatnonzero(pct >= threshold)
    matches = hit[np.lexsort((hit, -cos[hit]))].astype(np.int64)
    place = None
    if projection is not None and projection.model is not None:
        place = projection.place(q[None, :])[0].astype(np.float64)
    return MeaningSearch(cos, pct, float(threshold), matches, place)


# Neighbours per point that an exported map carries for its click panel.
PAGE_NEIGHBOURS = 10


@dataclass(eq=False)
class NearestTable:
    """Every point's k nearest other points in the embedding space (cosine).

    Attributes:
        indices: Int64 (n, k) neighbours, nearest first (ties by lower index), the point
            itself excluded.
        cosines: Float32 (n, k) their cosines.
        percentile: Float64 (n, k) share of the baseline's unrelated pairs scoring <= each
            cosine, or None without a baseline.
    """

    indices: np.ndarray
    cosines: np.ndarray
    percentile: np.ndarray | None


def nearest_table(
    emb: Any,
    k: int = PAGE_NEIGHBOURS,
    *,
    baseline: Baseline | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> NearestTable:
    """The k nearest neighbours of every point, for a page that answers clicks without a server.

    The search is ``neighbours.topk`` of the points against themselves: one tile of the score
    matrix at a time, so 20,000 points never hold a 20,000 x 20,000 matrix, only tiles of about
    ``chunk_bytes``.

    Args:
        emb: Embeddings (n, d); rows are L2-normalised first.
        k: Neighbours per point; clipped to n - 1.
        baseline: The model's unrelated-pair baseline, for percentiles (``calibration``).
        chunk_bytes: Memory budget for one tile of the score matrix.

    Returns:
        The NearestTable, (n, min(k, n - 1)) arrays.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    x = normalize_rows(as_matrix(emb))
    n = x.shape[0]
    k = min(int(k), max(n - 1, 0))
    if k == 0:
        found_idx = np.zeros((n, 0), dtype=np.int64)
        found_cos = np.zeros((n, 0), dtype=np.float32)
    else:
        found = topk(x, x, k, exclude_self=True, chunk_bytes=chunk_bytes)
        found_idx, found_cos = found.indices, found.scores
    pct = None
    if baseline is not None:
        pct = np.asarray(percentile(found_cos, baseline), dtype=np.float64)
    return NearestTable(found_idx.astype(np.int64), found_cos.astype(np.float32), pct)
