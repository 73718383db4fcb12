"""Fuzzing ``textio`` (issue 8): arbitrary text and bytes never raise anything but the
documented ValueError, lines are counted as ``wc -l`` counts them, and every row e5ui's exports
write reads back (with the csv module, and with textio where it applies) to the same texts, up
to the documented formula neutralisation (one leading ``'``)."""

from __future__ import annotations

import csv
import re
import unicodedata
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from e5ui import textio
from e5ui.analysis.bitext import Matching, Pair
from e5ui.views.bitext import BitextResult

# Bounded for a shared 2-core machine: the whole file runs in well under 30 s.
FUZZ = settings(max_examples=120, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
FEW = settings(FUZZ, max_examples=50)

# Characters that have broken readers and writers: quotes, delimiters, every line-break-like
# control, zero-width characters, BOMs, formula starts, surrogates and non-characters.
NASTY = ['"', "'", ",", "\t", "\n", "\r", "\r\n", "\f", "\v", "\x1c", "\x1d", "\x1e", "\x1f",
         "\x85", "\u2028", "\u2029", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "=",
         "+", "-", "@", " ", "\x00", "\x07", "\x7f", "\x9f", "\ud800", "\udfff", "\uffff",
         "é", "日本", "\u05e9\u05dc\u05d5\u05dd", "<script>", "&amp;", "1", "-0.5"]
CHARS = st.one_of(st.sampled_from(NASTY), st.characters())
TEXT = st.lists(CHARS, max_size=40).map("".join)
LINE_TEXT = st.lists(CHARS, max_size=12).map("".join)
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
FORMULA = "=+-@\t\r\n"
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def physical_lines(text: str) -> list[str]:
    """Lines as ``wc -l`` / ``sed -n`` count them: split on LF, one CR before it dropped."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def expected_text(raw: str) -> str:
    """The documented reading of one line or cell, written independently of textio with
    unicodedata: controls (but tab and newline) and U+2028/U+2029 become spaces, U+FEFF goes,
    surrogates and U+FFFE/U+FFFF become U+FFFD, whitespace and zero-width characters are
    trimmed at the ends."""
    out = []
    for ch in raw:
        cat = unicodedata.category(ch)
        if ch == "\ufeff":
            continue
        if (cat == "Cc" and ch not in "\t\n") or ch in "\u2028\u2029":
            out.append(" ")
        elif cat == "Cs" or ch in "\ufffe\uffff":
            out.append("\ufffd")
        else:
            out.append(ch)
    text = "".join(out)
    while text and (text[0].isspace() or text[0] in ZERO_WIDTH):
        text = text[1:]
    while text and (text[-1].isspace() or text[-1] in ZERO_WIDTH):
        text = text[:-1]
    return text


def unneutralise(cell: str, original: str) -> str:
    """A written cell back to its text: the one ``'`` added before a formula start goes (and
    the original's lone surrogates, which UTF-8 cannot hold, are compared as U+FFFD)."""
    original = re.sub("[\ud800-\udfff]", "\ufffd", original)
    if original[:1] and original[0] in FORMULA and not NUMBER.fullmatch(original):
        assert cell == "'" + original
        return cell[1:]
    return cell


def written(text: str) -> str:
    return re.sub("[\ud800-\udfff]", "\ufffd", text)


def read_back(path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t" if str(path).endswith(".tsv") else ","))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """One folder for the module: a fresh folder per example would cost more than the test."""
    return tmp_path_factory.mktemp("fuzz")


# -- reading ------------------------------------------------------------------------------------
@FUZZ
@given(TEXT)
def test_parse_lines_reads_every_line_exactly(text):
    corpus = textio.parse_lines(text)
    lines = physical_lines(text)
    expected = [(i, expected_text(line)) for i, line in enumerate(lines)]
    assert list(zip(corpus.rows, corpus.texts)) == [(i, t) for i, t in expected if t]
    assert corpus.skipped == [i for i, t in expected if not t]
    for t in corpus.texts:
        t.encode("utf-8")  # every text can be written
        assert "\n" not in t and "\r" not in t


@FUZZ
@given(st.lists(LINE_TEXT, max_size=8), st.sampled_from([",", "\t"]))
def test_parse_table_raises_only_value_error(cells, delimiter):
    text = "text" + delimiter + "lang\n" + "\n".join(cells)
    try:
        corpus = textio.parse_table(text, delimiter)
    except ValueError as exc:
        assert str(exc)
        return
    assert len(corpus.texts) == len(corpus.rows) == len(corpus.langs)
    assert not set(corpus.rows) & set(corpus.skipped)
    assert corpus.rows == sorted(corpus.rows) and corpus.skipped == sorted(corpus.skipped)
    assert all(t and t == t.strip() for t in corpus.texts)


@FUZZ
@given(TEXT, st.sampled_from([",", "\t"]))
def test_parse_table_any_text(text, delimiter):
    """Any text either parses into aligned columns of non-empty texts or is refused with a
    ValueError (a message for the user), never another exception."""
    try:
        corpus = textio.parse_table(text, delimiter)
    except ValueError as exc:
        assert str(exc)
        return
    n = len(corpus.texts)
    assert n == len(corpus.rows) and all(t.strip() for t in corpus.texts)
    for column in (corpus.labels, corpus.langs, corpus.ids):
        assert not column or len(column) == n


def _encoded(text: str, how: str) -> bytes:
    safe = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if how == "utf-8":
        return safe.encode("utf-8")
    if how == "utf-8-sig":
        return safe.encode("utf-8-sig")
    return safe.encode(how)  # "utf-16" / "utf-32" write a BOM


@FEW
@given(st.one_of(st.binary(max_size=200),
                 st.tuples(TEXT, st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"])
                           ).map(lambda t: _encoded(*t))),
       st.sampled_from([".txt", ".csv", ".tsv"]), st.integers(1, 64))
def test_read_texts_raises_only_value_error(folder, data, suffix, chunk):
    path = folder / f"in{suffix}"
    path.write_bytes(data)
    old = textio.decode.CHUNK_BYTES
    textio.decode.CHUNK_BYTES = chunk  # chunk boundaries anywhere, BOMs and CR LF split included
    try:
        corpus = textio.read_texts(path, max_texts=1000, max_bytes=10_000)
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    finally:
        textio.decode.CHUNK_BYTES = old
    if suffix == ".txt":
        whole = textio.parse_lines(data.decode(_codec(data)))
        assert (corpus.texts, corpus.rows, corpus.skipped) == (whole.texts, whole.rows,
                                                                 whole.skipped)


def _codec(data: bytes) -> str:
    for bom, codec in ((b"\xff\xfe\x00\x00", "utf-32"), (b"\x00\x00\xfe\xff", "utf-32"),
                       (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            return codec
    return "utf-8-sig"


# -- round trips: what e5ui writes reads back -----------------------------------------------------
CELL = st.one_of(TEXT, st.integers(-10**6, 10**6), st.floats(-10, 10, allow_nan=False),
                 st.none())


@FUZZ
@given(st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=6),
       st.sampled_from([".csv", ".tsv"]))
def test_write_rows_round_trip(folder, rows, suffix):
    path = folder / f"t{suffix}"
    textio.write_rows(path, ["a", "b", "c"], rows)
    back = read_back(path)
    assert back[0] == ["a", "b", "c"] and len(back) == len(rows) + 1
    for row, got in zip(rows, back[1:]):
        for value, cell in zip(row, got):
            if value is None:
                assert cell == ""
            elif isinstance(value, float):
                assert cell == f"{value:.6f}"
            elif isinstance(value, int):
                assert cell == str(value)
            else:
                assert unneutralise(cell, value) == written(value)


def _tidy_texts(raw: list[str]) -> list[str]:
    """What a Corpus holds: texts as textio reads them from cells (line breaks kept)."""
    return [t for t in (expected_text(r) for r in raw) if t]


@FUZZ
@given(st.lists(TEXT, min_size=1, max_size=6), st.sampled_from([".csv", ".tsv"]))
def test_textio_reads_back_what_it_wrote(folder, raw, suffix):
    texts = _tidy_texts(raw)
    path = folder / f"t{suffix}"
    textio.write_rows(path, ["index", "text", "lang"], [[i, t, "xx"] for i, t in
                                                        enumerate(texts)])
    corpus = textio.read_texts(path)
    assert [unneutralise(c, t) for c, t in zip(corpus.texts, texts)] == texts
    assert corpus.rows == list(range(len(texts))) and corpus.langs == ["xx"] * len(texts)
    assert corpus.changed == [] and corpus.skipped == []
    assert len(corpus.spans) == sum("\n" in t for t in texts)  # each one noted


@FEW
@given(st.lists(TEXT, min_size=0, max_size=5), st.sampled_from([".csv", ".tsv"]))
def test_write_matrix_round_trip(folder, labels, suffix):
    rng = np.random.default_rng(len(labels))
    m = rng.uniform(-1, 1, (len(labels), len(labels))).astype(np.float32)
    path = folder / f"m{suffix}"
    back = read_back(textio.write_matrix(path, m, labels))
    assert len(back) == len(labels) + 1
    assert [unneutralise(c, t) for c, t in zip(back[0][1:], labels)] == list(map(written, labels))
    assert [unneutralise(r[0], t) for r, t in zip(back[1:], labels)] == list(map(written, labels))
    for row, values in zip(back[1:], m):
        assert [float(x) for x in row[1:]] == [round(float(v), 6) for v in values]


@FEW
@given(st.lists(LINE_TEXT, min_size=1, max_size=6), st.lists(LINE_TEXT, min_size=1, max_size=6),
       st.sampled_from([".csv", ".tsv", ".tmx"]))
def test_write_pairs_round_trip(folder, src_lines, tgt_lines, suffix):
    src = textio.parse_lines("\n".join(["anchor"] + src_lines))
    tgt = textio.parse_lines("\n".join(["anchor"] + tgt_lines))
    pairs = [Pair(i, j, -0.5 + 0.1 * i, 0.25 - 0.1 * j)
             for i, j in zip(range(len(src)), range(len(tgt) - 1, -1, -1))]
    path = folder / f"p{suffix}"
    BitextResult(src, tgt, Matching(pairs), ["en"] * len(src), ["de"] * len(tgt), None,
                 []).write(path)
    if suffix == ".tmx":
        segs = [seg.text or "" for seg in ET.parse(path).iter("seg")]
        assert segs == [t for p in pairs for t in (src.texts[p.src], tgt.texts[p.tgt])]
        return
    back = read_back(path)
    assert back[0] == ["src_index", "tgt_index", "score", "cosine", "source", "target",
                       "status"]
    assert len(back) == len(pairs) + 1
    for p, row in zip(pairs, back[1:]):
        assert [int(row[0]), int(row[1])] == [src.rows[p.src], tgt.rows[p.tgt]]
        assert row[6] == "auto"  # nobody reviewed these pairs
        assert unneutralise(row[4], src.texts[p.src]) == src.texts[p.src]
        assert unneutralise(row[5], tgt.texts[p.tgt]) == tgt.texts[p.tgt]
