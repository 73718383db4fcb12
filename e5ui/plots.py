"""Plotly figure builders: similarity heatmaps, maps, score histograms and HTML exports.

Every builder takes plain numpy arrays and lists and returns a ``plotly.graph_objects.Figure``
with the same calm look (``_base_layout``): white background, system UI font at 16 px, one
sequential colour scale, one colour-blind-safe qualitative palette. Figures never arrive
empty: with nothing to draw, a builder returns ``message_figure`` saying why. Words inside
figures are short labels; explanations live in assets/. Figures are built light; ``themed``
gives the copy a dark page shows.

This module imports numpy and plotly only (no gradio, torch or transformers), so figures can be
built and tested without a browser, a server or a model.
"""

from __future__ import annotations

import html
import math
import re
import textwrap
import unicodedata
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

if TYPE_CHECKING:  # type hints only: importing the analysis at runtime would pull in scipy
    from e5ui.analysis.calibration import Baseline
    from e5ui.analysis.similarity import ClusterView

__all__ = [
    "ACCENT",
    "FONT_FAMILY",
    "HEATMAP_FRAME",
    "HEATMAP_PAIR_FRAME",
    "PALETTE",
    "THEMES",
    "Markup",
    "alignment_heatmap",
    "cluster_heatmap",
    "figure_html",
    "message_figure",
    "projection_scatter",
    "report_html",
    "score_histogram",
    "similarity_heatmap",
    "themed",
]

# --- look ------------------------------------------------------------------------------------

FONT_FAMILY = (
    'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", Arial, '
    "sans-serif"
)
FONT_SIZE = 16  # base size; legible from the back of a room on a projector
TITLE_SIZE = 22
SMALL_SIZE = 14  # ticks, notes, legend: the smallest text in figures of a fixed size
MIN_TICK_SIZE = 10  # heatmaps with many rows shrink their ticks down to this, never below
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
NEUTRAL = "#9ca3af"  # the reference (unrelated pairs)
ACCENT = "#2563eb"  # "your texts"
LINK = "#64748b"  # translation lines: a mid grey that reads on white and on dark grey alike
MARKER_EDGE = "#ffffff"  # a thin ring that separates overlapping markers
HEATMAP_COLORSCALE = "Viridis"  # perceptually uniform, colour-blind safe, prints in greyscale

# Qualitative colours, most distinct first. 1-6: Okabe & Ito (2008), "Color Universal Design"
# (https://jfly.uni-koeln.de/color/), without black (invisible on a dark theme) and yellow
# #F0E442 (too light for small markers on white). 7: Paul Tol's "bright" purple; 8: Tol's
# "muted" sand; 9-12: Tol's "light" pink, "vibrant" red, "bright" red and "muted" green (Tol,
# "Colour Schemes", SRON/EPS/TN/09-002, https://personal.sron.nl/~pault/). The first 8 stay at
# least 10 CIEDE2000 apart also under simulated protanopia, deuteranopia and tritanopia, so the
# usual 8-language map is colour-blind safe; all 12 stay 13 apart for normal vision. Beyond 12
# categories colours repeat with another marker shape (SYMBOLS_2D / SYMBOLS_3D).
PALETTE = (
    "#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7",
    "#AA3377", "#DDCC77", "#FFAABB", "#CC3311", "#EE6677", "#117733",
)
# Shapes for categories past the palette; triangles are kept for far points drawn at the edge.
SYMBOLS_2D = ("circle", "square", "diamond", "cross", "x", "star", "hexagon", "pentagon")
SYMBOLS_3D = ("circle", "square", "diamond", "cross", "x", "circle-open", "square-open",
              "diamond-open")

# Dark theme (``themed(fig, "dark")``): transparent backgrounds, so the figure takes the page's
# own dark surface, and light ink. The palette and Viridis read on both.
THEMES = ("light", "dark")
DARK_INK = "#e5e7eb"
DARK_MUTED = "#a3aab6"
DARK_GRID = "#374151"
DARK_SURFACE = "#1f2937"  # Gradio's dark block colour, for hover labels and marker rings
DARK_LINK = "#94a3b8"
_DARK_SWAP = {INK: DARK_INK, MUTED: DARK_MUTED, GRID: DARK_GRID, LINK: DARK_LINK,
              MARKER_EDGE: DARK_SURFACE}

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

