"""The Map tab's exploration in a real browser, with real mouse clicks and drags: a click on a
point lists its nearest texts, a box selection lists the texts inside and sends them to
Similarity, a search by meaning finds a line's translation.

The references are independent of the app: the nearest texts are a numpy top-k over the
embeddings of the map's own ``map.parquet`` download; the texts inside a dragged box are
the figure's marker points whose drawn positions lie inside it, computed in the page from
plotly's axes; texts and languages come from the example file.

Each viewport gets one page and one map (the example button); the tests run in file order on
it. Screenshots at 1920×1080 go to artifacts/screens/map-{click,selection,search}.png.
"""

from __future__ import annotations

import io
import re
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import open_app
from tests.e2e.test_browser import MAP_MS, open_tab, table_rows, tsv_rows, wait_for

pytestmark = pytest.mark.e2e

EXAMPLE = "24 sentences × 8 languages"
EXAMPLE_FILE = "map_parallel.tsv"
VIEWPORTS = [(1920, 1080), (1366, 768)]
SCREEN_AT = (1920, 1080)
K = 10  # the panel's default number of neighbours
EVENT_MS = 60_000  # a click or a selection round-trips through the server
GD = "document.querySelector('#map-plot .js-plotly-plot')"

# Every marker point of the texts' traces (the ones with customdata; the rings of a clicked
# text and the search star have none) as drawn: client pixels and map position.
POINTS_JS = """() => {
    const gd = document.querySelector('#map-plot .js-plotly-plot');
    const r = gd.getBoundingClientRect();
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    const out = [];
    gd._fullData.forEach((t) => {
        if (t.mode !== 'markers' || !t.customdata || t.visible !== true) return;
        t.x.forEach((x, k) => {
            const custom = t.customdata[k];
            out.push({px: r.left + xa._offset + xa.l2p(x), py: r.top + ya._offset + ya.l2p(t.y[k]),
                      x: x, y: t.y[k], pos: custom[custom.length - 1]});
        });
    });
    return out;
}"""

AREA_JS = """() => {
    const gd = document.querySelector('#map-plot .js-plotly-plot');
    const r = gd.getBoundingClientRect();
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
    return {left: r.left + xa._offset, top: r.top + ya._offset, w: xa._length, h: ya._length};
}"""


@pytest.fixture(scope="module")
def example() -> list[dict[str, str]]:
    return tsv_rows(EXAMPLE_FILE)


@pytest.fixture(scope="module", params=VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
def map_page(request, browser, app_server, example):
    """One page per viewport with the example's UMAP map drawn (``page.size``: the viewport)."""
    width, height = request.param
    for page in open_app(browser, app_server.url, {"width": width, "height": height}):
        panel = open_tab(page, "Map", "#map-plot")
        panel.get_by_role("button", name=EXAMPLE, exact=True).click()
        wait_for(page, app_server,
                 "(document.querySelector('#map-summary')?.innerText || '').startsWith('UMAP')"
                 " && document.querySelectorAll('#map-plot .js-plotly-plot path.point').length"
                 f" === {len(example)}", "the UMAP map of the example", MAP_MS)
        page.wait_for_timeout(300)  # plotly's transition settles
        page.size = (width, height)
        yield page


def screenshot(page, screens_dir, name: str) -> None:
    if page.size == SCREEN_AT:
        page.screenshot(path=str(screens_dir / name), full_page=True)


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def all_table_rows(page, elem_id: str, key: str) -> list[dict[str, str]]:
    """Every row of a Gradio Dataframe, scrolling its virtualised viewport from the top (only
    the rows in view are in the DOM); rows are told apart by their ``key`` column."""
    viewport = f"#{elem_id} .virtual-table-viewport"
    seen: dict[str, dict[str, str]] = {}
    page.eval_on_selector(viewport, "v => { v.scrollTop = 0; }")
    for _ in range(200):  # a bound: 200 half-screens of rows
        page.wait_for_timeout(100)  # the virtual list renders on the next frame
        for row in table_rows(page, elem_id):
            seen.setdefault(row[key], row)
        at_end = page.eval_on_selector(
            viewport, "v => { const end = v.scrollTop + v.clientHeight >= v.scrollHeight - 1;"
                      " v.scrollTop += v.clientHeight / 2; return end; }")
        if at_end:
            break
    page.eval_on_selector(viewport, "v => { v.scrollTop = 0; }")  # as the user left it
    return list(seen.values())


def embeddings(page) -> np.ndarray:
    """The map's embeddings from its ``map.parquet`` download, fetched through the page's
    link as a user's click would."""
    link = page.locator("a[href*='map.parquet']").first
    link.wait_for(state="attached", timeout=10_000)
    response = page.request.get(link.get_attribute("href"))
    assert response.ok, f"map.parquet: HTTP {response.status}"
    table = pq.read_table(io.BytesIO(response.body()))
    return np.array(table.column("embedding").to_pylist(), dtype=np.float64)


def isolated_point(page, points: list[dict]) -> dict:
    """The point whose nearest other drawn point is farthest on screen, so that a click at its
    centre hits it and nothing else."""
    xy = np.array([[p["px"], p["py"]] for p in points])
    gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1)
    np.fill_diagonal(gaps, np.inf)
    return points[int(np.argmax(gaps.min(axis=1)))]


