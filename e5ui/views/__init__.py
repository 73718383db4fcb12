"""One function and one result object per view, shared by the app and the command line.

A view function takes parsed inputs (``textio.Corpus``) and an encoder and returns a result: its
table (one header, 0-based line numbers), its notes for the user, its summary line, its figure
and its exports. ``result.write(path)`` picks the format by the file's suffix, and
``result.export(folder)`` writes the files the app offers for download through the same
``write``, so the app and the CLI give byte-identical files for the same request.

One module per view, named after it (its tab, endpoint and subcommand share the name); each
view's declaration — columns by name, figure title, endpoints, subcommand, place in the report —
is its entry in ``e5ui.registry``, which the app, the command line and the report iterate.
``compare`` holds the comparisons (E5 vs BM25, model vs model), part of the neighbours and
similarity views; ``common`` what the views share. The names below are the public API of the
views that ship with e5ui; a new view needs no line here (``e5ui.views.<name>``).
"""

from __future__ import annotations

from e5ui.views.align import AlignResult, align_view, resume_review
from e5ui.views.bitext import BitextResult, bitext_view, resume_bitext_review
from e5ui.views.common import Table, ViewProgress, fmt_pct, labels_for, notes_for
from e5ui.views.compare import (
    MAX_COMPARE_TEXTS,
    KeywordComparison,
    ModelComparison,
    compare_models_view,
)
from e5ui.views.explain import ExplainResult, PairScore, explain_view, pair_score
from e5ui.views.explore import (
    MapNeighboursResult,
    MapSearchResult,
    MapSelectionResult,
    map_neighbours,
    map_search,
    map_selection,
)
from e5ui.views.map import MapData, MapResult, map_data, map_preview, map_view
from e5ui.views.neighbours import NEIGHBOUR_HEADER, NeighboursResult, neighbours_view
from e5ui.views.report import report
from e5ui.views.similarity import (
    MAX_MATRIX_CSV,
    TOP_PAIRS,
    HeatmapCell,
    SimilarityResult,
    pair_at,
    similarity_view,
)

__all__ = [
    "AlignResult", "align_view", "resume_review", "MAX_COMPARE_TEXTS", "KeywordComparison",
    "ModelComparison",
    "compare_models_view",
    "MAX_MATRIX_CSV", "NEIGHBOUR_HEADER", "TOP_PAIRS", "BitextResult", "ExplainResult",
    "MapData", "MapNeighboursResult", "MapResult", "MapSearchResult", "MapSelectionResult",
    "map_neighbours", "map_search", "map_selection", "NeighboursResult", "PairScore",
    "SimilarityResult", "Table",
    "ViewProgress", "bitext_view", "explain_view", "resume_bitext_review",
    "fmt_pct", "labels_for", "map_data",
    "map_preview", "map_view", "neighbours_view", "notes_for", "pair_score", "report",
    "similarity_view", "HeatmapCell", "pair_at",
]
