"""Square heatmaps of cosines: every pair (``similarity_heatmap``) or, for inputs too large
for a cell per pair, the mean between clusters (``cluster_heatmap``).

Both share one layout (``_heatmap_figure``): the square is as large as the frame allows, tick
labels never overlap, and the colour bar spans [zmin, 1] and can mark the model's unrelated
median.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from e5ui.plots.text import (
    _DASH,
    EXAMPLE_CHARS,
    _columns,
    _esc,
    _hover_text,
    _shorten,
    _snippet,
    _unique,
    user_text,
)
from e5ui.plots.theme import (
    _NO_TEXTS,
    GRADIO_TOP,
    HEATMAP_COLORSCALE,
    INK,
    MIN_TICK_SIZE,
    SMALL_SIZE,
    _base_layout,
    _check_len,
    _merge,
    message_figure,
)

if TYPE_CHECKING:  # type hints only: importing the analysis at runtime would pull in scipy
    from e5ui.analysis.similarity import ClusterView

CLUSTER_EXAMPLES = 3  # member texts shown in a cluster's hover
TICKS_UP_TO = 60  # more tick labels than this overlap on any screen
CELL_TEXT_UP_TO = 12  # write the cosine into each cell of small heatmaps
DEFAULT_ZMIN = 0.7  # E5 cosines of unrelated texts start around 0.7
ZMIN_STEP = 0.05
SNIPPETS_UP_TO = 40  # heatmap ticks show the texts themselves up to this many rows
NAME_COLUMNS = 28
HEATMAP_MAX_HEIGHT = 880
HEATMAP_SIDE = (320, 720)  # the square's side in px: smallest and largest
HEATMAP_CELL = 90  # small heatmaps: px per cell until the square reaches its largest side
GLYPH_EM = 0.6  # a Latin glyph's average width in em, generous for system-ui fonts
COLORBAR_PX = 16
COLORBAR_PAD = 16

# The frame widths a heatmap is laid out for: a heatmap drawn narrower would shrink its square
# under labels sized for the planned one, so the app gives each plot at least this much width
# (ui/similarity.py) and narrower screens scroll the figure sideways (assets/style.css).
HEATMAP_FRAME = 1040  # the Similarity view's heatmap
HEATMAP_PAIR_FRAME = 880  # each of two heatmaps side by side (model vs model)
# Right of the square: the colour bar, its ticks and "0.78 unrelated median", plus the margin.
COLORBAR_ROOM = 230

HEATMAP_TITLE = "Cosine similarity of every pair"
CLUSTER_TITLE = "Mean cosine between clusters"


def _floor_step(value: float) -> float:
    """``value`` rounded down to a multiple of 0.05, kept within [-1, 0.95]."""
    # The epsilon keeps 0.8 (0.79999 in float) in the 0.80 step instead of 0.75.
    low = math.floor(value / ZMIN_STEP + 1e-6) * ZMIN_STEP
    return round(min(max(low, -1.0), 1.0 - ZMIN_STEP), 2)


def _zmin(z: np.ndarray) -> float:
    """Lower end of the colour scale: the smallest finite off-diagonal value, floored to 0.05."""
    off = z[~np.eye(z.shape[0], dtype=bool)]
    off = off[np.isfinite(off)]
    if off.size == 0:
        return DEFAULT_ZMIN
    return _floor_step(float(off.min()))


def _fmt(value: float, spec: str) -> str:
    return _DASH if not math.isfinite(value) else format(value, spec)


def _tick_angle(cell: float, label: float, font: float) -> int:
    """Degrees to tilt x tick labels so neighbours ``cell`` px apart never touch."""
    if label + 8 <= cell:
        return 0
    # Tilted by a, parallel labels cell px apart are cell * sin(a) apart across their lines.
    need = min(1.0, 1.3 * font / cell)
    return next(a for a in (30, 45, 60, 90) if math.sin(math.radians(a)) >= need - 1e-9)


def _heatmap_geometry(n: int, ticktext: Sequence[str], show: bool, titled: bool,
                      frame: int = HEATMAP_FRAME) -> dict[str, Any]:
    """Square side, tick font, tilt and margins (px) for an n x n heatmap.

    Cells are as large as a figure of at most ``HEATMAP_MAX_HEIGHT`` px high and ``frame`` px
    wide allows, with room for the tick labels under and left of the square and for the
    colour bar right of it; only where labels would overlap at ``MIN_TICK_SIZE`` does the
    figure grow taller (and then wider than ``frame``).
    """
    top = GRADIO_TOP if titled else 40
    cols = max((_columns(t) for t in ticktext), default=0) if show else 0
    side = float(min(HEATMAP_SIDE[1], max(HEATMAP_SIDE[0], n * HEATMAP_CELL)))
    for _ in range(4):  # side, font and label room depend on each other; settles in 2-3 rounds
        cell = side / n
        font = int(min(SMALL_SIZE, max(MIN_TICK_SIZE, cell / 1.25)))
        label = cols * GLYPH_EM * font
        angle = _tick_angle(cell, label, font) if show else 0
        rad = math.radians(angle)
        bottom = label * math.sin(rad) + font * (math.cos(rad) + 1) + 16 if show else 24
        left = label + 16 if show else 24
        fit = max(min(HEATMAP_MAX_HEIGHT - top - bottom, frame - left - COLORBAR_ROOM),
                  HEATMAP_SIDE[0])
        if show:  # never overlapping: rows at least 1.25 line heights apart
            fit = max(fit, 1.25 * MIN_TICK_SIZE * n)
        if side <= fit + 0.5:
            break
        side = fit
    return {"side": side, "font": font, "angle": angle, "top": top, "left": round(left),
            "bottom": round(bottom), "height": round(top + side + bottom)}


def _colorbar_ticks(zmin: float, median: float | None, bar_px: float
                    ) -> tuple[list[float], list[str]]:
    """Colour bar ticks every 0.05 or 0.1, and the unrelated median, labelled, where given."""
    span = 1.0 - zmin
    step = 0.05 if span <= 0.4 else 0.1 if span <= 1.0 else 0.25
    vals = [round(v, 4) for v in np.arange(math.ceil(zmin / step - 1e-6) * step, 1.0 + 1e-9, step)]
    texts = [f"{v:.2f}" for v in vals]
    if median is None:
        return vals, texts
    # Regular ticks closer than ~one line to the median would collide with its label.
    near = 22 * span / max(bar_px, 1.0)
    keep = [i for i, v in enumerate(vals) if abs(v - median) >= near]
    return ([vals[i] for i in keep] + [median],
            [texts[i] for i in keep] + [f"<b>{median:.2f}</b> unrelated median"])


def _median_mark(median: float, zmin: float) -> dict[str, Any]:
    """A short thick line pointing at the colour bar's unrelated median from the left.

    The bar spans the plot's full height (``_heatmap_figure``), so the median sits at the
    same paper fraction on both; the line must end left of the bar, which is drawn over shapes.
    """
    y = (median - zmin) / (1.0 - zmin)
    return {"type": "line", "xref": "paper", "yref": "paper", "xsizemode": "pixel",
            "xanchor": 1.0, "x0": COLORBAR_PAD - 12, "x1": COLORBAR_PAD - 1,
            "y0": y, "y1": y, "line": {"color": INK, "width": 3}}


def _colour_range(z: np.ndarray, baseline_median: float | None) -> tuple[float, float | None]:
    """The colour bar's low end and the unrelated median to mark on it (None: no mark)."""
    zmin = _zmin(z)
    if baseline_median is None or not math.isfinite(baseline_median) or baseline_median >= 1:
        return zmin, None
    median = float(baseline_median)
    return min(zmin, _floor_step(median)), median  # the median always lies on the bar


