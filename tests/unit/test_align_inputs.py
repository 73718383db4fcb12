"""The Align view's inputs go through the app's limits and exact reading, as every other view's
do: sentences cut to the character limit with a note, uploads within the byte limit, language
codes that are codes, control characters and lone surrogates cleaned with a note, so the table,
the TSV and the TMX carry the same text. Through the view function, the app's handler (a fake
encoder, no server) and the command line."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import gradio as gr
import pytest

from e5ui import segment, views
from e5ui.__main__ import main
from e5ui.holder import ModelHolder
from e5ui.settings import Limits, Settings
from e5ui.ui import align, common
from tests.conftest import FakeEncoder


def noop(*args, **kwargs):
    return None


def make_app(**limits) -> common.App:
    settings = Settings(model="fake", limits=Limits(**limits))
    return common.App.for_tests(ModelHolder(settings, encoder=FakeEncoder()))


@pytest.fixture
def app(private_cache):
    return make_app()


def run(app: common.App, source: str, target: str, **kwargs) -> tuple:
    """The /align handler's answer: (summary, notes, the AlignResult, {download name: path})."""
    kwargs.setdefault("mode", "lines")
    kwargs.setdefault("source_lang", "en")
    kwargs.setdefault("target_lang", "de")
    out = align.run(app, source, target, progress=noop, **kwargs)
    _fig, summary, _metrics, _table, notes, files, result, _state = out
    return summary, notes, result, {Path(f).name: Path(f) for f in files}


def rows_of(path: Path) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    return [line.split("\t") for line in lines[1:-1]]


def tmx_segments(path: Path) -> list[list[str]]:
    return [[seg.text for seg in tu.iter("seg")] for tu in ET.parse(path).iter("tu")]


# -- 1. the character limit -----------------------------------------------------------------------
def test_a_sentence_over_the_character_limit_is_cut_with_a_note(app):
    limit = Limits().max_chars
    assert limit == 20_000
    long = "x" * 25_000
    summary, _notes, result, files = run(app, f"Short one.\n{long}\n", f"Kurz.\n{long}\n")
    assert result.source.sentences == ["Short one.", "x" * limit]
    assert result.target.sentences == ["Kurz.", "x" * limit]
    assert [n for n in result.notes if "were cut" in n] == [
        f"The {side}: 1 sentence(s) longer than 20000 characters were cut to their first "
        "20000: sentence 1 (line 2)" for side in ("source", "target")]
    assert sorted(len(r[4]) for r in rows_of(files["alignment.tsv"]) if r[4]) == [10, limit]
    assert max(len(s) for tu in tmx_segments(files["alignment.tmx"]) for s in tu) == limit


def test_the_character_limit_is_the_apps_setting(private_cache):
    app = make_app(max_chars=12)
    _summary, _notes, result, _files = run(app, "A sentence of thirty characters.\n",
                                           "Ein Satz.\n")
    assert result.source.sentences == ["A sentence o"]
    assert result.target.sentences == ["Ein Satz."]
    assert any("cut to their first 12: sentence 0 (line 1)" in n for n in result.notes)


def test_a_cut_sentence_keeps_paragraphs_lines_and_the_others():
    doc = segment.split_document("One.\n\nTwo is long. Three.", "en", "split", "doc.txt")
    cut = segment.cut_long(doc, 5)
    assert cut.sentences == ["One.", "Two i", "Three"]
    assert (cut.paragraphs, cut.lines) == (doc.paragraphs, doc.lines)
    assert cut.notes[-1].endswith("sentence 1 (line 3), sentence 2 (line 3)")
    assert segment.cut_long(doc, 100) is doc


def test_an_uploaded_document_over_the_upload_limit_is_refused(private_cache, tmp_path):
    app = make_app(max_upload_mb=1)
    big = tmp_path / "big.txt"
    big.write_text("A sentence.\n" * 100_000, encoding="utf-8")  # 1.2 MB
    assert big.stat().st_size > 2**20
    with pytest.raises(gr.Error, match="big.txt is larger than the 1 MB limit"):
        run(app, "", "Ein Satz.", source_file=str(big))


def test_a_document_file_is_decoded_as_other_inputs(tmp_path):
    path = tmp_path / "doc.txt"
    path.write_bytes("\ufeffErster Satz.\r\nZweiter Satz.\r\n".encode("utf-16-le"))
    doc = segment.read_document(path, "de", "lines")
    assert doc.sentences == ["Erster Satz.", "Zweiter Satz."]
    assert doc.notes[0] == "doc.txt was read as UTF-16 (its byte-order mark says so)."
    with pytest.raises(ValueError, match="doc.txt is larger than the 10-byte limit"):
        segment.read_document(path, "de", "lines", max_bytes=10)


# -- language codes -------------------------------------------------------------------------------
@pytest.mark.parametrize("code", ["x" * 36, "e", "en;rm -rf /", "<b>en</b>", "en\ud800",
                                  "en--US", "12", "en_", "ab-123456789"])
