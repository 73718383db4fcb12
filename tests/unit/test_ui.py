"""The UI's handlers, called as plain functions (no browser, no server, a fake encoder), the
error guard's paths, and the endpoints the Blocks declare."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from e5ui import plots, textio, ui, views
from e5ui.holder import ModelHolder
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
    fig, summary, notes, table, files, state, result = similarity.run(
        app, "The cat sleeps.\nDie Katze schläft.\n\nStocks fell.", progress=noop)
    assert summary.startswith("3 texts") and "blank line" in notes
    assert list(table.columns[:2]) == ["index_a", "index_b"] and len(table) == 3
    assert sorted(Path(f).name for f in files) == ["embeddings.npy", "similarity.csv"]
    assert list(state) == ["similarity"] and isinstance(result, views.SimilarityResult)
    with pytest.raises(gr.Error, match="empty"):
        similarity.run(app, " \n ", progress=noop)


def test_a_click_on_a_heatmap_cell_shows_that_pair(app):
    texts = ["The cat sleeps.", "Stocks fell.", "Die Katze schläft."]
    *_, result = similarity.run(app, "\n".join(texts), order="cluster", progress=noop)
    row, col = 0, 2
    i, j = result.order[row], result.order[col]  # the heatmap draws rows in this order
    md, plot = similarity.cell_clicked(result, json.dumps({"point": None, "cell": [row, col],
                                                           "n": 1}))
    emb = result.embeddings
    cos = float(emb[i] @ emb[j])
    assert md.index(texts[i]) < md.index(texts[j]) and f"{cos:.4f}" in md
    assert plot.visible and plot.value is not None
    md, _ = similarity.cell_clicked(result, json.dumps({"point": 1, "cell": [1, 1], "n": 2}))
    assert "itself" in md and md.count(texts[result.order[1]]) == 1
    assert similarity.cell_clicked(None, '{"cell": [0, 0]}') == (gr.update(), gr.update())
    with pytest.raises(gr.Error, match="no row 3"):
        similarity.cell_clicked(result, json.dumps({"point": None, "cell": [3, 0], "n": 3}))
    with pytest.raises(gr.Error, match="cannot read"):
        similarity.cell_clicked(result, "not json")


def test_neighbours_handler(app):
    table, summary, notes, files, keyword, state = neighbours.run(
        app, "q1\nq2", "c1\nc2\nc3", k=2, progress=noop)
    assert len(table) == 4 and list(table.columns) == views.NEIGHBOUR_HEADER
    assert [Path(f).name for f in files] == ["neighbours.tsv"] and "neighbours" in state
    assert keyword == ""
    table, _, _, _, keyword, state = neighbours.run(
        app, "bread\nsky", "fresh bread\nblue sky\nnothing", k=2, compare_bm25=True,
        progress=noop)
    assert list(table.columns[-3:]) == ["bm25_index", "bm25_score", "bm25_text"]
    assert "share" in keyword and "BM25" in state["neighbours"][0]
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
    assert {k for k in state if "compare" in k} == {"similarity-compare-0",
                                                    "similarity-compare-1",
                                                    "similarity-compare-2"}
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
    figure, notes, kept = map.redraw(saved, "language", True, "cat")
    assert "matching text" in notes and figure is not None
    assert kept.projection is saved.projection
    assert map.redraw(None, "language", True, "")[0] == gr.update()
    (only,) = list(map.run(app, "a\nb\nc", None, "pca", 2, progress=noop))
    assert only[1].startswith("PCA ·")


def test_map_explore_handlers_reuse_the_sessions_map(app):
    texts = (ASSETS / "examples/map_parallel.tsv").read_text(encoding="utf-8")
    saved = list(map.run(app, texts, None, "pca", 2, clusters=True, progress=noop))[-1][4]
    assert saved.clusters and saved.table.header[-3:] == ["cluster", "cluster_label", "text"]
    table, summary, notes = map.neighbours(app, texts, None, 4, 5, saved, "pca", 2,
                                           progress=noop)
    assert len(table) == 5 and list(table.columns) == map.VIEW.header("neighbours")
    assert "line 4" in summary
    x = saved.data.embeddings.astype(np.float64)
    cos = x @ x[4]
    cos[4] = -np.inf
    assert list(table["index"]) == list(np.argsort(-cos, kind="stable")[:5])
    table, summary = map.search_meaning(app, texts, None, saved.data.corpus.texts[0], 0.5,
                                        saved, "pca", 2, progress=noop)
    assert list(table.columns) == map.VIEW.header("matches") and "lands at" in summary
    with pytest.raises(gr.Error, match="index"):
        map.neighbours(app, texts, None, 999, 5, saved, "pca", 2, progress=noop)
    figure, _, kept = map.redraw(saved, "cluster", True, "", clusters=True)
    assert kept.named_clusters is saved.named_clusters  # not clustered again
    assert any("·" in a.text for a in figure.layout.annotations)


def test_the_pages_click_and_selection_events_run_the_maps_handlers(app):
    texts = (ASSETS / "examples/map_parallel.tsv").read_text(encoding="utf-8")
    saved = list(map.run(app, texts, None, "pca", 2, progress=noop))[-1][4]
    # A click names the point by its position (the page's plot_events.js).
    out = map.clicked(app, saved, '{"point": 7, "cell": null, "n": 3}', 5, progress=noop)
    payload, point, _summary, _notes, table, kept, _tabs, index = out
    assert index == 7 and point.endswith("> " + saved.data.corpus.texts[7])
    x = saved.data.embeddings.astype(np.float64)
    cos = x @ x[7]
    cos[7] = -np.inf
    want = np.argsort(-cos, kind="stable")[:5].tolist()
    assert list(table["index"]) == want
    assert kept.focus.index == 7 and kept.projection is saved.projection  # not projected again
    # The page gets the click's lines alone, in the map's drawn coordinates: a ring on the
    # clicked point, a segment from it to each neighbour's point as the figure draws them.
    sent = json.loads(payload)
    figure = saved.figure
    assert sent["uirevision"] == figure.layout.uirevision
    drawn = {int(cd[-1]): (float(t.x[k]), float(t.y[k])) for t in figure.data
             if t.customdata is not None for k, cd in enumerate(t.customdata)}
    assert all(t["meta"] == plots.FOCUS_META for t in sent["traces"])
    (ring,) = [t for t in sent["traces"] if t["name"] == "clicked text"]
    assert (ring["x"][0], ring["y"][0]) == drawn[7]
    ends = sorted((t["x"][s + 1], t["y"][s + 1]) for t in sent["traces"] if t["mode"] == "lines"
                  for s in range(0, len(t["x"]), 3))
    assert ends == sorted(drawn[j] for j in want)  # the table's index is the position here
    assert len(payload) < 10_000
    # The lines stay through a restyle (the server's figure draws them), and Clear takes them
    # away: the page alone when there is no search to undo, a new map when there is.
    figure, _, restyled = map.redraw(kept, "language", False, "train")
    assert any(t.name == "clicked text" and t.meta == plots.FOCUS_META for t in figure.data)
    update, cleared, plain = map.cleared(restyled)
    assert update == gr.update() and plain.focus is None
    assert json.loads(cleared) == {"uirevision": figure.layout.uirevision, "traces": []}
    searched = map.search_on_map(app, texts, None, saved.data.corpus.texts[0], 0.5, kept,
                                 "pca", 2, False, progress=noop)[3]
    figure, cleared, plain = map.cleared(searched)
    assert cleared == "" and plain.meaning is None and plain.focus is None
    assert not any(t.name in ("clicked text", "search query") for t in figure.data)
    # near_typed answers as a click does.
    payload = map.near_typed(app, saved, 7, 5, progress=noop)[0]
    assert json.loads(payload) == sent
    for bad in ('{"point": 192}', '{"point": true}', '{"x": 1}', "not json", '[1]'):
        with pytest.raises(gr.Error, match="not on this map|cannot read"):
            map.clicked(app, saved, bad, 5, progress=noop)  # a message, not a traceback
    preview = saved.changed(preview=True)
    with pytest.raises(gr.Error, match="still being drawn"):
        map.clicked(app, preview, '{"point": 1}', 5, progress=noop)
    with pytest.raises(gr.Error, match="index"):
        map.near_typed(app, saved, None, 5, progress=noop)
    # A selection: its rows, two files, and the text the send buttons put in another view.
    summary, table, files, text, _tabs = map.selected(app, saved, '{"points": [3, 50, 3]}')
    assert list(table["index"]) == [3, 50] and summary.startswith("2 of 192 texts selected")
    assert sorted(Path(f).name for f in files) == ["selection.csv", "selection.tsv"]
    box, upload, vectors, _tab = map.send(text, "similarity")
    assert box == text and upload is None and vectors is None
    assert textio.parse_pasted(box).texts == [saved.data.corpus.texts[i] for i in (3, 50)]
    summary, table, files, text, _tabs = map.selected(app, saved, '{"points": []}')
    assert text == "" and files is None and len(table) == 0
    with pytest.raises(gr.Error, match="Select texts on the map first"):
        map.send(text, "similarity")
    with pytest.raises(gr.Error, match="not on this map"):
        map.selected(app, saved, '{"points": [999]}')


def test_bitext_handler_with_gold(app):
    source = "one\ntwo\nthree"
    gold = ASSETS / "examples/bitext/gold.tsv"
    with pytest.raises(gr.Error, match="points at a line"):
        bitext.run(app, source, "three\none\ntwo", gold_file=str(gold), progress=noop)
    styled, unmatched, summary, metrics, notes, files, saved, state = bitext.run(
        app, source, "three\none\ntwo", progress=noop)
    assert summary.startswith("3 pairs") and metrics == "" and len(files) == 3
    assert isinstance(saved, views.BitextResult)


def test_bitext_review_handler_edits_refuses_and_resumes(app, tmp_path):
    source, target = "one\ntwo\nthree", "three\none\ntwo"
    *_, files, saved, state = bitext.run(app, source, target, progress=noop)
    with pytest.raises(gr.Error, match="Match the two lists first"):
        bitext.review(app, None, "accept", 0)
    out = bitext.review(app, saved, "reject", None, 0)  # the pair of source line 0
    table, summary, after = out[0].data, out[2], out[6]
    assert 0 not in table["src_index"].tolist() and summary.startswith("2 pairs")
    taken = int(table["tgt_index"].iloc[0])
    with pytest.raises(gr.Error, match=f"target sentence {taken} is already paired"):
        bitext.review(app, after, "relink", None, 0, taken)
    with pytest.raises(gr.Error, match="target line 7 holds no sentence"):
        bitext.review(app, after, "relink", None, 0, 7)
    assert len(after.matching.pairs) == 2  # refused edits changed nothing
    out = bitext.review(app, after, "relink", None, 0, taken, True)
    relinked = out[6]
    assert {r[0]: r[-1] for r in relinked.table.rows}[0] == "edited"
    out = bitext.review(app, relinked, "candidates", None, 1)
    cands = out[-1]
    assert len(cands) == 3 and list(cands.columns)[:2] == ["tgt_index", "score"]
    # The download of the review (each call's downloads replace the last's), uploaded with
    # the lists, brings the same pairs back.
    tsv = next(f for f in out[5] if f.endswith(".tsv"))
    review = tmp_path / "review.tsv"
    review.write_bytes(open(tsv, "rb").read())
    *_, resumed, _ = bitext.run(app, source, target, review_file=str(review), progress=noop)
    assert resumed.table.rows == relinked.table.rows


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
    _, notes, _ = map.redraw(saved, "language", True, beacon)
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


# -- the boundary: messages, file inputs, parameters -----------------------------------------
def test_messages_show_no_server_path_or_traceback(caplog):
    @common.guard
    def bad_input():
        raise ValueError("No such file: /srv/e5ui/uploads/3f9a/notes.txt")

    @common.guard
    def bug():
        raise OSError("[Errno 13] Permission denied: '/var/lib/e5ui/cache/ab/vec.npy'\n"
                      "Traceback (most recent call last):\n  File \"/opt/e5ui/x.py\"")

    with pytest.raises(gr.Error) as err:
        bad_input()
    assert err.value.message == "No such file: notes.txt"
    with caplog.at_level(logging.ERROR), pytest.raises(gr.Error) as err:
        bug()
    assert "vec.npy" in err.value.message and "/var" not in err.value.message
    assert "Traceback" not in err.value.message and "x.py" not in err.value.message
    # A web address is not a path.
    assert common.user_message("see http://127.0.0.1:8000/v1/models") == \
        "see http://127.0.0.1:8000/v1/models"


def test_no_session_reads_another_sessions_downloads(app):
    class Request:
        session_hash = "someone-else"

    _, _, _, _, files, *_ = similarity.run(app, "a\nb", request=Request(), progress=noop)
    csv = next(f for f in files if f.endswith(".csv"))
    with pytest.raises(ValueError, match="downloads cannot be read back") as err:
        app.check_upload(csv)
    assert "similarity.csv" in str(err.value) and str(app.store.root) not in str(err.value)
    with pytest.raises(gr.Error, match="downloads cannot be read back"):
        similarity.run(app, "", csv, progress=noop)


def test_a_served_app_reads_only_uploads_and_the_copies_of_its_examples(app, tmp_path,
                                                                        monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))  # gradio's upload folder
    uploaded = tmp_path / "gradio" / "ab12" / "mine.txt"
    stray = tmp_path / "gradio" / "cd34" / "theirs.txt"
    example = tmp_path / "gradio" / "ef56" / "gold.tsv"  # what an Examples button leaves
    lookalike = tmp_path / "gradio" / "0789" / "gold.tsv"
    outside = tmp_path / "elsewhere" / "gold.tsv"
    for path in (uploaded, stray, example, lookalike, outside):
        path.parent.mkdir(parents=True, exist_ok=True)
    uploaded.write_text("a\nb\n")
    stray.write_text("a\nb\n")
    gold = (ASSETS / "examples/bitext/gold.tsv").read_bytes()
    example.write_bytes(gold)
    outside.write_bytes(gold)
    lookalike.write_bytes(gold + b"0\t1\n")
    app.demo = SimpleNamespace(is_running=True, upload_file_set={str(uploaded)})
    app.check_upload(str(uploaded))
    app.check_upload(str(example))
    for path in (stray, lookalike, outside):
        with pytest.raises(ValueError, match="was not uploaded to this app") as err:
            app.check_upload(str(path), "The file given as gold_file")
        assert str(err.value).startswith(f"The file given as gold_file ({path.name})")
        assert str(tmp_path) not in str(err.value)
    uploaded.unlink()
    with pytest.raises(ValueError, match=r"\(mine.txt\) is no longer on the server"):
        app.check_upload(str(uploaded))
    app.demo = SimpleNamespace(is_running=False, upload_file_set=set())
    app.check_upload(str(outside))  # handlers called outside a running app read any path


def components():
    from e5ui.ui import params

    with gr.Blocks():
        return {
            "k": gr.Slider(1, 20, value=3, step=1),
            "threshold": gr.Number(None, minimum=-10, maximum=10),
            "cutoff": gr.Slider(-0.5, 1.0, value=0.3, step=0.01),
            "method": gr.Radio([("UMAP", "umap"), ("PCA", "pca")], value="umap"),
            "dim": params.number_radio([("2-D", 2), ("3-D", 3)], value=2),
            "second": gr.Dropdown(["small", "base"], value="small"),
            "connect": gr.Checkbox(True),
            "search": gr.Textbox("", max_lines=1),
            "lang": gr.Textbox("", max_length=8),
            "texts": gr.Textbox("", lines=6),
            "gold_file": gr.File(file_types=[".tsv", ".csv"]),
        }


@pytest.mark.parametrize(("name", "value", "message"), [
    ("k", "abc", "k must be a whole number from 1 to 20; got a text of 3 characters"),
    ("k", None, "k must be a whole number from 1 to 20; got nothing (null)"),
    ("k", 2.5, "k must be a whole number from 1 to 20; got 2.5"),
    ("k", 21, "k must be a whole number from 1 to 20; got 21"),
    ("k", True, "k must be a whole number from 1 to 20; got true"),
    ("k", float("nan"), "k must be a whole number from 1 to 20; got nan"),
    ("threshold", "abc", "threshold must be a number from -10 to 10, or nothing (null) for none"),
    ("threshold", float("inf"), "threshold must be a number from -10 to 10"),
    ("cutoff", 1.5, "cutoff must be a number from -0.5 to 1; got 1.5"),
    ("method", "tsne", "method must be one of: umap, pca; got a text of 4 characters"),
    ("method", None, "method must be one of: umap, pca; got nothing (null)"),
    ("dim", "4", "dim must be one of: 2, 3"),
    ("dim", 2.5, "dim must be one of: 2, 3; got 2.5"),
    ("second", "x" * 300, "second must be one of: small, base; got a text of 300 characters"),
    ("connect", "yes", "connect must be true or false; got a text of 3 characters"),
    ("connect", 1, "connect must be true or false; got 1"),
    ("search", "s" * 201, "search takes at most 200 characters; got 201"),
    ("lang", "en-GB-oxendict", "lang takes at most 8 characters; got 14"),
    ("texts", {"a": 1}, "texts must be text; got an object"),
    ("texts", "x" * (2**20 + 1), "texts holds more than 1 MB of text"),
    ("gold_file", "/srv/x.tsv", "gold_file must be a file uploaded to this app"),
    ("gold_file", {"url": "http://x/y.tsv"}, "gold_file must be a file uploaded to this app"),
    ("gold_file", {"path": "http://x/y.tsv"}, "not a web address"),
    ("gold_file", {"path": "notes.txt"}, "Unsupported file type '.txt' for gold_file"),
], ids=lambda v: f"{len(v)}-chars" if isinstance(v, str) and len(v) > 40 else None)
def test_the_central_check_refuses_with_a_sentence_naming_the_parameter(app, name, value,
                                                                         message):
    from e5ui.ui import params

    small = common.App(app.holder, Settings(model="fake", limits=Limits(max_upload_mb=1)),
                       app.store)
    with pytest.raises(ValueError) as err:
        params.check_value(components()[name], value, name, small)
    assert message in str(err.value) and re.search(rf"\b{name}\b", str(err.value)), err.value


def test_the_central_check_passes_what_fits(app):
    from e5ui.ui import params

    parts = components()
    accepted = [("k", 3, 3), ("k", 3.0, 3.0), ("threshold", None, None), ("threshold", -2, -2),
                ("dim", 3, 3), ("dim", "2", 2), ("method", "pca", "pca"),
                ("connect", False, False), ("search", None, None), ("texts", "a\nb", "a\nb"),
                ("second", None, None), ("gold_file", None, None)]
    for name, value, passed in accepted:
        got = params.check_value(parts[name], value, name, app)
        assert got == passed and type(got) is type(passed), name


def test_the_similarity_kind_takes_query_as_the_older_name_of_symmetric(app):
    from e5ui.ui import params

    demo = ui.build_demo(holder=app.holder)
    for api in ("similarity", "similarity_compare"):
        fn = next(f for f in demo.fns.values() if f.api_name == api)
        at = list(fn.input_parameter_names).index("kind")
        kind = fn.inputs[at]
        assert kind.api_info()["enum"] == ["symmetric", "passage"]  # the API lists the new name
        for sent, passed in [("query", "symmetric"), ("symmetric", "symmetric"),
                             ("passage", "passage")]:
            inputs = [c.value for c in fn.inputs]
            inputs[at] = sent
            assert params.check_inputs(fn, inputs, app)[at] == passed, (api, sent)
        with pytest.raises(ValueError, match="kind must be one of: symmetric, passage; got"):
            params.check_value(kind, "document", "kind", app)


def test_every_input_of_every_event_goes_through_the_central_check(app):
    from e5ui.ui import params

    demo = ui.build_demo(holder=app.holder)
    assert isinstance(demo, params.CheckedBlocks) and demo.e5ui_app.demo is demo
    known = (gr.State, gr.File, gr.Slider, gr.Number, gr.Radio, gr.Dropdown, gr.Checkbox,
             gr.Textbox)
    files = set()
    for fn in demo.fns.values():
        for component, name in zip(fn.inputs, fn.input_parameter_names, strict=True):
            # An upload's column choice is the one JSON input (params.check_value checks it).
            assert isinstance(component, known) or getattr(component, "e5ui_columns", False), (
                fn.name, name, type(component))
            if isinstance(component, gr.File) and fn.api_name:
                files.add((fn.api_name, name))
    assert files >= {("similarity", "file"), ("neighbours", "corpus_file"),
                     ("bitext", "gold_file"), ("align", "source_file"), ("align", "gold_file"),
                     ("align_review", "review_file"),
                     ("map", "file"), ("explain", "file")}
    dim = next(c for c in demo.blocks.values() if getattr(c, "label", None) == "Dimensions")
    assert dim.api_info()["type"] == "integer"


def test_phone_css_folds_all_but_the_texts_and_score():
    from e5ui import registry
    from e5ui.ui import PHONE_COLUMNS, page_css

    css = page_css()
    for elem, (view, table, keep) in PHONE_COLUMNS.items():
        header = registry.get(view).header(table)
        for i, name in enumerate(header):
            rule = f'#{elem} .body-cell[data-col="{i}"] {{ display: none'
            assert (rule in css) == (name not in keep), (elem, name)


def test_the_panel_says_what_a_faster_setting_costs():
    from e5ui.holder import ModelStatus

    line = ("openvino int8: 1.6× torch bfloat16's speed here (2.8× float32's); cosine to "
            "float32 ≥ 0.9961 for every text; 95% of top-10 neighbours unchanged")
    info = {"model": "m", "source": "bundled", "device": "cpu", "backend": "openvino",
            "dtype": "int8", "dim": 384, "max_tokens": 512, "fidelity_line": line,
            "fidelity": {"short": "1.6× torch bf16 · cos ≥ 0.9961 · top-10 95%",
                         "faithful": False}}
    text = panel.status_md(ModelStatus("ready", "bundled", info))
    import html

    title = html.escape(line, quote=True)
    assert f'bundled · <abbr title="{title}">openvino int8</abbr>' in text  # hover: the line
    assert "<summary>1.6× torch bf16 · cos ≥ 0.9961 · top-10 95%</summary>" in text
    assert line in text.split("</summary>")[1]  # the whole line, when opened
    # A faithful setting (what auto picks) keeps the header to one line: the line on hover.
    faithful = panel.status_md(ModelStatus("ready", "bundled", {
        **info, "dtype": "bfloat16", "fidelity": {"short": "s", "faithful": True}}))
    assert "<details" not in faithful and "openvino bfloat16</abbr>" in faithful
    assert f'title="{title}"' in faithful
    plain = panel.status_md(ModelStatus("ready", "bundled", {**info, "backend": "torch",
                                                             "dtype": "float32",
                                                             "fidelity_line": None}))
    assert "cpu · float32" in plain and "cosine" not in plain
    loading = panel.status_md(ModelStatus("loading", "bundled", since=0.0,
                                          step="compressing the weights to int8"))
    assert "compressing the weights to int8" in loading
