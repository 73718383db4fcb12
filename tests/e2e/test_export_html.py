"""The exported map page (``MapResult.write("map.html")``) explored from disk, with no server:
opened with file:// in headless chromium, a real mouse click on a point lists the neighbours an
independent numpy top-k finds, the search box highlights the texts that contain a word, and a
5,000-point map stays answerable.

The page needs no model: random unit vectors with texts stand in for embeddings.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from e5ui import textio
from e5ui.analysis import projection
from e5ui.analysis.calibration import Baseline
from e5ui.views.map import MapData, MapResult
from tests.e2e.conftest import headless_chromium

VIEWPORT = {"width": 1366, "height": 768}
K = 10
LANGS = ("en", "de", "fr")


@pytest.fixture(scope="module")
def chromium():
    """One headless Debian chromium for the module (no app server: the page is a file)."""
    with headless_chromium() as browser:
        yield browser


def make_map(n: int, dim: int = 2, seed: int = 0):
    """A map of n random unit vectors; text i names its number and one of seven words."""
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(n, 24)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    texts = [f"text {i} <b>not bold</b> word{i % 7}" for i in range(n)]
    langs = [LANGS[i % 3] for i in range(n)]
    corpus = textio.Corpus(texts, labels=[f"l{i % 4}" for i in range(n)], langs=langs,
                           ids=[str(i // 3) for i in range(n)], rows=list(range(n)))
    proj = projection.project(emb, method="pca", dim=dim, preservation_k=None)
    return MapResult(MapData(corpus, emb, langs, []), proj), emb, texts


def numpy_neighbours(emb: np.ndarray, i: int, k: int = K) -> list[int]:
    """Independent reference: cosines of point i to all others, sorted, itself excluded."""
    x = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    scores = x.astype(np.float64) @ x[i].astype(np.float64)
    scores[i] = -np.inf
    return np.argsort(-scores, kind="stable")[:k].tolist()


def baseline() -> Baseline:
    rng = np.random.default_rng(1)
    return Baseline("test", np.sort(rng.uniform(-0.4, 0.4, 2000).astype(np.float32)), 64)


def open_page(browser, path, **options):
    context = browser.new_context(viewport=VIEWPORT, **options)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("#e5ui-explore[data-ready=yes]", state="attached")
    return context, page


# The most isolated marker on screen (so a click there can only mean it), in page pixels.
ISOLATED_POINT = """() => {
  const gd = document.querySelector('.plotly-graph-div');
  const L = gd._fullLayout, box = gd.getBoundingClientRect();
  const pts = [];
  gd._fullData.forEach(t => {
    if (!t.customdata || t.meta === 'e5ui-neighbours') return;
    t.customdata.forEach((cd, j) => pts.push({
      pos: cd[cd.length - 1],
      px: box.left + L.xaxis._offset + L.xaxis.l2p(t.x[j]),
      py: box.top + L.yaxis._offset + L.yaxis.l2p(t.y[j])}));
  });
  const x0 = box.left + L.xaxis._offset, y0 = box.top + L.yaxis._offset;
  const inside = pts.filter(p => p.px > x0 + 10 && p.px < x0 + L.xaxis._length - 10 &&
    p.py > y0 + 10 && p.py < y0 + L.yaxis._length - 10);
  let best = null, bestGap = -1;
  const step = Math.max(1, Math.floor(inside.length / 400));
  for (let a = 0; a < inside.length; a += step) {
    let gap = Infinity;
    for (const b of pts) {
      if (b === inside[a]) continue;
      gap = Math.min(gap, Math.hypot(b.px - inside[a].px, b.py - inside[a].py));
    }
    if (gap > bestGap) { bestGap = gap; best = inside[a]; }
  }
  return [best.pos, best.px, best.py];
}"""


def click_point(page) -> tuple[int, float]:
    """Clicks the most isolated point with the mouse; (its position, seconds to the answer)."""
    pos, x, y = page.evaluate(ISOLATED_POINT)
    page.mouse.move(x, y)
    start = time.perf_counter()
    page.mouse.click(x, y)
    page.wait_for_selector(f"#e5ui-explore[data-drawn='{pos}']", state="attached")
    return pos, time.perf_counter() - start


def panel_rows(page) -> list[list[str]]:
    return page.eval_on_selector_all(
        "#e5ui-neighbours tbody tr",
        "rows => rows.map(r => [r.dataset.index, ...[...r.cells].map(c => c.textContent)])")


def added_traces(page) -> list[str]:
    return page.evaluate("""() => document.querySelector('.plotly-graph-div').data
        .filter(t => t.meta === 'e5ui-neighbours').map(t => t.mode)""")


def test_a_click_lists_the_numpy_neighbours_in_order(chromium, tmp_path):
    result, emb, texts = make_map(300)
    path = result.write(tmp_path / "map.html", baseline=baseline())
    context, page = open_page(chromium, path)
    try:
        legend_items = page.locator(".legend .traces").count()
        pos, _ = click_point(page)
        rows = panel_rows(page)
        assert [int(r[0]) for r in rows] == numpy_neighbours(emb, pos)
        assert [r[1] for r in rows] == [str(k) for k in range(1, K + 1)]
        x = emb.astype(np.float64)
        for row in rows:
            j = int(row[0])
            assert float(row[2]) == pytest.approx(x[pos] @ x[j], abs=6e-4)
            assert row[3].endswith("%")
            assert row[4] == LANGS[j % 3]
            assert row[5] == ("↔" if j % 3 != pos % 3 else "")
            assert row[6] == texts[j]  # whole, as text: the <b> stays literal
        assert page.text_content("#e5ui-text") == texts[pos]
        assert page.text_content("#e5ui-meta") == (
            f"language {LANGS[pos % 3]} · label l{pos % 4} · id {pos // 3}")
        assert page.locator("#e5ui-explore b").count() == 0
        assert added_traces(page) == ["lines", "markers"]
        # A second click replaces the lines; the legend keeps its entries.
        page.evaluate("i => window.e5uiExplore.select(i)", (pos + 1) % 300)
        page.wait_for_selector(f"#e5ui-explore[data-drawn='{(pos + 1) % 300}']",
                               state="attached")
        assert added_traces(page) == ["lines", "markers"]
        assert page.locator(".legend .traces").count() == legend_items
        assert page.js_errors == []
    finally:
        context.close()


def test_the_search_box_highlights_the_texts_that_contain_it(chromium, tmp_path):
    result, _emb, texts = make_map(300)
    path = result.write(tmp_path / "map.html")
    context, page = open_page(chromium, path)
    try:
        page.fill("#e5ui-search", "WORD3")
        expected = sum("word3" in t.lower() for t in texts)
        page.wait_for_selector(f"#e5ui-explore[data-matches='{expected}']", state="attached")
        assert page.text_content("#e5ui-count") == f"{expected} of 300 texts contain “WORD3”"
        grown = page.evaluate("""() => {
            const gd = document.querySelector('.plotly-graph-div');
            let full = 0;
            gd._fullData.forEach(t => { if (t.customdata && Array.isArray(t.marker.opacity))
                full += t.marker.opacity.filter(o => o === 1).length; });
            return full; }""")
        assert grown == expected
        # Without a baseline the page has no percentile column.
        assert page.locator("th.e5ui-pct").is_hidden()
        page.fill("#e5ui-search", "")
        page.wait_for_selector("#e5ui-explore[data-matches='0']", state="attached")
        assert page.text_content("#e5ui-count") == ""
        assert page.js_errors == []
    finally:
        context.close()


def test_a_5000_point_map_opens_from_disk_and_answers_a_click(chromium, tmp_path):
    result, emb, _texts = make_map(5000, seed=3)
    start = time.perf_counter()
    path = result.write(tmp_path / "map.html", baseline=baseline())
    written = time.perf_counter() - start
    size = path.stat().st_size
    context, page = open_page(chromium, path)
    try:
        types = page.evaluate("""() => [...new Set(document.querySelector('.plotly-graph-div')
            ._fullData.map(t => t.type))]""")
        assert "scattergl" in types or page.get_attribute("#e5ui-explore", "data-webgl") == "no"
        pos, latency = click_point(page)
        assert [int(r[0]) for r in panel_rows(page)] == numpy_neighbours(emb, pos)
        print(f"\n5,000 points: {size / 1e6:.2f} MB, written in {written:.2f} s, "
              f"click answered in {latency:.2f} s, WebGL "
              f"{page.get_attribute('#e5ui-explore', 'data-webgl')}")
        assert size < 20e6
        assert page.js_errors == []
    finally:
        context.close()


NO_WEBGL = """HTMLCanvasElement.prototype.getContext = (function (get) {
  return function (kind, ...rest) {
    return /webgl/.test(kind) ? null : get.call(this, kind, ...rest); };
})(HTMLCanvasElement.prototype.getContext);"""


def test_without_webgl_the_map_is_drawn_as_svg_and_answers(chromium, tmp_path):
    result, emb, _texts = make_map(1500, seed=5)
    path = result.write(tmp_path / "map.html")
    context = chromium.new_context(viewport=VIEWPORT)
    context.add_init_script(NO_WEBGL)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("#e5ui-explore[data-ready=yes]", state="attached")
        assert page.get_attribute("#e5ui-explore", "data-webgl") == "no"
        types = page.evaluate("""() => document.querySelector('.plotly-graph-div')
            ._fullData.map(t => t.type)""")
        assert "scattergl" not in types and "scatter" in types
        assert page.locator(".plotly-graph-div .scatterlayer .point").count() == 1500
        pos, _ = click_point(page)
        assert [int(r[0]) for r in panel_rows(page)] == numpy_neighbours(emb, pos)
    finally:
        context.close()


def test_a_3d_map_draws_and_answers_the_same_way(chromium, tmp_path):
    result, emb, texts = make_map(200, dim=3)
    path = result.write(tmp_path / "map.html")
    context, page = open_page(chromium, path)
    try:
        page.evaluate("i => window.e5uiExplore.select(i)", 42)
        page.wait_for_selector("#e5ui-explore[data-drawn='42']", state="attached")
        assert [int(r[0]) for r in panel_rows(page)] == numpy_neighbours(emb, 42)
        assert added_traces(page) == ["lines", "markers"]
        page.fill("#e5ui-search", "word5")
        expected = sum("word5" in t for t in texts)
        page.wait_for_selector(f"#e5ui-explore[data-matches='{expected}']", state="attached")
        assert page.js_errors == []
    finally:
        context.close()