# ---------------------------------------------------------------------- tests
def test_click_lists_nearest_texts(map_page, app_server, example, screens_dir):
    page = map_page
    page.locator("#map-plot").scroll_into_view_if_needed()
    target = isolated_point(page, page.evaluate(POINTS_JS))
    # Bring the point to the middle of the viewport (the map is taller than 768 px), then
    # measure again: client coordinates move with the scroll.
    page.evaluate("y => window.scrollBy(0, y - window.innerHeight / 2)", target["py"])
    page.wait_for_timeout(200)
    target = next(p for p in page.evaluate(POINTS_JS) if p["pos"] == target["pos"])
    pos = target["pos"]
    page.evaluate(f"() => {{ window.e5uiMapBefore = {GD}.data[0]; }}")
    page.mouse.click(target["px"], target["py"])

    wait_for(page, app_server,
             f"(document.querySelector('#map-near-summary')?.innerText || '')"
             f".includes('of line {pos} ') && {GD}.data.some(t => t.name === 'clicked text')",
             f"the neighbours of the clicked text {pos}, and its lines", EVENT_MS)
    # The lines are drawn over the map the page has: the map itself was not sent again.
    assert page.evaluate(f"() => {GD}.data[0] === window.e5uiMapBefore")
    shown = text(page, "#map-point")
    assert example[pos]["text"] in shown, f"clicked text {pos}, the panel shows: {shown!r}"
    assert re.search(rf"\bText {pos}\b", shown), shown

    emb = embeddings(page)
    assert emb.shape[0] == len(example), emb.shape
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    cos = unit @ unit[pos]
    cos[pos] = -np.inf  # itself excluded
    want = np.argsort(-cos, kind="stable")[:K]
    rows = table_rows(page, "map-near-table")
    got = [int(r["index"]) for r in rows]
    assert got == want.tolist(), (f"nearest texts of {pos}: table {got}, numpy {want.tolist()}"
                                  f" (numpy cosines {np.round(cos[want], 4).tolist()})")
    shown_cos = np.array([float(r["cosine"]) for r in rows])
    assert np.allclose(shown_cos, cos[want], atol=1e-3), (shown_cos, cos[want])
    assert all(r["text"] == example[i]["text"] for r, i in zip(rows, got, strict=True))

    # The figure: a ring on the clicked text, a line from it to each neighbour's point.
    # _fullData: gd.data may hold numbers base64-encoded ({dtype, bdata}), _fullData decoded
    # into typed arrays, which Array.from makes JSON lists.
    far = {int(r["index"]) for r in rows if r["far_on_map"] == "far"}
    check_lines(page, target, got, far)
    screenshot(page, screens_dir, "map-click.png")

    assert page.js_errors == []