# Frames. A plot's width is its page column's (unknown here; ~1360 px on a 1920-px screen), its
# height is the figure's. Figures stay below ~880 px so a 1080-px screen shows one whole.
GRADIO_TOP = 100  # gr.Plot raises a titled figure's top margin to at least this
TITLE_TOP = 52  # px from the figure's top edge to its title's: below gr.Plot's panel label (~38 px)
MAP_FRAME_WIDTH = 1360  # the width map heights are planned for
MAP_LEGEND_WIDTH = 130  # a legend of language codes with a title (measured in chromium)
MAP_HEIGHTS = (560, 880)
MAP_MARGIN = {"l": 24, "r": 24, "t": GRADIO_TOP, "b": 48}
FIT_MIN_POINTS = 20  # smaller maps show every point where it is
FAR_GAP = 0.25  # a tail past the 5-95% core, this far from it (x core span), is drawn at the edge
VIEW_PAD = 0.04  # room around the points on each side, a share of their larger extent
SNIPPETS_UP_TO = 40  # heatmap ticks show the texts themselves up to this many rows
SNIPPET_COLUMNS = 22  # a tick snippet's width in Latin characters (CJK count two)
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
PROJECTION_TITLE = "Map of the texts"
HISTOGRAM_TITLE = "Your scores next to unrelated pairs"

_NO_TEXTS = "No texts to show yet. Add at least one text."
_DASH = "–"
_FAR_NOTE = "<br><i>far from the rest: drawn at the edge of the map</i>"


# --- shared helpers --------------------------------------------------------------------------


def _esc(text: Any) -> str:
    """Text for plotly's pseudo-HTML (titles, hover, ticks, legends): &, < and > escaped, and
    nothing else — plotly shows &quot; and &#x27; literally, so quotes stay quotes; its
    direction controls paired (``_balanced``). User text goes through ``_user``."""
    return html.escape(_balanced(str(text)), quote=False)


