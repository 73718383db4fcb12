"""Interactions with a map: a point's neighbourhood (``/map_neighbours``), search by meaning
(``/map_search``) and a selection of its points, each a function of the map's result and the
request, with a result object whose tables are declared in the registry (the map view's
``neighbours`` and ``matches``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from e5ui import baselines, langid, registry, textio
from e5ui.analysis import explore
from e5ui.analysis.calibration import Baseline
from e5ui.views.common import Table, check_suffix
from e5ui.views.map import HUBS_EXACT_MAX, MapResult

VIEW = registry.get("map")
QUERY_CHARS = 1000  # a search by meaning is a sentence or two


def _position(result: MapResult, index: int) -> int:
    """The position in the map of the text on input line ``index`` (the table's ``index``)."""
    rows = result.data.corpus.rows
    try:
        return rows.index(int(index))
    except ValueError:
        raise ValueError(f"index {index} is no text of this map (its indices run from "
                         f"{min(rows, default=0)} to {max(rows, default=0)})") from None


@dataclass(eq=False)
class MapNeighboursResult:
    """A point's nearest texts in the embedding space, and where the map put them.

    Attributes:
        map: the map, with lines from the text to its neighbours.
        found: the neighbourhood (``analysis.explore.neighbourhood``; positions in the map).
        table: one row per neighbour (the registry's map ``neighbours`` table; ``index`` is
            the input's 0-based line, as in the map's table).
        summary: one line.
        notes: remarks for the user (translations, where the map lies).
    """

    map: MapResult
    found: explore.Neighbourhood
    table: Table
    summary: str
    notes: list[str]

    def write(self, path: str | Path) -> Path:
        """Writes the table as .tsv or .csv."""
        check_suffix(path, (".tsv", ".csv"), "map neighbours")
        return self.table.write(path)


def map_neighbours(result: MapResult, index: int, k: int = 10, *, encoder=None,
                   baseline: Baseline | None = None) -> MapNeighboursResult:
    """The k nearest texts of one text of the map, by cosine in the embedding space.

    Args:
        result: the map (``map_view``).
        index: the text, by its 0-based input line (the map table's ``index``).
        k: neighbours (1-100).
        encoder: the encoder, to look up its baseline when ``baseline`` is None (a map of
            vectors read from a file scores with theirs: ``MapData.encoder_for``).
        baseline: the model's baseline; None (and no encoder): no percentiles.

    Returns:
        The result.
    """
    if not 1 <= int(k) <= 100:
        raise ValueError("k must be between 1 and 100")
    if baseline is None and encoder is not None:
        baseline = baselines.reference_baseline(result.data.encoder_for(encoder))
    corpus, data = result.data.corpus, result.data
    i = _position(result, index)
    found = explore.neighbourhood(data.unit, i, int(k), result.projection.coords,
                                  langs=data.langs, ids=corpus.ids or None, baseline=baseline,
                                  hubs=result.hubs, normalized=True)
    partners = set(found.partners.tolist())
    rows = [[rank + 1, corpus.rows[j], float(found.cosines[rank]),
             _num(found.percentile[rank]), _num(found.rescaled[rank]), found.langs[rank],
             "yes" if found.cross_lingual[rank] else "", "hub" if found.hub[rank] else "",
             "yes" if j in partners else "", int(found.map_rank[rank]),
             "far" if found.far_on_map[rank] else "", corpus.texts[j]]
            for rank, j in enumerate(found.indices.tolist())]
    notes = []
    if found.partners.size:
        missing = [corpus.rows[j] for j in found.partners.tolist()
                   if j not in set(found.indices.tolist())]
        if missing:
            notes.append(f"Translation(s) not among the {len(rows)} nearest: line(s) "
                         f"{', '.join(map(str, missing))}.")
    if not result.hubs_marked:
        notes.append(f"Hubs are not marked on a PCA map of more than {HUBS_EXACT_MAX:,} texts "
                     "(a UMAP map takes them from its neighbour graph).")
    far = int(found.far_on_map.sum())
    if far:
        notes.append(f"{far} of these neighbours are far on the map (more than "
                     f"{found.far_rank} texts lie closer to this one there): this is where "
                     "the map lies.")
    summary = (f"{len(rows)} nearest texts of line {corpus.rows[i]} by cosine in the "
               f"embedding space · {far} far on the map")
    return MapNeighboursResult(result.changed(focus=found), found,
                               Table(VIEW.header("neighbours"), rows), summary, notes)


def _num(value: float) -> float | None:
    return None if value != value else float(value)  # NaN: no baseline


@dataclass(eq=False)
class MapSearchResult:
    """The map's texts that mean what a query means.

    Attributes:
        map: the map, with the search's columns (``search_cosine``, ``search_percentile``).
        query: the query as typed.
        found: every text's cosine and percentile, the matches, the query's place.
        table: one row per match, best first (the registry's map ``matches`` table).
        summary: one line.
    """

    map: MapResult
    query: str
    found: explore.MeaningSearch
    table: Table
    summary: str

    def write(self, path: str | Path) -> Path:
        """Writes the matches as .tsv or .csv."""
        check_suffix(path, (".tsv", ".csv"), "map search")
        return self.table.write(path)


def map_search(result: MapResult, query: str, encoder, threshold: float =
               explore.SEARCH_PERCENTILE, *, baseline: Baseline | None = None,
               other_languages: bool = False) -> MapSearchResult:
    """Searches the map's texts by meaning: the query is encoded with the query prompt and
    every text scored against it; matches reach ``threshold``, the share of the model's
    unrelated pairs that score lower.

    Args:
        result: the map (``map_view``).
        query: the text to search for.
        encoder: the encoder (the map's model; for a map of vectors read from a file, the
            query is refused unless the model that made them is loaded).
        threshold: the percentile in [0, 1] a match reaches (default 0.99: better than 99%
            of unrelated pairs).
        baseline: the model's baseline; None looks it up.
        other_languages: list only texts in another language than the query's (detected):
            its translations rather than its own language's lines.

    Returns:
        The result; its ``map`` is the map with the search's columns.
    """
    query = (query or "").strip()
    if not query:
        raise ValueError("Type what to search for")
    if len(query) > QUERY_CHARS:
        raise ValueError(f"The query takes at most {QUERY_CHARS} characters")
    encoder = result.data.encoder_for(encoder)
    baseline = baseline or baselines.reference_baseline(encoder)
    vector = encoder.encode([query], kind="query")[0]
    found = explore.search_meaning(result.data.unit, vector, baseline,
                                   threshold=float(threshold), projection=result.projection,
                                   normalized=True)
    corpus, langs = result.data.corpus, result.data.langs
    where = ""
    if other_languages:
        lang = langid.detect([query])[0]
        found = replace(found, matches=np.array([j for j in found.matches.tolist()
                                                 if langs[j] != lang], dtype=np.int64))
        where = f" in other languages than the query's ({lang or 'unknown'})"
    rows = [[rank + 1, corpus.rows[j], float(found.cosines[j]), _num(found.percentile[j]),
             langs[j], corpus.texts[j]]
            for rank, j in enumerate(found.matches.tolist())]
    summary = (f"{len(rows)} of {len(corpus)} texts{where} above the {threshold:.0%} "
               "percentile of unrelated pairs")
    marked = result.changed(meaning=found, query=query)
    return MapSearchResult(marked, query, found, Table(VIEW.header("matches"), rows), summary)


@dataclass(eq=False)
class MapSelectionResult:
    """The texts selected on a map (a box or a lasso in the page).

    Attributes:
        map: the map.
        positions: the selected texts' positions in the map, in the order given.
        table: their rows of the map's table.
        counts: (language, texts) of the selection, most first.
        summary: one line.
        text: the selection as text for another view's input box (its ``lang``, ``label`` and
            ``id`` columns come along: ``textio.input_text``).
    """

    map: MapResult
    positions: list[int]
    table: Table
    counts: list[tuple[str, int]]
    summary: str
    text: str

    def write(self, path: str | Path) -> Path:
        """Writes the selected rows as .tsv or .csv."""
        check_suffix(path, (".tsv", ".csv"), "map selection")
        return self.table.write(path)


def map_selection(result: MapResult, positions: list[int]) -> MapSelectionResult:
    """The selected texts of a map, with their language counts.

    Args:
        result: the map.
        positions: positions in the map (each point's last customdata entry in the figure);
            a repeated position counts once.

    Returns:
        The result.

    Raises:
        ValueError: for a position that is not on this map.
    """
    n = len(result.data.corpus)
    if any(isinstance(p, bool) or not isinstance(p, int) or not 0 <= p < n
           for p in positions):
        raise ValueError("The selection names points that are not on this map; draw the map "
                         "again and select anew")
    positions = list(dict.fromkeys(positions))
    table = result.table
    counts = Counter(result.data.langs[p] or "unknown" for p in positions).most_common()
    summary = (f"{len(positions)} of {n} texts selected"
               + (" · " + ", ".join(f"{lang} {k}" for lang, k in counts) if counts else ""))
    return MapSelectionResult(result, positions, Table(table.header,
                                                       [table.rows[p] for p in positions]),
                              counts, summary, textio.input_text(result.data.corpus, positions))
