"""Load: several gradio_client sessions at once against one app, on fresh (uncached) texts.

Starts ``python app.py --model bundled`` (this checkout, or ``--app-dir`` for an older one),
runs ``--sessions`` clients in parallel threads, each sending ``--requests`` mixed requests
(similarity, neighbours, map with UMAP and PCA, bitext, scores explained, pair score) on texts
no other request uses, then sends every request again alone and compares the answers: figures,
tables, summaries and the bytes of every download. Reports failures, mismatches, p50/p95 per
endpoint, the server's peak memory and its temp-folder disk use.

    python benchmarks/load.py --json /tmp/load-after.json
    python benchmarks/load.py --app-dir /tmp/e5ui-before --json /tmp/load-before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.appserver import Server  # noqa: E402
from benchmarks.machine import cpu  # noqa: E402
from benchmarks.texts import benchmark_texts  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KINDS = ["similarity", "neighbours", "map-umap", "map-pca", "bitext", "explain", "pair"]


def make_requests(sessions: int, per_session: int, seed: int = 0) -> list[list[tuple]]:
    """(endpoint, args) per session; every text is made unique with a request tag."""
    pool = [" ".join(t.split()) for t in benchmark_texts(1200, seed=seed)]
    rng = random.Random(seed)
    plan = []
    for s in range(sessions):
        requests = []
        for r in range(per_session):
            kind = KINDS[(s + r) % len(KINDS)]

            def fresh(n: int, s=s, r=r) -> list[str]:
                return [f"{t} [s{s} r{r} #{i}]" for i, t in enumerate(rng.sample(pool, n))]

            if kind == "similarity":
                requests.append(("/similarity", ("\n".join(fresh(30)),)))
            elif kind == "neighbours":
                requests.append(("/neighbours", ("\n".join(fresh(10)), "\n".join(fresh(60)))))
            elif kind.startswith("map"):
                method = kind.split("-")[1]
                requests.append(("/map", ("\n".join(fresh(40)), None, method, 2)))
            elif kind == "bitext":
                requests.append(("/bitext", ("\n".join(fresh(20)), "\n".join(fresh(20)))))
            elif kind == "explain":
                requests.append(("/explain", ("\n".join(fresh(10)),)))
            else:
                a, b = fresh(2)
                requests.append(("/pair_score", (a, b)))
        plan.append(requests)
    return plan


def fingerprint(value) -> str:
    """A request's answer, with every downloaded file replaced by the hash of its bytes."""

    def norm(v):
        if isinstance(v, str) and os.path.isfile(v):
            return "sha256:" + hashlib.sha256(Path(v).read_bytes()).hexdigest()
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return v

    return json.dumps(norm(value), sort_keys=True, default=str)


def run_session(url: str, requests: list[tuple], out: list) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    for endpoint, args in requests:
        start = time.perf_counter()
        try:
            answer = client.predict(*args, api_name=endpoint)
            out.append((endpoint, args, time.perf_counter() - start, fingerprint(answer), None))
        except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
            out.append((endpoint, args, time.perf_counter() - start, None, repr(exc)[:300]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app-dir", default=str(ROOT))
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--requests", type=int, default=25)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from gradio_client import Client

    temp = Path(tempfile.mkdtemp(prefix="e5ui-load-"))
    server = Server(Path(args.app_dir), temp)
    plan = make_requests(args.sessions, args.requests)
    try:
        Client(server.url, verbose=False).predict("warm up\nthe model", api_name="/similarity")
        server.reset_peak()
        disk_before = server.disk_mb()
        results: list[list] = [[] for _ in plan]
        threads = [threading.Thread(target=run_session, args=(server.url, reqs, out))
                   for reqs, out in zip(plan, results)]
        start = time.perf_counter()
        [t.start() for t in threads]
        [t.join() for t in threads]
        wall = time.perf_counter() - start
        peak = server.peak_mb()
        disk_after = server.disk_mb()
        # The same requests again, one at a time, from one more session.
        solo: list = []
        run_session(server.url, [r for reqs in plan for r in reqs], solo)
        disk_solo = server.disk_mb()
        rss_end = server.rss_mb()
    finally:
        server.stop()
        shutil.rmtree(temp, ignore_errors=True)
    concurrent = [r for session in results for r in session]
    failures = [r for r in concurrent if r[4] is not None] + [r for r in solo if r[4]]
    mismatches = [a[0] for a, b in zip(concurrent, solo) if a[3] != b[3]]
    by_endpoint: dict[str, list[float]] = {}
    for endpoint, _, seconds, _, _ in concurrent:
        by_endpoint.setdefault(endpoint, []).append(seconds)

    def p95(xs):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]

    report = {
        "app_dir": args.app_dir, "cpu": cpu(), "cores": os.cpu_count(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "sessions": args.sessions, "requests_per_session": args.requests,
        "requests": len(concurrent), "wall_s": wall,
        "failures": len(failures), "failure_examples": [f[4] for f in failures[:5]],
        "mismatches_vs_solo": len(mismatches), "mismatch_endpoints": sorted(set(mismatches)),
        "latency": {e: {"n": len(xs), "p50_s": statistics.median(xs), "p95_s": p95(xs)}
                    for e, xs in sorted(by_endpoint.items())},
        "server_peak_rss_mb": peak, "server_rss_end_mb": rss_end,
        "temp_disk_mb": {"before": disk_before, "after_concurrent": disk_after,
                         "after_solo_replay": disk_solo},
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
