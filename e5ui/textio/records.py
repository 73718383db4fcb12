"""Table records by RFC 4180, strictly, over lines numbered as ``decode`` splits them.

A cell is quoted only when it opens with ``"`` and closes with a ``"`` followed by the delimiter
or the end of its line (inner quotes doubled); any other quote is text, so a TSV with a stray
quote is read row by row. A quoted cell may span lines, and each record says its first and last
line. The csv module is not used because it gives neither: it reads a stray quote as the start
of a cell that swallows the rest of the file, and it cannot say which lines a record came from.
Inputs and gold files read their tables through here, so they share one dialect.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

# A quoted cell running over more lines than this is a stray quote, not one text: reading
# ahead for its end stays bounded.
MAX_QUOTED_LINES = 1000


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

