"""The map: a 2-D or 3-D scatter of the texts, one colour per language or label, texts that
share an id joined by grey lines.

A 2-D map fills a wide frame at equal aspect (``_fit_map``); points far from the rest are drawn
at its edge as triangles, so one distant cluster cannot shrink everything else to a speck.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

from e5ui.plots.mapfit import (
    _EDGE_SYMBOLS,
    MAP_FRAME_WIDTH,
    MAP_MARGIN,
    _fit_map,
    _MapFit,
)
from e5ui.plots.overlays import (
    MapFocus,
    _name_clusters,
    _revision,
    _scatter_axes,
    overlay_traces,
)
from e5ui.plots.text import (
    _DASH,
    EXAMPLE_CHARS,
    HOVER_CHARS,
    SHORT_HOVER_CHARS,
    _esc,
    _hover_text,
    _shorten,
    user_text,
)
from e5ui.plots.theme import (
    _NO_TEXTS,
    GRID,
    INK,
    LINK,
    MARKER_EDGE,
    MUTED,
    PALETTE,
    SMALL_SIZE,
    SYMBOLS_2D,
    SYMBOLS_3D,
    _base_layout,
    _check_len,
    _merge,
    message_figure,
)

SCATTERGL_ABOVE = 1000  # SVG scatter slows down past ~1k points; WebGL does not
# Above this many points a hover label holds a text's first ``SHORT_HOVER_CHARS`` characters
# (the figure carries every text once; a click shows the whole text in the page's panel).
SHORT_HOVER_ABOVE = 5000
DIM_OPACITY = 0.25
MAP_TITLE = "Map of the texts"
_FAR_NOTE = "<br><i>far from the rest: drawn at the edge of the map</i>"


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _id_key(raw: Any) -> str:
    """An id as text; "" for a missing one (None, NaN, blank)."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return ""
    return str(raw).strip()


def _link_segments(ids: Sequence[Any], coords: np.ndarray
                   ) -> list[list[float | None]] | list[np.ndarray]:
    """Per axis, a coordinate list drawing a star from each id group's first member.

    A star rather than a path: it does not depend on the order members happen to come in, never
    crosses itself, and a group of k texts always gives k - 1 lines. Groups come in order of
    first appearance. Above ``SCATTERGL_ABOVE`` points each axis is a float array with NaN
    between segments rather than a list with None: plotly checks and writes an array whole
    (its JSON is the same: NaN is written null), a list item by item.
    """
    keys = np.array([_id_key(raw) for raw in ids], dtype=object)
    members = np.flatnonzero(keys != "")
    if members.size == 0:
        return [[] for _ in range(coords.shape[1])]
    _, first, group = np.unique(keys[members].astype(str), return_index=True,
                                return_inverse=True)
    hub = members[first[group]]  # each member's group's first member
    # (group's first appearance, position): the order a loop over the texts would give
    order = np.lexsort((members, hub))
    others, hubs = members[order], hub[order]
    keep = others != hubs
    others, hubs = others[keep], hubs[keep]
    axes: list[Any] = []
    for d in range(coords.shape[1]):
        seg = np.full((others.size, 3), np.nan)
        seg[:, 0], seg[:, 1] = coords[hubs, d], coords[others, d]
        flat = seg.reshape(-1)
        axes.append(flat if coords.shape[0] > SCATTERGL_ABOVE
                    else [None if v != v else float(v) for v in flat.tolist()])
    return axes


def _marker_style(n: int, dim: int) -> dict[str, float]:
    """Marker size, opacity and ring width from the number of points.

    Size ~ n^-1/4: 14 px at 100 points, 11 at 200, 8 at 1,000, 5 at 5,000, so a 1920 x 1080
    screen shows clusters as shapes and single points as dots; rings go above 1,000 points,
    where they would outweigh the colours.
    """
    size = min(max(round(44 / max(n, 1) ** 0.25), 5), 14)
    if dim == 3:
        size = max(3, round(size * 0.6))  # 3-D markers render larger
    opacity = 0.9 if n <= 500 else 0.75 if n <= 2000 else 0.6
    return {"size": size, "big": round(size * 1.7), "opacity": opacity,
            "ring": 0.8 if n <= SCATTERGL_ABOVE else 0.0}


def _link_style(n: int) -> tuple[dict[str, Any], float]:
    """Translation lines and their opacity: clearly there under the markers, thinner and
    fainter as the map fills up."""
    if n <= 300:
        return {"color": LINK, "width": 1.5}, 0.75
    if n <= 1500:
        return {"color": LINK, "width": 1.0}, 0.6
    return {"color": LINK, "width": 0.7}, 0.45


