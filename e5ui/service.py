"""What the app's views compute, without any UI: model loading in the background, and one
function per view that turns user input into figures, tables and notes.

``ui.py`` only lays these out and wires events; tests call these functions directly.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from e5ui import assets, bitext, langid, models, neighbours, plots, projection, similarity, textio
from e5ui.cache import EmbeddingCache

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]

MAX_TEXTS = 5000  # similarity / map / explain views
MAX_BITEXT = 20000  # sentences per side
MAX_MATRIX_CSV = 2000  # 2000 x 2000 cells is ~40 MB of CSV; beyond that offer the .npy
MAX_CHARS = 20000  # one text; longer inputs are almost certainly a paste mistake
NEIGHBOUR_COLUMNS = ["q#", "rank", "cosine", "margin", "percentile", "rescaled", "langs", "hub",
                     "query", "neighbour", "c#"]
MODEL_CHOICES = ["small", "base", "large", "large-instruct", "bundled"]


@dataclass
class Settings:
    """How the app runs (flags of ``python app.py``)."""

    model: str = models.DEFAULT_MODEL
    device: str | None = None
    dtype: str = "auto"
    cache_dir: str | None = None
    fallback: bool = True
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False


# -- the model, loaded in the background -------------------------------------------------------
@dataclass
class ModelStatus:
    """What the model panel shows."""

    state: str  # idle | loading | ready | failed
    requested: str
    info: dict | None = None
    error: str | None = None
    since: float = 0.0

    @property
    def fallback_reason(self) -> str | None:
        return (self.info or {}).get("fallback_reason")


class ModelHolder:
    """Owns the Encoder: loads it in a background thread, lets requests wait for it, and
    switches models without blocking the UI.

    Args:
        settings: model, device, dtype, cache dir, fallback.
        encoder: an already-built Encoder (tests, scripts); no loading then.
        factory: builds an encoder from (model name, settings); defaults to ``Encoder``.
    """

    def __init__(self, settings: Settings, encoder: Any = None, factory: Callable | None = None):
        self.settings = settings
        self._factory = factory or _default_factory
        self._cond = threading.Condition()
        self._encoder = encoder
        self._generation = 0
        self._baselines: dict[tuple, similarity.Baseline] = {}
        self._baseline_lock = threading.Lock()
        self.cache = getattr(encoder, "cache", None) or EmbeddingCache(
            directory=settings.cache_dir
        )
        if encoder is not None:
            self._status = ModelStatus("ready", settings.model, encoder.describe(),
                                       since=time.time())
        else:
            self._status = ModelStatus("idle", settings.model, since=time.time())

    def start(self, model: str | None = None) -> None:
        """Begins loading ``model`` (default: the settings' model) in a daemon thread."""
        model = model or self.settings.model
        with self._cond:
            self._generation += 1
            generation = self._generation
            self._status = ModelStatus("loading", model, since=time.time())
            self._cond.notify_all()
        thread = threading.Thread(target=self._load, args=(model, generation), daemon=True,
                                  name=f"e5ui-load-{model}")
        thread.start()

    def _load(self, model: str, generation: int) -> None:
        try:
            encoder = self._factory(model, self.settings, self.cache)
            status = ModelStatus("ready", model, encoder.describe(), since=time.time())
        except Exception as exc:  # shown in the model panel; the server keeps running
            logger.exception("Loading %s failed", model)
            encoder, status = None, ModelStatus("failed", model, error=str(exc),
                                                since=time.time())
        with self._cond:
            if generation != self._generation:
                return  # a newer switch superseded this load
            if encoder is not None:
                self._encoder = encoder
            self._status = status
            self._cond.notify_all()

    def status(self) -> ModelStatus:
        """The current status (with fresh cache counters when ready)."""
        with self._cond:
            status = self._status
            if status.state == "ready" and self._encoder is not None:
                status = ModelStatus("ready", status.requested, self._encoder.describe(),
                                     since=status.since)
            return status

    def wait(self, timeout: float = 900.0, tick: Callable[[float], None] | None = None):
        """Returns the encoder, waiting while a model loads.

        Args:
            timeout: seconds to wait at most.
            tick: called about once a second with the seconds waited (for progress bars).

        Raises:
            ValueError: when loading failed or took too long (shown to the user).
        """
        start = time.time()
        if self.status().state == "idle":
            self.start()
        with self._cond:
            while self._status.state in ("idle", "loading"):
                waited = time.time() - start
                if waited > timeout:
                    raise ValueError(f"The model is still loading after {timeout:.0f} s")
                if tick is not None:
                    tick(waited)
                self._cond.wait(timeout=1.0)
            if self._status.state == "failed":
                if self._encoder is None:
                    raise ValueError(f"The model could not be loaded: {self._status.error}")
            return self._encoder

    def baseline(self, encoder: Any) -> similarity.Baseline:
        """The encoder's unrelated-pair baseline, computed once per model and kept on disk."""
        info = encoder.describe()
        key = (info["model"], info.get("revision"), info.get("dtype"))
        with self._baseline_lock:
            if key not in self._baselines:
                self._baselines[key] = similarity.reference_baseline(encoder)
            return self._baselines[key]


def _default_factory(model: str, settings: Settings, cache: EmbeddingCache):
    from e5ui.encoder import Encoder

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback reason is in describe()
        return Encoder(model, device=settings.device, dtype=settings.dtype, cache=cache,
                       fallback=settings.fallback)


# -- inputs -------------------------------------------------------------------------------------
def read_input(text: str | None, file: str | None, what: str, limit: int = MAX_TEXTS
               ) -> textio.Corpus:
    """Reads texts from an uploaded file (if any) or a text box (one text per line).

    Raises:
        ValueError: with a message for the user when there is nothing usable.
    """
    if file:
        corpus = textio.read_texts(file)
    else:
        corpus = textio.parse_lines(text or "", source=what)
    if not corpus.texts:
        raise ValueError(f"The {what} is empty: type one text per line or upload a file")
    if len(corpus) > limit:
        raise ValueError(f"The {what} has {len(corpus)} texts; this view takes at most {limit}")
    too_long = [r for r, t in zip(corpus.rows, corpus.texts) if len(t) > MAX_CHARS]
    if too_long:
        raise ValueError(
            f"The {what} has text(s) over {MAX_CHARS} characters (line {too_long[0] + 1}); "
            "split long documents into paragraphs"
        )
    return corpus


def notes_for(corpus: textio.Corpus, result: Any, max_tokens: int, what: str) -> list[str]:
    """User-facing notes: skipped blank lines and truncated inputs of one input."""
    notes = list(corpus.notes())
    if result is not None and result.truncated:
        listed = ", ".join(f"{corpus.where(t.index)} ({t.tokens} tokens)"
                           for t in result.truncated[:8])
        more = "" if len(result.truncated) <= 8 else f" and {len(result.truncated) - 8} more"
        notes.append(f"{what}: {len(result.truncated)} text(s) longer than {max_tokens} tokens "
                     f"were truncated (the model reads only the first {max_tokens}): "
                     f"{listed}{more}")
    return notes


def labels_for(corpus: textio.Corpus, langs: list[str]) -> list[str]:
    """Short tick labels: "name · lang" (name = id, label or row number)."""
    out = [f"{name} · {lang}" for name, lang in zip(corpus.names(), langs)]
    # Plotly merges equal category labels; keep them unique.
    seen: dict[str, int] = {}
    for i, label in enumerate(out):
        if label in seen:
            seen[label] += 1
            out[i] = f"{label} ({seen[label]})"
        else:
            seen[label] = 1
    return out


def fmt_pct(p: float) -> str:
    """A percentile for people: "97.3%", ">99.9%", "<0.1%"."""
    if p != p:  # NaN
        return "–"
    if p >= 0.999:
        return ">99.9%"
    if p <= 0.001:
        return "<0.1%"
    return f"{p:.1%}"


def _embed(encoder, corpus, kind: str, progress: Progress | None, lo: float, hi: float,
           what: str):
    def cb(done: int, total: int) -> None:
        if progress is not None and total:
            progress(lo + (hi - lo) * done / total, f"Encoding {what}: {done}/{total}")

    return encoder.encode_detailed(corpus.texts, kind=kind, progress=cb)


def export_dir() -> Path:
    """A fresh folder for one result's downloads (under the system temp dir, which Gradio
    serves)."""
    return Path(tempfile.mkdtemp(prefix="e5ui-"))


# -- views ----------------------------------------------------------------------------------------
@dataclass
class SimilarityView:
    figure: Any
    top_pairs: Any  # pandas DataFrame
    notes: list[str]
    files: list[str]
    summary: str = ""
    embeddings: np.ndarray | None = None


def similarity_view(encoder, baseline, corpus: textio.Corpus, order: str = "cluster",
                    kind: str = "query", progress: Progress | None = None) -> SimilarityView:
    """Heatmap of pairwise cosines with calibrated hover, the most similar pairs, downloads."""
    import pandas as pd

    result = _embed(encoder, corpus, kind, progress, 0.0, 0.8, "texts")
    emb = result.embeddings
    langs = langid.detect(corpus.texts, corpus.langs)
    labels = labels_for(corpus, langs)
    n = len(corpus)
    if progress:
        progress(0.85, "Ordering and drawing")
    notes = notes_for(corpus, result, encoder.max_length, "Input")
    out = export_dir()
    files = [str(textio.write_npy(out / "embeddings.npy", emb))]
    sim_full = similarity.cosine_matrix(emb)
    if n > similarity.AGGREGATE_ABOVE:
        view = similarity.aggregate(emb)
        figure = plots.cluster_heatmap(view, corpus.texts,
                                       title=f"{n} texts in {view.k} clusters: mean cosine")
        notes.append(f"{n} texts are too many for a readable cell-per-pair heatmap; showing "
                     f"{view.k} clusters (mean cosine between their members).")
        order_idx = np.arange(n)
    else:
        order_idx = similarity.heatmap_order(emb, order, langs)
        sim = sim_full[np.ix_(order_idx, order_idx)]
        cal = similarity.calibrate(sim, baseline)
        figure = plots.similarity_heatmap(
            sim, [labels[i] for i in order_idx], [corpus.texts[i] for i in order_idx],
            [langs[i] for i in order_idx], cal.percentile, cal.rescaled,
            title=f"Cosine similarity of {n} texts ({order} order)")
    if n <= MAX_MATRIX_CSV:
        files.append(str(textio.write_matrix(out / "similarity.csv",
                                             sim_full[np.ix_(order_idx, order_idx)],
                                             [labels[i] for i in order_idx])))
    else:
        notes.append(f"The {n} x {n} matrix is too large for a CSV download; the embeddings "
                     "(.npy) are included, and `python -m e5ui similarity FILE --out m.csv` "
                     "writes it.")
    files.append(_figure_file(out / "heatmap.html", figure, "e5ui similarity heatmap"))
    top_i, top_j, top_cos = similarity.top_pairs(sim_full, 15)
    cal = similarity.calibrate(top_cos, baseline)
    rows = [[labels[i], labels[j], round(float(c), 4), fmt_pct(p), round(float(r), 3),
             corpus.texts[i], corpus.texts[j]]
            for i, j, c, p, r in zip(top_i, top_j, top_cos, cal.percentile, cal.rescaled)]
    table = pd.DataFrame(rows, columns=["text A", "text B", "cosine", "percentile",
                                        "rescaled", "A", "B"])
    summary = ""
    if n > 1:
        off = sim_full[np.triu_indices(n, k=1)]
        summary = (f"{n} texts · cosines {off.min():.3f}–{off.max():.3f} · unrelated pairs "
                   f"for this model: median {baseline.median:.3f}")
    return SimilarityView(figure, table, notes, files, summary, emb)


def _figure_file(path: Path, figure, title: str) -> str:
    path.write_text(plots.figure_html(figure, title), encoding="utf-8")
    return str(path)


@dataclass
class NeighboursView:
    table: Any
    notes: list[str]
    files: list[str]
    summary: str = ""


def neighbours_view(encoder, baseline, queries: textio.Corpus, corpus: textio.Corpus,
                    k: int = 5, cross_lingual: bool = False, margin: bool = False,
                    symmetric: bool = False, progress: Progress | None = None
                    ) -> NeighboursView:
    """Top-k neighbours per query with raw and calibrated scores, languages and hub flags."""
    import pandas as pd

    if not 1 <= int(k) <= 100:
        raise ValueError("k must be between 1 and 100")
    k = int(k)
    q = _embed(encoder, queries, "query", progress, 0.0, 0.3, "queries")
    c = _embed(encoder, corpus, "query" if symmetric else "passage", progress, 0.3, 0.9,
               "corpus")
    qlang = langid.detect(queries.texts, queries.langs)
    clang = langid.detect(corpus.texts, corpus.langs)
    found = neighbours.search(q.embeddings, c.embeddings, k, margin=margin,
                              cross_lingual=cross_lingual, query_langs=qlang, corpus_langs=clang,
                              baseline=baseline)
    nb, cos, hub, hubs, cal = (found.neighbours, found.cosines, found.hubness, found.hubs,
                               found.calibrated)
    rows = [
        {
            "q#": queries.rows[qi] + 1, "rank": rank + 1,
            "cosine": round(float(cos[qi, rank]), 4),
            "margin": f"{nb.scores[qi, rank]:.4f}" if margin else "–",
            "percentile": fmt_pct(cal.percentile[qi, rank]),
            "rescaled": round(float(cal.rescaled[qi, rank]), 3),
            "langs": f"{qlang[qi]} → {clang[ci]}",
            "hub": "⚑ hub" if ci in hubs else "",
            "query": queries.texts[qi], "neighbour": corpus.texts[ci],
            "c#": corpus.rows[ci] + 1,
        }
        for qi, rank, ci in found.entries()
    ]
    table = pd.DataFrame(rows, columns=NEIGHBOUR_COLUMNS)
    notes = notes_for(queries, q, encoder.max_length, "Queries") + notes_for(
        corpus, c, encoder.max_length, "Corpus")
    if cross_lingual:
        lonely = [qi for qi in range(len(queries)) if (nb.indices[qi] < 0).all()]
        if lonely:
            notes.append(f"{len(lonely)} query(ies) have no corpus text in another language.")
    if hubs:
        most = int(hub.counts[hub.hubs[0]])
        notes.append(
            f"⚑ {hub.hubs.size} hub(s): corpus texts that appear in unusually many neighbour "
            f"lists (up to {most} of {len(queries)}; expected about "
            f"{len(queries) * nb.indices.shape[1] / max(len(corpus), 1):.1f}). Hubs crowd out "
            "better neighbours; the margin switch demotes them."
        )
    out = export_dir()
    files = []
    if not table.empty:
        files.append(str(textio.write_rows(out / "neighbours.tsv", list(table.columns),
                                           table.values.tolist())))
    summary = (f"{len(queries)} queries × {len(corpus)} corpus texts · top {k}"
               f"{' · cross-lingual' if cross_lingual else ''}{' · margin' if margin else ''}"
               f" · {'symmetric (query/query)' if symmetric else 'retrieval (query/passage)'}")
    return NeighboursView(table, notes, files, summary)


@dataclass
class MapInput:
    embeddings: np.ndarray
    corpus: textio.Corpus
    langs: list[str]
    notes: list[str]


def map_input(encoder, corpus: textio.Corpus, progress: Progress | None = None) -> MapInput:
    """Embeds the texts of the map view."""
    result = _embed(encoder, corpus, "query", progress, 0.0, 0.6, "texts")
    langs = langid.detect(corpus.texts, corpus.langs)
    return MapInput(result.embeddings, corpus, langs,
                    notes_for(corpus, result, encoder.max_length, "Input"))


@dataclass
class MapView:
    figure: Any
    projection: projection.Projection
    notes: list[str]
    files: list[str]
    summary: str


def map_figure(data: MapInput, proj: projection.Projection, color_by: str = "language",
               connect: bool = True, search: str = "") -> tuple[Any, list[str]]:
    """Draws projected texts: colours, translation lines, search highlights; returns notes."""
    corpus = data.corpus
    if color_by == "label" and corpus.labels:
        colours = [x or "(none)" for x in corpus.labels]
    else:
        colours = data.langs
    highlight = None
    needle = (search or "").strip().lower()
    if needle:
        highlight = np.array([needle in t.lower() for t in corpus.texts])
    ids = corpus.ids if connect and corpus.ids else None
    title = f"{proj.method.upper()} map of {len(corpus)} texts"
    figure = plots.projection_scatter(proj.coords, corpus.texts, colours, ids=ids,
                                      highlight=highlight, title=title, method_note=proj.note)
    notes = list(data.notes)
    if proj.note:
        notes.append(proj.note)
    if color_by == "label" and not corpus.labels:
        notes.append("This input has no `label` column; colouring by language.")
    if needle:
        notes.append(f"Search “{search.strip()}”: {int(highlight.sum())} matching text(s) "
                     "highlighted.")
    if connect and not corpus.ids:
        notes.append("Lines join translations by a shared `id` column; this input has none.")
    return figure, notes


def map_view(data: MapInput, method: str = "umap", dim: int = 2, color_by: str = "language",
             connect: bool = True, search: str = "", seed: int = 42) -> MapView:
    """Projects embedded texts and draws the scatter, with the neighbour-preservation score."""
    corpus = data.corpus
    proj = projection.project(data.embeddings, method=method, dim=int(dim), seed=seed)
    figure, notes = map_figure(data, proj, color_by, connect, search)
    kept = ("n/a (too few texts)" if proj.preservation is None
            else f"{proj.preservation:.0%}")
    summary = (f"{proj.method.upper()} · {dim}-D · neighbour preservation: **{kept}** of each "
               "text's 10 nearest neighbours (by cosine) are also among its 10 nearest on the "
               "map")
    out = export_dir()
    axes = ["x", "y", "z"][: int(dim)]
    rows = [[corpus.rows[i] + 1, *(round(float(v), 5) for v in proj.coords[i]),
             data.langs[i], corpus.labels[i] if corpus.labels else "", corpus.texts[i]]
            for i in range(len(corpus))]
    files = [
        str(textio.write_rows(out / "coords.csv", ["line", *axes, "lang", "label", "text"],
                              rows)),
        _figure_file(out / "map.html", figure, "e5ui map"),
    ]
    return MapView(figure, proj, notes, files, summary)


@dataclass
class BitextView:
    table: Any
    unmatched: Any
    notes: list[str]
    files: list[str]
    summary: str
    evaluation: bitext.Evaluation | None = None


def bitext_view(encoder, source: textio.Corpus, target: textio.Corpus, method: str = "margin",
                one_to_one: bool = True, threshold: float | None = None,
                gold_file: str | None = None, progress: Progress | None = None) -> BitextView:
    """Matches source to target sentences; table, unmatched lists, gold metrics, exports."""
    import pandas as pd

    gold = textio.read_gold(gold_file) if gold_file else None
    s = _embed(encoder, source, "query", progress, 0.0, 0.45, "source")
    t = _embed(encoder, target, "query", progress, 0.45, 0.9, "target")
    if progress:
        progress(0.92, "Matching")
    result = bitext.match(s.embeddings, t.embeddings, method=method, one_to_one=one_to_one,
                          threshold=threshold)
    # 0-based line numbers, as in the TSV export and the gold file.
    table = pd.DataFrame(
        [{"src_index": source.rows[p.src], "tgt_index": target.rows[p.tgt],
          "score": round(p.score, 4), "cosine": round(p.cosine, 4),
          "source": source.texts[p.src], "target": target.texts[p.tgt]}
         for p in result.pairs],
        columns=["src_index", "tgt_index", "score", "cosine", "source", "target"])
    unmatched = pd.DataFrame(
        [{"side": "source", "index": source.rows[i], "text": source.texts[i]}
         for i in result.unmatched_src]
        + [{"side": "target", "index": target.rows[j], "text": target.texts[j]}
           for j in result.unmatched_tgt],
        columns=["side", "index", "text"])
    notes = notes_for(source, s, encoder.max_length, "Source") + notes_for(
        target, t, encoder.max_length, "Target")
    evaluation = None
    if gold is not None:
        src_of = {r: i for i, r in enumerate(source.rows)}
        tgt_of = {r: i for i, r in enumerate(target.rows)}
        bad = [(a, b) for a, b in gold if a not in src_of or b not in tgt_of]
        if bad:
            raise ValueError(f"Gold pair {bad[0]} points at a line without a sentence "
                             "(gold uses 0-based line numbers)")
        evaluation = bitext.evaluate(result, [(src_of[a], tgt_of[b]) for a, b in gold])
    out = export_dir()
    src_langs = langid.detect(source.texts, source.langs)
    tgt_langs = langid.detect(target.texts, target.langs)
    files = [
        str(textio.write_pairs(out / "pairs.tsv", result, source, target)),
        str(textio.write_pairs(out / "pairs.csv", result, source, target)),
        str(textio.write_pairs(out / "pairs.tmx", result, source, target, src_langs,
                               tgt_langs)),
    ]
    mode = "one-to-one" if one_to_one else "each source its best target"
    summary = (f"{len(result.pairs)} pairs from {len(source)} source and {len(target)} target "
               f"sentences · {method} · {mode}"
               f"{'' if threshold is None else f' · threshold {threshold:g}'}"
               f" · unmatched: {len(result.unmatched_src)} source, "
               f"{len(result.unmatched_tgt)} target")
    return BitextView(table, unmatched, notes, files, summary, evaluation)


@dataclass
class ExplainView:
    figure: Any
    summary: str
    notes: list[str] = field(default_factory=list)


def explain_view(encoder, baseline, corpus: textio.Corpus | None,
                 progress: Progress | None = None) -> ExplainView:
    """Histogram of the texts' pairwise cosines over the model's unrelated-pairs baseline."""
    pair = np.zeros(0, np.float32)
    notes: list[str] = []
    if corpus is not None and len(corpus) >= 2:
        result = _embed(encoder, corpus, "query", progress, 0.0, 0.9, "texts")
        sim = similarity.cosine_matrix(result.embeddings)
        pair = sim[np.triu_indices(len(corpus), k=1)]
        notes = notes_for(corpus, result, encoder.max_length, "Input")
    elif corpus is not None:
        notes = ["One text makes no pair: add at least two to see where your scores fall."]
    model = encoder.describe()["model"]
    figure = plots.score_histogram(pair, baseline, title="Your pairs vs. unrelated pairs")
    summary = (f"**{model}** · unrelated pairs ({baseline.n_texts} reference sentences, "
               f"{baseline.cosines.size} pairs) score {baseline.p5:.3f}–{baseline.p95:.3f} "
               f"(5th–95th percentile), median {baseline.median:.3f}.")
    if pair.size:
        above = float((pair > baseline.p95).mean())
        pairs_word = "pair" if pair.size == 1 else "pairs"
        summary += (f" Your {len(corpus)} texts: {pair.size} {pairs_word}, median "
                    f"{float(np.median(pair)):.3f}; {above:.0%} score above 95% of unrelated "
                    "pairs.")
    return ExplainView(figure, summary, notes)


@dataclass
class PairScore:
    raw: float
    percentile: float
    rescaled: float
    text: str


def pair_score(encoder, baseline, a: str, b: str) -> PairScore:
    """Raw cosine, percentile among unrelated pairs and rescaled score of two texts."""
    a, b = (a or "").strip(), (b or "").strip()
    if not a or not b:
        raise ValueError("Type a sentence in both boxes")
    emb = encoder.encode([a, b], kind="query")
    raw = float(emb[0] @ emb[1])
    cal = similarity.calibrate(raw, baseline)
    pct, res = float(cal.percentile), float(cal.rescaled)
    text = assets.text("pair_score.md").format(raw=raw, pct=pct, rescaled=res,
                                               median=baseline.median)
    return PairScore(raw, pct, res, text)


def report(sections: list[tuple[str, Any]], info: dict | None) -> str:
    """Writes a self-contained HTML report of the given views; returns the file path."""
    meta = {"created": time.strftime("%Y-%m-%d %H:%M")}
    if info:
        meta.update({"model": info.get("model"), "source": info.get("source"),
                     "device": info.get("device"), "dtype": info.get("dtype")})
        if info.get("fallback_reason"):
            meta["note"] = f"requested {info.get('requested')}: {info['fallback_reason']}"
    if not sections:
        raise ValueError("Nothing to report yet: run at least one view first")
    html = plots.report_html("e5ui report", sections, meta)
    path = export_dir() / "e5ui-report.html"
    path.write_text(html, encoding="utf-8")
    return str(path)