@pytest.mark.parametrize("side", ["source", "target"])
def test_a_language_that_is_no_code_is_refused_naming_the_parameter(app, side, code):
    with pytest.raises(gr.Error) as err:
        run(app, "One.", "Eins.", **{f"{side}_lang": code})
    message = err.value.message
    assert message.startswith(f"The {side} language ({side}_lang) must be a language code")
    assert len(message) < 300  # a long value is not echoed whole


@pytest.mark.parametrize("code, shown", [("pt-BR", "pt"), (" de-CH ", "de"),
                                         ("zh_Hant", "zh"), ("", "en")])
def test_language_codes_that_are_codes_are_taken(app, code, shown):
    summary, *_ = run(app, "The cat sleeps on the mat.", "Die Katze schläft.",
                      source_lang=code)
    assert f"({shown} → de)" in summary


def test_the_cli_checks_its_language_codes_before_any_work(tmp_path, capsys):
    src, tgt = tmp_path / "a.txt", tmp_path / "b.txt"
    src.write_text("One.\n", encoding="utf-8")
    tgt.write_text("Eins.\n", encoding="utf-8")
    assert main(["align", str(src), str(tgt), "--src-lang", "en;x", "--model", "bundled",
                 "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("e5ui: error: --src-lang must be a language code")
    assert main(["align", str(src), str(tgt), "--tgt-lang", "y" * 40, "--model", "bundled",
                 "-q"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(
        "e5ui: error: --tgt-lang must be a language code")


# -- 3. control characters and lone surrogates ----------------------------------------------------
RAW_SOURCE = "One\x01two.\nThree\x08four.\nFive\ufffesix.\nSeven eight.\n"
RAW_TARGET = "Eins\x0bzwei.\nDrei vier.\nFünf\ud800sechs.\nSieben acht.\n"
CLEAN_SOURCE = ["One two.", "Three four.", "Five\ufffdsix.", "Seven eight."]
CLEAN_TARGET = ["Eins zwei.", "Drei vier.", "Fünf\ufffdsechs.", "Sieben acht."]


def test_control_characters_and_surrogates_are_cleaned_with_a_note():
    src = segment.split_document(RAW_SOURCE, "en", "lines", "the source")
    tgt = segment.split_document(RAW_TARGET, "de", "lines", "the target")
    assert (src.sentences, tgt.sentences) == (CLEAN_SOURCE, CLEAN_TARGET)
    assert src.notes[-1].startswith("the source: 3 line(s) held control or separator "
                                    "characters")
    assert src.notes[-1].endswith("line(s) 1, 2, 3")
    assert tgt.notes[-1].endswith("line(s) 1, 3")
    split = segment.split_document("The first\x01one is here. The second\ud800one is there.",
                                   "en", "split")
    assert split.sentences == ["The first one is here.", "The second\ufffdone is there."]


def test_the_view_writes_the_same_clean_text_everywhere(fake_encoder, tmp_path):
    src = segment.split_document(RAW_SOURCE, "en", "lines", "the source")
    tgt = segment.split_document(RAW_TARGET, "de", "lines", "the target")
    result = views.align_view(fake_encoder, src, tgt, max_merge=1, threshold=None)
    check_everywhere(result, {Path(p).name: Path(p) for p in result.export(tmp_path)})


def test_the_app_handler_writes_the_same_clean_text_everywhere(app):
    _summary, notes, result, files = run(app, RAW_SOURCE, RAW_TARGET, max_merge=1)
    check_everywhere(result, files)
    assert "the source: 3 line(s) held control or separator characters" in notes
    assert "the target: 2 line(s) held control or separator characters" in notes


def check_everywhere(result: views.AlignResult, files: dict[str, Path]) -> None:
    """The table, the TSV and the TMX hold the same links, each sentence once (max_merge=1),
    every one of them the clean text, and no raw control character is left in a file."""
    table = [[r[4] or "", r[5] or ""] for r in result.table.rows]
    assert [r[4:6] for r in rows_of(files["alignment.tsv"])] == table
    assert tmx_segments(files["alignment.tmx"]) == [pair for pair in table if all(pair)]
    assert sorted(t for pair in table for t in pair if t) == sorted(CLEAN_SOURCE + CLEAN_TARGET)
    for name in ("alignment.tsv", "alignment.csv", "alignment.tmx"):
        data = files[name].read_text(encoding="utf-8")
        assert not any(ch in data for ch in "\x01\x08\x0b\ufffe"), name


def test_a_lone_surrogate_is_never_something_went_wrong(app):
    _summary, notes, result, files = run(app, "Hello \ud800 world.", "Hallo \udfff Welt.")
    assert result.source.sentences == ["Hello \ufffd world."]
    assert result.target.sentences == ["Hallo \ufffd Welt."]
    assert "U+FFFD" in notes
    tsv = files["alignment.tsv"].read_text(encoding="utf-8")
    assert "Hello \ufffd world.\tHallo \ufffd Welt." in tsv


def test_a_side_only_of_control_characters_is_empty(app):
    with pytest.raises(gr.Error, match="the source is empty"):
        run(app, "\x01\x02\n\x03", "Eins.")
