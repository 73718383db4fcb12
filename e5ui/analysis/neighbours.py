"""Nearest neighbours by cosine: chunked top-k, cross-lingual filter, margin re-ranking.

Search is exact and brute force over tiles of the score matrix, so peak extra memory stays near
``chunk_bytes`` whatever n x m is. Beyond what fits in memory, use FAISS (see DESIGN.md).
``search`` also reports the table's hubness (``hubness.py``; ``hubness``, ``Hubness`` and
``MIN_QUERIES_FOR_HUBS`` stay importable from here).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from e5ui.analysis.calibration import Baseline, Calibrated, calibrate
from e5ui.analysis.hubness import MIN_QUERIES_FOR_HUBS, Hubness, hubness
from e5ui.analysis.similarity import as_matrix, normalize_rows

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_BYTES = 64 * 2**20

# Peak bytes per (query, candidate) cell while a chunk is processed: float32 scores (4), the
# partitioned copy (4), boolean masks (1-2), and for rows with ties at the k-th place a copy
# of the row plus an int32 running count (8).
_BYTES_PER_CELL = 20

# Query rows per score tile below which the product becomes memory-bound (see _tile).
_MIN_ROWS = 512


@dataclass(eq=False)
class Neighbours:
    """Top-k neighbours of each query.

    Attributes:
        indices: Int64 (n, k) corpus indices, best first; -1 where no candidate is left.
        scores: Float32 (n, k) ranking scores (cosine, or margin after ``rerank_margin``);
            NaN where the index is -1.
        cosines: Float32 (n, k) raw cosines when ``scores`` are not cosines, else None.
    """

    indices: np.ndarray
    scores: np.ndarray
    cosines: np.ndarray | None = None

    @property
    def k(self) -> int:
        """Number of neighbour columns."""
        return int(self.indices.shape[1])


def _select(sims: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of each row of a finite-or-(-inf) float array; -inf marks excluded cells.

    Ties are broken by the lower column index, also at the k-th place, so results do not
    depend on the partition's internal order. Rows are sorted best first. Excluded cells that
    had to fill the k slots come back as index -1 and score NaN.
    """
    c, m = sims.shape
    if c == 0 or k == 0:
        return np.zeros((c, k), np.int64), np.zeros((c, k), np.float32)
    if k >= m:
        idx = np.argsort(-sims, axis=1, kind="stable")
    else:
        # np.partition (SIMD introselect) is several times faster than np.argpartition;
        # the indices then come from one comparison pass. .copy() frees the partitioned copy.
        kth = np.partition(sims, m - k, axis=1)[:, m - k].copy()
        keep = sims >= kth[:, None]
        tied = np.flatnonzero(np.count_nonzero(keep, axis=1) > k)
        if tied.size:
            # Rows where the k-th value is shared: keep everything above it, then the
            # lowest-indexed cells equal to it.
            sub = sims[tied]
            above = sub > kth[tied, None]
            equal = sub == kth[tied, None]
            need = k - np.count_nonzero(above, axis=1)
            keep[tied] = above | (
                equal & (np.cumsum(equal, axis=1, dtype=np.int32) <= need[:, None])
            )
        idx = (np.flatnonzero(keep) % m).reshape(c, k)
    idx = idx.astype(np.int64, copy=False)
    vals = np.take_along_axis(sims, idx, axis=1)
    order = np.lexsort((idx, -vals), axis=1)
    idx = np.take_along_axis(idx, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1).astype(np.float32, copy=False)
    invalid = np.isneginf(vals)
    if invalid.any():
        idx[invalid] = -1
        vals[invalid] = np.nan
    return idx, vals


