"""Large ``embed`` jobs: the input read in chunks, the embeddings written into the output .npy as
each chunk is done (a memory-mapped array), and a small progress record beside it, so a job that
was killed continues where it stopped (``--resume``) — with a local or a remote encoder alike.

The record (``OUT.progress.json``) says which input (size, modification time and SHA-256), which
model and prompt, how many texts, how many are done, and for every finished chunk a SHA-256 of
its rows (their float32 bytes) and of its texts. A resumed job trusts nothing it has not checked:

- a malformed record is refused, naming the field;
- the .npy must be the array the record describes (header, float32, C order, shape); one that is
  not is refused and left as it is, since it may not be this job's. One cut short is extended and
  its surviving chunks kept, one that is missing or empty is rebuilt: both lose nothing;
- every chunk the record gives as done must have the same texts, finite non-zero rows (of length
  1 when normalised) and the recorded checksum. The job resumes from the first chunk that does
  not, and says so;
- a record written before the checksums existed (version 1) cannot be verified: its job is
  encoded again from the start.

Before the record is deleted at the end, the whole array is checked once more the same way, so a
job never reports success over rows nobody verified; only then is ``OUT.json`` written beside it,
saying which model, revision and prompt made the vectors (``textio.vectors``), so that ``map``,
``neighbours`` and ``similarity`` can use them without encoding. A resumed job encodes the same
chunks as an uninterrupted one would, so the finished array is the same.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from e5ui import textio
from e5ui.encoding.vectors import vector_info
from e5ui.textio.vectors import sidecar_path, write_sidecar

logger = logging.getLogger(__name__)

RECORD_VERSION = 2  # 2: per-chunk checksums of the rows and hashes of the texts
DEFAULT_CHUNK = 1000
# Rows are normalised in float32 (length within ~1e-6 of 1); a damaged row is far off.
NORM_TOLERANCE = 1e-3
_SHA256 = re.compile(r"[0-9a-f]{64}")


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
    rows_sha256: list[str]  # per finished chunk: SHA-256 of its rows as float32 bytes
    texts_sha256: list[str]  # per finished chunk: SHA-256 of its texts


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


def _rows_digest(rows: np.ndarray) -> str:
    """SHA-256 of rows as little-endian float32 bytes."""
    return hashlib.sha256(np.ascontiguousarray(rows, dtype="<f4").tobytes()).hexdigest()


def _texts_digest(texts: Sequence[str]) -> str:
    """SHA-256 of texts, each preceded by its length so that no two lists hash alike."""
    digest = hashlib.sha256()
    for text in texts:
        raw = text.encode("utf-8", "surrogatepass")
        digest.update(len(raw).to_bytes(8, "little"))
        digest.update(raw)
    return digest.hexdigest()


def _save(record: Record, out: Path) -> None:
    path = record_path(out)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(record)), encoding="utf-8")
    os.replace(tmp, path)


def _start_again(out: Path) -> str:
    return f"delete {record_path(out)} and {out} to start the job again"


def _load(out: Path) -> dict | None:
    """The record's JSON object, or None when there is no record."""
    path = record_path(out)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ValueError(f"The progress record {path} is unreadable ({exc}); "
                         f"{_start_again(out)}") from None
    if not isinstance(data, dict):
        raise ValueError(f"The progress record {path} is not a JSON object; {_start_again(out)}")
    return data


def _shown(value: object) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:39] + "…"


