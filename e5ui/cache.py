"""Embedding cache: an in-memory LRU bounded in bytes, and an optional SQLite store on disk.

A key names everything that changes a vector (STYLE.md 5): the model, its revision, the dtype,
the maximum length, the exact text fed to the model (prefix included) and a format version.
Vectors are stored before L2 normalisation, so ``normalize=`` is applied after a hit.

The disk store is a convenience, never a requirement: when it is damaged, read-only or on a
full disk, the cache says so once (a ``CacheWarning`` and a log line per file and cause, for
the whole process) and goes on in memory. It is capped in bytes (the oldest rows written go
first) and closed when the process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import hashlib
import logging
import math
import os
import shutil
import sqlite3
import tempfile
import threading
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Bump when the encoding recipe changes in a way the other key fields do not capture.
CACHE_VERSION = 1
DEFAULT_MEMORY_BYTES = 512 * 2**20
# About 500k e5-large vectors (4 KB each): a few days of heavy use, and small next to a model.
DEFAULT_DISK_BYTES = 2 * 2**30
# Eviction brings the store down to this share of the cap, so it runs once per ~10% of the cap
# written rather than on every write.
EVICT_TO = 0.9
# (file, cause) pairs already warned about in this process: one warning, however many caches
# or requests meet the same broken file.
_WARNED: set[tuple[str, str]] = set()
_OPEN: weakref.WeakSet = weakref.WeakSet()


class CacheWarning(UserWarning):
    """The disk cache could not be used; encoding goes on without it."""


def cache_root() -> Path:
    """Returns e5ui's cache root: ``$E5UI_CACHE_DIR``, else ``$XDG_CACHE_HOME/e5ui``, else
    ``~/.cache/e5ui``."""
    if os.environ.get("E5UI_CACHE_DIR"):
        return Path(os.environ["E5UI_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "e5ui"


@contextlib.contextmanager
def building_folder(target: Path) -> Iterator[Path]:
    """Yields a temporary sibling of ``target`` to build into; when the block ends without an
    error, the build replaces ``target`` (an older or incomplete one is removed first), and in
    any case nothing temporary is left. Callers hold a lock and write their completeness
    marker last, so a crash never leaves a folder that loads."""
    tmp = Path(tempfile.mkdtemp(prefix=".building-", dir=target.parent))
    try:
        yield tmp
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def cache_key(model: str, revision: str, dtype: str, max_length: int, text: str) -> str:
    """Returns the hex digest naming one vector."""
    h = hashlib.sha256()
    for part in (f"v{CACHE_VERSION}", model, revision, dtype, str(max_length), text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


def _cause(exc: BaseException) -> tuple[str, str]:
    """(cause, what to do) for an error of the disk store."""
    text = str(exc).lower()
    code = getattr(exc, "errno", None)
    if "full" in text or code == errno.ENOSPC:
        return "is on a full disk", "free some space or lower the cache's size cap"
    if ("not a database" in text or "malformed" in text or "corrupt" in text
            or isinstance(exc, sqlite3.DatabaseError) and not isinstance(
                exc, sqlite3.OperationalError)):
        return "is damaged", "delete the file to start a fresh one"
    if ("readonly" in text or "read-only" in text or "unable to open" in text
            or "permission" in text or code in (errno.EACCES, errno.EROFS, errno.EPERM)):
        return "cannot be written", "make its folder writable or choose another cache folder"
    if "locked" in text:
        return "is locked by another process", "close that process or choose another folder"
    return "cannot be used", "choose another cache folder"


@dataclass
class CacheStats:
    """Counters for ``Encoder.describe()``."""

    hits: int
    misses: int
    entries: int
    bytes: int
    max_bytes: int
    disk: str | None


class EmbeddingCache:
    """Thread-safe LRU of float32 vectors bounded in bytes, backed by an optional disk store.

    Args:
        max_bytes: memory bound for the LRU (vectors' bytes; default 512 MB).
        directory: folder for ``embeddings.sqlite``; None keeps the cache in memory only.
        max_disk_bytes: bound of the disk store (pages in use; default 2 GB); above it the
            oldest rows written are deleted, and SQLite reuses their pages, so the file stops
            growing. 0 means no bound.
    """

    def __init__(self, max_bytes: int = DEFAULT_MEMORY_BYTES, directory: str | Path | None = None,
                 *, max_disk_bytes: int = DEFAULT_DISK_BYTES):
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        if max_disk_bytes < 0:
            raise ValueError("max_disk_bytes must be >= 0")
        self.max_bytes = int(max_bytes)
        self.max_disk_bytes = int(max_disk_bytes)
        self.evicted = 0
        self._lru: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._db: sqlite3.Connection | None = None
        self.disk_path: Path | None = None
        self._file: Path | None = None
        if directory is not None:
            self._open_disk(Path(directory).expanduser())

    # -- disk -------------------------------------------------------------------------------
    def _open_disk(self, directory: Path) -> None:
        path = directory / "embeddings.sqlite"
        self._file = path
        db = None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            if self.max_disk_bytes:
                # The write-ahead log counts too: SQLite folds it in every 1,000 pages (4 MB)
                # and never shrinks it; under a small cap, fold sooner and trim the file.
                page = db.execute("PRAGMA page_size").fetchone()[0]
                pages = max(16, min(1000, self.max_disk_bytes // page // 16))
                db.execute(f"PRAGMA wal_autocheckpoint = {pages}")
                db.execute(f"PRAGMA journal_size_limit = {2 * pages * page}")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)"
            )
            # Reads the first page of the table: a damaged file fails here, not on first use.
            db.execute("SELECT 1 FROM vectors LIMIT 1").fetchall()
            db.commit()
        except (sqlite3.Error, OSError) as exc:
            if db is not None:
                db.close()
            self._disable_disk(exc, "opening")
            return
        self._db = db
        self.disk_path = path
        _OPEN.add(self)
        with self._lock:
            self._enforce_cap()  # a store written under a larger cap

    def _disable_disk(self, exc: BaseException, during: str) -> None:
        """Closes the store for good after ``exc``; warns once per file and cause."""
        path = self._file
        cause, todo = _cause(exc)
        msg = (f"The embedding cache {path} {cause} ({during}: {exc}), so the disk cache is "
               f"disabled and encoding goes on in memory; {todo}.")
        if (str(path), cause) in _WARNED:
            logger.info(msg)
        else:
            _WARNED.add((str(path), cause))
            logger.warning(msg)
            warnings.warn(msg, CacheWarning, stacklevel=4)
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None
        self.disk_path = None

    def _disk_used(self) -> int:
        """Bytes of the pages in use (O(1): three header reads, no table scan)."""
        assert self._db is not None
        pages = self._db.execute("PRAGMA page_count").fetchone()[0]
        free = self._db.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return (pages - free) * size

    def _enforce_cap(self) -> None:
        """Deletes the oldest rows until the store is under EVICT_TO of its cap; nothing to do
        below the cap. Rows are ordered by rowid (INSERT OR REPLACE gives a rewritten row a new,
        highest one), and each round removes the share of the rowid range that is over, read
        from the rowid index's two ends: no count, no scan."""
        if self._db is None or not self.max_disk_bytes:
            return
        try:
            used = self._disk_used()
            if used <= self.max_disk_bytes:
                return
            target = int(self.max_disk_bytes * EVICT_TO)
            for _ in range(32):
                low, high = self._db.execute(
                    "SELECT min(rowid), max(rowid) FROM vectors").fetchone()
                if low is None:
                    break
                share = (used - target) / used
                cut = low + max(1, math.ceil((high - low + 1) * share))
                deleted = self._db.execute("DELETE FROM vectors WHERE rowid < ?", (cut,)).rowcount
                self._db.commit()
                self.evicted += max(deleted, 0)
                used = self._disk_used()
                if used <= target:
                    break
        except sqlite3.Error as exc:
            self._disable_disk(exc, "evicting old rows")
            return
        logger.debug("Embedding cache %s evicted old rows: %d bytes in use", self._file, used)

    def _disk_get(self, keys: list[str]) -> dict[str, np.ndarray]:
        if self._db is None or not keys:
            return {}
        found: dict[str, np.ndarray] = {}
        try:
            for start in range(0, len(keys), 500):
                chunk = keys[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, dim, vec FROM vectors WHERE key IN ({marks})", chunk
                ).fetchall()
                for key, dim, blob in rows:
                    # A damaged row is a miss, never a wrong vector.
                    if isinstance(blob, bytes) and dim and len(blob) == 4 * dim:
                        vec = np.frombuffer(blob, dtype=np.float32).copy()
                        if np.isfinite(vec).all():
                            found[key] = vec
        except sqlite3.Error as exc:
            self._disable_disk(exc, "reading")
            return {}
        return found

    def _disk_put(self, items: dict[str, np.ndarray]) -> None:
        if self._db is None or not items:
            return
        try:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (key, dim, vec) VALUES (?, ?, ?)",
                [(k, int(v.size), np.ascontiguousarray(v, np.float32).tobytes())
                 for k, v in items.items()],
            )
            self._db.commit()
        except sqlite3.Error as exc:
            self._disable_disk(exc, "writing")
            return
        # Deleted rows' pages go to SQLite's free list and are reused: the file stops growing
        # at about the cap.
        self._enforce_cap()

    # -- memory -----------------------------------------------------------------------------
    def _remember(self, key: str, vec: np.ndarray) -> None:
        if vec.nbytes > self.max_bytes:
            return
        old = self._lru.pop(key, None)
        if old is not None:
            self._bytes -= old.nbytes
        self._lru[key] = vec
        self._bytes += vec.nbytes
        while self._bytes > self.max_bytes and self._lru:
            _, evicted = self._lru.popitem(last=False)
            self._bytes -= evicted.nbytes

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        """Returns the cached vectors among ``keys`` (memory first, then disk)."""
        with self._lock:
            found: dict[str, np.ndarray] = {}
            missing = []
            for key in keys:
                vec = self._lru.get(key)
                if vec is None:
                    missing.append(key)
                else:
                    self._lru.move_to_end(key)
                    found[key] = vec
            from_disk = self._disk_get(list(dict.fromkeys(missing)))
            for key, vec in from_disk.items():
                self._remember(key, vec)
            found.update(from_disk)
            hit = sum(1 for k in keys if k in found)
            self.hits += hit
            self.misses += len(keys) - hit
            return {k: v.copy() for k, v in found.items()}

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Stores vectors in memory and, when enabled, on disk."""
        with self._lock:
            clean = {k: np.array(v, dtype=np.float32, copy=True) for k, v in items.items()}
            for key, vec in clean.items():
                vec.flags.writeable = False
                self._remember(key, vec)
            self._disk_put(clean)

    def stats(self) -> CacheStats:
        """Returns hit and size counters."""
        with self._lock:
            return CacheStats(
                hits=self.hits,
                misses=self.misses,
                entries=len(self._lru),
                bytes=self._bytes,
                max_bytes=self.max_bytes,
                disk=str(self.disk_path) if self.disk_path else None,
            )

    def clear(self) -> None:
        """Empties the memory LRU (the disk store is kept)."""
        with self._lock:
            self._lru.clear()
            self._bytes = 0

    def close(self) -> None:
        """Closes the disk store (SQLite folds its write-ahead log into the file); the memory
        LRU goes on answering and storing. Called for every open cache when the process exits;
        calling it twice is harmless."""
        with self._lock:
            db, self._db = self._db, None
            self.disk_path = None
            _OPEN.discard(self)
            if db is not None:
                try:
                    db.close()
                except sqlite3.Error as exc:  # nothing is lost: every write was committed
                    logger.info("Closing the embedding cache %s: %s", self._file, exc)

    def __enter__(self) -> EmbeddingCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@atexit.register
def _close_all() -> None:
    """Closes every open disk store at exit (a cache the garbage collector would not reach in
    time, e.g. held by a daemon thread or a reference cycle, still ends cleanly)."""
    for cache in list(_OPEN):
        cache.close()
