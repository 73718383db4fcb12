"""An upload without a ``text`` column, in a real browser: the column choice appears under the
upload slot with the file's columns, running before a pick says which columns the file has,
and after picking the text column the view runs on that column's texts. A file with a
``text`` column shows no choice."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.e2e.test_browser import open_tab, table_rows, toast_texts, wait_for

pytestmark = pytest.mark.e2e

SENTENCES = ["The train is late again.", "Der Zug hat schon wieder Verspätung.",
             "Le train est encore en retard.", "I like green tea.", "Ich mag grünen Tee."]
CHOICE = ".column-choice"


def pick(page, box, option: str) -> None:
    """Opens a dropdown and clicks one of its own options (the list its input controls: a
    list just closed may still be on its way out)."""
    box.click()
    options = box.get_attribute("aria-controls")
    assert options, "the dropdown's input names no option list"
    page.locator(f"[id='{options}'] [role=option][aria-label='{option}']").click()


def test_a_file_without_a_text_column_offers_its_columns(page, app_server, tmp_path):
    path = tmp_path / "sentences.parquet"
    pq.write_table(pa.table({"id": [f"s{i}" for i in range(len(SENTENCES))],
                             "sentence": SENTENCES,
                             "language": ["en", "de", "fr", "en", "de"]}), path)
    panel = open_tab(page, "Similarity", "#sim-run")
    choice = panel.locator(CHOICE)
    assert not choice.is_visible()
    panel.locator("input[type=file]").first.set_input_files(str(path))
    choice.wait_for(state="visible")
    # The language and id columns are preset by name; the text column waits for a pick.
    text = choice.locator(".column-text input")
    assert text.input_value() == ""
    assert choice.locator(".column-id input").input_value() == "id"
    page.locator("#sim-run").click()
    wait_for(page, app_server, "document.querySelector('.toast-body.error')",
             "the refusal of a file without a text column")
    assert any("has no 'text' column; its columns are: 'id', 'sentence', 'language'" in t
               for t in toast_texts(page)), toast_texts(page)
    pick(page, text, "sentence")
    assert text.input_value() == "sentence"
    pick(page, choice.locator(".column-lang input"), "language")
    page.locator("#sim-run").click()
    wait_for(page, app_server, "document.querySelector('#sim-table [role=gridcell]')",
             "the most similar pairs")
    rows = table_rows(page, "sim-table")
    assert {r["text_a"] for r in rows} | {r["text_b"] for r in rows} <= set(SENTENCES)
    assert {r["text_a"] for r in rows} | {r["text_b"] for r in rows} >= set(SENTENCES[:3])
    summary = page.locator("#sim-summary").inner_text()
    assert summary.startswith(f"{len(SENTENCES)} texts"), summary


def test_a_file_with_a_text_column_needs_no_choice(page, app_server, tmp_path):
    path = tmp_path / "texts.csv"
    path.write_text("text,lang\n" + "".join(f'"{s}",x\n' for s in SENTENCES[:3]),
                    encoding="utf-8")
    panel = open_tab(page, "Similarity", "#sim-run")
    panel.locator("input[type=file]").first.set_input_files(str(path))
    panel.get_by_text("texts.csv").first.wait_for()
    page.locator("#sim-run").click()
    wait_for(page, app_server, "document.querySelector('#sim-table [role=gridcell]')",
             "the most similar pairs")
    assert page.locator("#sim-summary").inner_text().startswith("3 texts")
    assert not panel.locator(CHOICE).is_visible()
