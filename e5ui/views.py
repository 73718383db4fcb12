"""One function and one result object per view, shared by the app and the command line.

A view function takes parsed inputs (``textio.Corpus``) and an encoder and returns a result: its
table (one header, 0-based line numbers), its notes for the user, its summary line, its figure
and its exports. ``result.write(path)`` picks the format by the file's suffix, and
``result.export(folder)`` writes the files the app offers for download through the same
``write``, so the app and the CLI give byte-identical files for the same request.

Views: similarity, neighbours, map, bitext, explain (the tab, the endpoint, the function and the
CLI subcommand share these names).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from e5ui import baselines, langid, plots, resources, textio
from e5ui.analysis import bitext, neighbours, projection, similarity
from e5ui.analysis.calibration import Baseline, calibrate

# progress(fraction done, what is happening)
Progress = Callable[[float, str], None]

TOP_PAIRS = 15  # rows of the similarity view's "most similar pairs" table
MAX_MATRIX_CSV = 2000  # 2000 x 2000 cells is ~40 MB of CSV; the app offers the .npy beyond


# -- tables -------------------------------------------------------------------------------------
@dataclass
class Table:
    """A view's table: what the app shows and what the CLI writes, with one header.

    Attributes:
        header: column names.
        rows: one list per row: ints (0-based line numbers, ranks), floats (scores, written
            with 6 decimals) and strings; None for a cell that does not apply.
    """

    header: list[str]
    rows: list[list] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def write(self, path: str | Path) -> Path:
        """Writes the table as .csv or .tsv."""
        return textio.write_rows(path, self.header, self.rows)

    def frame(self, limit: int | None = None):
        """The table for display (pandas): scores rounded to 4 decimals, percentiles as
        "97.3%", cells that do not apply as "–"."""
        import pandas as pd

        def shown(column: str, value: Any) -> Any:
            if value is None:
                return "–"
            if column == "percentile":
                return fmt_pct(float(value))
            if isinstance(value, float):
                return round(value, 4)
            return value

        rows = self.rows if limit is None else self.rows[:limit]
        return pd.DataFrame([[shown(c, v) for c, v in zip(self.header, r)] for r in rows],
                            columns=self.header)

    def html(self, limit: int = 200) -> plots.Markup:
        """The first rows as an escaped HTML table, for the report."""
        return plots.Markup(self.frame(limit).to_html(index=False, escape=True))


def fmt_pct(p: float) -> str:
    """A percentile for people: "97.3%", ">99.9%", "<0.1%"."""
    if p != p:  # NaN
        return "–"
    if p >= 0.999:
        return ">99.9%"
    if p <= 0.001:
        return "<0.1%"
    return f"{p:.1%}"


# -- shared steps -------------------------------------------------------------------------------
def _embed(encoder, corpus: textio.Corpus, kind: str, progress: Progress | None, lo: float,
           hi: float, what: str):
    def cb(done: int, total: int) -> None:
        if progress is not None and total:
            progress(lo + (hi - lo) * done / total, f"Encoding {what}: {done}/{total}")

    return encoder.encode_detailed(corpus.texts, kind=kind, progress=cb)


def _stage(progress: Progress | None, fraction: float, what: str) -> None:
    if progress is not None:
        progress(fraction, what)


def notes_for(corpus: textio.Corpus, result: Any, max_tokens: int, what: str) -> list[str]:
    """User-facing notes on one input: skipped blank lines and truncated texts."""
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
    """Short unique labels: "name · lang" (name = id, label or 1-based row), "(2)" on repeats."""
    out = [f"{name} · {lang}" for name, lang in zip(corpus.names(), langs)]
    # Plotly merges equal category labels, pandas renames equal columns: keep them unique.
    seen: dict[str, int] = {}
    for i, label in enumerate(out):
        if label in seen:
            seen[label] += 1
            out[i] = f"{label} ({seen[label]})"
        else:
            seen[label] = 1
    return out


def _suffix(path: str | Path, allowed: Sequence[str], what: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise ValueError(f"The {what} view writes {', '.join(allowed)} files, not "
                         f"{Path(path).name!r}")
    return suffix


def _write_figure(path: str | Path, figure, title: str) -> Path:
    path = Path(path)
    path.write_text(plots.figure_html(figure, title), encoding="utf-8")
    return path


# -- similarity ---------------------------------------------------------------------------------
@dataclass(eq=False)
class SimilarityResult:
    """Pairwise cosines of a list of texts.

    Attributes:
        corpus: the texts.
        embeddings: (n, dim), input order.
        langs: language code per text.
        labels: unique "name · lang" label per text.
        order: display order (a permutation of range(n)); identity above the aggregation limit.
        order_method: "input", "language" or "cluster".
        baseline: the model's unrelated-pair baseline.
        top: the most similar pairs.
        notes: remarks for the user.
        span: the lowest and highest cosine between two different texts (None below 2 texts).
        clusters: the cluster summary shown instead of cells above ``AGGREGATE_ABOVE`` texts.
    """

    corpus: textio.Corpus
    embeddings: np.ndarray
    langs: list[str]
    labels: list[str]
    order: np.ndarray
    order_method: str
    baseline: Baseline
    top: Table
    notes: list[str]
    span: tuple[float, float] | None = None
    clusters: similarity.ClusterView | None = None

    @property
    def n(self) -> int:
        return len(self.corpus)

    def matrix(self) -> np.ndarray:
        """The cosine matrix in display order."""
        return similarity.cosine_matrix(self.embeddings[self.order])

    @property
    def summary(self) -> str:
        if self.span is None:
            return ""
        lo, hi = self.span
        return (f"{self.n} texts · cosines {lo:.3f}–{hi:.3f} · unrelated pairs for this model: "
                f"median {self.baseline.median:.3f}")

    @cached_property
    def figure(self):
        n = self.n
        median = self.baseline.median
        if self.clusters is not None:
            return plots.cluster_heatmap(self.clusters, self.corpus.texts,
                                         title=f"{n} texts in {self.clusters.k} clusters: "
                                         "mean cosine", baseline_median=median)
        sim = self.matrix()
        cal = calibrate(sim, self.baseline)
        o = self.order.tolist()
        return plots.similarity_heatmap(
            sim, [self.labels[i] for i in o], [self.corpus.texts[i] for i in o],
            [self.langs[i] for i in o], cal.percentile, cal.rescaled,
            title=f"Cosine similarity of {n} texts ({self.order_method} order)",
            baseline_median=median)

    def write(self, path: str | Path) -> Path:
        """Writes the matrix (.csv / .tsv, labelled rows and columns in display order), the
        embeddings (.npy, input order) or the heatmap (.html)."""
        suffix = _suffix(path, (".csv", ".tsv", ".npy", ".html"), "similarity")
        if suffix == ".npy":
            return textio.write_npy(path, self.embeddings)
        if suffix == ".html":
            return _write_figure(path, self.figure, "e5ui similarity heatmap")
        return textio.write_matrix(path, self.matrix(), [self.labels[i] for i in self.order])

    def export(self, folder: Path) -> list[str]:
        """Writes the app's data downloads into ``folder`` (the figure's HTML, ~5 MB, is
        written only when asked for); returns their paths."""
        names = ["embeddings.npy"] + (["similarity.csv"] if self.n <= MAX_MATRIX_CSV else [])
        return [str(self.write(folder / name)) for name in names]


def similarity_view(encoder, corpus: textio.Corpus, order: str = "cluster",
                    kind: str = "symmetric", baseline: Baseline | None = None,
                    progress: Progress | None = None) -> SimilarityResult:
    """Pairwise cosines of texts, ordered for a heatmap, with the most similar pairs.

    Args:
        encoder: an Encoder (or anything with ``encode_detailed`` and ``describe``).
        corpus: the texts.
        order: "cluster", "language" or "input".
        kind: "symmetric" (the prompt for comparing texts) or "passage" on every text.
        baseline: the model's baseline; None looks it up (``baselines.reference_baseline``).
        progress: progress callback.

    Returns:
        The result.
    """
    if order not in similarity.ORDER_METHODS:
        raise ValueError(f"Unknown order: {order}. Must be one of: "
                         f"{', '.join(similarity.ORDER_METHODS)}")
    encoded = _embed(encoder, corpus, kind, progress, 0.0, 0.8, "texts")
    baseline = baseline or baselines.reference_baseline(encoder)
    emb = encoded.embeddings
    n = len(corpus)
    langs = langid.detect(corpus.texts, corpus.langs)
    labels = labels_for(corpus, langs)
    notes = notes_for(corpus, encoded, encoder.max_length, "Input")
    _stage(progress, 0.85, "Ordering")
    clusters = None
    if n > similarity.AGGREGATE_ABOVE:
        clusters = similarity.aggregate(emb)
        order_idx = np.arange(n)
        notes.append(f"{n} texts are too many for a readable cell-per-pair heatmap; showing "
                     f"{clusters.k} clusters (mean cosine between their members).")
    else:
        order_idx = similarity.heatmap_order(emb, order, langs)
    if n > MAX_MATRIX_CSV:
        notes.append(f"The {n} × {n} matrix is too large for the app's CSV download; the "
                     "embeddings (.npy) are included, and 'python -m e5ui similarity FILE "
                     "--out m.csv' writes it.")
    # By blocks of rows: the n x n matrix is only ever built for a heatmap or a CSV of it.
    pairs = similarity.summarize_pairs(emb, TOP_PAIRS)
    span = None if pairs.lowest is None else (pairs.lowest, pairs.highest)
    cal = calibrate(pairs.values, baseline)
    rows = [[corpus.rows[i], corpus.rows[j], labels[i], labels[j], float(c), float(p), float(r),
             corpus.texts[i], corpus.texts[j]]
            for i, j, c, p, r in zip(pairs.i.tolist(), pairs.j.tolist(), pairs.values,
                                     cal.percentile, cal.rescaled)]
    top = Table(["index_a", "index_b", "label_a", "label_b", "cosine", "percentile",
                 "rescaled", "text_a", "text_b"], rows)
    return SimilarityResult(corpus, emb, langs, labels, order_idx, order, baseline, top, notes,
                            span, clusters)


# -- neighbours ---------------------------------------------------------------------------------
NEIGHBOUR_HEADER = ["query_index", "rank", "corpus_index", "cosine", "margin", "percentile",
                    "rescaled", "query_lang", "corpus_lang", "hub", "query", "neighbour"]


@dataclass(eq=False)
class NeighboursResult:
    """Each query's nearest corpus texts.

    Attributes:
        queries, corpus: the inputs.
        found: the search (neighbours, cosines, hubness, calibrated scores).
        table: one row per (query, rank): 0-based line numbers, rank 1 = nearest.
        notes: remarks for the user.
        summary: one line saying what was searched.
    """

    queries: textio.Corpus
    corpus: textio.Corpus
    found: neighbours.Search
    table: Table
    notes: list[str]
    summary: str

    def write(self, path: str | Path) -> Path:
        """Writes the table as .tsv or .csv."""
        _suffix(path, (".tsv", ".csv"), "neighbours")
        return self.table.write(path)

    def export(self, folder: Path) -> list[str]:
        """Writes the app's downloads into ``folder``; returns their paths."""
        return [str(self.write(folder / "neighbours.tsv"))] if self.table.rows else []


