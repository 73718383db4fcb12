"""The Bitext tab's review in a real browser at 1920x1080: reject a pair, re-link its source to
another target (taking it from its pair), an invalid edit refused with one message and nothing
changed, the TSV download shows the pair ``edited``."""

from __future__ import annotations

import csv
import io

import pytest

from tests.e2e.conftest import open_app
from tests.e2e.test_browser import ERROR_TOASTS, open_tab, table_rows, toast_texts, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def projector(browser, app_server):
    yield from open_app(browser, app_server.url, {"width": 1920, "height": 1080})


def summary(page) -> str:
    return page.locator("#bt-summary").inner_text()


def apply(page, server, action: str, src: int, tgt: int | None = None,
          release: bool = False) -> None:
    page.locator("#bt-action").get_by_text(action, exact=True).click()
    page.locator("#bt-src input").fill(str(src))
    page.locator("#bt-tgt input").fill("" if tgt is None else str(tgt))
    box = page.locator("#bt-release input")
    if box.is_checked() != release:
        box.click()
    page.locator("#bt-apply").click()


def test_reject_relink_and_the_tsv_shows_edited(projector, app_server, screens_dir):
    page = projector
    panel = open_tab(page, "Bitext", "#bt-table")
    panel.get_by_role("button", name="Shuffled en ↔ de / fr / ja, with gold",
                      exact=True).click()
    wait_for(page, app_server,
             "(document.querySelector('#bt-metrics')?.innerText || '').includes('P@1') &&"
             " document.querySelector('#bt-table [role=gridcell]')", "the bitext pairs")
    assert summary(page).startswith("30 pairs")
    first, second = table_rows(page, "bt-table")[:2]
    page.locator("#bt-review").get_by_text("Review the pairs").click()

    apply(page, app_server, "reject", int(first["src_index"]))
    wait_for(page, app_server,
             "(document.querySelector('#bt-summary')?.innerText || '').includes('29 pairs')",
             "the pair rejected")

    # The other pair's target is taken: refused with one message, nothing changes.
    apply(page, app_server, "re-link", int(first["src_index"]), int(second["tgt_index"]))
    page.locator(ERROR_TOASTS).first.wait_for(state="visible")
    assert "already paired" in toast_texts(page)[0]
    assert "29 pairs from 30" in summary(page)  # (gradio marks outputs "Error" meanwhile)
    page.locator(".toast-close").first.click()

    apply(page, app_server, "re-link", int(first["src_index"]), int(second["tgt_index"]),
          release=True)
    wait_for(page, app_server,
             "(document.querySelector('#bt-summary')?.innerText || '').includes('1 edited')",
             "the re-linked pair")
    page.screenshot(path=str(screens_dir / "4-bitext-review.png"), full_page=True)

    link = page.locator("#bt-files a[href*='pairs.tsv']").first
    text = page.request.get(link.get_attribute("href")).text()
    got = list(csv.DictReader(io.StringIO(text), delimiter="\t"))
    edited = [(r["src_index"], r["tgt_index"]) for r in got if r["status"] == "edited"]
    assert edited == [(first["src_index"], second["tgt_index"])]
    assert second["src_index"] not in [r["src_index"] for r in got]  # released
    assert len(got) == 29 and page.js_errors == []
