"""Which columns of a table, a JSON Lines file or a Parquet file hold the texts and their
languages, labels and ids (``Columns``), and the one builder every record-shaped reader fills a
``Corpus`` with (``_Rows``): blank texts skipped and listed, cells tidied with a note, the text
limit checked before each text is kept."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from e5ui.textio.corpus import Corpus, TooManyTexts
from e5ui.textio.decode import _tidy

ROLES = ("text", "label", "lang", "id")


@dataclass(frozen=True)
class Columns:
    """The column names to read. ``text`` is always required; an optional column left None is
    read under its default name (``label``, ``lang``, ``id``) when the file has one, while a
    name the user gave must exist."""

    text: str | None = None
    label: str | None = None
    lang: str | None = None
    id: str | None = None

    def name(self, role: str) -> str:
        """The name looked for: the one given, else the role itself."""
        return getattr(self, role) or role

    def required(self, role: str) -> bool:
        """Whether a missing column is an error (the text column, or any name given)."""
        return role == "text" or getattr(self, role) is not None

    def find(self, names: Sequence[str], source: str) -> dict[str, int]:
        """The index in ``names`` of each role's column: an exact match, else the one that
        matches ignoring case (CSV headers have always been read so); roles without a column
        are left out.

        Raises:
            ValueError: a required column is missing, naming the columns the file has.
        """
        found: dict[str, int] = {}
        for role in ROLES:
            index = _index(self.name(role), names)
            if index is not None:
                found[role] = index
            elif self.required(role):
                raise missing(source, self.name(role), names)
        return found


def _index(name: str, names: Sequence[str]) -> int | None:
    if name in names:
        return list(names).index(name)
    folded = [n.strip().lower() for n in names]
    return folded.index(name.lower()) if name.lower() in folded else None


def missing(source: str, name: str, names: Sequence[str]) -> ValueError:
    """The one message for a column the file lacks (names quoted: a header cell may be blank
    or hold a comma)."""
    listed = ", ".join(repr(str(n)) for n in names) or "none"
    return ValueError(f"{source} has no {name!r} column; its columns are: {listed}")


def columns_of(text_column: str | None = None, lang_column: str | None = None,
               label_column: str | None = None, id_column: str | None = None) -> Columns:
    """``Columns`` from the keyword arguments of ``read_texts`` / ``read_input``."""
    for given in (text_column, lang_column, label_column, id_column):
        if given is not None and not given.strip():
            raise ValueError("A column name cannot be empty")
    return Columns(text=text_column, label=label_column, lang=lang_column, id=id_column)


MAX_COLUMN_NAME = 200  # a column name a request may give


def column_choice(value: object, name: str = "columns") -> dict[str, str | None]:
    """The columns a request names, ``{"text": "sentence", "lang": "language"}`` (roles left
    out, null or empty keep their default), as ``read_texts`` keyword arguments.

    Args:
        value: the request's value; None for the defaults.
        name: how messages name the parameter.

    Raises:
        ValueError: for anything but such an object: an unknown role lists the known ones.
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f'{name} must be an object such as {{"text": "sentence"}} (roles: '
                         f"{', '.join(ROLES)}), or nothing (null) for the defaults")
    chosen: dict[str, str | None] = {}
    for role, column in value.items():
        if role not in ROLES:
            raise ValueError(f"Unknown column role in {name}: {str(role)[:40]!r}. Must be one "
                             f"of: {', '.join(ROLES)}")
        if column is None or column == "":
            continue
        if not isinstance(column, str) or len(column) > MAX_COLUMN_NAME:
            raise ValueError(f"{name}: the {role} column must be a name of at most "
                             f"{MAX_COLUMN_NAME} characters")
        chosen[f"{role}_column"] = column
    return chosen


class _Rows:
    """Builds a corpus one record at a time, as the CSV/TSV reader does: a blank text skips its
    row (listed), cells are tidied (a note names the row), and ``TooManyTexts`` is raised as
    soon as one text more than ``max_texts`` is found."""

    def __init__(self, source: str, optional: Sequence[str], max_texts: int | None,
                 table: bool):
        self.corpus = Corpus([], source=source, table=table)
        self.max_texts = max_texts
        self.extra: dict[str, list[str]] = {role: [] for role in optional}

    def add(self, row: int, text: str | None, values: dict[str, str | None]) -> None:
        """One record: its 0-based row, its raw text (None: blank) and optional cells."""
        text, changed = _tidy(text) if text else ("", False)
        if not text:
            self.corpus.skipped.append(row)
            return
        if self.max_texts is not None and len(self.corpus.texts) >= self.max_texts:
            raise TooManyTexts(self.corpus.source, self.max_texts)
        self.corpus.texts.append(text)
        self.corpus.rows.append(row)
        for role, cells in self.extra.items():
            value, other = _tidy(values.get(role) or "")
            cells.append(value)
            changed = changed or other
        if changed:
            self.corpus.changed.append(row)

    def done(self, present: Sequence[str] | None = None) -> Corpus:
        """The corpus; ``present``: the optional roles seen at all (others stay None)."""
        keep = set(self.extra if present is None else present)
        c = self.corpus
        c.labels, c.langs, c.ids = (self.extra["label"] if "label" in keep else None,
                                    self.extra["lang"] if "lang" in keep else None,
                                    self.extra["id"] if "id" in keep else None)
        return c
