"""The map view: texts on a 2-D or 3-D UMAP / PCA map."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from e5ui import labels, langid, plots, registry, textio
from e5ui.analysis import clustering, explore, projection
from e5ui.analysis.hubness import hubness
from e5ui.analysis.similarity import normalize_rows
from e5ui.encoding.vectors import LoadedVectors, vector_info
from e5ui.textio.vectors import parquet_metadata
from e5ui.views.common import (
    Table,
    ViewProgress,
    centered,
    check_suffix,
    embed,
    notes_for,
)

VIEW = registry.get("map")

# Up to this many texts a map's hubs come from an exact search of all pairs (~1 s at 5,000
# texts, a minute at 20,000 on 2 cores, n^2); above it from UMAP's own neighbour graph, and a
# PCA map, which has none, marks no hubs.
HUBS_EXACT_MAX = 10_000


@dataclass(eq=False)
class MapData:
    """Embedded texts ready to be projected (kept by the app to redraw without re-encoding)."""

    corpus: textio.Corpus
    embeddings: np.ndarray
    langs: list[str]
    notes: list[str]
    centered: bool = False
    vectors: textio.VectorInfo | None = None  # what made the embeddings (written with them)
    # The file's vectors the embeddings are, when they were read rather than encoded: a click
    # or a search on the map must score with them (another model's have no baseline, and no
    # loaded model can put a typed query into their space).
    loaded: LoadedVectors | None = field(default=None, repr=False)

    def encoder_for(self, encoder):
        """The encoder for a later interaction with this map: ``encoder`` (the loaded model)
        for encoded texts; for vectors read from a file, the encoder that served them, bound
        to ``encoder`` (when the model was switched since, the vectors are checked against
        the new one and, not being its own, used with calibration off)."""
        loaded = self.loaded
        if loaded is None or encoder is None or encoder is loaded or loaded.encoder is encoder:
            return encoder if loaded is None or encoder is None else loaded
        return LoadedVectors(loaded.texts, loaded.vectors, encoder, allow_other=True)

    @cached_property
    def unit(self) -> np.ndarray:
        """The embeddings with unit rows (float32), made once: a click or a search on a
        100,000-text map reads them rather than copying 400 MB each time."""
        return normalize_rows(self.embeddings)


def _short(name: str, limit: int = 28) -> str:
    """A cluster's name short enough for the legend (the table has it whole)."""
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


