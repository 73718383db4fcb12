"""Inputs into a ``Corpus``: ``.txt`` one text per line, ``.csv`` / ``.tsv`` a header row with a
``text`` column and optional ``label``, ``lang`` and ``id`` columns, ``.jsonl`` one JSON object
per line and ``.parquet`` a table with such columns (``jsonl``, ``parquet``; other column names
through ``text_column=`` ...); files (``read_texts``, or in pieces ``stream_texts``), pasted text
(``parse_pasted``) and the app's inputs within its limits (``read_input``). Every text input is
decoded by ``decode`` and its tables split by ``records``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from e5ui.textio.columns import Columns, columns_of
from e5ui.textio.corpus import Corpus, TooManyTexts, _listed
from e5ui.textio.decode import (
    _EDGES,
    MAX_INPUT_BYTES,
    _checked_path,
    _decoded,
    _split_lines,
    _tidy,
    _too_large,
)
from e5ui.textio.jsonl import read_jsonl
from e5ui.textio.parquet import read_parquet, text_bytes
from e5ui.textio.records import _records

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt",)
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
# Files of records, read by their own modules (not decoded as lines of text).
RECORD_SUFFIXES = (".jsonl", ".parquet")
SUFFIXES = (*TEXT_SUFFIXES, *TABLE_SUFFIXES, *RECORD_SUFFIXES)
OPTIONAL_COLUMNS = ("label", "lang", "id")


def _check_count(count: int, max_texts: int | None, source: str) -> None:
    if max_texts is not None and count >= max_texts:
        raise TooManyTexts(source, max_texts)


def _line_pieces(batches: Iterable[tuple[list[str], bool]], source: str) -> Iterator[Corpus]:
    """One text per line (see ``e5ui.textio``'s rules), a piece of the corpus per batch of
    lines."""
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
    """One text per line (see ``e5ui.textio``'s rules)."""
    corpus = Corpus([], source=source)
    for piece in _line_pieces(batches, source):
        _extend(corpus, piece)
        if max_texts is not None and len(corpus.texts) > max_texts:
            raise TooManyTexts(source, max_texts)  # checked per chunk: one more chunk at most
    return corpus



def _check_unique(header: list[str], names: list[str], delimiter: str, source: str,
                  columns: Columns) -> None:
    """Refuses a header that names a column e5ui reads twice (``names``: the header's cells
    trimmed and lower-cased): which one holds the texts would be a guess. Other columns are
    never read, so a repeated one of those (or two blank header cells) is left alone."""
    wanted = [columns.name(role).lower() for role in ("text", *OPTIONAL_COLUMNS)]
    repeated = [name for name in dict.fromkeys(wanted) if names.count(name) > 1]
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
                max_texts: int | None, columns: Columns | None = None) -> Corpus:
    """A CSV/TSV table with a header row and a ``text`` column (see ``e5ui.textio``'s rules)."""
    columns = columns or Columns()
    records = _records(batches, delimiter)
    first = next(records, None)
    if first is None:
        raise ValueError(f"{source} is empty")
    header = first[0]
    names = [_tidy(h)[0].lower() for h in header]
    _check_unique(header, names, delimiter, source, columns)
    col = columns.find([_tidy(h)[0] for h in header], source)
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



def read_texts(path: str | Path, *, max_texts: int | None = None,
               max_bytes: int | None = MAX_INPUT_BYTES, text_column: str | None = None,
               lang_column: str | None = None, label_column: str | None = None,
               id_column: str | None = None) -> Corpus:
    """Reads a ``.txt`` / ``.csv`` / ``.tsv`` / ``.jsonl`` / ``.parquet`` input file as a
    stream.

    Args:
        path: the file.
        max_texts: the most texts accepted: reading stops with ``TooManyTexts`` (a ValueError)
            as soon as one more is found; None for no limit.
        max_bytes: the most bytes read: reading stops with a ValueError as soon as the file
            passes it (a Parquet file: as soon as its size does); None for no limit.
        text_column: the column holding the texts (default ``text``); not for ``.txt``.
        lang_column, label_column, id_column: the optional columns (default ``lang``,
            ``label``, ``id``, read when the file has them; a name given must exist).

    Returns:
        The corpus; ValueError with a one-line reason for anything unreadable (a missing
        column: the message lists the file's columns).
    """
    columns = columns_of(text_column, lang_column, label_column, id_column)
    parquet = Path(path).suffix.lower() == ".parquet"
    path = _checked_path(path, None if parquet else max_bytes)
    if parquet and max_bytes is not None and text_bytes(path) > max_bytes:
        raise _too_large(path.name, max_bytes)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"Unsupported file type {path.suffix or '(none)'!r} for {path.name}. "
            f"Must be one of: {', '.join(SUFFIXES)}"
        )
    if suffix == ".parquet":
        corpus = read_parquet(path, columns, max_texts)
    elif suffix == ".jsonl":
        corpus = read_jsonl(path, columns, max_texts, max_bytes)
    else:
        with _decoded(path, max_bytes) as decoder:
            batches = _split_lines(decoder)
            if suffix in TABLE_SUFFIXES:
                corpus = _read_table(batches, TABLE_SUFFIXES[suffix], path.name, max_texts,
                                     columns)
            else:
                corpus = _read_lines(batches, path.name, max_texts)
        corpus.encoding = decoder.label
    logger.debug("read %s (%s): %s texts, %s blank, %s changed", path.name, corpus.encoding,
                 len(corpus), len(corpus.skipped), len(corpus.changed))
    return corpus