def _heatmap_axis(positions: list[Any], ticktext: Sequence[str], show_ticks: bool, font: int,
                  categorical: bool) -> dict[str, Any]:
    """Either axis of the square: the tick labels as user text, no grid, equal cells."""
    return {
        "tickmode": "array",
        "tickvals": positions if show_ticks else [],
        "ticktext": [user_text(t) for t in ticktext] if show_ticks else [],
        "showticklabels": show_ticks,
        "tickfont": {"size": font},
        "showgrid": False,
        "zeroline": False,
        "ticks": "",
        "automargin": True,  # a safety net under the margins computed in _heatmap_geometry
        "constrain": "domain",
        "type": "category" if categorical else "linear",
    }


def _heatmap_trace(z: np.ndarray, positions: list[Any], zmin: float,
                   colorbar: tuple[list[float], list[str]], customdata: np.ndarray | None,
                   hovertemplate: str) -> go.Heatmap:
    """The cells and the colour bar (``colorbar``: its tick values and labels)."""
    n = z.shape[0]
    tickvals, ticklabels = colorbar
    trace = go.Heatmap(
        # float32: sent as a typed array, half the bytes of float64 and plenty for a colour.
        z=z.astype(np.float32), x=positions, y=positions, zmin=zmin, zmax=1.0,
        colorscale=HEATMAP_COLORSCALE,
        customdata=customdata, hovertemplate=hovertemplate, hoverongaps=False,
        # Thin gaps separate cells while they are big enough to point at.
        xgap=1 if n <= SNIPPETS_UP_TO else 0, ygap=1 if n <= SNIPPETS_UP_TO else 0,
        colorbar={
            "thickness": COLORBAR_PX, "x": 1.0, "xanchor": "left", "xpad": COLORBAR_PAD,
            "y": 0.5, "yanchor": "middle", "len": 1.0, "ypad": 0, "outlinewidth": 0,
            "tickmode": "array", "tickvals": tickvals, "ticktext": ticklabels,
            "ticks": "outside", "ticklen": 4, "tickfont": {"size": SMALL_SIZE},
        },
    )
    if n <= CELL_TEXT_UP_TO:
        trace.texttemplate = "%{z:.2f}"
        trace.textfont = {"size": SMALL_SIZE}
    return trace


