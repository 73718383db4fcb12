"""The app's view logic without a browser or a model: background loading and the views."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from e5ui import service, similarity, textio
from tests.conftest import ASSETS, FakeEncoder


def settings(**kw):
    return service.Settings(model="fake", **kw)


def test_requests_wait_for_a_loading_model():
    gate = threading.Event()

    def factory(model, settings, cache):
        gate.wait(5)
        return FakeEncoder(model=model)

    holder = service.ModelHolder(settings(), factory=factory)
    assert holder.status().state == "idle"
    holder.start()
    assert holder.status().state == "loading"
    ticks = []
    threading.Timer(1.5, gate.set).start()
    enc = holder.wait(tick=ticks.append)
    assert enc.model == "fake" and ticks and holder.status().state == "ready"


def test_wait_starts_an_idle_holder():
    holder = service.ModelHolder(settings(), factory=lambda m, s, c: FakeEncoder(model=m))
    assert holder.wait().model == "fake"


def test_a_failed_load_is_a_message_not_a_crash():
    def factory(model, settings, cache):
        raise RuntimeError("disk on fire")

    holder = service.ModelHolder(settings(), factory=factory)
    holder.start()
    with pytest.raises(ValueError, match="could not be loaded: disk on fire"):
        holder.wait()
    assert holder.status().state == "failed"


def test_switching_keeps_serving_the_old_model_if_the_new_one_fails():
    calls = []

    def factory(model, settings, cache):
        calls.append(model)
        if model == "broken":
            raise RuntimeError("no such model")
        return FakeEncoder(model=model)

    holder = service.ModelHolder(settings(), factory=factory)
    first = holder.wait()
    holder.start("broken")
    deadline = time.time() + 5
    while holder.status().state == "loading" and time.time() < deadline:
        time.sleep(0.05)
    status = holder.status()
    assert status.state == "failed" and "no such model" in status.error
    assert holder.wait() is first  # still usable


def test_read_input_limits_and_messages(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        service.read_input("\n \n", None, "text list")
    with pytest.raises(ValueError, match="at most 2"):
        service.read_input("a\nb\nc", None, "text list", limit=2)
    with pytest.raises(ValueError, match="over 20000 characters"):
        service.read_input("x" * 20001, None, "text list")
    corpus = service.read_input("a\n\nb", None, "text list")
    assert corpus.texts == ["a", "b"] and corpus.skipped == [1]


def baseline_for(enc):
    return similarity.baseline_from_embeddings(enc.encode([f"t{i}" for i in range(40)]), "fake")


def test_similarity_view_small_and_aggregated(fake_encoder):
    base = baseline_for(fake_encoder)
    corpus = textio.parse_lines("\n".join(f"text {i}" for i in range(12)))
    view = service.similarity_view(fake_encoder, base, corpus, "cluster")
    assert view.figure.data[0].type == "heatmap"
    assert len(view.top_pairs) == 15 and view.summary.startswith("12 texts")
    assert sorted(p.rsplit("/", 1)[-1] for p in view.files) == [
        "embeddings.npy", "heatmap.html", "similarity.csv"]
    big = textio.parse_lines("\n".join(f"text {i}" for i in range(600)))
    view = service.similarity_view(fake_encoder, base, big, "cluster")
    assert view.figure.data[0].type == "heatmap"
    assert len(view.figure.data[0].z) < 100  # clusters, not 600 x 600 cells
    assert any("clusters" in n for n in view.notes)


def test_truncation_and_blank_lines_are_listed(fake_encoder):
    from e5ui.encoder import EncodeResult, Truncation

    corpus = textio.parse_lines("a\n\nb")
    result = EncodeResult(np.zeros((2, 4), np.float32), [Truncation(1, 900, 512)])
    notes = service.notes_for(corpus, result, 512, "Input")
    assert any("blank line" in n for n in notes)
    assert any("line 3 (900 tokens)" in n and "truncated" in n for n in notes)


def test_bitext_view_with_gold(fake_encoder, tmp_path):
    src = textio.parse_lines("one\ntwo\nthree")
    tgt = textio.parse_lines("two\nthree\none")  # the fake encodes equal texts equally
    gold = tmp_path / "gold.tsv"
    gold.write_text("src_index\ttgt_index\n0\t2\n1\t0\n2\t1\n")
    view = service.bitext_view(fake_encoder, src, tgt, gold_file=str(gold))
    assert view.evaluation.p_at_1 == 1.0 and len(view.table) == 3
    assert sorted(p.rsplit(".", 1)[-1] for p in view.files) == ["csv", "tmx", "tsv"]
    bad = tmp_path / "bad.tsv"
    bad.write_text("0\t7\n")
    with pytest.raises(ValueError, match="points at a line"):
        service.bitext_view(fake_encoder, src, tgt, gold_file=str(bad))


def test_neighbours_view_flags_and_filters(fake_encoder):
    base = baseline_for(fake_encoder)
    q = textio.parse_table("text\tlang\nhello\ten\nhallo\tde\n", "\t")
    c = textio.parse_table("text\tlang\nworld\ten\nwelt\tde\nmonde\tfr\n", "\t")
    view = service.neighbours_view(fake_encoder, base, q, c, k=2, cross_lingual=True)
    assert all(a != b for a, b in (r.split(" → ") for r in view.table["langs"]))
    with pytest.raises(ValueError, match="between 1 and 100"):
        service.neighbours_view(fake_encoder, base, q, c, k=0)


def test_map_view_and_redraw(fake_encoder):
    corpus = textio.read_texts(ASSETS / "examples/one_meaning_ten_languages.tsv")
    data = service.map_input(fake_encoder, corpus)
    view = service.map_view(data, "pca", 2, search="train")
    assert view.projection.method == "pca" and "neighbour preservation" in view.summary
    assert any("matching text" in n for n in view.notes)
    fig, notes = service.map_figure(data, view.projection, "label", False, "")
    assert any("no `label` column" in n for n in notes)


def test_explain_and_pair_score(fake_encoder):
    base = baseline_for(fake_encoder)
    view = service.explain_view(fake_encoder, base, None)
    assert "unrelated pairs" in view.summary and "Your" not in view.summary
    one = service.explain_view(fake_encoder, base, textio.parse_lines("only one"))
    assert "Your" not in one.summary and "at least two" in one.notes[0]
    score = service.pair_score(fake_encoder, base, "a", "a")
    assert score.raw == pytest.approx(1.0, abs=1e-6) and score.percentile == 1.0
    with pytest.raises(ValueError, match="both boxes"):
        service.pair_score(fake_encoder, base, "a", " ")


def test_report_needs_a_view():
    with pytest.raises(ValueError, match="run at least one view"):
        service.report([], None)
