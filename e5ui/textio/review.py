"""A saved alignment review read back: the align view's TSV/CSV export (one row per link, with
its ``status``), checked against the two documents it was made from.

Read as inputs and gold files are (``decode``'s decoding and line rule, ``records``' RFC 4180
quoting), so a file e5ui wrote reads back the same. A review that does not fit the documents is
refused with the 1-based line of the file that does not fit: an index out of range, a text that
is not the documents' sentence(s) at those indices (a changed text, or other documents), a
type that does not count the indices, an unknown status, a sentence used twice, a row out of
document order, or a sentence of the documents in no row (a different sentence count).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from e5ui.analysis.alignment import STATUSES, Link, format_group, join_texts, parse_group
from e5ui.textio.decode import MAX_INPUT_BYTES, _checked_path, _decoded, _split_lines, _tidy
from e5ui.textio.records import _records
from e5ui.textio.tables import neutralise

# The columns a review must have; ``score`` may be empty (an omission, or a merge edited
# without its vector), ``doubt_rank`` is recomputed and may be absent.
REVIEW_COLUMNS = ("src_indices", "tgt_indices", "score", "type", "source", "target", "status")


def _shown(cell: str) -> str:
    return repr(cell if len(cell) <= 60 else cell[:60] + "…")


def review_rows(path: Path, required: tuple[str, ...], optional: tuple[str, ...], what: str,
                export: str, max_bytes: int | None
                ) -> Iterator[tuple[str, int, dict[str, str]]]:
    """The data rows of a review table (``path``: a checked .tsv or .csv), each as (where,
    for messages: "review.tsv line 7"; its 0-based first line; its cells by column name,
    "" where a row is short). Blank rows are skipped. Both reviews read their files through
    this, so they decode, quote and name lines alike.

    Args:
        path: the file.
        required: the columns the header must have.
        optional: further columns read when present.
        what: the kind of review, for messages ("review", "bitext review").
        export: what writes such a file, for messages ("the align view's export").
        max_bytes: the most bytes read; None for no limit.

    Raises:
        ValueError: a header without a required column, or a file with no header row.
    """
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    columns: dict[str, int] | None = None
    with _decoded(path, max_bytes) as decoder:
        for cells, first, _last in _records(_split_lines(decoder), delimiter):
            where = f"{path.name} line {first + 1}"
            cells = [_tidy(c)[0] for c in cells]
            if not any(cells):
                continue
            if columns is None:
                names = [c.lower() for c in cells]
                missing = [c for c in required if c not in names]
                if missing:
                    raise ValueError(f"{where}: a {what} needs the columns "
                                     f"{', '.join(required)} ({export}); missing: "
                                     f"{', '.join(missing)}")
                columns = {c: names.index(c) for c in (*required, *optional) if c in names}
                continue
            cells += [""] * (max(columns.values()) + 1 - len(cells))
            yield where, first, {c: cells[k] for c, k in columns.items()}
    if columns is None:
        raise ValueError(f"{path.name} holds no {what} (no header row)")


def read_review(path: str | Path, source: list[str], target: list[str], *,
                max_bytes: int | None = MAX_INPUT_BYTES) -> list[Link]:
    """Reads a review file of an alignment of ``source`` with ``target``.

    Args:
        path: The .tsv or .csv file the align view wrote (columns ``REVIEW_COLUMNS``, others
            such as ``doubt_rank`` ignored).
        source: The source document's sentences.
        target: The target document's sentences.
        max_bytes: The most bytes read; None for no limit.

    Returns:
        The links in the file's (document) order, with their scores (NaN where empty) and
        statuses; ValueError naming the file's line for anything that does not fit.
    """
    path = _checked_path(path, max_bytes)
    name = path.name
    docs = {"source": source, "target": target}
    links: list[Link] = []
    lines: list[int] = []
    owner: dict[tuple[str, int], int] = {}
    for where, first, cell in review_rows(path, REVIEW_COLUMNS, (), "review",
                                          "the align view's export", max_bytes):
        if len(links) >= len(source) + len(target):
            raise ValueError(f"{where}: more rows than the {len(source)} source and "
                             f"{len(target)} target sentences can form links")
        groups = {}
        for side, column in (("source", "src_indices"), ("target", "tgt_indices")):
            try:
                group = parse_group(cell[column])
            except ValueError as exc:
                raise ValueError(f"{where}: {exc}") from None
            doc = docs[side]
            for i in group:
                if i >= len(doc):
                    raise ValueError(f"{where}: {side} sentence {i} is out of range: the "
                                     f"{side} has {len(doc)} sentence(s), numbered from 0")
                if (side, i) in owner:
                    raise ValueError(f"{where}: {side} sentence {i} is used twice (line "
                                     f"{owner[side, i]} holds it too)")
                owner[side, i] = first + 1
            if any(b != a + 1 for a, b in zip(group, group[1:])):
                raise ValueError(f"{where}: {side} sentences {format_group(group)} are not "
                                 "consecutive ascending")
            expected = join_texts([doc[i] for i in group]) if group else ""
            if cell[side] not in (expected, neutralise(expected)):
                what = (f"{side} sentence(s) {format_group(group)}" if group
                        else f"no {side} sentence")
                raise ValueError(f"{where}: the {side} text {_shown(cell[side])} is not "
                                 f"the document's {what} ({_shown(expected)}): the "
                                 "review was made from other documents, or a text changed")
            groups[side] = group
        src, tgt = groups["source"], groups["target"]
        if not src and not tgt:
            raise ValueError(f"{where}: a link needs a sentence on one side")
        if (not src or not tgt) and len(src) + len(tgt) != 1:
            raise ValueError(f"{where}: a sentence without a partner is a row of its own")
        if cell["type"] != f"{len(src)}-{len(tgt)}":
            raise ValueError(f"{where}: type {_shown(cell['type'])} does not match "
                             f"{len(src)} source and {len(tgt)} target sentence(s)")
        if cell["status"] not in STATUSES:
            raise ValueError(f"{where}: unknown status {_shown(cell['status'])}. Must be "
                             f"one of: {', '.join(STATUSES)}")
        score = float("nan")
        if cell["score"]:
            try:
                score = float(cell["score"])
            except ValueError:
                raise ValueError(f"{where}: score {_shown(cell['score'])} is not a "
                                 "number") from None
        links.append(Link(src, tgt, score, status=cell["status"]))
        lines.append(first + 1)
    for side, doc in docs.items():
        missing = [i for i in range(len(doc)) if (side, i) not in owner]
        if missing:
            raise ValueError(f"{name}: {side} sentence(s) {format_group(missing[:10])} are in "
                             f"no row: the review has {len(doc) - len(missing)} of the "
                             f"{side}'s {len(doc)} sentences (a different document?)")
    _check_order(links, lines, name)
    return links


def _check_order(links: list[Link], lines: list[int], name: str) -> None:
    """Rows in document order: each starts where the sentences before it ended on its side."""
    next_src = next_tgt = 0
    pairs_src = pairs_tgt = -1
    for link, line in zip(links, lines):
        if link.src and link.tgt and (link.src[0] < pairs_src or link.tgt[0] < pairs_tgt):
            raise ValueError(f"{name} line {line}: this link crosses an earlier one (links "
                             "must keep the documents' order)")
        if link.src:
            if link.src[0] < next_src:
                raise ValueError(f"{name} line {line}: source sentence {link.src[0]} comes "
                                 "after a later one: rows must be in document order")
            next_src = link.src[-1] + 1
        if link.tgt:
            if link.tgt[0] < next_tgt:
                raise ValueError(f"{name} line {line}: target sentence {link.tgt[0]} comes "
                                 "after a later one: rows must be in document order")
            next_tgt = link.tgt[-1] + 1
        if link.src and link.tgt:
            pairs_src, pairs_tgt = link.src[0], link.tgt[0]