def _category_style(index: int, dim: int) -> tuple[str, str]:
    """Colour and marker shape of the index-th category: the palette first, then shapes."""
    symbols = SYMBOLS_3D if dim == 3 else SYMBOLS_2D
    return PALETTE[index % len(PALETTE)], symbols[(index // len(PALETTE)) % len(symbols)]


class _Shared(np.ndarray):
    """A map's per-point customdata that plotly does not copy cell by cell.

    plotly deep-copies a figure's data when the figure is built and again when it is written
    as JSON: for an object array that is every cell, ~1 s each at 100,000 points. The cells
    are strings and ints that nothing changes after the figure is built, so the array is
    shared instead. plotly's checks would turn it back into a plain array: a large map's
    marker traces and its figure are built unchecked (the small maps' figures are checked
    as before; the JSON is the same).
    """

    def __deepcopy__(self, memo: dict) -> _Shared:
        return self


def _category_trace(trace_type: type, xy: np.ndarray, points: np.ndarray, cat: str,
                    style: tuple[str, str | list[str]], custom: np.ndarray, template: str,
                    look: dict[str, float], mask: np.ndarray | None, edge: bool = False,
                    legend: bool = True) -> Any:
    """The markers of one category; with a highlight mask, hits grow and the rest fade.

    ``edge`` marks far points drawn at the map's edge: same colour and legend entry as their
    category, triangles pointing where they lie, no legend item of their own unless the whole
    category is far (``legend``).
    """
    color, symbol = style
    base_size = look["size"] + (3 if edge else 0)  # a triangle looks smaller than a circle
    big_size = look["big"] + (3 if edge else 0)
    flat = xy.shape[1] == 2
    marker: dict[str, Any] = {"color": color, "size": base_size, "symbol": symbol}
    if flat:
        marker["opacity"] = look["opacity"]
        marker["line"] = {"color": MARKER_EDGE, "width": look["ring"]}
    if mask is not None:
        hit = mask[points]
        marker["size"] = np.where(hit, big_size, base_size).tolist()
        if flat:
            marker["opacity"] = np.where(hit, 1.0, DIM_OPACITY).tolist()
            marker["line"] = {"color": INK, "width": np.where(hit, 1.5, 0.0).tolist()}
        else:  # plotly has no per-point opacity or outline in 3-D: translucent colours instead
            marker["color"] = [color if h else _rgba(color, DIM_OPACITY) for h in hit]
    large = xy.shape[0] > SCATTERGL_ABOVE
    return trace_type(**_scatter_axes(xy, points), mode="markers", name=user_text(cat),
                      legendgroup=cat, showlegend=legend, marker=marker,
                      customdata=custom.view(_Shared) if large else custom,
                      hovertemplate=template, _validate=not large)


def _category_traces(trace_type: type, fit: _MapFit, cats: list[str], custom: np.ndarray,
                     template: str, look: dict[str, float], mask: np.ndarray | None) -> list[Any]:
    """Per category in order of first appearance: its markers, then its far points if any."""
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(cat, len(index)) for cat in cats), dtype=np.int64,
                        count=len(cats))
    by_cat = np.split(np.argsort(codes, kind="stable"),
                      np.cumsum(np.bincount(codes, minlength=len(index)))[:-1])
    edge = fit.far.any(axis=1)
    # Where a far point lies, as one of 9 codes (3 x-sides x 3 y-sides), and its triangle.
    side = (fit.far[:, 0].astype(np.int64) + 1) * 3 + fit.far[:, 1].astype(np.int64) + 1
    shapes = np.array([_EDGE_SYMBOLS.get((a, b), "circle") for a in (-1, 0, 1)
                       for b in (-1, 0, 1)], dtype=object)
    traces = []
    for number, (cat, points) in enumerate(zip(index, by_cat, strict=True)):
        colour, symbol = _category_style(number, fit.xy.shape[1])
        inner, outer = points[~edge[points]], points[edge[points]]
        for part, is_edge in ((inner, False), (outer, True)):
            if part.size == 0:
                continue
            shape = shapes[side[part]].tolist() if is_edge else symbol
            traces.append(_category_trace(
                trace_type, fit.xy, part, cat, (colour, shape), custom[part],
                template, look, mask, edge=is_edge, legend=not is_edge or inner.size == 0))
    return traces


