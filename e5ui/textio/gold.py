"""Gold files, the one reader for both kinds: align's links (``read_links``: sentence indices,
comma-joined for a merge) and bitext's pairs (``read_gold``: one 0-based line number a side).

A gold file is a table read exactly as inputs are (``decode``'s decoding and line rule,
``records``' RFC 4180 quoting), so a file e5ui wrote reads back the same: each index is checked
against the documents, a file holds at most as many links as the documents have sentences, and
every error names the file's line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from e5ui.textio.corpus import Corpus
from e5ui.textio.decode import MAX_INPUT_BYTES, _checked_path, _decoded, _split_lines, _tidy
from e5ui.textio.records import _records

# Column names of a gold file's header: the align view's export, and the bitext view's.
GOLD_HEADERS = (("src_indices", "tgt_indices"), ("src_index", "tgt_index"))
# A cell longer than this cannot be the indices of one link (150 and more indices).
MAX_GOLD_CELL = 1000
# A first row of such cells is a link, not a header (the parser then says what is wrong).
_INDEX_CELL = re.compile(r"[0-9,\s-]*")

GoldLink = tuple[tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True)
class _GoldSide:
    """What one side's gold indices may point at: ``valid`` (a range of sentence indices, or
    the line numbers holding a sentence) and the message for an index outside it."""

    name: str
    valid: range | frozenset[int]
    outside: Callable[[int], str]


def _sentences(name: str, n: int) -> _GoldSide:
    return _GoldSide(name, range(n), lambda i: (
        f"{name} sentence {i} is out of range: the {name} has {n} sentence(s), numbered from 0"
        + (f" to {n - 1}" if n else "")))


def _lines(name: str, corpus: Corpus) -> _GoldSide:
    return _GoldSide(name, frozenset(corpus.rows), lambda i: (
        f"{name} index {i} points at a line without a sentence: the {name} list has "
        f"{len(corpus)} sentence(s) (gold pairs use 0-based line numbers, blank lines counted)"))


def _shown(cell: str) -> str:
    """A cell for a message: quoted, and cut when long (an error never echoes a whole file)."""
    return repr(cell if len(cell) <= 40 else cell[:40] + "…")


def _gold_columns(cells: list[str], name: str, kind: str) -> tuple[int, int] | None:
    """The two columns a header row names, or None when the row is no header."""
    names = [c.lower() for c in cells]
    for src, tgt in GOLD_HEADERS:
        if src in names and tgt in names:
            return names.index(src), names.index(tgt)
    if not all(_INDEX_CELL.fullmatch(c) for c in cells[:2]):
        found = ", ".join(_shown(c) for c in cells[:8]) or "nothing"
        raise ValueError(f"{name}: gold {kind}s need 'src_indices' and 'tgt_indices' columns "
                         "(or 'src_index' and 'tgt_index'; or two columns of indices without a "
                         f"header); found: {found}")
    return None


def _read_gold(path: str | Path, source: _GoldSide | None, target: _GoldSide | None, *,
               single: bool, max_links: int | None, bound: str,
               max_bytes: int | None) -> list[GoldLink]:
    """The one gold reader (``read_links``, ``read_gold``): read as inputs are (``_records``:
    the same decoding, line rule and RFC 4180 quoting), every index range-checked, at most
    ``max_links`` links (``bound`` says why), errors naming the file's line."""
    from e5ui.analysis.alignment import parse_group

    path = _checked_path(path, max_bytes)
    name, kind = path.name, "pair" if single else "link"
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    links: list[GoldLink] = []
    columns: tuple[int, int] | None = None
    blank = 0

    def group(cell: str, side: _GoldSide | None, where: str) -> tuple[int, ...]:
        if len(cell) > MAX_GOLD_CELL:
            raise ValueError(f"{where}: a cell of {len(cell):,} characters cannot be the "
                             f"indices of one {kind} ({_shown(cell)})")
        try:
            indices = parse_group(cell)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if single and len(indices) > 1:
            raise ValueError(f"{where}: {_shown(cell)} is not one 0-based line number")
        for i in indices:
            if side is not None and i not in side.valid:
                raise ValueError(f"{where}: {side.outside(i)}")
        return indices

    with _decoded(path, max_bytes) as decoder:
        for cells, first, _last in _records(_split_lines(decoder), delimiter):
            where = f"{name} line {first + 1}"
            cells = [_tidy(c)[0] for c in cells]
            if not any(cells):
                blank += 1
                if max_links is not None and blank > max_links:
                    raise ValueError(f"{name} holds more than {max_links:,} blank lines; a gold "
                                     f"file has one {kind} per line ({bound})")
                continue
            if columns is None:
                columns = _gold_columns(cells, name, kind)
                if columns is not None:
                    continue
                columns = (0, 1)
            if max_links is not None and len(links) >= max_links:
                raise ValueError(f"{name} has more than {max_links:,} {kind}s (at line "
                                 f"{first + 1}): {bound}")
            i, j = columns
            cells += [""] * (max(i, j) + 1 - len(cells))
            src, tgt = group(cells[i], source, where), group(cells[j], target, where)
            if single and not (src and tgt):
                raise ValueError(f"{where}: a gold pair needs a line number on both sides")
            if not src and not tgt:
                raise ValueError(f"{where}: a link needs a sentence on one side")
            links.append((src, tgt))
    if not links:
        raise ValueError(f"{name} holds no gold {kind}s")
    return links


