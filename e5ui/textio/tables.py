"""The one CSV/TSV writer: every table e5ui exports goes through here (``write_rows``; the
labelled similarity matrix, ``write_matrix``; the Embedding Projector's unquoted
``metadata.tsv``, ``write_unquoted_tsv``).

Cells: text that starts with ``=``, ``+``, ``-``, ``@``, a tab, ``\\r`` or ``\\n`` gets a leading
``'`` (OWASP's advice against formula injection); numbers stay numbers (floats with 6
decimals, None and NaN empty); a cell holding the delimiter, a quote, ``\\r`` or ``\\n`` is
quoted as RFC 4180 says. Written by hand rather than with csv.writer, which leaves a bare
``\\r`` unquoted (a row would then read back as two) and would format a 20k x 20k matrix one
Python call per value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from e5ui.textio.corpus import Corpus
from e5ui.textio.decode import _SURROGATE


def _suffix(path: Path, allowed: tuple[str, ...]) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ValueError(
            f"Cannot write {path.name}: the file type must be one of {', '.join(allowed)}"
        )
    return suffix


# Cells of the similarity matrix formatted at once (~60 MB of numpy work), so a CLI export of
# 20k x 20k texts streams instead of building 4 GB of text.
MATRIX_BLOCK_CELLS = 2**20
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP, "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")
# A cell that is just a decimal number cannot be a formula; leaving it alone keeps ids like
# "-1" intact.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(text: str) -> str:
    """A text cell that a spreadsheet shows rather than runs: a leading ``'`` when it starts
    with ``=``, ``+``, ``-``, ``@``, a tab, ``\\r`` or ``\\n`` (unless it is a plain number).

    Args:
        text: the cell's text.

    Returns:
        The text, prefixed with ``'`` where needed; strip that one ``'`` to get it back.
    """
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _cell(value: Any) -> str:
    """One exported cell: floats with 6 decimals (NaN and None empty), ints as they are, text
    neutralised against formulas (and a lone surrogate, which UTF-8 cannot hold, as U+FFFD)."""
    if value is None:
        return ""
    if isinstance(value, str):
        if not value.isascii():
            value = _SURROGATE.sub("\ufffd", value)
        return neutralise(value)
    if isinstance(value, (float, np.floating)):
        return "" if value != value else f"{value:.6f}"
    if isinstance(value, (int, np.integer)):
        return str(value)
    return neutralise(str(value))


def _quoter(delimiter: str) -> Callable[[str], str]:
    """RFC 4180 quoting: a cell holding the delimiter, a quote, "\\r" or "\\n" is enclosed in
    quotes with its quotes doubled (csv.writer leaves a bare "\\r" unquoted: a row would then
    read back as two)."""
    special = re.compile(f'[{re.escape(delimiter)}"\r\n]')

    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"' if special.search(cell) else cell

    return quote


def _line(cells: list[str], delimiter: str, quote: Callable[[str], str]) -> str:
    if len(cells) == 1 and not cells[0]:
        return '""\n'  # a lone empty cell, so the row does not read back as a blank line
    return delimiter.join(map(quote, cells)) + "\n"


def write_rows(path: str | Path, header: list[str], rows: Iterable[list]) -> Path:
    """Writes a table as CSV or TSV by the file's suffix. Every table e5ui exports goes through
    here: floats with 6 decimals, None and NaN as empty cells, text cells neutralised against
    spreadsheet formulas (``neutralise``), quoting as RFC 4180.

    Args:
        path: the .csv or .tsv file.
        header: the column names.
        rows: the rows (ints, floats, strings, None).

    Returns:
        The path.
    """
    path = Path(path)
    delimiter = "\t" if _suffix(path, (".csv", ".tsv")) == ".tsv" else ","
    quote = _quoter(delimiter)
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(_line([_cell(v) for v in header], delimiter, quote))
        f.writelines(_line([_cell(v) for v in row], delimiter, quote) for row in rows)
    return path


def input_text(corpus: Corpus, positions: Iterable[int]) -> str:
    """Some texts of a corpus as text for an input box of e5ui: one text per line, or a TSV
    with a header when the corpus has ``lang``, ``label`` or ``id`` columns (they come along)
    or a text would not read back as one line (a line break in it, or a first line that reads
    as a header; an empty ``label`` column then makes it a table). Quoted as RFC 4180 where a
    cell needs it, and not neutralised: this goes back into e5ui, not into a spreadsheet.

    Args:
        corpus: the texts and their columns.
        positions: which texts, by position in the corpus, in this order.

    Returns:
        The text, which ``parse_pasted`` reads back into the same texts and columns.
    """
    positions = list(positions)
    texts = [corpus.texts[i] for i in positions]
    columns = [(name, values) for name, values in (("lang", corpus.langs),
                                                   ("label", corpus.labels),
                                                   ("id", corpus.ids)) if values is not None]
    if not columns:
        if not any("\n" in t or "\r" in t for t in texts) and not (
                texts and "\t" in texts[0]
                and "text" in (c.strip().lower() for c in texts[0].split("\t"))):
            return "\n".join(texts)
        columns = [("label", [""] * len(corpus.texts))]
    columns.insert(0, ("text", corpus.texts))
    quote = _quoter("\t")
    lines = [_line([name for name, _ in columns], "\t", quote)]
    lines += [_line([values[i] for _, values in columns], "\t", quote) for i in positions]
    return "".join(lines).rstrip("\n")


def write_matrix(path: str | Path, matrix: np.ndarray, labels: list[str]) -> Path:
    """Writes a square similarity matrix as CSV/TSV with the labels as header row and column.

    Args:
        path: the .csv or .tsv file.
        matrix: (n, n) values, written as "%.6f" writes them.
        labels: n labels (cells as in ``write_rows``).

    Returns:
        The path.
    """
    path = Path(path)
    delimiter = "\t" if _suffix(path, (".csv", ".tsv")) == ".tsv" else ","
    matrix = np.asarray(matrix)
    n = len(labels)
    if matrix.shape != (n, n):
        raise ValueError(f"matrix {matrix.shape} does not fit {n} labels")
    quote = _quoter(delimiter)
    sep = delimiter.encode()
    step = max(1, MATRIX_BLOCK_CELLS // max(n, 1))
    with path.open("wb") as f:
        f.write(_line(["", *(_cell(label) for label in labels)], delimiter, quote).encode())
        for lo in range(0, n, step):
            block = matrix[lo:lo + step]
            rows = _fixed6_rows(block, sep) or _percent_rows(block, delimiter)
            f.writelines(quote(_cell(label)).encode() + sep + row
                         for label, row in zip(labels[lo:lo + step], rows))
    return path


def _percent_rows(block: np.ndarray, delimiter: str) -> list[bytes]:
    """Rows of values as "%.6f" writes them (one %-format per row: its n values in C)."""
    fmt = delimiter.join(["%.6f"] * block.shape[1]) + "\n"
    return [(fmt % tuple(row.tolist())).encode() for row in block]


def _fixed6_rows(block: np.ndarray, sep: bytes) -> list[bytes] | None:
    """Rows of float32 values byte for byte as "%.6f" writes them, built by numpy without a
    Python call per value; None (use ``_percent_rows``) for other dtypes, values that are not
    finite, or values of 10 and more."""
    if block.dtype != np.float32 or not np.isfinite(block).all():
        return None
    # float32 has 24 significant bits and 1e6 needs 14, so |x| * 1e6 is exact in float64 and
    # rint (half to even) rounds it exactly as Python's correctly rounded "%.6f" does.
    k = np.rint(np.abs(block.astype(np.float64)) * 1e6).astype(np.int64)
    if k.size and int(k.max()) >= 10**7:
        return None
    rows, cols = block.shape
    cells = np.empty((rows, cols, 10), np.uint8)  # [sign] digit "." 6 digits, delimiter
    cells[..., 0] = np.where(np.signbit(block), ord("-"), 0)  # "%.6f" keeps -0.0's sign
    cells[..., 1] = ord("0") + k // 10**6
    cells[..., 2] = ord(".")
    frac = k % 10**6
    for slot in range(8, 2, -1):
        cells[..., slot] = ord("0") + frac % 10
        frac //= 10
    cells[..., 9] = sep[0]
    cells[:, -1, 9] = ord("\n")
    keep = np.ones(cells.shape, bool)
    keep[..., 0] = cells[..., 0] != 0
    flat, keep = cells.reshape(rows, -1), keep.reshape(rows, -1)
    return [flat[i][keep[i]].tobytes() for i in range(rows)]



def write_unquoted_tsv(path: str | Path, header: list[str], rows: Iterable[list]) -> Path:
    """Writes a TSV for readers that know no quoting, one line per row (the TensorFlow
    Embedding Projector's ``metadata.tsv``): cells as ``write_rows`` writes them, text
    neutralised against formulas (it opens in a spreadsheet too), then tabs and line breaks
    made spaces instead of quoted (the ``'`` stays first).

    Args:
        path: the .tsv file.
        header: the column names.
        rows: the rows (ints, floats, strings, None).

    Returns:
        The path.
    """
    path = Path(path)
    _suffix(path, (".tsv",))
    with path.open("w", encoding="utf-8", newline="") as f:
        for row in [header, *rows]:
            f.write("\t".join(_unquoted_cell(v) for v in row) + "\n")
    return path


def _unquoted_cell(value: Any) -> str:
    return re.sub(r"[\t\r\n]", " ", _cell(value))
