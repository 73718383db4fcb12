"""Ordered sentence alignment of a document and its translation (the Vecalign/Bertalign family).

A document and its translation keep their order, but a translator merges two sentences into
one, splits one into two or leaves one out. An alignment is a monotonic path of *beads*: a group
of consecutive source sentences linked with a group of consecutive target sentences (1-1, 2-1,
1-2, 2-2, ... up to ``max_merge`` sentences on a side) or one sentence left without a partner
(1-0, 0-1: an omission). Types are written ``"source-target"``: ``"2-1"`` is two source
sentences translated as one target sentence.

Scoring (after Bertalign, Liu & Zhu 2022, and Vecalign, Thompson & Koehn 2019). A bead's
groups are embedded as the *concatenation* of their sentences (``embed`` is called once, with
every distinct concatenation), and a bead of a source and b target sentences scores::

    reference = w (nb_t(u) + nb_s(v)) / 2 + (1 - w) background
    score = (cos(u, v) - reference) / max(1 - background, 0.05)
            + length_weight * (log2(1 + r) - 1) - merge_penalty * (a + b - 2)

- ``cos(u, v)``: cosine of the source group's and the target group's vectors;
- ``nb_t(u)``: mean cosine of ``u`` with the target sentences just before and just after the
  target group (those that exist); ``nb_s(v)`` likewise on the source side. This is
  Bertalign's margin: a bead scores high only when it beats the sentences beside it, which
  decides between a 1-1 link and a merge with the next sentence;
- ``background``: the mean cosine of source x target sentence pairs that are not
  translations of each other (``_background``). Dividing by ``1 - background`` puts models
  whose cosines sit in 0.7-1.0 (E5: training temperature 0.01) and models that use the whole
  range on one scale, as Vecalign's normalisation by random pairs does (the floor keeps a
  document aligned with itself from dividing by ~0);
- ``w`` (``neighbour_weight``) mixes the two references: 1 is Bertalign's margin, 0 is
  Vecalign's random-pair normalisation. Neighbours alone over-reward merging a sentence into
  its near-duplicate neighbour (sorted lists, repeated phrasing); the background alone misses
  merges. 0.5 was best on a development set (see DEFAULT_*);
- ``r = min(ls, lt) / max(ls, lt)`` with character lengths, the target's scaled by the
  documents' overall character ratio (Chinese takes fewer characters than English); the term
  is 0 for matching lengths and tends to -1 for very different ones;
- omissions (1-0, 0-1) score ``skip``.

The path with the largest total score is found by dynamic programming. Search is two-pass, as
in Bertalign: a first pass finds 1-1 anchors (the top ``top_k`` targets of each source sentence
within a band around the diagonal, then the best monotonic path through them: the heaviest
chain of hits that increases in both documents, a weighted longest increasing subsequence);
the second pass scores every bead type only within ``window`` sentences of the rectangles
between consecutive anchors. Both passes cost about O((n + m) x (band + window)): two
10,000-sentence documents align in well under a minute after encoding (benchmarks/align.py),
and no n x m matrix is ever built. Small inputs (``n * m <= FULL_SEARCH_CELLS``) get the exact
full search. Paragraph boundaries are respected: no group spans two paragraphs.

Evaluation follows the strict and lax precision/recall of Vecalign's and Bertalign's ``score``
scripts (after Sennrich & Volk 2011); see ``evaluate``.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from e5ui.analysis.similarity import as_matrix

logger = logging.getLogger(__name__)

Embed = Callable[[list[str]], Any]
"""Returns one L2-normalised vector per text: an array (len(texts), d)."""

DEFAULT_MAX_MERGE = 4
# Scoring defaults, chosen on development documents that the quality test does not use
# (Django catalogue messages outside its documents, in es/it/nl/pt/ko/uk/pl, perturbed alike)
# with the bundled multilingual-e5-small; results were flat within +-0.02 around them.
DEFAULT_SKIP = -0.1
DEFAULT_LENGTH_WEIGHT = 0.4
DEFAULT_MERGE_PENALTY = 0.05
DEFAULT_NEIGHBOUR_WEIGHT = 0.5
DEFAULT_WINDOW = 6
DEFAULT_TOP_K = 3
# Links below it are weak matches (a loose or partial translation): ~3% of the correct links
# of the development documents, and most of the wrong ones score above it (a wrong boundary
# between two good translations still scores well, so the flag cannot catch those).
DEFAULT_THRESHOLD = 0.15
# The first pass searches |j - i m / n| <= max(MIN_BAND, BAND_FRACTION * max(n, m)), as
# Bertalign does (250 / 6%): a translation drifts from the diagonal by its omissions and merges.
MIN_BAND = 250
BAND_FRACTION = 0.06
# Vecalign runs the full DP up to 300 x 300; above that the two-pass search is as good and
# linear.
FULL_SEARCH_CELLS = 300 * 300
SEARCHES = ("auto", "full", "windowed")
# A link's review status: as the aligner made it, accepted by a person, or made or changed by
# one (e5ui.analysis.review).
STATUSES = ("auto", "accepted", "edited")
# Floor of the score's scale 1 - background: documents of near-identical sentences (a text
# aligned with itself) would otherwise divide rounding noise by ~0.
MIN_SCALE = 0.05

# Scripts written without spaces between sentences: their concatenations join with "".
_NO_SPACE_RANGES = (
    (0x3000, 0x30FF),  # CJK punctuation, Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width forms (。！？ in full width, half-width katakana)
)


# -- results --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Link:
    """One bead of an alignment.

    Attributes:
        src: 0-based source sentence indices, consecutive; empty when a target sentence has
            no source (an omission on the source side, type "0-1").
        tgt: 0-based target sentence indices, consecutive; empty for type "1-0".
        score: The bead score (see the module docstring); NaN for omissions.
        cosine: Cosine of the concatenated source and target groups; NaN for omissions.
        low_confidence: True when ``score`` is below the alignment's threshold (never for
            omissions).
        status: ``"auto"`` (the aligner's), ``"accepted"`` (a person confirmed it) or
            ``"edited"`` (a person made or changed it); see ``STATUSES``.
    """

    src: tuple[int, ...]
    tgt: tuple[int, ...]
    score: float = math.nan
    cosine: float = math.nan
    low_confidence: bool = False
    status: str = "auto"

    @property
    def type(self) -> str:
        """``"a-b"``: a source sentences linked with b target sentences."""
        return f"{len(self.src)}-{len(self.tgt)}"

    @property
    def is_omission(self) -> bool:
        """True for a sentence without a partner (1-0 or 0-1)."""
        return not self.src or not self.tgt


@dataclass(eq=False)
class Alignment:
    """An ordered alignment of n source and m target sentences.

    Attributes:
        links: Beads in document order; together they cover every sentence of both sides
            exactly once.
        n_src: Number of source sentences (n).
        n_tgt: Number of target sentences (m).
        src_vectors: Float32 (n, d) L2-normalised vectors of the single source sentences
            (for ``similarity_grid``).
        tgt_vectors: Float32 (m, d) likewise for the target.
        threshold: Links scoring below it are flagged ``low_confidence``.
        max_merge: Most sentences on one side of a bead.
        background: Mean cosine of unrelated source x target pairs (the score's reference
            and scale, see the module docstring).
        search: ``"full"`` or ``"windowed"``: which search produced the links.
        anchors: Number of 1-1 anchors the first pass found (0 for the full search).
        cells: Number of DP cells the final search scored (n x m for the full search).
        notes: Remarks for the user (drift beyond the search band, ...).
        src_lengths: Float64 (n,) characters per source sentence (for ``bead_score``);
            empty when unknown.
        tgt_lengths: Float64 (m,) likewise for the target.
        scoring: The scoring parameters the search used (``skip``, ``length_weight``,
            ``merge_penalty``, ``neighbour_weight``), so an edited link is scored alike.
    """

    links: list[Link]
    n_src: int
    n_tgt: int
    src_vectors: np.ndarray
    tgt_vectors: np.ndarray
    threshold: float | None = DEFAULT_THRESHOLD
    max_merge: int = DEFAULT_MAX_MERGE
    background: float = 0.0
    search: str = "full"
    anchors: int = 0
    cells: int = 0
    notes: list[str] = field(default_factory=list)
    src_lengths: np.ndarray = field(default_factory=lambda: np.zeros(0))
    tgt_lengths: np.ndarray = field(default_factory=lambda: np.zeros(0))
    scoring: dict[str, float] = field(default_factory=dict)

    @property
    def pairs(self) -> list[Link]:
        """The links with sentences on both sides."""
        return [link for link in self.links if not link.is_omission]

    @property
    def omitted_src(self) -> list[int]:
        """Source sentences without a partner (1-0 links), ascending."""
        return [i for link in self.links if not link.tgt for i in link.src]

    @property
    def omitted_tgt(self) -> list[int]:
        """Target sentences without a partner (0-1 links), ascending."""
        return [j for link in self.links if not link.src for j in link.tgt]

    def type_counts(self) -> dict[str, int]:
        """Number of links per type, e.g. ``{"1-1": 40, "2-1": 3, "1-0": 1}``."""
        counts: dict[str, int] = {}
        for link in self.links:
            counts[link.type] = counts.get(link.type, 0) + 1
        return counts

    def corners(self) -> np.ndarray:
        """The path through the (n + 1) x (m + 1) grid of sentence boundaries.

        Returns:
            Int64 (len(links) + 1, 2): row k is (source sentences, target sentences)
            consumed before link k; the last row is (n, m). Link k covers the rectangle
            between rows k and k + 1, so a figure draws the path over a sentences x sentences
            heatmap by joining these points (divided by the block sizes when aggregated).
        """
        out = np.zeros((len(self.links) + 1, 2), dtype=np.int64)
        for k, link in enumerate(self.links):
            out[k + 1] = out[k] + (len(link.src), len(link.tgt))
        return out

    def with_threshold(self, threshold: float | None) -> Alignment:
        """The same alignment with links re-flagged against another threshold (no search)."""
        return replace(self, threshold=threshold, links=_flag(self.links, threshold))


@dataclass(frozen=True)
class LinkEvaluation:
    """Strict and lax precision, recall and F1 of links against gold links.

    Attributes:
        precision_strict: Predicted links (omissions included) that are gold links.
        recall_strict: Gold links with sentences on both sides that were predicted exactly
            (omissions are left out of recall, as in Vecalign's score script).
        f1_strict: Harmonic mean of the strict precision and recall.
        precision_lax: A predicted link also counts when it shares a source sentence and a
            target sentence with one gold link.
        recall_lax: Likewise for gold links against the predicted links.
        f1_lax: Harmonic mean of the lax precision and recall.
        n_gold: Number of gold links (omissions split into one link per sentence).
        n_pred: Number of predicted links (likewise).
    """

    precision_strict: float
    recall_strict: float
    f1_strict: float
    precision_lax: float
    recall_lax: float
    f1_lax: float
    n_gold: int
    n_pred: int


@dataclass(eq=False)
class SimilarityGrid:
    """Source x target sentence similarity, exact or averaged over blocks.

    Attributes:
        values: Float32 (r, c): mean cosine of the source sentences of row block i with the
            target sentences of column block j (plain cosines when blocks are single
            sentences).
        src_edges: Int64 (r + 1,): row block i covers source sentences
            ``src_edges[i]:src_edges[i + 1]``.
        tgt_edges: Int64 (c + 1,) likewise for the target.
    """

    values: np.ndarray
    src_edges: np.ndarray
    tgt_edges: np.ndarray

    @property
    def aggregated(self) -> bool:
        """True when some block holds more than one sentence."""
        return bool(np.any(np.diff(self.src_edges) > 1) or np.any(np.diff(self.tgt_edges) > 1))

    def path(self, corners: np.ndarray) -> np.ndarray:
        """An alignment path (``Alignment.corners()``) in cell coordinates of ``values``.

        Args:
            corners: Int (k, 2) sentence boundaries (source, target) along the path.

        Returns:
            Float64 (k, 2): (row, column) positions, where cell (r, c) spans r..r+1 and
            c..c+1; a boundary inside a block lands proportionally inside it.
        """
        corners = np.asarray(corners, dtype=np.float64)
        rows = np.interp(corners[:, 0], self.src_edges, np.arange(self.src_edges.size))
        cols = np.interp(corners[:, 1], self.tgt_edges, np.arange(self.tgt_edges.size))
        return np.stack([rows, cols], axis=1)


# -- small helpers --------------------------------------------------------------------------------
def bead_types(max_merge: int) -> list[tuple[int, int]]:
    """Bead types with sentences on both sides, most common first.

    ``(a, b)`` with ``1 <= a, b <= max_merge`` and ``a + b <= max_merge + 1``, i.e. up to
    ``max_merge`` sentences on one side (1-4, 4-1 by default) and, in between, 2-2, 2-3, 3-2:
    Bertalign's ``max_align = 5``. Omissions (1-0, 0-1) are always allowed besides these.

    Args:
        max_merge: The most sentences on one side of a bead (>= 1).

    Returns:
        The (a, b) pairs, sorted by a + b, then a.
    """
    if not isinstance(max_merge, (int, np.integer)) or isinstance(max_merge, bool):
        raise ValueError(f"max_merge must be an integer, got {max_merge!r}")
    if max_merge < 1:
        raise ValueError("max_merge must be at least 1")
    types = [(a, b) for a in range(1, max_merge + 1) for b in range(1, max_merge + 1)
             if a + b <= max_merge + 1]
    return sorted(types, key=lambda t: (t[0] + t[1], t[0]))


def _no_space(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _NO_SPACE_RANGES)


def join_texts(parts: Sequence[str]) -> str:
    """Concatenates sentences as a translator would write them one after another.

    Parts are joined with a space, except after a Chinese/Japanese character or full-width
    punctuation, where these scripts put none.

    Args:
        parts: Sentences (whitespace at their ends is dropped).

    Returns:
        One string.
    """
    out = ""
    for part in parts:
        part = part.strip()
        if not part:
            continue
        if out and not _no_space(out[-1]):
            out += " "
        out += part
    return out


def parse_group(text: str) -> tuple[int, ...]:
    """Reads a TSV cell of comma-joined 0-based indices ("3,4" -> (3, 4); "" -> ()). The one
    parser of gold groups (``textio.read_links`` reads files with it).

    Args:
        text: The cell.

    Returns:
        The indices. ValueError, quoting the cell, for anything else: "3;4", "x", "-1", an
        empty index ("3,,4", "3,"), digits other than ASCII ones.
    """
    text = (text or "").strip()
    if not text:
        return ()
    shown = repr(text if len(text) <= 40 else text[:40] + "…")
    out = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise ValueError(f"an empty index between commas in {shown}; write sentence "
                             "indices like 3 or 3,4")
        if part.startswith("-") and part[1:].strip().isdigit():
            raise ValueError(f"sentence indices must be 0 or more: {shown}")
        # ASCII digits only (int() would take "٣" and "1_000"); 18 of them is past any index.
        if not (part.isascii() and part.isdigit()) or len(part) > 18:
            raise ValueError(f"not a list of comma-separated sentence indices: {shown}")
        out.append(int(part))
    return tuple(out)


def format_group(indices: Iterable[int]) -> str:
    """Writes indices as a TSV cell: (3, 4) -> "3,4"; () -> ""."""
    return ",".join(str(int(i)) for i in indices)


def _flag(links: list[Link], threshold: float | None) -> list[Link]:
    return [
        replace(link, low_confidence=bool(
            threshold is not None and not link.is_omission and link.score < threshold))
        for link in links
    ]


def _check_number(name: str, value: Any, low: float | None = None, *, integer: bool = False,
                   optional: bool = False) -> None:
    """ValueError unless ``value`` is a finite number (an integer when asked) >= ``low``."""
    if value is None and optional:
        return
    ok_type = (isinstance(value, (int, np.integer)) if integer
               else isinstance(value, (int, float, np.integer, np.floating)))
    if isinstance(value, bool) or not ok_type or not math.isfinite(float(value)):
        kind = "an integer" if integer else "a finite number"
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be at least {low}, got {value!r}")


# -- the groups and their vectors -----------------------------------------------------------------
def _paragraph_ids(paragraphs: Sequence[int] | None, n: int, side: str) -> np.ndarray:
    if paragraphs is None:
        return np.zeros(n, dtype=np.int64)
    ids = np.asarray(paragraphs)
    if ids.shape != (n,) or (n and not np.issubdtype(ids.dtype, np.integer)):
        raise ValueError(f"{side}_paragraphs must hold one integer per {side} sentence "
                         f"({n}), got {len(paragraphs)} values")
    if n > 1 and np.any(np.diff(ids) < 0):
        raise ValueError(f"{side}_paragraphs must not decrease (sentences are in document order)")
    return ids.astype(np.int64)


def _run_validity(paragraph_ids: np.ndarray, max_merge: int) -> np.ndarray:
    """Bool (max_merge, n + 1): [a - 1, e] is True when sentences e-a .. e-1 exist and share
    one paragraph (the run of length a ending before sentence e)."""
    n = paragraph_ids.size
    valid = np.zeros((max_merge, n + 1), dtype=bool)
    for a in range(1, max_merge + 1):
        if a > n:
            break
        ends = np.arange(a, n + 1)
        valid[a - 1, ends] = paragraph_ids[ends - a] == paragraph_ids[ends - 1]
    return valid


def _run_lengths(sentences: Sequence[str], max_merge: int) -> np.ndarray:
    """Float64 (max_merge, n + 1): characters in the run of length a ending before e (0 where
    no such run exists)."""
    n = len(sentences)
    csum = np.concatenate([[0], np.cumsum([len(s.strip()) for s in sentences])]).astype(float)
    out = np.zeros((max_merge, n + 1))
    for a in range(1, min(max_merge, n) + 1):
        out[a - 1, a:] = csum[a:] - csum[:-a]
    return out


def _run_texts(sentences: Sequence[str], valid: np.ndarray) -> dict[tuple[int, int], str]:
    """The concatenated text of every valid run, keyed by (length, end)."""
    return {(a + 1, int(e)): join_texts(sentences[e - a - 1:e])
            for a in range(valid.shape[0]) for e in np.flatnonzero(valid[a])}


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """The rows scaled to length 1; the array itself when they already are (no copy of a
    possibly large input that an encoder normalised already). Zero rows stay zero."""
    norms = np.sqrt(np.einsum("ij,ij->i", vectors, vectors))
    if vectors.size == 0 or np.all(np.abs(norms - 1.0) < 1e-3):
        return vectors
    return (vectors / np.where(norms > 0, norms, 1.0)[:, None]).astype(np.float32)


def _embed_runs(
    embed: Embed, src_runs: dict[tuple[int, int], str], tgt_runs: dict[tuple[int, int], str],
    shapes: tuple[int, int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of every run, stacked as (max_merge, n + 1, d) per side; zero rows where no run.

    ``embed`` is called once, with each distinct text once (both sides together).
    """
    max_merge, n, m = shapes
    if not callable(embed):
        raise ValueError("embed must be a function from a list of texts to an array of vectors")
    texts = list(dict.fromkeys([*src_runs.values(), *tgt_runs.values()]))
    vectors = _unit_rows(as_matrix(embed(texts), "the vectors returned by embed"))
    if vectors.shape[0] != len(texts):
        raise ValueError(f"embed returned {vectors.shape[0]} vectors for {len(texts)} texts")
    row = {text: k for k, text in enumerate(texts)}
    d = vectors.shape[1]
    out = []
    for runs, size in ((src_runs, n), (tgt_runs, m)):
        arr = np.zeros((max_merge, size + 1, d), dtype=np.float32)
        for a in range(1, max_merge + 1):  # one run length at a time bounds the temporary
            keys = [k for k in runs if k[0] == a]
            if keys:
                arr[a - 1, [e for _, e in keys]] = vectors[[row[runs[k]] for k in keys]]
        out.append(arr)
    logger.debug("embedded %d distinct concatenations (d=%d)", len(texts), d)
    return out[0], out[1]


# -- bead scores ---------------------------------------------------------------------------------
@dataclass(eq=False)
class _Side:
    """One document's runs and what scoring needs of them.

    Attributes:
        runs: Float32 (M, n + 1, d): [a - 1, e] is the vector of the run of length a ending
            before sentence e (zero where no such run exists).
        valid: Bool (M, n + 1): which runs exist (inside the document and one paragraph).
        lengths: Float64 (M, n + 1): characters per run.
        padded: Float32 (n + 2M + 2, d): the single-sentence vectors with M + 1 zero rows on
            each side, so a missing neighbour contributes a zero cosine.
        inv_neighbours: Float64 (M, n + 1): 1 / number of neighbours (the sentences just before
            and after) of each run; 0 where it has none.
    """

    runs: np.ndarray
    valid: np.ndarray
    lengths: np.ndarray
    padded: np.ndarray
    inv_neighbours: np.ndarray

    @classmethod
    def build(cls, runs: np.ndarray, valid: np.ndarray, lengths: np.ndarray) -> _Side:
        max_merge, size, d = runs.shape[0], runs.shape[1] - 1, runs.shape[2]
        pad = np.zeros((max_merge + 1, d), dtype=np.float32)
        ends = np.arange(size + 1)[None, :]
        a = np.arange(1, max_merge + 1)[:, None]
        count = (ends - a - 1 >= 0).astype(np.float64) + (ends < size)
        with np.errstate(divide="ignore"):
            inv = np.where(count > 0, 1.0 / count, 0.0)
        return cls(runs, valid, lengths, np.concatenate([pad, runs[0, 1:], pad]), inv)

    @property
    def singles(self) -> np.ndarray:
        """Float32 (n, d): the single-sentence vectors (a view)."""
        return self.runs[0, 1:]


@dataclass(eq=False)
class _Scorer:
    """Bead scores for blocks of DP rows (see the module docstring for the formula)."""

    src: _Side
    tgt: _Side
    types: list[tuple[int, int]]
    background: float
    char_ratio: float
    length_weight: float
    merge_penalty: float
    neighbour_weight: float

    def __post_init__(self) -> None:
        M = self.src.runs.shape[0]
        self.a_idx = np.array([a - 1 for a, _ in self.types])
        self.b_idx = np.array([b - 1 for _, b in self.types])
        self.scale = max(1.0 - self.background, MIN_SCALE)
        sizes = np.arange(1, M + 1)
        # Indexed [b, a] like the score arrays below.
        self.penalty = self.merge_penalty * (sizes[:, None] + sizes[None, :] - 2)

    def _neighbours(self, inv: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Mean of the neighbour cosines (zero for a missing neighbour), or the background
        where a run has no neighbour at all."""
        return (left + right) * inv + np.where(inv == 0, self.background, 0.0)

    def block(self, rows: np.ndarray, lo: int, hi: int) -> np.ndarray:
        """Bead scores ending at source boundaries ``rows`` and target boundaries lo..hi.

        Args:
            rows: Int (B,) consecutive source boundaries i (1 <= i <= n).
            lo: First target boundary j.
            hi: Last target boundary j.

        Returns:
            Float64 (B, len(types), hi - lo + 1); -inf where a group does not exist.
        """
        M, d = self.src.runs.shape[0], self.src.runs.shape[2]
        B, W = rows.size, hi - lo + 1
        i0, j = int(rows[0]), np.arange(lo, hi + 1)
        s_near = self.src.padded[i0:int(rows[-1]) + M + 2]        # sentences i0-M-1 .. i_last
        t_near = self.tgt.padded[lo:hi + M + 2]                   # sentences lo-M-1 .. hi
        # One product for everything: few large BLAS calls beat many small ones, above all
        # on a busy machine where each multi-threaded call waits for its threads.
        left = np.concatenate([self.src.runs[:, rows].reshape(M * B, d), s_near])
        right = np.concatenate([self.tgt.runs[:, lo:hi + 1].reshape(M * W, d), t_near])
        prod = left @ right.T
        # Every array below is indexed [i, b, a, j].
        cos = prod[:M * B, :M * W].reshape(M, B, M, W).transpose(1, 2, 0, 3).astype(np.float64)
        ut = prod[:M * B, M * W:].reshape(M, B, -1)               # (a, i, target sentence)
        vs = prod[M * B:, :M * W].T.reshape(M, W, -1)             # (b, j, source sentence)
        b = np.arange(1, M + 1)
        t_left = ut[:, :, (j - lo)[None, :] + M - b[:, None]].transpose(1, 2, 0, 3)
        t_right = ut[:, :, j - lo + M + 1].transpose(1, 0, 2)[:, None]
        inv_t = self.tgt.inv_neighbours[:, lo:hi + 1][None, :, None, :]
        nb_t = self._neighbours(inv_t, t_left, t_right)
        k_left = (rows - i0)[:, None] + M - b[None, :]            # sentence i-a-1, per (i, a)
        s_left = vs[:, :, k_left].transpose(2, 0, 3, 1)
        s_right = vs[:, :, rows - i0 + M + 1].transpose(2, 0, 1)[:, :, None, :]
        inv_s = self.src.inv_neighbours[:, rows].T[:, None, :, None]
        nb_s = self._neighbours(inv_s, s_left, s_right)
        lam = self.neighbour_weight
        score = (cos - lam * (nb_t + nb_s) / 2.0 - (1.0 - lam) * self.background) / self.scale
        ls = self.src.lengths[:, rows].T[:, None, :, None]
        lt = self.tgt.lengths[:, lo:hi + 1][None, :, None, :] * self.char_ratio
        ratio = np.minimum(ls, lt) / np.maximum(np.maximum(ls, lt), 1e-9)
        score += self.length_weight * (np.log2(1.0 + ratio) - 1.0)
        score -= self.penalty[None, :, :, None]
        ok = self.src.valid[:, rows].T[:, None, :, None] & self.tgt.valid[:, lo:hi + 1][
            None, :, None, :]
        score = np.where(ok, score, -np.inf)
        return score[:, self.b_idx, self.a_idx, :]

    def cosine(self, a: int, i: int, b: int, j: int) -> float:
        """Cosine of the source run (a, ending at i) and the target run (b, ending at j)."""
        return float(self.src.runs[a - 1, i] @ self.tgt.runs[b - 1, j])


def bead_score(result: Alignment, src: Sequence[int], tgt: Sequence[int], u: np.ndarray,
               v: np.ndarray) -> float:
    """The score the search gives the bead of source sentences ``src`` and target sentences
    ``tgt`` (the module docstring's formula, one bead at a time): an edited link is scored as
    the aligner would have scored it.

    Args:
        result: The alignment (its single-sentence vectors, lengths, background and scoring).
        src: Consecutive 0-based source indices (at least one).
        tgt: Consecutive 0-based target indices (at least one).
        u: Unit vector of the source sentences joined (one sentence: its own vector).
        v: Unit vector of the target sentences joined.

    Returns:
        The bead score; NaN when the alignment lacks its sentence lengths or scoring.
    """
    if (not result.scoring or result.src_lengths.size != result.n_src
            or result.tgt_lengths.size != result.n_tgt):
        return math.nan
    a, b = len(src), len(tgt)
    i0, i1, j0, j1 = src[0], src[-1] + 1, tgt[0], tgt[-1] + 1
    u, v = np.asarray(u, dtype=np.float64), np.asarray(v, dtype=np.float64)

    def near(vec: np.ndarray, singles: np.ndarray, lo: int, hi: int) -> float:
        sides = [k for k in (lo - 1, hi) if 0 <= k < singles.shape[0]]
        if not sides:
            return result.background
        return float(np.mean([vec @ singles[k].astype(np.float64) for k in sides]))

    lam = result.scoring["neighbour_weight"]
    nb_t = near(u, result.tgt_vectors, j0, j1)
    nb_s = near(v, result.src_vectors, i0, i1)
    scale = max(1.0 - result.background, MIN_SCALE)
    score = (float(u @ v) - lam * (nb_t + nb_s) / 2.0 - (1.0 - lam) * result.background) / scale
    char_ratio = float(result.src_lengths.sum() / max(result.tgt_lengths.sum(), 1.0))
    ls = float(result.src_lengths[i0:i1].sum())
    lt = float(result.tgt_lengths[j0:j1].sum()) * char_ratio
    ratio = min(ls, lt) / max(ls, lt, 1e-9)
    score += result.scoring["length_weight"] * (math.log2(1.0 + ratio) - 1.0)
    return score - result.scoring["merge_penalty"] * (a + b - 2)


class _RowBlocks:
    """Serves one DP row's scores at a time from blocks of rows scored together, so numpy
    works on arrays of ``rows x window`` cells instead of one short row per call."""

    def __init__(self, scorer: _Scorer, lo: np.ndarray, hi: np.ndarray,
                 rows: int = 64, max_cells: int = 1 << 14):
        self.scorer, self.lo, self.hi = scorer, lo, hi
        self.rows, self.max_cells = rows, max_cells
        self.first = self.last = 0
        self.col0 = 0
        self.cache = np.zeros((0, len(scorer.types), 0))

    def __call__(self, i: int, lo: int, hi: int) -> np.ndarray:
        if not self.first <= i < self.last:
            self._fill(i)
        return self.cache[i - self.first, :, lo - self.col0:hi - self.col0 + 1]

    def _fill(self, i: int) -> None:
        n = self.lo.size - 1
        last = min(n, i + self.rows - 1)
        # Shrink the block where the windows are wide (few anchors), bounding its cells.
        while last > i and (last - i + 1) * (self.hi[last] - self.lo[i] + 1) > self.max_cells:
            last = i + (last - i) // 2
        self.first, self.last, self.col0 = i, last + 1, int(self.lo[i])
        self.cache = self.scorer.block(np.arange(i, last + 1), self.col0, int(self.hi[last]))


# -- dynamic programming over a band of cells -----------------------------------------------------
_INSERT = -2       # back pointer of a 0-1 bead (a target sentence without source)
_UNREACHED = -3    # back pointer of a cell no path reaches


def _insert_chain(best: np.ndarray, back: np.ndarray, gain: np.ndarray, skip: float) -> None:
    """Applies 0-1 beads within a row in place: best[j] = max(best[j], best[j-1] + skip).

    The closed form max_{k <= j} best[k] + (j - k) skip runs as one cumulative maximum; the
    comparison is made on exactly the values the maximum took, so a cell reached by a 0-1
    bead is never one whose own value was as good.
    """
    idx = np.arange(best.size, dtype=np.float64)
    x = best - skip * idx
    run = np.maximum.accumulate(x)
    at_self = (x == run) | np.isneginf(run)
    if at_self.all():
        return
    src = np.maximum.accumulate(np.where(at_self, np.arange(best.size), 0))
    moved = ~at_self
    best[moved] = best[src[moved]] + skip * (idx[moved] - src[moved])
    back[moved] = _INSERT
    gain[moved] = skip


def _dp(
    lo: np.ndarray, hi: np.ndarray, types: list[tuple[int, int]],
    row_scores: Callable[[int, int, int], np.ndarray], skip: float,
) -> list[tuple[int, int, int, int, float]]:
    """Best monotonic path from (0, 0) to (n, m) through the cells lo[i] <= j <= hi[i].

    Memory is O(cells) for the back pointers plus O(max_merge x m) for the values of the last
    rows, which live in a ring buffer indexed by absolute target boundary.

    Args:
        lo: Int (n + 1,) first target boundary searched in row i (non-decreasing, lo[0] = 0;
            consecutive rows overlap).
        hi: Int (n + 1,) last one (non-decreasing, hi[n] = m).
        types: (a, b) bead types with a, b >= 1; 1-0 and 0-1 are always added with ``skip``.
        row_scores: (i, lo, hi) -> (len(types), hi - lo + 1) score of the bead of each type
            that ends at (i, j); -inf where it cannot. Called for i = 1..n in order.
        skip: Score of a 1-0 or 0-1 bead.

    Returns:
        The beads (a, b, i, j, score) in document order, each ending at boundary (i, j).
    """
    n, m = lo.size - 1, int(hi[-1])
    all_types = [*types, (1, 0)]  # ties go to the earlier type: 1-1 first, omissions last
    a_arr = np.array([a for a, _ in all_types])[:, None]
    b_arr = np.array([b for _, b in all_types])[:, None]
    depth, pad = int(a_arr.max()), int(b_arr.max())
    ring = np.full((depth + 1, m + 1 + pad), -np.inf)  # column pad + j holds boundary j
    written = [(0, 0)] * (depth + 1)
    backs: list[np.ndarray] = []
    gains: list[np.ndarray] = []
    for i in range(n + 1):
        cols = np.arange(int(lo[i]), int(hi[i]) + 1)
        if i == 0:
            best = np.where(cols == 0, 0.0, -np.inf)
            back = np.full(cols.size, _UNREACHED, dtype=np.int8)
            gain = np.zeros(cols.size, dtype=np.float32)
        else:
            scores = np.vstack([row_scores(i, int(lo[i]), int(hi[i])),
                                np.full((1, cols.size), skip)])
            prev = ring[(i - a_arr) % (depth + 1), pad + cols[None, :] - b_arr]
            cand = prev + scores
            choice = np.argmax(cand, axis=0)
            best = cand[choice, np.arange(cols.size)]
            gain = scores[choice, np.arange(cols.size)].astype(np.float32)
            back = choice.astype(np.int8)
            back[np.isneginf(best)] = _UNREACHED
        _insert_chain(best, back, gain, skip)
        r = i % (depth + 1)
        ring[r, pad + written[r][0]:pad + written[r][1]] = -np.inf
        ring[r, pad + cols[0]:pad + cols[-1] + 1] = best
        written[r] = (int(cols[0]), int(cols[-1]) + 1)
        backs.append(back)
        gains.append(gain)
    return _trace(backs, gains, lo, all_types)


def _trace(backs: list[np.ndarray], gains: list[np.ndarray], lo: np.ndarray,
           types: list[tuple[int, int]]) -> list[tuple[int, int, int, int, float]]:
    """Follows back pointers from the last cell of the last row to (0, 0)."""
    i = len(backs) - 1
    j = int(lo[i]) + backs[i].size - 1
    beads = []
    while i > 0 or j > 0:
        t = int(backs[i][j - lo[i]])
        if t == _INSERT:
            a, b = 0, 1
        elif t >= 0:
            a, b = types[t]
        else:
            raise RuntimeError(f"alignment search reached an unreachable cell ({i}, {j})")
        beads.append((a, b, i, j, float(gains[i][j - lo[i]])))
        i, j = i - a, j - b
    beads.reverse()
    return beads


# -- the first pass: 1-1 anchors in a band --------------------------------------------------------
def _band(n: int, m: int, half: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows 0..n of the band |j - i m / n| <= half, clipped to 0..m (with the corners)."""
    center = np.round(np.arange(n + 1) * (m / max(n, 1))).astype(np.int64)
    lo = np.clip(center - half, 0, m)
    hi = np.clip(center + half, 0, m)
    lo[0], hi[-1] = 0, m
    # Consecutive rows must overlap, or no path joins them (only when m >> n).
    lo[1:] = np.minimum(lo[1:], hi[:-1])
    return lo, hi


def _top_in_band(
    src: np.ndarray, tgt: np.ndarray, lo: np.ndarray, hi: np.ndarray, k: int, block: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k targets of each source sentence i among targets lo[i+1]-1 .. hi[i+1]-1.

    Returns:
        (indices, cosines), each (n, k); -1 / -inf where the band holds fewer than k targets.
        Blocks of ``block`` source rows keep the scored tile at block x (block m/n + band).
    """
    n = src.shape[0]
    idx = np.full((n, k), -1, dtype=np.int64)
    val = np.full((n, k), -np.inf, dtype=np.float64)
    first = np.maximum(lo[1:] - 1, 0)  # row i+1 of the DP holds the bead of sentence i
    last = np.maximum(hi[1:] - 1, 0)
    for r0 in range(0, n, block):
        r1 = min(n, r0 + block)
        c0, c1 = int(first[r0:r1].min()), int(last[r0:r1].max()) + 1
        sims = (src[r0:r1] @ tgt[c0:c1].T).astype(np.float64)
        cols = np.arange(c0, c1)
        outside = (cols[None, :] < first[r0:r1, None]) | (cols[None, :] > last[r0:r1, None])
        sims[outside] = -np.inf
        kk = min(k, c1 - c0)
        part = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        idx[r0:r1, :kk] = part + c0
        val[r0:r1, :kk] = np.take_along_axis(sims, part, axis=1)
    idx[np.isneginf(val)] = -1
    return idx, val


def _heaviest_chain(rows: np.ndarray, cols: np.ndarray, weights: np.ndarray) -> list[int]:
    """The chain of points with strictly increasing row and column of largest total weight
    (a weighted longest increasing subsequence), as point indices in order.

    A prefix-maximum Fenwick tree over columns makes it O(K log m) for K points. Points are
    taken row by row, columns descending within a row, so that no two points of one row chain.
    """
    size = int(cols.max()) + 2 if cols.size else 1
    tree_val = [0.0] * (size + 1)
    tree_arg = [-1] * (size + 1)
    best = [0.0] * rows.size
    prev = [-1] * rows.size
    for p in np.lexsort((-cols, rows)).tolist():
        c = int(cols[p])
        # Best chain ending in a column < c: prefix maximum over 1..c (tree positions are c + 1).
        value, arg, k = 0.0, -1, c
        while k > 0:
            if tree_val[k] > value:
                value, arg = tree_val[k], tree_arg[k]
            k -= k & -k
        best[p], prev[p] = value + float(weights[p]), arg
        k = c + 1
        while k <= size:
            if best[p] > tree_val[k]:
                tree_val[k], tree_arg[k] = best[p], p
            k += k & -k
    chain: list[int] = []
    p = int(np.argmax(best)) if best else -1
    while p >= 0:
        chain.append(p)
        p = prev[p]
    return chain[::-1]


def _anchors(src: np.ndarray, tgt: np.ndarray, background: float, top_k: int
             ) -> tuple[list[tuple[int, int]], int]:
    """1-1 anchors (source, target sentence): the best monotonic path through each source
    sentence's top-k targets within the band; and the band's half-width.

    As in Bertalign's first pass, a top-k hit scores its similarity (here above the
    background) and everything else, omissions included, scores 0, so the best path is the
    heaviest chain of hits increasing in both documents, found without a DP over the band.
    """
    n, m = src.shape[0], tgt.shape[0]
    half = max(MIN_BAND, math.ceil(BAND_FRACTION * max(n, m)))
    lo, hi = _band(n, m, half)
    idx, val = _top_in_band(src, tgt, lo, hi, top_k)
    gain = (val - background) / max(1.0 - background, MIN_SCALE)
    keep = (idx >= 0) & (gain > 0)
    rows = np.nonzero(keep)[0]
    cols, weights = idx[keep], gain[keep]
    chain = _heaviest_chain(rows, cols, weights)
    return [(int(rows[p]), int(cols[p])) for p in chain], half


def _windows(anchors: list[tuple[int, int]], n: int, m: int, window: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Second-pass rows: between consecutive anchors, the rectangle they span, widened by
    ``window`` target sentences on each side (Bertalign's search path).

    Row 0 belongs to the first rectangle, so target sentences without a source before the
    first anchor stay reachable.
    """
    points = [(0, 0), *((i + 1, j + 1) for i, j in anchors), (n, m)]
    lo = np.zeros(n + 1, dtype=np.int64)
    hi = np.zeros(n + 1, dtype=np.int64)
    for k, ((p_i, p_j), (q_i, q_j)) in enumerate(zip(points[:-1], points[1:])):
        rows = slice(0 if k == 0 else p_i + 1, q_i + 1)
        lo[rows] = max(0, p_j - window)
        hi[rows] = min(m, q_j + window)
    lo = np.minimum.accumulate(lo[::-1])[::-1]
    hi = np.maximum.accumulate(hi)
    hi[-1] = m
    return lo, hi


# -- the public entry points ----------------------------------------------------------------------
def _background(src: np.ndarray, tgt: np.ndarray) -> float:
    """Mean cosine of source x target sentence pairs that are not translations of each other.

    Small inputs (n m <= FULL_SEARCH_CELLS): the mean over the pairs that are not mutual
    nearest neighbours (the likely translations, which would raise it noticeably in a short
    document); over all pairs if none is left. Larger ones: the mean over all pairs, computed
    exactly as mean(src) . mean(tgt) without the matrix; translations are a negligible share.

    Args:
        src: Float32 (n, d) unit source sentence vectors.
        tgt: Float32 (m, d) unit target sentence vectors.

    Returns:
        The mean cosine.
    """
    n, m = src.shape[0], tgt.shape[0]
    if n * m > FULL_SEARCH_CELLS:
        return float(src.mean(0, dtype=np.float64) @ tgt.mean(0, dtype=np.float64))
    sims = src.astype(np.float64) @ tgt.T.astype(np.float64)
    mutual = (sims == sims.max(1, keepdims=True)) & (sims == sims.max(0, keepdims=True))
    rest = sims[~mutual]
    return float(rest.mean() if rest.size else sims.mean())


def _validate(max_merge: int, skip: float, window: int, top_k: int, threshold: float | None,
              length_weight: float, merge_penalty: float, neighbour_weight: float,
              search: str) -> None:
    bead_types(max_merge)
    _check_number("neighbour_weight", neighbour_weight, 0.0)
    if neighbour_weight > 1:
        raise ValueError(f"neighbour_weight must be at most 1, got {neighbour_weight!r}")
    _check_number("skip", skip)
    _check_number("window", window, 1, integer=True)
    _check_number("top_k", top_k, 1, integer=True)
    _check_number("threshold", threshold, optional=True)
    _check_number("length_weight", length_weight, 0.0)
    _check_number("merge_penalty", merge_penalty, 0.0)
    if search not in SEARCHES:
        raise ValueError(f"Unknown search: {search}. Must be one of: {', '.join(SEARCHES)}")


def _sentences(items: Sequence[str], side: str) -> list[str]:
    if isinstance(items, str):
        raise ValueError(f"{side} must be a list of sentences, not one string")
    out = list(items)
    if not out:
        raise ValueError(f"the {side} has no sentences")
    for k, s in enumerate(out):
        if not isinstance(s, str) or not s.strip():
            raise ValueError(f"{side} sentence {k} is empty or not text")
    return out


def align(
    src: Sequence[str],
    tgt: Sequence[str],
    embed: Embed,
    *,
    max_merge: int = DEFAULT_MAX_MERGE,
    src_paragraphs: Sequence[int] | None = None,
    tgt_paragraphs: Sequence[int] | None = None,
    threshold: float | None = DEFAULT_THRESHOLD,
    skip: float = DEFAULT_SKIP,
    length_weight: float = DEFAULT_LENGTH_WEIGHT,
    merge_penalty: float = DEFAULT_MERGE_PENALTY,
    neighbour_weight: float = DEFAULT_NEIGHBOUR_WEIGHT,
    window: int = DEFAULT_WINDOW,
    top_k: int = DEFAULT_TOP_K,
    search: str = "auto",
) -> Alignment:
    """Aligns a document with its translation, in order, with merges and omissions.

    Args:
        src: Source sentences (n), in document order.
        tgt: Target sentences (m).
        embed: Called once with every distinct concatenation of 1..max_merge consecutive
            sentences of either side (single sentences included); returns an array
            (len(texts), d) of vectors, e.g. ``lambda t: encoder.encode(t)``. Rows are
            L2-normalised here again.
        max_merge: Most sentences on one side of a bead (see ``bead_types``).
        src_paragraphs: Paragraph number of each source sentence (non-decreasing); no bead
            groups sentences of two paragraphs. None: one paragraph.
        tgt_paragraphs: Likewise for the target.
        threshold: Links scoring below it are flagged ``low_confidence``; None: none.
        skip: Score of an omission (1-0 or 0-1), on the scale of the bead scores.
        length_weight: Weight of the length-ratio term.
        merge_penalty: Subtracted per sentence beyond 1-1, so that a merge must earn its place.
        neighbour_weight: 1: margin against the neighbouring sentences only (Bertalign);
            0: against the documents' mean similarity only (Vecalign); in between, a mix.
        window: Second-pass half-width, in target sentences, around the anchor rectangles.
        top_k: Targets per source sentence the first pass considers.
        search: ``"full"`` (exact; n x m cells, ~5 bytes each), ``"windowed"`` (two passes)
            or ``"auto"`` (full up to ``FULL_SEARCH_CELLS`` cells, else windowed).

    Returns:
        An Alignment whose links cover every sentence of both sides once.
    """
    _validate(max_merge, skip, window, top_k, threshold, length_weight, merge_penalty,
              neighbour_weight, search)
    src_list, tgt_list = _sentences(src, "source"), _sentences(tgt, "target")
    n, m = len(src_list), len(tgt_list)
    src_par = _paragraph_ids(src_paragraphs, n, "src")
    tgt_par = _paragraph_ids(tgt_paragraphs, m, "tgt")
    src_valid, tgt_valid = _run_validity(src_par, max_merge), _run_validity(tgt_par, max_merge)
    src_runs, tgt_runs = _embed_runs(embed, _run_texts(src_list, src_valid),
                                     _run_texts(tgt_list, tgt_valid), (max_merge, n, m))
    src_side = _Side.build(src_runs, src_valid, _run_lengths(src_list, max_merge))
    tgt_side = _Side.build(tgt_runs, tgt_valid, _run_lengths(tgt_list, max_merge))
    background = _background(src_side.singles, tgt_side.singles)
    char_ratio = float(src_side.lengths[0].sum() / max(tgt_side.lengths[0].sum(), 1.0))
    types = bead_types(max_merge)
    scorer = _Scorer(src_side, tgt_side, types, background, char_ratio, length_weight,
                     merge_penalty, neighbour_weight)
    used, lo, hi, anchors, notes = _search_area(search, src_side.singles, tgt_side.singles,
                                                background, top_k, max(window, max_merge))
    beads = _dp(lo, hi, types, _RowBlocks(scorer, lo, hi), skip)
    links = [Link(tuple(range(i - a, i)), tuple(range(j - b, j)), score,
                  scorer.cosine(a, i, b, j)) if a and b else
             Link(tuple(range(i - a, i)), tuple(range(j - b, j)))
             for a, b, i, j, score in beads]
    links = _order_omissions(links)
    cells = int((hi - lo + 1).sum())
    logger.debug("aligned %d x %d sentences: %s search, %d anchors, %d cells, %d links",
                 n, m, used, len(anchors), cells, len(links))
    return Alignment(
        links=_flag(links, threshold), n_src=n, n_tgt=m, src_vectors=src_side.singles.copy(),
        tgt_vectors=tgt_side.singles.copy(), threshold=threshold, max_merge=max_merge,
        background=background, search=used, anchors=len(anchors), cells=cells, notes=notes,
        src_lengths=src_side.lengths[0, 1:].copy(), tgt_lengths=tgt_side.lengths[0, 1:].copy(),
        scoring={"skip": skip, "length_weight": length_weight, "merge_penalty": merge_penalty,
                 "neighbour_weight": neighbour_weight},
    )


def _search_area(search: str, src: np.ndarray, tgt: np.ndarray, background: float,
                 top_k: int, window: int):
    """Where the DP looks: every cell ("full", when asked for or small enough under "auto"),
    or windows around 1-1 anchors ("windowed"). Returns the search used, each source row's
    lowest and highest target (lo, hi), the anchors and notes on the anchors' drift."""
    n, m = len(src), len(tgt)
    if search == "full" or (search == "auto" and n * m <= FULL_SEARCH_CELLS):
        return ("full", np.zeros(n + 1, dtype=np.int64), np.full(n + 1, m, dtype=np.int64),
                [], [])
    anchors, half = _anchors(src, tgt, background, top_k)
    lo, hi = _windows(anchors, n, m, window)
    return "windowed", lo, hi, anchors, _drift_notes(anchors, n, m, half)


def _order_omissions(links: list[Link]) -> list[Link]:
    """Within each run of consecutive omissions, source ones (1-0) first: the DP may put them
    in any order at equal score, and users and tests should see one."""
    out: list[Link] = []
    run: list[Link] = []
    for link in [*links, None]:
        if link is not None and link.is_omission:
            run.append(link)
            continue
        out += sorted(run, key=lambda x: (not x.src, x.src, x.tgt))
        run = []
        if link is not None:
            out.append(link)
    return out


def _drift_notes(anchors: list[tuple[int, int]], n: int, m: int, half: int) -> list[str]:
    """A note when the anchor path runs along the edge of the first-pass band, where the
    true path may lie outside it."""
    if not anchors or half >= max(n, m):
        return []
    arr = np.array(anchors, dtype=np.float64)
    drift = np.abs(arr[:, 1] + 1 - np.round((arr[:, 0] + 1) * m / n))
    if drift.max() < half - 2:
        return []
    return [f"The translation drifts up to {int(drift.max())} sentences from the diagonal, "
            f"the edge of the first-pass search band ({half}); parts of the alignment may be "
            f"missed there (large omissions or added text)."]


# -- evaluation -----------------------------------------------------------------------------------
def _as_links(items: Iterable[Any], what: str) -> set[tuple[tuple[int, ...], tuple[int, ...]]]:
    """Unique (src, tgt) index tuples; an omission of several sentences becomes one per
    sentence (the grouping of omitted sentences carries no meaning)."""
    out: set[tuple[tuple[int, ...], tuple[int, ...]]] = set()
    for item in items:
        try:
            s, t = (item.src, item.tgt) if isinstance(item, Link) else item
            s = tuple(int(x) for x in s)
            t = tuple(int(x) for x in t)
        except (TypeError, ValueError):
            raise ValueError(f"{what} must be (source indices, target indices) pairs, "
                             f"got {item!r}") from None
        if s and t:
            out.add((s, t))
        else:
            out.update(((x,), ()) for x in s)
            out.update(((), (y,)) for y in t)
    return out


def _hits(test: set, gold: set) -> tuple[int, int]:
    """(strict, lax) number of ``test`` links that match ``gold``.

    Strict: the link is a gold link. Lax: or one of its source sentences is in a gold link
    that also holds one of its target sentences.
    """
    gold_targets: dict[int, set[int]] = {}
    for g_src, g_tgt in gold:
        for s in g_src:
            gold_targets.setdefault(s, set()).update(g_tgt)
    strict = lax = 0
    for t_src, t_tgt in test:
        if (t_src, t_tgt) in gold:
            strict += 1
            lax += 1
        elif any(set(t_tgt) & gold_targets.get(s, set()) for s in t_src):
            lax += 1
    return strict, lax


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def evaluate(links: Alignment | Iterable[Any], gold: Iterable[Any]) -> LinkEvaluation:
    """Strict and lax precision/recall/F1 of predicted links against gold links.

    As Vecalign's and Bertalign's ``score`` scripts count them: precision is over all predicted
    links, omissions included (a predicted omission is right only when it is a gold
    omission); recall is over the gold links with sentences on both sides, matched against the
    predicted links with sentences on both sides. Lax matching accepts a link that shares a
    source and a target sentence with one link of the other set. Ratios with nothing to count
    are 0.

    Args:
        links: An Alignment, Link objects or (source indices, target indices) pairs.
        gold: Gold links in the same forms.

    Returns:
        A LinkEvaluation.
    """
    test = _as_links(links.links if isinstance(links, Alignment) else links, "links")
    gold_set = _as_links(gold, "gold")
    p_strict, p_lax = _hits(test, gold_set)
    test_both = {x for x in test if x[0] and x[1]}
    gold_both = {x for x in gold_set if x[0] and x[1]}
    r_strict, r_lax = _hits(gold_both, test_both)
    precision = (p_strict / len(test), p_lax / len(test)) if test else (0.0, 0.0)
    recall = (r_strict / len(gold_both), r_lax / len(gold_both)) if gold_both else (0.0, 0.0)
    return LinkEvaluation(
        precision_strict=precision[0], recall_strict=recall[0],
        f1_strict=_f1(precision[0], recall[0]),
        precision_lax=precision[1], recall_lax=recall[1], f1_lax=_f1(precision[1], recall[1]),
        n_gold=len(gold_set), n_pred=len(test),
    )


# -- the similarity picture -----------------------------------------------------------------------
def _edges(n: int, max_side: int) -> np.ndarray:
    blocks = min(n, max_side)
    return np.round(np.linspace(0, n, blocks + 1)).astype(np.int64)


def _block_means(vectors: np.ndarray, edges: np.ndarray) -> np.ndarray:
    sums = np.add.reduceat(vectors.astype(np.float64), edges[:-1], axis=0)
    return sums / np.diff(edges)[:, None]


def similarity_grid(src_vectors: Any, tgt_vectors: Any, max_side: int = 300) -> SimilarityGrid:
    """Source x target cosine similarity for a heatmap, averaged over blocks when large.

    The mean cosine between two blocks equals the dot product of their mean vectors, so a
    block average costs (r + c) x d plus an r x c product: the n x m matrix is never built.

    Args:
        src_vectors: L2-normalised source sentence vectors (n, d) (``Alignment.src_vectors``).
        tgt_vectors: L2-normalised target sentence vectors (m, d).
        max_side: Most blocks per side; sides up to this size are shown one sentence per cell.

    Returns:
        A SimilarityGrid of at most max_side x max_side cells.
    """
    _check_number("max_side", max_side, 1, integer=True)
    src = as_matrix(src_vectors, "source vectors")
    tgt = as_matrix(tgt_vectors, "target vectors")
    if src.shape[0] == 0 or tgt.shape[0] == 0:
        raise ValueError("similarity_grid needs at least one sentence on each side")
    if src.shape[1] != tgt.shape[1]:
        raise ValueError(f"dimension mismatch: source {src.shape[1]}, target {tgt.shape[1]}")
    se, te = _edges(src.shape[0], max_side), _edges(tgt.shape[0], max_side)
    values = (_block_means(src, se) @ _block_means(tgt, te).T).astype(np.float32)
    return SimilarityGrid(values, se, te)