# Explicit direction controls (Unicode's bidi algorithm, UAX #9) and what closes each: U+202A-
# U+202E embed or override until U+202C (PDF), U+2066-U+2068 isolate until U+2069 (PDI).
_PDF, _FSI, _PDI = "\u202c", "\u2068", "\u2069"
_CLOSER = {"\u202a": _PDF, "\u202b": _PDF, "\u202d": _PDF, "\u202e": _PDF,
           "\u2066": _PDI, "\u2067": _PDI, "\u2068": _PDI}
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Every character of bidi class R, AL or AN (right-to-left letters, Arabic digits, RLM) and the
# controls, in blocks (the tests check it against unicodedata): text with none of them cannot
# reorder a left-to-right line.
_RIGHT_TO_LEFT = re.compile(
    "[\u0590-\u08ff\u200f\u202a-\u202e\u2066-\u2069\ufb1d-\ufdff\ufe70-\ufefe"
    "\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def _balanced(text: str) -> str:
    """``text`` with its direction controls paired as UAX #9 pairs them: a closer with nothing
    to close is dropped, and whatever is left open is closed at the end, so an unclosed
    U+202E cannot reverse what follows the text."""
    if _BIDI_CONTROL.search(text) is None:
        return text
    out: list[str] = []
    open_: list[str] = []  # the closer each open control waits for, innermost last
    for ch in text:
        if ch in _CLOSER:
            open_.append(_CLOSER[ch])
        elif ch == _PDF:  # closes an embedding, never across an isolate
            if not open_ or open_[-1] != _PDF:
                continue
            open_.pop()
        elif ch == _PDI:  # closes the innermost isolate and the embeddings opened inside it
            if _PDI not in open_:
                continue
            while open_[-1] != _PDI:
                out.append(open_.pop())
            open_.pop()
        out.append(ch)
    out.extend(reversed(open_))
    return "".join(out)


def _isolated(text: str) -> str:
    """User text set apart from the app's words beside it: when it holds right-to-left letters
    or direction controls, wrapped in FSI ... PDI (U+2068 ... U+2069: its direction comes from
    its own first letter and reaches no further) with its controls paired (``_balanced``).
    Other text is returned as it is: it cannot change the order of a left-to-right line."""
    if _RIGHT_TO_LEFT.search(text) is None:
        return text
    return _FSI + _balanced(text) + _PDI


def _user(text: Any) -> str:
    """One piece of user text (a text, label, language, id) for a figure: isolated
    (``_isolated``) and escaped (``_esc``)."""
    return _esc(_isolated(str(text)))


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
            "text": _esc(title),
            "x": 0.0,
            "xref": "paper",
            "xanchor": "left",
            "y": 1.0,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": TITLE_TOP},
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
    """Escaped text for a hover label: shortened to ``limit``, wrapped at ``width`` with <br>,
    each line isolated as user text (``_user``)."""
    short = _shorten(text, limit)
    if not short:
        return "<i>(empty)</i>"
    # Wrap before escaping so a line break never splits an entity such as &amp;.
    lines = textwrap.wrap(short, width, break_long_words=True, break_on_hyphens=False)
    return "<br>".join(_user(line) for line in lines)


def _check_len(values: Sequence[Any] | None, n: int, name: str) -> None:
    if values is not None and len(values) != n:
        raise ValueError(f"got {len(values)} {name} for {n} texts")


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


def _columns(text: str) -> int:
    """Display width in Latin-character columns: wide (CJK) characters count two, marks none."""
    return sum(_char_columns(ch) for ch in text)


def _char_columns(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _snippet(text: Any, columns: int = SNIPPET_COLUMNS) -> str:
    """The start of a text on one line, at most ``columns`` wide, ending in "…" when cut."""
    flat = _one_line(text)
    if _columns(flat) <= columns:
        return flat
    out: list[str] = []
    used = 1  # the ellipsis
    for ch in flat:
        used += _char_columns(ch)
        if used > columns:
            break
        out.append(ch)
    return "".join(out).rstrip() + "…"


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
    median = None
    zmin = _zmin(z)
    if baseline_median is not None and math.isfinite(baseline_median) and baseline_median < 1:
        median = float(baseline_median)
        zmin = min(zmin, _floor_step(median))  # the median always lies on the bar
    axis = {
        "tickmode": "array",
        "tickvals": positions if show_ticks else [],
        "ticktext": [_user(t) for t in ticktext] if show_ticks else [],
        "showticklabels": show_ticks,
        "tickfont": {"size": geo["font"]},
        "showgrid": False,
        "zeroline": False,
        "ticks": "",
        "automargin": True,  # a safety net under the margins computed above
        "constrain": "domain",
        "type": "category" if categories is not None else "linear",
    }
    bar_px = geo["side"]
    tickvals, ticklabels = _colorbar_ticks(zmin, median, bar_px)
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
    fig = go.Figure(trace)
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
                    "text": "<br>".join(_esc(line) for line in lines),
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


def _who(label: str, lang: str, limit: int = EXAMPLE_CHARS) -> str:
    """A row's name for hover, escaped, shortened to ``limit`` characters: its label, with its
    language unless the label already says it, each isolated as user text (``_user``)."""
    if not lang or lang in label.split(" · "):
        return _user(_shorten(label or lang, limit))
    if not label:
        return _user(_shorten(lang, limit))
    lang = _shorten(lang, limit // 3)
    return f"{_user(_shorten(label, max(limit - len(lang) - 3, 1)))} · {_user(lang)}"


def _pair_hover(texts: Sequence[str], labels: Sequence[str], langs: Sequence[str] | None,
                extras: list[tuple[str, np.ndarray]]) -> tuple[list[str], np.ndarray | None, str]:
    """The heatmap's hover (see ``similarity_heatmap``): one category per row holding its text
    and name, so a cell's hover reads them from ``%{y}`` and ``%{x}`` instead of repeating two
    texts in each of n * n cells, and the calibrated scores as one float32 array."""
    n = len(texts)
    raw_langs = [str(c) for c in (langs if langs is not None else [""] * n)]
    names = [_who(str(lab), c) for lab, c in zip(labels, raw_langs, strict=True)]
    # The name in italics, not in a colour: the same hover reads on a light and a dark page.
    categories = [f"{_hover_text(t)}<br><i>{name}</i>"
                  for t, name in zip(texts, names, strict=True)]
    seen: dict[str, int] = {}
    for i, cat in enumerate(categories):  # plotly merges equal categories: keep them apart
        seen[cat] = seen.get(cat, 0) + 1
        if seen[cat] > 1:
            categories[i] = f"{cat} <i>({seen[cat]})</i>"
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
    extras: list[tuple[str, np.ndarray]] = []
    for name, values in (("percentile", percentile), ("rescaled", rescaled)):
        if values is not None:
            arr = np.asarray(values, dtype=np.float64)
            if arr.shape != z.shape:
                raise ValueError(f"{name} must have the shape of sim {z.shape}, got {arr.shape}")
            extras.append((name, arr))
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
            _user(_shorten(texts[int(i)], EXAMPLE_CHARS))
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


class _MapFit(NamedTuple):
    """Where a map's points are drawn (see ``_fit_map``)."""

    xy: np.ndarray  # drawn coordinates, far points moved to the edge
    far: np.ndarray  # (n, dim) -1 / 0 / +1: beyond the view's low end, inside, beyond its high end
    ranges: list[list[float]] | None  # [x range, y range] in 2-D
    height: int


def _core_extent(values: np.ndarray) -> tuple[float, float]:
    """One axis's extent without far tails: from the 5-95% core outwards, up to the first gap
    wider than ``FAR_GAP`` x the core's span. UMAP puts separate clusters arbitrarily far
    apart; one such cluster should not shrink everything else to a speck."""
    values = values[np.isfinite(values)]  # a NaN is not drawn; an infinity is drawn at the edge
    if values.size == 0:
        return -1.0, 1.0
    if values.size < FIT_MIN_POINTS:
        return float(values.min()), float(values.max())
    lo, hi = (float(v) for v in np.percentile(values, [5, 95]))
    gap = FAR_GAP * (hi - lo)
    if gap <= 0:
        return float(values.min()), float(values.max())
    ranked = np.sort(values)
    for v in ranked[ranked > hi]:
        if v - hi > gap:
            break
        hi = float(v)
    for v in ranked[ranked < lo][::-1]:
        if lo - v > gap:
            break
        lo = float(v)
    return lo, hi


def _fit_map(coords: np.ndarray, frame_width: int = MAP_FRAME_WIDTH) -> _MapFit:
    """Ranges, edge points and height that make a 2-D map fill a wide frame at equal aspect.

    The view spans each axis's core extent plus 4% of the larger extent on each side; points
    beyond it are drawn in that margin, on the side where they lie. A map taller than wide is
    turned on its side (x and y swapped: a map's axes mean nothing, distances stay the same),
    and the height is chosen so that the view's aspect fills a plot ``frame_width`` px wide.
    """
    n, dim = coords.shape
    if dim == 3:
        return _MapFit(coords, np.zeros(coords.shape, dtype=np.int8), None, 680)
    xy = coords.copy()
    extents = [_core_extent(xy[:, d]) for d in range(2)]
    if extents[0][1] - extents[0][0] < extents[1][1] - extents[1][0]:
        xy, extents = xy[:, ::-1].copy(), extents[::-1]
    pad = VIEW_PAD * max(hi - lo for lo, hi in extents) or 1.0  # 1.0: a single point
    far = np.zeros(xy.shape, dtype=np.int8)
    ranges = []
    for d, (lo, hi) in enumerate(extents):
        far[:, d] = np.where(xy[:, d] < lo, -1, 0) + np.where(xy[:, d] > hi, 1, 0)
        xy[:, d] = np.clip(xy[:, d], lo - pad / 2, hi + pad / 2)
        ranges.append([lo - pad, hi + pad])
    aspect = (ranges[0][1] - ranges[0][0]) / (ranges[1][1] - ranges[1][0])
    plot_width = frame_width - MAP_MARGIN["l"] - MAP_MARGIN["r"] - MAP_LEGEND_WIDTH
    height = plot_width / aspect + MAP_MARGIN["t"] + MAP_MARGIN["b"]
    return _MapFit(xy, far, ranges, int(round(min(max(height, MAP_HEIGHTS[0]), MAP_HEIGHTS[1]))))


_EDGE_SYMBOLS = {(1, 0): "triangle-right", (-1, 0): "triangle-left", (0, 1): "triangle-up",
                 (0, -1): "triangle-down", (1, 1): "triangle-ne", (-1, 1): "triangle-nw",
                 (1, -1): "triangle-se", (-1, -1): "triangle-sw"}


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


def _scatter_axes(xy: np.ndarray, points: Sequence[int] | np.ndarray) -> dict[str, Any]:
    """{"x": ..., "y": ..., ("z": ...)} of the given points."""
    return {name: xy[points, d] for d, name in enumerate(("x", "y", "z")[: xy.shape[1]])}


def _category_trace(trace_type: type, xy: np.ndarray, points: np.ndarray, cat: str,
                    style: tuple[str, str | list[str]], custom: list, template: str,
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
    return trace_type(**_scatter_axes(xy, points), mode="markers", name=_user(cat),
                      legendgroup=cat, showlegend=legend, marker=marker, customdata=custom,
                      hovertemplate=template)


def _category_traces(trace_type: type, fit: _MapFit, cats: list[str], custom: list[list[str]],
                     template: str, look: dict[str, float], mask: np.ndarray | None) -> list[Any]:
    """Per category in order of first appearance: its markers, then its far points if any."""
    order: dict[str, list[int]] = {}
    for i, cat in enumerate(cats):
        order.setdefault(cat, []).append(i)
    edge = fit.far.any(axis=1)
    traces = []
    for index, (cat, members) in enumerate(order.items()):
        colour, symbol = _category_style(index, fit.xy.shape[1])
        points = np.asarray(members, dtype=np.int64)
        inner, outer = points[~edge[points]], points[edge[points]]
        for part, is_edge in ((inner, False), (outer, True)):
            if part.size == 0:
                continue
            shape = ([_EDGE_SYMBOLS[(int(fit.far[i, 0]), int(fit.far[i, 1]))] for i in part]
                     if is_edge else symbol)
            traces.append(_category_trace(
                trace_type, fit.xy, part, cat, (colour, shape), [custom[i] for i in part],
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
                 far: np.ndarray) -> tuple[list[list[str]], str]:
    """Per-point customdata ``[text, category, id, language, label, note]`` and its template.

    The grey line names the category as before when neither languages nor labels are given;
    otherwise "language de · label greeting", with the category only where it is neither.
    """
    n = len(cats)

    def col(values: Sequence[Any] | None) -> list[str]:
        if values is None:
            return [""] * n
        return [_user(_shorten(_id_key(v), EXAMPLE_CHARS)) or _DASH for v in values]

    lang_col, label_col, id_col = col(langs), col(labels), col(ids)
    cat_col = [_user(c) for c in cats]
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
    custom = [[_hover_text(texts[i]), cat_col[i], id_col[i], lang_col[i], label_col[i],
               str(notes[i])] for i in range(n)]
    template = (f"%{{customdata[0]}}<br><span style='color:{MUTED}'>{' · '.join(parts)}</span>"
                "%{customdata[5]}<extra></extra>")
    return custom, template


def projection_scatter(
    coords: Any,
    texts: Sequence[str],
    color_by: Sequence[str],
    ids: Sequence[Any] | None = None,
    highlight: Any | None = None,
    title: str = PROJECTION_TITLE,
    method_note: str = "",
    langs: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    legend_title: str = "",
    frame_width: int = MAP_FRAME_WIDTH,
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
    _check_len(langs, n, "languages")
    _check_len(labels, n, "labels")
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
    fit = _fit_map(xy, frame_width)
    look = _marker_style(n, dim)
    cats = [str(c) if str(c) else "(none)" for c in color_by]
    custom, template = _point_hover(texts, cats, ids, langs, labels, fit.far)

    traces: list[Any] = []
    link_axes = _link_segments(ids, fit.xy) if ids is not None else None
    if link_axes and link_axes[0]:
        line, opacity = _link_style(n)
        traces.append(trace_type(
            **{name: link_axes[d] for d, name in enumerate(("x", "y", "z")[:dim])},
            mode="lines", name="same id", line=line, hoverinfo="skip", legendrank=1001,
            opacity=min(opacity, 0.5) if mask is not None else opacity))

    traces.extend(_category_traces(trace_type, fit, cats, custom, template, look, mask))
    fig = go.Figure(traces)
    edge = fit.far.any(axis=1)
    note = method_note
    if edge.any():
        far_note = f"{int(edge.sum())} far point(s) drawn at the edge (triangles)"
        note = f"{method_note} · {far_note}" if method_note else far_note
    fig.update_layout(_scatter_layout(dim, title, note, fit, legend_title))
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
            text = f"{_user(_shorten(label, 40))} {value:.3f}"
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


# --- themes ----------------------------------------------------------------------------------

# Trace attributes that hold data (user text included): never searched for colours.
_DATA_KEYS = frozenset({"x", "y", "z", "customdata", "text", "hovertext", "ids", "meta"})
_DARK_FILLS = {"rgba(255,255,255,0.85)": "rgba(31,41,55,0.85)",
               "rgba(255,255,255,0.8)": "rgba(31,41,55,0.8)"}


def _swap_colours(node: Any, skip: frozenset[str] = frozenset()) -> Any:
    """``node`` (figure JSON) with the light theme's ink, greys and fills replaced by the dark
    theme's: exact colour values anywhere, and ``color:#...`` inside hover templates."""
    if isinstance(node, dict):
        return {k: v if k in skip else _swap_colours(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_swap_colours(v) for v in node]
    if isinstance(node, str):
        if node in _DARK_SWAP:
            return _DARK_SWAP[node]
        if node in _DARK_FILLS:
            return _DARK_FILLS[node]
        if "color:#" in node:
            for light, dark in _DARK_SWAP.items():
                node = node.replace(f"color:{light}", f"color:{dark}")
    return node


def themed(fig: go.Figure, theme: str = "light") -> go.Figure:
    """The figure for a page in ``theme``.

    gr.Plot draws the figure as sent (Gradio 6 applies no plotly template of its own), and a
    page's theme is known only in the browser (``?__theme=dark``, the settings, or the system
    preference), so the UI asks for the dark variant of a figure it is about to show. Exports
    (``figure_html``, ``report_html``) take the builders' figures, which are always light.

    Args:
        fig: A figure from this module's builders.
        theme: "light" (the figure itself) or "dark": a copy on the ``plotly_dark`` template
            with transparent backgrounds (the page's own dark surface shows through), light
            ink and dark hover labels; data colours (palette, Viridis) stay as they are.

    Returns:
        The figure for that theme; ``fig`` itself is never changed.
    """
    if theme not in THEMES:
        raise ValueError(f"Unknown theme: {theme!r}. Must be one of: {', '.join(THEMES)}")
    if theme == "light":
        return fig
    layout = fig.layout.to_plotly_json()
    layout = _swap_colours({k: v for k, v in layout.items() if k != "template"})
    layout = _merge(layout, {
        "template": pio.templates["plotly_dark"],
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": DARK_INK},
        "hoverlabel": {"bgcolor": DARK_SURFACE, "bordercolor": DARK_GRID,
                       "font": {"color": DARK_INK}},
    })
    out = go.Figure(layout=layout)
    for trace in fig.data:
        spec = trace.to_plotly_json()  # arrays stay numpy arrays (to_dict would encode them)
        out.add_trace(type(trace)(_swap_colours(spec, skip=_DATA_KEYS)))
    return out


ALIGN_PATH = "#ffffff"  # the path, over a dark outline: reads on every Viridis colour
ALIGN_LOW = "#d62728"  # a link below the confidence threshold
ALIGN_OMIT = "#ff7f0e"  # a sentence left without a partner
ALIGN_HEIGHT = 760


def _unique(labels: list[str]) -> list[str]:
    """The labels, made unique (plotly merges equal categories)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} <i>({seen[label]})</i>")
    return out


def _path_shapes(path: np.ndarray) -> list[dict[str, Any]]:
    """The alignment path as two SVG paths (a dark outline under a white line), in cell
    coordinates shifted to plotly's category positions (cell k is centred on k)."""
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
