"""Latency of the app's views through its API, warm cache, on loopback — and the server's memory.

Starts ``python app.py --model bundled`` from an app folder (this checkout by default; point
``--app-dir`` at a checkout of an older commit to measure "before"), sends each request once to
fill the embedding cache, then times ``--repeats`` more through gradio_client and reports p50 /
p95 per request and the server's peak resident memory while that request ran (Linux: the peak
is reset through /proc/PID/clear_refs before each case).

    python benchmarks/latency.py --json /tmp/latency-after.json
    git worktree add /tmp/e5ui-before e70021b
    python benchmarks/latency.py --app-dir /tmp/e5ui-before --json /tmp/latency-before.json

Cases: similarity of 100 / 500 / 2,000 / 5,000 texts; neighbours 2,000 queries x 20,000 corpus
texts; the map's first answer (its PCA preview) for 5,000 texts. "On screen" here is the
server's answer arriving at the client, figure JSON included; the browser's drawing time is not
in it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.appserver import Server  # noqa: E402
from benchmarks.machine import cpu  # noqa: E402
from benchmarks.texts import benchmark_texts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def distinct_texts(n: int, seed: int) -> list[str]:
    """n distinct texts: the benchmark corpus, then numbered variants of it."""
    base = benchmark_texts(1200, seed=seed)
    rng = random.Random(seed)
    out = list(base)
    while len(out) < n:
        text = rng.choice(base)
        out.append(f"{text} ({len(out)})")
    return out[:n]


def write_lines(folder: Path, name: str, texts: list[str]) -> Path:
    path = folder / name
    path.write_text("\n".join(" ".join(t.split()) for t in texts) + "\n", encoding="utf-8")
    return path


def timed(call, repeats: int, server: Server) -> dict:
    """p50/p95 of ``call()``'s duration (or of the seconds it returns, when it measures a part
    of itself) after one untimed call, and the server's peak memory meanwhile."""
    call()  # fills the embedding cache (and compiles what needs compiling)
    times, peaks = [], []
    for _ in range(repeats):
        server.reset_peak()
        start = time.perf_counter()
        measured = call()
        elapsed = time.perf_counter() - start
        times.append(measured if isinstance(measured, float) else elapsed)
        peaks.append(server.peak_mb())
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return {"p50_s": statistics.median(times), "p95_s": p95, "peak_mb": max(peaks),
            "runs": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app-dir", default=str(ROOT), help="checkout whose app.py to run")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="100,500,2000,5000")
    parser.add_argument("--neighbours", default="2000x20000")
    parser.add_argument("--map", type=int, default=5000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from gradio_client import Client, handle_file

    temp = Path(tempfile.mkdtemp(prefix="e5ui-latency-"))
    server = Server(Path(args.app_dir), temp)
    results: dict = {"app_dir": args.app_dir, "cpu": cpu(), "cores": os.cpu_count(),
                     "command": " ".join([Path(sys.executable).name, *sys.argv]), "cases": {}}
    try:
        client = Client(server.url, verbose=False)
        for n in [int(x) for x in args.sizes.split(",") if x]:
            path = write_lines(temp, f"sim{n}.txt", distinct_texts(n, seed=n))
            results["cases"][f"similarity {n}"] = timed(
                lambda p=path: client.predict("", handle_file(str(p)), "cluster", "symmetric",
                                              api_name="/similarity"), args.repeats, server)
            print(f"similarity {n}: {results['cases'][f'similarity {n}']}", flush=True)
        if args.neighbours:
            nq, nc = (int(x) for x in args.neighbours.split("x"))
            corpus = distinct_texts(nc, seed=7)
            q = write_lines(temp, "q.txt", corpus[:nq])
            c = write_lines(temp, "c.txt", corpus)
            key = f"neighbours {nq} x {nc}"
            results["cases"][key] = timed(
                lambda: client.predict("", "", handle_file(str(q)), handle_file(str(c)), 3,
                                       api_name="/neighbours"), args.repeats, server)
            print(f"{key}: {results['cases'][key]}", flush=True)
        if args.map:
            path = write_lines(temp, "map.txt", distinct_texts(args.map, seed=11))

            def first_map_answer(p=path) -> float:
                start = time.perf_counter()
                job = client.submit("", handle_file(str(p)), "umap", 2, api_name="/map")
                while not job.outputs() and not job.done():
                    time.sleep(0.02)
                first = time.perf_counter() - start
                job.result()  # UMAP finishes before the next run starts
                return first

            key = f"map preview {args.map}"
            results["cases"][key] = timed(first_map_answer, args.repeats, server)
            print(f"{key}: {results['cases'][key]}", flush=True)
        results["server_rss_mb_after"] = server.rss_mb()
        results["gradio_temp_mb_after"] = server.disk_mb()
    finally:
        server.stop()
        shutil.rmtree(temp, ignore_errors=True)
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
