"""Plotly figure builders: similarity heatmaps, maps, score histograms, alignments and HTML
exports.

Every builder takes plain numpy arrays and lists and returns a ``plotly.graph_objects.Figure``
with the same calm look. Figures never arrive empty: with nothing to draw, a builder returns
``message_figure`` saying why. Words inside figures are short labels; explanations live in
assets/. Figures are built light; ``themed`` gives the copy a dark page shows.

One module per concern, one entry here for each public name:

- ``theme``: colours, palette, fonts, the base layout, ``message_figure`` and ``themed``;
- ``text``: user text in figures (escaping, bidi isolation, shortening, wrapping);
- ``heatmap``: ``similarity_heatmap`` and ``cluster_heatmap``;
- ``scatter``: the map (``map_scatter``);
- ``histogram``: ``score_histogram``;
- ``alignment``: ``alignment_heatmap``;
- ``export``: the one HTML writer (``figure_html``, ``map_page_html``, ``report_html``,
  ``write_html``).

This package imports numpy and plotly only (no gradio, torch or transformers), so figures can
be built and tested without a browser, a server or a model.
"""

from __future__ import annotations

from e5ui.plots.alignment import alignment_heatmap
from e5ui.plots.export import (
    MapExplore,
    Markup,
    figure_html,
    map_page_html,
    report_html,
    write_html,
)
from e5ui.plots.heatmap import (
    HEATMAP_FRAME,
    HEATMAP_PAIR_FRAME,
    cluster_heatmap,
    similarity_heatmap,
)
from e5ui.plots.histogram import score_histogram
from e5ui.plots.overlays import FOCUS_META, MapFocus
from e5ui.plots.scatter import map_focus, map_scatter
from e5ui.plots.text import user_text
from e5ui.plots.theme import ACCENT, FONT_FAMILY, PALETTE, THEMES, message_figure, themed

__all__ = [
    "ACCENT",
    "FONT_FAMILY",
    "HEATMAP_FRAME",
    "HEATMAP_PAIR_FRAME",
    "MapExplore",
    "FOCUS_META",
    "MapFocus",
    "PALETTE",
    "THEMES",
    "Markup",
    "alignment_heatmap",
    "cluster_heatmap",
    "figure_html",
    "message_figure",
    "map_page_html",
    "map_focus",
    "map_scatter",
    "report_html",
    "score_histogram",
    "similarity_heatmap",
    "themed",
    "user_text",
    "write_html",
]