def read_links(path: str | Path, *, n_src: int | None = None, n_tgt: int | None = None,
               max_bytes: int | None = MAX_INPUT_BYTES) -> list[GoldLink]:
    """Reads gold links of a document alignment: a TSV/CSV with ``src_indices`` and
    ``tgt_indices`` columns (0-based sentence indices, comma-joined for a merge, empty on the
    side an omission lacks), as the align view writes them (or two such columns without a
    header). Read as inputs are (decoding, lines, quoting); every error names the line.

    Args:
        path: the file.
        n_src, n_tgt: the documents' sentence counts: an index must be below its side's, and
            the file may hold at most ``n_src + n_tgt`` links (each takes a sentence, so no
            alignment has more); None for unchecked.
        max_bytes: the most bytes read; None for no limit.

    Returns:
        (source indices, target indices) per link.
    """
    both = n_src is not None and n_tgt is not None
    return _read_gold(
        path, None if n_src is None else _sentences("source", n_src),
        None if n_tgt is None else _sentences("target", n_tgt), single=False,
        max_links=n_src + n_tgt if both else None,
        bound=(f"the {n_src} source and {n_tgt} target sentences can form at most "
               f"{n_src + n_tgt if both else 0} links"), max_bytes=max_bytes)


def read_gold(path: str | Path, *, source: Corpus | None = None, target: Corpus | None = None,
              max_bytes: int | None = MAX_INPUT_BYTES) -> list[tuple[int, int]]:
    """Reads gold pairs: a TSV/CSV with ``src_index`` and ``tgt_index`` columns (0-based line
    numbers into SOURCE and TARGET), or two integer columns without a header; read as
    ``read_links`` reads links (one reader), one line number a side.

    Args:
        path: the gold file.
        source, target: the sentence lists the pairs point into: each line number must hold a
            sentence, and the file may hold at most as many pairs as both lists have
            sentences; None for unchecked.
        max_bytes: the most bytes read; None for no limit.

    Returns:
        The pairs.
    """
    both = source is not None and target is not None
    total = len(source) + len(target) if both else 0
    links = _read_gold(
        path, None if source is None else _lines("source", source),
        None if target is None else _lines("target", target), single=True,
        max_links=total if both else None,
        bound=f"a gold file lists at most as many pairs as the two lists have sentences "
              f"({total})", max_bytes=max_bytes)
    return [(src[0], tgt[0]) for src, tgt in links]
