"""Scale of ordered document alignment: two 10,000-sentence documents, no model needed.

    python benchmarks/align.py                      # 10,000 source sentences, d = 1024
    python benchmarks/align.py --n 2000 --dim 384   # smaller
    python benchmarks/align.py --json /tmp/align-bench.json

The documents are synthetic and seeded. A source sentence is a random unit vector that shares
a common direction with the others, so unrelated sentences score ~0.7 as with E5 (whose
training temperature of 0.01 compresses cosines into 0.7-1.0). The target is planted from the
source: 1-1 translations (the source vector plus noise, cosine ~0.9 to it), 10% merges of two
adjacent source sentences (2-1), 3% splits (1-2), 5% omissions (1-0) and 2% added sentences
(0-1). The vector of a concatenation is the normalised sum of its sentences' vectors, a
sentence encoder's rough behaviour. Sentence lengths follow the sources.

"Encoding" (the vectors of every concatenation the aligner will ask for) is done before the
clock starts; the timed part is ``e5ui.analysis.alignment.align`` itself, whose ``embed`` then
only looks the vectors up, as an encoder's cache would. Reported: the CPU, the command, the
seconds, peak memory (tracemalloc peak of the alignment alone, and the process's maximum
resident set size, inputs included), the number of DP cells scored against n x m, and strict /
lax F1 against the planted gold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import cpu  # noqa: E402
from e5ui.analysis import alignment  # noqa: E402

TIME_LIMIT_S = 60
MEMORY_LIMIT_MB = 2048


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def plan(n: int, rng: np.random.Generator) -> list[tuple[tuple[int, ...], int]]:
    """The target's make-up: (source indices, number of target sentences) per bead."""
    beads: list[tuple[tuple[int, ...], int]] = []
    i = 0
    while i < n:
        r = rng.random()
        if r < 0.10 and i + 1 < n:
            beads.append(((i, i + 1), 1))
            i += 2
            continue
        if r < 0.13:
            beads.append(((i,), 2))
        elif r < 0.18:
            beads.append(((i,), 0))
        elif r < 0.20:
            beads.append(((), 1))
            continue
        else:
            beads.append(((i,), 1))
        i += 1
    return beads


def documents(n: int, dim: int, seed: int = 0):
    """Source and target sentences, the vector of every sentence, and the gold links."""
    rng = np.random.default_rng(seed)
    common = unit(rng.standard_normal(dim))

    def sentence_vectors(k: int) -> np.ndarray:
        # cos(common) weight 1.5 vs a random part of norm 1: unrelated pairs score ~0.7.
        return unit(1.5 * common + unit(rng.standard_normal((k, dim))))

    src_vec = sentence_vectors(n)
    src_len = rng.integers(30, 160, size=n)
    src = [f"s{i}|" + "x" * int(src_len[i]) for i in range(n)]
    tgt: list[str] = []
    tgt_vec: list[np.ndarray] = []
    gold: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
    for sources, parts in plan(n, rng):
        first = len(tgt)
        meaning = unit(src_vec[list(sources)].sum(0)) if sources else sentence_vectors(1)[0]
        length = int(src_len[list(sources)].sum()) if sources else 60
        halves = unit(rng.standard_normal((2, dim))) * (0.8 if parts == 2 else 0.0)
        for k in range(parts):
            noise = unit(rng.standard_normal(dim)) * 0.25
            v = meaning + halves[k] * (1 if k == 0 else -1) + noise
            tgt_vec.append(unit(v))
            size = max(1, int(length / parts * rng.uniform(0.8, 1.25)))
            tgt.append(f"t{len(tgt)}|" + "y" * size)
        gold.append((sources, tuple(range(first, first + parts))))
    return src, np.array(src_vec), tgt, np.array(tgt_vec), gold


def run_vectors(sentences: list[str], vectors: np.ndarray, max_merge: int) -> dict:
    """The "encoding": text -> vector for every run of 1..max_merge sentences."""
    csum = np.concatenate([np.zeros((1, vectors.shape[1])), np.cumsum(vectors, axis=0)])
    out = {}
    for a in range(1, max_merge + 1):
        sums = unit(csum[a:] - csum[:-a])
        for e in range(a, len(sentences) + 1):
            out[alignment.join_texts(sentences[e - a:e])] = sums[e - a]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="source sentences")
    parser.add_argument("--dim", type=int, default=1024, help="vector size (e5-large: 1024)")
    parser.add_argument("--max-merge", type=int, default=alignment.DEFAULT_MAX_MERGE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()

    src, src_vec, tgt, tgt_vec, gold = documents(args.n, args.dim, args.seed)
    started = time.perf_counter()
    table = run_vectors(src, src_vec, args.max_merge)
    table.update(run_vectors(tgt, tgt_vec, args.max_merge))
    encode_s = time.perf_counter() - started
    asked: list[int] = []

    def embed(texts: list[str]) -> np.ndarray:
        asked.append(len(texts))
        return np.stack([table[t] for t in texts])

    tracemalloc.start()
    started = time.perf_counter()
    result = alignment.align(src, tgt, embed, max_merge=args.max_merge)
    seconds = time.perf_counter() - started
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ev = alignment.evaluate(result, gold)
    n, m = len(src), len(tgt)
    figures = {
        "cpu": cpu(), "cores": os.cpu_count(), "command": " ".join(sys.argv),
        "n_src": n, "n_tgt": m, "dim": args.dim, "max_merge": args.max_merge,
        "texts_embedded": sum(asked), "encode_s": round(encode_s, 2),
        "align_s": round(seconds, 2), "align_peak_mb": round(traced_peak / 2**20, 1),
        "process_max_rss_mb": round(rss_mb, 1), "dense_float32_matrix_mb": round(
            n * m * 4 / 2**20, 1), "dp_cells": result.cells, "n_x_m": n * m,
        "search": result.search, "anchors": result.anchors, "links": len(result.links),
        "f1_strict": round(ev.f1_strict, 4), "f1_lax": round(ev.f1_lax, 4),
        "precision_strict": round(ev.precision_strict, 4),
        "recall_strict": round(ev.recall_strict, 4),
        "within_time_limit": seconds < TIME_LIMIT_S,
        "within_memory_limit": rss_mb < MEMORY_LIMIT_MB,
    }
    print(f"CPU: {figures['cpu']} ({figures['cores']} cores), Python {platform.python_version()}"
          f", numpy {np.__version__}")
    print(f"command: python {figures['command']}")
    print(f"documents: {n:,} x {m:,} sentences, d={args.dim}, max_merge={args.max_merge}; "
          f"{sum(asked):,} concatenations embedded (precomputed in {encode_s:.1f} s)")
    print(f"align: {seconds:.1f} s (limit {TIME_LIMIT_S} s), {result.search} search, "
          f"{result.anchors:,} anchors")
    print(f"memory: alignment peak {figures['align_peak_mb']} MB (tracemalloc), process max "
          f"RSS {figures['process_max_rss_mb']} MB (limit {MEMORY_LIMIT_MB} MB); a dense "
          f"float32 n x m matrix alone would be {figures['dense_float32_matrix_mb']} MB")
    print(f"DP cells scored: {result.cells:,} of n x m = {n * m:,} "
          f"({100 * result.cells / (n * m):.2f}%)")
    print(f"planted gold: strict F1 {ev.f1_strict:.4f} (P {ev.precision_strict:.4f}, "
          f"R {ev.recall_strict:.4f}), lax F1 {ev.f1_lax:.4f}; links by type "
          f"{result.type_counts()}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