def column_names(path: str | Path, *, max_bytes: int | None = MAX_INPUT_BYTES) -> list[str]:
    """The columns a table file offers, read cheaply: a Parquet file's schema, a CSV/TSV
    file's header row, the keys of a JSON Lines file's first object; none for a ``.txt``.
    Lets the app offer the columns to read when a file has no ``text`` column.

    Args:
        path: the file.
        max_bytes: the most bytes read; None for no limit.

    Returns:
        The column names in the file's order (a CSV header's cells tidied, not lower-cased).

    Raises:
        ValueError: for a file that cannot be read this far (not Parquet, not JSON, empty).
    """
    import json

    path = _checked_path(path, max_bytes)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return [str(name) for name in pq.read_schema(path).names]
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{path.name} is not a readable Parquet file ({exc})") from None
    if suffix not in (".jsonl", *TABLE_SUFFIXES):
        return []
    with _decoded(path, max_bytes) as decoder:
        lines = _split_lines(decoder)
        if suffix in TABLE_SUFFIXES:
            first = next(_records(lines, TABLE_SUFFIXES[suffix]), None)
            return [_tidy(cell)[0] for cell in first[0]] if first else []
        for batch, _special in lines:
            for raw in batch:
                if raw.strip(_EDGES):
                    try:
                        record = json.loads(raw)
                    except json.JSONDecodeError:
                        raise ValueError(f"{path.name}: its first line is not valid "
                                         "JSON") from None
                    return [str(key) for key in record] if isinstance(record, dict) else []
    return []


def stream_texts(path: str | Path, chunk: int = 1000, *, max_bytes: int | None = None,
                 **columns: str | None) -> Iterator[Corpus]:
    """Reads an input file in pieces of at most ``chunk`` texts, for inputs too large to hold
    (``embed``): a ``.txt`` file is read as a stream, a table is read whole and then cut.
    Each piece's ``rows``, ``skipped`` and ``changed`` are numbered in the whole file.

    Args:
        path: the file.
        chunk: the most texts per piece.
        max_bytes: the most bytes read; None for no limit.
        **columns: ``text_column=`` ... for a table (see ``read_texts``).

    Yields:
        Corpus pieces, in file order; their texts together are ``read_texts(path).texts``.
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    path = _checked_path(path, max_bytes)
    if path.suffix.lower() != ".txt":
        whole = read_texts(path, max_bytes=max_bytes, **columns)
        for start in range(0, max(len(whole), 1), chunk):
            yield Corpus(whole.texts[start : start + chunk],
                         *(None if v is None else v[start : start + chunk]
                           for v in (whole.labels, whole.langs, whole.ids)),
                         rows=whole.rows[start : start + chunk],
                         skipped=whole.skipped if start == 0 else [], source=whole.source,
                         table=whole.table, changed=whole.changed if start == 0 else [],
                         encoding=whole.encoding)
        return
    with _decoded(path, max_bytes) as decoder:
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
               max_bytes: int | None = MAX_INPUT_BYTES, cut: bool = False,
               **columns: str | None) -> Corpus:
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
        **columns: ``text_column=``, ``lang_column=``, ``label_column=``, ``id_column=`` for an
            uploaded table (see ``read_texts``).

    Returns:
        The corpus.

    Raises:
        ValueError: with a message for the user when there is nothing usable.
    """
    try:
        corpus = (read_texts(file, max_texts=limit, max_bytes=max_bytes, **columns) if file
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