def neighbours_view(encoder, queries: textio.Corpus, corpus: textio.Corpus, k: int = 5,
                    cross_lingual: bool = False, margin: bool = False, symmetric: bool = False,
                    baseline: Baseline | None = None, progress: Progress | None = None
                    ) -> NeighboursResult:
    """Top-k corpus texts per query, with raw and calibrated scores, languages and hub flags.

    Args:
        encoder: the encoder.
        queries, corpus: the inputs.
        k: neighbours per query (1-100).
        cross_lingual: only neighbours in another language than the query's.
        margin: re-rank by ratio margin (demotes hubs).
        symmetric: both sides are the same kind of text (the symmetric prompt on both);
            False is retrieval (queries as "query: ", the corpus as "passage: ").
        baseline: the model's baseline; None looks it up.
        progress: progress callback.

    Returns:
        The result.
    """
    if not 1 <= int(k) <= 100:
        raise ValueError("k must be between 1 and 100")
    k = int(k)
    q = _embed(encoder, queries, "symmetric" if symmetric else "query", progress, 0.0, 0.3,
               "queries")
    c = _embed(encoder, corpus, "symmetric" if symmetric else "passage", progress, 0.3, 0.9,
               "corpus")
    baseline = baseline or baselines.reference_baseline(encoder)
    qlang = langid.detect(queries.texts, queries.langs)
    clang = langid.detect(corpus.texts, corpus.langs)
    found = neighbours.search(q.embeddings, c.embeddings, k, margin=margin,
                              cross_lingual=cross_lingual, query_langs=qlang, corpus_langs=clang,
                              baseline=baseline)
    nb, cal = found.neighbours, found.calibrated
    rows = [
        [queries.rows[qi], rank + 1, corpus.rows[ci], float(found.cosines[qi, rank]),
         float(nb.scores[qi, rank]) if margin else None, float(cal.percentile[qi, rank]),
         float(cal.rescaled[qi, rank]), qlang[qi], clang[ci], "hub" if ci in found.hubs else "",
         queries.texts[qi], corpus.texts[ci]]
        for qi, rank, ci in found.entries()
    ]
    notes = notes_for(queries, q, encoder.max_length, "Queries") + notes_for(
        corpus, c, encoder.max_length, "Corpus")
    if cross_lingual:
        lonely = int((nb.indices < 0).all(axis=1).sum())
        if lonely:
            notes.append(f"{lonely} query(ies) have no corpus text in another language.")
    if found.hubs:
        hub = found.hubness
        notes.append(
            f"⚑ {hub.hubs.size} hub(s): corpus texts that appear in unusually many neighbour "
            f"lists (up to {int(hub.counts[hub.hubs[0]])} of {len(queries)}; expected about "
            f"{len(queries) * nb.indices.shape[1] / max(len(corpus), 1):.1f}). Hubs crowd out "
            "better neighbours; the margin switch demotes them."
        )
    summary = (f"{len(queries)} queries × {len(corpus)} corpus texts · top {k}"
               f"{' · cross-lingual' if cross_lingual else ''}{' · margin' if margin else ''}"
               f" · {'symmetric' if symmetric else 'retrieval (query/passage)'}")
    return NeighboursResult(queries, corpus, found, Table(NEIGHBOUR_HEADER, rows), notes,
                            summary)


