"""Exploring a map, timed: a point's neighbourhood, search by meaning, clusters and their names,
and the size of the map figure's JSON, at 5,000 points.

    python benchmarks/explore.py                 # 5,000 points, UMAP map (~1-2 min on 2 cores)
    python benchmarks/explore.py --method pca --n 20000

The points are random unit vectors (d = 384, multilingual-e5-small's width) around 50 topic
centres, so the map has clusters to find; each point's text is six words drawn from its topic's
words in one of four languages (no model: encoding is not what is measured here). Each
interaction is timed as the app runs it, on a map already drawn:
  neighbourhood   views.map_neighbours: k = 10 nearest by cosine, calibrated, hubs (the map's
                  hubness computed once before, as the app keeps it), map ranks
  search          views.map_search given the query embedding (the encoder is a lookup), with
                  the query's place on the map (UMAP transform / PCA projection)
  clusters        HDBSCAN on the map + c-TF-IDF names in every language, once per map
  page: ...       the Map tab's handlers for the page's events: a click (neighbourhood and
                  the figure with its lines, as JSON), a search (matches and the figure with
                  the query's star), a selection of 500 points (table and CSV/TSV files), a
                  restyle that keeps a click's lines
Target: each interaction < 300 ms; the figure's JSON < 10 MB.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.machine import cpu  # noqa: E402
from e5ui import textio, views  # noqa: E402
from e5ui.analysis.calibration import Baseline  # noqa: E402
from e5ui.views.map import MapData  # noqa: E402

LANGS = ("en", "de", "fr", "es")
TOPICS = 50
DIM = 384


class LookupEncoder:
    """The query's vector without a model."""

    def __init__(self, vector: np.ndarray):
        self.vector = vector

    def encode(self, texts, kind="query"):
        return np.tile(self.vector, (len(texts), 1))


def make_data(n: int, seed: int = 0, dim: int = DIM, langs: tuple[str, ...] = LANGS,
              topics: int = TOPICS) -> MapData:
    """``n`` random unit vectors (float32, d = ``dim``) around ``topics`` topic centres, each
    point's text six words of its topic in one of ``langs`` (cycled), with an ``id`` shared by
    each run of ``len(langs)`` points, read as the app reads a TSV file."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(topics, dim))
    topic = rng.integers(0, topics, n)
    x = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, 10_000):  # float64 noise for 100,000 x 1024 would be 0.8 GB
        stop = min(n, start + 10_000)
        block = centres[topic[start:stop]] + 0.8 * rng.normal(size=(stop - start, dim))
        x[start:stop] = block / np.linalg.norm(block, axis=1, keepdims=True)
    vocab = {(t, lang): [f"{lang}{t}w{j}" for j in range(12)] for t in range(topics)
             for lang in langs}
    point_langs = [langs[i % len(langs)] for i in range(n)]
    lines = ["text\tlang\tid"]
    for i in range(n):
        words = rng.choice(vocab[(int(topic[i]), point_langs[i])], size=6)
        lines.append(f"{' '.join(words)} number {i}\t{point_langs[i]}\tt{i // len(langs)}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.tsv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        corpus = textio.read_texts(path, max_texts=n)
    return MapData(corpus, x, point_langs, [])


def make_map(n: int, method: str, seed: int = 0) -> views.MapResult:
    return views.map_view(make_data(n, seed), method, 2)


def timed(fn, repeat: int) -> float:
    """Median wall time of ``fn`` in ms."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--method", default="umap", choices=["umap", "pca"])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"CPU: {cpu()} · {os.cpu_count()} logical cores")
    start = time.perf_counter()
    result = make_map(args.n, args.method)
    print(f"{args.n} points, {args.method.upper()} map drawn in "
          f"{time.perf_counter() - start:.1f} s (not an interaction)")
    rng = np.random.default_rng(1)
    baseline = Baseline("random", rng.normal(0, 0.05, size=10_000))
    start = time.perf_counter()
    _ = result.hubs
    hub_ms = (time.perf_counter() - start) * 1000
    print(f"hubness of the map's texts (once per map):  {hub_ms:8.1f} ms")
    query = result.data.embeddings[17]
    enc = LookupEncoder(query)
    views.map_search(result, "warm-up", enc, baseline=baseline)  # UMAP transform compiles once
    rows = [
        ("neighbourhood (k=10)", timed(lambda: views.map_neighbours(
            result, int(rng.integers(args.n)), 10, baseline=baseline), args.repeat)),
        ("search by meaning", timed(lambda: views.map_search(
            result, "query", enc, baseline=baseline), args.repeat)),
    ]

    def clusters():
        result.__dict__.pop("named_clusters", None)
        return result.named_clusters

    rows.append(("clusters + names (once)", timed(clusters, max(1, args.repeat // 2))))

    # What the page's own events cost the server, as the Map tab's handlers run them: the
    # view, then the new figure to JSON (what gradio sends), or the selection's two files.
    def click():
        found = views.map_neighbours(result, int(rng.integers(args.n)), 10, baseline=baseline)
        return found.map.figure.to_json()

    def search_on_map():
        return views.map_search(result, "query", enc, baseline=baseline).map.figure.to_json()

    picked = sorted(rng.choice(args.n, size=min(500, args.n), replace=False).tolist())
    folder = Path(tempfile.mkdtemp())

    def select():
        found = views.map_selection(result, picked)
        found.write(folder / "selection.csv")
        found.write(folder / "selection.tsv")

    focused = views.map_neighbours(result, 0, 10, baseline=baseline).map
    rows += [("page: click -> panel + lines", timed(click, args.repeat)),
             ("page: search -> figure", timed(search_on_map, args.repeat)),
             (f"page: select {len(picked)} -> table", timed(select, args.repeat)),
             ("page: restyle (lines kept)", timed(
                 lambda: focused.restyled("language", False, "w1", False).figure.to_json(),
                 args.repeat))]
    for name, ms in rows:
        print(f"{name:<28} {ms:8.1f} ms  {'ok' if ms < 300 else 'OVER 300 ms'}")
    named = result.named_clusters
    example = next(iter(named.names.values()), "")
    print(f"  {len(set(named.names.values()))} clusters, "
          f"{int((named.labels < 0).sum())} noise points; e.g. {example}")
    for label, styled in (("plain", result),
                          ("clusters named", result.restyled("cluster", True, "", True))):
        size = len(styled.figure.to_json().encode("utf-8"))
        print(f"figure JSON ({label}): {size / 2**20:.2f} MB  "
              f"{'ok' if size < 10 * 2**20 else 'OVER 10 MB'}")


if __name__ == "__main__":
    main()
