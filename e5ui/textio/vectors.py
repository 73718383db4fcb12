"""Vectors made earlier, read back without encoding: a Parquet file's ``embedding`` column (as
``map --out map.parquet`` writes it) or an ``.npy`` beside a text file (as ``embed --out``
writes it), with what e5ui recorded about them when it wrote them.

What is recorded (``VectorInfo``): the model, its revision, the prompt kind and the exact prefix
the model read, the dimension, whether the rows are L2-normalised and whether each language's
mean was subtracted (``--center-languages``). Parquet files carry it as key-value metadata
under the key ``e5ui`` (JSON); an ``.npy`` carries it in a JSON file beside it,
``emb.npy.json`` (``sidecar_path``). Whether those vectors may stand for the loaded model's is
decided in ``e5ui.encoding.vectors``; this module only reads, writes and checks the arrays.

Rows are read into one float32 (n, d) array, no more copies than the format forces (a
100,000 x 1024 file is 400 MB): a float32 column or ``.npy`` is used as read, other float types
are converted once. Every row must be finite and non-zero; the number of rows must be the
number of texts.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "e5ui-vectors"
VERSION = 1
METADATA_KEY = "e5ui"  # Parquet key-value metadata
COLUMN = "embedding"


@dataclass(frozen=True)
class VectorInfo:
    """What made a file's vectors.

    Attributes:
        model: the model id that encoded them (``describe()["model"]``).
        revision: its revision (a hub commit, "remote ..." for a server), or None.
        kind: the prompt kind ("query", "passage", "symmetric").
        prompt: the exact prefix the model read before each text (e.g. "query: ").
        dim: the dimension.
        normalized: rows are L2-normalised.
        centered: each language's mean embedding was subtracted: no longer the model's vectors.
    """

    model: str
    revision: str | None
    kind: str
    prompt: str
    dim: int
    normalized: bool = True
    centered: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON object written into files."""
        return {"format": FORMAT, "version": VERSION, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Any, source: str) -> VectorInfo:
        """Reads ``to_dict``'s object back; ValueError naming ``source`` and the field."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"{source}: the vectors' metadata is not e5ui's (no "
                             f"'format': '{FORMAT}')")
        if data.get("version") != VERSION:
            raise ValueError(f"{source}: the vectors' metadata has version "
                             f"{data.get('version')!r}; this e5ui reads version {VERSION}")
        checks = {"model": str, "kind": str, "prompt": str, "normalized": bool,
                  "centered": bool}
        for key, kind in checks.items():
            if not isinstance(data.get(key), kind):
                raise ValueError(f"{source}: the vectors' metadata needs {key!r} as a "
                                 f"{kind.__name__}, not {data.get(key)!r}")
        if data.get("revision") is not None and not isinstance(data["revision"], str):
            raise ValueError(f"{source}: the vectors' metadata 'revision' must be a string "
                             "or null")
        dim = data.get("dim")
        if type(dim) is not int or dim < 1:
            raise ValueError(f"{source}: the vectors' metadata 'dim' must be a whole number, "
                             f"not {dim!r}")
        return cls(data["model"], data.get("revision"), data["kind"], data["prompt"], dim,
                   data["normalized"], data["centered"])


@dataclass(eq=False)
class Vectors:
    """Vectors read from a file, one row per text.

    Attributes:
        embeddings: float32 (n, d).
        info: what made them, or None when the file records nothing (e.g. a .npy written by
            sentence-transformers).
        source: the file's name, for messages.
    """

    embeddings: np.ndarray
    info: VectorInfo | None
    source: str

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])


def sidecar_path(npy: str | Path) -> Path:
    """Where the JSON describing ``emb.npy`` lives: ``emb.npy.json``."""
    npy = Path(npy)
    return npy.with_name(npy.name + ".json")


def write_sidecar(npy: str | Path, info: VectorInfo) -> Path:
    """Writes ``info`` beside ``npy`` atomically (a reader never sees half a file)."""
    path = sidecar_path(npy)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(info.to_json() + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def parquet_metadata(info: VectorInfo | None) -> dict[str, str] | None:
    """The Parquet key-value metadata recording ``info`` (None records nothing)."""
    return None if info is None else {METADATA_KEY: info.to_json()}


def has_embeddings(path: str | Path, column: str = COLUMN) -> tuple[bool, bool]:
    """Whether ``path`` is a Parquet file with an ``embedding`` column, and whether e5ui
    recorded what made it (reads the schema only)."""
    path = Path(path)
    if path.suffix.lower() != ".parquet":
        return False, False
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError):
        return False, False
    if column not in schema.names:
        return False, False
    return True, METADATA_KEY.encode() in (schema.metadata or {})


def check_rows(embeddings: np.ndarray, source: str, first_rows: np.ndarray | None = None,
               block: int = 8192) -> None:
    """ValueError naming the first row that is not finite or is all zeros (0-based; its
    number in the file is ``first_rows[i]`` when given). Checked by blocks of rows, so the
    temporaries stay small beside a 400 MB array."""
    for start in range(0, len(embeddings), block):
        rows = embeddings[start:start + block]
        finite = np.isfinite(rows).all(axis=1)
        nonzero = rows.any(axis=1)
        bad = ~(finite & nonzero)
        if bad.any():
            i = start + int(np.argmax(bad))
            row = int(first_rows[i]) if first_rows is not None else i
            what = "holds NaN or infinite values" if not finite[i - start] else "is all zeros"
            raise ValueError(f"{source}: row {row} {what}")


def _float32(values: np.ndarray, source: str) -> np.ndarray:
    if values.dtype == np.float32:
        return values
    if values.dtype.kind != "f":
        raise ValueError(f"{source}: the vectors hold {values.dtype} values, not floats")
    return values.astype(np.float32)


def read_npy(path: str | Path, n_texts: int) -> Vectors:
    """Reads ``emb.npy`` (one row per text, in order) and the JSON beside it, if any.

    Args:
        path: the .npy file.
        n_texts: the number of texts it must hold (``embed`` writes a row per text read,
            blank lines skipped).

    Returns:
        The vectors; ValueError for a file that is not a 2-D float array of ``n_texts``
        finite non-zero rows, or whose JSON is unreadable or says another dimension.
    """
    path = Path(path)
    source = path.name
    try:
        emb = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise ValueError(f"{source} is not a readable .npy file ({exc})") from None
    if emb.ndim != 2 or emb.shape[1] < 1:
        raise ValueError(f"{source} holds an array of shape {emb.shape}, not (texts, "
                         "dimensions)")
    emb = _float32(emb, source)
    if len(emb) != n_texts:
        raise ValueError(f"{source} has {len(emb):,} rows, the text file {n_texts:,} texts; "
                         "they must be written from the same file")
    check_rows(emb, source)
    info = None
    side = sidecar_path(path)
    if side.exists():
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{side.name} is unreadable ({exc})") from None
        info = VectorInfo.from_dict(data, side.name)
    return _checked_dim(Vectors(np.ascontiguousarray(emb), info, source))


def _batch_rows(values, source: str, column: str, first_row: int, d: int | None
                ) -> np.ndarray:
    """One batch of a vector column as a float32 (rows, d) array (a view where the column
    is float32 already); ValueError for a null, ragged or non-float row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = values.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)
            or pa.types.is_fixed_size_list(kind)) or not pa.types.is_floating(kind.value_type):
        raise ValueError(f"{source}: the {column!r} column holds {kind}, not lists of floats")
    n = len(values)
    if values.null_count:
        i = int(np.argmax(values.is_null().to_numpy(zero_copy_only=False)))
        raise ValueError(f"{source}: row {first_row + i} has no vector (null)")
    if pa.types.is_fixed_size_list(kind):
        lengths = np.full(n, kind.list_size)
    else:
        lengths = pc.list_value_length(values).to_numpy(zero_copy_only=False)
    want = d if d is not None else (int(lengths[0]) if n else 0)
    if n and (lengths != want).any():
        i = int(np.argmax(lengths != want))
        raise ValueError(f"{source}: row {first_row + i} has {int(lengths[i])} numbers, "
                         f"not {want}")
    if want < 1 and n:
        raise ValueError(f"{source}: the {column!r} column holds empty vectors")
    flat = values.flatten()  # respects the batch's offsets
    if flat.null_count:
        raise ValueError(f"{source}: the {column!r} column holds null numbers")
    return _float32(flat.to_numpy(zero_copy_only=False), source).reshape(n, want)