# -- map ------------------------------------------------------------------------------------------
@dataclass(eq=False)
class MapData:
    """Embedded texts ready to be projected (kept by the app to redraw without re-encoding)."""

    corpus: textio.Corpus
    embeddings: np.ndarray
    langs: list[str]
    notes: list[str]


@dataclass(eq=False)
class MapResult:
    """Texts on a 2-D or 3-D map.

    Attributes:
        data: the embedded texts.
        projection: the coordinates and how they were made.
        color_by: "language" or "label".
        connect: join texts that share an ``id`` with lines.
        search: highlight texts containing this (case-insensitive).
        preview: a quick PCA shown while UMAP computes (no score, no downloads).
    """

    data: MapData
    projection: projection.Projection
    color_by: str = "language"
    connect: bool = True
    search: str = ""
    preview: bool = False

    def restyled(self, color_by: str, connect: bool, search: str) -> MapResult:
        """The same map with other colours, lines or highlights (no new projection)."""
        return replace(self, color_by=color_by, connect=connect, search=search)

    @property
    def _highlight(self) -> np.ndarray | None:
        needle = (self.search or "").strip().lower()
        if not needle:
            return None
        return np.array([needle in t.lower() for t in self.data.corpus.texts])

    @cached_property
    def figure(self):
        corpus, proj = self.data.corpus, self.projection
        by_label = self.color_by == "label" and bool(corpus.labels)
        colours = [x or "(none)" for x in corpus.labels] if by_label else self.data.langs
        ids = corpus.ids if self.connect and corpus.ids else None
        return plots.projection_scatter(
            proj.coords, corpus.texts, colours, ids=ids, highlight=self._highlight,
            title=f"{proj.method.upper()} map of {len(corpus)} texts", method_note=proj.note,
            langs=self.data.langs, labels=corpus.labels or None,
            legend_title="label" if by_label else "language")

    @property
    def notes(self) -> list[str]:
        corpus = self.data.corpus
        notes = list(self.data.notes)
        if self.projection.note:
            notes.append(self.projection.note)
        if self.color_by == "label" and not corpus.labels:
            notes.append("This input has no 'label' column; colouring by language.")
        highlight = self._highlight
        if highlight is not None:
            notes.append(f"Search “{self.search.strip()}”: {int(highlight.sum())} matching "
                         "text(s) highlighted.")
        if self.connect and not corpus.ids:
            notes.append("Lines join translations by a shared 'id' column; this input has none.")
        return notes

    @property
    def summary(self) -> str:
        proj = self.projection
        if self.preview:
            return "PCA preview — UMAP is computing…"
        kept = ("n/a (too few texts)" if proj.preservation is None
                else f"{proj.preservation:.0%}")
        return (f"{proj.method.upper()} · {proj.dim}-D · neighbour preservation: {kept} of each "
                "text's 10 nearest neighbours (by cosine) are also among its 10 nearest on the "
                "map")

    @property
    def table(self) -> Table:
        """One row per text: 0-based line, coordinates, language, label, id, text (label and
        id empty when the input has no such column)."""
        corpus = self.data.corpus
        labels = corpus.labels or [""] * len(corpus)
        ids = corpus.ids or [""] * len(corpus)
        rows = [[corpus.rows[i], *map(float, self.projection.coords[i]), self.data.langs[i],
                 labels[i], ids[i], corpus.texts[i]] for i in range(len(corpus))]
        return Table(["index", *["x", "y", "z"][: self.projection.dim], "lang", "label", "id",
                      "text"], rows)

    def write(self, path: str | Path) -> Path:
        """Writes the coordinates (.csv / .tsv) or the map (.html)."""
        suffix = _suffix(path, (".csv", ".tsv", ".html"), "map")
        if suffix == ".html":
            return _write_figure(path, self.figure, "e5ui map")
        return self.table.write(path)

    def export(self, folder: Path) -> list[str]:
        """Writes the app's data downloads into ``folder`` (none for a preview; the map's
        HTML is written only when asked for)."""
        return [] if self.preview else [str(self.write(folder / "coords.csv"))]


