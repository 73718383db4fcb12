"""Every endpoint of the app through gradio_client, on the bundled model, with every example
set (the same files the one-click example buttons load)."""

from __future__ import annotations

import pytest

from tests.conftest import ASSETS
from tests.integration.conftest import rows, upload

MAP_FILES = ["coords.csv", "map.parquet", "metadata.tsv", "vectors.tsv"]
pytestmark = pytest.mark.integration
EX = ASSETS / "examples"


@pytest.fixture(scope="module", params=["local", "remote"])
def client(request):
    """Every test runs twice: the app encoding locally, and the app encoding on a real Infinity
    server (``--encoder-url``) that serves the same model."""
    return request.getfixturevalue("app_client" if request.param == "local"
                                   else "remote_app_client")


def test_documented_endpoints(client):
    names = set(client.view_api(return_format="dict", print_info=False)["named_endpoints"])
    assert {"/similarity", "/neighbours", "/map", "/bitext", "/explain", "/pair_score",
            "/align", "/align_review"} <= names


def test_similarity_pasted_text(client):
    fig, summary, notes, table, files, *_ = client.predict(
        "The cat sleeps on the sofa.\nDie Katze schläft auf dem Sofa.\nThe stock market fell.",
        api_name="/similarity")
    assert fig["type"] == "plotly"
    assert summary.startswith("3 texts")
    top = rows(table)[0]
    assert {top["text_a"], top["text_b"]} == {"The cat sleeps on the sofa.",
                                              "Die Katze schläft auf dem Sofa."}
    assert {top["index_a"], top["index_b"]} == {0, 1}  # 0-based line numbers
    names = sorted(f.rsplit("/", 1)[-1] for f in files)
    assert names == ["embeddings.npy", "similarity.csv"]  # the figure's HTML only on demand


@pytest.mark.parametrize("example", ["one_meaning_ten_languages.tsv",
                                     "paraphrase_lookalike.tsv"])
def test_similarity_examples(client, example):
    fig, summary, notes, table, files, *_ = client.predict(
        "", upload(EX / example), "cluster", "symmetric", api_name="/similarity")
    top = rows(table)
    assert len(top) == 15
    if example.startswith("one_meaning"):
        # Labels are "id · lang": the most similar pairs are translations of one meaning.
        assert all(r["label_a"].split(" · ")[0] == r["label_b"].split(" · ")[0] for r in top)


def test_similarity_kind_query_is_the_older_name_of_symmetric(client):
    """The kind was "query" in the API before 0.2: it still means the symmetric prompt (the
    cosines are those of ``kind="symmetric"`` computed here), not "passage"."""
    from e5ui import Encoder

    texts = ["The cat sleeps on the sofa.", "Die Katze schläft auf dem Sofa.",
             "The stock market fell."]
    got = {kind: rows(client.predict("\n".join(texts), None, "input", kind,
                                     api_name="/similarity")[3])
           for kind in ("symmetric", "query", "passage")}
    assert got["query"] == got["symmetric"] != got["passage"]
    emb = Encoder("bundled", dtype="float32", cache=False).encode(texts, kind="symmetric")
    for r in got["query"]:
        assert r["cosine"] == pytest.approx(float(emb[r["index_a"]] @ emb[r["index_b"]]),
                                            abs=2e-3)


def test_similarity_bad_input_is_a_message(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="empty"):
        client.predict("   \n  ", api_name="/similarity")
    bad = EX.parent.parent / "README.md"
    with pytest.raises(AppError, match="Invalid file type|Unsupported file type"):
        client.predict("", upload(bad), api_name="/similarity")


def test_neighbours_retrieval_example(client):
    table, summary, notes, files, *_ = client.predict(
        "", "", upload(EX / "retrieval/queries.tsv"), upload(EX / "retrieval/passages.tsv"), 3,
        api_name="/neighbours")
    got = rows(table)
    assert len(got) == 24 and "retrieval (query/passage)" in summary
    import csv

    with open(EX / "retrieval/passages.tsv", encoding="utf-8") as f:
        passages = {r["text"]: r["id"] for r in csv.DictReader(f, delimiter="\t")}
    with open(EX / "retrieval/queries.tsv", encoding="utf-8") as f:
        queries = {r["text"]: r["id"] for r in csv.DictReader(f, delimiter="\t")}
    top1 = [r for r in got if r["rank"] == 1]
    hits = sum(passages[r["neighbour"]] == queries[r["query"]] for r in top1)
    assert hits >= 7


def test_neighbours_cross_lingual_margin(client):
    path = upload(EX / "one_meaning_ten_languages.tsv")
    table, summary, notes, files, *_ = client.predict(
        "", "", path, path, 3, True, True, True, api_name="/neighbours")
    got = rows(table)
    assert all(r["query_lang"] != r["corpus_lang"] for r in got)
    assert all(r["margin"] != "–" for r in got) and "cross-lingual" in summary


@pytest.mark.parametrize("example", ["map_parallel.tsv", "one_meaning_ten_languages.tsv"])
def test_map_examples(client, example):
    fig, summary, notes, files, *_ = client.predict(
        "", upload(EX / example), "umap", 2, api_name="/map")
    assert fig["type"] == "plotly"
    assert summary.startswith("UMAP") and "neighbour preservation" in summary
    assert "Lines join" not in notes  # both examples carry translation ids
    assert sorted(f.rsplit("/", 1)[-1] for f in files) == MAP_FILES


def test_map_tiny_input_falls_back_to_pca(client):
    fig, summary, notes, *_ = client.predict("Hallo\nHello", api_name="/map")
    assert summary.startswith("PCA") and "too few for UMAP" in notes