def select_topk(scores: Any, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k entries of each row of a score matrix.

    Args:
        scores: Array (n, m); NaN and -inf entries are never selected.
        k: Number of entries per row; clipped to m.

    Returns:
        ``(indices, values)``, each (n, min(k, m)), best first, ties by lower column index;
        positions without a selectable entry hold -1 and NaN.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    given = np.asarray(scores)
    # Keep float64 input in float64: rounding to float32 could create ties that are not there.
    arr = np.array(given, dtype=np.promote_types(given.dtype, np.float32))
    if arr.ndim != 2:
        raise ValueError(f"scores must be a 2-D array, got shape {arr.shape}")
    arr[np.isnan(arr)] = -np.inf
    return _select(arr, min(k, arr.shape[1]))


def _lang_codes(
    query_langs: Sequence[Any] | None, corpus_langs: Sequence[Any] | None, n: int, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes so that equal language strings get equal codes across both lists."""
    if query_langs is None or corpus_langs is None:
        raise ValueError("cross_lingual needs query_langs and corpus_langs")
    q = [str(x) for x in query_langs]
    c = [str(x) for x in corpus_langs]
    if len(q) != n:
        raise ValueError(f"got {len(q)} query languages for {n} queries")
    if len(c) != m:
        raise ValueError(f"got {len(c)} corpus languages for {m} corpus texts")
    table: dict[str, int] = {}
    qc = np.array([table.setdefault(x, len(table)) for x in q], dtype=np.int64)
    cc = np.array([table.setdefault(x, len(table)) for x in c], dtype=np.int64)
    return qc, cc


def _self_index(exclude_self: bool | Any, n: int, m: int) -> np.ndarray | None:
    """Corpus index each query must skip (-1: none), or None when nothing is skipped."""
    if isinstance(exclude_self, (bool, np.bool_)) or exclude_self is None:
        if not exclude_self:
            return None
        if n != m:
            raise ValueError(f"exclude_self=True needs queries to be the corpus; got {n} vs {m}")
        return np.arange(n, dtype=np.int64)
    own = np.asarray(exclude_self)
    if own.shape != (n,) or not np.issubdtype(own.dtype, np.integer):
        raise ValueError("exclude_self must be a bool or one integer corpus index per query")
    if own.size and own.max() >= m:
        raise ValueError("exclude_self index out of range of the corpus")
    return own.astype(np.int64)


def _tile(n: int, m: int, chunk_bytes: int) -> tuple[int, int]:
    """(query rows, corpus columns) of one score tile that fits in ``chunk_bytes``.

    At least ``_MIN_ROWS`` query rows per tile keep the matrix product compute-bound: with a
    handful of rows every tile would re-read the whole corpus from memory. The corpus is split
    into column blocks only when such a tile would not fit otherwise.
    """
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be positive")
    cells = max(1, chunk_bytes // _BYTES_PER_CELL)
    cols = min(m, max(1, cells // max(1, min(n, _MIN_ROWS))))
    rows = min(n, max(1, cells // max(1, cols)))
    return rows, cols


def _merge(
    idx_a: np.ndarray, val_a: np.ndarray, idx_b: np.ndarray, val_b: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of two sorted partial results; every index in ``a`` is below every index in ``b``.

    ``_select`` breaks ties by position, and positions follow corpus indices here: ``a``
    comes first and each part is sorted by (score desc, index asc).
    """
    idx = np.concatenate([idx_a, idx_b], axis=1)
    val = np.concatenate([val_a, val_b], axis=1)
    val[np.isnan(val)] = -np.inf
    pos, best = _select(val, min(k, val.shape[1]))
    return np.where(pos >= 0, np.take_along_axis(idx, np.maximum(pos, 0), axis=1), -1), best


def _topk_unit(
    qn: np.ndarray,
    cn: np.ndarray,
    k: int,
    own: np.ndarray | None,
    codes: tuple[np.ndarray, np.ndarray] | None,
    chunk_bytes: int,
) -> Neighbours:
    """topk on already normalised inputs, k already clipped to m."""
    n, m = qn.shape[0], cn.shape[0]
    indices = np.full((n, k), -1, dtype=np.int64)
    scores = np.full((n, k), np.nan, dtype=np.float32)
    if n == 0 or k == 0:
        return Neighbours(indices, scores)
    rows, cols = _tile(n, m, chunk_bytes)
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        best_idx = best_val = None
        for c0 in range(0, m, cols):
            c1 = min(m, c0 + cols)
            sims = qn[start:stop] @ cn[c0:c1].T
            # Rounding can give 1.0000001 for identical texts; keep cosines within [-1, 1].
            np.clip(sims, -1.0, 1.0, out=sims)
            if own is not None:
                o = own[start:stop]
                r = np.flatnonzero((o >= c0) & (o < c1))
                sims[r, o[r] - c0] = -np.inf
            if codes is not None:
                same = codes[0][start:stop, None] == codes[1][None, c0:c1]
                np.putmask(sims, same, -np.inf)
            blk_idx, blk_val = _select(sims, min(k, c1 - c0))
            blk_idx = np.where(blk_idx >= 0, blk_idx + c0, -1)
            if best_idx is None:
                best_idx, best_val = blk_idx, blk_val
            else:
                best_idx, best_val = _merge(best_idx, best_val, blk_idx, blk_val, k)
        indices[start:stop], scores[start:stop] = best_idx, best_val
    return Neighbours(indices, scores)


def _prepare(
    queries: Any,
    corpus: Any,
    exclude_self: bool | Any,
    cross_lingual: bool,
    query_langs: Sequence[Any] | None,
    corpus_langs: Sequence[Any] | None,
    normalized: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, tuple[np.ndarray, np.ndarray] | None]:
    """Normalised queries and corpus (one copy when they are the same array; none when
    ``normalized``), the corpus index each query must skip, and language codes for the
    cross-lingual filter."""
    # Unit rows given as such were made (and checked) by the caller: not scanned again.
    unit = ((lambda a, name: as_matrix(a, name, check_finite=False)) if normalized else
            (lambda a, name: normalize_rows(as_matrix(a, name))))
    qn = unit(queries, "queries")
    cn = qn if corpus is queries else unit(corpus, "corpus")
    n, m = qn.shape[0], cn.shape[0]
    if n and m and qn.shape[1] != cn.shape[1]:
        raise ValueError(f"dimension mismatch: queries {qn.shape[1]}, corpus {cn.shape[1]}")
    own = _self_index(exclude_self, n, m)
    codes = _lang_codes(query_langs, corpus_langs, n, m) if cross_lingual else None
    return qn, cn, own, codes


def topk(
    queries: Any,
    corpus: Any,
    k: int = 5,
    *,
    exclude_self: bool | Any = False,
    cross_lingual: bool = False,
    query_langs: Sequence[Any] | None = None,
    corpus_langs: Sequence[Any] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    normalized: bool = False,
) -> Neighbours:
    """Exact cosine top-k of each query among the corpus.

    Inputs are normalised (copied) once; scores are computed one tile (a block of queries x
    a block of corpus texts) at a time and merged, so the extra memory stays about
    ``chunk_bytes`` regardless of n x m (100k x 100k runs in ~50 MB beyond the inputs).

    Args:
        queries: Embeddings (n, d); one 1-D vector counts as one query.
        corpus: Embeddings (m, d).
        k: Neighbours per query; clipped to m.
        exclude_self: True when the queries are the corpus (query i never gets corpus i);
            or an int array with each query's own corpus index (-1: none), e.g. for a
            sample of the corpus.
        cross_lingual: Drop candidates whose language equals the query's.
        query_langs: Language code per query (needed for ``cross_lingual``).
        corpus_langs: Language code per corpus text (needed for ``cross_lingual``).
        chunk_bytes: Memory budget for one chunk of the score matrix.
        normalized: The rows of both are unit vectors already (float32): used as they are,
            not copied (a click on a 100,000-text map need not copy 400 MB).

    Returns:
        Neighbours with (n, min(k, m)) arrays, best first; equal scores are ordered by lower
        corpus index. Slots without a valid candidate (everything excluded) hold -1 / NaN.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    qn, cn, own, codes = _prepare(queries, corpus, exclude_self, cross_lingual, query_langs,
                                  corpus_langs, normalized)
    return _topk_unit(qn, cn, min(k, cn.shape[0]), own, codes, chunk_bytes)


def knn_mean(
    a: Any,
    b: Any,
    k: int,
    *,
    exclude_self: bool = False,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> np.ndarray:
    """Mean cosine of each row of ``a`` to its k nearest rows of ``b``.

    Args:
        a: Embeddings (n, d).
        b: Embeddings (m, d).
        k: Neighbourhood size; clipped to m (minus one with ``exclude_self``).
        exclude_self: ``a`` is ``b`` and a row is not its own neighbour.
        chunk_bytes: Memory budget for one chunk of the score matrix.

    Returns:
        Float32 (n,); NaN for rows without any neighbour (m = 0).
    """
    res = topk(a, b, k, exclude_self=exclude_self, chunk_bytes=chunk_bytes)
    return _row_nanmean(res.scores)


def _row_nanmean(scores: np.ndarray) -> np.ndarray:
    if scores.shape[1] == 0:
        return np.full(scores.shape[0], np.nan, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows -> NaN is the answer
        return np.nanmean(scores.astype(np.float64), axis=1).astype(np.float32)


def margin_scores(cosines: Any, x_knn_mean: Any, y_knn_mean: Any) -> np.ndarray:
    """Ratio margin of Artetxe & Schwenk (2019), elementwise with broadcasting.

    ``margin(x, y) = cos(x, y) / (mean_{z in NN_k(x)} cos(x, z) / 2
    + mean_{z in NN_k(y)} cos(y, z) / 2)``: a pair scores high when it is closer than both
    sides' usual neighbours, which discounts hubs that are close to everything.

    Args:
        cosines: cos(x, y) for the pairs.
        x_knn_mean: Mean cosine of x to its k nearest candidates (see ``knn_mean``).
        y_knn_mean: Mean cosine of y to its k nearest queries.

    Returns:
        Float32 margins; NaN where the denominator is not positive (the ratio is meaningless
        there, which happens only when a side has no positively similar neighbours).
    """
    cos = np.asarray(cosines, dtype=np.float64)
    denom = (np.asarray(x_knn_mean, dtype=np.float64) + np.asarray(y_knn_mean, np.float64)) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(denom > 0, cos / np.where(denom > 0, denom, 1.0), np.nan)
    return out.astype(np.float32)


def rerank_margin(
    queries: Any,
    corpus: Any,
    k: int = 5,
    margin_k: int = 4,
    candidates: int | None = None,
    *,
    exclude_self: bool = False,
    cross_lingual: bool = False,
    query_langs: Sequence[Any] | None = None,
    corpus_langs: Sequence[Any] | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Neighbours:
    """Top-k by ratio margin: retrieve a cosine candidate pool, re-score, re-sort.

    NN_k(x) are the query's ``margin_k`` nearest corpus texts and NN_k(y) the corpus text's
    ``margin_k`` nearest queries, both under the same exclusions as the search.

    Args:
        queries: Embeddings (n, d).
        corpus: Embeddings (m, d).
        k: Neighbours returned per query; clipped to m.
        margin_k: Neighbourhood size of the margin denominators (4 in the paper).
        candidates: Size of the cosine pool that is re-scored; default max(2k, 16).
        exclude_self: The queries are the corpus; a text is not its own neighbour.
        cross_lingual: Drop candidates (and neighbourhood members) in the query's language.
        query_langs: Language code per query.
        corpus_langs: Language code per corpus text.
        chunk_bytes: Memory budget for one chunk of the score matrix.

    Returns:
        Neighbours whose ``scores`` are margins and ``cosines`` the raw cosines, sorted by
        margin (ties by lower corpus index).
    """
    if k < 1 or margin_k < 1:
        raise ValueError("k and margin_k must be at least 1")
    pool_size = max(2 * k, 16) if candidates is None else candidates
    if pool_size < k:
        raise ValueError("candidates must be at least k")
    qn, cn, own, codes = _prepare(queries, corpus, bool(exclude_self), cross_lingual,
                                  query_langs, corpus_langs)
    n, m = qn.shape[0], cn.shape[0]
    kk = min(k, m)

    pool = _topk_unit(qn, cn, min(max(pool_size, margin_k), m), own, codes, chunk_bytes)
    x_mean = _row_nanmean(pool.scores[:, :margin_k])
    back_codes = None if codes is None else (codes[1], codes[0])
    back = _topk_unit(cn, qn, min(margin_k, n), own, back_codes, chunk_bytes)
    y_mean = _row_nanmean(back.scores)

    cand = pool.indices[:, : min(pool_size, m)]
    cos = pool.scores[:, : cand.shape[1]]
    valid = cand >= 0
    y_of_cand = np.where(valid, y_mean[np.where(valid, cand, 0)], np.nan)
    marg = margin_scores(cos, x_mean[:, None], y_of_cand)
    key = np.where(np.isnan(marg), -np.inf, marg)
    order = np.lexsort((np.where(valid, cand, m), -key), axis=1)[:, :kk]
    indices = np.take_along_axis(cand, order, axis=1)
    scores = np.take_along_axis(marg, order, axis=1)
    cosines = np.take_along_axis(cos, order, axis=1)
    indices[np.isnan(scores)] = -1
    cosines[indices < 0] = np.nan
    return Neighbours(indices, scores.astype(np.float32), cosines.astype(np.float32))


@dataclass(eq=False)
class Search:
    """A neighbour search as the app and the CLI show it.

    Attributes:
        neighbours: top-k per query; ``scores`` are margins with ``margin=True``, else cosines.
        cosines: raw cosines (n, k), NaN where a slot is empty.
        hubness: k-occurrence statistics of the corpus.
        hubs: corpus indices flagged as hubs (none below ``MIN_QUERIES_FOR_HUBS`` queries).
        calibrated: the cosines against a model's baseline (when one was given).
    """

    neighbours: Neighbours
    cosines: np.ndarray
    hubness: Hubness
    hubs: set[int]
    calibrated: Calibrated | None = None

    def entries(self) -> Iterator[tuple[int, int, int]]:
        """Yields ``(query, rank, corpus)`` for every filled slot, rank 0 first."""
        for qi, row in enumerate(self.neighbours.indices):
            for rank, ci in enumerate(row.tolist()):
                if ci >= 0:
                    yield qi, rank, ci


def search(
    queries: Any,
    corpus: Any,
    k: int = 5,
    *,
    margin: bool = False,
    cross_lingual: bool = False,
    query_langs: Sequence[Any] | None = None,
    corpus_langs: Sequence[Any] | None = None,
    baseline: Baseline | None = None,
) -> Search:
    """Top-k neighbours by cosine or margin, with hubness and calibrated scores.

    Args:
        queries: Embeddings (n, d).
        corpus: Embeddings (m, d).
        k: Neighbours per query.
        margin: Re-rank by ratio margin (``rerank_margin``).
        cross_lingual: Only neighbours in another language than the query's.
        query_langs: Language code per query.
        corpus_langs: Language code per corpus text.
        baseline: The model's unrelated-pair baseline; when given, the cosines are calibrated.

    Returns:
        A Search.
    """
    opts = dict(cross_lingual=cross_lingual, query_langs=query_langs, corpus_langs=corpus_langs)
    if margin:
        nb = rerank_margin(queries, corpus, k=k, **opts)
        cosines = nb.cosines
    else:
        nb = topk(queries, corpus, k=k, **opts)
        cosines = nb.scores
    hub = hubness(nb.indices, len(corpus))
    n_queries = nb.indices.shape[0]
    hubs = set(hub.hubs.tolist()) if n_queries >= MIN_QUERIES_FOR_HUBS else set()
    calibrated = None
    if baseline is not None:
        calibrated = calibrate(np.nan_to_num(cosines, nan=0.0), baseline)
    return Search(nb, cosines, hub, hubs, calibrated)
