"""The UI's handlers, called as plain functions (no browser, no server, a fake encoder), the
error guard's paths, and the endpoints the Blocks declare."""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr
import pytest

from e5ui import ui, views
from e5ui.loader import ModelHolder
from e5ui.settings import Limits, Settings
from e5ui.ui import bitext, common, explain, map, neighbours, panel, similarity
from tests.conftest import ASSETS, FakeEncoder

MAP_FILES = ["coords.csv", "map.parquet", "metadata.tsv", "vectors.tsv"]


def noop(*args, **kwargs):
    return None


@pytest.fixture
def app(private_cache):
    return common.App.for_tests(ModelHolder(Settings(model="fake"), encoder=FakeEncoder()))


# -- the guard ------------------------------------------------------------------------------------
def test_guard_turns_bad_input_into_its_message():
    @common.guard
    def handler():
        raise ValueError("The text list is empty")

    with pytest.raises(gr.Error) as err:
        handler()
    assert err.value.message == "The text list is empty"
    assert err.value.print_exception is False


def test_guard_turns_a_bug_into_a_short_message_and_logs_it(caplog):
    @common.guard
    def handler():
        raise RuntimeError("disk on fire")

    with caplog.at_level(logging.ERROR, logger="e5ui.ui.common"), pytest.raises(gr.Error) as err:
        handler()
    assert str(err.value.message).startswith("Something went wrong (RuntimeError: disk on fire)")
    assert "still running" in err.value.message
    (record,) = [r for r in caplog.records if "Unexpected error in handler" in r.getMessage()]
    assert record.exc_info is not None  # the traceback goes to the log, not the page


def test_guard_passes_gradio_errors_and_wraps_generators():
    mine = gr.Error("as it is")

    @common.guard
    def handler():
        raise mine

    with pytest.raises(gr.Error) as err:
        handler()
    assert err.value is mine

    @common.guard
    def gen():
        yield 1
        raise KeyError("late")

    it = gen()
    assert next(it) == 1
    with pytest.raises(gr.Error, match="KeyError"):
        next(it)


# -- the handlers ---------------------------------------------------------------------------------
def test_similarity_handler(app):
    fig, summary, notes, table, files, state = similarity.run(
        app, "The cat sleeps.\nDie Katze schläft.\n\nStocks fell.", progress=noop)
    assert summary.startswith("3 texts") and "blank line" in notes
    assert list(table.columns[:2]) == ["index_a", "index_b"] and len(table) == 3
    assert sorted(Path(f).name for f in files) == ["embeddings.npy", "similarity.csv"]
    assert list(state) == ["1-similarity"]
    with pytest.raises(gr.Error, match="empty"):
        similarity.run(app, " \n ", progress=noop)


def test_neighbours_handler(app):
    table, summary, notes, files, keyword, state = neighbours.run(
        app, "q1\nq2", "c1\nc2\nc3", k=2, progress=noop)
    assert len(table) == 4 and list(table.columns) == views.NEIGHBOUR_HEADER
    assert [Path(f).name for f in files] == ["neighbours.tsv"] and "2-neighbours" in state
    assert keyword == ""
    table, _, _, _, keyword, state = neighbours.run(
        app, "bread\nsky", "fresh bread\nblue sky\nnothing", k=2, compare_bm25=True,
        progress=noop)
    assert list(table.columns[-3:]) == ["bm25_index", "bm25_score", "bm25_text"]
    assert "share" in keyword and "BM25" in state["2-neighbours"][0]
    # The widths follow the switch, so the search's answer stays plain data for the API.
    assert neighbours.widths(True)["column_widths"] == neighbours.BM25_WIDTHS
    assert neighbours.widths(False)["column_widths"] == neighbours.TABLE_WIDTHS


def test_model_comparison_handler(app, monkeypatch):
    second = FakeEncoder(model="fake/other", dim=24)
    monkeypatch.setattr(app.holder, "factory", lambda name, settings, cache: second)
    allowed = common.App(app.holder, Settings(model="fake", models=["fake", "other"]),
                         app.store)
    first_fig, second_fig, summary, notes, table, files, state = similarity.compare(
        allowed, "a\nb\nc\nd", None, "other", progress=noop)
    assert summary.startswith("fake/e5 vs fake/other: Spearman")
    assert len(table) == 6 and [Path(f).name for f in files] == ["model-comparison.csv"]
    assert {k for k in state if "compare" in k} == {"1-similarity-compare-0",
                                                    "1-similarity-compare-1",
                                                    "1-similarity-compare-2"}
    with pytest.raises(gr.Error, match="not offered"):
        similarity.compare(allowed, "a\nb\nc", None, "large", progress=noop)


