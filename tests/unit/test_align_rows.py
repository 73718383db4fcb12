"""Align reads a .parquet / .jsonl / .csv document one unit per row of its text column, never
split: the same segments give the same alignment as when they are given as text, one per line,
through the view (the app's handler) and the command line."""

from __future__ import annotations

import json
from pathlib import Path

import gradio as gr
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from e5ui import segment
from e5ui.__main__ import main
from e5ui.holder import ModelHolder
from e5ui.settings import Limits, Settings
from e5ui.ui import align, common
from tests.conftest import ASSETS


def noop(*args, **kwargs):
    return None


@pytest.fixture(scope="module")
def segments() -> tuple[list[str], list[str]]:
    """The bundled example pair, split into sentences as Align splits it."""
    folder = ASSETS / "examples/align"
    src = segment.split_document((folder / "source.txt").read_text(encoding="utf-8"), "en")
    tgt = segment.split_document((folder / "target.txt").read_text(encoding="utf-8"), "de")
    return src.sentences, tgt.sentences


def write_parquet(path: Path, texts: list[str], column: str = "text") -> Path:
    pq.write_table(pa.table({"id": [str(i) for i in range(len(texts))], column: texts}), path)
    return path


def write_jsonl(path: Path, texts: list[str], column: str = "text") -> Path:
    path.write_text("".join(json.dumps({column: t}, ensure_ascii=False) + "\n" for t in texts),
                    encoding="utf-8")
    return path


def write_lines(path: Path, texts: list[str]) -> Path:
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return path


def links(result) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    return [(link.src, link.tgt) for link in result.alignment.links]


def test_a_row_file_is_read_one_unit_a_row_never_split(tmp_path):
    texts = ["Dr. Smith came. He left.", "  Two   spaces  ", "Third."]
    for path in (write_parquet(tmp_path / "a.parquet", texts),
                 write_jsonl(tmp_path / "a.jsonl", texts)):
        doc = segment.read_document(path, "en", "split")
        assert doc.sentences == ["Dr. Smith came. He left.", "Two spaces", "Third."]
        assert doc.paragraphs == [0, 0, 0] and doc.where(2) == "row 3"
        assert "one per row of its text column, not split into sentences" in doc.notes[0]
    csv = tmp_path / "a.csv"
    csv.write_text("sentence,lang\nOne. Two.,en\nThree.,en\n", encoding="utf-8")
    with pytest.raises(ValueError, match="has no 'text' column; its columns are: 'sentence'"):
        segment.read_document(csv, "en")
    assert segment.read_document(csv, "en", text_column="sentence").sentences == [
        "One. Two.", "Three."]
    with pytest.raises(ValueError, match="more than 2 texts"):
        segment.read_document(write_jsonl(tmp_path / "b.jsonl", texts), "en", max_units=2)


def test_the_view_aligns_rows_as_it_aligns_the_same_segments_given_as_lines(
        segments, bundled_encoder, private_cache, tmp_path):
    src, tgt = segments
    app = common.App.for_tests(ModelHolder(Settings(model="bundled", limits=Limits()),
                                           encoder=bundled_encoder))
    out = align.run(app, "\n".join(src), "\n".join(tgt), mode="lines", source_lang="en",
                    target_lang="de", progress=noop)
    as_lines = out[6]
    out = align.run(app, "", "", write_parquet(tmp_path / "s.parquet", src),
                    write_jsonl(tmp_path / "t.jsonl", tgt), mode="split", source_lang="en",
                    target_lang="de", progress=noop)
    as_rows, notes = out[6], out[4]
    assert links(as_rows) == links(as_lines)
    assert [link.score for link in as_rows.alignment.links] == pytest.approx(
        [link.score for link in as_lines.alignment.links], nan_ok=True)
    assert {i for link in links(as_rows) for i in link[0]} == set(range(len(src)))
    assert "not split into sentences" in notes
    small = common.App.for_tests(ModelHolder(Settings(model="bundled",
                                                      limits=Limits(max_side=len(src) - 1)),
                                             encoder=bundled_encoder))
    with pytest.raises(gr.Error, match=f"more than {len(src) - 1} texts"):
        align.run(small, "", "", write_parquet(tmp_path / "s2.parquet", src),
                  write_jsonl(tmp_path / "t2.jsonl", tgt), progress=noop)


def test_the_command_line_aligns_rows_as_it_aligns_lines(segments, bundled_encoder, tmp_path,
                                                          monkeypatch, private_cache):
    import e5ui.__main__ as cli

    monkeypatch.setattr(cli, "_encoder", lambda args: bundled_encoder)
    src, tgt = segments
    lines_out, rows_out = tmp_path / "lines.tsv", tmp_path / "rows.tsv"
    assert main(["align", str(write_lines(tmp_path / "s.txt", src)),
                 str(write_lines(tmp_path / "t.txt", tgt)), "--lines", "--src-lang", "en",
                 "--tgt-lang", "de", "--out", str(lines_out), "-q"]) == 0
    assert main(["align", str(write_parquet(tmp_path / "s.parquet", src, "sentence")),
                 str(write_jsonl(tmp_path / "t.jsonl", tgt, "sentence")),
                 "--text-column", "sentence", "--src-lang", "en", "--tgt-lang", "de",
                 "--out", str(rows_out), "-q"]) == 0
    assert rows_out.read_text(encoding="utf-8") == lines_out.read_text(encoding="utf-8")
    assert len(rows_out.read_text(encoding="utf-8").splitlines()) > len(src) // 2
