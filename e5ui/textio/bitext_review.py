"""A saved bitext review read back: the bitext view's TSV/CSV export (one row per pair, with its
``status``), checked against the two sentence lists it was made from.

Read as ``review`` reads an alignment review (``decode``'s decoding and line rule, ``records``'
RFC 4180 quoting), so a file e5ui wrote reads back the same. A review that does not fit the
lists is refused with the 1-based line of the file that does not fit: a line number that holds
no sentence of its list, a text that is not the list's sentence there (a changed text, or other
lists), an unknown status, a sentence in two rows (a target only when the matching is
one-to-one).
"""

from __future__ import annotations

import math
from pathlib import Path

from e5ui.analysis.bitext import STATUSES, Pair
from e5ui.textio.corpus import Corpus
from e5ui.textio.decode import MAX_INPUT_BYTES, _checked_path
from e5ui.textio.review import _shown, review_rows
from e5ui.textio.tables import neutralise

# The columns a bitext review must have; score and cosine are recomputed from the vectors, and
# a file without ``status`` (an export from before reviews) reads as all ``auto``.
BITEXT_REVIEW_COLUMNS = ("src_index", "tgt_index", "source", "target")



def read_bitext_review(path: str | Path, source: Corpus, target: Corpus, *,
                       one_to_one: bool = True,
                       max_bytes: int | None = MAX_INPUT_BYTES) -> list[Pair]:
    """Reads a review of the pairs mined from ``source`` and ``target``.

    Args:
        path: The .tsv or .csv file the bitext view wrote (columns ``BITEXT_REVIEW_COLUMNS``
            and ``status``; others such as ``score`` ignored). ``src_index``/``tgt_index`` are
            the 0-based line numbers the export writes (``Corpus.rows``).
        source: The source list as read.
        target: The target list as read.
        one_to_one: Refuse a target in two rows.
        max_bytes: The most bytes read; None for no limit.

    Returns:
        The pairs as indices into ``source.texts``/``target.texts`` with their statuses,
        score and cosine NaN (the caller rescores them), in the file's order; ValueError
        naming the file's line for anything that does not fit.
    """
    path = _checked_path(path, max_bytes)
    sides = {"source": (source, {r: i for i, r in enumerate(source.rows)}),
             "target": (target, {r: i for i, r in enumerate(target.rows)})}
    pairs: list[Pair] = []
    owner: dict[tuple[str, int], int] = {}
    for where, first, cell in review_rows(path, BITEXT_REVIEW_COLUMNS, ("status",),
                                          "bitext review", "the bitext view's export",
                                          max_bytes):
        if len(pairs) >= len(source):
            raise ValueError(f"{where}: more rows than the {len(source)} source "
                             "sentences can form pairs")
        found = {}
        for side, column in (("source", "src_index"), ("target", "tgt_index")):
            corpus, index_of = sides[side]
            raw = cell[column].strip()
            try:
                row = int(raw)
            except ValueError:
                raise ValueError(f"{where}: {column} {_shown(raw)} is not a whole "
                                 "number") from None
            if row not in index_of:
                last = corpus.rows[-1] if corpus.rows else None
                raise ValueError(f"{where}: {side} line {row} holds no sentence of the "
                                 f"{side} list ({len(corpus)} sentence(s)"
                                 + (f", lines 0 to {last}" if last is not None else "")
                                 + "; 0-based line numbers)")
            i = index_of[row]
            text = corpus.texts[i]
            if cell[side] not in (text, neutralise(text)):
                raise ValueError(f"{where}: the {side} text {_shown(cell[side])} is not "
                                 f"the {side} list's sentence at line {row} "
                                 f"({_shown(text)}): the review was made from other "
                                 "lists, or a text changed")
            if (side, i) in owner and (side == "source" or one_to_one):
                raise ValueError(f"{where}: {side} line {row} is in two pairs (line "
                                 f"{owner[side, i]} holds it too)")
            owner.setdefault((side, i), first + 1)
            found[side] = i
        status = cell.get("status", "auto") or "auto"
        if status not in STATUSES:
            raise ValueError(f"{where}: unknown status {_shown(status)}. Must be one of: "
                             f"{', '.join(STATUSES)}")
        pairs.append(Pair(found["source"], found["target"], math.nan, math.nan, status))
    return pairs
