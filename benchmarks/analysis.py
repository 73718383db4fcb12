"""Scale of the analysis modules, each case in a fresh process so peak memory is its own.

    python benchmarks/analysis.py                 # all cases (~10 min on 2 cores)
    python benchmarks/analysis.py --only bitext   # one family

Cases (synthetic, seeded embeddings; shapes are what the tool meets in use):
  bitext      e5ui margin + one-to-one at 20k x 20k (d=1024), and at 5k x 5k beside the dense
              peer: scipy.optimize.linear_sum_assignment on the full cosine matrix.
  topk        e5ui chunked top-10 at 100k x 100k (d=384), and at 20k x 20k beside the peer:
              sklearn NearestNeighbors(metric="cosine", algorithm="brute").
  umap        UMAP (cosine) of 20k points (d=384): cold (empty numba cache, new process), warm
              (numba cache on disk, new process), after the app's background warm-up (new
              process), and a second fit in the same process; PCA for contrast.
  calibrate   percentile + rescale lookups of 1M scores against a 56,280-pair baseline.
Peak memory is the process's max resident set size (inputs included).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def parallel_pair(n: int, d: int, noise: float = 0.6, seed: int = 0):
    """Source vectors and a shuffled, noisy 'translation' of each (gold = the permutation)."""
    rng = np.random.default_rng(seed)
    src = unit(rng, n, d)
    perm = rng.permutation(n)
    tgt = src[perm] + noise * unit(rng, n, d) / np.sqrt(1.0)
    tgt /= np.linalg.norm(tgt, axis=1, keepdims=True)
    gold = np.empty(n, dtype=np.int64)
    gold[perm] = np.arange(n)  # source i's translation sits at target gold[i]
    return src, tgt.astype(np.float32), gold


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- cases (each runs in its own process) --------------------------------------------------------
def case_bitext(n: int, d: int) -> dict:
    from e5ui.analysis import bitext

    src, tgt, gold = parallel_pair(n, d)
    t = time.perf_counter()
    result = bitext.match(src, tgt, method="margin", one_to_one=True)
    secs = time.perf_counter() - t
    ev = bitext.evaluate(result, list(enumerate(gold.tolist())))
    return {"seconds": secs, "pairs": len(result.pairs), "p_at_1": ev.p_at_1}


def case_bitext_dense(n: int, d: int) -> dict:
    from scipy.optimize import linear_sum_assignment

    src, tgt, gold = parallel_pair(n, d)
    t = time.perf_counter()
    cost = src @ tgt.T
    rows, cols = linear_sum_assignment(cost, maximize=True)
    secs = time.perf_counter() - t
    return {"seconds": secs, "pairs": int(rows.size), "p_at_1": float((cols == gold).mean())}


def case_topk(n: int, d: int) -> dict:
    from e5ui.analysis import neighbours

    rng = np.random.default_rng(1)
    x = unit(rng, n, d)
    t = time.perf_counter()
    nb = neighbours.topk(x, x, k=10, exclude_self=True)
    return {"seconds": time.perf_counter() - t, "shape": list(nb.indices.shape)}


def case_topk_sklearn(n: int, d: int) -> dict:
    from sklearn.neighbors import NearestNeighbors

    from e5ui.analysis import neighbours

    rng = np.random.default_rng(1)
    x = unit(rng, n, d)
    t = time.perf_counter()
    nn = NearestNeighbors(n_neighbors=11, metric="cosine", algorithm="brute").fit(x)
    _, idx = nn.kneighbors(x)
    secs = time.perf_counter() - t
    ours = neighbours.topk(x[:200], x, k=10, exclude_self=np.arange(200))
    agree = float(np.mean([len(set(a) & set(b[1:])) / 10 for a, b in zip(ours.indices, idx)]))
    return {"seconds": secs, "agreement_with_e5ui_top10": agree}


def case_umap(n: int, d: int, twice: bool, warm: bool = False) -> dict:
    from e5ui import runtime
    from e5ui.analysis import projection

    runtime.configure_numba_cache(os.environ["E5UI_BENCH_NUMBA"])
    out = {}
    if warm:  # what the app does at start, in the background
        t = time.perf_counter()
        runtime.warm_up(background=False)
        out["warm_up_seconds"] = time.perf_counter() - t
    rng = np.random.default_rng(2)
    # Clustered data (like real embeddings): 40 centers in 24 directions plus noise.
    centers = unit(rng, 40, d)
    x = centers[rng.integers(0, 40, n)] + 0.7 * unit(rng, n, d)
    t = time.perf_counter()
    proj = projection.project(x, method="umap", dim=2, preservation_k=10)
    out["first_fit_seconds"] = time.perf_counter() - t
    out["preservation"] = proj.preservation
    if twice:
        t = time.perf_counter()
        projection.project(x, method="umap", dim=2, preservation_k=None)
        out["second_fit_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    projection.project(x, method="pca", dim=2, preservation_k=None)
    out["pca_seconds"] = time.perf_counter() - t
    return out


def case_calibrate() -> dict:
    from e5ui.analysis import calibration

    rng = np.random.default_rng(3)
    base = calibration.Baseline("bench", rng.normal(0.78, 0.03, 56280).astype(np.float32), 336)
    scores = rng.uniform(0.6, 1.0, 1_000_000).astype(np.float32)
    calibration.calibrate(scores[:10], base)
    t = time.perf_counter()
    calibration.calibrate(scores, base)
    secs = time.perf_counter() - t
    t = time.perf_counter()
    for s in scores[:1000]:
        calibration.calibrate(float(s), base)
    single = (time.perf_counter() - t) / 1000
    return {"seconds_1M": secs, "ns_per_score": secs / 1e6 * 1e9, "us_single": single * 1e6}


CASES = {
    "bitext-20k": lambda: case_bitext(20000, 1024),
    "bitext-5k": lambda: case_bitext(5000, 1024),
    "bitext-5k-dense-peer": lambda: case_bitext_dense(5000, 1024),
    "topk-100k": lambda: case_topk(100_000, 384),
    "topk-20k": lambda: case_topk(20_000, 384),
    "topk-20k-sklearn-peer": lambda: case_topk_sklearn(20_000, 384),
    "umap-20k-cold": lambda: case_umap(20_000, 384, twice=True),
    "umap-20k-warm-cache": lambda: case_umap(20_000, 384, twice=False),
    "umap-20k-after-warm-up": lambda: case_umap(20_000, 384, twice=False, warm=True),
    "calibrate": case_calibrate,
}
FAMILIES = {
    "bitext": ["bitext-20k", "bitext-5k", "bitext-5k-dense-peer"],
    "topk": ["topk-100k", "topk-20k", "topk-20k-sklearn-peer"],
    "umap": ["umap-20k-cold", "umap-20k-warm-cache", "umap-20k-after-warm-up"],
    "calibrate": ["calibrate"],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=list(FAMILIES), action="append")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.case:  # child process: run one case, print one JSON line
        t = time.perf_counter()
        result = CASES[args.case]()
        result.update(case=args.case, wall=time.perf_counter() - t, peak_mb=peak_mb())
        print(json.dumps(result))
        return
    results = []
    with tempfile.TemporaryDirectory() as numba_dir:
        env = {**os.environ, "E5UI_BENCH_NUMBA": numba_dir}
        for family in args.only or list(FAMILIES):
            for case in FAMILIES[family]:
                proc = subprocess.run([sys.executable, __file__, "--case", case], env=env,
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"{case}: FAILED\n{proc.stderr[-2000:]}", flush=True)
                    continue
                row = json.loads(proc.stdout.strip().splitlines()[-1])
                results.append(row)
                print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
