"""Embedding cache: an in-memory LRU bounded in bytes, and an optional SQLite store on disk.

A key names everything that changes a vector (STYLE.md 5): the model, its revision, the dtype,
the maximum length, the exact text fed to the model (prefix included) and a format version.
Vectors are stored before L2 normalisation, so ``normalize=`` is applied after a hit.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

# Bump when the encoding recipe changes in a way the other key fields do not capture.
CACHE_VERSION = 1
DEFAULT_MEMORY_BYTES = 512 * 2**20


class CacheWarning(UserWarning):
    """The disk cache could not be used; encoding goes on without it."""


def cache_root() -> Path:
    """Returns e5ui's cache root: ``$E5UI_CACHE_DIR``, else ``$XDG_CACHE_HOME/e5ui``, else
    ``~/.cache/e5ui``."""
    if os.environ.get("E5UI_CACHE_DIR"):
        return Path(os.environ["E5UI_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "e5ui"


def cache_key(model: str, revision: str, dtype: str, max_length: int, text: str) -> str:
    """Returns the hex digest naming one vector."""
    h = hashlib.sha256()
    for part in (f"v{CACHE_VERSION}", model, revision, dtype, str(max_length), text):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


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
    """

    def __init__(self, max_bytes: int = DEFAULT_MEMORY_BYTES, directory: str | Path | None = None):
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.max_bytes = int(max_bytes)
        self._lru: OrderedDict[str, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self._db: sqlite3.Connection | None = None
        self.disk_path: Path | None = None
        if directory is not None:
            self._open_disk(Path(directory).expanduser())

    # -- disk -------------------------------------------------------------------------------
    def _open_disk(self, directory: Path) -> None:
        path = directory / "embeddings.sqlite"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(str(path), check_same_thread=False, timeout=10)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, vec BLOB)"
            )
            db.execute("SELECT count(*) FROM vectors").fetchone()
            db.commit()
        except (sqlite3.Error, OSError) as exc:
            self._disable_disk(f"cannot use {path}: {exc}")
            return
        self._db = db
        self.disk_path = path

    def _disable_disk(self, why: str) -> None:
        msg = f"Embedding cache on disk disabled ({why}); continuing without it."
        logger.warning(msg)
        warnings.warn(msg, CacheWarning, stacklevel=3)
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None
        self.disk_path = None

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
            self._disable_disk(f"read failed: {exc}")
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
            self._disable_disk(f"write failed: {exc}")

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
