"""Reading inputs exactly (formats, quotes, control characters, zero-width lines, BOMs, limits;
blank rows reported, never dropped silently; clear errors) and writing safe exports (formula
neutralisation, quoting, the matrix writer); textio stays the lowest layer."""

from __future__ import annotations

import ast
import csv
import io
import re
import tracemalloc
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from e5ui import textio
from e5ui.analysis.bitext import Matching, Pair
from e5ui.views.bitext import BitextResult


def read_back(path, delimiter=None):
    """Rows of an export as the csv module reads them (an independent reader)."""
    delimiter = delimiter or ("\t" if str(path).endswith(".tsv") else ",")
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


# -- reading: formats ---------------------------------------------------------------------------
def test_txt_lines_with_bom_and_blank_lines(tmp_path):
    p = tmp_path / "in.txt"
    p.write_bytes("\ufeffone\n\n  two  \r\nthree\n".encode())
    c = textio.read_texts(p)
    assert c.texts == ["one", "two", "three"]
    assert c.rows == [0, 2, 3]
    assert c.skipped == [1]
    assert "skipped 1 blank line" in c.notes()[0]
    assert c.where(1) == "line 3" and c.names() == ["1", "3", "4"]


def test_csv_with_optional_columns(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text('id,Text,lang,label\n1,"Hello, world",en,greet\n2,,de,x\n3,Hallo,de,greet\n')
    c = textio.read_texts(p)
    assert c.texts == ["Hello, world", "Hallo"]
    assert c.langs == ["en", "de"] and c.labels == ["greet", "greet"] and c.ids == ["1", "3"]
    assert c.rows == [0, 2] and c.skipped == [1]
    assert c.where(1) == "row 3" and "skipped 1 blank row" in c.notes()[0]
    assert c.names() == ["1", "3"]  # the id column wins over labels and row numbers


def test_tsv_and_multiline_quoted_cell(tmp_path):
    p = tmp_path / "in.tsv"
    p.write_text('text\tlang\n"line one\nline two"\ten\nsolo\n')
    c = textio.read_texts(p)
    assert c.texts == ["line one\nline two", "solo"]
    assert c.langs == ["en", ""]
    assert c.rows == [0, 1]
    # A quoted cell that spans lines is never merged silently.
    assert any("row 1 (lines 2–3)" in n for n in c.notes())


def test_missing_text_column(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("sentence,lang\nhi,en\n")
    with pytest.raises(ValueError, match="'text' column.*'sentence'"):
        textio.read_texts(p)


def test_too_many_fields(tmp_path):
    p = tmp_path / "in.tsv"
    p.write_text("text\tlang\na\ten\tEXTRA\n")
    with pytest.raises(ValueError, match="row 1 has 3 fields.*line 2"):
        textio.read_texts(p)


def test_not_utf8(tmp_path):
    p = tmp_path / "in.txt"
    p.write_bytes(b"ok\nbad \xff byte\n")
    with pytest.raises(ValueError, match="not UTF-8.*line 2"):
        textio.read_texts(p)


def test_unsupported_and_missing(tmp_path):
    with pytest.raises(ValueError, match="Unsupported file type"):
        (tmp_path / "x.docx").write_text("x")
        textio.read_texts(tmp_path / "x.docx")
    with pytest.raises(ValueError, match="No such file"):
        textio.read_texts(tmp_path / "nope.txt")
    with pytest.raises(ValueError, match="directory"):
        textio.read_texts(tmp_path)


def test_empty_inputs():
    assert textio.parse_lines("").texts == []
    with pytest.raises(ValueError, match="contains no text"):
        textio.require_texts(textio.parse_lines("\n \n"))
    with pytest.raises(ValueError, match="empty"):
        textio.parse_table("", ",")


# -- reading: quotes (issue 8, failure 3) --------------------------------------------------------
def test_tsv_stray_quote_does_not_swallow_rows(tmp_path):
    p = tmp_path / "in.tsv"
    p.write_text('text\tlang\n"Hello, he said\ten\nsecond\ten\nthird\tde\n'
                 'fourth with a "quote"\ten\nfifth\tfr\n')
    c = textio.read_texts(p)
    assert c.texts == ['"Hello, he said', "second", "third", 'fourth with a "quote"', "fifth"]
    assert c.langs == ["en", "en", "de", "en", "fr"] and c.rows == [0, 1, 2, 3, 4]
    assert not any("span" in n for n in c.notes())


def test_quote_not_closing_a_field_is_literal():
    # A closing quote must be followed by the delimiter or the end of the line; otherwise the
    # quote is text (and the field ends at the next delimiter, on its own line).
    c = textio.parse_table('text\tlang\n"Stop!" she said\ten\nnext\tde\n', "\t")
    assert c.texts == ['"Stop!" she said', "next"] and c.langs == ["en", "de"]
    # In a CSV the literal quote's field ends at the next comma: too many fields, said clearly.
    with pytest.raises(ValueError, match="data row 1 has 3 fields"):
        textio.parse_table('text,lang\n"unclosed, start,en\nnext,de\n', ",")


def test_csv_stray_quote_reads_row_by_row():
    c = textio.parse_table('text,lang\n"unclosed start,en\nnext,de\nlast,fr\n', ",")
    assert c.texts == ['"unclosed start', "next", "last"]
    assert c.langs == ["en", "de", "fr"] and c.rows == [0, 1, 2]


def test_csv_rfc4180_quoted_fields():
    c = textio.parse_table('text,lang\n"Hello, world",en\n"He said ""hi""",en\n'
                           '"two\r\nlines, here",de\n  "padded" ,fr\nlast,fr\n', ",",
                           source="in.csv")
    assert c.texts == ["Hello, world", 'He said "hi"', "two\nlines, here", "padded", "last"]
    assert c.langs == ["en", "en", "de", "fr", "fr"]
    assert c.rows == [0, 1, 2, 3, 4]
    notes = " ".join(c.notes())
    assert "in.csv" in notes and "row 3 (lines 4–5)" in notes


def test_tsv_quoted_cell_with_tab_and_r_style_quoting():
    # R's write.table and QUOTE_ALL writers quote every string.
    c = textio.parse_table('"text"\t"lang"\n"a\tb"\t"en"\n"plain"\t"de"\n', "\t")
    assert c.texts == ["a\tb", "plain"] and c.langs == ["en", "de"]


def test_unclosed_quote_at_end_of_file_is_literal():
    c = textio.parse_table('text\tlang\nfirst\ten\n"never closed\tde\n', "\t")
    assert c.texts == ["first", '"never closed'] and c.langs == ["en", "de"]


# -- reading: control characters (failure 4) ----------------------------------------------------
CONTROLS = ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def test_control_characters_never_split_lines(tmp_path):
    lines = [f"sentence {i} with{ch}a break" for i, ch in enumerate(CONTROLS)]
    p = tmp_path / "in.txt"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    c = textio.read_texts(p)
    assert len(c) == 8 and c.rows == list(range(8))
    assert c.texts == [f"sentence {i} with a break" for i in range(8)]
    assert c.changed == list(range(8))
    assert any("8 text(s)" in n for n in c.notes())
    # A gold file of 0-based line numbers keeps pointing at the right sentences.
    assert c.texts[c.rows.index(5)].startswith("sentence 5")


def test_control_characters_in_table_cells():
    c = textio.parse_table("text\tlang\na\u2028b\ten\nc\x0bd\tde\nplain\tfr\n", "\t")
    assert c.texts == ["a b", "c d", "plain"] and c.rows == [0, 1, 2] and c.changed == [0, 1]


def test_only_newline_and_crlf_end_a_line():
    c = textio.parse_lines("a\rb\nc\r\nd\r\r\ne")
    assert c.texts == ["a b", "c", "d", "e"] and c.rows == [0, 1, 2, 3]
    assert c.changed == [0]  # the trailing "\r" of "d\r\r\n" is whitespace at the end


def test_other_c0_controls_and_surrogates_are_replaced():
    c = textio.parse_lines("nul\x00here\nbell\x07\nlone \ud800 surrogate\nnon\uffffchar")
    assert c.texts == ["nul here", "bell", "lone \ufffd surrogate", "non\ufffdchar"]


def test_tabs_inside_a_line_are_kept():
    assert textio.parse_lines("a\tb\n").texts == ["a\tb"]


# -- reading: zero-width characters and BOMs (failure 5) -----------------------------------------
def test_zero_width_only_lines_are_blank():
    text = "a\n\u200b\n\u200c\u200d\n\u2060 \n\ufeff\n \u200b \nb\n"
    c = textio.parse_lines(text)
    assert c.texts == ["a", "b"] and c.rows == [0, 6] and c.skipped == [1, 2, 3, 4, 5]
    assert "skipped 5 blank line" in c.notes()[0]


def test_zero_width_joiners_inside_text_are_kept():
    persian = "می\u200cخواهم"  # ZWNJ inside a Persian word
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # ZWJ emoji sequence
    hindi = "क्\u200dष"
    c = textio.parse_lines(f"{persian}\n{family}\n{hindi}\n\u200bedge\u200b\n")
    assert c.texts == [persian, family, hindi, "edge"]
    assert c.changed == []


def test_zero_width_cell_in_table_is_blank():
    c = textio.parse_table("text\tlang\n\u200b\ten\nreal\tde\n", "\t")
    assert c.texts == ["real"] and c.skipped == [0] and c.rows == [1]


def test_bom_inside_text_is_removed(tmp_path):
    p = tmp_path / "cat.txt"  # two UTF-8 files with BOMs, concatenated
    p.write_bytes("\ufeffone\ntwo\n".encode() + "\ufeffthree\nfo\ufeffur\n".encode())
    c = textio.read_texts(p)
    assert c.texts == ["one", "two", "three", "four"]
    assert c.changed == [3]  # at a line's start it is an invisible edge, trimmed like spaces


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_with_bom_are_decoded(tmp_path, encoding):
    p = tmp_path / "excel.tsv"  # Excel's "Unicode text" export: UTF-16 LE with a BOM, tabs
    p.write_bytes("\ufefftext\tlang\r\nHallo Welt\tde\r\n日本語\tja\r\n".encode(encoding))
    c = textio.read_texts(p)
    assert c.texts == ["Hallo Welt", "日本語"] and c.langs == ["de", "ja"]
    label = encoding[:6].upper()
    assert c.encoding == label and any(f"read as {label}" in n for n in c.notes())


def test_utf16_without_bom_is_refused_clearly(tmp_path):
    p = tmp_path / "in.txt"
    p.write_bytes("one\ntwo\n".encode("utf-16-le"))
    with pytest.raises(ValueError, match="UTF-16 without a byte-order mark.*UTF-8"):
        textio.read_texts(p)


def test_binary_file_is_refused(tmp_path):
    p = tmp_path / "in.txt"
    p.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(ValueError, match="binary"):
        textio.read_texts(p)


def test_invalid_utf16_names_the_line(tmp_path):
    p = tmp_path / "in.txt"
    p.write_bytes("\ufeffone\ntwo\n".encode("utf-16-le") + b"\x00\xd8x\x00")  # lone surrogate
    with pytest.raises(ValueError, match="not valid UTF-16.*line 3"):
        textio.read_texts(p)


# -- reading: streaming and limits ---------------------------------------------------------------
def test_chunk_boundaries_do_not_change_what_is_read(tmp_path, monkeypatch):
    text = "".join(f"é{i}\r\nmot\u2028{i}\n\u200b\n" for i in range(50)) + "日本\r"
    p = tmp_path / "in.txt"
    p.write_bytes(text.encode())
    whole = textio.read_texts(p)
    for size in (1, 2, 3, 7):
        monkeypatch.setattr(textio.decode, "CHUNK_BYTES", size)
        c = textio.read_texts(p)
        assert (c.texts, c.rows, c.skipped, c.changed) == (
            whole.texts, whole.rows, whole.skipped, whole.changed)
    assert len(whole) == 101 and whole.texts[-1] == "日本"


def test_invalid_utf8_after_the_first_chunk_names_its_line(tmp_path, monkeypatch):
    monkeypatch.setattr(textio.decode, "CHUNK_BYTES", 64)
    p = tmp_path / "in.txt"
    p.write_bytes(b"".join(b"line %d\n" % i for i in range(500)) + b"bad \xc3( here\n")
    with pytest.raises(ValueError, match="line 501"):
        textio.read_texts(p)


def test_text_limit_stops_reading_early(tmp_path):
    p = tmp_path / "big.txt"
    # Invalid UTF-8 at the end: a reader that reads the whole file reports that instead.
    p.write_bytes(b"".join(b"text %d\n" % i for i in range(200_000)) + b"\xff\n")
    with pytest.raises(ValueError, match=r"big.txt has more than 5000 texts.*at most 5000"):
        textio.read_texts(p, max_texts=5000)
    small = tmp_path / "three.txt"
    small.write_text("a\n\nb\nc\n")
    assert len(textio.read_texts(small, max_texts=3)) == 3  # at the limit is fine


def test_text_limit_keeps_memory_bounded(tmp_path):
    p = tmp_path / "big.tsv"
    p.write_bytes(b"text\tlang\n" + b"".join(b"text %d\ten\n" % i for i in range(600_000)))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more than 100 texts"):
            textio.read_texts(p, max_texts=100)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert p.stat().st_size > 8 * 2**20 and peak < 4 * 2**20


def test_byte_limit(tmp_path):
    p = tmp_path / "in.txt"
    p.write_bytes(b"x" * 1000 + b"\n")
    with pytest.raises(ValueError, match=r"in.txt is larger than the 1000-byte limit"):
        textio.read_texts(p, max_bytes=1000)
    assert textio.read_texts(p, max_bytes=1001).texts == ["x" * 1000]
    assert len(textio.read_texts(p, max_bytes=None)) == 1


def test_byte_limit_while_streaming():
    # A stream whose size is not known beforehand (a pipe) stops at the limit.
    handle = io.BytesIO(b"abc\n" * 1000)
    with pytest.raises(ValueError, match="pipe is larger than the 1 KB limit"):
        list(textio.read_chunks(handle, "pipe", max_bytes=1024))
    assert handle.tell() <= 1025


def test_read_input_limits_and_messages():
    with pytest.raises(ValueError, match="empty"):
        textio.read_input("\n \n", None, "text list", 10, 100)
    with pytest.raises(ValueError, match="at most 2"):
        textio.read_input("a\nb\nc", None, "text list", 2, 100)
    with pytest.raises(ValueError, match=r"over 100 characters \(line 2\)"):
        textio.read_input("a\n" + "x" * 101, None, "text list", 10, 100)
    corpus = textio.read_input("a\n\nb", None, "text list", 10, 100)
    assert corpus.texts == ["a", "b"] and corpus.skipped == [1]


def test_read_input_file_limits(tmp_path):
    p = tmp_path / "up.txt"
    p.write_text("a\nb\nc\n")
    with pytest.raises(ValueError, match="at most 2"):
        textio.read_input("", str(p), "corpus", 2, 100)
    with pytest.raises(ValueError, match="larger than"):
        textio.read_input("", str(p), "corpus", 10, 100, max_bytes=3)


def test_read_input_cuts_long_texts_when_asked():
    corpus = textio.read_input("short\n" + "y" * 30 + "\n", None, "text list", 10, 20, cut=True)
    assert corpus.texts == ["short", "y" * 20]
    assert any("1 text(s) longer than 20 characters were cut" in n and "line 2" in n
               for n in corpus.notes())


def test_gold_file_limits_and_encodings(tmp_path):
    p = tmp_path / "gold.tsv"
    p.write_bytes("\ufeffsrc_index\ttgt_index\r\n0\t2\r\n1\t0\r\n".encode("utf-16-le"))
    assert textio.read_gold(p) == [(0, 2), (1, 0)]
    with pytest.raises(ValueError, match="larger than the 10-byte limit"):
        textio.read_gold(p, max_bytes=10)


def test_parse_limits():
    with pytest.raises(ValueError, match="more than 1 texts"):
        textio.parse_table("text\na\nb\n", ",", max_texts=1)
    assert textio.parse_lines("a\n\n\nb", max_texts=2).texts == ["a", "b"]


# -- exports --------------------------------------------------------------------------------------
def test_write_npy(tmp_path):
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    out = textio.write_npy(tmp_path / "e.npy", arr)
    back = np.load(out)
    assert back.dtype == np.float32 and back.shape == (2, 3)
    with pytest.raises(ValueError, match=".npy"):
        textio.write_npy(tmp_path / "e.csv", arr)


FORMULAS = ["=1+1", "+SUM(A1)", "-2+3", "@cmd", "\tlead", "\rlead", "\nlead",
            "=HYPERLINK(\"http://x\",\"y\")"]


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_formula_cells_are_neutralised(tmp_path, suffix):
    rows = [[i, -0.125, float("nan"), None, text] for i, text in enumerate(FORMULAS)]
    rows.append([-3, np.float32(-0.5), np.int64(-7), "-3", "safe 'text'"])
    back = read_back(textio.write_rows(tmp_path / f"t{suffix}", ["i", "s", "n", "x", "text"],
                                       rows))
    assert back[0] == ["i", "s", "n", "x", "text"]
    assert [r[4] for r in back[1:-1]] == ["'" + t for t in FORMULAS]
    # Numbers e5ui writes stay numbers: a negative score is not text to neutralise.
    assert back[1][:4] == ["0", "-0.125000", "", ""]
    assert back[-1] == ["-3", "-0.500000", "-7", "-3", "safe 'text'"]


def test_bare_cr_in_a_cell_is_quoted(tmp_path):
    rows = [["a\rb", 'say "hi"'], ["two\nlines", "c\r\nd"]]
    out = textio.write_rows(tmp_path / "t.csv", ["x", "y"], rows)
    assert read_back(out) == [["x", "y"], *rows]  # two rows read back as two, not four
    assert b'"a\rb"' in out.read_bytes()


def test_write_rows_single_empty_cell_row(tmp_path):
    out = textio.write_rows(tmp_path / "t.csv", ["x"], [[""], [None], ["a"]])
    assert read_back(out) == [["x"], [""], [""], ["a"]]


def _reference_matrix_bytes(matrix, labels, delimiter):
    """Today's format, written independently: csv module, 6 decimals."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator="\n")
    w.writerow(["", *labels])
    for label, row in zip(labels, matrix):
        w.writerow([label, *(f"{float(v):.6f}" for v in row)])
    return buf.getvalue().encode()


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_matrix_same_bytes_as_before(tmp_path, suffix):
    rng = np.random.default_rng(0)
    m = rng.uniform(-1, 1, (7, 7)).astype(np.float32)
    m[0, 1], m[1, 0], m[2, 2] = -0.0, np.nan, 1.0
    labels = ["1 · en", "Hello, world · en", 'say "x" · de', "日本 · ja", "a\tb · xx", "6", "7"]
    out = textio.write_matrix(tmp_path / f"m{suffix}", m, labels)
    assert out.read_bytes() == _reference_matrix_bytes(m, labels, "\t" if suffix == ".tsv"
                                                        else ",")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matrix_fast_format_matches_percent_format(tmp_path, monkeypatch, dtype):
    monkeypatch.setattr(textio.tables, "MATRIX_BLOCK_CELLS", 40)  # several blocks of 3 rows
    rng = np.random.default_rng(1)
    m = rng.uniform(-1, 1, (13, 13)).astype(np.float32)
    m[0, :8] = [1 / 128, -1 / 128, 3 / 128, -0.0, -1e-9, 1.0, -1.0, 0.0000005]  # ties, signs
    m[4, 4] = 9.9999999  # rounds to 10.000000: another integer digit
    m[7, 2] = np.inf
    m[9, 9] = 123.456
    m = m.astype(dtype)
    labels = [f"t{i}" for i in range(13)]
    out = textio.write_matrix(tmp_path / "m.csv", m, labels)
    assert out.read_bytes() == _reference_matrix_bytes(m, labels, ",")
    assert "0.007812" in out.read_text() and "-0.000000" in out.read_text()


def test_matrix_labels_neutralised_and_read_back(tmp_path):
    labels = ["=cmd · en", "-1 · de", "a\rb · fr", "+x · en"]
    m = np.eye(4, dtype=np.float32) * -0.25
    back = read_back(textio.write_matrix(tmp_path / "m.csv", m, labels))
    assert back[0] == ["", "'=cmd · en", "'-1 · de", "a\rb · fr", "'+x · en"]
    assert [r[0] for r in back[1:]] == back[0][1:]
    assert back[1][1] == "-0.250000" and back[1][2] == "-0.000000"
    assert len(back) == 5


def test_empty_matrix(tmp_path):
    out = textio.write_matrix(tmp_path / "m.csv", np.zeros((0, 0), np.float32), [])
    assert read_back(out) == [[""]]


def _pairs_fixture():
    src = textio.parse_lines("=1+1\n\n-minus\nplain")
    tgt = textio.parse_lines("@at\n+plus\ntab\there")
    matching = Matching([Pair(0, 1, -0.5, 0.75), Pair(1, 0, 0.25, -0.125),
                         Pair(2, 2, 0.5, 0.5)])
    return matching, src, tgt


def test_write_pairs_tsv_neutralised_tmx_exact(tmp_path):
    matching, src, tgt = _pairs_fixture()
    result = BitextResult(src, tgt, matching, ["en"] * 3, ["de"] * 3, None, [])
    back = read_back(result.write(tmp_path / "p.tsv"))
    assert back[0] == ["src_index", "tgt_index", "score", "cosine", "source", "target",
                       "status"]
    assert back[1] == ["0", "1", "-0.500000", "0.750000", "'=1+1", "'+plus", "auto"]
    assert back[2] == ["2", "0", "0.250000", "-0.125000", "'-minus", "'@at", "auto"]
    assert back[3][4:] == ["plain", "tab\there", "auto"]
    # Read back as a review: line numbers (a blank line skipped) map to the same sentences,
    # neutralised texts match their originals.
    pairs = textio.read_bitext_review(tmp_path / "p.tsv", src, tgt)
    assert [(p.src, p.tgt, p.status) for p in pairs] == [(0, 1, "auto"), (1, 0, "auto"),
                                                         (2, 2, "auto")]
    out = result.write(tmp_path / "p.tmx")
    segs = [seg.text for seg in ET.parse(out).iter("seg")]
    assert segs == ["=1+1", "+plus", "-minus", "@at", "plain", "tab\there"]


def test_neutralise():
    assert textio.neutralise("=x") == "'=x" and textio.neutralise("x=") == "x="
    assert textio.neutralise("-0.5") == "-0.5" and textio.neutralise("+1e-3") == "+1e-3"
    assert textio.neutralise("-1-1") == "'-1-1" and textio.neutralise("") == ""
    assert textio.neutralise("'=x") == "'=x"  # already text for a spreadsheet


def test_whitespace_constant_matches_python():
    import sys

    spaces = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert spaces == set(textio.WHITESPACE)


def test_pasted_tsv_with_a_text_header_is_a_table():
    pasted = "text\tlang\tid\nThe cat sleeps.\ten\tm1\nDie Katze schläft.\tde\tm1\n"
    corpus = textio.read_input(pasted, None, "text list", 10, 100)
    assert corpus.texts == ["The cat sleeps.", "Die Katze schläft."]
    assert corpus.langs == ["en", "de"] and corpus.ids == ["m1", "m1"] and corpus.table
    # One text per line stays that, even with tabs inside, unless the first line is a header.
    plain = textio.read_input("text\nno header here\ta tab", None, "text list", 10, 100)
    assert plain.texts == ["text", "no header here\ta tab"] and not plain.table
    assert textio.is_pasted_table("\n\ntext\tlabel\nx\ty") and not textio.is_pasted_table("")


def test_projector_metadata_is_neutralised_and_keeps_one_line_per_text(tmp_path):
    rows = [[0, "=1+1", "@label", "-3", None], [1, "\t=cmd", "tab\there", "+x\ny", "-0.5"]]
    textio.write_projector(tmp_path, np.eye(2, dtype=np.float32), ["index", "text", "label",
                                                                    "id", "lang"], rows)
    lines = (tmp_path / "metadata.tsv").read_text(encoding="utf-8").split("\n")
    assert lines == ["index\ttext\tlabel\tid\tlang",
                     "0\t'=1+1\t'@label\t-3\t",
                     "1\t' =cmd\ttab here\t'+x y\t-0.5",
                     ""]


@pytest.mark.parametrize("header", [
    ["text", "id", "text"],
    ["Text", "label", " TEXT "],
    ["text", "label", "Label"],
    ["id", "text", "lang", "ID"],
])
def test_a_header_naming_a_read_column_twice_is_refused_everywhere(tmp_path, header):
    # Which of two 'text' columns holds the texts is a guess: every reader refuses, naming the
    # column, its positions and the file or box.
    twice = next(h.strip().lower() for h in header
                 if [x.strip().lower() for x in header].count(h.strip().lower()) > 1)
    rows = [header, [f"cell {k}" for k in range(len(header))]]
    for delimiter, suffix in ((",", ".csv"), ("\t", ".tsv")):
        path = tmp_path / f"dup{suffix}"
        with open(path, "w", encoding="utf-8", newline="") as f:
            csv.writer(f, delimiter=delimiter).writerows(rows)
        readers = [lambda: textio.read_texts(path),
                   lambda: next(textio.stream_texts(path, chunk=1)),
                   lambda: textio.read_input(None, str(path), "corpus", 10, 100)]
        for read in readers:
            with pytest.raises(ValueError, match=f"'{twice}' in columns") as err:
                read()
            assert path.name in str(err.value)
    pasted = "\n".join("\t".join(row) for row in rows)
    with pytest.raises(ValueError, match=f"^text list: .*'{twice}' in columns") as err:
        textio.read_input(pasted, None, "text list", 10, 100)
    with pytest.raises(ValueError, match=f"'{twice}' in columns"):
        textio.parse_pasted(pasted, "box")


def test_repeated_columns_that_are_never_read_are_left_alone():
    corpus = textio.parse_table("text,note,note,,\nhello,a,b,,\n", ",")
    assert corpus.texts == ["hello"]


# -- layering -------------------------------------------------------------------------------------
def _e5ui_imports(path) -> set[str]:
    """The e5ui modules a file imports, at its top or inside a function."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {name for name in names if name.split(".")[0] == "e5ui"}


def test_textio_is_the_lowest_layer():
    # textio reads and writes files: it names no view, encoder or UI, and not the package
    # facade either (which offers the encoder and the cache), only itself, the version and the
    # pure analysis (gold indices are parsed by alignment.parse_group).
    init = Path(textio.__file__)
    files = sorted(init.parent.glob("*.py")) if init.name == "__init__.py" else [init]
    allowed = ("e5ui.textio", "e5ui._version", "e5ui.analysis")
    for path in files:
        for name in _e5ui_imports(path):
            assert name.startswith(allowed), f"{path.name} imports {name}"


def test_tmx_names_the_package_version(tmp_path):
    pyproject = (Path(__file__).parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "(.+)"', pyproject, re.M).group(1)
    out = textio.write_tmx_units(tmp_path / "m.tmx", [], "en")
    assert ET.parse(out).find("header").get("creationtoolversion") == version
