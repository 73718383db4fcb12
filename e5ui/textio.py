"""Reading and validating inputs; writing exports.

Inputs: ``.txt`` is one text per line; ``.csv`` / ``.tsv`` have a header row with a ``text``
column and optional ``label``, ``lang`` and ``id`` columns. Files are UTF-8 (a byte-order mark
is tolerated); UTF-16 and UTF-32 files with a byte-order mark are decoded too. Files are read
as a stream and reading stops as soon as a byte or text limit is passed.

How inputs are read, exactly:

- Only ``\\n`` and ``\\r\\n`` end a line, so line numbers match ``wc -l``, ``sed -n`` and any
  0-based gold file. Every other break or control character inside a line (``\\f``, ``\\v``,
  ``\\x1c``-``\\x1f``, ``\\x85``, U+2028, U+2029, a bare ``\\r``, other C0/C1 controls) becomes a
  space, a byte-order mark inside a text is removed, and a note counts the texts so changed.
- A line or cell that holds nothing but whitespace and zero-width characters (U+200B, U+200C,
  U+200D, U+2060, U+FEFF) is blank. Blank lines and empty cells are never dropped silently:
  they are skipped and listed in ``Corpus.skipped``, and every text remembers its row in
  ``Corpus.rows`` so results can point back at the user's file. Zero-width joiners inside a
  text are kept (Persian, Indic scripts and emoji need them).
- Tables follow RFC 4180 quoting, strictly: a cell is quoted only when it opens with ``"`` and
  closes with a ``"`` followed by the delimiter or the end of its line (inner quotes doubled).
  Any other quote is text, so a TSV with a stray quote is read row by row. A quoted cell may
  span lines (a text with a line break, as spreadsheets and e5ui's exports write it); a note
  names each such row, so rows are never merged silently.
- Gold files (``read_links`` for align, ``read_gold`` for bitext) are tables read by the same
  rules, through one reader: each index is checked against the documents, a file holds at
  most as many links as the documents have sentences, and every error names the line.

Exports: ``write_rows`` is the one CSV/TSV writer (``write_matrix`` shares its cell rules): text
cells that start with ``=``, ``+``, ``-``, ``@``, a tab, ``\\r`` or ``\\n`` get a leading ``'``
(OWASP's advice against formula injection); numbers stay numbers; cells holding the delimiter,
a quote, ``\\r`` or ``\\n`` are quoted. NPY and TMX exports are exact.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt",)
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
OPTIONAL_COLUMNS = ("label", "lang", "id")
MAX_INPUT_BYTES = 200 * 2**20
# Bytes read at a time: stopping at a limit then holds at most this much undecoded text.
CHUNK_BYTES = 256 * 2**10
# A quoted cell running over more lines than this is a stray quote, not one text: reading
# ahead for its end stays bounded.
MAX_QUOTED_LINES = 1000

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
# What str.strip() removes (str.isspace), spelled out so it can be combined with ZERO_WIDTH.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_EDGES = WHITESPACE + ZERO_WIDTH
# Inside a text: C0 controls but tab and newline, DEL, C1 controls (NEL among them), and the
# line/paragraph separators become spaces; U+FEFF goes; lone surrogates (which UTF-8 cannot
# encode) and U+FFFE/U+FFFF (which XML cannot hold) become U+FFFD.
_SPECIAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_ASCII_PLAIN = bytes(b for b in range(128) if b in (9, 10) or 32 <= b < 127)
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNENCODABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")
# Longest BOMs first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_SHOWN = 10  # rows listed in a note before "and N more"


@dataclass
class Corpus:
    """Texts with optional labels, languages and ids, and where each came from.

    Attributes:
        texts: the non-empty texts, in file order.
        labels, langs, ids: per-text values from the optional columns (None when absent;
            "" where a row left the cell empty).
        rows: 0-based line (``.txt``) or data-row (tables) number of each text.
        skipped: 0-based rows that were blank and therefore not read as texts.
        source: the file name, or "<input>" for pasted text.
        table: read from a table (rows count data rows) rather than lines.
        changed: 0-based rows whose text had control or separator characters replaced.
        spans: (data row, first line, last line), 0-based, of each table row whose quoted
            cell spans several lines.
        encoding: the encoding the file was read in ("UTF-8" unless its BOM said otherwise).
        remarks: further notes for the user (e.g. texts cut to a length limit).
    """

    texts: list[str]
    labels: list[str] | None = None
    langs: list[str] | None = None
    ids: list[str] | None = None
    rows: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    source: str = "<input>"
    table: bool = False
    changed: list[int] = field(default_factory=list)
    spans: list[tuple[int, int, int]] = field(default_factory=list)
    encoding: str = "UTF-8"
    remarks: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def unit(self) -> str:
        """What a row number counts: "row" (data rows of a table) or "line"."""
        return "row" if self.table else "line"

    def where(self, index: int) -> str:
        """Where text ``index`` came from, for messages: "line 7" / "row 3" (1-based)."""
        return f"{self.unit} {self.rows[index] + 1}"

    def names(self) -> list[str]:
        """A short name per text: its ``id``, else its ``label``, else its 1-based row."""
        return [
            (self.ids[i] if self.ids and self.ids[i] else
             self.labels[i] if self.labels and self.labels[i] else str(self.rows[i] + 1))
            for i in range(len(self.texts))
        ]

    def notes(self) -> list[str]:
        """Returns user-facing remarks about what was read (blank rows skipped, characters
        replaced, quoted cells spanning lines, the encoding, ...)."""
        notes = []
        if self.encoding != "UTF-8":
            notes.append(f"{self.source} was read as {self.encoding} (its byte-order mark "
                         "says so).")
        if self.skipped:
            notes.append(f"{self.source}: skipped {len(self.skipped)} blank {self.unit}(s): "
                         f"{_listed([str(r + 1) for r in self.skipped])}")
        if self.changed:
            notes.append(
                f"{self.source}: {len(self.changed)} text(s) held control or separator "
                "characters (form feed, vertical tab, U+2028, a bare carriage return, ...), "
                "each replaced by a space (stray byte-order marks removed): "
                f"{self.unit}(s) {_listed([str(r + 1) for r in self.changed])}")
        if self.spans:
            listed = _listed([f"row {r + 1} (lines {a + 1}–{b + 1})" for r, a, b in self.spans])
            notes.append(
                f"{self.source}: {len(self.spans)} quoted cell(s) span several lines and were "
                f"each read as one text with line breaks: {listed}; if a quote was not meant "
                'to enclose a text, remove it or double it ("").')
        return notes + self.remarks


def _listed(items: list[str]) -> str:
    """The first items of a list for a note, then "and N more"."""
    more = "" if len(items) <= _SHOWN else f" and {len(items) - _SHOWN} more"
    return ", ".join(items[:_SHOWN]) + more


class TooManyTexts(ValueError):
    """An input holds more texts than the caller accepts (raised as soon as it is passed)."""

    def __init__(self, source: str, limit: int):
        super().__init__(f"{source} has more than {limit} texts; at most {limit} are accepted, "
                         "so split it into smaller files")
        self.limit = limit


def _size(n: int) -> str:
    """A byte count for messages: "200 MB", "1 KB", "1000-byte"."""
    if n >= 2**20 and n % 2**20 == 0:
        return f"{n // 2**20} MB"
    if n >= 2**10 and n % 2**10 == 0:
        return f"{n // 2**10} KB"
    return f"{n}-byte"


def _too_large(source: str, max_bytes: int) -> ValueError:
    return ValueError(f"{source} is larger than the {_size(max_bytes)} limit for input files; "
                      "split it into smaller files")


# -- decoding ------------------------------------------------------------------------------------
def read_chunks(handle: IO[bytes], source: str, max_bytes: int | None = MAX_INPUT_BYTES
                ) -> Iterator[bytes]:
    """Yields an open binary file's bytes in chunks, never reading past the limit.

    Args:
        handle: the file (or pipe) opened for reading bytes.
        source: its name, for messages.
        max_bytes: the most bytes accepted; None for no limit.

    Returns:
        An iterator of chunks; it raises ValueError as soon as the file passes ``max_bytes``
        (having read at most one byte more).
    """
    total = 0
    while True:
        want = CHUNK_BYTES if max_bytes is None else min(CHUNK_BYTES, max_bytes + 1 - total)
        data = handle.read(want)
        if not data:
            return
        total += len(data)
        if max_bytes is not None and total > max_bytes:
            raise _too_large(source, max_bytes)
        yield data


def _looks_utf16(data: bytes) -> bool:
    """NUL bytes on only one side of each byte pair: UTF-16 text (mostly Latin) without a BOM."""
    even, odd = data[0::2].count(0), data[1::2].count(0)
    return len(data) >= 4 and min(even, odd) == 0 and max(even, odd) >= len(data) // 4


class _Decoder:
    """Decodes byte chunks (UTF-8, or UTF-16/32 by their BOM) into text chunks; errors name the
    line. ``label`` says the encoding once iteration has begun."""

    def __init__(self, chunks: Iterable[bytes], source: str):
        self.chunks, self.source, self.label = chunks, source, "UTF-8"

    def __iter__(self) -> Iterator[str]:
        chunks = iter(self.chunks)
        head = b""
        for chunk in chunks:  # a BOM may straddle tiny chunks
            head += chunk
            if len(head) >= 4:
                break
        encoding = "utf-8"
        for bom, name, label in _BOMS:
            if head.startswith(bom):
                encoding, self.label, head = name, label, head[len(bom):]
                break
        else:
            if b"\x00" in head:
                if _looks_utf16(head):
                    raise ValueError(f"{self.source} looks like UTF-16 without a byte-order "
                                     "mark; save it as UTF-8")
                raise ValueError(f"{self.source} looks like a binary file, not text")
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        lines = 0  # line breaks decoded so far, for error messages
        for data in _prepend(head, chunks):
            text = self._decode(decoder, data, encoding, lines, final=False)
            lines += text.count("\n")
            yield text
        yield self._decode(decoder, b"", encoding, lines, final=True)

    def _decode(self, decoder: Any, data: bytes, encoding: str, lines: int, final: bool) -> str:
        pending = decoder.buffer
        try:
            text = decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            # exc.start counts from the decoder's buffered bytes, then this chunk.
            good = (pending + data)[: exc.start].decode(encoding, "replace")
            line = lines + good.count("\n") + 1
            if self.label == "UTF-8":
                msg = f"is not UTF-8 text (invalid byte at line {line}); save it as UTF-8"
            else:
                msg = (f"is not valid {self.label} text (invalid data at line {line}); "
                       "save it as UTF-8")
            raise ValueError(f"{self.source} {msg}") from None
        if "\x00" in text:
            raise ValueError(f"{self.source} looks like a binary file, not text")
        return text


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _may_change(chunk: str) -> bool:
    """Whether a chunk holds a character ``_tidy`` replaces (ASCII, the common case, is checked
    8x faster by deleting the printable bytes than by a regex)."""
    if chunk.isascii():
        return bool(chunk.encode("ascii").translate(None, _ASCII_PLAIN))
    return _SPECIAL.search(chunk) is not None


def _split_lines(chunks: Iterable[str]) -> Iterator[tuple[list[str], bool]]:
    """Physical lines of decoded text, in batches: only "\\n" ends a line (the "\\r" of
    "\\r\\n" is dropped); nothing else splits one, unlike str.splitlines. With each batch:
    whether it may hold a character ``_tidy`` replaces (checked per chunk, not per line)."""
    pending: list[str] = []  # a line still open across chunks (joined once, not per chunk)
    pending_special = False
    carry = ""  # a CR at a chunk's end, which may be the start of CR LF
    for chunk in chunks:
        chunk = carry + chunk if carry else chunk
        carry = "\r" if chunk.endswith("\r") else ""
        chunk = (chunk[:-1] if carry else chunk).replace("\r\n", "\n")
        special = _may_change(chunk)
        parts = chunk.split("\n")
        if len(parts) == 1:
            if chunk:
                pending.append(chunk)
                pending_special = pending_special or special
            continue
        if pending:
            pending.append(parts[0])
            parts[0] = "".join(pending)
        last = parts.pop()
        yield parts, special or pending_special
        pending, pending_special = ([last], special) if last else ([], False)
    if pending or carry:  # a last line without LF (a CR at the very end ends it too)
        yield ["".join(pending)], pending_special


# -- texts and tables ----------------------------------------------------------------------------
def _tidy(raw: str) -> tuple[str, bool]:
    """A line's or cell's text: trimmed of whitespace and zero-width characters at its ends ("" if
    nothing else is left), controls and separators inside it replaced; and whether any were."""
    text = raw.strip(_EDGES)
    if not text or _SPECIAL.search(text) is None:
        return text, False
    cleaned = _UNENCODABLE.sub("\ufffd", _CONTROL.sub(" ", text.replace("\ufeff", "")))
    return cleaned.strip(_EDGES), True


def tidy(raw: str) -> tuple[str, bool]:
    """One line of input as every reader cleans it (see the module's rules), for readers of
    other formats (``segment``'s documents).

    Args:
        raw: the line, without its line break.

    Returns:
        (text, changed): the text trimmed of whitespace and zero-width characters at its ends
        ("" for a blank line), controls and separators inside it made spaces, stray byte-order
        marks removed, lone surrogates and U+FFFE/U+FFFF made U+FFFD; and whether any
        character was replaced.
    """
    return _tidy(raw)


def _check_count(count: int, max_texts: int | None, source: str) -> None:
    if max_texts is not None and count >= max_texts:
        raise TooManyTexts(source, max_texts)


def _line_pieces(batches: Iterable[tuple[list[str], bool]], source: str) -> Iterator[Corpus]:
    """One text per line (see the module's rules), a piece of the corpus per batch of lines."""
    base = 0
    for lines, special in batches:
        piece = Corpus([], source=source)
        if special:
            tidied = [_tidy(line) for line in lines]
            texts = [text for text, _ in tidied]
            piece.changed.extend(i for i, (text, changed) in enumerate(tidied, base)
                                 if changed and text)
        else:
            texts = [line.strip(_EDGES) for line in lines]
        piece.rows = [i for i, text in enumerate(texts, base) if text]
        if len(piece.rows) < len(texts):
            piece.skipped.extend(i for i, text in enumerate(texts, base) if not text)
            texts = [text for text in texts if text]
        piece.texts = texts
        base += len(lines)
        yield piece


def _extend(corpus: Corpus, piece: Corpus) -> None:
    corpus.texts.extend(piece.texts)
    corpus.rows.extend(piece.rows)
    corpus.skipped.extend(piece.skipped)
    corpus.changed.extend(piece.changed)


def _read_lines(batches: Iterable[tuple[list[str], bool]], source: str,
                max_texts: int | None) -> Corpus:
    """One text per line (see the module's rules)."""
    corpus = Corpus([], source=source)
    for piece in _line_pieces(batches, source):
        _extend(corpus, piece)
        if max_texts is not None and len(corpus.texts) > max_texts:
            raise TooManyTexts(source, max_texts)  # checked per chunk: one more chunk at most
    return corpus


class _Lines:
    """Numbered lines that can be given back after reading ahead for a quoted cell's end."""

    def __init__(self, batches: Iterable[tuple[list[str], bool]]):
        self._lines = enumerate(line for lines, _ in batches for line in lines)
        self._back: deque[tuple[int, str]] = deque()

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> tuple[int, str]:
        return self._back.popleft() if self._back else next(self._lines)

    def give_back(self, taken: list[tuple[int, str]]) -> None:
        self._back.extendleft(reversed(taken))


def _records(batches: Iterable[tuple[list[str], bool]], delimiter: str
             ) -> Iterator[tuple[list[str], int, int]]:
    """A table's records: (cells, first line, last line), lines 0-based."""
    source = _Lines(batches)
    for number, line in source:
        if '"' not in line:  # the common case, at C speed
            yield line.split(delimiter), number, number
        else:
            cells, last = _split_quoted(line, number, delimiter, source)
            yield cells, number, last


def _split_quoted(line: str, number: int, delimiter: str, source: _Lines
                  ) -> tuple[list[str], int]:
    """The cells of a record whose first line holds a quote; returns them and its last line."""
    cells: list[str] = []
    pos = 0
    while True:
        start = pos
        while pos < len(line) and line[pos] == " ":  # spaces before an opening quote
            pos += 1
        if pos < len(line) and line[pos] == '"':
            quoted = _quoted(line, number, pos + 1, delimiter, source)
            if quoted is not None:
                value, line, number, pos = quoted
                cells.append(value)
                if pos >= len(line):
                    return cells, number
                pos += 1
                continue
        end = line.find(delimiter, start)
        if end < 0:
            cells.append(line[start:])
            return cells, number
        cells.append(line[start:end])
        pos = end + 1


def _quoted(line: str, number: int, pos: int, delimiter: str, source: _Lines
            ) -> tuple[str, str, int, int] | None:
    """The quoted cell opened just before ``line[pos]``: (value, its last line, that line's
    number, index of what follows the closing quote), or None when the quote does not open a
    well-formed quoted cell (it is then text, and the lines read ahead are given back)."""
    parts: list[str] = []
    taken: list[tuple[int, str]] = []
    while True:
        q = line.find('"', pos)
        if q < 0:
            parts.append(line[pos:])
            nxt = next(source, None) if len(taken) < MAX_QUOTED_LINES else None
            if nxt is None:
                break
            taken.append(nxt)
            number, line = nxt
            parts.append("\n")
            pos = 0
            continue
        if line.startswith('"', q + 1):  # "" stands for one quote
            parts.append(line[pos:q + 1])
            pos = q + 2
            continue
        parts.append(line[pos:q])
        end = q + 1
        while end < len(line) and line[end] == " ":
            end += 1
        if end == len(line) or line[end] == delimiter:
            return "".join(parts), line, number, end
        break
    source.give_back(taken)
    return None


def _check_unique(header: list[str], names: list[str], delimiter: str, source: str) -> None:
    """Refuses a header that names a column e5ui reads twice (``names``: the header's cells
    trimmed and lower-cased): which one holds the texts would be a guess. Other columns are
    never read, so a repeated one of those (or two blank header cells) is left alone."""
    repeated = [name for name in ("text", *OPTIONAL_COLUMNS) if names.count(name) > 1]
    if not repeated:
        return
    kind = "TSV" if delimiter == "\t" else "CSV"
    listed = "; ".join(
        f"{name!r} in columns " + ", ".join(str(k + 1) for k, n in enumerate(names) if n == name)
        + " (" + ", ".join(repr(header[k]) for k, n in enumerate(names) if n == name) + ")"
        for name in repeated
    )
    raise ValueError(f"{source}: the {kind} header names a column more than once: {listed}. "
                     "Rename or remove the extra column so e5ui knows which one to read")


def _read_table(batches: Iterable[tuple[list[str], bool]], delimiter: str, source: str,
                max_texts: int | None) -> Corpus:
    """A CSV/TSV table with a header row and a ``text`` column (see the module's rules)."""
    records = _records(batches, delimiter)
    first = next(records, None)
    if first is None:
        raise ValueError(f"{source} is empty")
    header = first[0]
    names = [_tidy(h)[0].lower() for h in header]
    if "text" not in names:
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise ValueError(
            f"{source}: a {kind} file needs a 'text' column in its header row; "
            f"found: {', '.join(repr(h) for h in header) or 'nothing'}"
        )
    _check_unique(header, names, delimiter, source)
    col = {name: names.index(name) for name in ("text", *OPTIONAL_COLUMNS) if name in names}
    extra: dict[str, list[str]] = {name: [] for name in OPTIONAL_COLUMNS if name in col}
    corpus = Corpus([], source=source, table=True)
    for row_no, (row, line_a, line_b) in enumerate(records):
        if line_b > line_a:
            corpus.spans.append((row_no, line_a, line_b))
        if len(row) > len(header):
            if all(not cell.strip(_EDGES) for cell in row):
                corpus.skipped.append(row_no)
                continue
            raise ValueError(
                f"{source}: data row {row_no + 1} has {len(row)} fields but the header has "
                f"{len(header)} (line {line_a + 1}; an unquoted delimiter inside a text?)"
            )
        text, changed = _tidy(row[col["text"]]) if col["text"] < len(row) else ("", False)
        if not text:
            corpus.skipped.append(row_no)
            continue
        _check_count(len(corpus.texts), max_texts, source)
        corpus.texts.append(text)
        corpus.rows.append(row_no)
        for name, values in extra.items():
            value, other = _tidy(row[col[name]]) if col[name] < len(row) else ("", False)
            values.append(value)
            changed = changed or other
        if changed:
            corpus.changed.append(row_no)
    corpus.labels, corpus.langs, corpus.ids = (extra.get("label"), extra.get("lang"),
                                               extra.get("id"))
    return corpus


def parse_lines(text: str, source: str = "<input>", *, max_texts: int | None = None) -> Corpus:
    """Reads one text per line; blank lines are skipped and recorded.

    Args:
        text: the whole input (pasted or read from a file).
        source: a name for messages.
        max_texts: the most texts accepted (``TooManyTexts``, a ValueError, as soon as one more
            is found); None for no limit.

    Returns:
        The corpus.
    """
    return _read_lines(_split_lines([text]), source, max_texts)


def parse_table(text: str, delimiter: str, source: str = "<input>", *,
                max_texts: int | None = None) -> Corpus:
    """Reads a CSV/TSV table with a header row and a ``text`` column.

    Args:
        text: the table's content.
        delimiter: "," or a tab.
        source: a name for messages.
        max_texts: the most texts accepted; None for no limit.

    Returns:
        The corpus, with labels / langs / ids when those columns exist.
    """
    return _read_table(_split_lines([text]), delimiter, source, max_texts)


def is_pasted_table(text: str) -> bool:
    """Whether pasted text is a TSV table: its first non-blank line has a tab and a ``text``
    column (so a one-text-per-line list is never mistaken for one)."""
    for line in text.split("\n"):
        if line.strip():
            cells = [c.strip().lower() for c in line.split("\t")]
            return len(cells) > 1 and "text" in cells
    return False


def parse_pasted(text: str, source: str = "<input>", *, max_texts: int | None = None
                 ) -> Corpus:
    """Reads what was typed or pasted into a text box: one text per line, or a TSV table with
    a header row naming a ``text`` column (and ``label``, ``lang``, ``id`` if wanted), as the
    app's examples fill the boxes.

    Args:
        text: the box's content.
        source: a name for messages.
        max_texts: the most texts accepted; None for no limit.

    Returns:
        The corpus.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    if is_pasted_table(text):
        return parse_table(text, "\t", source, max_texts=max_texts)
    return parse_lines(text, source, max_texts=max_texts)


def parse_text(text: str, suffix: str = ".txt", source: str = "<input>", *,
               max_texts: int | None = None) -> Corpus:
    """Parses content by file type (".txt", ".csv" or ".tsv")."""
    suffix = suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return parse_table(text, TABLE_SUFFIXES[suffix], source, max_texts=max_texts)
    if suffix in TEXT_SUFFIXES or suffix == "":
        return parse_lines(text, source, max_texts=max_texts)
    raise ValueError(
        f"Unsupported file type {suffix!r} for {source}. Must be one of: .txt, .csv, .tsv"
    )


def _checked_path(path: str | Path, max_bytes: int | None) -> Path:
    path = Path(path)
    if not path.exists():
        raise ValueError(f"No such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a text file")
    # A regular file's size is known: refuse it before reading a byte (pipes are counted).
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise _too_large(path.name, max_bytes)
    return path


def read_texts(path: str | Path, *, max_texts: int | None = None,
               max_bytes: int | None = MAX_INPUT_BYTES) -> Corpus:
    """Reads a ``.txt`` / ``.csv`` / ``.tsv`` input file as a stream.

    Args:
        path: the file.
        max_texts: the most texts accepted: reading stops with ``TooManyTexts`` (a ValueError)
            as soon as one more is found; None for no limit.
        max_bytes: the most bytes read: reading stops with a ValueError as soon as the file
            passes it; None for no limit.

    Returns:
        The corpus; ValueError with a one-line reason for anything unreadable.
    """
    path = _checked_path(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES and suffix not in TABLE_SUFFIXES:
        raise ValueError(
            f"Unsupported file type {path.suffix or '(none)'!r} for {path.name}. "
            "Must be one of: .txt, .csv, .tsv"
        )
    with path.open("rb") as handle:
        decoder = _Decoder(read_chunks(handle, path.name, max_bytes), path.name)
        batches = _split_lines(decoder)
        if suffix in TABLE_SUFFIXES:
            corpus = _read_table(batches, TABLE_SUFFIXES[suffix], path.name, max_texts)
        else:
            corpus = _read_lines(batches, path.name, max_texts)
    corpus.encoding = decoder.label
    logger.debug("read %s (%s): %s texts, %s blank, %s changed", path.name, decoder.label,
                 len(corpus), len(corpus.skipped), len(corpus.changed))
    return corpus


def stream_texts(path: str | Path, chunk: int = 1000, *, max_bytes: int | None = None
                 ) -> Iterator[Corpus]:
    """Reads an input file in pieces of at most ``chunk`` texts, for inputs too large to hold
    (``embed``): a ``.txt`` file is read as a stream, a table is read whole and then cut.
    Each piece's ``rows``, ``skipped`` and ``changed`` are numbered in the whole file.

    Args:
        path: the file.
        chunk: the most texts per piece.
        max_bytes: the most bytes read; None for no limit.

    Yields:
        Corpus pieces, in file order; their texts together are ``read_texts(path).texts``.
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    path = _checked_path(path, max_bytes)
    if path.suffix.lower() != ".txt":
        whole = read_texts(path, max_bytes=max_bytes)
        for start in range(0, max(len(whole), 1), chunk):
            yield Corpus(whole.texts[start : start + chunk],
                         *(None if v is None else v[start : start + chunk]
                           for v in (whole.labels, whole.langs, whole.ids)),
                         rows=whole.rows[start : start + chunk],
                         skipped=whole.skipped if start == 0 else [], source=whole.source,
                         table=whole.table, changed=whole.changed if start == 0 else [],
                         encoding=whole.encoding)
        return
    with path.open("rb") as handle:
        decoder = _Decoder(read_chunks(handle, path.name, max_bytes), path.name)
        pending = Corpus([], source=path.name)
        for piece in _line_pieces(_split_lines(decoder), path.name):
            _extend(pending, piece)
            while len(pending) >= chunk:
                out = Corpus(pending.texts[:chunk], rows=pending.rows[:chunk],
                             skipped=pending.skipped, changed=pending.changed,
                             source=path.name, encoding=decoder.label)
                yield out
                pending = Corpus(pending.texts[chunk:], rows=pending.rows[chunk:],
                                 source=path.name)
        if pending.texts or pending.skipped or pending.changed:
            pending.encoding = decoder.label
            yield pending


def require_texts(corpus: Corpus, what: str = "input") -> Corpus:
    """Raises ValueError when a corpus holds no text at all."""
    if not corpus.texts:
        raise ValueError(f"The {what} ({corpus.source}) contains no text")
    return corpus


def read_input(text: str | None, file: str | None, what: str, limit: int, max_chars: int, *,
               max_bytes: int | None = MAX_INPUT_BYTES, cut: bool = False) -> Corpus:
    """Reads texts from an uploaded file (if any) or a text box (one text per line, or a TSV
    table with a ``text`` column, see ``parse_pasted``), within the app's limits; reading
    stops as soon as a limit is passed.

    Args:
        text: the text box's content.
        file: the path of an uploaded file, or None.
        what: what the input is, for messages ("text list", "corpus", ...).
        limit: the most texts accepted.
        max_chars: the most characters one text may have.
        max_bytes: the most bytes of an uploaded file read; None for no limit.
        cut: cut longer texts to ``max_chars`` (with a note) instead of refusing them.

    Returns:
        The corpus.

    Raises:
        ValueError: with a message for the user when there is nothing usable.
    """
    try:
        corpus = (read_texts(file, max_texts=limit, max_bytes=max_bytes) if file
                  else parse_pasted(text or "", source=what, max_texts=limit))
    except TooManyTexts:
        name = f" ({Path(file).name})" if file else ""
        raise ValueError(f"The {what}{name} has more than {limit} texts; this view takes at "
                         f"most {limit}") from None
    if not corpus.texts:
        raise ValueError(f"The {what} is empty: type one text per line or upload a file")
    too_long = [i for i, t in enumerate(corpus.texts) if len(t) > max_chars]
    if too_long and not cut:
        raise ValueError(
            f"The {what} has text(s) over {max_chars} characters ({corpus.where(too_long[0])}); "
            "split long documents into paragraphs"
        )
    if too_long:
        for i in too_long:
            corpus.texts[i] = corpus.texts[i][:max_chars].rstrip(_EDGES)
        listed = _listed([corpus.where(i) for i in too_long])
        corpus.remarks.append(f"The {what}: {len(too_long)} text(s) longer than {max_chars} "
                              f"characters were cut to their first {max_chars}: {listed}")
    return corpus


# -- exports ---------------------------------------------------------------------------------
def write_npy(path: str | Path, embeddings: np.ndarray) -> Path:
    """Writes a float32 .npy file."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise ValueError(f"Embeddings are written as .npy, not {path.suffix or '(none)'!r}")
    np.save(path, np.asarray(embeddings, dtype=np.float32))
    return path


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


def write_parquet(path: str | Path, columns: dict[str, Any]) -> Path:
    """Writes columns (lists of str / int / float, or a 2-D float array for a vector column)
    as a Parquet file, e.g. for Apple's Embedding Atlas; values are written exactly."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    _suffix(path, (".parquet",))
    arrays = {}
    for name, values in columns.items():
        if isinstance(values, np.ndarray) and values.ndim == 2:
            flat = pa.array(np.ascontiguousarray(values, dtype=np.float32).reshape(-1))
            arrays[name] = pa.FixedSizeListArray.from_arrays(flat, values.shape[1])
        else:
            arrays[name] = pa.array(list(values))
    pq.write_table(pa.table(arrays), path)
    return path


def _projector_cell(value: Any) -> str:
    """A ``metadata.tsv`` cell: neutralised against formulas as every export is (``_cell``:
    metadata.tsv opens in a spreadsheet too), then tabs and line breaks made spaces, since the
    projector splits on them and knows no quoting (the ``'`` stays first)."""
    return re.sub(r"[\t\r\n]", " ", _cell(value))


def write_projector(folder: str | Path, vectors: np.ndarray, header: list[str],
                    rows: list[list]) -> list[Path]:
    """Writes the TensorFlow Embedding Projector pair (projector.tensorflow.org, "Load"):
    ``vectors.tsv`` (one row of tab-separated floats per text, no header) and
    ``metadata.tsv`` (a header, then one row per text; cells as ``write_rows`` writes them,
    text neutralised against spreadsheet formulas, but tabs and line breaks made spaces instead
    of quoted, since the projector has no quoting)."""
    folder = Path(folder)
    vec = np.asarray(vectors, dtype=np.float32)
    if vec.ndim != 2 or vec.shape[0] != len(rows):
        raise ValueError(f"got {vec.shape[0] if vec.ndim else 0} vectors for {len(rows)} rows")
    vectors_path, metadata_path = folder / "vectors.tsv", folder / "metadata.tsv"
    with vectors_path.open("w", encoding="utf-8", newline="") as f:
        np.savetxt(f, vec, fmt="%.7g", delimiter="\t", newline="\n")
    with metadata_path.open("w", encoding="utf-8", newline="") as f:
        for row in [header, *rows]:
            f.write("\t".join(_projector_cell(v) for v in row) + "\n")
    return [vectors_path, metadata_path]


PAIR_HEADER = ["src_index", "tgt_index", "score", "cosine", "source", "target"]


def pair_rows(result, source: Corpus, target: Corpus) -> list[list]:
    """Rows of the pairs table: 0-based line numbers into the input files, scores, texts."""
    return [
        [source.rows[p.src], target.rows[p.tgt], p.score, p.cosine, source.texts[p.src],
         target.texts[p.tgt]]
        for p in result.pairs
    ]


# Characters XML 1.0 cannot hold; texts read by textio never contain them (they became
# spaces or U+FFFD), so this only guards corpora built by hand.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True)
class TranslationUnit:
    """One ``<tu>`` of a TMX file: its properties and its segments, (language, text) each."""

    props: tuple[tuple[str, str], ...]
    segments: tuple[tuple[str, str], ...]


def write_tmx_units(path: str | Path, units: Iterable[TranslationUnit], srclang: str) -> Path:
    """Writes translation units as TMX 1.4 (the translation-memory exchange standard),
    exactly (no formula prefixes: a translation memory is not a spreadsheet).

    Args:
        path: the .tmx file.
        units: the units, in order.
        srclang: the header's source language.

    Returns:
        The path.
    """
    import xml.etree.ElementTree as ET

    from e5ui import __version__

    path = Path(path)
    _suffix(path, (".tmx",))
    root = ET.Element("tmx", version="1.4")
    ET.SubElement(
        root, "header", creationtool="e5ui", creationtoolversion=__version__,
        segtype="sentence", adminlang="en", srclang=_xml_safe(srclang) or "und",
        datatype="plaintext", **{"o-tmf": "e5ui"},
    )
    body = ET.SubElement(root, "body")
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    for unit in units:
        tu = ET.SubElement(body, "tu")
        for name, value in unit.props:
            ET.SubElement(tu, "prop", type=name).text = value
        for lang, text in unit.segments:
            tuv = ET.SubElement(tu, "tuv", {xml_lang: _xml_safe(lang) or "und"})
            ET.SubElement(tuv, "seg").text = _xml_safe(text)
    ET.indent(root)
    tree = ET.ElementTree(root)
    with path.open("wb") as f:
        f.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        f.write(b'<!DOCTYPE tmx SYSTEM "tmx14.dtd">\n')
        tree.write(f, encoding="utf-8", xml_declaration=False)
        f.write(b"\n")
    return path


def majority(codes: list[str]) -> str:
    """The most common language code ("und" for none): a TMX header's source language."""
    return max(set(codes), key=codes.count) if codes else "und"


def write_tmx(
    path: str | Path,
    result,
    source: Corpus,
    target: Corpus,
    src_langs: list[str],
    tgt_langs: list[str],
) -> Path:
    """Writes matched pairs as TMX 1.4.

    Args:
        path: the .tmx file.
        result: a ``bitext.Matching``.
        source, target: the corpora the pairs index into.
        src_langs, tgt_langs: a language code per sentence (xml:lang of each segment).

    Returns:
        The path.
    """
    units = (
        TranslationUnit(
            (("x-score", f"{p.score:.6f}"), ("x-cosine", f"{p.cosine:.6f}"),
             ("x-source-line", str(source.rows[p.src])),
             ("x-target-line", str(target.rows[p.tgt]))),
            ((src_langs[p.src], source.texts[p.src]), (tgt_langs[p.tgt], target.texts[p.tgt])))
        for p in result.pairs)
    return write_tmx_units(path, units, majority(src_langs))


def write_pairs(path: str | Path, result, source: Corpus, target: Corpus,
                src_langs: list[str] | None = None, tgt_langs: list[str] | None = None) -> Path:
    """Writes bitext pairs as .tsv / .csv (DESIGN.md header) or .tmx (which needs a language
    code per sentence) by the file's suffix."""
    path = Path(path)
    suffix = _suffix(path, (".tsv", ".csv", ".tmx"))
    if suffix == ".tmx":
        if src_langs is None or tgt_langs is None:
            raise ValueError("A TMX file needs the language of every sentence")
        return write_tmx(path, result, source, target, src_langs, tgt_langs)
    return write_rows(path, PAIR_HEADER, pair_rows(result, source, target))


def read_whole(path: str | Path, *, max_bytes: int | None = MAX_INPUT_BYTES) -> tuple[str, str]:
    """A whole file's text, decoded as inputs are: UTF-8 (a BOM dropped), or UTF-16/32 by its
    byte-order mark; binary content and invalid bytes refused with the line; reading stops as
    soon as ``max_bytes`` is passed.

    Args:
        path: the file.
        max_bytes: the most bytes read; None for no limit.

    Returns:
        (text, encoding): the text and the encoding it was read in ("UTF-8", "UTF-16", ...).
    """
    path = _checked_path(path, max_bytes)
    with path.open("rb") as handle:
        decoder = _Decoder(read_chunks(handle, path.name, max_bytes), path.name)
        return "".join(decoder), decoder.label


# -- gold files ------------------------------------------------------------------------------
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

    with path.open("rb") as handle:
        decoder = _Decoder(read_chunks(handle, name, max_bytes), name)
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
