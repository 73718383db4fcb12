"""The review step of the Align tab without a browser: edits written as text (the
/align_review endpoint's ``edits`` and the form's Apply), all or nothing; the reading view's
rows (order, sides, colour, status); edited links boxed on the path figure; the TMX of the
approved links; the tab's handlers refusing an invalid edit with one message."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import gradio as gr
import numpy as np
import pytest

from e5ui import segment, views
from e5ui.ui import align as align_ui
from e5ui.ui import align_review
from e5ui.views.align import parse_edits
from tests.conftest import ASSETS, FakeEncoder

EX = ASSETS / "examples" / "align"


@pytest.fixture
def result():
    docs = segment.read_document(EX / "source.txt"), segment.read_document(EX / "target.txt")
    return views.align_view(FakeEncoder(), *docs)


def pair_at(result, after=-1):
    return next(k for k, x in enumerate(result.alignment.links)
                if not x.is_omission and k > after)


def state(result):
    return [(x.src, x.tgt, x.status) for x in result.alignment.links]


@pytest.mark.parametrize("text, expected", [
    ("accept 3", [("accept", 3, (), (), False)]),
    ("break 0; merge 2\n\nsplit 4", [("break", 0, (), (), False), ("merge", 2, (), (), False),
                                      ("split", 4, (), (), False)]),
    ("split 4 1 0", [("split", 4, (1,), (0,), False)]),
    ("relink 5 6,7", [("relink", None, (5,), (6, 7), False)]),
    ("RELINK 5,6 7 release", [("relink", None, (5, 6), (7,), True)]),
    ("", []),
])
def test_edits_parse(text, expected):
    assert [(e.action, e.link, e.src, e.tgt, e.release) for e in parse_edits(text)] == expected


@pytest.mark.parametrize("text, words", [
    ("move 3", "Unknown edit 'move'"), ("accept", "is not an edit"),
    ("accept x", "not a list"), ("accept 1,2", "one 0-based number"),
    ("relink 5", "relink takes"), ("split 2 1", "is not an edit"),
    ("break -1", "0 or more"),
])
def test_malformed_edits_are_one_sentence(text, words):
    with pytest.raises(ValueError, match=re.escape(words)):
        parse_edits(text)


def test_edits_apply_in_turn_all_or_nothing(result):
    k = pair_at(result)
    link = result.alignment.links[k]
    done = result.edited(f"accept {k}; break {k}")
    # Reference: the same two edits through the result's own methods.
    assert state(done) == state(result.accept(k).break_link(k))
    before = state(result)
    with pytest.raises(ValueError, match=r"^Edit 2 \(relink 0 999\): .*out of range.*"
                                         r"Nothing was changed\.$"):
        result.edited(f"break {k}; relink 0 999")
    assert state(result) == before
    # A single edit's message names the edit, not its place.
    with pytest.raises(ValueError, match=r"^relink .* already linked"):
        other = pair_at(result, k)
        result.edited(f"relink {link.src[0]} {result.alignment.links[other].tgt[0]}")


def test_reading_view_rows(result):
    edited = result.break_link(pair_at(result))
    order = edited.doubt_order
    page = align_review.reading_html(edited, "doubt")
    rows = re.findall(r'<tr class="al-r-(\w+) al-s-(\w+)" data-link="(\d+)"', page)
    assert [int(k) for *_, k in rows] == order
    assert [int(k) for *_, k in re.findall(
        r'<tr class="al-r-(\w+) al-s-(\w+)" data-link="(\d+)"',
        align_review.reading_html(edited, "document"))] == list(range(len(order)))
    for band, status, k in rows:
        link = edited.alignment.links[int(k)]
        assert status == link.status
        assert (band == "omit") == link.is_omission
        if link.low_confidence:
            assert band == "low"
    # A merge's sentences in one cell, the empty side of an omission a dash.
    merge = next(x for x in edited.alignment.links if len(x.src) == 2)
    both = "<br>".join(edited.source.sentences[i] for i in merge.src)
    assert both.replace("'", "&#x27;") in page or both in page
    assert '<td class="al-r-empty">—</td>' in page
    assert "Align two documents" in align_review.reading_html(None)


def test_texts_are_escaped_in_the_reading_view():
    src = segment.split_document("<b>bold</b> & more.\nSecond one.", "en", "lines")
    tgt = segment.split_document("<i>fett</i> & mehr.\nZweiter.", "de", "lines")
    page = align_review.reading_html(views.align_view(FakeEncoder(), src, tgt))
    assert "<b>bold" not in page and "&lt;b&gt;bold&lt;/b&gt; &amp; more." in page


def test_edited_links_are_boxed_on_the_path(result):
    links = result.alignment.links
    k = next(k for k in range(len(links) - 1)
             if links[k].type == links[k + 1].type == "1-1")
    a, b = links[k].src[0], links[k + 1].tgt[0]
    fig = result.break_link(k).relink([a], [b], release=True).figure
    boxes = [(s.x0, s.x1, s.y0, s.y1) for s in fig.layout.shapes if s.name == "edited"]
    assert boxes == [(b - 0.5, b + 0.5, a - 0.5, a + 0.5)]
    assert not [s for s in result.figure.layout.shapes if s.name == "edited"]


def test_approved_only_tmx_holds_the_reviewed_links(result, tmp_path):
    k = pair_at(result)
    files = result.accept(k).export(tmp_path, approved_only=True)
    tmx = next(f for f in files if f.endswith(".tmx"))
    statuses = [p.text for p in ET.parse(tmx).iter("prop") if p.get("type") == "x-status"]
    assert statuses == ["accepted"]
    (tmp_path / "all").mkdir()
    everything = result.export(tmp_path / "all")
    assert len([p for p in ET.parse(everything[2]).iter("prop")
                if p.get("type") == "x-status"]) == len(result.alignment.pairs)


class _App:
    """The parts of ui.common.App the edit handler uses."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.settings = type("S", (), {"limits": type("L", (), {"max_rows_shown": 10_000})})

    def encoder(self, progress):
        return FakeEncoder()

    def folder(self, request, view):
        path = self.tmp_path / view
        path.mkdir(exist_ok=True)
        return path