def test_map_handler_previews_then_draws_and_redraws(app):
    texts = (ASSETS / "examples/paraphrase_lookalike.tsv").as_posix()
    steps = list(map.run(app, "", texts, "umap", 2, progress=noop))
    assert len(steps) == 2
    preview, final = steps
    assert preview[1].startswith("PCA preview") and preview[3] == []
    assert final[1].startswith("UMAP")
    assert sorted(Path(f).name for f in final[3]) == MAP_FILES
    saved = final[4]
    figure, notes = map.redraw(saved, "language", True, "cat")
    assert "matching text" in notes and figure is not None
    assert map.redraw(None, "language", True, "")[0] == gr.update()
    (only,) = list(map.run(app, "a\nb\nc", None, "pca", 2, progress=noop))
    assert only[1].startswith("PCA ·")


def test_bitext_handler_with_gold(app):
    source = "one\ntwo\nthree"
    gold = ASSETS / "examples/bitext/gold.tsv"
    with pytest.raises(gr.Error, match="points at a line"):
        bitext.run(app, source, "three\none\ntwo", gold_file=str(gold), progress=noop)
    styled, unmatched, summary, metrics, notes, files, state = bitext.run(
        app, source, "three\none\ntwo", progress=noop)
    assert summary.startswith("3 pairs") and metrics == "" and len(files) == 3


def test_explain_pair_score_and_report(app):
    fig, summary, notes, state = explain.run(app, "a\nb\nc", progress=noop)
    assert "Your 3 texts" in summary
    assert "Raw cosine" in explain.score_pair(app, "a", "b", progress=noop)
    update = panel.make_report(app, state)
    assert update["visible"] is True and Path(update["value"]).read_text().count("<h2>") == 1
    with pytest.raises(gr.Error, match="run at least one view"):
        panel.make_report(app, {})


def test_model_panel_lines(app):
    line, banner = panel.refresh(app)
    assert line.startswith("**fake/e5**") and banner["visible"] is False
    with pytest.raises(gr.Error, match="Pick a model"):
        panel.switch(app, None)
    with pytest.raises(gr.Error, match="not offered on this server"):
        panel.switch(app, "someone/else")


def test_exposed_servers_offer_only_the_models_the_operator_listed():
    exposed = Settings(model="fake", host="0.0.0.0", auth=("u", "p"))
    app = common.App.for_tests(ModelHolder(exposed, encoder=FakeEncoder()))
    assert exposed.switchable == []
    with pytest.raises(gr.Error, match="turned off"):
        panel.switch(app, "small")
    listed = Settings(model="fake", share=True, auth=("u", "p"), models=["small"])
    assert listed.switchable == ["small"]


HOSTILE_MARKDOWN = ["![x](http://example.invalid/beacon.png)", "[click](http://evil)",
                    "<img src=x onerror=alert(1)>", "# big", "- not a list", "1. nor this",
                    "a_b*c* `code` ~~s~~ |t|", "back\\slash", "<http://autolink.invalid>"]


@pytest.mark.parametrize("text", HOSTILE_MARKDOWN)
def test_user_text_renders_as_typed(text):
    import html as htmllib

    from markdown_it import MarkdownIt  # a CommonMark renderer, as the page's

    rendered = MarkdownIt("commonmark").render(common.md_plain(text)).strip()
    assert rendered.startswith("<p>") and rendered.endswith("</p>")
    assert "<img" not in rendered and "<a " not in rendered and "<code" not in rendered
    assert htmllib.unescape(rendered[3:-4]) == text


def test_a_search_for_markdown_is_shown_not_followed(app):
    beacon = HOSTILE_MARKDOWN[0]
    saved = list(map.run(app, "a\nb\nc", None, "pca", 2, search=beacon, progress=noop))[-1][4]
    _, notes = map.redraw(saved, "language", True, beacon)
    from markdown_it import MarkdownIt

    rendered = MarkdownIt("commonmark").render(notes)
    assert "<img" not in rendered and "beacon.png" in rendered


def test_long_inputs_to_pair_score_are_cut_with_a_note(app):
    text = explain.score_pair(app, "x" * 30000, "y", progress=noop)
    assert "only the first 20,000 were used" in text and "Sentence A" in text


def test_tables_on_the_page_are_capped_but_downloads_hold_everything(app):
    capped = common.App(app.holder, Settings(model="fake", limits=Limits(max_rows=5)),
                        app.store)
    table, summary, notes, files, *_ = neighbours.run(
        capped, "\n".join(f"q{i}" for i in range(4)), "c1\nc2\nc3", k=3, progress=noop)
    assert len(table) == 5 and "first 5 of 12 rows" in notes
    assert len(Path(files[0]).read_text().splitlines()) == 13  # header + 12 rows


def test_each_session_keeps_only_its_latest_downloads(app):
    class Request:
        session_hash = "abc123"

    first = similarity.run(app, "a\nb", request=Request(), progress=noop)[4]
    second = similarity.run(app, "a\nc", request=Request(), progress=noop)[4]
    assert not Path(first[0]).exists() and Path(second[0]).exists()
    assert Path(second[0]).parent.parent.name == "abc123"
    ui.end_session(app, Request())
    assert not Path(second[0]).exists()


def test_the_blocks_declare_one_endpoint_per_view(app):
    demo = ui.build_demo(holder=app.holder)
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"similarity", "neighbours", "map", "projection", "bitext", "explain",
            "pair_score"} <= names
