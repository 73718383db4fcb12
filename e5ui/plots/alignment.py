"""The alignment figure: the path an aligner chose, drawn over the source x target similarity
matrix, with low-confidence links and sentences left without a partner boxed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from e5ui.plots.heatmap import COLORBAR_PX, DEFAULT_ZMIN, _floor_step
from e5ui.plots.text import _hover_text, _unique
from e5ui.plots.theme import (
    GRADIO_TOP,
    HEATMAP_COLORSCALE,
    INK,
    SMALL_SIZE,
    _base_layout,
    _check_len,
    _merge,
    message_figure,
)

ALIGN_PATH = "#ffffff"  # the path, over a dark outline: reads on every Viridis colour
ALIGN_LOW = "#d62728"  # a link below the confidence threshold
ALIGN_OMIT = "#ff7f0e"  # a sentence left without a partner
ALIGN_EDITED = "#17becf"  # a link a person made or changed (cyan: apart from red and orange)
ALIGN_HEIGHT = 760


def _path_shapes(path: np.ndarray) -> list[dict[str, Any]]:
    """The alignment path as two SVG paths (a dark outline under a white line), in cell
    coordinates shifted to plotly's category positions (cell k is centered on k)."""
    points = " L ".join(f"{c - 0.5:.3f},{r - 0.5:.3f}" for r, c in path)
    return [{"type": "path", "path": f"M {points}", "xref": "x", "yref": "y",
             "line": {"color": colour, "width": width}, "layer": "above"}
            for colour, width in ((INK, 5), (ALIGN_PATH, 2.5))]


def _box(r0: float, r1: float, c0: float, c1: float, colour: str, dash: str = "solid"
         ) -> dict[str, Any]:
    return {"type": "rect", "xref": "x", "yref": "y", "x0": c0 - 0.5, "x1": c1 - 0.5,
            "y0": r0 - 0.5, "y1": r1 - 0.5, "line": {"color": colour, "width": 3, "dash": dash},
            "layer": "above"}


def alignment_heatmap(
    values: Any,
    row_names: Sequence[str],
    col_names: Sequence[str],
    path: Any,
    low: Sequence[tuple[float, float, float, float]] = (),
    omitted: Sequence[tuple[float, float, float, float]] = (),
    title: str = "Alignment",
    axis_titles: tuple[str, str] = ("source", "target"),
    edited: Sequence[tuple[float, float, float, float]] = (),
) -> go.Figure:
    """The alignment path drawn over the source x target similarity matrix.

    Rows are source sentences (or blocks of them), columns target sentences, the colour their
    cosine; the chosen path runs from the top-left corner to the bottom-right one through the
    sentence boundaries, so a bead covering two source rows and one target column is a step
    down two rows and across one. Low-confidence links get a red box; sentences left without a
    partner an orange dashed one.

    Args:
        values: (r, c) cosines (block means when aggregated).
        row_names: hover text of each row (the sentence, or the block's range), unique or not.
        col_names: likewise for each column.
        path: (k, 2) path points (row, column) in cell coordinates: cell (r, c) spans r..r+1.
        low: (row0, row1, col0, col1) cell rectangles of low-confidence links.
        omitted: likewise for omissions (zero width or height: drawn one cell wide).
        title: figure title.
        axis_titles: what the rows and the columns are.
        edited: likewise for links a reviewer made or changed (a dashed cyan box, named
            "edited" so that a page can find them).

    Returns:
        The figure; a message figure when there is nothing to draw.
    """
    z = np.asarray(values, dtype=np.float32)
    if z.ndim != 2 or z.size == 0:
        return message_figure("Nothing to align", title)
    rows, cols = z.shape
    _check_len(row_names, rows, "row names")
    _check_len(col_names, cols, "column names")
    y = _unique([_hover_text(n) for n in row_names])
    x = _unique([_hover_text(n) for n in col_names])
    finite = z[np.isfinite(z)]
    zmin = _floor_step(float(finite.min())) if finite.size else DEFAULT_ZMIN
    trace = go.Heatmap(
        z=z, x=x, y=y, zmin=zmin, zmax=max(1.0, float(finite.max()) if finite.size else 1.0),
        colorscale=HEATMAP_COLORSCALE, hoverongaps=False,
        hovertemplate=(f"<b>{axis_titles[0]}</b> %{{y}}<br><br><b>{axis_titles[1]}</b> "
                       "%{x}<br><br>cosine <b>%{z:.3f}</b><extra></extra>"),
        colorbar={"thickness": COLORBAR_PX, "outlinewidth": 0, "title": {"text": "cosine"},
                  "tickfont": {"size": SMALL_SIZE}})
    shapes = _path_shapes(np.asarray(path, dtype=np.float64))
    for r0, r1, c0, c1 in omitted:  # an empty side still gets a cell's width, to be seen
        shapes.append(_box(r0, max(r1, r0 + 1), c0, max(c1, c0 + 1), ALIGN_OMIT, "dot"))
    shapes += [_box(*rect, ALIGN_LOW) for rect in low]
    shapes += [{**_box(r0, max(r1, r0 + 1), c0, max(c1, c0 + 1), ALIGN_EDITED, "dash"),
                "name": "edited"} for r0, r1, c0, c1 in edited]
    axis = {"type": "category", "showticklabels": False, "showgrid": False, "zeroline": False,
            "ticks": ""}
    fig = go.Figure(trace)
    fig.update_layout(_base_layout(
        title, height=ALIGN_HEIGHT, shapes=shapes, margin={"t": GRADIO_TOP},
        xaxis=_merge(axis, {"title": {"text": f"{axis_titles[1]} →"}, "constrain": "domain"}),
        yaxis=_merge(axis, {"title": {"text": f"← {axis_titles[0]}"}, "autorange": "reversed",
                            "scaleanchor": "x", "constrain": "domain"}),
    ))
    return fig
