"""JSON Lines and Parquet inputs, and the column flags: files written here with json.dumps and
pyarrow directly, read with e5ui, compared with what the test wrote; the same rules as the other
formats (blank rows listed, control characters tidied, limits that stop reading)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from e5ui import textio
from e5ui.textio import TooManyTexts

# (text, lang, label, id) rows; None: a JSON null / Parquet null.
ROWS = [
    ("The cat sleeps.", "en", "animals", "a1"),
    ("Die Katze schläft.", "de", "animals", "a2"),
    (None, "en", "x", "blank-null"),
    ("   \u200b ", "fr", "x", "blank-space"),
    ("Le chat dort.", None, "animals", "a3"),
    ("tab\x0cform feed", "en", None, None),
    ("猫が寝ている。", "ja", "animals", "a5"),
]


def expected(rows):
    """What any e5ui reader gives for these rows, computed by hand: blank texts skipped, a form
    feed made a space, a null cell an empty string."""
    kept = [(i, r) for i, r in enumerate(rows) if r[0] and r[0].strip(" \u200b")]
    return {
        "texts": [r[0].replace("\x0c", " ") for _, r in kept],
        "langs": [r[1] or "" for _, r in kept],
        "labels": [r[2] or "" for _, r in kept],
        "ids": [r[3] or "" for _, r in kept],
        "rows": [i for i, _ in kept],
        "skipped": [i for i, r in enumerate(rows) if (i, r) not in kept],
        "changed": [i for i, r in kept if "\x0c" in r[0]],
    }


def got(corpus):
    return {"texts": corpus.texts, "langs": corpus.langs, "labels": corpus.labels,
            "ids": corpus.ids, "rows": corpus.rows, "skipped": corpus.skipped,
            "changed": corpus.changed}


def write_parquet(path, rows, names=("text", "lang", "label", "id"), **kwargs):
    columns = {name: [r[k] for r in rows] for k, name in enumerate(names)}
    table = pa.table({**columns, "embedding": [[0.5, -0.5]] * len(rows)})
    pq.write_table(table, path, **kwargs)
    return path


def write_jsonl(path, rows, names=("text", "lang", "label", "id"), *, blank_lines=(),
                ascii_only=True, bom=False):
    lines = [json.dumps({n: v for n, v in zip(names, r, strict=True) if v is not None},
                        ensure_ascii=ascii_only) for r in rows]
    for at in blank_lines:
        lines.insert(at, "  ")
    path.write_text(("\ufeff" if bom else "") + "\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- round trips ---------------------------------------------------------------------------------
@pytest.mark.parametrize("ascii_only, bom", [(True, False), (False, True)])
def test_jsonl_round_trip(tmp_path, ascii_only, bom):
    corpus = textio.read_texts(write_jsonl(tmp_path / "in.jsonl", ROWS, ascii_only=ascii_only,
                                           bom=bom))
    assert got(corpus) == expected(ROWS)
    assert corpus.where(1) == "line 2" and not corpus.table
    notes = " ".join(corpus.notes())
    assert "skipped 2 blank line(s): 3, 4" in notes and "line(s) 6" in notes


def test_jsonl_blank_lines_are_listed_by_line(tmp_path):
    # Blank lines 1 and 4 (1-based) shift the objects: rows are the file's 0-based lines.
    path = write_jsonl(tmp_path / "in.jsonl", ROWS[:2], blank_lines=(0, 2, 3))
    corpus = textio.read_texts(path)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert corpus.rows == [i for i, line in enumerate(lines) if line.startswith("{")] == [1, 4]
    assert corpus.skipped == [0, 2, 3]


def test_parquet_round_trip_reads_no_embedding(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", ROWS)
    corpus = textio.read_texts(path)
    assert got(corpus) == expected(ROWS)
    assert corpus.table and corpus.where(0) == "row 1"
    assert "skipped 2 blank row(s): 3, 4" in " ".join(corpus.notes())


def test_numbers_for_id_and_label_become_strings(tmp_path):
    jl = tmp_path / "n.jsonl"
    jl.write_text('{"text": "a", "id": 7, "label": 2.5}\n{"text": "b", "id": "x"}\n')
    corpus = textio.read_texts(jl)
    assert (corpus.ids, corpus.labels) == (["7", "x"], ["2.5", ""])
    pq.write_table(pa.table({"text": ["a", "b"], "id": pa.array([7, None], pa.int64()),
                             "label": pa.array([0, 1], pa.int8())}), tmp_path / "n.parquet")
    corpus = textio.read_texts(tmp_path / "n.parquet")
    assert (corpus.ids, corpus.labels) == (["7", ""], ["0", "1"])


def test_a_categorical_text_column_is_read(tmp_path):
    texts = pa.array(["b", "a", "b", None]).dictionary_encode()
    pq.write_table(pa.table({"text": texts}), tmp_path / "c.parquet")
    corpus = textio.read_texts(tmp_path / "c.parquet")
    assert (corpus.texts, corpus.skipped) == (["b", "a", "b"], [3])


# -- columns -------------------------------------------------------------------------------------
def test_other_column_names(tmp_path):
    names = ("body", "language", "topic", "key")
    want = expected(ROWS)
    for path in (write_parquet(tmp_path / "in.parquet", ROWS, names),
                 write_jsonl(tmp_path / "in.jsonl", ROWS, names)):
        corpus = textio.read_texts(path, text_column="body", lang_column="language",
                                   label_column="topic", id_column="key")
        assert got(corpus) == want
    csv_path = tmp_path / "in.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["Body", "other"], ["one", "x"], ["", "y"], ["two", "z"]])
    corpus = textio.read_texts(csv_path, text_column="body")
    assert (corpus.texts, corpus.rows, corpus.skipped) == (["one", "two"], [0, 2], [1])


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl", ".csv", ".tsv"])
def test_a_missing_column_is_named_with_the_files_columns(tmp_path, suffix):
    rows = [("a", "en", "l", "1")]
    names = ("sentence", "language", "label", "id")
    path = tmp_path / f"in{suffix}"
    if suffix == ".parquet":
        write_parquet(path, rows, names)
        listed = "'sentence', 'language', 'label', 'id', 'embedding'"
    elif suffix == ".jsonl":
        write_jsonl(path, rows, names)
        listed = "'sentence', 'language', 'label', 'id'"
    else:
        sep = "," if suffix == ".csv" else "\t"
        path.write_text(sep.join(names) + "\n" + sep.join(rows[0]) + "\n", encoding="utf-8")
        listed = "'sentence', 'language', 'label', 'id'"
    with pytest.raises(ValueError) as err:
        textio.read_texts(path)
    assert str(err.value) == f"in{suffix} has no 'text' column; its columns are: {listed}"
    with pytest.raises(ValueError, match=f"^in{suffix} has no 'lang' column; its columns"):
        textio.read_texts(path, text_column="sentence", lang_column="lang")
    corpus = textio.read_texts(path, text_column="sentence")  # lang: optional by default
    assert corpus.texts == ["a"] and corpus.langs is None and corpus.ids == ["1"]


def test_a_non_string_text_column_is_refused_with_its_type(tmp_path):
    pq.write_table(pa.table({"text": [1, 2]}), tmp_path / "i.parquet")
    with pytest.raises(ValueError, match="'text' column holds int64, not strings"):
        textio.read_texts(tmp_path / "i.parquet")
    pq.write_table(pa.table({"text": ["a"], "lang": [[1.0]]}), tmp_path / "l.parquet")
    with pytest.raises(ValueError, match=r"'lang' column holds list<\w+: double>, not strings"):
        textio.read_texts(tmp_path / "l.parquet")
    (tmp_path / "n.jsonl").write_text('{"text": "a"}\n{"text": 5}\n')
    with pytest.raises(ValueError, match=r"^n.jsonl: line 2: 'text' is a number, not a string$"):
        textio.read_texts(tmp_path / "n.jsonl")


@pytest.mark.parametrize("line, message", [
    ("[1, 2]", "line 3 is an array, not a JSON object"),
    ('"just a string"', "line 3 is a string, not a JSON object"),
    ('{"text": "open', "line 3 is not valid JSON (Unterminated string"),
    ("text,lang", "line 3 is not valid JSON (Expecting value, column 1)"),
])
def test_a_bad_jsonl_line_is_named(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n\n' + line + '\n{"text": "after"}\n', encoding="utf-8")
    with pytest.raises(ValueError) as err:
        textio.read_texts(path)
    assert str(err.value).startswith(f"bad.jsonl: {message}")
    # The number is the file's own: sed -n 3p prints that line.
    assert path.read_text(encoding="utf-8").split("\n")[2] == line


# -- limits --------------------------------------------------------------------------------------
def test_the_text_limit_stops_a_big_parquet_file_as_it_stops_a_tsv(tmp_path):
    texts = [f"text number {i}" for i in range(50_000)]
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"text": texts}), path, row_group_size=1000)
    tsv = tmp_path / "big.tsv"
    tsv.write_text("text\n" + "\n".join(texts) + "\n", encoding="utf-8")
    with pytest.raises(TooManyTexts) as from_parquet:
        textio.read_texts(path, max_texts=100)
    with pytest.raises(TooManyTexts) as from_tsv:
        textio.read_texts(tsv, max_texts=100)
    assert str(from_parquet.value).replace("big.parquet", "F") == \
        str(from_tsv.value).replace("big.tsv", "F")
    # Reading stops early: the last row groups are made unreadable, and a whole read fails on
    # them while the limited one never reaches them.
    meta = pq.ParquetFile(path).metadata
    data = bytearray(path.read_bytes())
    for g in range(meta.num_row_groups - 5, meta.num_row_groups):
        col = meta.row_group(g).column(0)
        start = col.dictionary_page_offset or col.data_page_offset
        data[start:start + col.total_compressed_size] = b"\xff" * col.total_compressed_size
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError) as whole:
        textio.read_texts(path)
    assert not isinstance(whole.value, TooManyTexts)
    assert "cannot read row" in str(whole.value)
    with pytest.raises(TooManyTexts):
        textio.read_texts(path, max_texts=100)


def test_the_text_limit_stops_a_jsonl_file(tmp_path):
    path = write_jsonl(tmp_path / "big.jsonl", [(f"t{i}", None, None, None) for i in range(500)])
    assert len(textio.read_texts(path, max_texts=500)) == 500
    with pytest.raises(TooManyTexts):
        textio.read_texts(path, max_texts=499)


@pytest.mark.parametrize("suffix", [".parquet", ".jsonl"])
def test_the_byte_limit_refuses_as_for_a_tsv(tmp_path, suffix):
    rows = [(f"a text of some length, number {i}", "en", "x", str(i)) for i in range(2000)]
    path = tmp_path / f"in{suffix}"
    (write_parquet if suffix == ".parquet" else write_jsonl)(path, rows)
    size = path.stat().st_size
    if suffix == ".parquet":  # an embedding column's vectors are not counted (textio.vectors)
        meta = pq.ParquetFile(path).metadata
        size -= sum(meta.row_group(g).column(c).total_compressed_size
                    for g in range(meta.num_row_groups)
                    for c in range(meta.num_columns)
                    if meta.row_group(g).column(c).path_in_schema.startswith("embedding."))
    limit = size - 1
    with pytest.raises(ValueError) as err:
        textio.read_texts(path, max_bytes=limit)
    assert str(err.value) == (f"in{suffix} is larger than the {limit}-byte limit for input "
                              "files; split it into smaller files")
    assert len(textio.read_texts(path, max_bytes=limit + 1)) == 2000


def test_read_input_cuts_long_parquet_texts_with_a_note(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", [("x" * 50, None, None, None), ("short", None,
                                                   None, None)])
    corpus = textio.read_input("", str(path), "text list", 10, 20, cut=True)
    assert corpus.texts == ["x" * 20, "short"]
    assert "cut to their first 20: row 1" in " ".join(corpus.notes())
    with pytest.raises(ValueError, match=r"has more than 1 texts; this view takes at most 1"):
        textio.read_input("", str(path), "text list", 1, 20)
    corpus = textio.read_input("", str(write_jsonl(tmp_path / "b.jsonl", ROWS, ("body", "lang",
                               "label", "id"))), "list", 10, 100, text_column="body")
    assert corpus.texts == expected(ROWS)["texts"]


def test_stream_texts_pieces_a_parquet_file(tmp_path):
    path = write_parquet(tmp_path / "in.parquet", ROWS, ("body", "lang", "label", "id"))
    pieces = list(textio.stream_texts(path, 2, text_column="body"))
    assert [t for p in pieces for t in p.texts] == expected(ROWS)["texts"]
    assert pieces[0].skipped == expected(ROWS)["skipped"]


# -- the command line and the app ----------------------------------------------------------------
@pytest.fixture
def fake_cli(monkeypatch, private_cache):
    import e5ui.__main__ as cli
    from tests.conftest import FakeEncoder

    enc = FakeEncoder()
    enc.model_id = enc.model  # similarity prints it
    monkeypatch.setattr(cli, "_encoder", lambda args: enc)
    return enc


def read_matrix(path):
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return [r[0] for r in rows[1:]], np.array([[float(v) for v in r[1:]] for r in rows[1:]])


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_similarity_reads_the_named_columns(tmp_path, fake_cli, suffix):
    from e5ui.__main__ import main

    rows = [("The cat sleeps.", "en", "cat-en"), ("Die Katze schläft.", "de", "cat-de"),
            ("", "fr", "blank"), ("Stocks fell today.", "en", "stocks")]
    path = tmp_path / f"in{suffix}"
    if suffix == ".parquet":
        pq.write_table(pa.table({"body": [r[0] for r in rows], "language": [r[1] for r in rows],
                                 "key": [r[2] for r in rows]}), path)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps({"body": r[0], "language": r[1], "key": r[2]}) + "\n"
                                for r in rows), encoding="utf-8")
    else:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            csv.writer(fh).writerows([("body", "language", "key"), *rows])
    out = tmp_path / "m.csv"
    assert main(["similarity", str(path), "--text-column", "body", "--lang-column", "language",
                 "--id-column", "key", "--out", str(out), "-q"]) == 0
    labels, matrix = read_matrix(out)
    kept = [r for r in rows if r[0]]
    assert [label.split(" · ")[0] for label in labels] == [r[2] for r in kept]
    assert [label.split(" · ")[1] for label in labels] == [r[1] for r in kept]
    emb = fake_cli.encode([r[0] for r in kept], kind=fake_cli.kinds[0])
    np.testing.assert_allclose(matrix, emb @ emb.T, atol=1e-4)


def test_a_missing_column_through_the_cli(tmp_path, fake_cli, capsys):
    from e5ui.__main__ import main

    write_parquet(tmp_path / "in.parquet", ROWS, ("body", "lang", "label", "id"))
    assert main(["map", str(tmp_path / "in.parquet"), "--method", "pca", "--out",
                 str(tmp_path / "c.csv"), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("e5ui: error: in.parquet has no 'text' column; its columns are: 'body', "
                       "'lang', 'label', 'id', 'embedding'")


def test_every_text_subcommand_takes_the_column_flags():
    from e5ui.__main__ import build_parser

    parser = build_parser()
    for command in ("similarity", "neighbours", "map", "bitext", "explain", "embed"):
        args = ["a.txt"] * (2 if command in ("neighbours", "bitext") else 1)
        ns = parser.parse_args([command, *args, "--text-column", "t", "--lang-column", "l",
                                "--label-column", "b", "--id-column", "i",
                                *(["--out", "e.npy"] if command == "embed" else [])])
        assert (ns.text_column, ns.lang_column, ns.label_column, ns.id_column) == \
            ("t", "l", "b", "i"), command


def test_neighbours_and_embed_read_jsonl_and_parquet(tmp_path, fake_cli):
    from e5ui.__main__ import main

    queries = write_jsonl(tmp_path / "q.jsonl", ROWS[:2], ("body", "lang", "label", "id"))
    corpus = write_parquet(tmp_path / "c.parquet", ROWS, ("body", "lang", "label", "id"))
    out = tmp_path / "n.tsv"
    assert main(["neighbours", str(queries), str(corpus), "-k", "1", "--text-column", "body",
                 "--out", str(out), "-q"]) == 0
    with open(out, encoding="utf-8", newline="") as fh:
        table = list(csv.DictReader(fh, delimiter="\t"))
    assert [r["query"] for r in table] == [r[0] for r in ROWS[:2]]
    npy = tmp_path / "e.npy"
    assert main(["embed", str(corpus), "--text-column", "body", "--out", str(npy), "-q"]) == 0
    want = expected(ROWS)["texts"]
    np.testing.assert_allclose(np.load(npy), fake_cli.encode(want, kind="query"), atol=1e-6)


def test_the_app_reads_a_parquet_upload(tmp_path, private_cache):
    from e5ui.holder import ModelHolder
    from e5ui.settings import Settings
    from e5ui.ui import common
    from tests.conftest import FakeEncoder

    assert {".jsonl", ".parquet"} <= set(common.UPLOAD_TYPES)
    app = common.App.for_tests(ModelHolder(Settings(model="fake"), encoder=FakeEncoder()))
    corpus = app.read("ignored box", str(write_parquet(tmp_path / "up.parquet", ROWS)),
                      "text list")
    assert got(corpus) == expected(ROWS)
    corpus = app.read("", str(write_jsonl(tmp_path / "up.jsonl", ROWS)), "text list")
    assert got(corpus) == expected(ROWS)
    with pytest.raises(ValueError, match="has no 'text' column; its columns are: 'body'"):
        app.read("", str(write_jsonl(tmp_path / "b.jsonl", ROWS, ("body", "l", "b", "i"))),
                 "text list")
