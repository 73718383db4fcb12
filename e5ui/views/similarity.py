"""The similarity view: pairwise cosines, a heatmap order, the most similar pairs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from e5ui import baselines, langid, plots, registry, resources, textio
from e5ui.analysis import similarity
from e5ui.analysis.calibration import Baseline, calibrate
from e5ui.encoding.vectors import vector_info
from e5ui.textio.vectors import sidecar_path, write_sidecar
from e5ui.views.common import (
    Table,
    ViewProgress,
    centered,
    check_suffix,
    embed,
    labels_for,
    notes_for,
    score_words,
    stage,
)

VIEW = registry.get("similarity")
TOP_PAIRS = 15  # rows of the similarity view's "most similar pairs" table
MAX_MATRIX_CSV = 2000  # 2000 x 2000 cells is ~40 MB of CSV; the app offers the .npy beyond


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
        centered: each language's mean embedding was subtracted (the title says so).
        vectors: what made the embeddings, written beside an ``.npy`` of them
            (``emb.npy.json``) so that it loads back without encoding.
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
    centered: bool = False
    vectors: textio.VectorInfo | None = None

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
        """The heatmap, laid out for the Similarity view's frame."""
        return self.heatmap()

    def heatmap(self, frame: int = plots.HEATMAP_FRAME):
        """The heatmap laid out for a frame ``frame`` px wide."""
        n = self.n
        median = self.baseline.median
        centered_note = " (languages centered)" if self.centered else ""
        if self.clusters is not None:
            return plots.cluster_heatmap(self.clusters, self.corpus.texts,
                                         title=f"{n} texts in {self.clusters.k} clusters: "
                                         f"mean cosine{centered_note}", baseline_median=median,
                                         frame=frame)
        sim = self.matrix()
        o = self.order.tolist()
        pct = resc = None  # calibration off (another model's vectors): cosines only
        if self.baseline.calibrated:
            cal = calibrate(sim, self.baseline)
            pct, resc = cal.percentile, cal.rescaled
        return plots.similarity_heatmap(
            sim, [self.labels[i] for i in o], [self.corpus.texts[i] for i in o],
            [self.langs[i] for i in o], pct, resc,
            title=f"Cosine similarity of {n} texts ({self.order_method} order"
                  f"{', languages centered' if self.centered else ''})",
            baseline_median=median, frame=frame)

    def write(self, path: str | Path) -> Path:
        """Writes the matrix (.csv / .tsv, labelled rows and columns in display order), the
        embeddings (.npy, input order) or the heatmap (.html)."""
        suffix = check_suffix(path, (".csv", ".tsv", ".npy", ".html"), "similarity")
        if suffix == ".npy":
            written = textio.write_npy(path, self.embeddings)
            sidecar_path(written).unlink(missing_ok=True)  # a record of other vectors
            if self.vectors is not None:
                write_sidecar(written, self.vectors)
            return written
        if suffix == ".html":
            return plots.write_html(path, VIEW.figure_title, self.figure)
        return textio.write_matrix(path, self.matrix(), [self.labels[i] for i in self.order])

    def export(self, folder: Path) -> list[str]:
        """Writes the app's data downloads into ``folder`` (the figure's HTML, ~5 MB, is
        written only when asked for); returns their paths."""
        names = ["embeddings.npy"] + (["similarity.csv"] if self.n <= MAX_MATRIX_CSV else [])
        return [str(self.write(folder / name)) for name in names]


def similarity_view(encoder, corpus: textio.Corpus, order: str = "cluster",
                    kind: str = "symmetric", baseline: Baseline | None = None,
                    progress: ViewProgress | None = None, center: bool = False
                    ) -> SimilarityResult:
    """Pairwise cosines of texts, ordered for a heatmap, with the most similar pairs.

    Args:
        encoder: an Encoder (or anything with ``encode_detailed`` and ``describe``).
        corpus: the texts.
        order: "cluster", "language" or "input".
        kind: "symmetric" (the prompt for comparing texts) or "passage" on every text.
        baseline: the model's baseline; None looks it up (``baselines.reference_baseline``).
        progress: progress callback.
        center: subtract each language's mean embedding first (meaning, not language); the
            exported embeddings are then the centered ones.

    Returns:
        The result.
    """
    if order not in similarity.ORDER_METHODS:
        raise ValueError(f"Unknown order: {order}. Must be one of: "
                         f"{', '.join(similarity.ORDER_METHODS)}")
    encoded = embed(encoder, corpus, kind, progress, 0.0, 0.8, "texts")
    baseline = baseline or baselines.reference_baseline(encoder)
    emb = encoded.embeddings
    n = len(corpus)
    langs = langid.detect(corpus.texts, corpus.langs)
    labels = labels_for(corpus, langs)
    notes = notes_for(corpus, encoded, encoder.max_length, "Input")
    if center:
        emb = centered(emb, langs, notes)
    stage(progress, 0.85, "Ordering")
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
    top = Table(VIEW.header(), rows)
    info = vector_info(encoder, kind, normalized=not center, centered=center,
                       dim=emb.shape[1])
    return SimilarityResult(corpus, emb, langs, labels, order_idx, order, baseline, top, notes,
                            span, clusters, center, info)