def _heatmap_figure(
    z: np.ndarray,
    ticktext: Sequence[str],
    customdata: np.ndarray,
    hovertemplate: str,
    colorbar_title: str,
    title: str,
    baseline_median: float | None = None,
    categories: Sequence[str] | None = None,
    frame: int = HEATMAP_FRAME,
) -> go.Figure:
    """A square heatmap, row 0 at the top, with the shared colour scale and tick rules. With
    ``categories`` (one per row, unique) the axes are categorical and hover can show them.

    The colour bar spans the plot's full height (``ypad`` 0, ``len`` 1, no title of its own:
    plotly takes a title's room from the bar's length) from paper x = 1, so the median's line
    and the bar's title (an annotation above it) are placed exactly in paper coordinates.
    """
    n = z.shape[0]
    positions = list(categories) if categories is not None else list(range(n))
    show_ticks = n <= TICKS_UP_TO
    geo = _heatmap_geometry(n, ticktext, show_ticks, bool(title), frame)
    zmin, median = _colour_range(z, baseline_median)
    axis = _heatmap_axis(positions, ticktext, show_ticks, geo["font"], categories is not None)
    colorbar = _colorbar_ticks(zmin, median, geo["side"])
    fig = go.Figure(_heatmap_trace(z, positions, zmin, colorbar, customdata, hovertemplate))
    fig.update_layout(
        _base_layout(
            title,
            height=geo["height"],
            margin={"t": geo["top"], "l": geo["left"], "b": geo["bottom"], "r": 40},
            shapes=[_median_mark(median, zmin)] if median is not None else [],
            annotations=[{"text": _esc(colorbar_title), "xref": "paper", "yref": "paper",
                          "x": 1.0, "y": 1.0, "xshift": COLORBAR_PAD, "yshift": 6,
                          "xanchor": "left", "yanchor": "bottom", "showarrow": False}],
            xaxis=_merge(axis, {"tickangle": -geo["angle"]}),
            yaxis=_merge(axis, {"autorange": "reversed", "scaleanchor": "x"}),
        )
    )
    return fig


# --- the two heatmaps ------------------------------------------------------------------------


