"""Reviewing mined sentence pairs: accept, reject, re-link, with the matching kept valid.

The bitext counterpart of ``review`` (which serves ordered alignments). Each edit takes a
``Matching`` and returns a new one (the input is never changed); an edit that would leave an
invalid matching raises ValueError naming the pair and the indices, and the caller keeps the
matching it had. Valid (``check``): every index in range, each source sentence in at most one
pair, each target sentence in at most one pair when the matching is one-to-one, pairs sorted
by source, the unmatched lists exactly the sentences in no pair.

Pairs are addressed by their row: their position in ``Matching.pairs`` (0-based, by source),
the row of the bitext view's table. A pair a person made gets status ``edited`` and its score
recomputed as the matcher computes it (``PairScorer``); ``accept`` marks a pair ``accepted``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

import numpy as np

from e5ui.analysis.bitext import METHODS, STATUSES, Matching, Pair
from e5ui.analysis.neighbours import DEFAULT_CHUNK_BYTES, _row_nanmean, _topk_unit, margin_scores
from e5ui.analysis.similarity import as_matrix, normalize_rows


@dataclass(frozen=True, eq=False)
class PairScorer:
    """Scores any (source, target) pair as ``bitext.match`` scored its candidates.

    Attributes:
        src: Unit source vectors (n, d).
        tgt: Unit target vectors (m, d).
        method: ``"margin"`` or ``"cosine"``.
        src_mean: Each source's mean cosine to its k nearest targets (n,); margin only.
        tgt_mean: Each target's mean cosine to its k nearest sources (m,); margin only.
    """

    src: np.ndarray
    tgt: np.ndarray
    method: str
    src_mean: np.ndarray | None = None
    tgt_mean: np.ndarray | None = None

    @property
    def n_src(self) -> int:
        return int(self.src.shape[0])

    @property
    def n_tgt(self) -> int:
        return int(self.tgt.shape[0])

    def score(self, i: int, j: int) -> tuple[float, float]:
        """(score, cosine) of source ``i`` with target ``j`` (score NaN where the margin's
        denominator is not positive)."""
        cos = float(np.clip(np.float32(self.src[i] @ self.tgt[j]), -1.0, 1.0))
        if self.method == "cosine":
            return cos, cos
        return float(margin_scores(cos, self.src_mean[i], self.tgt_mean[j])), cos

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, cosines) of source ``i`` with every target, float32 (m,) each."""
        cos = np.clip(self.tgt @ self.src[i], -1.0, 1.0).astype(np.float32)
        if self.method == "cosine":
            return cos, cos
        return margin_scores(cos, self.src_mean[i], self.tgt_mean), cos


def scorer(src, tgt, method: str = "margin", k: int = 4,
           chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> PairScorer:
    """The scorer of a matching made by ``bitext.match(src, tgt, method=method, k=k)``.

    Args:
        src: Source embeddings (n, d).
        tgt: Target embeddings (m, d).
        method: ``"margin"`` or ``"cosine"``.
        k: The margin's neighbourhood size.
        chunk_bytes: Memory budget for one chunk of the cosine matrix.

    Returns:
        A PairScorer (unit float32 vectors; margin denominators computed once, O(n m d)).
    """
    if method not in METHODS:
        raise ValueError(f"Unknown method: {method}. Must be one of: {', '.join(METHODS)}")
    if k < 1:
        raise ValueError("k must be at least 1")
    sn = normalize_rows(as_matrix(src, "source embeddings")).astype(np.float32)
    tn = normalize_rows(as_matrix(tgt, "target embeddings")).astype(np.float32)
    if sn.shape[0] and tn.shape[0] and sn.shape[1] != tn.shape[1]:
        raise ValueError(f"dimension mismatch: source {sn.shape[1]}, target {tn.shape[1]}")
    if method == "cosine":
        return PairScorer(sn, tn, method)
    n, m = sn.shape[0], tn.shape[0]
    fwd = _topk_unit(sn, tn, min(k, m), None, None, chunk_bytes)
    bwd = _topk_unit(tn, sn, min(k, n), None, None, chunk_bytes)
    return PairScorer(sn, tn, method, _row_nanmean(fwd.scores), _row_nanmean(bwd.scores))


@dataclass(frozen=True)
class Candidate:
    """A target sentence a source sentence could be paired with.

    Attributes:
        tgt: 0-based target index.
        score: The pair's score (the matching's method).
        cosine: The pair's cosine.
        paired_with: The source the matching pairs this target with (None: unpaired).
    """

    tgt: int
    score: float
    cosine: float
    paired_with: int | None


# -- validity -------------------------------------------------------------------------------------
def _index(value, size: int, side: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"a {side} sentence is given by its 0-based index, got {value!r}"[:200])
    if not 0 <= value < size:
        raise ValueError(f"{side} sentence {value} is out of range: the {side} has {size} "
                         f"sentence(s)" + (f", numbered from 0 to {size - 1}" if size else ""))
    return int(value)


def _describe(p: Pair) -> str:
    return f"source {p.src} ↔ target {p.tgt}"


def check(matching: Matching, n_src: int, n_tgt: int) -> None:
    """ValueError unless ``matching`` is a valid matching of ``n_src`` with ``n_tgt`` sentences
    (see the module's docstring); the message names the pair."""
    src_owner: dict[int, Pair] = {}
    tgt_owner: dict[int, Pair] = {}
    for p in matching.pairs:
        _index(p.src, n_src, "source")
        _index(p.tgt, n_tgt, "target")
        if p.status not in STATUSES:
            raise ValueError(f"{_describe(p)}: unknown status {p.status!r}. Must be one of: "
                             f"{', '.join(STATUSES)}")
        if p.src in src_owner:
            raise ValueError(f"source sentence {p.src} is in two pairs: "
                             f"{_describe(src_owner[p.src])} and {_describe(p)}")
        if matching.one_to_one and p.tgt in tgt_owner:
            raise ValueError(f"target sentence {p.tgt} is in two pairs: "
                             f"{_describe(tgt_owner[p.tgt])} and {_describe(p)} (the "
                             "matching is one-to-one)")
        src_owner[p.src] = p
        tgt_owner.setdefault(p.tgt, p)
    if [p.src for p in matching.pairs] != sorted(src_owner):
        raise ValueError("pairs must be sorted by source index")
    if list(matching.unmatched_src) != [i for i in range(n_src) if i not in src_owner]:
        raise ValueError("the unmatched source list is not the sources in no pair")
    if list(matching.unmatched_tgt) != [j for j in range(n_tgt) if j not in tgt_owner]:
        raise ValueError("the unmatched target list is not the targets in no pair")


def with_pairs(matching: Matching, pairs: Iterable[Pair], n_src: int, n_tgt: int) -> Matching:
    """A new Matching with these pairs (sorted by source; unmatched lists recomputed),
    checked (ValueError if invalid)."""
    pairs = sorted(pairs, key=lambda p: p.src)
    used_src = {p.src for p in pairs}
    used_tgt = {p.tgt for p in pairs}
    out = replace(matching, pairs=pairs,
                  unmatched_src=[i for i in range(n_src) if i not in used_src],
                  unmatched_tgt=[j for j in range(n_tgt) if j not in used_tgt])
    check(out, n_src, n_tgt)
    return out


def _row(matching: Matching, k: int) -> Pair:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"a pair is given by its 0-based row, got {k!r}"[:200])
    if not 0 <= k < len(matching.pairs):
        n = len(matching.pairs)
        raise ValueError(f"pair row {k} is out of range: there are {n} pair(s)"
                         + (f", numbered from 0 to {n - 1}" if n else ""))
    return matching.pairs[int(k)]


