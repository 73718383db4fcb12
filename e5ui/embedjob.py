"""Large ``embed`` jobs: the input read in chunks, the embeddings written into the output .npy as
each chunk is done (a memory-mapped array), and a small progress record beside it, so a job that
was killed continues where it stopped (``--resume``) — with a local or a remote encoder alike.

The record (``OUT.progress.json``) says which input (size, modification time and SHA-256), which
model and prompt, how many texts, and how many are done. A resumed job encodes the same chunks
as an uninterrupted one would, so the finished array is the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from e5ui import textio

logger = logging.getLogger(__name__)

RECORD_VERSION = 1
DEFAULT_CHUNK = 1000


@dataclass
class Record:
    """What a job is and how far it got."""

    version: int
    input: dict
    model: str
    kind: str
    normalize: bool
    chunk: int
    n: int
    dim: int
    done: int


def record_path(out: Path) -> Path:
    """Where the progress record of ``out`` lives."""
    return out.with_name(out.name + ".progress.json")


def _input_signature(path: Path) -> dict:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    stat = path.stat()
    return {"name": path.name, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "sha256": digest.hexdigest()}


def _save(record: Record, out: Path) -> None:
    path = record_path(out)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(record)), encoding="utf-8")
    os.replace(tmp, path)


def _load(out: Path) -> Record | None:
    try:
        data = json.loads(record_path(out).read_text(encoding="utf-8"))
        return Record(**data)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{record_path(out).name} is unreadable ({exc}); delete it and "
                         "start again") from None


def count_texts(path: Path, chunk: int) -> int:
    """How many texts the input holds (one streaming pass)."""
    return sum(len(piece) for piece in textio.stream_texts(path, chunk))


@dataclass
class JobResult:
    """What ``run`` did."""

    n: int
    dim: int
    resumed_from: int
    notes: list[str]


def run(encoder, source: Path, out: Path, kind: str = "query", normalize: bool = True,
        resume: bool = False, chunk: int = DEFAULT_CHUNK,
        progress: Callable[[int, int], None] | None = None) -> JobResult:
    """Embeds every text of ``source`` into ``out`` (.npy, float32), chunk by chunk.

    Args:
        encoder: an Encoder or RemoteEncoder.
        source: the input file (.txt is streamed; tables are read whole).
        out: the .npy to write.
        kind: the prompt ("query", "passage", "symmetric").
        normalize: L2-normalise the embeddings.
        resume: continue the unfinished job recorded beside ``out``.
        chunk: texts per chunk (a resumed job keeps the one it started with).
        progress: called as progress(texts done, total).

    Returns:
        The job's size, dimension, where it resumed, and notes for the user.

    Raises:
        ValueError: an unfinished job without ``resume``, a record that does not match the
            input or the model, or bad input.
    """
    model = str(encoder.describe()["model"])
    signature = _input_signature(source)
    record = _load(out)
    if record is not None and not resume:
        raise ValueError(f"{out} holds an unfinished job ({record.done} of {record.n} texts); "
                         f"pass --resume to continue it, or delete {record_path(out).name}")
    if record is not None:
        wanted = {"input": signature, "model": model, "kind": kind, "normalize": normalize}
        for key, value in wanted.items():
            if getattr(record, key) != value:
                raise ValueError(f"The unfinished job in {out} was started with another {key} "
                                 f"({getattr(record, key)!r}); delete {record_path(out).name} "
                                 "to start again")
        chunk = record.chunk
    n = record.n if record is not None else count_texts(source, chunk)
    if n == 0:
        raise ValueError(f"The input ({source.name}) contains no text")
    read = textio.Corpus([], source=source.name)  # what reading noticed, over all chunks
    truncated: list[str] = []
    array = None if record is None else np.load(out, mmap_mode="r+")
    start = 0 if record is None else record.done
    position = 0  # texts read so far, in file order
    for piece in textio.stream_texts(source, chunk):
        read.skipped.extend(piece.skipped)
        read.changed.extend(piece.changed)
        read.encoding, read.table = piece.encoding, piece.table
        end = position + len(piece)
        if end <= start or not piece.texts:  # done before the job was stopped
            position = end
            continue
        result = encoder.encode_detailed(piece.texts, kind=kind, normalize=normalize)
        truncated.extend(f"{piece.where(t.index)} ({t.tokens} tokens)" for t in result.truncated)
        if array is None:
            dim = int(result.embeddings.shape[1])
            array = np.lib.format.open_memmap(out, mode="w+", dtype=np.float32, shape=(n, dim))
            record = Record(RECORD_VERSION, signature, model, kind, normalize, chunk, n, dim, 0)
        array[position:end] = result.embeddings
        array.flush()  # the rows are on disk before the record says so
        position = record.done = end
        _save(record, out)
        if progress is not None:
            progress(end, n)
    del array
    record_path(out).unlink(missing_ok=True)
    notes = read.notes()
    if truncated:
        more = "" if len(truncated) <= 20 else f" and {len(truncated) - 20} more"
        notes.append(f"{len(truncated)} text(s) longer than {encoder.max_length} tokens were "
                     f"truncated (the model reads only the first {encoder.max_length}): "
                     f"{', '.join(truncated[:20])}{more}")
    return JobResult(n, record.dim, start, notes)