@dataclass(eq=False)
class MapResult:
    """Texts on a 2-D or 3-D map.

    Attributes:
        data: the embedded texts.
        projection: the coordinates and how they were made.
        color_by: "language", "label" or "cluster".
        connect: join texts that share an ``id`` with lines.
        search: highlight texts containing this (case-insensitive).
        preview: a quick PCA shown while UMAP computes (no score, no downloads).
        clusters: name the clusters at their centres on the figure and add ``cluster`` and
            ``cluster_label`` to the table.
        meaning: a search by meaning (``views.map_search``): adds ``search_cosine`` and
            ``search_percentile`` to the table; its matches are highlighted (with the
            substring's, if any) and the query is drawn where it lands.
        query: the query of ``meaning``, as typed.
        focus: a clicked text's neighbourhood (``views.map_neighbours``): lines from it to its
            nearest texts in the embedding space.
    """

    data: MapData
    projection: projection.Projection
    color_by: str = "language"
    connect: bool = True
    search: str = ""
    preview: bool = False
    clusters: bool = False
    meaning: explore.MeaningSearch | None = None
    query: str = ""
    focus: explore.Neighbourhood | None = None

    def restyled(self, color_by: str, connect: bool, search: str, clusters: bool = False
                 ) -> MapResult:
        """The same map with other colours, lines, highlights or cluster names (no new
        projection; the clusters, once computed, are kept, and so are a clicked text's lines
        and a search by meaning)."""
        return self.changed(color_by=color_by, connect=connect, search=search,
                            clusters=clusters)

    def changed(self, **fields) -> MapResult:
        """The same map with some fields replaced (``dataclasses.replace``), keeping what was
        computed once for it (its clusters and hubs) when the embeddings stay the same."""
        out = replace(self, **fields)
        if out.data is self.data and out.projection is self.projection:
            for kept in ("named_clusters", "hubs"):
                if kept in self.__dict__:
                    out.__dict__[kept] = self.__dict__[kept]
        return out

    @cached_property
    def named_clusters(self) -> clustering.ClusterNames:
        """HDBSCAN clusters of the map's points, named in every language they hold."""
        corpus = self.data.corpus
        found = clustering.cluster(self.projection.coords)
        return labels.name_clusters(corpus.texts, found, self.data.langs, corpus.ids or None)

    @cached_property
    def hubs(self):
        """The hubs among the map's texts (``analysis.explore.map_hubs``), computed once: by
        an exact search up to ``HUBS_EXACT_MAX`` texts, above it from UMAP's neighbour graph
        (none on a PCA map: ``hubs_marked`` is False)."""
        n = len(self.data.corpus)
        if n <= HUBS_EXACT_MAX:
            return explore.map_hubs(self.data.unit)
        graph = self._graph
        if graph is None:  # an empty neighbour table: no hubs
            return hubness(np.zeros((n, 0), dtype=np.int64), n)
        return explore.map_hubs(None, graph=graph)

    @property
    def _graph(self) -> np.ndarray | None:
        """UMAP's kNN graph of the map's texts (each point first), when it has enough
        neighbours per text for the hubs."""
        graph = getattr(self.projection.model, "_knn_indices", None)
        if self.projection.method != "umap" or graph is None:
            return None
        graph = np.asarray(graph)
        if graph.ndim != 2 or graph.shape[0] != len(self.data.corpus) or \
                graph.shape[1] <= explore.HUB_K:
            return None
        return graph

    @property
    def hubs_marked(self) -> bool:
        """Whether the map's hubs are known (see ``hubs``)."""
        return len(self.data.corpus) <= HUBS_EXACT_MAX or self._graph is not None

    @property
    def _substring(self) -> np.ndarray | None:
        needle = (self.search or "").strip().lower()
        if not needle:
            return None
        return np.array([needle in t.lower() for t in self.data.corpus.texts])

    @property
    def _highlight(self) -> np.ndarray | None:
        """The texts to highlight: those containing the search, and the matches of a search
        by meaning."""
        mask = self._substring
        if self.meaning is not None:
            hits = np.zeros(len(self.data.corpus), dtype=bool)
            hits[self.meaning.matches] = True
            mask = hits if mask is None else mask | hits
        return mask

    @cached_property
    def figure(self):
        corpus, proj = self.data.corpus, self.projection
        by_label = self.color_by == "label" and bool(corpus.labels)
        colours = [x or "(none)" for x in corpus.labels] if by_label else self.data.langs
        legend = "label" if by_label else "language"
        named = None
        if self.color_by == "cluster" or self.clusters:
            named = self.named_clusters
        if self.color_by == "cluster":
            colours = [f"{c}: {_short(named.names[c])}" if c >= 0 else "(no cluster)"
                       for c in named.labels.tolist()]
            legend = "cluster"
        ids = corpus.ids if self.connect and corpus.ids else None
        place = None if self.meaning is None else self.meaning.place
        return plots.map_scatter(
            proj.coords, corpus.texts, colours, ids=ids, highlight=self._highlight,
            title=f"{proj.method.upper()} map of {len(corpus)} texts"
                  f"{' (languages centered)' if self.data.centered else ''}",
            method_note=proj.note,
            langs=self.data.langs, labels=corpus.labels or None, legend_title=legend,
            clusters=named.labels if named is not None and self.clusters else None,
            cluster_names=named.names if named is not None and self.clusters else None,
            focus=self._focus, query=None if place is None else (self.query, place))

    @property
    def _focus(self) -> plots.MapFocus | None:
        found = self.focus
        return None if found is None else plots.MapFocus(
            found.index, found.indices.tolist(), found.far_on_map.tolist())

    @property
    def focus_figure(self):
        """The clicked text's lines alone (``plots.map_focus``; none without a click), for a
        page to draw over the ``figure`` it has rather than receive the whole map again."""
        return plots.map_focus(self.projection.coords, self.data.corpus.texts, self._focus)

    @property
    def notes(self) -> list[str]:
        corpus = self.data.corpus
        notes = list(self.data.notes)
        if self.projection.note:
            notes.append(self.projection.note)
        if self.clusters or self.color_by == "cluster":
            named = self.named_clusters
            found = len(set(named.names))
            noise = int((named.labels < 0).sum())
            notes.append(f"{found} cluster(s) found by HDBSCAN on the map's points"
                         f"{f'; {noise} text(s) in none' if noise else ''}.")
        if self.color_by == "label" and not corpus.labels:
            notes.append("This input has no 'label' column; colouring by language.")
        substring = self._substring
        if substring is not None:
            notes.append(f"Search “{self.search.strip()}”: {int(substring.sum())} matching "
                         "text(s) highlighted.")
        if self.meaning is not None:
            notes.append(f"Search by meaning “{self.query}”: {len(self.meaning.matches)} "
                         f"text(s) above the {self.meaning.threshold:.1%} percentile of "
                         "unrelated pairs highlighted"
                         + ("; the star is where the query lands." if self.meaning.place
                            is not None else "."))
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
        extra: list[list] = [[] for _ in range(len(corpus))]
        header = [c for c in VIEW.header() if c not in ("x", "y", "z")[self.projection.dim:]]
        if self.clusters:
            named = self.named_clusters
            for i, row in enumerate(extra):
                row += [int(named.labels[i]), named.name_of(i)]
            header[-1:-1] = VIEW.header("clusters")
        if self.meaning is not None:
            for i, row in enumerate(extra):
                row += [float(self.meaning.cosines[i]), float(self.meaning.percentile[i])]
            header[-1:-1] = VIEW.header("search")
        rows = [[corpus.rows[i], *map(float, self.projection.coords[i]), self.data.langs[i],
                 labels[i], ids[i], *extra[i], corpus.texts[i]] for i in range(len(corpus))]
        return Table(header, rows)

    def write(self, path: str | Path, baseline: explore.Baseline | None = None) -> Path:
        """Writes the coordinates (.csv / .tsv), the map (.html), or a Parquet file for Apple's
        Embedding Atlas (.parquet: index, text, lang, label, id, the coordinates and each
        text's embedding).

        The .html page works offline with no server: a click on a point shows its text and
        its nearest neighbours in the embedding space (computed now, ``explore.nearest_table``;
        with their percentiles when ``baseline`` is given) and a box searches the texts."""
        suffix = check_suffix(path, (".csv", ".tsv", ".html", ".parquet"), "map")
        if baseline is not None and not baseline.calibrated:
            baseline = None  # calibration off: the page lists cosines only
        if suffix == ".html":
            corpus = self.data.corpus
            found = explore.nearest_table(self.data.embeddings, baseline=baseline)
            return plots.write_html(path, VIEW.figure_title, self.figure, explore=plots.MapExplore(
                corpus.texts, self.data.langs, corpus.labels or None, corpus.ids or None,
                found.indices, found.cosines, found.percentile))
        if suffix == ".parquet":
            table = self.table
            columns = {name: [row[k] for row in table.rows]
                       for k, name in enumerate(table.header)}
            columns["embedding"] = self.data.embeddings
            return textio.write_parquet(path, columns,
                                        parquet_metadata(self.data.vectors))
        return self.table.write(path)

    def write_projector(self, folder: str | Path) -> list[Path]:
        """Writes ``vectors.tsv`` and ``metadata.tsv`` for the TensorFlow Embedding Projector
        into ``folder``."""
        table = self.table
        keep = [k for k, name in enumerate(table.header) if name not in ("x", "y", "z")]
        # (cluster and search columns, when asked for, travel as metadata too)
        return textio.write_projector(folder, self.data.embeddings,
                                      [table.header[k] for k in keep],
                                      [[row[k] for k in keep] for row in table.rows])

    def export(self, folder: Path) -> list[str]:
        """Writes the app's data downloads into ``folder`` (none for a preview; the map's
        HTML is written only when asked for): the coordinates, a Parquet file for Embedding
        Atlas and the Embedding Projector pair."""
        if self.preview:
            return []
        files = [self.write(folder / "coords.csv"), self.write(folder / "map.parquet"),
                 *self.write_projector(folder)]
        return [str(f) for f in files]