@dataclass(eq=False)
class HeatmapCell:
    """What one cell of the Similarity view's heatmap stands for: a pair of texts, or (on the
    cluster heatmap of a large input) a pair of clusters.

    Attributes:
        row: the cell's row in the heatmap as drawn (0-based, display order).
        col: its column.
        first: the row's text, as a position in the input (``corpus.texts[first]``); None on a
            cluster heatmap.
        second: the column's text; None on a cluster heatmap.
        cosine: the cell's value: the pair's cosine, or the mean cosine between the members of
            the two clusters.
        percentile: the share of the model's unrelated pairs scoring <= ``cosine``.
        rescaled: ``cosine`` rescaled so that the unrelated median is 0 and identity 1.
        baseline: the model's unrelated-pair baseline.
        pair_cosines: what the cell is drawn against on the histogram: every pair of the
            input (i < j) for a text cell, every pair between the two clusters' members for a
            cluster cell.
        clusters: (row cluster, column cluster) for a cluster cell, else None.
        sizes: their numbers of texts, for a cluster cell, else None.
    """

    row: int
    col: int
    first: int | None
    second: int | None
    cosine: float
    percentile: float
    rescaled: float
    baseline: Baseline
    pair_cosines: np.ndarray
    clusters: tuple[int, int] | None = None
    sizes: tuple[int, int] | None = None

    @property
    def same(self) -> bool:
        """The diagonal: a text with itself, or a cluster with itself."""
        if self.clusters is not None:
            return self.clusters[0] == self.clusters[1]
        return self.first == self.second

    @property
    def scores(self) -> str:
        """The cell's value in three units, as Markdown (assets/text)."""
        name = "cluster_cell.md" if self.clusters is not None else "pair_score.md"
        return resources.text(name).format(raw=self.cosine, **score_words(
            self.percentile, self.rescaled, self.baseline.median))

    @cached_property
    def figure(self):
        """Where the cell falls among the model's unrelated pairs (and the input's pairs)."""
        if self.clusters is None:
            label, title = "this pair", "This pair among your pairs and unrelated pairs"
        else:
            a, b = self.clusters
            label = f"C{a} × C{b} mean"
            title = f"Pairs between C{a} and C{b} vs. unrelated pairs"
        return plots.score_histogram(self.pair_cosines, self.baseline, title=title,
                                     marks=[(label, self.cosine)],
                                     height=PAIR_HISTOGRAM_HEIGHT)


PAIR_HISTOGRAM_HEIGHT = 320  # small: the cell's panel sits under the heatmap
CELL_MEMBERS = 1000  # members per cluster drawn on a cluster cell's histogram


def pair_at(result: SimilarityResult, row: int, col: int,
            baseline: Baseline | None = None) -> HeatmapCell:
    """The texts (or clusters) behind one cell of ``result``'s heatmap, with their scores.

    The heatmap draws rows and columns in ``result.order`` (or, above the aggregation limit,
    clusters in ``result.clusters.order``), so cell (row, col) is the pair
    ``order[row]``, ``order[col]`` of the input, not (row, col).

    Args:
        result: a similarity view's result.
        row: the cell's row in the heatmap as drawn (plotly's ``pointIndex[0]``).
        col: its column (``pointIndex[1]``).
        baseline: the baseline to score against; None uses the result's own.

    Returns:
        The cell.

    Raises:
        ValueError: for a cell that is not on the heatmap.
    """
    baseline = baseline or result.baseline
    view = result.clusters
    size = result.n if view is None else view.k
    for name, value in (("row", row), ("column", col)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not 0 <= value < size:
            raise ValueError(f"The heatmap has no {name} {value!r} (it has {size}); "
                             "run the view again")
    row, col = int(row), int(col)
    emb = result.embeddings

    def _spread(members: np.ndarray) -> np.ndarray:
        # The histogram draws at most 200,000 values: evenly spaced members keep a lopsided
        # k-means cluster of thousands from building a matrix of millions (the mean is exact).
        picks = np.linspace(0, members.size - 1, min(members.size, CELL_MEMBERS)).round()
        return emb[members[picks.astype(np.int64)]]

    if view is None:
        i, j = int(result.order[row]), int(result.order[col])
        # The same computation as the heatmap's cells (cosine_matrix normalises: centred
        # embeddings are not unit length), so the panel shows the value the cell holds.
        cosine = float(similarity.cosine_matrix(emb[[i]], emb[[j]])[0, 0])
        everything = similarity.cosine_matrix(emb)
        pairs = everything[np.triu_indices(result.n, k=1)]
        cal = calibrate(cosine, baseline)
        return HeatmapCell(row, col, i, j, cosine, float(cal.percentile), float(cal.rescaled),
                           baseline, pairs)
    a, b = int(view.order[row]), int(view.order[col])
    block = similarity.cosine_matrix(_spread(view.members[a]), _spread(view.members[b]))
    pairs = block[np.triu_indices(block.shape[0], k=1)] if a == b else block.ravel()
    cosine = float(view.mean_sim[a, b])
    cal = calibrate(cosine, baseline)
    return HeatmapCell(row, col, None, None, cosine, float(cal.percentile),
                       float(cal.rescaled), baseline, pairs, (a, b),
                       (int(view.sizes[a]), int(view.sizes[b])))
