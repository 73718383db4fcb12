"""The one HTML writer: a figure as a standalone page (``figure_html``), several figures and
texts as a report (``report_html``), and ``write_html``, which every HTML file e5ui writes goes
through (CLI and app alike, so both write the same bytes).

Pages open offline (plotly.js inside) and give the same file for the same figure (fixed div
ids); titles, headings and plain text are escaped, ``Markup`` is trusted HTML.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from e5ui.plots.theme import FONT_FAMILY, GRID, INK, MUTED


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


def write_html(path: str | Path, title: str, content: go.Figure | Sequence[tuple[str, Any]],
               meta: Mapping[str, Any] | None = None) -> Path:
    """Writes an HTML export: one figure as a standalone page, or a report.

    Every HTML file e5ui writes goes through here: UTF-8 with "\\n" line ends on every
    system, so the CLI and the app write the same bytes for the same figure.

    Args:
        path: The file to write (replaced if it exists).
        title: The page's title (escaped), also the name of PNG downloads.
        content: A ``go.Figure`` (a page of that figure, ``figure_html``) or (heading, item)
            sections (a report, ``report_html``).
        meta: A report's facts listed at the top; a single figure's page has none.

    Returns:
        The path written.
    """
    if isinstance(content, go.Figure):
        if meta:
            raise ValueError("A single figure's page lists no facts; write a report instead")
        document = figure_html(content, title)
    else:
        document = report_html(title, content, meta)
    path = Path(path)
    path.write_text(document, encoding="utf-8", newline="\n")
    return path