def _scatter_layout(dim: int, title: str, method_note: str, fit: _MapFit,
                    legend_title: str) -> dict[str, Any]:
    """Bare axes (a map's coordinates mean nothing), equal aspect, the note under the plot.

    A click on a legend item shows that category alone (a second click shows all again); a
    double click hides or shows just that one.
    """
    bare = {"showticklabels": False, "title": {"text": ""}, "zeroline": False, "ticks": ""}
    legend = {"itemsizing": "constant", "title": {"text": _esc(legend_title)},
              "itemclick": "toggleothers", "itemdoubleclick": "toggle",
              "traceorder": "normal", "tracegroupgap": 0}
    annotations = []
    if method_note:
        annotations.append({
            "text": _esc(_shorten(method_note, 160)), "xref": "paper", "yref": "paper",
            "x": 0.0, "y": 0.0, "yshift": -12, "xanchor": "left", "yanchor": "top",
            "showarrow": False, "font": {"size": SMALL_SIZE, "color": MUTED},
        })
    if dim == 2 and fit.ranges is not None:
        margin = dict(MAP_MARGIN, t=MAP_MARGIN["t"] if title else 40)
        return _base_layout(
            title, height=fit.height, legend=legend, annotations=annotations, margin=margin,
            hovermode="closest",
            xaxis=_merge(bare, {"showgrid": False, "showline": False, "range": fit.ranges[0]}),
            yaxis=_merge(bare, {"showgrid": False, "showline": False, "range": fit.ranges[1],
                                "scaleanchor": "x", "scaleratio": 1}),
        )
    scene_axis = _merge(bare, {"showbackground": False, "gridcolor": GRID, "showspikes": False})
    return _base_layout(
        title, height=fit.height, legend=legend, annotations=annotations,
        scene={"xaxis": scene_axis, "yaxis": scene_axis, "zaxis": scene_axis,
               "aspectmode": "data"},
    )


def _point_hover(texts: Sequence[str], cats: list[str], ids: Sequence[Any] | None,
                 langs: Sequence[str] | None, labels: Sequence[str] | None,
                 far: np.ndarray) -> tuple[np.ndarray, str]:
    """Per-point customdata ``[text, category, id, language, label, note, position]`` and its
    template.

    The grey line names the category as before when neither languages nor labels are given;
    otherwise "language de · label greeting", with the category only where it is neither.
    Above ``SHORT_HOVER_ABOVE`` points the text is cut to ``SHORT_HOVER_CHARS``.
    """
    n = len(cats)
    limit = SHORT_HOVER_CHARS if n > SHORT_HOVER_ABOVE else HOVER_CHARS

    def col(values: Sequence[Any] | None) -> list[str]:
        if values is None:
            return [""] * n
        # Each distinct value is escaped once: 100,000 points hold a few languages and labels.
        shown: dict[Any, str] = {}
        out = []
        for v in values:
            key = (type(v), v) if isinstance(v, (str, int, float)) else None
            cell = shown.get(key) if key is not None else None
            if cell is None:
                cell = user_text(_shorten(_id_key(v), EXAMPLE_CHARS)) or _DASH
                if key is not None:
                    shown[key] = cell
            out.append(cell)
        return out

    lang_col, label_col, id_col = col(langs), col(labels), col(ids)
    cat_names = {c: user_text(c) for c in dict.fromkeys(cats)}
    cat_col = [cat_names[c] for c in cats]
    parts = []
    if langs is None and labels is None:
        parts.append("%{customdata[1]}")
    else:
        if cat_col not in (lang_col, label_col):
            parts.append("%{customdata[1]}")
        if langs is not None:
            parts.append("language %{customdata[3]}")
        if labels is not None:
            parts.append("label %{customdata[4]}")
    if ids is not None:
        parts.append("id %{customdata[2]}")
    notes = np.where(far.any(axis=1), _FAR_NOTE, "")
    # The last entry is the point's position in the map's order: a click or a selection in
    # the page names its points by it (the app's explore panel, the exported map's script).
    # An object array, not lists: plotly checks and copies it whole rather than cell by cell
    # (~25x faster at 5,000 points; the JSON is the same).
    custom = np.empty((n, 7), dtype=object)
    for k, column in enumerate(([_hover_text(t, limit) for t in texts], cat_col, id_col, lang_col,
                                label_col, notes.tolist(), range(n))):
        custom[:, k] = list(column)
    template = (f"%{{customdata[0]}}<br><span style='color:{MUTED}'>{' · '.join(parts)}</span>"
                "%{customdata[5]}<extra></extra>")
    return custom, template


