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


def has_embeddings(path: str | Path, column: str = COLUMN) -> bool:
    """Whether ``path`` is a Parquet file with an ``embedding`` column (reads the schema only)."""
    path = Path(path)
    if path.suffix.lower() != ".parquet":
        return False
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return column in pq.read_schema(path).names
    except (pa.ArrowException, OSError):
        return False


def check_rows(embeddings: np.ndarray, source: str, first_row: int = 0) -> None:
    """ValueError naming the first row that is not finite or is all zeros (0-based)."""
    finite = np.isfinite(embeddings).all(axis=1)
    if not finite.all():
        i = int(np.argmin(finite))
        raise ValueError(f"{source}: row {first_row + i} holds NaN or infinite values")
    nonzero = embeddings.any(axis=1)
    if not nonzero.all():
        i = int(np.argmin(nonzero))
        raise ValueError(f"{source}: row {first_row + i} is all zeros")


def _float32(values: np.ndarray, source: str) -> np.ndarray:
    if values.dtype == np.float32:
        return values
    if values.dtype.kind != "f":
        raise ValueError(f"{source}: the vectors hold {values.dtype} values, not floats")
    return values.astype(np.float32)


def _selected(emb: np.ndarray, rows: list[int] | None, source: str) -> np.ndarray:
    """The rows of the texts actually read (a blank text's row has a vector nobody needs)."""
    if rows is None or (len(rows) == len(emb) and (not rows or rows[-1] == len(rows) - 1)):
        return emb  # every row, in order: no copy
    if rows and max(rows) >= len(emb):
        raise ValueError(f"{source} has {len(emb):,} rows, but text row {max(rows)} was read")
    return emb[np.asarray(rows, dtype=np.int64)]


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


def read_parquet(path: str | Path, rows: list[int] | None = None,
                 column: str = COLUMN) -> Vectors:
    """Reads a Parquet file's ``embedding`` column (list or fixed-size list of floats) and
    the metadata e5ui recorded in it.

    Args:
        path: the Parquet file.
        rows: the 0-based data rows whose vectors are wanted (``Corpus.rows``: the rows whose
            text was read; blank ones are skipped); None for all.
        column: the vector column.

    Returns:
        The vectors, float32 (len(rows), d); ValueError for a missing column, a null or
        ragged row, a non-float column, NaN, infinite or all-zero rows.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = Path(path)
    source = path.name
    try:
        handle = pq.ParquetFile(path)
        schema = handle.schema_arrow
        if column not in schema.names:
            raise ValueError(f"{source} has no {column!r} column (its columns: "
                             f"{', '.join(schema.names)})")
        values = handle.read(columns=[column]).column(column).combine_chunks()
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{source} is not a readable Parquet file ({exc})") from None
    kind = values.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)
            or pa.types.is_fixed_size_list(kind)) or not pa.types.is_floating(kind.value_type):
        raise ValueError(f"{source}: the {column!r} column holds {kind}, not lists of floats")
    if values.null_count:
        first = int(np.argmax(values.is_null().to_numpy(zero_copy_only=False)))
        raise ValueError(f"{source}: row {first} has no vector (null)")
    n = len(values)
    if pa.types.is_fixed_size_list(kind):
        d = kind.list_size
    else:
        lengths = pc.list_value_length(values).to_numpy(zero_copy_only=False)
        d = int(lengths[0]) if n else 0
        if n and (lengths != d).any():
            i = int(np.argmax(lengths != d))
            raise ValueError(f"{source}: row {i} has {int(lengths[i])} numbers, row 0 has {d}")
    flat = values.flatten()  # respects offsets; no copy for a plain column
    if flat.null_count:
        raise ValueError(f"{source}: the {column!r} column holds null numbers")
    emb = _float32(flat.to_numpy(zero_copy_only=False), source).reshape(n, d)
    if d < 1:
        raise ValueError(f"{source}: the {column!r} column holds empty vectors")
    emb = _selected(emb, rows, source)
    check_rows(emb, source)
    info = None
    meta = schema.metadata or {}
    if METADATA_KEY.encode() in meta:
        try:
            data = json.loads(meta[METADATA_KEY.encode()].decode("utf-8"))
        except ValueError as exc:
            raise ValueError(f"{source}: its e5ui metadata is unreadable ({exc})") from None
        info = VectorInfo.from_dict(data, source)
    return _checked_dim(Vectors(emb, info, source))


def _checked_dim(vectors: Vectors) -> Vectors:
    info = vectors.info
    if info is not None and info.dim != vectors.dim:
        raise ValueError(f"{vectors.source}: its metadata says {info.dim} dimensions, its "
                         f"vectors have {vectors.dim}")
    return vectors
