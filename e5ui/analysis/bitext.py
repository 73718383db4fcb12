"""Bitext matching: pair source sentences with their translations among target sentences.

Scores are cosine or the ratio margin of Artetxe & Schwenk (2019). One-to-one matching is an
exact maximum-weight bipartite matching over a sparse candidate graph, solved with scipy's
LAPJVsp (``min_weight_full_bipartite_matching``), so 20k x 20k inputs never need a dense
n x m cost matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import min_weight_full_bipartite_matching

from e5ui.analysis.neighbours import DEFAULT_CHUNK_BYTES, _row_nanmean, _topk_unit, margin_scores
from e5ui.analysis.similarity import as_matrix, normalize_rows

logger = logging.getLogger(__name__)

METHODS = ("margin", "cosine")
# A pair's review status: as the matcher made it, accepted by a person, or made by one.
STATUSES = ("auto", "accepted", "edited")


@dataclass(frozen=True)
class Pair:
    """One matched sentence pair.

    Attributes:
        src: Index into the source list.
        tgt: Index into the target list.
        score: The matching score (margin or cosine, per the method).
        cosine: The raw cosine of the pair.
        status: ``"auto"`` (the matcher's), ``"accepted"`` (a person confirmed it) or
            ``"edited"`` (a person made it); see ``STATUSES`` and ``bitext_review``.
    """

    src: int
    tgt: int
    score: float
    cosine: float
    status: str = "auto"


@dataclass
class Matching:
    """Matched pairs and the sentences left without a partner.

    Attributes:
        pairs: Matched pairs sorted by ``src``.
        unmatched_src: Source indices in no pair, ascending.
        unmatched_tgt: Target indices in no pair, ascending.
        method: ``"margin"`` or ``"cosine"``.
        one_to_one: Whether each target was used at most once.
        threshold: Minimum score of a kept pair, or None.
    """

    pairs: list[Pair]
    unmatched_src: list[int] = field(default_factory=list)
    unmatched_tgt: list[int] = field(default_factory=list)
    method: str = "margin"
    one_to_one: bool = True
    threshold: float | None = None


@dataclass(frozen=True)
class Evaluation:
    """Matching quality against gold pairs.

    Attributes:
        p_at_1: Fraction of gold sources whose predicted target is a gold target.
        precision: Correct pairs / predicted pairs.
        recall: Correct pairs / gold pairs.
        f1: Harmonic mean of precision and recall (0 when both are 0).
        n_gold: Number of distinct gold pairs.
        n_pred: Number of distinct predicted pairs.
        n_correct: Number of predicted pairs that are gold pairs.
    """

    p_at_1: float
    precision: float
    recall: float
    f1: float
    n_gold: int
    n_pred: int
    n_correct: int


def _candidate_edges(
    sn: np.ndarray, tn: np.ndarray, method: str, k: int, candidates: int, chunk_bytes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edges (src, tgt, score, cosine) of the candidate graph, unique, sorted by (src, tgt).

    The graph holds each source's ``candidates`` nearest targets and each target's
    ``candidates`` nearest sources by cosine. Margin denominators use each side's ``k``
    nearest neighbours on the other side.
    """
    n, m = sn.shape[0], tn.shape[0]
    fwd = _topk_unit(sn, tn, min(max(candidates, k), m), None, None, chunk_bytes)
    bwd = _topk_unit(tn, sn, min(max(candidates, k), n), None, None, chunk_bytes)
    cf, cb = min(candidates, m), min(candidates, n)
    src = np.concatenate([np.repeat(np.arange(n), cf), bwd.indices[:, :cb].reshape(-1)])
    tgt = np.concatenate([fwd.indices[:, :cf].reshape(-1), np.repeat(np.arange(m), cb)])
    cos = np.concatenate([fwd.scores[:, :cf].reshape(-1), bwd.scores[:, :cb].reshape(-1)])
    # Both directions can propose the same edge; keep one (the cosines are equal up to BLAS
    # rounding, so take the forward one, which np.unique's first index selects).
    key = src.astype(np.int64) * m + tgt
    key, first = np.unique(key, return_index=True)
    src, tgt, cos = src[first].astype(np.int64), tgt[first].astype(np.int64), cos[first]
    if method == "margin":
        x_mean = _row_nanmean(fwd.scores[:, :k])
        y_mean = _row_nanmean(bwd.scores[:, :k])
        score = margin_scores(cos, x_mean[src], y_mean[tgt])
    else:
        score = cos.astype(np.float32)
    keep = ~np.isnan(score)
    return src[keep], tgt[keep], score[keep], cos[keep]


def _best_per_source(
    src: np.ndarray, tgt: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Index into the edge arrays of each source's best edge (ties: lower target)."""
    order = np.lexsort((tgt, -score.astype(np.float64), src))
    first = np.ones(order.size, dtype=bool)
    first[1:] = src[order][1:] != src[order][:-1]
    return src[order][first], order[first]


def _max_weight_matching(
    src: np.ndarray, tgt: np.ndarray, score: np.ndarray, n: int, m: int
) -> np.ndarray:
    """Indices of the edges in a maximum-weight matching of the bipartite edge list.

    Reduction to a min-cost full matching, which scipy's LAPJVsp solves exactly. Rows are
    the sentences of the smaller side (say the n sources); columns are the m targets plus one
    dummy column per row meaning "left unmatched". Edges: real (i, j) with cost C - w_ij and
    (i, dummy_i) with cost C. A full matching matches every row, so it corresponds one-to-one
    to a matching M of the real graph (rows outside M take their dummy) and costs
    n C - sum_{e in M} w_e: the minimum-cost full matching is the maximum-weight matching
    over the candidate graph. (This is the one-sided form of the usual augmentation with
    dummies on both sides and mirrored dummy-dummy edges; scipy accepts rectangular graphs,
    so dummies for the larger side are not needed, and the graph is ~3x smaller, ~10x faster
    to solve at 20k x 20k.) C = max(w, 0) + 1 keeps costs strictly positive (scipy drops
    explicit zeros); an edge with w <= 0 is never better than leaving both ends unmatched.
    """
    e = src.size
    if e == 0:
        return np.zeros(0, dtype=np.int64)
    if n > m:
        return _max_weight_matching(tgt, src, score, m, n)
    w = score.astype(np.float64)
    c = max(float(w.max()), 0.0) + 1.0
    rows = np.concatenate([src, np.arange(n)])
    cols = np.concatenate([tgt, m + np.arange(n)])
    cost = np.concatenate([c - w, np.full(n, c)])
    graph = sp.csr_array((cost, (rows, cols)), shape=(n, m + n))
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    real = col_ind < m
    # Map matched (row, col) back to edge numbers; edge keys are unique (see _candidate_edges).
    key = src.astype(np.int64) * m + tgt
    by_key = np.argsort(key)
    pos = np.searchsorted(key, row_ind[real].astype(np.int64) * m + col_ind[real], sorter=by_key)
    chosen = by_key[pos].astype(np.int64)
    return chosen


def match(
    src: Any,
    tgt: Any,
    *,
    method: str = "margin",
    k: int = 4,
    one_to_one: bool = True,
    threshold: float | None = None,
    candidates: int = 16,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Matching:
    """Match source sentences to target sentences by their embeddings.

    Candidate graph: each source's ``candidates`` nearest targets and each target's
    ``candidates`` nearest sources by cosine; every edge is scored by ``method``.

    Args:
        src: Source embeddings (n, d).
        tgt: Target embeddings (m, d).
        method: ``"margin"`` (ratio margin, Artetxe & Schwenk 2019; denominators from each
            side's ``k`` nearest neighbours on the other side) or ``"cosine"``.
        k: Neighbourhood size of the margin.
        one_to_one: True: an optimal maximum-weight matching over the candidate graph, so
            every target is used at most once (not greedy; exact for that graph). False: each
            source takes its best-scoring candidate (ties: lower target index); targets may
            repeat.
        threshold: Applied after matching: pairs scoring below it are dropped and their
            sentences reported unmatched. So raising the threshold never adds pairs.
        candidates: Candidate neighbours per sentence and direction. With
            ``candidates >= max(n, m)`` the graph is complete and the matching globally
            optimal.
        chunk_bytes: Memory budget for one chunk of the cosine matrix.

    Returns:
        A Matching.
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method: {method}. Must be one of: {', '.join(METHODS)}")
    if k < 1:
        raise ValueError("k must be at least 1")
    if candidates < 1:
        raise ValueError("candidates must be at least 1")
    if threshold is not None and not np.isfinite(threshold):
        raise ValueError("threshold must be a finite number")
    sn = normalize_rows(as_matrix(src, "source embeddings"))
    tn = normalize_rows(as_matrix(tgt, "target embeddings"))
    n, m = sn.shape[0], tn.shape[0]
    if n and m and sn.shape[1] != tn.shape[1]:
        raise ValueError(f"dimension mismatch: source {sn.shape[1]}, target {tn.shape[1]}")

    pairs: list[Pair] = []
    if n and m:
        s_idx, t_idx, score, cos = _candidate_edges(sn, tn, method, k, candidates, chunk_bytes)
        if one_to_one:
            chosen = _max_weight_matching(s_idx, t_idx, score, n, m)
        else:
            _, chosen = _best_per_source(s_idx, t_idx, score)
        chosen = chosen[np.argsort(s_idx[chosen], kind="stable")]
        pairs = [Pair(int(s_idx[e]), int(t_idx[e]), float(score[e]), float(cos[e])) for e in chosen]
        if threshold is not None:
            pairs = [p for p in pairs if p.score >= threshold]
    used_src = {p.src for p in pairs}
    used_tgt = {p.tgt for p in pairs}
    logger.debug("matched %d of %d sources (%s, one_to_one=%s)", len(pairs), n, method, one_to_one)
    return Matching(
        pairs=pairs,
        unmatched_src=[i for i in range(n) if i not in used_src],
        unmatched_tgt=[j for j in range(m) if j not in used_tgt],
        method=method,
        one_to_one=one_to_one,
        threshold=threshold,
    )


def _as_pairs(items: Iterable[Any], what: str) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for item in items:
        if isinstance(item, Pair):
            out.append((item.src, item.tgt))
            continue
        try:
            s, t = item
            out.append((int(s), int(t)))
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be (src, tgt) index pairs, got {item!r}") from None
    return out


def evaluate(
    pairs: Iterable[Pair | tuple[int, int]] | Matching, gold: Iterable[Any]
) -> Evaluation:
    """Score predicted pairs against gold pairs.

    Args:
        pairs: Predicted pairs (Pair objects or (src, tgt) tuples), or a Matching. For
            P@1 a source's prediction is its first pair in this order (``match`` gives at
            most one per source).
        gold: True (src, tgt) pairs. A source may have several gold targets.

    Returns:
        An Evaluation. P@1 counts a gold source without a prediction as wrong; ratios with a
        zero denominator are 0.
    """
    items = pairs.pairs if isinstance(pairs, Matching) else pairs
    pred = _as_pairs(items, "pairs")
    gold_set = set(_as_pairs(gold, "gold"))
    pred_set = set(pred)
    n_correct = len(pred_set & gold_set)
    first_pred: dict[int, int] = {}
    for s, t in pred:
        first_pred.setdefault(s, t)
    gold_sources = {s for s, _ in gold_set}
    hits = sum(1 for s in gold_sources if (s, first_pred.get(s, -1)) in gold_set)
    p_at_1 = hits / len(gold_sources) if gold_sources else 0.0
    precision = n_correct / len(pred_set) if pred_set else 0.0
    recall = n_correct / len(gold_set) if gold_set else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return Evaluation(
        p_at_1=p_at_1,
        precision=precision,
        recall=recall,
        f1=f1,
        n_gold=len(gold_set),
        n_pred=len(pred_set),
        n_correct=n_correct,
    )