def _map_inputs(coords: Any, texts: Sequence[str], color_by: Sequence[str],
                ids: Sequence[Any] | None, langs: Sequence[str] | None,
                labels: Sequence[str] | None, highlight: Any | None
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """The coordinates as (n, 2) or (n, 3) floats and the highlight mask (None when it selects
    nothing), with every per-point input checked to have one entry per point."""
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] not in (2, 3):
        raise ValueError(f"coords must have shape (n, 2) or (n, 3), got {xy.shape}")
    n = xy.shape[0]
    for values, name in ((texts, "texts"), (color_by, "categories"), (ids, "ids"),
                         (langs, "languages"), (labels, "labels")):
        _check_len(values, n, name)
    if highlight is None:
        return xy, None
    mask = np.asarray(highlight, dtype=bool).reshape(-1)
    _check_len(mask, n, "highlight flags")
    return xy, mask if mask.any() else None


def _link_trace(trace_type: type, ids: Sequence[Any] | None, fit: _MapFit, dimmed: bool
                ) -> Any | None:
    """Grey lines under the markers joining texts that share an id (``_link_segments``),
    fainter while a highlight is shown; None when no two texts share one."""
    link_axes = _link_segments(ids, fit.xy) if ids is not None else None
    if link_axes is None or not len(link_axes[0]):
        return None
    line, opacity = _link_style(fit.xy.shape[0])
    return trace_type(
        **{name: link_axes[d] for d, name in enumerate(("x", "y", "z")[: fit.xy.shape[1]])},
        mode="lines", name="same id", line=line, hoverinfo="skip", legendrank=1001,
        opacity=min(opacity, 0.5) if dimmed else opacity)


def _edge_note(method_note: str, fit: _MapFit) -> str:
    """The note under the map, saying how many far points are drawn at its edge, if any."""
    edge = fit.far.any(axis=1)
    if not edge.any():
        return method_note
    far_note = f"{int(edge.sum())} far point(s) drawn at the edge (triangles)"
    return f"{method_note} · {far_note}" if method_note else far_note


def _unchecked_layout(layout: dict[str, Any]) -> None:
    """What plotly's checks would do to a layout, for a figure built without them: an
    unchecked figure keeps a template's name (plotly.js needs the template itself) and an
    empty list of notes (written, where plotly drops it)."""
    if isinstance(layout.get("template"), str):
        layout["template"] = pio.templates[layout["template"]]
    if not layout.get("annotations", True):
        del layout["annotations"]


def _trace_type(n: int, dim: int) -> type:
    if dim == 3:
        return go.Scatter3d
    return go.Scattergl if n > SCATTERGL_ABOVE else go.Scatter


def map_focus(coords: Any, texts: Sequence[str], focus: MapFocus | None,
              frame_width: int = MAP_FRAME_WIDTH) -> go.Figure:
    """The traces a click adds to ``map_scatter``'s figure of the same points, alone.

    The page draws them over the map it has (assets/plot_events.js) instead of receiving the
    whole map again, ~18 MB of JSON at 100,000 points: the same traces, in the same drawn
    coordinates (turned and clipped as ``map_scatter`` draws the points), each with ``meta``
    ``FOCUS_META``.

    Args:
        coords: The map's coordinates (n, 2) or (n, 3), as given to ``map_scatter``.
        texts: Text per point (the clicked text's hover).
        focus: The clicked text and its neighbours; None: no traces (the lines cleared).
        frame_width: As given to ``map_scatter``.

    Returns:
        A figure of the click's traces; its ``layout.uirevision`` is the map's
        (``map_scatter``), so the page draws them only over the map they belong to.
    """
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] not in (2, 3):
        raise ValueError(f"coords must have shape (n, 2) or (n, 3), got {xy.shape}")
    n, dim = xy.shape
    _check_len(texts, n, "texts")
    traces: list[Any] = []
    if focus is not None:
        fit = _fit_map(xy, frame_width)
        traces = overlay_traces(_trace_type(n, dim), fit.xy, texts,
                                _marker_style(n, dim)["size"], focus, None)
    fig = go.Figure(traces)
    fig.update_layout(uirevision=_revision(xy))
    return fig