def check_lines(page, target: dict, neighbours: list[int], far: set[int]) -> None:
    """The clicked text's lines as drawn in the page: one ring on it, one segment from it to
    each neighbour's point (dashed for those the table calls far), each trace once."""
    traces = page.evaluate(f"{GD}._fullData.map(t => ({{name: t.name, mode: t.mode,"
                           " meta: t.meta, dash: t.line && t.line.dash,"
                           " x: Array.from(t.x || []), y: Array.from(t.y || [])}))")
    names = [t["name"] for t in traces]
    # Each part once: a line trace and a ring trace per kind of neighbour, one clicked text.
    want = Counter({"clicked text": 1})
    if set(neighbours) - far:
        want["nearest texts (embedding space)"] = 2
    if far:
        want["nearest texts the map put far away"] = 2
    assert Counter(t["name"] for t in traces if t["meta"] == "e5ui-focus") == want, names
    lines = [t for t in traces if t["mode"] == "lines" and t["meta"] == "e5ui-focus"]
    ring = next(t for t in traces if t["name"] == "clicked text")
    assert (ring["x"][0], ring["y"][0]) == (target["x"], target["y"])
    drawn = {p["pos"]: (p["x"], p["y"]) for p in page.evaluate(POINTS_JS)}
    ends = {(t["x"][s + 1], t["y"][s + 1]): t["dash"] for t in lines
            for s in range(0, len(t["x"]), 3)}
    assert all((t["x"][s], t["y"][s]) == (target["x"], target["y"])
               for t in lines for s in range(0, len(t["x"]), 3))
    assert ends == {drawn[j]: "dash" if j in far else "solid" for j in neighbours}, (names, ends)


def _edges_near(points: list[dict], box: list[float], px: float) -> set[int]:
    """The edges of box = [x0, y0, x1, y1] (indices) with a point within px of them."""
    x0, y0, x1, y1 = box
    near = set()
    for p in points:
        if y0 - px < p["py"] < y1 + px:
            near |= {i for i, x in ((0, x0), (2, x1)) if abs(p["px"] - x) < px}
        if x0 - px < p["px"] < x1 + px:
            near |= {i for i, y in ((1, y0), (3, y1)) if abs(p["py"] - y) < px}
    return near


