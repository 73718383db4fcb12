"""Runs benchmarks/st_peers.py (sentence-transformers' ONNX / OpenVINO backends) from e5ui's
environment and reads its rows back.

The peers need transformers 4.x (optimum-intel, optimum-onnx), so they live in their own
virtual environment, ``.venv-stpeers`` (``benchmarks/setup-st-peers``), the way the Infinity
server lives in ``.venv-infinity``. Each configuration runs in its own subprocess: a crash or an
out-of-memory kill then fails that row only, and one backend's thread pools cannot slow the
next one.

    from benchmarks.st_peers_client import run_st_peers
    rows = run_st_peers(model_dir, ["query: ..."], ["st-torch", "st-onnx-int8"], repeats=2)

Run directly, it prints a smoke table (seconds, export and load seconds, precision, min cosine
to the ``st-torch`` row) for the bundled model and the e5-large shape:

    python benchmarks/st_peers_client.py --texts 200 --large-texts 40 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
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
    # The child's temporary folders (working copy, exports, Hugging Face cache) live under ours,
    # so a timed-out or killed child leaves nothing behind in /tmp.
    scratch = out.parent / f"{name}.tmp"
    scratch.mkdir()
    env = dict(os.environ, TMPDIR=str(scratch))
    try:
        with open(log, "wb") as f:
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, timeout=timeout_s,
                                  check=False, env=env)
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


def _table(label: str, rows: list[dict]) -> None:
    from benchmarks.encode import min_cos

    ref = next((r["embeddings"] for r in rows if r["name"] == "st-torch" and r["ok"]), None)
    print(f"\n## {label}")
    print(f"{'config':26} {'seconds':>8} {'export_s':>8} {'load_s':>7}  {'min cos':>8}  precision")
    for r in rows:
        if not r["ok"]:
            print(f"{r['name']:26} FAILED: {r['error']}")
            continue
        cos = f"{min_cos(r['embeddings'], ref):.5f}" if ref is not None else ""
        exp = ("at load" if r["exported_at_load"]
               else f"{r['export_s']:.1f}" if r["export_s"] is not None else "")
        print(f"{r['name']:26} {r['seconds']:8.2f} {exp:>8} {r['load_s']:7.1f}  {cos:>8}  "
              f"{r['precision']}{'; ' + r['note'] if r['note'] else ''}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Smoke table of sentence-transformers' peers")
    parser.add_argument("--texts", type=int, default=200, help="bundled model: first N texts")
    parser.add_argument("--large-texts", type=int, default=40,
                        help="e5-large shape: first N texts (0 skips it)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--configs", default=",".join(CONFIGS))
    parser.add_argument("--python", default=None, help="the peers' interpreter")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    sys.path.insert(0, str(ROOT))
    from benchmarks.encode import make_large_shape
    from benchmarks.texts import benchmark_texts
    from e5ui.offline import bundled_model_dir

    configs = args.configs.split(",")
    texts = ["query: " + t for t in benchmark_texts(max(args.texts, args.large_texts))]
    try:
        peers_python(args.python)
    except FileNotFoundError as exc:
        sys.exit(str(exc))
    bundled = bundled_model_dir()
    _table(f"bundled ({bundled.name}), {args.texts} texts",
           run_st_peers(bundled, texts[:args.texts], configs, args.repeats, args.python))
    if args.large_texts:
        with tempfile.TemporaryDirectory(prefix="e5-large-shape-") as tmp:
            folder = make_large_shape(Path(tmp), bundled)
            _table(f"e5-large shape, {args.large_texts} texts",
                   run_st_peers(folder, texts[:args.large_texts], configs, args.repeats,
                                args.python))


if __name__ == "__main__":
    main()
