"""The column choice through the API: every endpoint that reads an upload takes the columns to
read (``columns``, ``query_columns`` / ``corpus_columns``, ``source_columns`` /
``target_columns``), defaulting to the file's ``text``/``lang``/``label``/``id``; a file
without its text column gets one message naming the columns it has; callers that leave the
new parameters out are answered as before."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import FakeEncoder
from tests.integration.conftest import small_app
from tests.integration.test_fuzz_endpoints import call

pytestmark = pytest.mark.integration

SENTENCES = [f"sentence number {i}" for i in range(8)]
LANGS = ["en", "de"] * 4
PICK = {"text": "sentence", "lang": "language"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from gradio_client import handle_file

    root = tmp_path_factory.mktemp("columns")
    path = root / "rows.parquet"
    pq.write_table(pa.table({"sentence": SENTENCES, "language": LANGS,
                             "embedding": [[0.0, 1.0]] * len(SENTENCES)}), path)
    jsonl = root / "rows.jsonl"
    jsonl.write_text("".join(f'{{"body": "{s}"}}\n' for s in SENTENCES[:3]), encoding="utf-8")
    with small_app(root, FakeEncoder()) as (client, _):
        yield client, handle_file(str(path)), handle_file(str(jsonl))


def test_a_file_without_a_text_column_is_refused_naming_its_columns(served):
    from gradio_client.exceptions import AppError

    client, parquet, _ = served
    message = "rows.parquet has no 'text' column; its columns are: 'sentence', 'language', " \
              "'embedding'"
    for name, args in (("/similarity", ("", parquet)), ("/map", ("", parquet, "pca")),
                       ("/explain", ("", parquet)), ("/neighbours", ("q", "", None, parquet)),
                       ("/bitext", ("", "t", parquet)), ("/align", ("", "t", parquet))):
        with pytest.raises(AppError, match=message):
            client.predict(*args, api_name=name)
    with pytest.raises(AppError, match="has no 'sentences' column; its columns are: 'sentence'"):
        client.predict("", parquet, columns={"text": "sentences"}, api_name="/similarity")
    with pytest.raises(AppError, match="Unknown column role in columns"):
        client.predict("", parquet, columns={"txt": "sentence"}, api_name="/similarity")


def test_every_endpoint_reads_the_columns_it_is_given(served):
    client, parquet, jsonl = served
    _, summary, *_ = client.predict("", parquet, columns=PICK, api_name="/similarity")
    assert summary.startswith(f"{len(SENTENCES)} texts")
    *_, saved, _state = client.predict("", parquet, "pca", columns=PICK, api_name="/map")
    table, _, _ = client.predict("", parquet, 0, 3, columns=PICK, api_name="/map_neighbours")
    assert {row[-1] for row in table["data"]} <= set(SENTENCES) and len(table["data"]) == 3
    assert {row[table["headers"].index("lang")] for row in table["data"]} <= {"en", "de"}
    table, _ = client.predict("", parquet, SENTENCES[2], 0.5, columns=PICK,
                              api_name="/map_search")
    assert table["data"] and {row[-1] for row in table["data"]} <= set(SENTENCES)
    table, *_ = client.predict("", "", jsonl, parquet, 1, query_columns={"text": "body"},
                               corpus_columns=PICK, api_name="/neighbours")
    column = {name: [row[k] for row in table["data"]]
              for k, name in enumerate(table["headers"])}
    assert column["query"] == SENTENCES[:3] and set(column["neighbour"]) <= set(SENTENCES)
    table, *_ = client.predict("", "", jsonl, parquet, source_columns={"text": "body"},
                               target_columns=PICK, api_name="/bitext")
    assert len(table["data"]) == 3
    _, _, _, table, *_ = client.predict("", "", jsonl, parquet, "lines", source_columns={
        "text": "body"}, target_columns=PICK, source_lang="en", target_lang="de",
        api_name="/align")
    column = {name: [row[k] for row in table["data"]]
              for k, name in enumerate(table["headers"])}
    # The source is the JSON Lines file's body column, the target the Parquet file's sentences
    # ("–": a side without a sentence; a merge joins its sentences).
    assert set(column["source"]) - {"–"} <= set(SENTENCES[:3]) and column["source"]
    assert all(t.startswith("sentence number") for t in column["target"] if t != "–")
    assert len(table["data"]) >= len(SENTENCES) // 4
    _, summary, _ = client.predict("", parquet, columns=PICK, api_name="/explain")
    assert f"{len(SENTENCES)} texts" in summary, summary


def test_a_request_without_the_new_parameters_is_answered_as_before(served):
    client, *_ = served
    base = client.src if client.src.endswith("/") else client.src + "/"
    kind, outputs = call(base, "/similarity", ["a\nb", None, "input", "symmetric", False])
    assert kind == "complete" and outputs[1].startswith("2 texts")
    kind, outputs = call(base, "/map", ["a\nb\nc", None, "pca", 2, "language", True, "", False,
                                        False])
    assert kind == "complete", outputs
