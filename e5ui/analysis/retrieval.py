"""Retrieval measures and comparisons: MRR@k and Recall@k against gold ids, the overlap of two
top-k lists, and how two models' pair scores agree (Spearman) and where they disagree most.

MRR@10 and Recall@k are the measures of the multilingual-e5 model card (Mr. TyDi). Gold comes
from ``id`` columns: a query's relevant passages are the corpus texts that share its id.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from e5ui.analysis.similarity import as_matrix

logger = logging.getLogger(__name__)


def _id_key(value: Any) -> str | None:
    """A comparable id, or None for a missing one (None, NaN, blank)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def relevant_from_ids(
    query_ids: Sequence[Any], corpus_ids: Sequence[Any], *, exclude_self: bool = False
) -> list[np.ndarray]:
    """Each query's relevant passages: the corpus texts that share its id.

    Args:
        query_ids: One id per query (n,); None, NaN or blank means no gold for that query.
        corpus_ids: One id per corpus text (m,); missing ids are never relevant.
        exclude_self: The queries are the corpus (n == m): query i never counts text i.

    Returns:
        n sorted int64 arrays of corpus indices (empty when the query has none).
    """
    corpus_keys = [_id_key(c) for c in corpus_ids]
    if exclude_self and len(query_ids) != len(corpus_keys):
        raise ValueError(
            f"exclude_self needs as many queries as corpus texts, got {len(query_ids)} "
            f"and {len(corpus_keys)}"
        )
    by_id: dict[str, list[int]] = {}
    for j, key in enumerate(corpus_keys):
        if key is not None:
            by_id.setdefault(key, []).append(j)
    out = []
    for i, q in enumerate(query_ids):
        key = _id_key(q)
        rel = np.asarray(by_id.get(key, []) if key is not None else [], dtype=np.int64)
        if exclude_self:
            rel = rel[rel != i]
        out.append(rel)
    return out


@dataclass(eq=False)
class RetrievalScores:
    """MRR@k and Recall@k of a ranking against gold relevance.

    Attributes:
        k: The cut-off.
        mrr: MRR@k: mean over evaluated queries of 1 / rank of the first relevant passage
            within the top k (rank 1 = best), 0 for a query with none there. NaN when no
            query has a relevant passage.
        recall: Recall@k: mean over evaluated queries of |relevant & top k| / |relevant|.
            NaN when no query has a relevant passage.
        reciprocal_ranks: Float64 (n,) per query; NaN for excluded queries.
        recalls: Float64 (n,) per query; NaN for excluded queries.
        excluded: Int64 indices of the queries without any relevant passage (not evaluated).
    """

    k: int
    mrr: float
    recall: float
    reciprocal_ranks: np.ndarray
    recalls: np.ndarray
    excluded: np.ndarray

    @property
    def n_evaluated(self) -> int:
        """Queries with at least one relevant passage."""
        return int(self.reciprocal_ranks.size - self.excluded.size)

    @property
    def n_excluded(self) -> int:
        """Queries without a relevant passage, left out of both means."""
        return int(self.excluded.size)


