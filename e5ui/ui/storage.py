"""Where the app writes downloads: one folder per browser session, inside Gradio's upload folder
(Gradio serves files from there without copying them again), holding only the latest result of
each view. A session's folder goes when its page closes (``demo.unload``), any folder after
``export_age_s``, and the oldest sessions' first when all of them pass ``export_mb``.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

SWEEP_EVERY_S = 60.0


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


class ExportStore:
    """Session folders for downloads, bounded in number, age and bytes.

    Args:
        root: the folder holding one subfolder per session.
        max_age_s: a session folder untouched this long is deleted.
        max_bytes: above this, whole session folders are deleted, oldest first.
    """

    def __init__(self, root: Path, max_age_s: float, max_bytes: int):
        self.root = Path(root)
        self.max_age_s = max_age_s
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._last_sweep = 0.0

    @classmethod
    def in_gradio_cache(cls, max_age_s: float, max_bytes: int) -> ExportStore:
        """A store under Gradio's upload folder (``GRADIO_TEMP_DIR`` or the system temp)."""
        from gradio.utils import get_upload_folder

        return cls(Path(get_upload_folder()) / "e5ui-exports", max_age_s, max_bytes)

    @staticmethod
    def _session_name(session: str | None) -> str:
        # A session hash comes from the browser: keep only safe characters.
        name = re.sub(r"[^A-Za-z0-9_-]", "", session or "")[:64]
        return name or "no-session"

    def folder(self, session: str | None, view: str) -> Path:
        """A fresh, empty folder for one result of ``view`` in ``session``; the session's
        previous result of that view is deleted (its downloads were replaced on the page)."""
        self.sweep()
        base = self.root / self._session_name(session)
        with self._lock:
            base.mkdir(parents=True, exist_ok=True)
            for old in base.glob(f"{view}-*"):
                shutil.rmtree(old, ignore_errors=True)
            fresh = base / f"{view}-{uuid.uuid4().hex[:12]}"
            fresh.mkdir()
            base.touch()  # the session's age counts from its last result
        return fresh

    def end_session(self, session: str | None) -> None:
        """Deletes everything a session wrote (its page was closed)."""
        with self._lock:
            shutil.rmtree(self.root / self._session_name(session), ignore_errors=True)

    def usage(self) -> int:
        """Bytes in all session folders."""
        return _size(self.root) if self.root.exists() else 0

    def sweep(self, force: bool = False) -> None:
        """Deletes session folders past their age, then the oldest above the byte cap (at most
        once a minute unless forced)."""
        now = time.time()
        if not force and now - self._last_sweep < SWEEP_EVERY_S:
            return
        self._last_sweep = now
        if not self.root.exists():
            return
        with self._lock:
            sessions = sorted((p for p in self.root.iterdir() if p.is_dir()),
                              key=lambda p: p.stat().st_mtime)
            kept = []
            for path in sessions:
                if now - path.stat().st_mtime > self.max_age_s:
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    kept.append((path, _size(path)))
            total = sum(size for _, size in kept)
            for path, size in kept:  # oldest first
                if total <= self.max_bytes:
                    break
                shutil.rmtree(path, ignore_errors=True)
                total -= size
                logger.info("Deleted the downloads of session %s (disk cap)", path.name)


def scratch_store() -> ExportStore:
    """A store in a private temp folder, for handlers called outside a running app (tests)."""
    return ExportStore(Path(tempfile.mkdtemp(prefix="e5ui-exports-")), 3600, 2**30)
