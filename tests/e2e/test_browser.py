"""The app in a real browser: every tab's one-click example, the error toast, the fallback
banner and the two-sentence scorer. What only a browser shows — that plotly drew something,
that tables filled, that errors become messages — is checked here; the numbers are checked
through the API in tests/integration/test_app_api.py.

Full-page screenshots go to artifacts/screens/<n>-<tab>.png, the server log to
artifacts/e2e/server.log.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.conftest import ASSETS

pytestmark = pytest.mark.e2e

EX = ASSETS / "examples"
RESULT_MS = 120_000  # the first request also waits for the model to load
MAP_MS = 180_000  # the first UMAP fit may compile numba if the background warm-up lags
ERROR_TOASTS = ".toast-body.error"  # Gradio 6; found by triggering one in test_empty_input


def tsv_rows(name: str) -> list[dict[str, str]]:
    with open(EX / name, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def lines(name: str) -> list[str]:
    return (EX / name).read_text(encoding="utf-8").strip().splitlines()


def open_tab(page, name: str, marker: str):
    """Clicks a tab and returns its panel (the one holding ``marker``), once visible. On a
    narrow screen Gradio moves the tabs that do not fit into a "More tabs" menu."""
    page.get_by_role("tab", name="Similarity", exact=True).wait_for()  # the tabs are drawn
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.count():
        tab.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button", has_text=name).first.click()
    panel = page.locator("[role=tabpanel]").filter(has=page.locator(marker))
    panel.wait_for(state="visible")
    return panel


def toast_texts(page) -> list[str]:
    return [t.inner_text() for t in page.locator(ERROR_TOASTS).all()]


def wait_for(page, server, js: str, what: str, timeout_ms: int = RESULT_MS) -> None:
    """Waits until the page expression ``js`` is truthy; fails with what the user and the
    server saw (error toasts, server log) instead of a bare timeout."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(js, timeout=timeout_ms, polling=250)
    except PlaywrightTimeout:
        pytest.fail(f"{what} did not appear within {timeout_ms / 1000:.0f} s; error toasts: "
                    f"{toast_texts(page)}\n{server.diagnose()}")


def table_rows(page, elem_id: str) -> list[dict[str, str]]:
    """The rendered rows of a Gradio 6 Dataframe (virtualised: maybe not all of them)."""
    head, rows = page.evaluate(
        """(sel) => {
            const t = document.querySelector(sel);
            const head = [...t.querySelectorAll('thead th')].map(th => th.innerText.trim())
                .filter(h => h);
            const rows = [...t.querySelectorAll('[role=row]')]
                .map(r => [...r.querySelectorAll('[role=gridcell]')].map(c => c.innerText.trim()))
                .filter(cells => cells.length);
            return [head, rows];
        }""", f"#{elem_id}")
    assert rows, f"#{elem_id} has no rows"
    assert all(len(r) == len(head) for r in rows), (head, rows[:2])
    return [dict(zip(head, r)) for r in rows]


# ---------------------------------------------------------------------- per-tab checks
def check_similarity(page, server) -> None:
    n = len(tsv_rows("one_meaning_ten_languages.tsv"))
    wait_for(page, server, "document.querySelector('#sim-plot .js-plotly-plot g.hm image')",
             "the similarity heatmap")
    ticks = page.locator("#sim-plot .js-plotly-plot g.ytick").count()
    assert ticks == n, f"heatmap has {ticks} rows, the example has {n} texts"


def check_neighbours(page, server) -> None:
    wait_for(page, server, "document.querySelector('#nb-table [role=gridcell]')",
             "the neighbours table")
    queries = {r["text"] for r in tsv_rows("retrieval/queries.tsv")}
    passages = {r["text"] for r in tsv_rows("retrieval/passages.tsv")}
    rows = table_rows(page, "nb-table")
    assert len(rows) >= 8, f"only {len(rows)} rows rendered"
    assert rows[0]["rank"] == "1"
    assert {r["query"] for r in rows} <= queries
    assert {r["neighbour"] for r in rows} <= passages


def check_map(page, server) -> None:
    n = len(tsv_rows("map_parallel.tsv"))
    # The PCA preview comes first; wait for the UMAP result that replaces it.
    wait_for(page, server,
             "(document.querySelector('#map-summary')?.innerText || '').startsWith('UMAP') &&"
             " document.querySelectorAll('#map-plot .js-plotly-plot path.point').length > 0",
             "the UMAP map", MAP_MS)
    points = page.locator("#map-plot .js-plotly-plot path.point").count()
    assert points == n, f"map shows {points} points, the example has {n} texts"


