"""The app's column choice for an upload without a ``text`` column: the columns a file offers
(read cheaply), what a request may name, and what the upload slot offers."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from e5ui import textio
from e5ui.ui import common


@pytest.fixture
def files(tmp_path):
    names = ["id", "Sentence", "language"]
    rows = [["a", "One.", "en"], ["b", "Zwei.", "de"]]
    pq.write_table(pa.table({n: [r[k] for r in rows] for k, n in enumerate(names)}),
                   tmp_path / "t.parquet")
    (tmp_path / "t.csv").write_text("\ufeffid,Sentence,language\na,One.,en\nb,Zwei.,de\n",
                                    encoding="utf-8")
    (tmp_path / "t.tsv").write_text("id\tSentence\tlanguage\na\tOne.\ten\n", encoding="utf-8")
    (tmp_path / "t.jsonl").write_text(
        "\n" + "".join(json.dumps(dict(zip(names, r, strict=True))) + "\n" for r in rows),
        encoding="utf-8")
    (tmp_path / "t.txt").write_text("One.\nTwo.\n", encoding="utf-8")
    return tmp_path, names


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".tsv", ".jsonl"])
def test_a_files_columns_are_its_header_schema_or_first_object(files, suffix):
    root, names = files
    assert textio.column_names(root / f"t{suffix}") == names
    corpus = textio.read_texts(root / f"t{suffix}",
                               **textio.column_choice({"text": "Sentence", "lang": "language"}))
    assert corpus.texts[0] == "One." and corpus.langs[0] == "en" and corpus.ids[0] == "a"


def test_a_text_file_has_no_columns_and_a_broken_one_a_message(files):
    root, _ = files
    assert textio.column_names(root / "t.txt") == []
    (root / "bad.jsonl").write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.jsonl: its first line is not valid JSON"):
        textio.column_names(root / "bad.jsonl")
    (root / "bad.parquet").write_bytes(b"PAR1 nope")
    with pytest.raises(ValueError, match="bad.parquet is not a readable Parquet file"):
        textio.column_names(root / "bad.parquet")


def test_a_request_names_columns_by_role():
    assert textio.column_choice(None) == {}
    assert textio.column_choice({"text": "s", "lang": None, "label": "", "id": "k"}) == {
        "text_column": "s", "id_column": "k"}
    with pytest.raises(ValueError, match="Unknown column role in columns: 'texts'. Must be one "
                                         "of: text, label, lang, id"):
        textio.column_choice({"texts": "s"})
    with pytest.raises(ValueError, match="corpus_columns must be an object"):
        textio.column_choice("text=s", "corpus_columns")
    with pytest.raises(ValueError, match="the text column must be a name of at most 200"):
        textio.column_choice({"text": "x" * 201})
    with pytest.raises(ValueError, match="the lang column must be a name"):
        textio.column_choice({"lang": 3})


def test_the_upload_offers_the_columns_only_without_a_text_column(files, tmp_path):
    root, names = files
    row, text, lang, label, id_ = common.offer_columns(str(root / "t.parquet"))
    assert row["visible"] is True
    assert text["choices"] == names and text["value"] is None
    assert lang["choices"] == [common.NO_COLUMN, *names]
    assert (lang["value"], label["value"], id_["value"]) == (common.NO_COLUMN, common.NO_COLUMN,
                                                             "id")
    (tmp_path / "ok.csv").write_text("TEXT,lang\nx,en\n", encoding="utf-8")
    for path in (tmp_path / "ok.csv", root / "t.txt", None):
        row, *drops = common.offer_columns(str(path) if path else None)
        assert row["visible"] is False and all(d["choices"] == [] for d in drops)