def read_parquet(path: str | Path, rows: list[int] | None = None,
                 column: str = COLUMN, batch_rows: int = 8192) -> Vectors:
    """Reads a Parquet file's ``embedding`` column (list or fixed-size list of floats) and
    the metadata e5ui recorded in it.

    The column is read batch by batch into one preallocated float32 array of the rows
    wanted, so memory holds the vectors once (plus a batch), never the file's column twice.

    Args:
        path: the Parquet file.
        rows: the 0-based data rows whose vectors are wanted (``Corpus.rows``: the rows whose
            text was read; blank ones are skipped), increasing; None for all.
        column: the vector column.
        batch_rows: rows decoded at a time.

    Returns:
        The vectors, float32 (len(rows), d); ValueError for a missing column, a null or
        ragged row, a non-float column, NaN, infinite or all-zero rows.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    source = path.name
    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{source} is not a readable Parquet file ({exc})") from None
    with handle:
        schema = handle.schema_arrow
        if column not in schema.names:
            raise ValueError(f"{source} has no {column!r} column (its columns: "
                             f"{', '.join(schema.names)})")
        total = handle.metadata.num_rows
        wanted = None if rows is None else np.asarray(rows, dtype=np.int64)
        if wanted is not None and wanted.size and wanted[-1] >= total:
            raise ValueError(f"{source} has {total:,} rows, but text row {int(wanted[-1])} "
                             "was read")
        count = total if wanted is None else len(wanted)
        out: np.ndarray | None = None
        d: int | None = None
        base = filled = 0
        try:
            for batch in handle.iter_batches(batch_size=batch_rows, columns=[column]):
                part = _batch_rows(batch.column(0), source, column, base, d)
                d = part.shape[1]
                if out is None:
                    out = np.empty((count, d), np.float32)
                if wanted is None:
                    take, at = part, np.arange(len(part))
                else:
                    lo, hi = np.searchsorted(wanted, [base, base + len(part)])
                    at = wanted[lo:hi] - base
                    take = part[at]
                check_rows(take, source, first_rows=base + at)
                out[filled:filled + len(take)] = take
                filled += len(take)
                base += len(part)
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{source}: cannot read row {base + 1} onwards ({exc})") from None
        meta = schema.metadata or {}
    # pyarrow's allocator keeps the decoded batches' memory for reuse: for 100,000 x 1024
    # vectors that is ~600 MB the process would hold for nothing once the rows are copied out.
    pa.default_memory_pool().release_unused()
    if out is None or d is None or d < 1:
        raise ValueError(f"{source}: the {column!r} column holds no vectors")
    info = None
    if METADATA_KEY.encode() in meta:
        try:
            data = json.loads(meta[METADATA_KEY.encode()].decode("utf-8"))
        except ValueError as exc:
            raise ValueError(f"{source}: its e5ui metadata is unreadable ({exc})") from None
        info = VectorInfo.from_dict(data, source)
    return _checked_dim(Vectors(out, info, source))


def _checked_dim(vectors: Vectors) -> Vectors:
    info = vectors.info
    if info is not None and info.dim != vectors.dim:
        raise ValueError(f"{vectors.source}: its metadata says {info.dim} dimensions, its "
                         f"vectors have {vectors.dim}")
    return vectors