# -- edits ----------------------------------------------------------------------------------------
def accept(matching: Matching, k: int, n_src: int, n_tgt: int) -> Matching:
    """Marks pair row ``k`` as confirmed by a person (``accepted``; an ``edited`` pair stays
    ``edited``: it is not the matcher's).

    Args:
        matching: The matching (unchanged).
        k: The pair's 0-based row.
        n_src: Source sentences.
        n_tgt: Target sentences.

    Returns:
        A new Matching.
    """
    p = _row(matching, k)
    pairs = list(matching.pairs)
    pairs[k] = replace(p, status="edited" if p.status == "edited" else "accepted")
    return with_pairs(matching, pairs, n_src, n_tgt)


def reject(matching: Matching, k: int, n_src: int, n_tgt: int) -> Matching:
    """Removes pair row ``k``: both its sentences become unmatched.

    Args:
        matching: The matching (unchanged).
        k: The pair's 0-based row.
        n_src: Source sentences.
        n_tgt: Target sentences.

    Returns:
        A new Matching.
    """
    _row(matching, k)
    return with_pairs(matching, [*matching.pairs[:k], *matching.pairs[k + 1:]], n_src, n_tgt)


def relink(matching: Matching, scorer: PairScorer, src: int, tgt: int, *,
           release: bool = False) -> Matching:
    """Pairs source ``src`` with target ``tgt`` (status ``edited``, score and cosine computed
    by ``scorer``). The source's old pair, if any, goes (its target becomes unmatched). In a
    one-to-one matching a target paired with another source is refused, naming that pair,
    unless ``release``: then that pair goes and its source becomes unmatched.

    Args:
        matching: The matching (unchanged).
        scorer: The scorer of the matching's vectors (``scorer``).
        src: A 0-based source index.
        tgt: A 0-based target index.
        release: Take the target from the pair that holds it.

    Returns:
        A new Matching; ValueError for an index out of range or a target already paired.
    """
    i = _index(src, scorer.n_src, "source")
    j = _index(tgt, scorer.n_tgt, "target")
    if matching.one_to_one and not release:
        holder = next((p for p in matching.pairs if p.tgt == j and p.src != i), None)
        if holder is not None:
            raise ValueError(f"target sentence {j} is already paired ({_describe(holder)}); "
                             "reject that pair first, or release it")
    score, cos = scorer.score(i, j)
    keep = [p for p in matching.pairs
            if p.src != i and not (matching.one_to_one and p.tgt == j)]
    return with_pairs(matching, [*keep, Pair(i, j, score, cos, "edited")], scorer.n_src,
                      scorer.n_tgt)


def candidates(matching: Matching, scorer: PairScorer, src: int, top: int = 5
               ) -> list[Candidate]:
    """The targets scoring highest with source ``src``, to re-link it with one.

    Args:
        matching: The matching (says which source holds each target).
        scorer: The scorer of its vectors.
        src: A 0-based source index.
        top: How many (at most the number of targets).

    Returns:
        Candidates, highest score first (NaN scores last; ties: lower target index).
    """
    i = _index(src, scorer.n_src, "source")
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be an integer of at least 1, got {top!r}"[:200])
    scores, cos = scorer.row(i)
    key = np.where(np.isnan(scores), -np.inf, scores.astype(np.float64))
    order = np.lexsort((np.arange(key.size), -key))[:top]
    holder = {p.tgt: p.src for p in matching.pairs}
    return [Candidate(int(j), float(scores[j]), float(cos[j]), holder.get(int(j)))
            for j in order.tolist()]
