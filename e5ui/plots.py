"""Plotly figure builders: similarity heatmaps, maps, score histograms and HTML exports.

Every builder takes plain numpy arrays and lists and returns a ``plotly.graph_objects.Figure``
with the same calm look (``_base_layout``): white background, system UI font at 16 px, one
sequential colour scale, one qualitative palette. Figures never arrive empty: with nothing to
draw, a builder returns ``message_figure`` saying why. Words inside figures are short labels;
explanations live in assets/.

This module imports numpy and plotly only (no gradio, torch or transformers), so figures can be
built and tested without a browser, a server or a model.
"""

from __future__ import annotations

import html
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

if TYPE_CHECKING:  # type hints only: importing the analysis at runtime would pull in scipy
    from e5ui.analysis.calibration import Baseline
    from e5ui.analysis.similarity import ClusterView

__all__ = [
    "ACCENT",
    "FONT_FAMILY",
    "PALETTE",
    "Markup",
    "cluster_heatmap",
    "figure_html",
    "message_figure",
    "projection_scatter",
    "report_html",
    "score_histogram",
    "similarity_heatmap",
]

# --- look ------------------------------------------------------------------------------------

FONT_FAMILY = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", Arial, '
    "sans-serif"
)
FONT_SIZE = 16  # base size; legible from the back of a room on a projector
TITLE_SIZE = 22
SMALL_SIZE = 14  # ticks, notes, legend: the smallest text in any figure
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
NEUTRAL = "#9ca3af"  # the reference (unrelated pairs) and translation links
ACCENT = "#2563eb"  # "your texts"
LINK = "#c4c9d1"
HEATMAP_COLORSCALE = "Viridis"  # perceptually uniform, colour-blind safe, prints in greyscale

# Carto "Bold" for the first ten categories (calm, familiar), then colours added greedily for
# the largest CIELAB distance to those already chosen, so up to 24 languages stay apart.
PALETTE = (
    "#7F3C8D", "#11A579", "#3969AC", "#F2B701", "#E73F74", "#80BA5A", "#E68310", "#008695",
    "#CF1C90", "#F97B72", "#511CFB", "#FE00FA", "#6C4516", "#FB0D0D", "#B2828D", "#DEA0FD",
    "#3283FE", "#782AB6", "#1CA71C", "#C4451C", "#882255", "#BCBD22", "#6C7C32", "#862A16",
)

# --- sizes and limits ------------------------------------------------------------------------

WRAP_WIDTH = 60  # hover lines wider than this are hard to read
HOVER_CHARS = 300  # longest text shown in a hover label
EXAMPLE_CHARS = 60  # example texts in cluster hovers: one line each
CLUSTER_EXAMPLES = 3
TICKS_UP_TO = 60  # more tick labels than this overlap on any screen
CELL_TEXT_UP_TO = 12  # write the cosine into each cell of small heatmaps
SCATTERGL_ABOVE = 1000  # SVG scatter slows down past ~1k points; WebGL does not
DIM_OPACITY = 0.25
DEFAULT_ZMIN = 0.7  # E5 cosines of unrelated texts start around 0.7
ZMIN_STEP = 0.05
HIST_BINS = 60
HIST_MAX_POINTS = 200_000  # values sent to the browser per histogram
# Heatmap hovers repeat two texts in every one of n^2 cells; above ~100 texts they are shortened
# so the figure JSON stays around this many characters.
HOVER_BUDGET = 4_000_000
MIN_HOVER_CHARS = 24

HEATMAP_TITLE = "Cosine similarity of every pair"
CLUSTER_TITLE = "Mean cosine between clusters"
PROJECTION_TITLE = "Map of the texts"
HISTOGRAM_TITLE = "Your scores next to unrelated pairs"

_NO_TEXTS = "No texts to show yet. Add at least one text."
_DASH = "–"


