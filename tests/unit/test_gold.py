"""Gold files, for Align (links of sentence groups) and Bitext (pairs of line numbers): one
reader, reading as the input reader does (decoding, line rule, RFC 4180 quoting), every index
range-checked with the file's line, bounded in lines and bytes, and one parser of a group cell.
Through textio, the app's handlers (a fake encoder, no server) and the command line."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import pytest

from e5ui import textio
from e5ui.__main__ import main
from e5ui.analysis import alignment
from e5ui.holder import ModelHolder
from e5ui.settings import Settings
from e5ui.ui import align, bitext, common
from tests.conftest import FakeEncoder

HEADER = "src_indices\ttgt_indices\n"


def noop(*args, **kwargs):
    return None


@pytest.fixture
def app(private_cache):
    return common.App.for_tests(ModelHolder(Settings(model="fake"), encoder=FakeEncoder()))


def gold_file(tmp_path: Path, text: str, name: str = "gold.tsv", encoding: str = "utf-8"
              ) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def run_align(app, gold: Path):
    """The /align handler on two 2-sentence documents with a gold file: its metrics line."""
    out = align.run(app, "One.\nTwo.", "Eins.\nZwei.", mode="lines", source_lang="en",
                    target_lang="de", gold_file=str(gold), progress=noop)
    return out[2]


def run_bitext(app, gold: Path):
    out = bitext.run(app, "one\ntwo\n\nthree", "two\nthree\none", gold_file=str(gold),
                     progress=noop)
    return out[3]


# -- links (align) --------------------------------------------------------------------------------
def test_links_are_read_as_inputs_are(tmp_path):
    text = ('\ufefftgt_indices\tnote\tsrc_indices\r\n'
            '0\tmerge\t"0,1"\r\n'
            '\r\n'
            '\tomitted\t2\r\n'
            '1,2\t"a ""quoted"" note"\t3\r\n')
    expected = [((0, 1), (0,)), ((2,), ()), ((3,), (1, 2))]
    for encoding in ("utf-8", "utf-16-le", "utf-32-be"):
        path = gold_file(tmp_path, text, encoding=encoding)
        assert textio.read_links(path, n_src=4, n_tgt=3) == expected, encoding
    csv = gold_file(tmp_path, 'src_indices,tgt_indices\n"0,1",0\n2,\n', "gold.csv")
    assert textio.read_links(csv) == [((0, 1), (0,)), ((2,), ())]
    headerless = gold_file(tmp_path, "0\t0\n1,2\t1\n", "plain.tsv")
    assert textio.read_links(headerless, n_src=3, n_tgt=2) == [((0,), (0,)), ((1, 2), (1,))]


@pytest.mark.parametrize("row, message", [
    ("99\t1", "gold.tsv line 3: source sentence 99 is out of range: the source has 2 "
              "sentence(s), numbered from 0 to 1"),
    ("1\t0,2", "gold.tsv line 3: target sentence 2 is out of range: the target has 2 "
               "sentence(s), numbered from 0 to 1"),
])
def test_a_link_past_a_document_is_refused_with_its_line(tmp_path, row, message):
    path = gold_file(tmp_path, f"{HEADER}0\t0\n{row}\n")
    with pytest.raises(ValueError) as err:
        textio.read_links(path, n_src=2, n_tgt=2)
    assert str(err.value) == message


def test_the_align_handler_refuses_gold_past_the_documents(app, tmp_path):
    with pytest.raises(gr.Error, match="gold.tsv line 3: source sentence 99 is out of range"):
        run_align(app, gold_file(tmp_path, f"{HEADER}0\t0\n99\t1\n"))
    assert "strict precision 1.000 · recall 1.000" in run_align(
        app, gold_file(tmp_path, f"{HEADER}0\t0\n1\t1\n"))


def test_the_view_refuses_gold_links_past_the_documents_before_encoding(fake_encoder):
    from e5ui import segment, views

    src = segment.split_document("One.\nTwo.", "en", "lines")
    tgt = segment.split_document("Eins.\nZwei.", "de", "lines")
    with pytest.raises(ValueError, match="Gold link 2 points at target sentence 5, but the "
                       "target has 2 sentence"):
        views.align_view(fake_encoder, src, tgt, gold=[((0,), (0,)), ((1,), (5,))])
    assert fake_encoder.calls == 0


def test_a_long_gold_file_stops_at_the_links_the_documents_can_have(tmp_path):
    # Two sentences a side make at most 4 links (each link takes a sentence): reading stops
    # at the fifth, however long the file is.
    path = gold_file(tmp_path, HEADER + "0\t0\n" * 200_000)
    with pytest.raises(ValueError) as err:
        textio.read_links(path, n_src=2, n_tgt=2)
    assert str(err.value) == ("gold.tsv has more than 4 links (at line 6): the 2 source and 2 "
                              "target sentences can form at most 4 links")
    blank = gold_file(tmp_path, HEADER + "0\t0\n" + "\n" * 200_000)
    with pytest.raises(ValueError, match="gold.tsv holds more than 4 blank lines"):
        textio.read_links(blank, n_src=2, n_tgt=2)


def test_the_align_handler_bounds_gold_in_lines_and_bytes(private_cache, tmp_path):
    from e5ui.settings import Limits

    small = common.App.for_tests(ModelHolder(
        Settings(model="fake", limits=Limits(max_upload_mb=1)), encoder=FakeEncoder()))
    with pytest.raises(gr.Error, match="more than 4 links"):
        run_align(small, gold_file(tmp_path, HEADER + "0\t0\n" * 100_000))  # 0.4 MB
    with pytest.raises(gr.Error, match="gold.tsv is larger than the 1 MB limit"):
        run_align(small, gold_file(tmp_path, HEADER + "0\t0\n" * 300_000))  # 1.2 MB


def test_a_huge_cell_is_a_message_naming_its_line(app, tmp_path):
    # Over csv's field limit (131,072 characters), which gave a raw csv error.
    path = gold_file(tmp_path, f"{HEADER}0\t0\n{'1' * 200_000}\t1\n")
    with pytest.raises(ValueError) as err:
        textio.read_links(path, n_src=2, n_tgt=2)
    message = str(err.value)
    assert message.startswith("gold.tsv line 3: a cell of 200,000 characters cannot be the "
                              "indices of one link") and len(message) < 200
    with pytest.raises(gr.Error) as err:
        run_align(app, path)
    assert err.value.message == message


@pytest.mark.parametrize("cell", ["3,,4", "3,", ",3", " , "])
def test_one_parser_refuses_an_empty_index(tmp_path, cell):
    with pytest.raises(ValueError) as direct:
        alignment.parse_group(cell)
    assert str(direct.value).startswith("an empty index between commas")
    path = gold_file(tmp_path, f"{HEADER}0\t0\n{cell}\t1\n")
    with pytest.raises(ValueError) as read:
        textio.read_links(path)
    assert str(read.value) == f"gold.tsv line 3: {direct.value}"


@pytest.mark.parametrize("cell, message", [
    ("3;4", "not a list of comma-separated sentence indices: '3;4'"),
    ("-1", "sentence indices must be 0 or more: '-1'"),
    ("٣", "not a list of comma-separated sentence indices: '٣'"),
    ("1_000", "not a list of comma-separated sentence indices: '1_000'"),
    ("9" * 30, "not a list of comma-separated sentence indices: '" + "9" * 30 + "'"),
])
def test_a_cell_that_is_no_indices_is_refused(cell, message):
    with pytest.raises(ValueError) as err:
        alignment.parse_group(cell)
    assert str(err.value) == message


def test_a_file_without_the_columns_says_what_it_needs(tmp_path):
    path = gold_file(tmp_path, "source\ttarget\n0\t0\n")
    with pytest.raises(ValueError, match="gold links need 'src_indices' and 'tgt_indices' "
                       "columns .*found: 'source', 'target'"):
        textio.read_links(path)
    with pytest.raises(ValueError, match="holds no gold links"):
        textio.read_links(gold_file(tmp_path, HEADER + "\n\n"))


def test_the_cli_range_checks_align_gold(tmp_path, capsys):
    src, tgt = tmp_path / "a.txt", tmp_path / "b.txt"
    src.write_text("One.\nTwo.\n", encoding="utf-8")
    tgt.write_text("Eins.\nZwei.\n", encoding="utf-8")
    gold = gold_file(tmp_path, f"{HEADER}0\t0\n99\t1\n")
    # Refused after reading the documents and before loading any model.
    assert main(["align", str(src), str(tgt), "--lines", "--src-lang", "en", "--tgt-lang",
                 "de", "--gold", str(gold), "--model", "no-such-model", "-q"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "e5ui: error: gold.tsv line 3: source sentence 99 is out of range: the source has 2 "
        "sentence(s), numbered from 0 to 1")


# -- pairs (bitext) -------------------------------------------------------------------------------
def test_pairs_are_read_by_the_same_reader(tmp_path):
    source = textio.parse_lines("one\ntwo\n\nthree")
    target = textio.parse_lines("two\nthree\none")
    path = gold_file(tmp_path, '\ufeffsrc_index\ttgt_index\r\n"0"\t2\r\n\r\n3\t1\r\n',
                     encoding="utf-16-le")
    assert textio.read_gold(path, source=source, target=target) == [(0, 2), (3, 1)]
    headerless = gold_file(tmp_path, "0,2\n1,0\n", "plain.csv")
    assert textio.read_gold(headerless) == [(0, 2), (1, 0)]


def test_a_pair_at_a_line_without_a_sentence_names_the_gold_line(app, tmp_path):
    path = gold_file(tmp_path, "src_index\ttgt_index\n0\t2\n2\t1\n")  # source line 2 is blank
    message = ("gold.tsv line 3: source index 2 points at a line without a sentence: the "
               "source list has 3 sentence(s) (gold pairs use 0-based line numbers, blank lines "
               "counted)")
    with pytest.raises(gr.Error) as err:
        run_bitext(app, path)
    assert err.value.message == message
    far = gold_file(tmp_path, "src_index\ttgt_index\n0\t2\n1\t99\n")
    with pytest.raises(gr.Error, match="gold.tsv line 3: target index 99 points at a line"):
        run_bitext(app, far)
    assert "P@1" in run_bitext(app, gold_file(tmp_path, "src_index\ttgt_index\n0\t2\n3\t1\n"))


@pytest.mark.parametrize("rows, message", [
    ("0\t0\n" * 50_000, "gold.tsv has more than 6 pairs (at line 8): a gold file lists at "
                        "most as many pairs as the two lists have sentences (6)"),
    (f"0\t{'1' * 200_000}\n", "gold.tsv line 2: a cell of 200,000 characters cannot be the "
                              "indices of one pair"),
    ("0,1\t2\n", "gold.tsv line 2: '0,1' is not one 0-based line number"),
    ("0\t\n", "gold.tsv line 2: a gold pair needs a line number on both sides"),
])
def test_bitext_gold_is_bounded_and_checked(app, tmp_path, rows, message):
    path = gold_file(tmp_path, "src_index\ttgt_index\n" + rows)
    with pytest.raises(gr.Error) as err:
        run_bitext(app, path)
    assert err.value.message.startswith(message) and len(err.value.message) < 300
