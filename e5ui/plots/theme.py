"""The look every e5ui figure shares, and what every builder starts from.

White background, system UI font at 16 px, one sequential colour scale, one colour-blind-safe
qualitative palette (``_base_layout``); figures are built light and ``themed`` gives the copy
a dark page shows. Figures never arrive empty: with nothing to draw, a builder returns
``message_figure`` saying why.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from e5ui.plots.text import WRAP_WIDTH, _esc, _one_line

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

# --- layout ----------------------------------------------------------------------------------

# A plot's width is its page column's (unknown here; ~1360 px on a 1920-px screen), its height
# is the figure's. Figures stay below ~880 px so a 1080-px screen shows one whole.
GRADIO_TOP = 100  # gr.Plot raises a titled figure's top margin to at least this
TITLE_TOP = 52  # px from the figure's top edge to its title's: below gr.Plot's panel label (~38 px)


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


def _check_len(values: Sequence[Any] | None, n: int, name: str) -> None:
    if values is not None and len(values) != n:
        raise ValueError(f"got {len(values)} {name} for {n} texts")


# --- nothing to draw -------------------------------------------------------------------------

_NO_TEXTS = "No texts to show yet. Add at least one text."


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
        fig: A figure from the builders in e5ui.plots.
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