def test_box_selection_lists_texts_inside(map_page, app_server, example, screens_dir):
    page = map_page
    plot = page.locator("#map-plot")
    plot.scroll_into_view_if_needed()
    plot.hover()  # the modebar shows on hover
    page.locator('#map-plot .modebar-btn[data-title="Box Select"]').click()
    assert page.evaluate(f"{GD}._fullLayout.dragmode") == "select"

    area = page.evaluate(AREA_JS)
    width, height = page.size
    top = max(area["top"], 0)
    bottom = min(area["top"] + area["h"], height)
    x0, x1 = area["left"] + 0.08 * area["w"], area["left"] + 0.55 * area["w"]
    y0, y1 = top + 0.08 * (bottom - top), top + 0.7 * (bottom - top)
    points = page.evaluate(POINTS_JS)
    # No point within 4 px of an edge: inside or outside is then beyond doubt. An edge with a
    # point on it moves outwards (each edge on its own: the layout differs with the vectors).
    box = [x0, y0, x1, y1]
    for _ in range(40):
        near = _edges_near(points, box, 4)
        if not near:
            break
        for edge in near:
            box[edge] += 3 if edge >= 2 else -3
    else:
        pytest.fail(f"no box edge clear of the points: {box}, edges {near}")
    x0, y0, x1, y1 = box
    assert area["left"] <= x0 < x1 <= area["left"] + area["w"] and top <= y0 < y1 <= bottom

    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=5)
    page.mouse.move(x1, y1, steps=5)
    page.mouse.up()

    # Inside, in data coordinates (plotly's own conversion of the drag's corners).
    corners = page.evaluate(
        """([x0, y0, x1, y1]) => {
            const gd = document.querySelector('#map-plot .js-plotly-plot');
            const r = gd.getBoundingClientRect();
            const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
            const dx = (px) => xa.p2l(px - r.left - xa._offset);
            const dy = (py) => ya.p2l(py - r.top - ya._offset);
            return [dx(x0), dy(y0), dx(x1), dy(y1)];
        }""", [x0, y0, x1, y1])
    lo_x, hi_x = sorted(corners[0::2])
    lo_y, hi_y = sorted(corners[1::2])
    inside = sorted({p["pos"] for p in page.evaluate(POINTS_JS)
                     if lo_x <= p["x"] <= hi_x and lo_y <= p["y"] <= hi_y})
    assert 0 < len(inside) < len(example), f"the box holds {len(inside)} points; move it"

    n = len(inside)
    wait_for(page, app_server,
             "/^\\d+ of \\d+ texts selected/.test("
             "document.querySelector('#map-sel-summary')?.innerText || '')",
             f"a selection (of {n} texts {inside})", EVENT_MS)
    summary = text(page, "#map-sel-summary")
    rows = all_table_rows(page, "map-sel-table", "index")
    got = sorted(int(r["index"]) for r in rows)
    differ = sorted(set(got) ^ set(inside))
    assert got == inside, (
        f"selected {inside}, the table lists {got}; summary: {summary}; box (px) "
        f"{[x0, y0, x1, y1]}; points that differ: "
        f"{[p for p in points if p['pos'] in differ]}")
    assert summary.startswith(f"{n} of {len(example)} texts selected"), summary
    # index = the 0-based data row of the example = the map's position
    assert all(r["text"] == example[int(r["index"])]["text"] for r in rows), rows[:2]
    langs = Counter(example[i]["lang"] for i in inside)
    shown = dict((lang, int(k)) for lang, k in re.findall(r"\b([a-z]{2}) (\d+)\b",
                                                         summary.partition("·")[2]))
    assert shown == dict(langs), f"language counts {dict(langs)}; summary: {summary}"

    hrefs = [a.get_attribute("href") for a in page.locator("#map-sel-files a[href]").all()]
    links = {href.rsplit("/", 1)[-1]: href for href in hrefs}
    assert {"selection.csv", "selection.tsv"} <= set(links), links
    tsv = page.request.get(links["selection.tsv"]).text().splitlines()
    header = tsv[0].split("\t")
    assert sorted(int(line.split("\t")[header.index("index")]) for line in tsv[1:]) == inside
    screenshot(page, screens_dir, "map-selection.png")

    page.locator("#map-send-similarity").click()
    wait_for(page, app_server,
             "(document.querySelector('#sim-summary')?.innerText || '')"
             f".startsWith('{n} texts') && document.querySelector("
             "'#sim-plot .js-plotly-plot g.hm image')",
             f"the Similarity heatmap of the {n} selected texts", EVENT_MS)
    sim = text(page, "#sim-summary")
    assert sim.startswith(f"{n} texts"), sim
    assert page.js_errors == []
    open_tab(page, "Map", "#map-plot")  # back, for the next test