def check_bitext(page, server) -> None:
    wait_for(page, server,
             "(document.querySelector('#bt-metrics')?.innerText || '').includes('P@1') &&"
             " document.querySelector('#bt-table [role=gridcell]')", "the bitext pairs")
    metrics = page.locator("#bt-metrics").inner_text()
    p_at_1 = float(re.search(r"P@1\s*([\d.]+)", metrics).group(1))
    assert p_at_1 >= 0.9, metrics
    source, target = lines("bitext/source.txt"), lines("bitext/target.txt")
    gold = {source[int(r["src_index"])]: target[int(r["tgt_index"])]
            for r in tsv_rows("bitext/gold.tsv")}
    rows = table_rows(page, "bt-table")
    assert len(rows) >= 10, f"only {len(rows)} rows rendered"
    # The shown columns must stay aligned: pairs on screen agree with the gold file.
    right = sum(gold.get(r["source"]) == r["target"] for r in rows)
    assert right >= 0.9 * len(rows), rows[:3]


def check_align(page, server) -> None:
    wait_for(page, server,
             "(document.querySelector('#al-metrics')?.innerText || '').includes('F1')",
             "the alignment")
    assert "strict precision 1.000" in page.locator("#al-metrics").inner_text()
    # The path (an outline and a line) and the omission's box are drawn over the heatmap.
    shapes = page.evaluate("document.querySelector('#al-plot .js-plotly-plot')"
                           ".layout.shapes.map(s => s.type)")
    assert shapes.count("path") == 2 and "rect" in shapes, shapes
    assert page.locator("#al-plot .js-plotly-plot .shapelayer path").count() >= 2
    rows = table_rows(page, "al-table")
    assert {r["type"] for r in rows} >= {"1-1", "2-1"}


def check_explain(page, server) -> None:
    n = len(tsv_rows("paraphrase_lookalike.tsv"))
    wait_for(page, server,
             "document.querySelector('#ex-plot .js-plotly-plot g.trace.bars g.point') &&"
             " (document.querySelector('#ex-summary')?.innerText || '').includes('Your')",
             "the score histogram")
    summary = page.locator("#ex-summary").inner_text()
    assert f"Your {n} texts" in summary, summary


@dataclass(frozen=True)
class Tab:
    n: int
    name: str
    marker: str  # an element only this tab holds
    example: str
    check: Callable

    @property
    def slug(self) -> str:
        return re.sub(r"\W+", "-", self.name.lower())


TABS = [
    Tab(1, "Similarity", "#sim-plot", "One meaning, ten languages", check_similarity),
    Tab(2, "Neighbours", "#nb-table", "Retrieval, model-card style", check_neighbours),
    Tab(3, "Map", "#map-plot", "24 sentences × 8 languages", check_map),
    Tab(4, "Bitext", "#bt-table", "Shuffled en ↔ de / fr / ja, with gold", check_bitext),
    Tab(5, "Align", "#al-plot", "A library notice, en → de, with gold", check_align),
    Tab(6, "Scores explained", "#ex-plot", "Paraphrase vs. look-alike vs. unrelated",
        check_explain),
]


# ---------------------------------------------------------------------- tests
def test_fallback_banner_names_bundled_model(page, app_server):
    status = page.locator("#e5ui-model-status")
    wait_for(page, app_server,
             "(document.querySelector('#e5ui-model-status')?.innerText || '')"
             ".includes('multilingual-e5-small')", "the loaded model in the status line")
    banner = page.locator("#e5ui-banner")
    banner.wait_for(state="visible", timeout=10_000)
    text = banner.inner_text()
    assert "bundled" in text and "large" in text, text
    assert "source: bundled" in status.inner_text()


def test_empty_input_shows_error_toast(page, app_server):
    panel = open_tab(page, "Similarity", "#sim-plot")
    assert panel.get_by_label("Texts (one per line)").input_value() == ""
    page.locator("#sim-run").click()
    toast = page.locator(ERROR_TOASTS)
    toast.first.wait_for(state="visible", timeout=RESULT_MS)
    text = toast.first.inner_text()
    assert "empty" in text, text
    assert "Traceback" not in page.locator("body").inner_text()


@pytest.mark.parametrize("tab", TABS, ids=[t.slug for t in TABS])
def test_tab_example(page, app_server, screens_dir, tab):
    panel = open_tab(page, tab.name, tab.marker)
    panel.get_by_role("button", name=tab.example, exact=True).click()
    tab.check(page, app_server)
    page.screenshot(path=str(screens_dir / f"{tab.n}-{tab.slug}.png"), full_page=True)
    assert toast_texts(page) == []
    assert page.js_errors == []


def test_pair_score_shows_percentile(page, app_server):
    panel = open_tab(page, "Scores explained", "#ex-plot")
    panel.locator("#pair-run").click()
    wait_for(page, app_server,
             "(document.querySelector('#pair-out')?.innerText || '').includes('%')",
             "the pair score")
    text = page.locator("#pair-out").inner_text()
    match = re.search(r"higher than ([\d.]+)% of unrelated pairs", text)
    assert match, text
    # The default pair is a translation: it should beat nearly all unrelated pairs.
    assert 90.0 <= float(match.group(1)) <= 100.0, text
    assert toast_texts(page) == []
