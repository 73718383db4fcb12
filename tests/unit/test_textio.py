"""Reading inputs: formats, blank rows reported (never dropped silently), clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from e5ui import textio


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


def test_missing_text_column(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text("sentence,lang\nhi,en\n")
    with pytest.raises(ValueError, match="'text' column.*'sentence'"):
        textio.read_texts(p)


def test_too_many_fields(tmp_path):
    p = tmp_path / "in.tsv"
    p.write_text("text\tlang\na\ten\tEXTRA\n")
    with pytest.raises(ValueError, match="row 1 has 3 fields"):
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


def test_write_npy(tmp_path):
    arr = np.arange(6, dtype=np.float64).reshape(2, 3)
    out = textio.write_npy(tmp_path / "e.npy", arr)
    back = np.load(out)
    assert back.dtype == np.float32 and back.shape == (2, 3)
    with pytest.raises(ValueError, match=".npy"):
        textio.write_npy(tmp_path / "e.csv", arr)


def test_read_input_limits_and_messages():
    with pytest.raises(ValueError, match="empty"):
        textio.read_input("\n \n", None, "text list", 10, 100)
    with pytest.raises(ValueError, match="at most 2"):
        textio.read_input("a\nb\nc", None, "text list", 2, 100)
    with pytest.raises(ValueError, match=r"over 100 characters \(line 2\)"):
        textio.read_input("a\n" + "x" * 101, None, "text list", 10, 100)
    corpus = textio.read_input("a\n\nb", None, "text list", 10, 100)
    assert corpus.texts == ["a", "b"] and corpus.skipped == [1]
