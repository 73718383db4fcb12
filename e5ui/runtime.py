"""Process set-up for the map view: where numba keeps UMAP's compiled kernels, and a warm-up
that pays their compile cost in the background while the app starts.

umap-learn compiles its numba kernels on first use (30-40 s on a small CPU). numba picks its
cache directory when umap's modules are imported, so ``configure_numba_cache`` must run before
anything imports umap.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import numpy as np

from e5ui.analysis import projection
from e5ui.cache import cache_root

logger = logging.getLogger(__name__)

_warm_lock = threading.Lock()
_warm_thread: threading.Thread | None = None


def configure_numba_cache(path: str | os.PathLike[str] | None = None) -> Path:
    """Point numba's on-disk cache (NUMBA_CACHE_DIR) at a writable e5ui directory.

    Compiled UMAP kernels are then reused across processes. Call before anything imports
    umap: numba functions pick their cache locator when umap's modules are imported.

    Args:
        path: Cache directory; default ``$NUMBA_CACHE_DIR`` if already set, else
            ``cache_root() / "numba"``.

    Returns:
        The directory in use.
    """
    if path is not None:
        target = Path(path).expanduser()
    elif os.environ.get("NUMBA_CACHE_DIR"):
        target = Path(os.environ["NUMBA_CACHE_DIR"]).expanduser()
    else:
        target = cache_root() / "numba"
    target.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(target)
    if "numba" in sys.modules:
        # numba read the variable at import; update its config for functions compiled later.
        sys.modules["numba"].config.CACHE_DIR = str(target)
    if "umap" in sys.modules:
        logger.warning("umap was imported before the numba cache was set; %s may be unused", target)
    logger.debug("numba cache: %s", target)
    return target




def warm_up(background: bool = True) -> threading.Thread | None:
    """Compile umap's numba kernels by fitting two tiny UMAPs.

    One exact fit (60 points: small inputs use exact neighbours) and one with the approximate
    nearest-neighbour search (pynndescent) that UMAP switches to above 4,096 points, so both
    code paths are compiled before a user's first map.

    Args:
        background: Run in a daemon thread and return it; False runs it now.

    Returns:
        The thread (the running one if a warm-up is already under way), or None when run in
        the foreground.
    """
    global _warm_thread

    def job() -> None:
        try:
            rng = np.random.default_rng(0)
            projection.fit_umap(rng.normal(size=(60, 8)).astype(np.float32), 2, 0, 10, 0.1)
            projection.fit_umap(rng.normal(size=(300, 8)).astype(np.float32), 2, 0, 10, 0.1,
                      approximate=True)
            logger.info("UMAP warm-up done")
        except Exception:  # a failed warm-up only means the first real fit is slow
            logger.exception("UMAP warm-up failed")

    if not background:
        job()
        return None
    with _warm_lock:
        if _warm_thread is None or not _warm_thread.is_alive():
            _warm_thread = threading.Thread(target=job, name="e5ui-umap-warm-up", daemon=True)
            _warm_thread.start()
        return _warm_thread
