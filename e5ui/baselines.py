"""A model's unrelated-pair baseline: the calibration reference set embedded once per model, kept
in memory for the process and as JSON on disk across restarts.

The maths (percentiles, rescaling) is in ``e5ui.analysis.calibration``; this module does the I/O
around it: reading the reference set from the assets, encoding it, and the disk cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any

from e5ui import resources, textio
from e5ui.analysis.calibration import Baseline, baseline_from_embeddings
from e5ui.cache import cache_root

logger = logging.getLogger(__name__)

# Bump when the way a baseline is computed changes: old JSON files are then ignored.
BASELINE_VERSION = 2  # 2: symmetric prompt (the instruct model used its retrieval one)

_memo: dict[tuple, Baseline] = {}
_memo_lock = threading.Lock()


def reference_texts() -> list[str]:
    """Returns the calibration reference set: mutually unrelated sentences in 24 languages."""
    return textio.read_texts(resources.path("calibration", "reference.tsv")).texts


def _setting(info: dict) -> str:
    """The dtype, and the backend when it is not torch (torch's files keep their names)."""
    backend = info.get("backend") or "torch"
    return str(info.get("dtype")) if backend == "torch" else f"{backend}-{info.get('dtype')}"


def _file_for(info: dict, texts: list[str], folder: Path) -> Path:
    digest = hashlib.sha256()
    for part in (f"v{BASELINE_VERSION}", info["model"], str(info.get("revision")),
                 _setting(info), *texts):
        digest.update(part.encode("utf-8"))
        digest.update(b"\x00")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", str(info["model"]))[-60:]
    return folder / f"{safe}-{digest.hexdigest()[:16]}.json"


def reference_baseline(encoder: Any, directory: str | os.PathLike[str] | None = None) -> Baseline:
    """Returns the encoder's unrelated-pair baseline, embedding the reference set once per model.

    The baseline is kept for the process and stored as JSON under ``<cache root>/baselines``,
    keyed by the model, its revision, the dtype and the reference set's content, so each model
    (small, base, large differ) gets its own and a restart reads it back instead of re-encoding.

    Args:
        encoder: an ``Encoder`` (anything with ``encode(texts, kind=...)`` and ``describe()``).
        directory: where to keep baselines; None uses the cache root.

    Returns:
        The Baseline; ``Baseline.off`` for an encoder whose ``calibrated`` is False (vectors
        of another model, ``encoding.vectors.LoadedVectors``): no baseline applies to them.
    """
    info = encoder.describe()
    if getattr(encoder, "calibrated", True) is False:
        return Baseline.off(str(info["model"]))
    folder = Path(directory) if directory is not None else cache_root() / "baselines"
    key = (info["model"], info.get("revision"), _setting(info), str(folder))
    with _memo_lock:
        if key not in _memo:
            _memo[key] = _load_or_compute(encoder, info, folder)
        return _memo[key]


def _load_or_compute(encoder: Any, info: dict, folder: Path) -> Baseline:
    texts = reference_texts()
    target = _file_for(info, texts, folder)
    try:
        return Baseline.from_dict(json.loads(target.read_text(encoding="utf-8")))
    except FileNotFoundError:
        pass
    except (OSError, ValueError) as exc:
        logger.warning("Ignoring unreadable baseline %s (%s); recomputing", target, exc)
    emb = encoder.encode(texts, kind="symmetric")
    baseline = baseline_from_embeddings(emb, str(info["model"]))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(baseline.to_dict()), encoding="utf-8")
        os.replace(tmp, target)
    except OSError as exc:
        logger.warning("Could not store the baseline in %s (%s)", folder, exc)
    return baseline