def map_data(encoder, corpus: textio.Corpus, progress: Progress | None = None) -> MapData:
    """Embeds the texts of the map view (symmetric prompt) and detects their languages."""
    encoded = _embed(encoder, corpus, "symmetric", progress, 0.0, 0.6, "texts")
    langs = langid.detect(corpus.texts, corpus.langs)
    return MapData(corpus, encoded.embeddings, langs,
                   notes_for(corpus, encoded, encoder.max_length, "Input"))


def map_preview(data: MapData, dim: int = 2, color_by: str = "language", connect: bool = True,
                search: str = "") -> MapResult | None:
    """A PCA map to show at once while UMAP computes, or None when UMAP will not run long
    enough to need one (too few texts)."""
    if len(data.corpus) <= projection.MIN_UMAP_TEXTS:
        return None
    pca = projection.project(data.embeddings, method="pca", dim=int(dim), preservation_k=None)
    return MapResult(data, pca, color_by, connect, search, preview=True)


def map_view(data: MapData, method: str = "umap", dim: int = 2, color_by: str = "language",
             connect: bool = True, search: str = "", seed: int = 42, n_neighbors: int = 15
             ) -> MapResult:
    """Projects embedded texts (``map_data``) to 2-D or 3-D, with the neighbour-preservation
    score.

    Args:
        data: the embedded texts.
        method: "umap" or "pca".
        dim: 2 or 3.
        color_by: "language" or "label".
        connect: join texts sharing an ``id``.
        search: highlight texts containing this.
        seed: random state of UMAP.
        n_neighbors: UMAP's neighbourhood size.

    Returns:
        The result.
    """
    proj = projection.project(data.embeddings, method=method, dim=int(dim), seed=seed,
                              n_neighbors=n_neighbors)
    return MapResult(data, proj, color_by, connect, search)