# --- shared helpers --------------------------------------------------------------------------


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; values in ``extra`` win."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _base_layout(title: str = "", **extra: Any) -> dict[str, Any]:
    """Layout every e5ui figure starts from; ``extra`` is merged in recursively."""
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "font": {"family": FONT_FAMILY, "size": FONT_SIZE, "color": INK},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": list(PALETTE),
        "margin": {"l": 64, "r": 32, "t": 80 if title else 40, "b": 56},
        "hoverlabel": {
            "bgcolor": "white",
            "bordercolor": GRID,
            "align": "left",
            "font": {"family": FONT_FAMILY, "size": FONT_SIZE - 1, "color": INK},
        },
        "legend": {"font": {"size": SMALL_SIZE}, "bgcolor": "rgba(255,255,255,0.85)"},
    }
    if title:
        layout["title"] = {
            "text": html.escape(title),
            "x": 0.0,
            "xref": "paper",
            "xanchor": "left",
            "font": {"size": TITLE_SIZE, "color": INK},
        }
    return _merge(layout, extra)


def _one_line(text: Any) -> str:
    """Text with runs of whitespace (newlines, tabs) collapsed to single spaces."""
    return " ".join(str(text).split())


def _shorten(text: Any, limit: int) -> str:
    """One-line text cut to ``limit`` characters, ending in an ellipsis when cut."""
    flat = _one_line(text)
    if len(flat) <= limit:
        return flat
    return flat[: max(limit - 1, 1)].rstrip() + "…"


def _hover_text(text: Any, limit: int = HOVER_CHARS, width: int = WRAP_WIDTH) -> str:
    """Escaped text for a hover label: shortened to ``limit``, wrapped at ``width`` with <br>."""
    short = _shorten(text, limit)
    if not short:
        return "<i>(empty)</i>"
    # Wrap before escaping so a line break never splits an entity such as &amp;.
    lines = textwrap.wrap(short, width, break_long_words=True, break_on_hyphens=False)
    return "<br>".join(html.escape(line) for line in lines)


def _check_len(values: Sequence[Any] | None, n: int, name: str) -> None:
    if values is not None and len(values) != n:
        raise ValueError(f"got {len(values)} {name} for {n} texts")


def _zmin(z: np.ndarray) -> float:
    """Lower end of the colour scale: the smallest finite off-diagonal value, floored to 0.05."""
    off = z[~np.eye(z.shape[0], dtype=bool)]
    off = off[np.isfinite(off)]
    if off.size == 0:
        return DEFAULT_ZMIN
    # The epsilon keeps 0.8 (0.79999 in float) in the 0.80 step instead of 0.75.
    low = math.floor(float(off.min()) / ZMIN_STEP + 1e-6) * ZMIN_STEP
    return round(min(max(low, -1.0), 1.0 - ZMIN_STEP), 2)


def _fmt(value: float, spec: str) -> str:
    return _DASH if not math.isfinite(value) else format(value, spec)


def _percent(fraction: float) -> str:
    """Whole percent, rounded down so "100%" means every unrelated pair scores lower or equal."""
    if not math.isfinite(fraction):
        return _DASH
    return f"{math.floor(fraction * 100 + 1e-9)}%"


def _heatmap_figure(
    z: np.ndarray,
    ticktext: Sequence[str],
    customdata: np.ndarray,
    hovertemplate: str,
    colorbar_title: str,
    title: str,
) -> go.Figure:
    """A square heatmap, row 0 at the top, with the shared colour scale and tick rules."""
    n = z.shape[0]
    positions = list(range(n))
    show_ticks = n <= TICKS_UP_TO
    axis = {
        "tickmode": "array",
        "tickvals": positions if show_ticks else [],
        "ticktext": [html.escape(t) for t in ticktext] if show_ticks else [],
        "showticklabels": show_ticks,
        "tickfont": {"size": SMALL_SIZE if n <= 30 else 11},
        "showgrid": False,
        "zeroline": False,
        "ticks": "",
    }
    trace = go.Heatmap(
        z=z,
        x=positions,
        y=positions,
        zmin=_zmin(z),
        zmax=1.0,
        colorscale=HEATMAP_COLORSCALE,
        customdata=customdata,
        hovertemplate=hovertemplate,
        # Thin white gaps separate cells while they are big enough to point at.
        xgap=1 if n <= 40 else 0,
        ygap=1 if n <= 40 else 0,
        colorbar={
            "title": {"text": colorbar_title, "side": "top"},
            "thickness": 14,
            "outlinewidth": 0,
            "tickformat": ".2f",
            "tickfont": {"size": SMALL_SIZE},
        },
    )
    if n <= CELL_TEXT_UP_TO:
        trace.texttemplate = "%{z:.2f}"
        trace.textfont = {"size": SMALL_SIZE}
    fig = go.Figure(trace)
    fig.update_layout(
        _base_layout(
            title,
            height=680,
            xaxis=_merge(axis, {"constrain": "domain"}),
            yaxis=_merge(
                axis, {"autorange": "reversed", "scaleanchor": "x", "constrain": "domain"}
            ),
        )
    )
    return fig


