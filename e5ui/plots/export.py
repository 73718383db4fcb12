"""The one HTML writer: a figure as a standalone page (``figure_html``), a map that answers
clicks and searches without a server (``map_page_html``), several figures and texts as a report
(``report_html``), and ``write_html``, which every HTML file e5ui writes goes through (CLI and
app alike, so both write the same bytes).

Pages open offline (plotly.js inside) and give the same file for the same figure (fixed div
ids); titles, headings and plain text are escaped, ``Markup`` is trusted HTML.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from e5ui import resources
from e5ui.plots.theme import ACCENT, FONT_FAMILY, GRID, INK, MUTED


class Markup(str):
    """Trusted HTML for ``report_html`` (e.g. a table already rendered); plain str is escaped."""

    def __html__(self) -> str:
        return str(self)


def _slug(title: str) -> str:
    """The title in lower-case ASCII letters and digits joined by "-", for names and ids."""
    return re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()


def _head(title: str) -> str:
    """A page's start up to its title (escaped): what every e5ui HTML page opens with."""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n")


def _config(title: str) -> dict[str, Any]:
    """plotly.js config: no logo, PNG downloads at 2x (sharp on slides), named after the title."""
    slug = _slug(title) or "e5ui"
    return {
        "displaylogo": False,
        "responsive": True,
        "toImageButtonOptions": {"format": "png", "scale": 2, "filename": slug[:60]},
    }