# -- bitext ---------------------------------------------------------------------------------------
@dataclass(eq=False)
class BitextResult:
    """Source sentences paired with their translations among the target sentences.

    Attributes:
        source, target: the inputs.
        matching: the pairs and the sentences left unmatched (indices into the inputs).
        src_langs, tgt_langs: a language code per sentence (given or detected).
        evaluation: scores against a gold file, when one was given.
        notes: remarks for the user.
    """

    source: textio.Corpus
    target: textio.Corpus
    matching: bitext.Matching
    src_langs: list[str]
    tgt_langs: list[str]
    evaluation: bitext.Evaluation | None
    notes: list[str]

    @property
    def table(self) -> Table:
        """One row per pair: 0-based line numbers, score, cosine, both sentences."""
        return Table(list(textio.PAIR_HEADER),
                     textio.pair_rows(self.matching, self.source, self.target))

    @property
    def unmatched(self) -> Table:
        """Sentences in no pair: side, 0-based line number, text."""
        m, s, t = self.matching, self.source, self.target
        return Table(["side", "index", "text"],
                     [["source", s.rows[i], s.texts[i]] for i in m.unmatched_src]
                     + [["target", t.rows[j], t.texts[j]] for j in m.unmatched_tgt])

    @property
    def summary(self) -> str:
        m = self.matching
        mode = "one-to-one" if m.one_to_one else "each source its best target"
        threshold = "" if m.threshold is None else f" · threshold {m.threshold:g}"
        return (f"{len(m.pairs)} pairs from {len(self.source)} source and {len(self.target)} "
                f"target sentences · {m.method} · {mode}{threshold} · unmatched: "
                f"{len(m.unmatched_src)} source, {len(m.unmatched_tgt)} target")

    @property
    def metrics(self) -> str:
        """The gold evaluation in one line ("" without gold)."""
        ev = self.evaluation
        if ev is None:
            return ""
        return (f"Against {ev.n_gold} gold pairs: P@1 {ev.p_at_1:.3f} · precision "
                f"{ev.precision:.3f} · recall {ev.recall:.3f} · F1 {ev.f1:.3f}")

    def write(self, path: str | Path) -> Path:
        """Writes the pairs as .tsv, .csv or .tmx (TMX 1.4, a language per segment)."""
        _suffix(path, (".tsv", ".csv", ".tmx"), "bitext")
        return textio.write_pairs(path, self.matching, self.source, self.target,
                                  self.src_langs, self.tgt_langs)

    def export(self, folder: Path) -> list[str]:
        """Writes the app's downloads into ``folder``; returns their paths."""
        return [str(self.write(folder / f"pairs.{ext}")) for ext in ("tsv", "csv", "tmx")]


