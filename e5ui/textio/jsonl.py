"""JSON Lines inputs: one JSON object per line, decoded and split exactly as ``.txt`` files are
(UTF-8, a BOM tolerated, read as a stream that stops at the byte limit), each line parsed by the
json module. A row is the file's 0-based line, so messages say "line N" as for ``.txt``.

Values: the text and ``lang`` must be JSON strings; an ``id`` or ``label`` may also be a number
(written as JSON wrote it: ``7`` -> "7", ``2.5`` -> "2.5"), since ids and class labels are often
numbers. ``null`` or a missing key is a blank cell; a blank text skips its line (listed).
"""

from __future__ import annotations

import json
from pathlib import Path

from e5ui.textio.columns import ROLES, Columns, _index, _Rows, missing
from e5ui.textio.corpus import Corpus
from e5ui.textio.decode import _EDGES, _decoded, _split_lines

_KINDS = {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
          int: "a number", float: "a number", type(None): "null"}


def _cell(value: object, role: str, name: str, line: int, source: str) -> str | None:
    """A JSON value as a cell: strings as they are; numbers for ids and labels; null as blank."""
    if value is None or isinstance(value, str):
        return value
    if role in ("id", "label") and isinstance(value, int | float) and not isinstance(value, bool):
        return json.dumps(value)
    allowed = "a string or a number" if role in ("id", "label") else "a string"
    raise ValueError(f"{source}: line {line + 1}: {name!r} is {_KINDS.get(type(value), 'a value')}"
                     f", not {allowed}")


def read_jsonl(path: Path, columns: Columns, max_texts: int | None,
               max_bytes: int | None) -> Corpus:
    """Reads a checked ``.jsonl`` file (see the module's rules).

    Args:
        path: the file (already checked to exist and to fit ``max_bytes``).
        columns: the column names to read.
        max_texts: the most texts accepted; None for no limit.
        max_bytes: the most bytes read; None for no limit.

    Returns:
        The corpus; ValueError naming the line for anything unreadable.
    """
    source = path.name
    optional = [role for role in ROLES if role != "text"]
    rows = _Rows(source, optional, max_texts, table=False)
    keys: list[str] = []  # every key seen so far, in order, for the missing-column message
    seen: dict[str, str] = {}  # role -> the key it was found under
    line = 0
    with _decoded(path, max_bytes) as decoder:
        for batch, _special in _split_lines(decoder):
            for raw in batch:
                if not raw.strip(_EDGES):
                    rows.corpus.skipped.append(line)
                    line += 1
                    continue
                try:
                    record = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{source}: line {line + 1} is not valid JSON "
                                     f"({exc.msg}, column {exc.colno})") from None
                if not isinstance(record, dict):
                    raise ValueError(f"{source}: line {line + 1} is "
                                     f"{_KINDS.get(type(record), 'a value')}, not a JSON object")
                for key in record:
                    if key not in keys:
                        keys.append(key)
                for role in ROLES:
                    if role not in seen:
                        index = _index(columns.name(role), list(record))
                        if index is not None:
                            seen[role] = list(record)[index]
                if "text" not in seen:  # the first object decides: a text column, or none
                    raise missing(source, columns.name("text"), keys)
                cells = {role: _cell(record.get(key), role, key, line, source)
                         for role, key in seen.items()}
                rows.add(line, cells.pop("text"), cells)
                line += 1
        rows.corpus.encoding = decoder.label
    for role in optional:
        if columns.required(role) and role not in seen and (rows.corpus.texts or keys):
            raise missing(source, columns.name(role), keys)
    return rows.done([role for role in optional if role in seen])
