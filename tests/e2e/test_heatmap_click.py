"""A real mouse click on a cell of the Similarity heatmap shows that cell's pair: the texts the
heatmap's hover names for its row and column, the cosine its z holds, and the pair's line on
the unrelated-pairs histogram — with the heatmap still whole on a 1080-px screen.

The expected texts and cosine are read from what plotly drew in the page (hover, ``z``), not
from the server. Screenshots: artifacts/screens/similarity-pair*.png.
"""

from __future__ import annotations

import html
import json
import re

import pytest

from tests.e2e.conftest import open_app
from tests.e2e.test_browser import open_tab, toast_texts, tsv_rows, wait_for

pytestmark = pytest.mark.e2e

EXAMPLE = "One meaning, ten languages"
HEATMAP = "#sim-plot .js-plotly-plot"

# A cell's centre in viewport pixels from the heatmap's own axes (categorical axes: l2p takes
# the category's index), scrolled into view first; and what the figure holds for that cell.
CELL = """([row, col]) => {
  const gd = document.querySelector('#sim-plot .js-plotly-plot');
  const L = gd._fullLayout, trace = gd._fullData[0];
  const at = () => {
    const box = gd.getBoundingClientRect();
    return [box.left + L.xaxis._offset + L.xaxis.l2p(col),
            box.top + L.yaxis._offset + L.yaxis.l2p(row)];
  };
  let [x, y] = at();
  window.scrollBy(0, y - window.innerHeight / 2);
  [x, y] = at();
  return {x, y, z: trace.z[row][col], n: trace.z.length,
          rowCategory: trace.y[row], colCategory: trace.x[col],
          dx: L.xaxis.d2p(trace.x[col]) - L.xaxis.l2p(col)};
}"""

# The hover box's text, its lines (SVG tspans) joined by spaces.
HOVER = """() => {
  const text = document.querySelector('#sim-plot .js-plotly-plot .hoverlayer .hovertext text');
  const lines = [...text.querySelectorAll('tspan.line')].map(t => t.textContent);
  return lines.length ? lines.join(' ') : text.textContent;
}"""


def category_text(category: str) -> str:
    """The full text a hover category holds: "<text wrapped with <br>><br><i>name</i>"."""
    text = category.rsplit("<br><i>", 1)[0]
    return squash(html.unescape(text.replace("<br>", " ")))


def squash(text: str) -> str:
    """Whitespace collapsed, and without the direction isolates (U+2066-U+2069) figures put
    around user text so that an Arabic text cannot reorder the words beside it."""
    return re.sub(r"\s+", " ", re.sub("[\u2066-\u2069]", "", text)).strip()


def heatmap_box(page) -> dict:
    return page.evaluate(f"""() => {{
        const r = document.querySelector('{HEATMAP}').getBoundingClientRect();
        return {{top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                 width: window.innerWidth, height: window.innerHeight}};
    }}""")


def run_example(page, server) -> None:
    panel = open_tab(page, "Similarity", "#sim-plot")
    panel.get_by_role("button", name=EXAMPLE, exact=True).click()
    wait_for(page, server, f"document.querySelector('{HEATMAP} g.hm image')",
             "the similarity heatmap")
    page.evaluate("window.scrollTo(0, 0)")


def click_cell(page, server, row: int, col: int) -> dict:
    """Moves the mouse onto the cell (its hover appears), reads the hover, clicks, waits for
    the panel to show the pair; returns what the figure holds for the cell and the hover."""
    cell = page.evaluate(CELL, [row, col])
    assert abs(cell["dx"]) < 0.5, cell  # l2p(index) is the category's position
    page.mouse.move(cell["x"], cell["y"])
    page.wait_for_selector(f"{HEATMAP} .hoverlayer .hovertext", state="attached")
    cell["hover"] = squash(page.evaluate(HOVER))
    page.mouse.click(cell["x"], cell["y"])
    # This cell's answer, not the previous one's: its cosine, and one text on the diagonal.
    quotes = 1 if row == col else 2
    score = json.dumps(f"Raw cosine {cell['z']:.4f}")
    wait_for(page, server, f"(document.querySelector('#sim-pair')?.innerText || '')"
             f".includes({score}) && "
             f"document.querySelectorAll('#sim-pair blockquote').length === {quotes} && "
             "document.querySelector('#sim-pair-plot .js-plotly-plot')", "the clicked pair")
    cell["sent"] = json.loads(page.locator("#sim-plot-click textarea, #sim-plot-click input")
                              .first.input_value())
    return cell


@pytest.mark.parametrize("viewport", [{"width": 1920, "height": 1080},
                                      {"width": 1366, "height": 768}],
                         ids=["1920x1080", "1366x768"])
def test_a_click_on_a_cell_shows_its_pair(browser, app_server, screens_dir, viewport):
    n = len(tsv_rows("one_meaning_ten_languages.tsv"))
    texts = {squash(r["text"]) for r in tsv_rows("one_meaning_ten_languages.tsv")}
    for page in open_app(browser, app_server.url, viewport):
        run_example(page, app_server)
        box = heatmap_box(page)
        if viewport["height"] >= 1080:  # the whole heatmap in sight on a projector
            assert box["top"] >= 0 and box["bottom"] <= box["height"], box
            assert box["left"] >= 0 and box["right"] <= box["width"], box
        row, col = 2, 7
        cell = click_cell(page, app_server, row, col)
        assert cell["n"] == n
        # plotly's pointIndex for a heatmap is [row, col] of z: what the page sent.
        assert cell["sent"]["cell"] == [row, col], cell["sent"]
        row_text, col_text = category_text(cell["rowCategory"]), category_text(cell["colCategory"])
        assert {row_text, col_text} <= texts and row_text != col_text
        # The hover under the mouse names the same two texts (row first) and the same cosine.
        assert cell["hover"].index(row_text) < cell["hover"].index(col_text), cell["hover"]
        assert f"cosine {cell['z']:.3f}" in cell["hover"], cell["hover"]

        shown = [squash(q) for q in page.locator("#sim-pair blockquote").all_inner_texts()]
        assert shown == [row_text, col_text], shown
        panel = page.locator("#sim-pair").inner_text()
        assert f"Raw cosine {cell['z']:.4f}" in panel, panel
        hover_pct = int(re.search(r"higher than (\d+)% of unrelated", cell["hover"]).group(1))
        panel_pct = float(re.search(r"higher than ([\d.]+)% of unrelated", panel).group(1))
        assert hover_pct <= panel_pct < hover_pct + 1, (cell["hover"], panel)
        marks = page.evaluate("document.querySelector('#sim-pair-plot .js-plotly-plot')"
                              ".layout.shapes.filter(s => s.line.dash === 'solid')"
                              ".map(s => s.x0)")
        assert marks == [pytest.approx(cell["z"], abs=1e-6)], marks

        if viewport["height"] >= 1080:
            page.evaluate("window.scrollTo(0, 0)")
            assert heatmap_box(page) == box  # the panel opened under it, nothing moved
            page.screenshot(path=str(screens_dir / "similarity-pair.png"), full_page=True)
        else:
            page.screenshot(path=str(screens_dir / "similarity-pair-1366.png"), full_page=True)

        # The diagonal: one text, said to be itself.
        click_cell(page, app_server, 4, 4)
        shown = [squash(q) for q in page.locator("#sim-pair blockquote").all_inner_texts()]
        assert shown == [category_text(page.evaluate(CELL, [4, 4])["rowCategory"])]
        assert "itself" in page.locator("#sim-pair").inner_text()
        assert toast_texts(page) == [] and page.js_errors == []