def _gold_indices(gold: list[tuple[int, int]], source: textio.Corpus, target: textio.Corpus
                  ) -> list[tuple[int, int]]:
    """Gold pairs of 0-based line numbers as indices into the read sentences."""
    src_of = {r: i for i, r in enumerate(source.rows)}
    tgt_of = {r: i for i, r in enumerate(target.rows)}
    bad = [(a, b) for a, b in gold if a not in src_of or b not in tgt_of]
    if bad:
        raise ValueError(f"Gold pair {bad[0]} points at a line without a sentence (gold uses "
                         "0-based line numbers)")
    return [(src_of[a], tgt_of[b]) for a, b in gold]


def _langs(corpus: textio.Corpus, given: str | None) -> list[str]:
    code = langid.normalise_code(given or "")
    return [code] * len(corpus) if code else langid.detect(corpus.texts, corpus.langs)


def bitext_view(encoder, source: textio.Corpus, target: textio.Corpus, method: str = "margin",
                one_to_one: bool = True, threshold: float | None = None,
                gold: list[tuple[int, int]] | None = None, k: int = 4,
                src_lang: str | None = None, tgt_lang: str | None = None,
                progress: Progress | None = None) -> BitextResult:
    """Matches source to target sentences (in any order).

    Args:
        encoder: the encoder.
        source, target: the two sentence lists.
        method: "margin" or "cosine".
        one_to_one: each target used at most once (optimal matching).
        threshold: leave pairs scoring below this unmatched.
        gold: true pairs as 0-based line numbers (``textio.read_gold``).
        k: margin neighbourhood size.
        src_lang, tgt_lang: language codes of the sides (for TMX); None detects per sentence.
        progress: progress callback.

    Returns:
        The result.
    """
    gold_idx = _gold_indices(gold, source, target) if gold is not None else None
    s = _embed(encoder, source, "symmetric", progress, 0.0, 0.45, "source")
    t = _embed(encoder, target, "symmetric", progress, 0.45, 0.9, "target")
    _stage(progress, 0.92, "Matching")
    matching = bitext.match(s.embeddings, t.embeddings, method=method, k=k,
                            one_to_one=one_to_one, threshold=threshold)
    notes = notes_for(source, s, encoder.max_length, "Source") + notes_for(
        target, t, encoder.max_length, "Target")
    evaluation = bitext.evaluate(matching, gold_idx) if gold_idx is not None else None
    return BitextResult(source, target, matching, _langs(source, src_lang),
                        _langs(target, tgt_lang), evaluation, notes)