@pytest.mark.parametrize("form, words", [
    (("relink", None, "0", ""), "Re-link needs"),
    (("break", None, "", ""), "link's number"),
    (("relink", None, "0", "999"), "out of range"),
])
def test_the_form_refuses_with_one_message(result, tmp_path, form, words):
    before = state(result)
    with pytest.raises(gr.Error, match=re.escape(words)):
        align_ui.edit(_App(tmp_path), result, *form)
    assert state(result) == before


def test_the_form_needs_an_alignment(tmp_path):
    with pytest.raises(gr.Error, match="Align two documents first"):
        align_ui.edit(_App(tmp_path), None, "accept", 0, "", "")


def test_edit_line_from_the_form():
    assert align_review.edit_line("break", 3.0, "", "") == "break 3"
    assert align_review.edit_line("relink", None, " 3 ", "4,5", True) == "relink 3 4,5 release"
    with pytest.raises(ValueError, match="whole number"):
        align_review.edit_line("accept", 2.5, "", "")


def test_a_resumed_review_reads_as_it_was(result, tmp_path):
    """The reading view of a saved and resumed review is the one the reviewer left (the
    file keeps no cosines: 1-1 links get theirs from the sentences' vectors again)."""
    links = result.alignment.links
    k = next(k for k in range(len(links) - 1) if links[k].type == links[k + 1].type == "1-1")
    edited = result.break_link(k).relink(links[k].src, links[k + 1].tgt, release=True)
    back = views.resume_review(result, edited.write(tmp_path / "review.tsv"))
    for sort in ("doubt", "document"):
        assert align_review.reading_html(back, sort) == align_review.reading_html(edited, sort)


def test_candidates_offer_the_nearest_targets_to_pick(result, tmp_path):
    update = align_review.candidates(_App(tmp_path), result, "2")
    values = [value for _label, value in update["choices"]]
    assert len(values) == align_review.CANDIDATES
    # Reference: the single target sentences by cosine with source sentence 2 (numpy).
    a = result.alignment
    cos = a.tgt_vectors.astype("float64") @ a.src_vectors[2].astype("float64")
    best = str(int(np.argmax(cos)))
    assert best in values
    linked = next(x.tgt for x in a.links if 2 in x.src)
    shown = [label for label, value in update["choices"]
             if value == ",".join(map(str, linked))]
    assert all("(linked now)" in label for label in shown)
    with pytest.raises(gr.Error, match="one source sentence"):
        align_review.candidates(_App(tmp_path), result, "2,3")


def test_the_hover_gives_a_link_cosine_its_percentile_among_unrelated_pairs(result):
    """With the model's baseline (the app sets it), each row's hover says where the link's
    cosine falls among unrelated pairs: the share of the baseline's cosines at or below it,
    counted here with numpy."""
    import dataclasses
    import html as html_module

    from e5ui.analysis.calibration import Baseline

    unrelated = np.random.default_rng(3).uniform(-0.2, 1.0, 2000).astype(np.float32)
    with_baseline = dataclasses.replace(result, baseline=Baseline("test", unrelated))
    page = html_module.unescape(align_review.reading_html(with_baseline, "document"))
    assert "unrelated" not in html_module.unescape(align_review.reading_html(result))
    checked = 0
    for k, link in enumerate(result.alignment.links):
        if np.isnan(link.cosine):
            continue
        share = float((unrelated <= np.float32(link.cosine)).mean())
        hover = re.search(rf'data-link="{k}" title="([^"]*)"', page).group(1)
        assert f"higher than {views.fmt_pct(share)} of the model's unrelated" in hover, hover
        checked += 1
    assert checked >= 3