def _who(label: str, lang: str, limit: int = EXAMPLE_CHARS) -> str:
    """A row's name for hover, escaped, shortened to ``limit`` characters: its label, with its
    language unless the label already says it, each isolated as user text (``user_text``)."""
    if not lang or lang in label.split(" · "):
        return user_text(_shorten(label or lang, limit))
    if not label:
        return user_text(_shorten(lang, limit))
    lang = _shorten(lang, limit // 3)
    return f"{user_text(_shorten(label, max(limit - len(lang) - 3, 1)))} · {user_text(lang)}"


def _pair_hover(texts: Sequence[str], labels: Sequence[str], langs: Sequence[str] | None,
                extras: list[tuple[str, np.ndarray]]) -> tuple[list[str], np.ndarray | None, str]:
    """The heatmap's hover (see ``similarity_heatmap``): one category per row holding its text
    and name, so a cell's hover reads them from ``%{y}`` and ``%{x}`` instead of repeating two
    texts in each of n * n cells, and the calibrated scores as one float32 array."""
    n = len(texts)
    raw_langs = [str(c) for c in (langs if langs is not None else [""] * n)]
    names = [_who(str(lab), c) for lab, c in zip(labels, raw_langs, strict=True)]
    # The name in italics, not in a colour: the same hover reads on a light and a dark page.
    categories = _unique([f"{_hover_text(t)}<br><i>{name}</i>"
                          for t, name in zip(texts, names, strict=True)])
    template = "%{y}<br><br>%{x}<br><br>cosine <b>%{z:.3f}</b>"
    columns = []
    for k, (name, arr) in enumerate(extras):
        if name == "percentile":
            # Rounded down, so "100%" means every unrelated pair scores lower or equal.
            columns.append(np.floor(arr * 100 + 1e-9) / 100)
            template += f"<br>higher than %{{customdata[{k}]:.0%}} of unrelated pairs"
        else:
            columns.append(arr)
            template += f"<br>rescaled %{{customdata[{k}]:.2f}} (0 = unrelated, 1 = same)"
    custom = np.stack(columns, axis=-1).astype(np.float32) if columns else None
    return categories, custom, template + "<extra></extra>"


def _calibrated(shape: tuple[int, ...], **scores: Any) -> list[tuple[str, np.ndarray]]:
    """The calibrated scores given, as (name, array), each checked to have the matrix's shape."""
    extras = []
    for name, values in scores.items():
        if values is not None:
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != shape:
                raise ValueError(f"{name} must have the shape of sim {shape}, got {arr.shape}")
            extras.append((name, arr))
    return extras


def similarity_heatmap(
    sim: Any,
    labels: Sequence[str],
    texts: Sequence[str],
    langs: Sequence[str] | None = None,
    percentile: Any | None = None,
    rescaled: Any | None = None,
    title: str = HEATMAP_TITLE,
    baseline_median: float | None = None,
    frame: int = HEATMAP_FRAME,
) -> go.Figure:
    """Heatmap of a cosine matrix whose hover shows both texts and calibrated scores.

    Colours span [zmin, 1] with zmin the smallest off-diagonal cosine floored to 0.05: E5 puts
    almost every pair in 0.7-1.0, and a scale from -1 would paint everything one colour. With
    ``baseline_median`` the colour bar marks the model's unrelated-pair median (a labelled tick
    and a line across the bar; zmin moves down to include it), so colours above it read as
    "more related than chance" at a glance.

    Cells are square and as large as a figure of ~880 px height and ``frame`` px width
    allows. Up to 40 texts the ticks show the start of each text (about 22 characters); above,
    the labels; above 60, none. Tick size and tilt follow the count so that labels never
    overlap.

    Hover: the axes are categories, one per row, holding the row's text (escaped, wrapped at 60
    characters, cut at 300) and its name (the label, plus the language unless the label
    contains it), so a cell's hover shows both texts through ``%{y}`` and ``%{x}`` while the
    figure carries each text once, not twice per cell (500 texts: ~3 MB instead of ~30).
    ``customdata`` is a float32 (n, n, k) array of the calibrated scores given (percentile
    rounded down to a whole percent, then rescaled), sent as a typed array. Above a few
    hundred texts use ``cluster_heatmap``.

    Args:
        sim: Cosine matrix (n, n), already in display order.
        labels: Short name per row, e.g. "3 · de": ticks above 40 texts, hover always.
        texts: Full text per row, for hover and (up to 40 texts) the ticks.
        langs: Language code per row, or None.
        percentile: Optional (n, n) fractions of unrelated pairs scoring lower
            (``similarity.calibrate(sim, baseline).percentile``).
        rescaled: Optional (n, n) rescaled scores (``calibrate(...).rescaled``).
        title: Figure title.
        baseline_median: Optional median cosine of unrelated pairs for this model
            (``Baseline.median``), marked on the colour bar.
        frame: The width in px the figure is laid out for (``HEATMAP_FRAME``, or
            ``HEATMAP_PAIR_FRAME`` for two side by side).

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
    extras = _calibrated(z.shape, percentile=percentile, rescaled=rescaled)
    categories, custom, template = _pair_hover(texts, labels, langs, extras)
    if n <= SNIPPETS_UP_TO:
        ticks = [_snippet(t) or _DASH for t in texts]
    else:
        ticks = [_snippet(lab, NAME_COLUMNS) for lab in labels]
    return _heatmap_figure(z, ticks, custom, template, "cosine", title, baseline_median,
                           categories, frame)


def cluster_heatmap(
    view: ClusterView, texts: Sequence[str], title: str = CLUSTER_TITLE,
    baseline_median: float | None = None, frame: int = HEATMAP_FRAME,
) -> go.Figure:
    """Heatmap of mean cosines between clusters, for inputs too large for one cell per pair.

    Rows and columns follow ``view.order``; tick labels read "C3 (41)" (cluster id, size).
    Each cell's customdata is ``[row cluster, column cluster, mean cosine]``, where a cluster
    reads "C3 · 41 texts" followed by its first three member texts, shortened to one line.
    Sizes, ticks and the colour bar follow ``similarity_heatmap``.

    Args:
        view: A ``similarity.ClusterView``.
        texts: All texts the clusters were built from (indexed by ``view.members``).
        title: Figure title.
        baseline_median: Optional unrelated-pair median, marked on the colour bar.
        frame: The width in px the figure is laid out for.

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
            user_text(_shorten(texts[int(i)], EXAMPLE_CHARS))
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
    return _heatmap_figure(z, ticks, custom, template, "mean cosine", title, baseline_median,
                           frame=frame)