def map_scatter(
    coords: Any,
    texts: Sequence[str],
    color_by: Sequence[str],
    ids: Sequence[Any] | None = None,
    highlight: Any | None = None,
    title: str = MAP_TITLE,
    method_note: str = "",
    langs: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    legend_title: str = "",
    frame_width: int = MAP_FRAME_WIDTH,
    clusters: Any | None = None,
    cluster_names: dict[int, str] | None = None,
    focus: MapFocus | None = None,
    query: tuple[str, Any] | None = None,
) -> go.Figure:
    """Scatter plot of a 2-D or 3-D map, one coloured trace per category.

    Categories appear in order of first appearance and take ``PALETTE`` colours in that order;
    past its 12 colours they repeat with other marker shapes. Texts sharing an id are joined by
    grey lines under the markers, drawn as a star from the group's first member (one trace named
    "same id", None between segments). Marker size, opacity and line width follow the number of
    points, so 100-5,000 points stay legible. A legend click shows one category alone.

    A 2-D map fills its frame: equal aspect, a view fitted to the points (``_fit_map``): a map
    taller than wide is turned on its side, and points far from the rest (past the first wide
    gap beyond the 5-95% core, up to 5% of them per side, only from 20 points up) are drawn at
    the view's edge as triangles pointing where they lie, in a trace of their own (same name,
    colour and legend group, no legend entry; hover says so). The height is chosen so the view
    fills a plot ``frame_width`` px wide (560-880 px).

    With a highlight mask that selects something, selected points grow and get a dark outline
    and the rest fade to opacity 0.25; in 3-D, where plotly has no per-point opacity or outline,
    faded points get a translucent colour and selected points only grow. An all-False mask
    changes nothing. 2-D uses WebGL (``Scattergl``) above 1000 points.

    Args:
        coords: Map coordinates (n, 2) or (n, 3), e.g. ``Projection.coords``.
        texts: Text per point, for hover.
        color_by: Category per point (language code or label).
        ids: Optional id per point; None or "" leaves a point unlinked.
        highlight: Optional boolean mask (n,), e.g. the matches of a search box.
        title: Figure title.
        method_note: Short note under the plot (method, fallback, neighbour preservation).
        langs: Optional language per point, shown in hover.
        labels: Optional label per point, shown in hover.
        legend_title: Optional legend heading, e.g. "language".
        frame_width: The plot's expected width in px, which the height is planned for (the
            app's page column on a 1920-px screen by default). Wider frames leave the sides
            of a map with the usual aspect empty beyond the 880-px height cap.
        clusters: Optional cluster per point (-1: none); with ``cluster_names``, each named
            cluster's name is written at its centre (the median of its points as drawn):
            one annotation per cluster, so the figure's JSON grows by a line each.
        cluster_names: Cluster -> name.
        focus: A clicked text and its nearest texts in the embedding space: lines from it to
            each (dashed red for those the map put far away), in traces after the others.
        query: (query text, its place on the map in ``coords``' space) of a search by meaning:
            drawn as a star where the map's own points would be drawn.

    The layout's ``uirevision`` is the same for every figure of the same coordinates, so the
    page keeps the user's zoom and hidden legend items when the map is redrawn.

    Returns:
        The figure; a message figure when there are no points.
    """
    xy, mask = _map_inputs(coords, texts, color_by, ids, langs, labels, highlight)
    n, dim = xy.shape
    if n == 0:
        return message_figure(_NO_TEXTS, title)

    trace_type = _trace_type(n, dim)
    fit = _fit_map(xy, frame_width)
    cats = [str(c) if str(c) else "(none)" for c in color_by]
    custom, template = _point_hover(texts, cats, ids, langs, labels, fit.far)
    links = _link_trace(trace_type, ids, fit, dimmed=mask is not None)
    traces: list[Any] = [links] if links is not None else []
    look = _marker_style(n, dim)
    traces.extend(_category_traces(trace_type, fit, cats, custom, template, look, mask))
    traces.extend(overlay_traces(trace_type, fit.xy, texts, look["size"], focus,
                                 None if query is None else (query[0], fit.place(query[1]))))
    fig = go.Figure(traces, _validate=n <= SCATTERGL_ABOVE)
    layout = _scatter_layout(dim, title, _edge_note(method_note, fit), fit, legend_title)
    if n > SCATTERGL_ABOVE:
        _unchecked_layout(layout)
    fig.update_layout(layout, uirevision=_revision(xy))
    if clusters is not None and cluster_names:
        _name_clusters(fig, fit.xy, np.asarray(clusters), cluster_names)
    return fig