def _parse(data: dict, out: Path) -> Record:
    """The record of the current version, checked field by field.

    Raises:
        ValueError: naming the record file and what is wrong with it.
    """

    def bad(what: str) -> ValueError:
        return ValueError(f"The progress record {record_path(out)} is not valid: {what}; "
                          f"{_start_again(out)}")

    names = [f.name for f in fields(Record)]
    missing = [name for name in names if name not in data]
    if missing:
        raise bad(f"it lacks {', '.join(map(repr, missing))}")
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise bad(f"it has unknown field(s) {', '.join(map(repr, unknown))}")

    def whole(key: str, least: int) -> int:
        value = data[key]
        if type(value) is not int or value < least:  # not bool, not 1.0
            raise bad(f"{key!r} must be a whole number of at least {least}, not {_shown(value)}")
        return value

    for key, kind in (("input", dict), ("model", str), ("kind", str), ("normalize", bool)):
        if not isinstance(data[key], kind):
            raise bad(f"{key!r} must be a {kind.__name__}, not {_shown(data[key])}")
    chunk, n, done = whole("chunk", 1), whole("n", 1), whole("done", 0)
    whole("dim", 1)
    if done > n:
        raise bad(f"'done' ({done}) is more than 'n' ({n}), the number of texts")
    if done % chunk and done != n:
        raise bad(f"'done' ({done}) does not end a chunk of {chunk} texts")
    finished = -(-done // chunk)
    for key in ("rows_sha256", "texts_sha256"):
        value = data[key]
        if not isinstance(value, list) or not all(
                isinstance(h, str) and _SHA256.fullmatch(h) for h in value):
            raise bad(f"{key!r} must be a list of SHA-256 digests, not {_shown(value)}")
        if len(value) != finished:
            raise bad(f"{key!r} lists {len(value)} chunk(s), but 'done' ({done}) means "
                      f"{finished}")
    return Record(**data)


def _open_existing(out: Path, record: Record) -> tuple[np.memmap | None, str | None]:
    """Checks ``out`` against its record before opening it for writing: numpy's r+ memmap
    would silently pad a file that was cut short with zeros.

    Returns:
        The array (None when there is nothing to keep: the file is missing or empty) and a note
        when the file had to be restored.

    Raises:
        ValueError: the file is not the array the record describes (it is left as it is).
    """
    try:
        size = out.stat().st_size
    except FileNotFoundError:
        return None, f"{out} was missing, so it is written again from the start"
    if size == 0:
        return None, f"{out} was empty, so it is written again from the start"

    def refuse(what: str) -> ValueError:
        return ValueError(f"{out} is not the array its progress record describes: {what}; "
                          f"{_start_again(out)}")

    try:
        with out.open("rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f".npy format version {version[0]}.{version[1]} is not one "
                                 "e5ui writes")
            offset = f.tell()
    except (ValueError, EOFError) as exc:
        raise refuse(f"its .npy header cannot be read ({exc})") from None
    if dtype != np.dtype("<f4"):
        raise refuse(f"it holds {dtype} values, not float32")
    if fortran:
        raise refuse("it is stored in Fortran order")
    if tuple(shape) != (record.n, record.dim):
        raise refuse(f"its shape is {tuple(shape)}, not ({record.n}, {record.dim})")
    expected = offset + record.n * record.dim * 4
    if size > expected:
        raise refuse(f"it is {size} bytes long, more than the {expected} its header says")
    note = None
    if size < expected:
        # Extended on purpose here; the rows lost read as zeros and fail verification below.
        with out.open("r+b") as f:
            f.truncate(expected)
        note = (f"{out} was cut short ({size} of {expected} bytes); the rows it still held "
                "were verified and the rest encoded again")
    return np.lib.format.open_memmap(out, mode="r+"), note


def _row_problem(rows: np.ndarray, normalize: bool) -> tuple[int, str] | None:
    """The first bad row of ``rows`` (its index, what is wrong), or None when all are good."""
    finite = np.isfinite(rows).all(axis=1)
    nonzero = rows.any(axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        norms = np.linalg.norm(rows.astype(np.float64), axis=1)
    unit = np.abs(norms - 1) <= NORM_TOLERANCE if normalize else np.ones(len(rows), bool)
    good = finite & nonzero & unit
    if good.all():
        return None
    i = int(np.argmin(good))
    if not finite[i]:
        return i, "holds NaN or infinite values"
    if not nonzero[i]:
        return i, "is all zeros"
    return i, f"has length {norms[i]:.4g}, not 1"


def _chunk_problem(array: np.ndarray, record: Record, index: int, start: int,
                   end: int) -> str | None:
    """What is wrong with rows ``start:end`` of ``array`` (chunk ``index``), or None."""
    rows = np.asarray(array[start:end])
    bad = _row_problem(rows, record.normalize)
    if bad is not None:
        return f"row {start + bad[0]} {bad[1]}"
    if _rows_digest(rows) != record.rows_sha256[index]:
        return "its rows differ from those written (checksum mismatch)"
    return None


def _verify_all(array: np.ndarray, record: Record) -> str | None:
    """Checks every chunk of a finished array against the record; what is wrong, or None."""
    for index, start in enumerate(range(0, record.n, record.chunk)):
        end = min(start + record.chunk, record.n)
        problem = _chunk_problem(array, record, index, start, end)
        if problem is not None:
            return f"chunk {index + 1} (rows {start}–{end - 1}): {problem}"
    return None


def count_texts(path: Path, chunk: int, columns: dict[str, str | None] | None = None) -> int:
    """How many texts the input holds (one streaming pass; ``columns``: ``text_column=`` ...)."""
    return sum(len(piece) for piece in textio.stream_texts(path, chunk, **(columns or {})))


@dataclass
class JobResult:
    """What ``run`` did. A resumed job kept ``resumed_from`` rows, all verified, in
    ``verified_chunks`` chunks, and encoded the rest."""

    n: int
    dim: int
    resumed_from: int
    notes: list[str]
    resumed: bool = False
    verified_chunks: int = 0


def _previous(data: dict | None, out: Path, wanted: dict, resume: bool
              ) -> tuple[Record | None, int | None]:
    """The unfinished job recorded beside ``out``: its parsed record (None for an older record
    without checksums) and the chunk size it used (None when there is no record)."""
    if data is None:
        return None, None
    if not resume:
        done, total = data.get("done"), data.get("n")
        counts = (f" ({done} of {total} texts)"
                  if type(done) is int and type(total) is int else "")
        raise ValueError(f"{out} holds an unfinished job{counts}; pass --resume to continue "
                         f"it, or delete {record_path(out).name}")
    record, chunk = None, None
    version = data.get("version")
    if type(version) is int and 1 <= version < RECORD_VERSION:
        # An older record holds no checksums: what it gives as done cannot be verified.
        if type(data.get("chunk")) is int and data["chunk"] > 0:
            chunk = data["chunk"]
    elif version != RECORD_VERSION:
        raise ValueError(f"The progress record {record_path(out)} is not valid: 'version' "
                         f"is {_shown(version)}, not one this e5ui knows (1 to "
                         f"{RECORD_VERSION}); {_start_again(out)}")
    else:
        record = _parse(data, out)
        chunk = record.chunk
    for key, value in wanted.items():
        if data.get(key) != value:
            raise ValueError(f"The unfinished job in {out} was started with another {key} "
                             f"({data.get(key)!r}); delete {record_path(out).name} "
                             "to start again")
    return record, chunk


class _Job:
    """One run of ``run``: the record, the memory-mapped output and what the user is told."""

    def __init__(self, encoder, source: Path, out: Path, kind: str, normalize: bool,
                 chunk: int, record: Record | None, signature: dict, model: str,
                 columns: dict[str, str | None] | None = None):
        self.encoder, self.source, self.out = encoder, source, out
        self.columns = columns or {}
        self.kind, self.normalize, self.chunk = kind, normalize, chunk
        self.record, self.signature, self.model = record, signature, model
        self.array: np.memmap | None = None
        self.read = textio.Corpus([], source=source.name)  # what reading noticed, all chunks
        self.truncated: list[str] = []
        self.kept = self.verified_chunks = 0  # rows and chunks of an earlier run that verified
        self.failed: list[str] = []  # why the first chunk given as done was not kept
        self.claimed = 0 if record is None else record.done  # rows the record gave as done

    def open(self, notes: list[str]) -> None:
        """Opens the earlier run's array, if it can be kept."""
        if self.record is None:
            return
        self.array, restored = _open_existing(self.out, self.record)
        if restored is not None:
            notes.append(restored)
        if self.array is None:  # nothing on disk to keep
            self.record.done, self.record.rows_sha256, self.record.texts_sha256 = 0, [], []

    def keep(self, index: int, start: int, end: int, texts_digest: str) -> bool:
        """Whether the chunk at rows start..end, given as done, verifies; the first that does
        not cuts the record back to the chunks before it."""
        record = self.record
        if record is None or self.failed or end > record.done:
            return False
        problem = ("its texts differ from those encoded"
                   if record.texts_sha256[index] != texts_digest
                   else _chunk_problem(self.array, record, index, start, end))
        if problem is None:
            self.kept, self.verified_chunks = end, self.verified_chunks + 1
            return True
        self.failed.append(f"chunk {index + 1} (rows {start}–{end - 1}): {problem}")
        # From here the record says only the verified chunks are done, so a job killed while
        # they are encoded again resumes here, not over rows it rewrote.
        record.done = start
        del record.rows_sha256[index:], record.texts_sha256[index:]
        _save(record, self.out)
        return False

    def encode(self, piece, start: int, end: int, n: int, texts_digest: str) -> None:
        """Encodes one chunk, checks its rows and writes them before the record says so."""
        result = self.encoder.encode_detailed(piece.texts, kind=self.kind,
                                              normalize=self.normalize)
        rows = np.asarray(result.embeddings, dtype=np.float32)
        if self.record is not None:
            dim = self.record.dim
        else:
            dim = rows.shape[1] if rows.ndim == 2 else 0
        if rows.shape != (len(piece), dim):
            raise ValueError(f"The encoder returned embeddings of shape {rows.shape} for "
                             f"{len(piece)} texts of {dim} dimensions; nothing of rows "
                             f"{start}–{end - 1} was written")
        bad = _row_problem(rows, self.normalize)
        if bad is not None:
            raise ValueError(f"The encoder returned an unusable embedding for "
                             f"{piece.where(bad[0])} of {self.source.name}: it {bad[1]}; "
                             f"nothing of rows {start}–{end - 1} was written")
        self.truncated.extend(f"{piece.where(t.index)} ({t.tokens} tokens)"
                              for t in result.truncated)
        if self.array is None:
            self.array = np.lib.format.open_memmap(self.out, mode="w+", dtype=np.float32,
                                                   shape=(n, dim))
            if self.record is None:
                self.record = Record(RECORD_VERSION, self.signature, self.model, self.kind,
                                     self.normalize, self.chunk, n, dim, 0, [], [])
        self.array[start:end] = rows
        self.array.flush()  # the rows are on disk before the record says so
        self.record.rows_sha256.append(_rows_digest(rows))
        self.record.texts_sha256.append(texts_digest)
        self.record.done = end
        _save(self.record, self.out)

    def run(self, n: int, progress: Callable[[int, int], None] | None) -> None:
        """Every chunk of the input: kept when it verifies, encoded otherwise."""
        position = 0  # texts read so far, in file order
        for piece in textio.stream_texts(self.source, self.chunk, **self.columns):
            self.read.skipped.extend(piece.skipped)
            self.read.changed.extend(piece.changed)
            self.read.encoding, self.read.table = piece.encoding, piece.table
            if not piece.texts:
                continue
            end = position + len(piece)
            if end > n:
                raise ValueError(f"{self.source.name} now holds more than the {n} texts the "
                                 f"job started with; {_start_again(self.out)}")
            digest = _texts_digest(piece.texts)
            if not self.keep(position // self.chunk, position, end, digest):
                self.encode(piece, position, end, n, digest)
                if progress is not None:
                    progress(end, n)
            position = end
        if position != n or self.array is None or self.record is None:
            raise ValueError(f"{self.source.name} now holds {position} texts, not the {n} the "
                             f"job started with; {_start_again(self.out)}")

    def finish(self, notes: list[str]) -> None:
        """Verifies the whole array, removes the record and says what was encoded again."""
        problem = _verify_all(self.array, self.record)
        self.array = None
        if problem is not None:
            raise ValueError(f"{self.out} did not verify after writing: {problem}. Its "
                             "progress record is kept: run the same command with --resume to "
                             "encode the rows that fail again")
        # What made the vectors, beside them, only once they verified: map, neighbours and
        # similarity read it to use them without encoding (``encoding.vectors``).
        info = vector_info(self.encoder, self.kind, normalized=self.normalize,
                           dim=self.record.dim)
        if info is not None:
            write_sidecar(self.out, info)
        record_path(self.out).unlink(missing_ok=True)
        if self.failed:
            chunks = -(-(self.claimed - self.kept) // self.chunk)
            notes.append(f"{self.claimed - self.kept} row(s) in {chunks} chunk(s) that the "
                         "progress record gave as done were encoded again, from the first "
                         f"that did not verify: {self.failed[0]}")
        notes.extend(self.read.notes())
        if self.truncated:
            cut, limit = self.truncated, self.encoder.max_length
            more = "" if len(cut) <= 20 else f" and {len(cut) - 20} more"
            notes.append(f"{len(cut)} text(s) longer than {limit} tokens were truncated (the "
                         f"model reads only the first {limit}): {', '.join(cut[:20])}{more}")


def run(encoder, source: Path, out: Path, kind: str = "query", normalize: bool = True,
        resume: bool = False, chunk: int = DEFAULT_CHUNK,
        progress: Callable[[int, int], None] | None = None,
        columns: dict[str, str | None] | None = None) -> JobResult:
    """Embeds every text of ``source`` into ``out`` (.npy, float32), chunk by chunk.

    Args:
        encoder: an Encoder or RemoteEncoder.
        source: the input file (.txt is streamed; tables are read whole).
        out: the .npy to write.
        kind: the prompt ("query", "passage", "symmetric").
        normalize: L2-normalise the embeddings.
        resume: continue the unfinished job recorded beside ``out``; only the chunks that
            verify are kept (see the module's docstring).
        chunk: texts per chunk (a resumed job keeps the one it started with).
        progress: called as progress(texts done, total).
        columns: the columns of a table to read (``text_column=`` ..., see
            ``textio.read_texts``); a resumed job's chunks are verified by their texts, so a
            different column is caught there.

    Returns:
        The job's size, dimension, where it resumed, and notes for the user.

    Raises:
        ValueError: an unfinished job without ``resume``, a record that is malformed or does
            not match the input or the model, an output that is not the record's array, an
            encoder that returns unusable rows, an array that does not verify at the end (the
            record is then kept), or bad input.
    """
    model = str(encoder.describe()["model"])
    signature = _input_signature(source)
    data = _load(out)
    wanted = {"input": signature, "model": model, "kind": kind, "normalize": normalize}
    record, recorded_chunk = _previous(data, out, wanted, resume)
    chunk = recorded_chunk or chunk
    n = record.n if record is not None else count_texts(source, chunk, columns)
    if n == 0:
        raise ValueError(f"The input ({source.name}) contains no text")
    notes: list[str] = []
    if data is not None and record is None:
        notes.append(f"The progress record {record_path(out)} was written by an older e5ui "
                     "that kept no checksums, so the rows it gave as done could not be "
                     f"verified; all {n} texts were encoded again")
    # The array is about to change: a description of an earlier one must not outlive it.
    sidecar_path(out).unlink(missing_ok=True)
    job = _Job(encoder, source, out, kind, normalize, chunk, record, signature, model, columns)
    job.open(notes)
    job.run(n, progress)
    job.finish(notes)
    return JobResult(n, job.record.dim, job.kept, notes, resumed=data is not None,
                     verified_chunks=job.verified_chunks)
