"""Vectors and columns for other tools, written exactly: ``.npy`` (numpy), Parquet (Apple's
Embedding Atlas and any dataframe library) and the TensorFlow Embedding Projector's pair of
TSV files (its ``metadata.tsv`` through ``tables``, like every table e5ui writes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from e5ui.textio.tables import _suffix, write_unquoted_tsv


def write_npy(path: str | Path, embeddings: np.ndarray) -> Path:
    """Writes a float32 .npy file."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise ValueError(f"Embeddings are written as .npy, not {path.suffix or '(none)'!r}")
    np.save(path, np.asarray(embeddings, dtype=np.float32))
    return path



def write_parquet(path: str | Path, columns: dict[str, Any],
                  metadata: dict[str, str] | None = None) -> Path:
    """Writes columns (lists of str / int / float, or a 2-D float array for a vector column)
    as a Parquet file, e.g. for Apple's Embedding Atlas; values are written exactly.
    ``metadata``: key-value metadata of the file (``vectors.parquet_metadata``: what made
    its vectors)."""
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
    table = pa.table(arrays)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    pq.write_table(table, path)
    return path



def write_projector(folder: str | Path, vectors: np.ndarray, header: list[str],
                    rows: list[list]) -> list[Path]:
    """Writes the TensorFlow Embedding Projector pair (projector.tensorflow.org, "Load"):
    ``vectors.tsv`` (one row of tab-separated floats per text, no header) and
    ``metadata.tsv`` (a header, then one row per text; cells as ``write_rows`` writes them,
    text neutralised against spreadsheet formulas, but tabs and line breaks made spaces instead
    of quoted, since the projector has no quoting: ``write_unquoted_tsv``)."""
    folder = Path(folder)
    vec = np.asarray(vectors, dtype=np.float32)
    if vec.ndim != 2 or vec.shape[0] != len(rows):
        raise ValueError(f"got {vec.shape[0] if vec.ndim else 0} vectors for {len(rows)} rows")
    vectors_path, metadata_path = folder / "vectors.tsv", folder / "metadata.tsv"
    with vectors_path.open("w", encoding="utf-8", newline="") as f:
        np.savetxt(f, vec, fmt="%.7g", delimiter="\t", newline="\n")
    return [vectors_path, write_unquoted_tsv(metadata_path, header, rows)]