def _as_ranking(indices: Any) -> np.ndarray:
    """Ranked corpus indices as a 2-D int64 array; -1 marks an empty slot."""
    arr = np.asarray(indices)
    if arr.ndim != 2:
        raise ValueError(f"ranked indices must be a 2-D array (n, k), got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("ranked indices must be integers (-1 for an empty slot)")
    arr = arr.astype(np.int64, copy=False)
    if arr.size and arr.min() < -1:
        raise ValueError("ranked indices must be >= 0, or -1 for an empty slot")
    return arr


def _hits(top: np.ndarray, relevant: Sequence[np.ndarray]) -> np.ndarray:
    """Boolean (n, k): is ``top[i, j]`` relevant to query i (never for an empty slot)."""
    n = top.shape[0]
    sizes = np.array([len(r) for r in relevant], dtype=np.int64)
    rel = (np.concatenate([np.asarray(r, np.int64) for r in relevant]) if sizes.sum()
           else np.zeros(0, np.int64))
    width = int(max(top.max(initial=-1), rel.max(initial=-1))) + 1
    # One code per (query, passage) pair turns the per-row membership test into one isin.
    gold = np.repeat(np.arange(n, dtype=np.int64), sizes) * width + rel
    codes = np.arange(n, dtype=np.int64)[:, None] * width + top
    return (top >= 0) & np.isin(codes, gold)


def evaluate_retrieval(indices: Any, relevant: Sequence[Any], k: int = 10) -> RetrievalScores:
    """MRR@k and Recall@k of ranked results.

    Args:
        indices: Int (n, w) corpus indices per query, best first; -1 for empty slots (as
            ``neighbours.topk`` and ``bm25.BM25Index.search`` return). Only the first k
            columns count; fewer than k columns count as misses below them.
        relevant: n arrays of relevant corpus indices (``relevant_from_ids``).
        k: The cut-off (10 for the model card's MRR@10).

    Returns:
        RetrievalScores; queries with no relevant passage are excluded from the means and
        listed in ``excluded``.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    ranking = _as_ranking(indices)
    n = ranking.shape[0]
    if len(relevant) != n:
        raise ValueError(f"got relevance for {len(relevant)} queries and rankings for {n}")
    top = ranking[:, :k]
    if top.size:
        ordered = np.sort(top, axis=1)
        if ((ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)).any():
            raise ValueError("a ranked row lists the same corpus index twice")
    relevant = [np.unique(np.asarray(r, dtype=np.int64)) for r in relevant]
    n_rel = np.array([r.size for r in relevant], dtype=np.int64)
    hit = _hits(top, relevant) if n else np.zeros((0, top.shape[1]), bool)
    found = hit.any(axis=1)
    first = np.argmax(hit, axis=1) if hit.shape[1] else np.zeros(n, np.int64)
    rr = np.where(found, 1.0 / (first + 1.0), 0.0)
    recall = np.divide(hit.sum(axis=1), n_rel, out=np.zeros(n), where=n_rel > 0)
    excluded = np.flatnonzero(n_rel == 0).astype(np.int64)
    rr[excluded] = np.nan
    recall[excluded] = np.nan
    if excluded.size:
        logger.info("%d of %d queries have no relevant passage; left out", excluded.size, n)
    if excluded.size == n:
        return RetrievalScores(k, float("nan"), float("nan"), rr, recall, excluded)
    return RetrievalScores(k, float(np.nanmean(rr)), float(np.nanmean(recall)), rr, recall,
                           excluded)


@dataclass(eq=False)
class Overlap:
    """How many passages two top-k lists share, per query.

    Attributes:
        k: The cut-off both lists were truncated to.
        counts: Int64 (n,) ``|A_k & B_k|``; empty slots (-1) never count.
        fractions: Float64 (n,) ``counts / k``.
        mean: Mean of ``fractions`` (NaN for no queries).
    """

    k: int
    counts: np.ndarray
    fractions: np.ndarray
    mean: float


def topk_overlap(a: Any, b: Any, k: int | None = None) -> Overlap:
    """Overlap of two rankings of the same queries (e.g. E5 and BM25), query by query.

    Args:
        a: Int (n, wa) corpus indices per query, -1 for empty slots.
        b: Int (n, wb) corpus indices per query, -1 for empty slots.
        k: Cut-off; defaults to min(wa, wb).

    Returns:
        An Overlap.
    """
    ra, rb = _as_ranking(a), _as_ranking(b)
    if ra.shape[0] != rb.shape[0]:
        raise ValueError(f"got {ra.shape[0]} and {rb.shape[0]} queries")
    k = min(ra.shape[1], rb.shape[1]) if k is None else k
    if k < 1:
        raise ValueError("k must be at least 1")
    ta, tb = ra[:, :k], rb[:, :k]
    counts = np.array(
        [np.intersect1d(x[x >= 0], y[y >= 0]).size for x, y in zip(ta, tb, strict=True)],
        dtype=np.int64,
    )
    fractions = counts / float(k)
    mean = float(fractions.mean()) if fractions.size else float("nan")
    return Overlap(k, counts, fractions, mean)


@dataclass(eq=False)
class PairAgreement:
    """Two models' scores of the same text pairs: overall agreement and the worst pairs.

    Attributes:
        spearman: Spearman rank correlation of the two models' scores over all pairs i < j
            (``scipy.stats.spearmanr``); NaN for fewer than 2 pairs or constant scores.
        n_pairs: Number of pairs, n (n - 1) / 2.
        rows: Int64 (p,) first text of each listed pair, largest |rank difference| first.
        cols: Int64 (p,) second text (rows < cols).
        scores_a: Float64 (p,) model A's score of each listed pair.
        scores_b: Float64 (p,) model B's score.
        ranks_a: Float64 (p,) the pair's rank among all pairs under model A (1 = the most
            similar pair; tied scores share their average rank).
        ranks_b: Float64 (p,) the same under model B.
    """

    spearman: float
    n_pairs: int
    rows: np.ndarray
    cols: np.ndarray
    scores_a: np.ndarray
    scores_b: np.ndarray
    ranks_a: np.ndarray
    ranks_b: np.ndarray

    @property
    def rank_differences(self) -> np.ndarray:
        """Float64 (p,) ``ranks_a - ranks_b``: positive where model B ranks the pair higher."""
        return self.ranks_a - self.ranks_b


def _pair_scores(sim: Any, name: str) -> np.ndarray:
    arr = as_matrix(sim, name)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be a square (n, n) similarity matrix, got {arr.shape}")
    return arr


def pair_spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of two score vectors (p,); NaN when undefined."""
    from scipy.stats import spearmanr

    if a.size < 2:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant input: NaN says it
        return float(spearmanr(a, b).statistic)


def compare_pair_scores(sim_a: Any, sim_b: Any, limit: int = 10) -> PairAgreement:
    """How two models' similarity matrices of the same texts agree.

    Args:
        sim_a: Model A's (n, n) similarity matrix; only the upper triangle (i < j) is read.
        sim_b: Model B's (n, n) similarity matrix of the same texts in the same order.
        limit: How many pairs to list, those with the largest absolute rank difference first
            (ties: the earlier pair in row-major order of the upper triangle first).

    Returns:
        A PairAgreement.
    """
    from scipy.stats import rankdata

    if limit < 0:
        raise ValueError("limit must not be negative")
    a, b = _pair_scores(sim_a, "sim_a"), _pair_scores(sim_b, "sim_b")
    if a.shape != b.shape:
        raise ValueError(f"the two matrices differ in shape: {a.shape} and {b.shape}")
    rows, cols = np.triu_indices(a.shape[0], k=1)
    va, vb = a[rows, cols].astype(np.float64), b[rows, cols].astype(np.float64)
    ranks_a, ranks_b = rankdata(-va), rankdata(-vb)
    order = np.argsort(-np.abs(ranks_a - ranks_b), kind="stable")[:limit]
    return PairAgreement(
        spearman=pair_spearman(va, vb),
        n_pairs=int(va.size),
        rows=rows[order].astype(np.int64),
        cols=cols[order].astype(np.int64),
        scores_a=va[order],
        scores_b=vb[order],
        ranks_a=ranks_a[order],
        ranks_b=ranks_b[order],
    )