def test_the_old_projection_endpoint_still_answers(client):
    fig, summary, notes, files, *_ = client.predict("Hallo\nHello", api_name="/projection")
    assert summary.startswith("PCA") and fig["type"] == "plotly"
    assert sorted(f.rsplit("/", 1)[-1] for f in files) == MAP_FILES


def test_bitext_example_with_gold(client):
    source = (EX / "bitext/source.txt").read_text(encoding="utf-8")
    target = (EX / "bitext/target.txt").read_text(encoding="utf-8")
    table, unmatched, summary, metrics, notes, files, *_ = client.predict(
        source, target, None, None, "margin", True, None, upload(EX / "bitext/gold.tsv"),
        api_name="/bitext")
    assert len(table["data"]) == 30
    assert not [r for r in unmatched["data"] if any(r)]  # nothing left unmatched
    p_at_1 = float(metrics.split("P@1 **")[1].split("**")[0])
    assert p_at_1 >= 0.95
    assert sorted(f.rsplit("/", 1)[-1] for f in files) == ["pairs.csv", "pairs.tmx",
                                                            "pairs.tsv"]


def test_bitext_threshold_leaves_sentences_unmatched(client):
    table, unmatched, summary, *_ = client.predict(
        "The train is late.\nI like green tea.\nQuantum chromodynamics describes quarks.",
        "Ich mag grünen Tee.\nDer Zug hat Verspätung.", None, None, "margin", True, 1.0,
        api_name="/bitext")
    assert len(table["data"]) == 2
    assert [r[2] for r in unmatched["data"]] == ["Quantum chromodynamics describes quarks."]


def test_bitext_review_through_the_api(client, tmp_path):
    """Match, reject a pair, re-link its source elsewhere (refused while the target is taken,
    then released), download the review, and resume it with the lists: the same pairs."""
    import shutil

    source = (EX / "bitext/source.txt").read_text(encoding="utf-8")
    target = (EX / "bitext/target.txt").read_text(encoding="utf-8")
    table, *_ = client.predict(source, target, api_name="/bitext")
    first, second = rows(table)[:2]
    out = client.predict("reject", 0, None, None, False, api_name="/bitext_review")
    assert first["src_index"] not in [r["src_index"] for r in rows(out[0])]
    with pytest.raises(Exception, match=f"target sentence {second['tgt_index']} is already "
                       "paired"):
        client.predict("relink", None, first["src_index"], second["tgt_index"], False,
                       api_name="/bitext_review")
    out = client.predict("relink", None, first["src_index"], second["tgt_index"], True,
                         api_name="/bitext_review")
    got = {r["src_index"]: (r["tgt_index"], r["status"]) for r in rows(out[0])}
    assert got[first["src_index"]] == (second["tgt_index"], "edited")
    assert second["src_index"] not in got  # released: now unmatched
    tsv = next(f for f in out[5] if f.endswith(".tsv"))
    review = shutil.copy(tsv, tmp_path / "review.tsv")
    assert "edited" in open(review, encoding="utf-8").read()
    resumed, *_ = client.predict(source, target, None, None, "margin", True, None, None,
                                 None, None, upload(review), api_name="/bitext")
    assert [(r["src_index"], r["tgt_index"], r["status"]) for r in rows(resumed)] == [
        (r["src_index"], r["tgt_index"], r["status"]) for r in rows(out[0])]


@pytest.mark.parametrize("example", ["paraphrase_lookalike.tsv", None])
def test_explain(client, example):
    args = ("", upload(EX / example)) if example else ("",)
    fig, summary, notes, *_ = client.predict(*args, api_name="/explain")
    assert fig["type"] == "plotly"
    assert "unrelated pairs (336 reference sentences" in summary
    if example:
        assert "Your 36 texts" in summary


def test_pair_score(client):
    text = client.predict("The train is late.", "Der Zug hat Verspätung.",
                          api_name="/pair_score")
    assert "Raw cosine" in text and "unrelated pairs" in text


def test_bm25_comparison_on_the_cross_lingual_example(client):
    q, c = EX / "retrieval/cross_queries.tsv", EX / "retrieval/cross_passages.tsv"
    table, summary, notes, files, keyword, *_ = client.predict(
        "", "", upload(q), upload(c), 3, False, False, False, True, api_name="/neighbours")
    assert rows(table)[0]["bm25_text"] is not None
    e5 = float(keyword.split("MRR@10 E5 ")[1].split(" ")[0])
    bm25 = float(keyword.split("vs BM25 ")[1].split(" ")[0])
    # The answers are in other languages than the questions: keywords cannot find them.
    assert e5 >= 0.5 and bm25 < 0.2, keyword


def test_two_models_compared(client):
    """The app's model against the second bundled model; the Spearman figure is checked
    against scipy on the two models' own embeddings."""
    import numpy as np
    from scipy.stats import spearmanr

    from e5ui import Encoder, textio

    example = EX / "paraphrase_lookalike.tsv"
    first, second, summary, notes, table, files, *_ = client.predict(
        "", upload(example), "bundled-enpt", "cluster", "symmetric", False,
        api_name="/similarity_compare")
    assert first["type"] == second["type"] == "plotly"
    texts = textio.read_texts(example).texts
    a = Encoder("bundled", dtype="float32", cache=False).encode(texts, kind="symmetric")
    b = Encoder("bundled-enpt", dtype="float32", cache=False).encode(texts, kind="symmetric")
    iu = np.triu_indices(len(texts), k=1)
    rho = spearmanr((a @ a.T)[iu], (b @ b.T)[iu]).statistic
    shown = float(summary.split("pair scores ")[1].split(" ")[0])
    assert shown == pytest.approx(rho, abs=2e-3)
    assert len(table["data"]) == 20