def _figure_div(fig: go.Figure, title: str, include_plotlyjs: bool, number: int = 0) -> str:
    height = fig.layout.height
    slug = _slug(title)[:40] or "figure"
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
    return _head(title) + (
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
        _head(title),
        f"<style>{css}</style>\n{head_js}</head>\n",
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


@dataclass(eq=False)
class MapExplore:
    """What an exported map's page shows on a click: every text whole and its neighbours.

    Rows follow the map's order, the position each marker's customdata ends with.

    Attributes:
        texts: Text per point.
        langs: Language per point ("" when unknown).
        labels: Label per point, or None.
        ids: Id per point (translations share one), or None.
        neighbours: Int (n, k) each point's nearest others in the embedding space, nearest
            first (``analysis.explore.nearest_table``).
        cosines: (n, k) their cosines.
        percentile: (n, k) calibrated percentiles of the cosines, or None.
    """

    texts: Sequence[str]
    langs: Sequence[str]
    labels: Sequence[Any] | None
    ids: Sequence[Any] | None
    neighbours: np.ndarray
    cosines: np.ndarray
    percentile: np.ndarray | None = None


def _cell(value: Any) -> str:
    """A label or id as text; "" for a missing one (None, NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def _rounded(values: np.ndarray | None) -> list | None:
    """Rows of 4-decimal floats (NaN as null): enough for the panel, a third of the bytes."""
    if values is None:
        return None
    arr = np.round(np.asarray(values, dtype=np.float64), 4)
    return [[None if math.isnan(v) else v for v in row] for row in arr.tolist()]


def _json_script(element_id: str, value: Any) -> str:
    """A ``<script type="application/json">`` block the page reads with JSON.parse.

    Every "<" becomes the JSON escape \\u003c (it can only occur inside strings), so no text,
    whatever it holds ("</script>", "<!--"), can end the block or start markup.
    """
    text = value if isinstance(value, str) else json.dumps(
        value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c")
    return f'<script type="application/json" id="{element_id}">{text}</script>\n'


def _explore_payload(explore: MapExplore, div_id: str, title: str) -> dict[str, Any]:
    n = len(explore.texts)
    neighbours = np.asarray(explore.neighbours, dtype=np.int64).reshape(n, -1)
    for values, name in ((explore.langs, "languages"), (explore.labels, "labels"),
                         (explore.ids, "ids")):
        if values is not None and len(values) != n:
            raise ValueError(f"got {len(values)} {name} for {n} texts")
    return {
        "div": div_id,
        "config": _config(title),
        "k": int(neighbours.shape[1]),
        "colors": {"line": INK, "ring": ACCENT},
        "texts": [str(t) for t in explore.texts],
        "langs": [_cell(x) for x in explore.langs],
        "labels": None if explore.labels is None else [_cell(x) for x in explore.labels],
        "ids": None if explore.ids is None else [_cell(x) for x in explore.ids],
        "neighbours": neighbours.tolist(),
        "cosines": _rounded(explore.cosines),
        "percentile": _rounded(explore.percentile),
    }


def _asset_script(name: str) -> str:
    code = resources.path(name).read_text(encoding="utf-8")
    if "</script" in code.lower():  # would end the inline block early
        raise ValueError(f"{name} must not contain '</script'")
    return code


def map_page_html(fig: go.Figure, title: str, explore: MapExplore) -> str:
    """A standalone map page that answers clicks and searches offline, with no server.

    The figure and the explore data travel as JSON blocks; ``assets/map_explore.js`` (inlined)
    draws the figure (SVG instead of WebGL where the browser has none), shows a clicked point's
    text and its neighbours under the map with lines to them, and highlights the texts that
    contain what is typed in the search box. Texts reach the page only through
    ``textContent``, never as HTML. The same figure and data give the same bytes.

    Args:
        fig: The map (``map_scatter``); each marker's customdata ends with its position.
        title: Page title (escaped), also the file name of PNG downloads.
        explore: Texts and neighbours by position.

    Returns:
        The HTML document.
    """
    height = fig.layout.height
    div_id = f"e5ui-{_slug(title)[:40] or 'figure'}-0"
    payload = _explore_payload(explore, div_id, title)
    return _head(title) + (
        f"<style>body{{margin:16px;background:#fff;color:{INK};font-family:{FONT_FAMILY};}}"
        "</style>\n"
        "<script type=\"text/javascript\">window.PlotlyConfig = {MathJaxConfig: 'local'};"
        f"</script>\n<script type=\"text/javascript\">{get_plotlyjs()}</script>\n"
        "</head>\n<body>\n"
        f'<div id="{div_id}" class="plotly-graph-div" '
        f'style="height:{int(height) if height else 560}px; width:100%;"></div>\n'
        f"{resources.path('map_explore.html').read_text(encoding='utf-8')}\n"
        + _json_script("e5ui-figure", pio.to_json(fig, validate=False))
        + _json_script("e5ui-explore-data", payload)
        + f"<script type=\"text/javascript\">\n{_asset_script('map_explore.js')}</script>\n"
        "</body>\n</html>\n"
    )


def write_html(path: str | Path, title: str, content: go.Figure | Sequence[tuple[str, Any]],
               meta: Mapping[str, Any] | None = None, explore: MapExplore | None = None
               ) -> Path:
    """Writes an HTML export: one figure as a standalone page, or a report.

    Every HTML file e5ui writes goes through here: UTF-8 with "\\n" line ends on every
    system, so the CLI and the app write the same bytes for the same figure.

    Args:
        path: The file to write (replaced if it exists).
        title: The page's title (escaped), also the name of PNG downloads.
        content: A ``go.Figure`` (a page of that figure, ``figure_html``) or (heading, item)
            sections (a report, ``report_html``).
        meta: A report's facts listed at the top; a single figure's page has none.
        explore: With a map figure: the page answers clicks and searches (``map_page_html``).

    Returns:
        The path written.
    """
    if explore is not None and not isinstance(content, go.Figure):
        raise ValueError("explore data goes with a single map figure, not a report")
    if isinstance(content, go.Figure):
        if meta:
            raise ValueError("A single figure's page lists no facts; write a report instead")
        document = (figure_html(content, title) if explore is None
                    else map_page_html(content, title, explore))
    else:
        document = report_html(title, content, meta)
    path = Path(path)
    path.write_text(document, encoding="utf-8", newline="\n")
    return path
