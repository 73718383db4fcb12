"""100,000 texts on the map, timed end to end at the views level, as the app runs them.

    python benchmarks/scale.py                       # 100,000 x 1024 (~5 min on 2 cores)
    python benchmarks/scale.py --n 20000 --skip-umap # a quick look

The texts are ``benchmarks/explore.py``'s (``make_data``): random unit vectors around topic
centres, here d = 1024 (multilingual-e5-large's width) and eight languages, six generated
words per text with an ``id`` per run of eight; no model, so encoding is not measured. Steps:
  data            the texts and vectors written as a map.parquet (text, lang, id, embedding,
                  and the record of what made the vectors), not timed; then read back as the
                  app reads an upload: ``textio.read_texts``, ``use_vectors`` (the record
                  checked against the loaded model, a stand-in of d = 1024 here) and
                  ``views.map_data``, nothing encoded
  PCA preview     views.map_preview, its figure, the figure's JSON (plotly's ``to_json``,
                  what gradio sends); "the first picture" counts reading the file too
  UMAP            views.map_view("umap") after ``runtime.warm_up`` compiled umap's kernels
                  (neighbour preservation included), its figure and JSON
  click           what the server does for a click on the UMAP map: views.map_neighbours,
                  then the handler's outputs (ui.map's panel and the click's lines for the
                  page to draw over its map, not a new figure), postprocessed by their gradio
                  components and written as JSON as gradio sends them. The first click pays
                  the map's hubness (each text's 10 nearest), a later one not
  search          views.map_search given the query's vector, + the figure's JSON
  1,000 queries   analysis.neighbours.topk, top 10 over the whole corpus, cross-lingual
  peak RSS        resource.getrusage's ru_maxrss of this process
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.explore import make_data  # noqa: E402
from benchmarks.machine import cpu  # noqa: E402
from e5ui import runtime, textio, views  # noqa: E402
from e5ui.analysis.calibration import Baseline  # noqa: E402
from e5ui.analysis.neighbours import topk  # noqa: E402
from e5ui.encoding.base import EncodeResult  # noqa: E402
from e5ui.encoding.vectors import use_vectors  # noqa: E402
from e5ui.textio import vectors as vectorio  # noqa: E402

LANGS = ("en", "de", "fr", "es", "it", "pt", "ru", "zh")
TOPICS = 200


def rss_gb() -> float:
    """Peak resident memory of this process so far, GB (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


class Report:
    """Prints each figure with its target as it is measured, and keeps them for the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, name: str, value: float, unit: str, target: float | None = None) -> None:
        verdict = "" if target is None else "ok" if value < target else "OVER"
        goal = "" if target is None else f"< {target:g} {unit}"
        self.rows.append((name, f"{value:,.2f} {unit}", goal, verdict))
        print(f"{name:<44} {value:>10,.2f} {unit:<3} {goal:<12} {verdict}", flush=True)


def timed(fn):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def json_mb(figure) -> tuple[float, float]:
    """(seconds, MB) of the figure's JSON."""
    text, s = timed(figure.to_json)
    return s, len(text.encode("utf-8")) / 2**20


def click_outputs(found, components: list) -> int:
    """Bytes of a click's answer as gradio sends it: the outputs of ``ui.map``'s click
    handler (``_near_outputs``; the session's map stays on the server) through their
    components' ``postprocess``, as JSON."""
    from e5ui.ui import map as map_ui

    outputs = map_ui._near_outputs(found, "light")
    sent = [c.postprocess(v) for c, v in zip(components, outputs, strict=False)]
    text = json.dumps([v.model_dump() if hasattr(v, "model_dump") else v for v in sent])
    return len(text.encode("utf-8"))


class LoadedModel:
    """Stands for the loaded model the vectors are checked against (d = 1024, "query: "); a
    query typed into the map "encodes" to ``vector``."""

    model = "benchmark/random-e5-large-shape"
    dim = 1024
    max_length = 512
    vector: np.ndarray | None = None

    def encode_detailed(self, texts, kind="query", normalize=True, progress=None):
        return EncodeResult(np.tile(self.vector, (len(texts), 1)),
                            tokens=np.zeros(len(texts), np.int64))

    def describe(self) -> dict:
        return {"model": self.model, "revision": None, "dim": self.dim}

    def format(self, texts, kind="query"):
        return ["query: " + t for t in texts]


def write_collection(data, folder: Path) -> Path:
    """``data`` as a map.parquet with its vectors and their record (what ``map --out`` writes)."""
    corpus = data.corpus
    info = vectorio.VectorInfo(LoadedModel.model, None, "symmetric", "query: ",
                               data.embeddings.shape[1], True, False)
    return textio.write_parquet(folder / "map.parquet", {
        "text": corpus.texts, "lang": data.langs, "id": corpus.ids,
        "embedding": data.embeddings}, vectorio.parquet_metadata(info))


def load_collection(path: Path, n: int, model: LoadedModel):
    """The map's data from the Parquet file, as the app reads an upload with vectors."""
    corpus = textio.read_texts(path, max_texts=n)
    return views.map_data(use_vectors(model, corpus, path), corpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--skip-umap", action="store_true", help="PCA map only (quick)")
    args = parser.parse_args()
    n = args.n
    print(f"CPU: {cpu()} · load {os.getloadavg()[0]:.1f}")
    print(f"{n:,} texts, d = {args.dim}, {len(LANGS)} languages, {TOPICS} topics")
    rep = Report()
    made, s = timed(lambda: make_data(n, dim=args.dim, langs=LANGS, topics=TOPICS))
    folder = Path(tempfile.mkdtemp(prefix="e5ui-scale-"))
    path, s_write = timed(lambda m=made: write_collection(m, folder))
    print(f"(texts and vectors generated in {s:.1f} s, written to {path.name} "
          f"({path.stat().st_size / 2**20:,.0f} MB) in {s_write:.1f} s; not measured)")
    # A digest, not a copy, of what was written: the peak memory is the app's, not ours.
    expected = hashlib.sha256(made.embeddings.tobytes()).hexdigest()
    del made
    model = LoadedModel()
    data, s_load = timed(lambda: load_collection(path, n, model))
    shutil.rmtree(folder)
    if hashlib.sha256(data.embeddings.tobytes()).hexdigest() != expected:
        raise SystemExit("the vectors read back differ from those written")
    rep.add("read map.parquet with its vectors (no encoding)", s_load, "s")
    rss_data = rss_gb()

    preview, s_pca = timed(lambda: views.map_preview(data))
    fig, s_fig = timed(lambda: preview.figure)
    s_json, mb = json_mb(fig)
    rep.add("PCA preview: projection", s_pca, "s")
    rep.add("PCA preview: figure", s_fig, "s")
    rep.add("PCA preview: figure JSON", s_json, "s")
    rep.add("PCA first picture (read+projection+figure+JSON)",
            s_load + s_pca + s_fig + s_json, "s", 10)
    rep.add("PCA figure JSON size", mb, "MB", 40)

    result = preview
    if not args.skip_umap:
        _, s = timed(lambda: runtime.warm_up(background=False))
        print(f"(runtime.warm_up: {s:.1f} s; not measured)")
        result, s_umap = timed(lambda: views.map_view(data, "umap"))
        rep.add("UMAP map (views.map_view, incl. preservation)", s_umap, "s")
        fig, s_fig = timed(lambda: result.figure)
        s_json, mb = json_mb(fig)
        rep.add("UMAP complete (map + figure + JSON)", s_umap + s_fig + s_json, "s", 180)
        rep.add("UMAP figure JSON size", mb, "MB", 40)
        print(f"  {result.summary}")
    baseline = Baseline("random", np.random.default_rng(1).normal(0, 0.05, size=10_000))
    rng = np.random.default_rng(2)
    import gradio as gr  # the app's components, for what a click sends (imports not timed)

    import e5ui.ui.map  # noqa: F401

    components = [gr.Textbox(), gr.Markdown(), gr.Markdown(), gr.Markdown(), gr.Dataframe()]
    for name in ("first click (hubness incl.)", "later click"):
        index = int(rng.integers(n))
        found, s = timed(lambda i=index: views.map_neighbours(result, i, 10, baseline=baseline))
        size, s_out = timed(lambda f=found: click_outputs(f, components))
        rep.add(f"{name}: neighbours", s * 1000, "ms")
        rep.add(f"{name}: + outputs JSON ({size / 1024:.0f} kB)", (s + s_out) * 1000, "ms",
                300)
    model.vector, enc = data.embeddings[17], model
    views.map_search(result, "warm-up", enc, baseline=baseline)  # UMAP transform compiles
    found, s = timed(lambda: views.map_search(result, "query", enc, baseline=baseline))
    s_json, _ = json_mb(found.map.figure)
    rep.add("search by meaning: search", s * 1000, "ms")
    rep.add("search by meaning: + figure JSON", (s + s_json) * 1000, "ms", 300)

    picks = rng.choice(n, size=min(args.queries, n), replace=False)
    queries = data.embeddings[picks]
    qlangs = [data.langs[i] for i in picks]
    _, s = timed(lambda: topk(queries, data.embeddings, 10, cross_lingual=True,
                              query_langs=qlangs, corpus_langs=data.langs))
    rep.add(f"neighbours of {len(picks):,} queries (top 10, cross-lingual)", s, "s", 10)
    rep.add("peak RSS after the data", rss_data, "GB")
    rep.add("peak RSS", rss_gb(), "GB", 4)
    over = [row[0] for row in rep.rows if row[3] == "OVER"]
    print("all within target" if not over else "OVER: " + "; ".join(over))


if __name__ == "__main__":
    main()
