"""Parquet inputs, read with pyarrow: only the columns asked for (an ``embedding`` column, as
``map --out map.parquet`` writes it, is never read), batch by batch, stopping as soon as the text
limit is passed. The byte limit applies to the file's size less its ``embedding`` column
(``text_bytes``). A row is the 0-based data row.

Types: the text and ``lang`` columns must hold strings (a dictionary-encoded string column, as
pandas writes a categorical, counts); ``id`` and ``label`` may also hold integers, written as
decimals. A null is a blank cell; a blank text skips its row (listed).
"""

from __future__ import annotations

from pathlib import Path

from e5ui.textio.columns import ROLES, Columns, _Rows
from e5ui.textio.corpus import Corpus

# Rows decoded at a time: stopping at the text limit decodes at most this many more.
BATCH_ROWS = 4096


def _kind(dtype) -> str | None:
    """"string" or "integer" for the types a column may hold ("null": only nulls, as pyarrow
    types a column of None), else None."""
    import pyarrow as pa

    if pa.types.is_null(dtype):
        return "null"
    if pa.types.is_dictionary(dtype):
        dtype = dtype.value_type
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or (
            hasattr(pa.types, "is_string_view") and pa.types.is_string_view(dtype)):
        return "string"
    if pa.types.is_integer(dtype):
        return "integer"
    return None


def text_bytes(path: Path, vectors: str = "embedding") -> int:
    """The file's size without its vector column's bytes: what the input byte limit counts
    (a 100,000-text map.parquet is 400 MB of vectors and a few MB of text; its vectors are read
    by ``textio.vectors``, never decoded here)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    size = path.stat().st_size
    try:
        meta = pq.ParquetFile(path).metadata
    except (pa.ArrowException, OSError):
        return size  # unreadable: read_parquet says so
    skipped = 0
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for c in range(group.num_columns):
            column = group.column(c)
            if column.path_in_schema.split(".", 1)[0] == vectors:
                skipped += column.total_compressed_size
    return size - skipped


def read_parquet(path: Path, columns: Columns, max_texts: int | None,
                 batch_rows: int = BATCH_ROWS) -> Corpus:
    """Reads a checked ``.parquet`` file (see the module's rules).

    Args:
        path: the file (already checked to exist and to fit the byte limit).
        columns: the column names to read.
        max_texts: the most texts accepted; None for no limit.
        batch_rows: rows decoded at a time.

    Returns:
        The corpus; ValueError with a one-line reason for anything unreadable.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = path.name
    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{source} is not a readable Parquet file ({exc})") from None
    with handle:
        schema = handle.schema_arrow
        found = columns.find(schema.names, source)
        for role, index in found.items():
            field = schema.field(index)
            kind = _kind(field.type)
            if kind not in ("string", "null") and not (kind == "integer"
                                                       and role in ("id", "label")):
                allowed = "strings or integers" if role in ("id", "label") else "strings"
                raise ValueError(f"{source}: the {field.name!r} column holds {field.type}, "
                                 f"not {allowed}")
        optional = [role for role in ROLES if role != "text" and role in found]
        rows = _Rows(source, optional, max_texts, table=True)
        names = {role: schema.names[index] for role, index in found.items()}
        base = 0
        try:
            for batch in handle.iter_batches(batch_size=batch_rows,
                                             columns=list(dict.fromkeys(names.values()))):
                cells = {role: batch.column(name).to_pylist() for role, name in names.items()}
                texts = cells.pop("text")
                for i, text in enumerate(texts):
                    values = {role: None if v[i] is None else str(v[i])
                              for role, v in cells.items()}
                    rows.add(base + i, text, values)
                base += len(texts)
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{source}: cannot read row {base + 1} onwards ({exc})") from None
    return rows.done()
