"""Encoding throughput through a loopback Infinity server vs the local Encoder, side by side.

Starts ``infinity_emb v2`` from ``.venv-infinity`` (``.ci/setup-infinity``) on 127.0.0.1,
serving the bundled multilingual-e5-small directory with the torch engine in float32, then
encodes the same texts with:

- e5ui ``Encoder("bundled", dtype="float32")`` in this process (the reference);
- ``RemoteEncoder`` (prefix added by e5ui) with 1 request in flight;
- ``RemoteEncoder`` with 4 requests in flight (the default).

Prints texts/s, tokens/s (real tokens, prefix and special tokens included, capped at 512), the
ratio to the local Encoder, and the lowest row cosine to it. Server and client share this
machine's cores, so this measures the client's overhead and the engine, not a GPU server.

    python benchmarks/remote.py                       # 600 texts, 2 repeats (~5-10 min on 2 cores)
    python benchmarks/remote.py --texts 100 --repeats 1   # smoke run
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.appserver import free_port  # noqa: E402
from benchmarks.encode import machine, min_cos, timed  # noqa: E402
from benchmarks.texts import benchmark_texts  # noqa: E402
from e5ui.encoding import Encoder  # noqa: E402
from e5ui.encoding.remote import RemoteEncoder  # noqa: E402
from e5ui.offline import bundled_model_dir  # noqa: E402

INFINITY = ROOT / ".venv-infinity" / "bin" / "infinity_emb"


def start_infinity(model_dir: Path, port: int, log: Path) -> subprocess.Popen:
    """Starts Infinity and waits until GET /v1/models answers."""
    import httpx

    env = dict(os.environ, HF_HUB_OFFLINE="1", DO_NOT_TRACK="1",
               INFINITY_ANONYMOUS_USAGE_STATS="0")
    cmd = [str(INFINITY), "v2", "--model-id", str(model_dir), "--engine", "torch",
           "--device", "cpu", "--dtype", "float32", "--port", str(port), "--host", "127.0.0.1",
           "--url-prefix", "/v1", "--no-model-warmup"]
    print("# server:", shlex.join(cmd), flush=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    start = time.monotonic()
    while time.monotonic() - start < 300:
        if proc.poll() is not None:
            sys.exit(f"Infinity exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                print(f"# server ready after {time.monotonic() - start:.0f} s", flush=True)
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    sys.exit(f"Infinity did not answer within 300 s:\n{log.read_text()[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=600,
                        help="the first N of benchmarks/texts.py's 1,200 texts")
    parser.add_argument("--repeats", type=int, default=2, help="runs per system; best counts")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    if not INFINITY.exists():
        sys.exit(f"{INFINITY} is missing: run .ci/setup-infinity first")
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()

    print("# command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    info = machine()
    print("# machine:", json.dumps(info))
    # A prefix of encode.py's 1,200-text list, so paragraphs are mixed in as they are there.
    texts = benchmark_texts(max(args.texts, 1200))[: args.texts]
    model_dir = bundled_model_dir()
    local = Encoder("bundled", dtype="float32", cache=False)
    lengths = np.minimum(np.array(local.count_tokens(texts, "query")), 512)
    tokens = int(lengths.sum())
    print(f"# {len(texts)} texts, {tokens} tokens (mean {tokens / len(texts):.0f}, "
          f"max {lengths.max()})", flush=True)

    rows: list[dict] = []

    def add(system: str, seconds: float, emb: np.ndarray, reference: np.ndarray) -> None:
        rows.append({"system": system, "texts": len(texts), "seconds": round(seconds, 3),
                     "texts_per_s": len(texts) / seconds, "tokens_per_s": tokens / seconds,
                     "min_cos_vs_local": min_cos(emb, reference)})
        r = rows[-1]
        print(f"{system:<34} {seconds:8.2f} s {r['texts_per_s']:8.1f} texts/s "
              f"{r['tokens_per_s']:8.1f} tok/s  min cos {r['min_cos_vs_local']:.6f}", flush=True)

    secs, reference = timed(lambda: local.encode(texts), args.repeats,
                            lambda: local.encode(texts[:16]))
    add("e5ui Encoder, local (float32)", secs, reference, reference)

    with tempfile.TemporaryDirectory() as tmp:
        proc = start_infinity(model_dir, free_port(), Path(tmp) / "infinity.log")
        port = proc.args[proc.args.index("--port") + 1]
        url = f"http://127.0.0.1:{port}/v1"
        try:
            for inflight in (1, 4):
                remote = RemoteEncoder(url, prefix="client", cache=False, concurrency=inflight)
                secs, emb = timed(lambda r=remote: r.encode(texts), args.repeats,
                                  lambda r=remote: r.encode(texts[:16]))
                add(f"RemoteEncoder, Infinity, {inflight} in flight", secs, emb, reference)
                remote.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    base = rows[0]["tokens_per_s"]
    print("\n| system | texts | seconds | texts/s | tokens/s | × local | min cos vs local |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        r["ratio_vs_local"] = r["tokens_per_s"] / base
        print(f"| {r['system']} | {r['texts']} | {r['seconds']:.1f} | {r['texts_per_s']:.1f} | "
              f"{r['tokens_per_s']:.0f} | {r['ratio_vs_local']:.2f} | "
              f"{r['min_cos_vs_local']:.6f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": info, "texts": len(texts),
                                               "tokens": tokens, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