# -- scores explained -----------------------------------------------------------------------------
@dataclass(eq=False)
class ExplainResult:
    """The user's pair scores against the model's unrelated-pair baseline.

    Attributes:
        model: the model that encoded.
        baseline: its unrelated-pair baseline.
        pair_cosines: the cosines of every pair of the user's texts (may be empty).
        n_texts: how many texts the user gave.
        notes: remarks for the user.
    """

    model: str
    baseline: Baseline
    pair_cosines: np.ndarray
    n_texts: int
    notes: list[str]

    @cached_property
    def figure(self):
        return plots.score_histogram(self.pair_cosines, self.baseline,
                                     title="Your pairs vs. unrelated pairs")

    @property
    def summary(self) -> str:
        b, pair = self.baseline, self.pair_cosines
        text = (f"{self.model} · unrelated pairs ({b.n_texts} reference sentences, "
                f"{b.cosines.size} pairs) score {b.p5:.3f}–{b.p95:.3f} (5th–95th percentile), "
                f"median {b.median:.3f}.")
        if pair.size:
            above = float((pair > b.p95).mean())
            pairs_word = "pair" if pair.size == 1 else "pairs"
            text += (f" Your {self.n_texts} texts: {pair.size} {pairs_word}, median "
                     f"{float(np.median(pair)):.3f}; {above:.0%} score above 95% of unrelated "
                     "pairs.")
        return text

    def write(self, path: str | Path) -> Path:
        """Writes the histogram (.html)."""
        _suffix(path, (".html",), "explain")
        return _write_figure(path, self.figure, "e5ui scores explained")


def explain_view(encoder, corpus: textio.Corpus | None, baseline: Baseline | None = None,
                 progress: Progress | None = None) -> ExplainResult:
    """Where the pairwise cosines of the user's texts (if any) fall among unrelated pairs."""
    pair = np.zeros(0, np.float32)
    notes: list[str] = []
    if corpus is not None and len(corpus) >= 2:
        encoded = _embed(encoder, corpus, "symmetric", progress, 0.0, 0.9, "texts")
        sim = similarity.cosine_matrix(encoded.embeddings)
        pair = sim[np.triu_indices(len(corpus), k=1)]
        notes = notes_for(corpus, encoded, encoder.max_length, "Input")
    elif corpus is not None:
        notes = ["One text makes no pair: add at least two to see where your scores fall."]
    baseline = baseline or baselines.reference_baseline(encoder)
    return ExplainResult(encoder.describe()["model"], baseline, pair,
                         0 if corpus is None else len(corpus), notes)


@dataclass
class PairScore:
    """Two texts' cosine in three units, and the sentence that explains it."""

    raw: float
    percentile: float
    rescaled: float
    text: str


def pair_score(encoder, a: str, b: str, baseline: Baseline | None = None) -> PairScore:
    """Raw cosine, percentile among unrelated pairs and rescaled score of two texts."""
    a, b = (a or "").strip(), (b or "").strip()
    if not a or not b:
        raise ValueError("Type a sentence in both boxes")
    emb = encoder.encode([a, b], kind="symmetric")
    baseline = baseline or baselines.reference_baseline(encoder)
    raw = float(emb[0] @ emb[1])
    cal = calibrate(raw, baseline)
    pct, res = float(cal.percentile), float(cal.rescaled)
    text = resources.text("pair_score.md").format(raw=raw, pct=pct, rescaled=res,
                                                  median=baseline.median)
    return PairScore(raw, pct, res, text)


# -- report ---------------------------------------------------------------------------------------
def report(sections: list[tuple[str, Any]], info: dict | None, folder: Path) -> str:
    """Writes one self-contained HTML report of the given views into ``folder``.

    Args:
        sections: (heading, figure or HTML) in reading order.
        info: the encoder's ``describe()``.
        folder: where to write it.

    Returns:
        The file's path.
    """
    if not sections:
        raise ValueError("Nothing to report yet: run at least one view first")
    meta = {"created": time.strftime("%Y-%m-%d %H:%M")}
    if info:
        meta.update({"model": info.get("model"), "source": info.get("source"),
                     "device": info.get("device"), "dtype": info.get("dtype")})
        if info.get("fallback_reason"):
            meta["note"] = f"requested {info.get('requested')}: {info['fallback_reason']}"
    path = folder / "e5ui-report.html"
    path.write_text(plots.report_html("e5ui report", sections, meta), encoding="utf-8")
    return str(path)


__all__ = [
    "BitextResult", "ExplainResult", "MapData", "MapResult", "NeighboursResult", "PairScore",
    "SimilarityResult", "Table", "bitext_view", "explain_view", "map_data", "map_preview",
    "map_view", "neighbours_view", "pair_score", "report", "similarity_view",
]