# --- figures ---------------------------------------------------------------------------------


def message_figure(message: str, title: str = "") -> go.Figure:
    """A figure with no axes that shows a message in the middle.

    The UI shows this instead of an empty plot, so there is always a word of why.

    Args:
        message: Short plain text (escaped; long messages are wrapped).
        title: Optional figure title.

    Returns:
        The figure.
    """
    lines = textwrap.wrap(_one_line(message), WRAP_WIDTH) or [""]
    fig = go.Figure()
    fig.update_layout(
        _base_layout(
            title,
            xaxis={"visible": False},
            yaxis={"visible": False},
            annotations=[
                {
                    "text": "<br>".join(html.escape(line) for line in lines),
                    "xref": "paper",
                    "yref": "paper",
                    "x": 0.5,
                    "y": 0.5,
                    "showarrow": False,
                    "align": "center",
                    "font": {"size": FONT_SIZE + 2, "color": MUTED},
                }
            ],
        )
    )
    return fig


def similarity_heatmap(
    sim: Any,
    labels: Sequence[str],
    texts: Sequence[str],
    langs: Sequence[str] | None = None,
    percentile: Any | None = None,
    rescaled: Any | None = None,
    title: str = HEATMAP_TITLE,
) -> go.Figure:
    """Heatmap of a cosine matrix whose hover shows both texts and calibrated scores.

    Colours span [zmin, 1] with zmin the smallest off-diagonal cosine floored to 0.05: E5 puts
    almost every pair in 0.7-1.0, and a scale from -1 would paint everything one colour.

    Each cell's customdata is ``[text_i, text_j, lang_i, lang_j, cosine]`` plus
    ``[percentile, rescaled]`` when given: strings ready for display ("–" where a value is
    NaN; percentiles as "97%"). Texts are escaped, wrapped at 60 characters and cut at 300;
    since every cell repeats two texts, they are cut shorter above ~100 texts to keep the
    figure a few MB. Above a few hundred texts use ``cluster_heatmap``.

    Args:
        sim: Cosine matrix (n, n), already in display order.
        labels: Short tick label per row, e.g. "3 · de" (hidden when n > 60).
        texts: Full text per row, for hover.
        langs: Language code per row, or None.
        percentile: Optional (n, n) fractions of unrelated pairs scoring lower
            (``similarity.calibrate(sim, baseline).percentile``).
        rescaled: Optional (n, n) rescaled scores (``calibrate(...).rescaled``).
        title: Figure title.

    Returns:
        The figure; a message figure when there are no texts.
    """
    z = np.asarray(sim, dtype=np.float64)
    if z.ndim != 2 or z.shape[0] != z.shape[1]:
        raise ValueError(f"sim must be a square matrix, got shape {z.shape}")
    n = z.shape[0]
    _check_len(labels, n, "labels")
    _check_len(texts, n, "texts")
    _check_len(langs, n, "language codes")
    if n == 0:
        return message_figure(_NO_TEXTS, title)
    extras: list[tuple[str, np.ndarray]] = []
    for name, values in (("percentile", percentile), ("rescaled", rescaled)):
        if values is not None:
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != z.shape:
                raise ValueError(f"{name} must have the shape of sim {z.shape}, got {arr.shape}")
            extras.append((name, arr))

    limit = int(min(HOVER_CHARS, max(MIN_HOVER_CHARS, HOVER_BUDGET // (2 * n * n))))
    shown = np.array([_hover_text(t, limit) for t in texts], dtype=object)
    codes = np.array(
        [html.escape(str(c)) for c in (langs if langs is not None else [""] * n)], dtype=object
    )
    custom = np.empty((n, n, 5 + len(extras)), dtype=object)
    custom[:, :, 0] = shown[:, None]  # row i
    custom[:, :, 1] = shown[None, :]  # column j
    custom[:, :, 2] = codes[:, None]
    custom[:, :, 3] = codes[None, :]
    custom[:, :, 4] = np.array([_fmt(v, ".3f") for v in z.ravel()], dtype=object).reshape(n, n)

    lang_line = "<br><span style='color:%s'>%%{customdata[%d]}</span>"
    template = "%{customdata[0]}"
    if langs is not None:
        template += lang_line % (MUTED, 2)
    template += "<br><br>%{customdata[1]}"
    if langs is not None:
        template += lang_line % (MUTED, 3)
    template += "<br><br>cosine <b>%{customdata[4]}</b>"
    for k, (name, arr) in enumerate(extras, start=5):
        if name == "percentile":
            cells = [_percent(v) for v in arr.ravel()]
            template += f"<br>higher than %{{customdata[{k}]}} of unrelated pairs"
        else:
            cells = [_fmt(v, ".2f") for v in arr.ravel()]
            template += f"<br>rescaled %{{customdata[{k}]}} (0 = unrelated, 1 = same)"
        custom[:, :, k] = np.array(cells, dtype=object).reshape(n, n)
    template += "<extra></extra>"
    return _heatmap_figure(z, [str(lab) for lab in labels], custom, template, "cosine", title)


def cluster_heatmap(
    view: ClusterView, texts: Sequence[str], title: str = CLUSTER_TITLE
) -> go.Figure:
    """Heatmap of mean cosines between clusters, for inputs too large for one cell per pair.

    Rows and columns follow ``view.order``; tick labels read "C3 (41)" (cluster id, size).
    Each cell's customdata is ``[row cluster, column cluster, mean cosine]``, where a cluster
    reads "C3 · 41 texts" followed by its first three member texts, shortened to one line.

    Args:
        view: A ``similarity.ClusterView``.
        texts: All texts the clusters were built from (indexed by ``view.members``).
        title: Figure title.

    Returns:
        The figure; a message figure when there are no clusters.
    """
    order = np.asarray(view.order, dtype=np.int64)
    k = order.shape[0]
    if k == 0:
        return message_figure(_NO_TEXTS, title)
    sizes = np.asarray(view.sizes)
    z = np.asarray(view.mean_sim, dtype=np.float64)[np.ix_(order, order)]

    def describe(c: int) -> str:
        size = int(sizes[c])
        head = f"<b>C{c}</b> · {size} {'text' if size == 1 else 'texts'}"
        examples = [
            html.escape(_shorten(texts[int(i)], EXAMPLE_CHARS))
            for i in view.members[c][:CLUSTER_EXAMPLES]
        ]
        return "<br>".join([head, *examples])

    desc = np.array([describe(int(c)) for c in order], dtype=object)
    custom = np.empty((k, k, 3), dtype=object)
    custom[:, :, 0] = desc[:, None]
    custom[:, :, 1] = desc[None, :]
    custom[:, :, 2] = np.array([_fmt(v, ".3f") for v in z.ravel()], dtype=object).reshape(k, k)
    template = (
        "%{customdata[0]}<br><br>%{customdata[1]}<br><br>"
        "mean cosine <b>%{customdata[2]}</b><extra></extra>"
    )
    ticks = [f"C{int(c)} ({int(sizes[c])})" for c in order]
    return _heatmap_figure(z, ticks, custom, template, "mean cosine", title)


def _rgba(color: str, alpha: float) -> str:
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _id_key(raw: Any) -> str:
    """An id as text; "" for a missing one (None, NaN, blank)."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return ""
    return str(raw).strip()


def _link_segments(ids: Sequence[Any], coords: np.ndarray) -> list[list[float | None]]:
    """Per axis, a coordinate list drawing a star from each id group's first member.

    A star rather than a path: it does not depend on the order members happen to come in, never
    crosses itself, and a group of k texts always gives k - 1 lines.
    """
    groups: dict[str, list[int]] = {}
    for i, raw in enumerate(ids):
        key = _id_key(raw)
        if key:
            groups.setdefault(key, []).append(i)
    axes: list[list[float | None]] = [[] for _ in range(coords.shape[1])]
    for members in groups.values():
        hub = members[0]
        for other in members[1:]:
            for d, axis in enumerate(axes):
                axis.extend([float(coords[hub, d]), float(coords[other, d]), None])
    return axes


def _scatter_axes(xy: np.ndarray, points: Sequence[int] | np.ndarray) -> dict[str, Any]:
    """{"x": ..., "y": ..., ("z": ...)} of the given points."""
    return {name: xy[points, d] for d, name in enumerate(("x", "y", "z")[: xy.shape[1]])}


def _category_trace(trace_type: type, xy: np.ndarray, points: np.ndarray, cat: str,
                    color: str, custom: list, template: str, sizes: tuple[int, int],
                    mask: np.ndarray | None) -> Any:
    """The markers of one category; with a highlight mask, hits grow and the rest fade."""
    base_size, big_size = sizes
    flat = xy.shape[1] == 2
    marker: dict[str, Any] = {"color": color, "size": base_size}
    if flat:
        marker["opacity"] = 0.85
        marker["line"] = {"color": "white", "width": 0.5}
    if mask is not None:
        hit = mask[points]
        marker["size"] = np.where(hit, big_size, base_size).tolist()
        if flat:
            marker["opacity"] = np.where(hit, 1.0, DIM_OPACITY).tolist()
            marker["line"] = {"color": INK, "width": np.where(hit, 1.5, 0.0).tolist()}
        else:  # plotly has no per-point opacity or outline in 3-D: translucent colours instead
            marker["color"] = [color if h else _rgba(color, DIM_OPACITY) for h in hit]
    return trace_type(**_scatter_axes(xy, points), mode="markers", name=html.escape(cat),
                      marker=marker, customdata=custom, hovertemplate=template)


def _scatter_layout(dim: int, title: str, method_note: str) -> dict[str, Any]:
    """Bare axes (a map's coordinates mean nothing), equal aspect, the note under the plot."""
    bare = {"showticklabels": False, "title": {"text": ""}, "zeroline": False, "ticks": ""}
    legend = {"itemsizing": "constant", "title": {"text": ""}}
    annotations = []
    if method_note:
        annotations.append({
            "text": html.escape(_shorten(method_note, 160)), "xref": "paper", "yref": "paper",
            "x": 0.0, "y": 0.0, "yshift": -12, "xanchor": "left", "yanchor": "top",
            "showarrow": False, "font": {"size": SMALL_SIZE, "color": MUTED},
        })
    if dim == 2:
        return _base_layout(
            title, height=640, legend=legend, annotations=annotations,
            xaxis=_merge(bare, {"showgrid": False, "showline": False}),
            yaxis=_merge(bare, {"showgrid": False, "showline": False, "scaleanchor": "x",
                                "scaleratio": 1}),
        )
    scene_axis = _merge(bare, {"showbackground": False, "gridcolor": GRID, "showspikes": False})
    return _base_layout(
        title, height=680, legend=legend, annotations=annotations,
        scene={"xaxis": scene_axis, "yaxis": scene_axis, "zaxis": scene_axis,
               "aspectmode": "data"},
    )


def projection_scatter(
    coords: Any,
    texts: Sequence[str],
    color_by: Sequence[str],
    ids: Sequence[Any] | None = None,
    highlight: Any | None = None,
    title: str = PROJECTION_TITLE,
    method_note: str = "",
) -> go.Figure:
    """Scatter plot of a 2-D or 3-D map, one coloured trace per category.

    Categories appear in order of first appearance and take ``PALETTE`` colours in that order
    (cycling past 24). Texts sharing an id are joined by thin grey lines, drawn as a star from
    the group's first member (one trace named "same id", None between segments). With a
    highlight mask that selects something, selected points grow and get a dark outline and the
    rest fade to opacity 0.25; in 3-D, where plotly has no per-point opacity or outline, faded
    points get a translucent colour and selected points only grow. An all-False mask changes
    nothing. 2-D uses WebGL (``Scattergl``) above 1000 points.

    Args:
        coords: Map coordinates (n, 2) or (n, 3), e.g. ``Projection.coords``.
        texts: Text per point, for hover.
        color_by: Category per point (language code or label).
        ids: Optional id per point; None or "" leaves a point unlinked.
        highlight: Optional boolean mask (n,), e.g. the matches of a search box.
        title: Figure title.
        method_note: Short note under the plot (method, fallback, neighbour preservation).

    Returns:
        The figure; a message figure when there are no points.
    """
    xy = np.asarray(coords, dtype=np.float64)
    if xy.ndim != 2 or xy.shape[1] not in (2, 3):
        raise ValueError(f"coords must have shape (n, 2) or (n, 3), got {xy.shape}")
    n, dim = xy.shape
    _check_len(texts, n, "texts")
    _check_len(color_by, n, "categories")
    _check_len(ids, n, "ids")
    mask = None
    if highlight is not None:
        mask = np.asarray(highlight, dtype=bool).reshape(-1)
        _check_len(mask, n, "highlight flags")
        if not mask.any():
            mask = None
    if n == 0:
        return message_figure(_NO_TEXTS, title)

    if dim == 3:
        trace_type: type = go.Scatter3d
    else:
        trace_type = go.Scattergl if n > SCATTERGL_ABOVE else go.Scatter
    base_size = 10 if n <= 300 else 7 if n <= 3000 else 4
    if dim == 3:
        base_size = max(3, round(base_size * 0.6))  # 3-D markers render larger
    sizes = (base_size, round(base_size * 1.8))

    cats = [str(c) if str(c) else "(none)" for c in color_by]
    id_text = [html.escape(_id_key(i)) or _DASH for i in (ids if ids is not None else [])]
    order: dict[str, list[int]] = {}
    for i, cat in enumerate(cats):
        order.setdefault(cat, []).append(i)

    traces: list[Any] = []
    link_axes = _link_segments(ids, xy) if ids is not None else None
    if link_axes and link_axes[0]:
        traces.append(trace_type(
            **{name: link_axes[d] for d, name in enumerate(("x", "y", "z")[:dim])},
            mode="lines", name="same id", line={"color": LINK, "width": 1}, hoverinfo="skip",
            opacity=0.6 if mask is not None else 1.0))

    id_part = " · id %{customdata[2]}" if ids is not None else ""
    template = (
        f"%{{customdata[0]}}<br><span style='color:{MUTED}'>%{{customdata[1]}}{id_part}</span>"
        "<extra></extra>"
    )
    for index, (cat, points) in enumerate(order.items()):
        custom = [
            [_hover_text(texts[i]), html.escape(cat), *([id_text[i]] if ids is not None else [])]
            for i in points
        ]
        traces.append(_category_trace(trace_type, xy, np.asarray(points, dtype=np.int64), cat,
                                      PALETTE[index % len(PALETTE)], custom, template, sizes,
                                      mask))
    fig = go.Figure(traces)
    fig.update_layout(_scatter_layout(dim, title, method_note))
    return fig


def _density_sample(values: np.ndarray, limit: int = HIST_MAX_POINTS) -> np.ndarray:
    """At most ``limit`` evenly spaced order statistics: the same density, a bounded payload."""
    if values.size <= limit:
        return values
    ranked = np.sort(values)
    return ranked[np.linspace(0, ranked.size - 1, limit).round().astype(np.int64)]


def _density_trace(values: np.ndarray, bins: dict, name: str, hover: str, color: str,
                   opacity: float) -> go.Histogram:
    """A probability-density histogram on shared bins (long inputs sampled, same shape)."""
    return go.Histogram(x=_density_sample(values), xbins=bins, histnorm="probability density",
                        name=name, marker={"color": color, "line": {"width": 0}},
                        opacity=opacity, hovertemplate=f"%{{x}}<extra>{hover}</extra>")


def _vline(x: float, label: str, dash: str, color: str, y: float, anchor: str
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A vertical line across the plot and its label: (shape, annotation). The median's label
    sits left of its line and the p95's right of its own, so the two never overlap."""
    shape = {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
             "line": {"color": color, "width": 2 if dash == "solid" else 1.5, "dash": dash}}
    note = {"text": label, "xref": "x", "yref": "paper", "x": x, "y": y, "xanchor": anchor,
            "yanchor": "top", "xshift": 4 if anchor == "left" else -4, "showarrow": False,
            "bgcolor": "rgba(255,255,255,0.8)", "font": {"size": SMALL_SIZE, "color": color}}
    return shape, note


def score_histogram(
    pair_cosines: Any,
    baseline: Baseline,
    title: str = HISTOGRAM_TITLE,
    marks: Sequence[tuple[str, float]] | None = None,
) -> go.Figure:
    """Your texts' pairwise cosines over the model's unrelated-pair cosines.

    Both histograms are probability densities on the same bins (about 60, from the smallest
    value minus 0.02 to 1.0), so their shapes compare even when one has far more pairs. Dashed
    lines mark the unrelated median and 95th percentile; ``marks`` add solid labelled lines.
    Above 200,000 values a histogram is drawn from evenly spaced order statistics, which keeps
    its shape and bounds what goes to the browser.

    Args:
        pair_cosines: Cosines of the current texts' pairs (any shape, flattened; NaN dropped).
            Pass the pairs i < j, not the full matrix, whose diagonal is all 1.
        baseline: The model's ``similarity.Baseline``.
        title: Figure title.
        marks: Optional (label, cosine) pairs, e.g. a pair typed into a box.

    Returns:
        The figure.
    """
    ref = np.asarray(baseline.cosines, dtype=np.float64).reshape(-1)
    ref = ref[np.isfinite(ref)]
    ours = np.asarray(pair_cosines, dtype=np.float64).reshape(-1)
    ours = ours[np.isfinite(ours)]
    marks = [(str(label), float(value)) for label, value in (marks or [])]
    if ref.size == 0:
        return message_figure("No reference scores for this model.", title)

    lowest = min([float(ref.min())] + ([float(ours.min())] if ours.size else []) +
                 [v for _, v in marks if math.isfinite(v)])
    start = min(lowest, 1.0) - 0.02
    size = (1.0 - start) / HIST_BINS
    # Half a bin past 1.0, so plotly adds one last bin that holds identical texts (cosine 1).
    bins = {"start": start, "end": 1.0 + size / 2, "size": size}

    fig = go.Figure(_density_trace(ref, bins, "unrelated pairs (reference set)",
                                   "unrelated pairs", NEUTRAL, 0.6))
    if ours.size:
        fig.add_trace(_density_trace(ours, bins, "your texts", "your texts", ACCENT, 0.65))
    lines = [_vline(baseline.median, "median unrelated", "dash", MUTED, 0.99, "right"),
             _vline(baseline.p95, "95% of unrelated pairs below", "dash", MUTED, 0.99, "left")]
    for i, (label, value) in enumerate(marks):
        if math.isfinite(value):
            text = f"{html.escape(_shorten(label, 40))} {value:.3f}"
            lines.append(_vline(value, text, "solid", INK, 0.88 - 0.09 * (i % 6), "left"))
    shapes = [shape for shape, _ in lines]
    notes = [note for _, note in lines]
    if not ours.size:
        notes.append(
            {
                "text": "Add at least two texts to see their scores here.",
                "xref": "paper",
                "yref": "paper",
                "x": 0.02,
                "y": 0.6,
                "xanchor": "left",
                "showarrow": False,
                "font": {"size": FONT_SIZE, "color": MUTED},
            }
        )

    fig.update_layout(
        _base_layout(
            title,
            height=480,
            barmode="overlay",
            bargap=0.02,
            shapes=shapes,
            annotations=notes,
            showlegend=True,
            legend={"orientation": "h", "x": 0.0, "y": 1.0, "xanchor": "left", "yanchor": "bottom"},
            margin={"t": 110 if title else 60},
            xaxis={
                "title": {"text": "cosine"},
                "range": [start, 1.0 + size],
                "showgrid": False,
                "zeroline": False,
                "tickformat": ".2f",
            },
            yaxis={
                "title": {"text": "density"},
                "showticklabels": False,
                "showgrid": False,
                "zeroline": False,
            },
        )
    )
    return fig


# --- HTML export -----------------------------------------------------------------------------


class Markup(str):
    """Trusted HTML for ``report_html`` (e.g. a table already rendered); plain str is escaped."""

    def __html__(self) -> str:
        return str(self)


def _config(title: str) -> dict[str, Any]:
    """plotly.js config: no logo, PNG downloads at 2x (sharp on slides), named after the title."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower() or "e5ui"
    return {
        "displaylogo": False,
        "responsive": True,
        "toImageButtonOptions": {"format": "png", "scale": 2, "filename": slug[:60]},
    }


def _figure_div(fig: go.Figure, title: str, include_plotlyjs: bool, number: int = 0) -> str:
    height = fig.layout.height
    slug = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:40] or "figure"
    return fig.to_html(
        full_html=False,
        include_plotlyjs=include_plotlyjs,
        config=_config(title),
        # A fixed id (plotly draws a random one): the same figure gives the same file.
        div_id=f"e5ui-{slug}-{number}",
        default_width="100%",
        default_height=f"{int(height)}px" if height else "560px",
    )


def figure_html(fig: go.Figure, title: str) -> str:
    """A standalone HTML page of one figure that works offline (plotly.js inline).

    Args:
        fig: The figure.
        title: Page title (escaped), also the file name of PNG downloads.

    Returns:
        The HTML document.
    """
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n"
        f"<style>body{{margin:16px;background:#fff;font-family:{FONT_FAMILY};}}</style>\n"
        "</head>\n<body>\n"
        f"{_figure_div(fig, title, include_plotlyjs=True)}\n"
        "</body>\n</html>\n"
    )


_REPORT_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #fff; color: %(ink)s; font-family: %(font)s;
       font-size: 18px; line-height: 1.5; }
main { max-width: 1120px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { font-size: 32px; line-height: 1.2; margin: 0 0 16px; }
h2 { font-size: 24px; margin: 40px 0 12px; padding-top: 16px; border-top: 1px solid %(grid)s; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px;
          margin: 0 0 24px; font-size: 15px; color: %(muted)s; }
dl.meta dt { font-weight: 600; }
dl.meta dd { margin: 0; color: %(ink)s; overflow-wrap: anywhere; }
p { max-width: 70ch; }
table { border-collapse: collapse; font-size: 16px; margin: 8px 0; }
th, td { border-bottom: 1px solid %(grid)s; padding: 6px 12px; text-align: left;
         vertical-align: top; }
th { font-weight: 600; }
.figure { margin: 8px 0; }
@media print {
  body { font-size: 12pt; }
  main { max-width: none; padding: 0; }
  section { break-inside: avoid; page-break-inside: avoid; }
  .modebar-container { display: none !important; }
}
@page { margin: 15mm; }
"""


def _report_item(item: Any, title: str, include_plotlyjs: bool, number: int) -> str:
    if isinstance(item, go.Figure):
        return f'<div class="figure">{_figure_div(item, title, include_plotlyjs, number)}</div>'
    if hasattr(item, "__html__"):
        return str(item.__html__())
    paragraphs = [p for p in re.split(r"\n\s*\n", str(item)) if p.strip()]
    return "\n".join(
        "<p>" + "<br>".join(html.escape(line) for line in p.strip().splitlines()) + "</p>"
        for p in paragraphs
    )


def report_html(
    title: str,
    sections: Sequence[tuple[str, Any]],
    meta: Mapping[str, Any] | None = None,
) -> str:
    """One self-contained HTML report for people who were not in the room.

    plotly.js is embedded once, in the head, and every figure refers to it, so a report with
    several figures costs one ~4.8 MB bundle and opens offline.

    Args:
        title: Report title (escaped).
        sections: (heading, item) pairs in reading order. An item is a ``go.Figure``; trusted
            HTML (``Markup`` or anything with ``__html__``, e.g. a rendered table); or any
            other value, shown as escaped text (blank lines start new paragraphs).
        meta: Facts listed at the top, e.g. model, source, date (keys and values escaped).

    Returns:
        The HTML document.
    """
    has_figure = any(isinstance(item, go.Figure) for _, item in sections)
    head_js = ""
    if has_figure:
        # As plotly's own to_html does: keep plotly.js from fetching MathJax from a CDN.
        head_js = (
            "<script type=\"text/javascript\">window.PlotlyConfig = {MathJaxConfig: 'local'};"
            f"</script>\n<script type=\"text/javascript\">{get_plotlyjs()}</script>\n"
        )
    css = _REPORT_CSS % {"ink": INK, "muted": MUTED, "grid": GRID, "font": FONT_FAMILY}
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f"<title>{html.escape(title)}</title>\n<style>{css}</style>\n{head_js}</head>\n",
        f"<body>\n<main>\n<h1>{html.escape(title)}</h1>\n",
    ]
    if meta:
        rows = "".join(
            f"<dt>{html.escape(str(key))}</dt><dd>{html.escape(str(value))}</dd>"
            for key, value in meta.items()
        )
        parts.append(f'<dl class="meta">{rows}</dl>\n')
    for number, (heading, item) in enumerate(sections):
        body = _report_item(item, str(heading) or title, include_plotlyjs=False, number=number)
        parts.append(f"<section>\n<h2>{html.escape(str(heading))}</h2>\n{body}\n</section>\n")
    parts.append("</main>\n</body>\n</html>\n")
    return "".join(parts)
