"""The UI's handlers, called as plain functions (no browser, no server, a fake encoder), the
error guard's paths, and the endpoints the Blocks declare."""

from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr
import pytest

from e5ui import ui, views
from e5ui.loader import ModelHolder, Settings
from e5ui.ui import bitext, common, explain, map, neighbours, panel, similarity
from tests.conftest import ASSETS, FakeEncoder


def noop(*args, **kwargs):
    return None


@pytest.fixture
def holder(private_cache):
    return ModelHolder(Settings(model="fake"), encoder=FakeEncoder())


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
def test_similarity_handler(holder):
    fig, summary, notes, table, files, state = similarity.run(
        holder, "The cat sleeps.\nDie Katze schläft.\n\nStocks fell.", progress=noop)
    assert summary.startswith("3 texts") and "blank line" in notes
    assert list(table.columns[:2]) == ["index_a", "index_b"] and len(table) == 3
    assert sorted(Path(f).name for f in files) == ["embeddings.npy", "heatmap.html",
                                                   "similarity.csv"]
    assert list(state) == ["1-similarity"]
    with pytest.raises(gr.Error, match="empty"):
        similarity.run(holder, " \n ", progress=noop)


def test_neighbours_handler(holder):
    table, summary, notes, files, state = neighbours.run(
        holder, "q1\nq2", "c1\nc2\nc3", k=2, progress=noop)
    assert len(table) == 4 and list(table.columns) == views.NEIGHBOUR_HEADER
    assert [Path(f).name for f in files] == ["neighbours.tsv"] and "2-neighbours" in state


def test_map_handler_previews_then_draws_and_redraws(holder):
    texts = (ASSETS / "examples/paraphrase_lookalike.tsv").as_posix()
    steps = list(map.run(holder, "", texts, "umap", 2, progress=noop))
    assert len(steps) == 2
    preview, final = steps
    assert preview[1].startswith("PCA preview") and preview[3] == []
    assert final[1].startswith("UMAP") and sorted(Path(f).name for f in final[3]) == [
        "coords.csv", "map.html"]
    saved = final[4]
    figure, notes = map.redraw(saved, "language", True, "cat")
    assert "matching text" in notes and figure is not None
    assert map.redraw(None, "language", True, "")[0] == gr.update()
    (only,) = list(map.run(holder, "a\nb\nc", None, "pca", 2, progress=noop))
    assert only[1].startswith("PCA ·")


def test_bitext_handler_with_gold(holder):
    source = "one\ntwo\nthree"
    gold = ASSETS / "examples/bitext/gold.tsv"
    with pytest.raises(gr.Error, match="points at a line"):
        bitext.run(holder, source, "three\none\ntwo", gold_file=str(gold), progress=noop)
    styled, unmatched, summary, metrics, notes, files, state = bitext.run(
        holder, source, "three\none\ntwo", progress=noop)
    assert summary.startswith("3 pairs") and metrics == "" and len(files) == 3


def test_explain_pair_score_and_report(holder):
    fig, summary, notes, state = explain.run(holder, "a\nb\nc", progress=noop)
    assert "Your 3 texts" in summary
    assert "Raw cosine" in explain.score_pair(holder, "a", "b", progress=noop)
    update = panel.make_report(holder, state)
    assert update["visible"] is True and Path(update["value"]).read_text().count("<h2>") == 1
    with pytest.raises(gr.Error, match="run at least one view"):
        panel.make_report(holder, {})


def test_model_panel_lines(holder):
    line, banner = panel.refresh(holder)
    assert line.startswith("**fake/e5**") and banner["visible"] is False
    with pytest.raises(gr.Error, match="Pick a model"):
        panel.switch(holder, None)


def test_the_blocks_declare_one_endpoint_per_view(holder):
    demo = ui.build_demo(holder=holder)
    names = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"similarity", "neighbours", "map", "projection", "bitext", "explain",
            "pair_score"} <= names
