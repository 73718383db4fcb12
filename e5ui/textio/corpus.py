"""What a read input is: ``Corpus`` (texts, their optional columns, and where each came from),
the notes it gives the user, and ``TooManyTexts``."""

from __future__ import annotations

from dataclasses import dataclass, field

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

