"""Runs benchmarks/st_peers.py (sentence-transformers' ONNX / OpenVINO backends) from e5ui's
environment and reads its rows back.

The peers need transformers 4.x (optimum-intel, optimum-onnx), so they live in their own
virtual environment, ``.venv-stpeers`` (``benchmarks/setup-st-peers``), the way the Infinity
server lives in ``.venv-infinity``. Each configuration runs in its own subprocess: a crash or an
out-of-memory kill then fails that row only, and one backend's thread pools cannot slow the
next one.

    from benchmarks.st_peers_client import run_st_peers
    rows = run_st_peers(model_dir, ["query: ..."], ["st-torch", "st-onnx-int8"], repeats=2)
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().parent / "st_peers.py"
DEFAULT_PYTHON = ROOT / ".venv-stpeers" / "bin" / "python"
# Mirrors st_peers.CONFIGS (that module cannot be imported here: it sets Hugging Face's
# environment variables at import).
CONFIGS = ("st-torch", "st-onnx", "st-onnx-int8", "st-openvino", "st-openvino-f32",
           "st-openvino-int8", "st-openvino-int8-weights")


def peers_python(python: str | os.PathLike | None = None) -> Path:
    """The interpreter of the peers' environment: the argument, else ``$E5UI_ST_PEERS_PYTHON``,
    else ``.venv-stpeers/bin/python`` under the repository root.

    Raises:
        FileNotFoundError: it does not exist (with the command that makes it).
    """
    path = Path(python or os.environ.get("E5UI_ST_PEERS_PYTHON") or DEFAULT_PYTHON)
    if not path.is_file():
        raise FileNotFoundError(
            f"No sentence-transformers peers environment at {path}: run benchmarks/setup-st-peers")
    return path


def run_st_peers(model_dir: str | os.PathLike, prefixed_texts: Sequence[str],
                 configs: Sequence[str] = CONFIGS, repeats: int = 2,
                 python: str | os.PathLike | None = None,
                 calibration_texts: Sequence[str] | None = None,
                 timeout_s: float | None = None) -> list[dict]:
    """Times sentence-transformers' own backends on texts, each in a subprocess of the peers' env.

    Args:
        model_dir: A Hugging Face + sentence-transformers model folder; read, never written.
        prefixed_texts: Texts that already carry their "query: " / "passage: " prefix.
        configs: Names from ``CONFIGS``, measured in this order.
        repeats: Timed full ``encode`` calls per configuration (after a warm-up on 16 texts);
            the best counts.
        python: The peers' interpreter (see ``peers_python``).
        calibration_texts: What ``st-openvino-int8`` calibrates on; default the texts
            themselves.
        timeout_s: Wall-clock limit per configuration, export included; None for none.

    Returns:
        One dict per configuration, in ``configs`` order: ``name``, ``ok``, ``seconds`` (best
        encode wall time), ``texts``, ``load_s``, ``export_s``, ``exported_at_load``,
        ``precision``, ``note``, ``error`` (the failure, else ""), and ``embeddings`` (float32
        array of shape (len(texts), dim), None when the configuration failed).

    Raises:
        FileNotFoundError: the peers' environment is missing.
        ValueError: an unknown configuration name, or repeats < 1.
    """
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise ValueError(f"Unknown configuration: {', '.join(unknown)}. "
                         f"Must be one of: {', '.join(CONFIGS)}")
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    exe = peers_python(python)
    rows = []
    with tempfile.TemporaryDirectory(prefix="st-peers-") as tmp:
        tmp = Path(tmp)
        texts_file = tmp / "texts.json"
        texts_file.write_text(json.dumps(list(prefixed_texts), ensure_ascii=False), "utf-8")
        extra = []
        if calibration_texts is not None:
            calib_file = tmp / "calibration.json"
            calib_file.write_text(json.dumps(list(calibration_texts), ensure_ascii=False),
                                  "utf-8")
            extra = ["--calibration", str(calib_file)]
        for name in configs:
            out = tmp / name
            cmd = [str(exe), str(SCRIPT), "--model-dir", str(Path(model_dir).resolve()),
                   "--texts", str(texts_file), "--out", str(out), "--configs", name,
                   "--repeats", str(repeats), *extra]
            logger.info("st peers: %s", name)
            rows.append(_run_config(name, cmd, out, len(prefixed_texts), timeout_s))
    return rows


def _run_config(name: str, cmd: list[str], out: Path, n_texts: int,
                timeout_s: float | None) -> dict:
    """Runs one configuration's subprocess and turns its JSON line (or its death) into a row."""
    log = out.parent / f"{name}.log"
    out.mkdir()
    try:
        with open(log, "wb") as f:
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout_s,
                                  check=False)
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        rc = None
    results = out / "results.jsonl"
    if results.is_file() and results.read_text("utf-8").strip():
        row = json.loads(results.read_text("utf-8").strip().splitlines()[-1])
    else:
        tail = log.read_text("utf-8", errors="replace").strip().splitlines()[-1:] or [""]
        why = (f"timed out after {timeout_s:g} s" if rc is None
               else f"the subprocess exited with {rc} (signal {-rc})" if rc < 0
               else f"the subprocess exited with {rc}")
        row = {"name": name, "ok": False, "seconds": None, "texts": n_texts, "load_s": None,
               "export_s": None, "exported_at_load": False, "precision": "", "note": "",
               "error": f"{why}: {tail[0]}"}
    npy = row.pop("npy", "")
    row["embeddings"] = np.load(npy).astype(np.float32) if row["ok"] and npy else None
    if not row["ok"]:
        logger.warning("st peers: %s failed: %s", name, row["error"])
    return row
