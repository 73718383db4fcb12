"""What is drawn over a map's points (``scatter.map_scatter``): a clicked text's lines to its
nearest texts, a search's query as a star, cluster names at their centres, and the
``uirevision`` that keeps the user's zoom through those redraws.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import plotly.graph_objects as go

from e5ui.plots.text import _hover_text, _shorten, user_text
from e5ui.plots.theme import INK


def _scatter_axes(xy: np.ndarray, points: Sequence[int] | np.ndarray) -> dict[str, Any]:
    """{"x": ..., "y": ..., ("z": ...)} of the given points."""
    return {name: xy[points, d] for d, name in enumerate(("x", "y", "z")[: xy.shape[1]])}


class MapFocus(NamedTuple):
    """A clicked text and its nearest texts in the embedding space, drawn on the map.

    Attributes:
        point: the clicked text's position in the map's order.
        neighbours: its nearest texts' positions, nearest first.
        far: per neighbour, whether the map placed it far away (``Neighbourhood.far_on_map``).
    """

    point: int
    neighbours: Sequence[int]
    far: Sequence[bool]


FOCUS_FAR = "#dc2626"  # a neighbour the map put far away: where the map lies
# The ``meta`` of a click's traces: the page's script (assets/plot_events.js) finds them by it
# to replace them with the next click's, drawn over the figure it has.
FOCUS_META = "e5ui-focus"


def _star(xy: np.ndarray, hub: int, others: Sequence[int]) -> dict[str, list[float | None]]:
    """Line segments from one point to each of others, per axis, None between segments."""
    axes: dict[str, list[float | None]] = {}
    for d, name in enumerate(("x", "y", "z")[: xy.shape[1]]):
        axes[name] = [v for j in others for v in (float(xy[hub, d]), float(xy[j, d]), None)]
    return axes


def _focus_traces(trace_type: type, xy: np.ndarray, focus: MapFocus, texts: Sequence[str],
                  size: float) -> list[Any]:
    """Lines from the clicked text to its nearest texts (dashed red for those the map put far
    away), rings on them, and a ring on the clicked text; after the category traces, so a
    click does not renumber the traces a legend click has hidden."""
    n = xy.shape[0]
    point = int(focus.point)
    if not 0 <= point < n:
        raise ValueError(f"the clicked point {point} is not on the map (0-{n - 1})")
    neighbours = [int(j) for j in focus.neighbours]
    if any(not 0 <= j < n for j in neighbours) or len(focus.far) != len(neighbours):
        raise ValueError("the clicked point's neighbours are not on the map")
    far = np.asarray(focus.far, dtype=bool)
    flat = xy.shape[1] == 2
    traces = []
    for part, name, colour, dash in (
            ([j for j, f in zip(neighbours, far, strict=True) if not f],
             "nearest texts (embedding space)", INK, "solid"),
            ([j for j, f in zip(neighbours, far, strict=True) if f],
             "nearest texts the map put far away", FOCUS_FAR, "dash")):
        if not part:
            continue
        traces.append(trace_type(**_star(xy, point, part), mode="lines", name=name,
                                 line={"color": colour, "width": 2, "dash": dash},
                                 hoverinfo="skip", legendrank=1002, meta=FOCUS_META))
        traces.append(trace_type(
            **_scatter_axes(xy, part), mode="markers", name=name, legendgroup=name,
            showlegend=False, hoverinfo="skip", meta=FOCUS_META,
            marker={"symbol": "circle-open", "size": size + 6, "color": colour,
                    **({"line": {"width": 2, "color": colour}} if flat else {})}))
    traces.append(trace_type(
        **_scatter_axes(xy, [point]), mode="markers", name="clicked text", legendrank=1003,
        meta=FOCUS_META,
        marker={"symbol": "circle-open", "size": size + 12, "color": INK,
                **({"line": {"width": 3, "color": INK}} if flat else {})},
        hovertemplate=f"{_hover_text(texts[point])}<extra>clicked</extra>"))
    return traces


def _query_trace(trace_type: type, place: np.ndarray, query: str, size: float) -> Any:
    """The query of a search by meaning, placed on the map: a star (a diamond in 3-D, where
    plotly has no star)."""
    flat = place.shape[0] == 2
    return trace_type(
        **{name: [float(v)] for name, v in zip(("x", "y", "z"), place, strict=False)},
        mode="markers", name="search query", legendrank=1004,
        marker={"symbol": "star" if flat else "diamond", "size": size + 14, "color": "#f59e0b",
                **({"line": {"width": 1.5, "color": INK}} if flat else {})},
        hovertemplate=f"query: {_hover_text(query)}<extra></extra>")


def overlay_traces(trace_type: type, xy: np.ndarray, texts: Sequence[str], size: float,
                   focus: MapFocus | None, query: tuple[str, np.ndarray] | None) -> list[Any]:
    """What is drawn over a map's points: a clicked text's lines and rings (``focus``) and a
    search's query where it is drawn (``query``: its text and drawn place)."""
    traces = [] if focus is None else _focus_traces(trace_type, xy, focus, texts, size)
    if query is not None:
        traces.append(_query_trace(trace_type, query[1], query[0], size))
    return traces


def _revision(coords: np.ndarray) -> str:
    """plotly's ``uirevision`` for a map: the same for every redraw of one map (a click, a new
    colour, a search keep the user's zoom and the legend's hidden items), new for a new map."""
    return hashlib.sha256(np.ascontiguousarray(coords, dtype=np.float64).tobytes()
                          ).hexdigest()[:16]


CLUSTER_NAME_CHARS = 40  # a name on the map is a few words; the legend and table hold the rest


def _name_clusters(fig: go.Figure, xy: np.ndarray, clusters: np.ndarray,
                   names: dict[int, str]) -> None:
    """Writes each named cluster's name at the median of its drawn points."""
    notes = []
    for c, name in sorted(names.items()):
        members = xy[clusters == c]
        if not members.size or not name:
            continue
        centre = np.median(members, axis=0)
        text = user_text(_shorten(name, CLUSTER_NAME_CHARS))
        note = {"text": f"<b>{text}</b>", "showarrow": False,
                "bgcolor": "rgba(255,255,255,0.75)", "font": {"size": 12}}
        notes.append({**note, "x": float(centre[0]), "y": float(centre[1]),
                      **({"z": float(centre[2])} if xy.shape[1] == 3 else {})})
    if xy.shape[1] == 3:
        fig.update_layout(scene={"annotations": notes})
    else:
        fig.update_layout(annotations=[*fig.layout.annotations, *notes])