def test_search_by_meaning_finds_translation(map_page, app_server, example, screens_dir):
    page = map_page
    # Clear the click's lines first (the Clear button), so the figure shows the search alone.
    page.locator("#map-explore").get_by_role("tab", name="Clicked text", exact=True).click()
    page.locator("#map-clear").click()
    wait_for(page, app_server,
             f"!{GD}._fullData.some(t => t.name === 'clicked text' || "
             "(t.name || '').startsWith('nearest texts'))",
             "the map without the clicked text's lines", EVENT_MS)
    query = next(r for r in example if r["id"] == "p02" and r["lang"] == "de")
    german = example.index(query)
    english = next(i for i, r in enumerate(example) if r["id"] == "p02" and r["lang"] == "en")
    page.locator("#map-query textarea, #map-query input").fill(query["text"])
    other = page.locator("#map-other-langs input[type=checkbox]")

    def search(other_only: bool) -> dict[str, str]:
        other.set_checked(other_only)
        page.locator("#map-search-run").click()
        has = "" if other_only else "!"
        wait_for(page, app_server,
                 "(() => { const s = document.querySelector('#map-search-summary')?.innerText"
                 " || ''; return /^\\d+ of /.test(s) &&"
                 f" {has}s.includes('in other languages') }})()",
                 f"the search (other languages only: {other_only})", EVENT_MS)
        return table_rows(page, "map-search-table")[0]

    first = search(False)
    assert int(first["index"]) == german, (
        f"without 'Other languages only' the first match should be the query itself "
        f"(line {german}); got {first}; summary: {text(page, '#map-search-summary')}")
    first = search(True)
    assert int(first["index"]) == english and first["text"] == example[english]["text"], (
        f"the first match in other languages should be the English line {english}; got "
        f"{first}; summary: {text(page, '#map-search-summary')}")
    names = page.evaluate(f"{GD}.data.map(t => t.name)")
    assert "search query" in names, names
    screenshot(page, screens_dir, "map-search.png")
    assert page.js_errors == []


def test_lines_stay_once_through_a_redraw_and_go_with_clear(map_page, app_server):
    # After the search by meaning: its star stays while a click's lines come and go.
    page = map_page
    page.locator("#map-plot").scroll_into_view_if_needed()
    target = isolated_point(page, page.evaluate(POINTS_JS))
    page.evaluate("y => window.scrollBy(0, y - window.innerHeight / 2)", target["py"])
    page.wait_for_timeout(200)
    target = next(p for p in page.evaluate(POINTS_JS) if p["pos"] == target["pos"])
    pos = target["pos"]
    page.mouse.click(target["px"], target["py"])
    wait_for(page, app_server,
             f"(document.querySelector('#map-near-summary')?.innerText || '')"
             f".includes('of line {pos} ') && {GD}.data.some(t => t.name === 'clicked text')",
             f"the neighbours of the clicked text {pos}, and its lines", EVENT_MS)
    rows = table_rows(page, "map-near-table")
    got = [int(r["index"]) for r in rows]
    far = {int(r["index"]) for r in rows if r["far_on_map"] == "far"}
    check_lines(page, target, got, far)
    names = page.evaluate(f"{GD}.data.map(t => t.name)")
    assert names.count("search query") == 1, names  # the click left the search's star
    # A redraw from the server (a highlight) draws the same lines once, not twice; so does
    # the typed "Nearest texts", which answers as a click does.
    box = page.locator("#map-search textarea, #map-search input")
    for highlight in ("train", ""):
        box.fill(highlight)
        box.press("Enter")
        shown = "document.body.innerText.includes('Search “train”')"
        wait_for(page, app_server, shown if highlight else f"!{shown}",
                 f"the map redrawn with the highlight {highlight!r}", EVENT_MS)
        check_lines(page, target, got, far)
    page.evaluate(f"""() => {{ const gd = {GD};
        Plotly.deleteTraces(gd, gd.data.flatMap((t, i) => t.meta === 'e5ui-focus' ? [i] : []));
    }}""")
    page.locator("#map-neighbours-run").click()  # the index box holds the clicked text's
    wait_for(page, app_server, f"{GD}.data.some(t => t.name === 'clicked text')",
             "the lines of the typed text", EVENT_MS)
    check_lines(page, target, got, far)
    # Clear: the lines and the search go (a new map from the server, the search undone).
    page.locator("#map-clear").click()
    wait_for(page, app_server,
             f"!{GD}.data.some(t => t.meta === 'e5ui-focus' || t.name === 'search query')",
             "the map without the lines and the search", EVENT_MS)
    assert page.js_errors == []
