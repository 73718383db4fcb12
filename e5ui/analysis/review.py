"""Reviewing an ordered alignment: the doubtful links first, and edits that keep it valid.

A person never ships an automatic alignment unread; these functions serve the review step.

- **Doubt order** (``doubt_values``, ``doubt_ranks``): links sorted lowest bead score first,
  with omissions (1-0, 0-1) and merges (2-1, 1-2, ...) scored as doubtful as their kind's
  errors are likely (see ``DEFAULT_OMISSION_DOUBT``; measured in benchmarks/align_review.py).
- **Edits** (``accept``, ``break_link``, ``relink``, ``merge_next``, ``split_link``): each
  takes an Alignment and returns a new one (the input is never changed). The result is checked
  (``check_links``): every sentence of both sides in exactly one link (a sentence without a
  partner is a 1-0 or 0-1 link of its own), links in document order, no link crossing another.
  An edit that would break this raises ValueError naming the link and the indices, and the
  caller keeps the alignment it had. Links an edit creates or changes get status ``edited``
  and a recomputed score (``rescore``); ``accept`` marks a link ``accepted``.
- **Candidates** (``candidates``): the target sentences nearest a source sentence, to re-link
  it by picking one.

Links are addressed by their position in ``Alignment.links`` (0-based, document order), the
row of the align view's table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from e5ui.analysis.alignment import (
    STATUSES,
    Alignment,
    Link,
    bead_score,
    format_group,
)

GroupVector = Callable[[str, tuple[int, ...]], np.ndarray]
"""(side, indices) -> the unit vector of those consecutive sentences joined into one text;
side is "src" or "tgt". The aligner embeds such concatenations (``alignment._embed_runs``);
the views pass a function that asks the encoder (whose cache holds them) again."""

# Doubt of an omission, on the scale of the bead scores: it sorts with pairs scoring this low,
# i.e. before nearly every pair (correct 1-1 links score above -0.1). Omissions are 5% of the
# links but a large share of the wrong ones: an omission the aligner invents, or one beside a
# link that took its sentence.
DEFAULT_OMISSION_DOUBT = -0.5
# Subtracted from a merge's score per sentence beyond 1-1 (a 2-1 link sorts as if it scored
# 0.4 less, a 3-1 0.8 less): most wrong links are merges that swallowed a neighbour, and they
# score as well as true merges. Both weights: the best of a grid on the development documents
# of benchmarks/align_review.py (Django messages in es/it/nl/pt_BR/ko/uk/pl: 18 of 22 wrong
# links in the first 10% of rows; flat for omission <= -0.2 and merge 0.3-0.5), not on the
# held-out documents it reports; the plain lowest-score order found 4 of 22 there.
DEFAULT_MERGE_DOUBT = 0.4


@dataclass(frozen=True)
class Candidate:
    """A target group a source sentence could be linked with.

    Attributes:
        tgt: 0-based target sentence indices (one sentence, or a run when groups are asked).
        cosine: Cosine of the source sentence's vector with the group's.
        linked: True when the alignment links the source sentence with exactly this group.
    """

    tgt: tuple[int, ...]
    cosine: float
    linked: bool


# -- doubt ----------------------------------------------------------------------------------------
def doubt_values(links: Sequence[Link], omission: float = DEFAULT_OMISSION_DOUBT,
                 merge: float = DEFAULT_MERGE_DOUBT) -> np.ndarray:
    """How sure each link is, on the bead score's scale: lower is more doubtful.

    Args:
        links: The alignment's links.
        omission: The value of a 1-0 or 0-1 link (which has no score).
        merge: Subtracted per sentence beyond 1-1 (a 2-1 link: once; 2-2: twice).

    Returns:
        Float64 (len(links),). A pair without a score (NaN) counts as an omission.
    """
    out = np.empty(len(links), dtype=np.float64)
    for k, link in enumerate(links):
        if link.is_omission or math.isnan(link.score):
            out[k] = omission
        else:
            out[k] = link.score - merge * (len(link.src) + len(link.tgt) - 2)
    return out


def doubt_order(links: Sequence[Link], omission: float = DEFAULT_OMISSION_DOUBT,
                merge: float = DEFAULT_MERGE_DOUBT) -> np.ndarray:
    """Link positions, most doubtful first (ties in document order).

    Args:
        links: The alignment's links.
        omission: See ``doubt_values``.
        merge: See ``doubt_values``.

    Returns:
        Int64 (len(links),): a permutation of 0..len(links)-1.
    """
    return np.argsort(doubt_values(links, omission, merge), kind="stable").astype(np.int64)


def doubt_ranks(links: Sequence[Link], omission: float = DEFAULT_OMISSION_DOUBT,
                merge: float = DEFAULT_MERGE_DOUBT) -> np.ndarray:
    """Each link's place in the doubtful-first order: 1 = the most doubtful.

    Args:
        links: The alignment's links.
        omission: See ``doubt_values``.
        merge: See ``doubt_values``.

    Returns:
        Int64 (len(links),): rank of links[k], 1..len(links), each once.
    """
    order = doubt_order(links, omission, merge)
    ranks = np.empty(order.size, dtype=np.int64)
    ranks[order] = np.arange(1, order.size + 1)
    return ranks


# -- validity -------------------------------------------------------------------------------------
def _describe(link: Link) -> str:
    """A link for a message: "source 3,4 ↔ target 5" / "source 7 (no partner)"."""
    if not link.tgt:
        return f"source {format_group(link.src)} (no partner)"
    if not link.src:
        return f"target {format_group(link.tgt)} (no partner)"
    return f"source {format_group(link.src)} ↔ target {format_group(link.tgt)}"


def _check_group(indices: Iterable[int], size: int, side: str) -> tuple[int, ...]:
    """The indices as a tuple of ints; ValueError unless in range and consecutive."""
    try:
        group = tuple(int(i) for i in indices)
    except (TypeError, ValueError):
        raise ValueError(f"{side} indices must be integers, got {indices!r}"[:200]) from None
    for i in group:
        if not 0 <= i < size:
            raise ValueError(f"{side} sentence {i} is out of range: the {side} has {size} "
                             f"sentence(s), numbered from 0 to {size - 1}")
    if any(b != a + 1 for a, b in zip(group, group[1:])):
        raise ValueError(f"{side} sentences {format_group(group)} are not consecutive "
                         "ascending: a link joins neighbouring sentences only")
    return group


def in_document_order(links: Iterable[Link], n_src: int, n_tgt: int) -> list[Link]:
    """The links in document order, after checking that they form a valid alignment.

    Valid: every link has a sentence, each side's indices are in range and consecutive; every
    sentence of both sides is in exactly one link; links with both sides do not cross (one
    that starts later in the source starts later in the target). Order: the links with both
    sides by source, and between two of them the source sentences without a partner, then
    the target ones (the order ``alignment.align`` gives).

    Args:
        links: The links, in any order.
        n_src: Source sentences.
        n_tgt: Target sentences.

    Returns:
        The links, ordered.
    """
    links = list(links)
    src_owner: dict[int, Link] = {}
    tgt_owner: dict[int, Link] = {}
    for link in links:
        if not link.src and not link.tgt:
            raise ValueError("a link needs a sentence on at least one side")
        if link.is_omission and len(link.src) + len(link.tgt) != 1:
            raise ValueError(f"{_describe(link)}: a sentence without a partner is a link of "
                             "its own (one sentence, one side)")
        _check_group(link.src, n_src, "source")
        _check_group(link.tgt, n_tgt, "target")
        for owner, group, side in ((src_owner, link.src, "source"),
                                   (tgt_owner, link.tgt, "target")):
            for i in group:
                if i in owner:
                    raise ValueError(f"{side} sentence {i} is used twice: in "
                                     f"{_describe(owner[i])} and in {_describe(link)}")
                owner[i] = link
    for size, owner, side in ((n_src, src_owner, "source"), (n_tgt, tgt_owner, "target")):
        missing = [i for i in range(size) if i not in owner]
        if missing:
            raise ValueError(f"{side} sentence(s) {format_group(missing[:10])} are in no link")
    pairs = sorted((x for x in links if not x.is_omission), key=lambda x: x.src[0])
    for a, b in zip(pairs, pairs[1:]):
        if b.tgt[0] < a.tgt[0]:
            raise ValueError(f"{_describe(b)} crosses {_describe(a)}: links must keep the "
                             "documents' order")
    # Each sentence without a partner goes in the gap between the pairs around it.
    gap_src: dict[int, list[Link]] = {}
    gap_tgt: dict[int, list[Link]] = {}
    src_starts = [x.src[0] for x in pairs]
    tgt_starts = [x.tgt[0] for x in pairs]
    for x in links:
        if x.tgt and not x.src:
            gap_tgt.setdefault(int(np.searchsorted(tgt_starts, x.tgt[0])), []).append(x)
        elif x.src and not x.tgt:
            gap_src.setdefault(int(np.searchsorted(src_starts, x.src[0])), []).append(x)
    out: list[Link] = []
    for g in range(len(pairs) + 1):
        out += sorted(gap_src.get(g, []), key=lambda x: x.src)
        out += sorted(gap_tgt.get(g, []), key=lambda x: x.tgt)
        if g < len(pairs):
            out.append(pairs[g])
    return out


def check(result: Alignment) -> None:
    """ValueError unless ``result.links`` is a valid alignment in document order (see
    ``in_document_order``); the message names the link."""
    ordered = in_document_order(result.links, result.n_src, result.n_tgt)
    for k, (a, b) in enumerate(zip(result.links, ordered)):
        if (a.src, a.tgt) != (b.src, b.tgt):
            raise ValueError(f"link {k} ({_describe(a)}) is out of document order: "
                             f"{_describe(b)} belongs there")
    for link in result.links:
        if link.status not in STATUSES:
            raise ValueError(f"{_describe(link)}: unknown status {link.status!r}. Must be one "
                             f"of: {', '.join(STATUSES)}")


# -- scores of new links --------------------------------------------------------------------------
def _vector(result: Alignment, side: str, group: tuple[int, ...],
            vectors: GroupVector | None) -> np.ndarray | None:
    singles = result.src_vectors if side == "src" else result.tgt_vectors
    if len(group) == 1:
        return np.asarray(singles[group[0]], dtype=np.float64)
    if vectors is None:
        return None
    v = np.asarray(vectors(side, group), dtype=np.float64).reshape(-1)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def rescore(result: Alignment, src: Sequence[int], tgt: Sequence[int],
            vectors: GroupVector | None = None, status: str = "edited") -> Link:
    """A link with its cosine and bead score computed as the aligner computes them.

    Args:
        result: The alignment it goes into.
        src: Consecutive source indices (may be empty: a source-less sentence).
        tgt: Consecutive target indices.
        vectors: The vector of a joined group of sentences (needed for a merge: single
            sentences use the alignment's vectors). Without it a merge's score is NaN.
        status: The link's status.

    Returns:
        The Link (score and cosine NaN for an omission), flagged against the threshold.
    """
    src, tgt = tuple(src), tuple(tgt)
    if not src or not tgt:
        return Link(src, tgt, status=status)
    u, v = _vector(result, "src", src, vectors), _vector(result, "tgt", tgt, vectors)
    if u is None or v is None:
        return Link(src, tgt, status=status)
    score = bead_score(result, src, tgt, u, v)
    low = result.threshold is not None and not math.isnan(score) and score < result.threshold
    return Link(src, tgt, score, float(u @ v), bool(low), status)


def _apply(result: Alignment, links: Iterable[Link]) -> Alignment:
    """A new Alignment with these links in document order (ValueError if they are not valid)."""
    return replace(result, links=in_document_order(links, result.n_src, result.n_tgt),
                   notes=list(result.notes))


def _link(result: Alignment, k: int) -> Link:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"a link is given by its 0-based position, got {k!r}")
    if not 0 <= k < len(result.links):
        raise ValueError(f"link {k} is out of range: the alignment has {len(result.links)} "
                         f"link(s), numbered from 0 to {len(result.links) - 1}")
    return result.links[int(k)]


def _omissions(link: Link, status: str = "edited") -> list[Link]:
    return ([Link((i,), (), status=status) for i in link.src]
            + [Link((), (j,), status=status) for j in link.tgt])


# -- edits ----------------------------------------------------------------------------------------
def accept(result: Alignment, k: int) -> Alignment:
    """Marks link ``k`` as confirmed by a person (status ``accepted``; an edited link that is
    accepted stays ``edited``: it is not the aligner's).

    Args:
        result: The alignment (unchanged).
        k: The link's 0-based position.

    Returns:
        A new Alignment.
    """
    link = _link(result, k)
    links = list(result.links)
    links[k] = replace(link, status="edited" if link.status == "edited" else "accepted")
    return _apply(result, links)


def break_link(result: Alignment, k: int) -> Alignment:
    """Unlinks link ``k``: each of its sentences becomes a sentence without a partner (1-0 or
    0-1 links, status ``edited``).

    Args:
        result: The alignment (unchanged).
        k: The link's 0-based position; ValueError for one without a partner already.

    Returns:
        A new Alignment.
    """
    link = _link(result, k)
    if link.is_omission:
        raise ValueError(f"link {k} ({_describe(link)}) has no partner to break from")
    return _apply(result, [*result.links[:k], *_omissions(link), *result.links[k + 1:]])


def relink(result: Alignment, src: Sequence[int], tgt: Sequence[int],
           vectors: GroupVector | None = None, *, release: bool = False) -> Alignment:
    """Links source sentences ``src`` with target sentences ``tgt`` (status ``edited``).

    Each sentence must be without a partner, or in a link whose sentences all go into the new
    one (re-grouping ``3↔5, 4↔6`` as ``3,4↔5,6``). A sentence linked elsewhere is refused,
    naming that link, unless ``release``: then that link is broken first and its other
    sentences are left without a partner.

    Args:
        result: The alignment (unchanged).
        src: Consecutive 0-based source indices (at least one).
        tgt: Consecutive 0-based target indices (at least one).
        vectors: The vector of a joined group (for a merge's score; see ``rescore``).
        release: Break the links that hold a sentence of the new link.

    Returns:
        A new Alignment; ValueError (nothing changed) for an index out of range, a side that
        is empty or not consecutive, a sentence linked elsewhere, or a link crossing another.
    """
    src = _check_group(src, result.n_src, "source")
    tgt = _check_group(tgt, result.n_tgt, "target")
    if not src or not tgt:
        raise ValueError("a link needs sentences on both sides (to leave a sentence without a "
                         "partner, break its link)")
    new_src, new_tgt = set(src), set(tgt)
    kept: list[Link] = []
    for k, link in enumerate(result.links):
        touched = (new_src & set(link.src)) or (new_tgt & set(link.tgt))
        if not touched:
            kept.append(link)
            continue
        inside = set(link.src) <= new_src and set(link.tgt) <= new_tgt
        if inside:
            continue
        if not release:
            side, i = (("source", min(new_src & set(link.src))) if new_src & set(link.src)
                       else ("target", min(new_tgt & set(link.tgt))))
            raise ValueError(f"{side} sentence {i} is already linked in link {k} "
                             f"({_describe(link)}); break that link first")
        kept += [x for x in _omissions(link) if not (set(x.src) & new_src
                                                      or set(x.tgt) & new_tgt)]
    return _apply(result, [*kept, rescore(result, src, tgt, vectors)])


def merge_next(result: Alignment, k: int, vectors: GroupVector | None = None) -> Alignment:
    """Joins link ``k`` with link ``k + 1`` into one link (status ``edited``): ``3↔5`` and
    ``4↔(none)`` become ``3,4↔5``.

    Args:
        result: The alignment (unchanged).
        k: The first link's 0-based position.
        vectors: The vector of a joined group (for the merge's score; see ``rescore``).

    Returns:
        A new Alignment; ValueError when there is no next link or the two hold sentences of
        one side only (two source sentences without a partner make no link).
    """
    first = _link(result, k)
    if k + 1 >= len(result.links):
        raise ValueError(f"link {k} ({_describe(first)}) is the last link: nothing to merge "
                         "it with")
    second = result.links[k + 1]
    src = tuple(sorted(first.src + second.src))
    tgt = tuple(sorted(first.tgt + second.tgt))
    if not src or not tgt:
        raise ValueError(f"links {k} ({_describe(first)}) and {k + 1} ({_describe(second)}) "
                         "hold sentences of one side only: a link needs both sides")
    _check_group(src, result.n_src, "source")
    _check_group(tgt, result.n_tgt, "target")
    merged = rescore(result, src, tgt, vectors)
    return _apply(result, [*result.links[:k], merged, *result.links[k + 2:]])


def split_link(result: Alignment, k: int, src_at: int | None = None, tgt_at: int | None = None,
               vectors: GroupVector | None = None) -> Alignment:
    """Splits a merged link in two (status ``edited``): its first ``src_at`` source and
    ``tgt_at`` target sentences, and the rest. A part with sentences on one side only leaves
    them without a partner (``3,4↔5`` split at (1, 1): ``3↔5`` and ``4`` alone).

    Args:
        result: The alignment (unchanged).
        k: The link's 0-based position.
        src_at: Source sentences in the first part (0..a). None with ``tgt_at`` None: the
            split whose parts' cosines add up highest (single sentences' vectors, or
            ``vectors`` for groups).
        tgt_at: Target sentences in the first part (0..b).
        vectors: The vector of a joined group (see ``rescore``).

    Returns:
        A new Alignment; ValueError for a 1-1 link or an omission (nothing to split), or a
        split point out of range or one that leaves a part empty.
    """
    link = _link(result, k)
    a, b = len(link.src), len(link.tgt)
    if link.is_omission or (a, b) == (1, 1):
        raise ValueError(f"link {k} ({_describe(link)}) is {link.type}: only a merge can be "
                         "split")
    if src_at is None and tgt_at is None:
        src_at, tgt_at = _best_split(result, link, vectors)
    elif src_at is None or tgt_at is None:
        raise ValueError("give both split points (source and target sentences in the first "
                         "part), or neither")
    for name, at, size in (("src_at", src_at, a), ("tgt_at", tgt_at, b)):
        if isinstance(at, bool) or not isinstance(at, (int, np.integer)) or not 0 <= at <= size:
            raise ValueError(f"{name} must be an integer from 0 to {size} for link {k} "
                             f"({_describe(link)}), got {at!r}")
    if (src_at, tgt_at) in ((0, 0), (a, b)):
        raise ValueError(f"splitting link {k} ({_describe(link)}) at ({src_at}, {tgt_at}) "
                         "leaves one part empty")
    parts = []
    for s, t in ((link.src[:src_at], link.tgt[:tgt_at]), (link.src[src_at:], link.tgt[tgt_at:])):
        if s and t:
            parts.append(rescore(result, s, t, vectors))
        else:
            parts += _omissions(Link(s, t))
    return _apply(result, [*result.links[:k], *parts, *result.links[k + 1:]])


def _best_split(result: Alignment, link: Link, vectors: GroupVector | None) -> tuple[int, int]:
    a, b = len(link.src), len(link.tgt)
    best, best_at = -math.inf, (1, 0) if a > 1 else (0, 1)
    for i in range(a + 1):
        for j in range(b + 1):
            if (i, j) in ((0, 0), (a, b)):
                continue
            total = 0.0
            for s, t in ((link.src[:i], link.tgt[:j]), (link.src[i:], link.tgt[j:])):
                if s and t:
                    u, v = _vector(result, "src", s, vectors), _vector(result, "tgt", t, vectors)
                    if u is None or v is None:  # a group without its vector: its sentences'
                        u = _mean(result.src_vectors, s)
                        v = _mean(result.tgt_vectors, t)
                    total += float(u @ v)
            if total > best:
                best, best_at = total, (i, j)
    return best_at


def _mean(singles: np.ndarray, group: tuple[int, ...]) -> np.ndarray:
    v = np.asarray(singles[list(group)], dtype=np.float64).sum(0)
    return v / max(float(np.linalg.norm(v)), 1e-12)


# -- candidates -----------------------------------------------------------------------------------
def candidates(result: Alignment, src: int, top: int = 5,
               vectors: GroupVector | None = None, max_group: int = 1) -> list[Candidate]:
    """The target sentences (or runs of them) nearest source sentence ``src`` by cosine (the
    similarity the aligner scored), to pick one to re-link it with.

    Args:
        result: The alignment.
        src: A 0-based source index.
        top: How many (at most the number of candidates there are).
        vectors: The vector of joined target sentences (``GroupVector``); needed for runs.
        max_group: Longest run of consecutive target sentences proposed (1: single sentences;
            runs are built around the ``top`` nearest single sentences, as a split
            translation holds the nearest sentence).

    Returns:
        Candidates, highest cosine first (ties: fewer sentences, then lower index first).
    """
    (i,) = _check_group([src], result.n_src, "source")
    for name, value in (("top", top), ("max_group", max_group)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer of at least 1, got {value!r}")
    u = result.src_vectors[i].astype(np.float64)
    cos = result.tgt_vectors.astype(np.float64) @ u
    order = np.lexsort((np.arange(cos.size), -cos))
    found = {(int(j),): float(cos[j]) for j in order[:top]}
    if vectors is not None and max_group > 1:
        m = result.n_tgt
        for j in order[:top].tolist():
            for size in range(2, max_group + 1):
                for start in range(max(0, j - size + 1), min(j, m - size) + 1):
                    run = tuple(range(start, start + size))
                    if run not in found:
                        v = _vector(result, "tgt", run, vectors)
                        found[run] = float(u @ v)
    linked = next((x.tgt for x in result.links if i in x.src), ())
    best = sorted(found.items(), key=lambda kv: (-kv[1], len(kv[0]), kv[0]))[:top]
    return [Candidate(run, value, run == linked) for run, value in best]