def map_data(encoder, corpus: textio.Corpus, progress: ViewProgress | None = None,
             center: bool = False) -> MapData:
    """Embeds the texts of the map view (symmetric prompt) and detects their languages; with
    ``center``, each language's mean embedding is subtracted (meaning, not language)."""
    encoded = embed(encoder, corpus, "symmetric", progress, 0.0, 0.6, "texts")
    langs = langid.detect(corpus.texts, corpus.langs)
    notes = notes_for(corpus, encoded, encoder.max_length, "Input")
    emb = centered(encoded.embeddings, langs, notes) if center else encoded.embeddings
    info = vector_info(encoder, "symmetric", normalized=not center, centered=center,
                       dim=emb.shape[1])
    return MapData(corpus, emb, langs, notes, center, info,
                   encoder if isinstance(encoder, LoadedVectors) else None)


def map_preview(data: MapData, dim: int = 2, color_by: str = "language", connect: bool = True,
                search: str = "", clusters: bool = False) -> MapResult | None:
    """A PCA map to show at once while UMAP computes, or None when UMAP will not run long
    enough to need one (too few texts)."""
    if len(data.corpus) <= projection.MIN_UMAP_TEXTS:
        return None
    pca = projection.project(data.unit, method="pca", dim=int(dim), preservation_k=None,
                             fit_sample=projection.PREVIEW_SAMPLE, normalized=True)
    return MapResult(data, pca, color_by, connect, search, preview=True, clusters=clusters)


def map_view(data: MapData, method: str = "umap", dim: int = 2, color_by: str = "language",
             connect: bool = True, search: str = "", seed: int = 42, n_neighbors: int = 15,
             clusters: bool = False) -> MapResult:
    """Projects embedded texts (``map_data``) to 2-D or 3-D, with the neighbour-preservation
    score.

    Args:
        data: the embedded texts.
        method: "umap" or "pca".
        dim: 2 or 3.
        color_by: "language", "label" or "cluster".
        connect: join texts sharing an ``id``.
        search: highlight texts containing this.
        seed: random state of UMAP.
        n_neighbors: UMAP's neighbourhood size.
        clusters: name the clusters on the figure; ``cluster`` columns in the table.

    Returns:
        The result.
    """
    proj = projection.project(data.unit, method=method, dim=int(dim), seed=seed,
                              n_neighbors=n_neighbors, normalized=True)
    return MapResult(data, proj, color_by, connect, search, clusters=clusters)
