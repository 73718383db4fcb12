"""Exploring a map on the bundled model: ``/map_neighbours`` and ``/map_search`` through
gradio_client, and ``map --clusters --search`` on the command line, each against cosines that
sentence-transformers computes here from the same model files."""

from __future__ import annotations

import csv
import re

import numpy as np
import pytest

from tests.conftest import ASSETS
from tests.integration.conftest import rows, upload
from tests.integration.test_cli_analysis import read_table, run

pytestmark = pytest.mark.integration
EXAMPLE = ASSETS / "examples" / "map_parallel.tsv"
# A rephrasing of the example's German p03 ("Wissenschaftler haben in den Bergen Perus eine
# neue Froschart entdeckt."): not a copy of any line, so the search has to find the meaning.
GERMAN_QUERY = "Wissenschaftler entdeckten in den Bergen von Peru eine neue Froschart."
QUERY_ID = "p03"


@pytest.fixture(scope="module")
def example() -> list[dict]:
    """The example's rows (text, lang, id); a row's position is its 0-based ``index``."""
    with open(EXAMPLE, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def reference(bundled_dir, example):
    """(the texts' embeddings, a function embedding one query) by sentence-transformers with
    the model card's "query: " prefix, the map's symmetric prompt, normalised."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(bundled_dir), device="cpu")

    def embed(texts: list[str]) -> np.ndarray:
        return st.encode(["query: " + t for t in texts], normalize_embeddings=True,
                         convert_to_numpy=True).astype(np.float64)

    return embed([r["text"] for r in example]), lambda q: embed([q])[0]


def percent(shown: str) -> float:
    """A table's percentile cell ("97.3%", ">99.9%", "<0.1%") as a number of percent."""
    value = float(shown.strip("<>%"))
    return value + 0.05 if shown.startswith(">") else value - 0.05 if shown.startswith("<") \
        else value


def neighbours(app_client, index: int, k: int):
    table, summary, notes = app_client.predict(
        "", upload(EXAMPLE), index, k, "pca", 2, False, api_name="/map_neighbours")
    return rows(table), summary, notes


@pytest.mark.parametrize("index", [0, 26, 60, 191])  # en p01, de p03, fr p13, the last line
def test_map_neighbours_equal_a_numpy_top_k(app_client, reference, example, index):
    emb, _ = reference
    k = 8
    got, summary, _notes = neighbours(app_client, index, k)
    cos = emb @ emb[index]
    cos[index] = -np.inf  # the text itself is no neighbour
    ref = np.argsort(-cos, kind="stable")[: k + 1]
    assert [r["rank"] for r in got] == list(range(1, k + 1))
    np.testing.assert_allclose([r["cosine"] for r in got], cos[ref[:k]], atol=1e-3)
    for r in got:
        assert r["cosine"] == pytest.approx(cos[r["index"]], abs=1e-3)
    # Two float paths may swap texts whose cosines differ by less than their rounding.
    if (np.abs(np.diff(cos[ref])) > 1e-4).all():
        assert [r["index"] for r in got] == ref[:k].tolist()
    else:
        assert {r["index"] for r in got} <= set(np.flatnonzero(cos >= cos[ref[k - 1]] - 1e-4))
    pct = [percent(r["percentile"]) for r in got]
    assert all(0 <= p <= 100 for p in pct)
    assert all(a >= b for a, b in zip(pct, pct[1:]))  # monotone with the falling cosine
    own = example[index]
    for r in got:
        other = example[r["index"]]
        assert r["text"] == other["text"] and r["lang"] == other["lang"]
        partner = other["id"] == own["id"] and other["lang"] != own["lang"]
        assert r["translation"] == ("yes" if partner else ""), r
        assert r["cross_lingual"] == ("yes" if other["lang"] != own["lang"] else ""), r
    # Every line has seven translations, some among its 8 nearest (not always the nearest:
    # p01's English "train to Berlin" is nearest its lookalike p06 "train to Munich").
    assert any(r["translation"] == "yes" for r in got)
    assert f"line {index}" in summary


def test_map_neighbours_bad_k_and_index_are_messages(app_client):
    from gradio_client.exceptions import AppError

    for k in (0, 101):
        with pytest.raises(AppError, match=f"k must be a whole number from 1 to 100; got {k}"):
            neighbours(app_client, 0, k)
    with pytest.raises(AppError, match=r"index 192 is no text of this map .*0 to 191"):
        neighbours(app_client, 192, 5)
    with pytest.raises(AppError, match="index must be a whole number of at least 0"):
        neighbours(app_client, -1, 5)
    # An emptied index box sends null: a message that asks for a text, not a failure.
    with pytest.raises(AppError, match="^Type the 0-based index of a text"):
        neighbours(app_client, None, 5)
    got, *_ = neighbours(app_client, 5, 3)  # still answering
    assert len(got) == 3


def test_map_search_finds_the_translation(app_client, reference, example):
    emb, embed_query = reference
    table, summary = app_client.predict("", upload(EXAMPLE), GERMAN_QUERY, 0.99, "pca", 2,
                                        False, api_name="/map_search")
    got = rows(table)
    cos = emb @ embed_query(GERMAN_QUERY)
    assert got, summary
    assert [r["rank"] for r in got] == list(range(1, len(got) + 1))
    for r in got:
        assert r["cosine"] == pytest.approx(cos[r["index"]], abs=1e-3)
        assert r["text"] == example[r["index"]]["text"]
        assert percent(r["percentile"]) >= 99.0  # shown to 0.1%
    assert all(a["cosine"] >= b["cosine"] for a, b in zip(got, got[1:]))
    pct = [percent(r["percentile"]) for r in got]
    assert all(a >= b for a, b in zip(pct, pct[1:]))
    # The matches are the texts nearest the query: none left out scores above the last one.
    left_out = np.delete(cos, [r["index"] for r in got])
    assert left_out.max(initial=-1) <= got[-1]["cosine"] + 1e-3
    assert example[got[0]["index"]]["id"] == QUERY_ID  # the German line itself
    english = next(i for i, r in enumerate(example) if r["id"] == QUERY_ID and r["lang"] == "en")
    assert english in [r["index"] for r in got[:2]], got[:3]
    assert summary.startswith(f"{len(got)} of {len(example)} texts")


def test_map_search_empty_query_is_a_message(app_client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="Type what to search for"):
        app_client.predict("", upload(EXAMPLE), "   ", 0.99, "pca", 2, False,
                           api_name="/map_search")


def test_cli_map_clusters_and_search(tmp_path, reference, example):
    """What tests/unit/test_cli.py cannot show with a fake encoder: on the real model every
    text carries its cluster's printed name (noise none), the printed sizes count the column,
    the search's cosines are the model's, and the best match is the query's translation."""
    emb, embed_query = reference
    out = tmp_path / "coords.tsv"
    proc = run("map", EXAMPLE, "--clusters", "--search", GERMAN_QUERY, "--out", out,
               "--dtype", "float32")  # the float32 of the reference
    assert proc.returncode == 0, proc.stderr
    table = read_table(out, "\t")
    assert [r["text"] for r in table] == [r["text"] for r in example]
    printed = {c: (int(n), name) for c, n, name in
               re.findall(r"^cluster (-?\d+) \((\d+) texts\): (.*)$", proc.stdout, re.M)}
    assert printed, proc.stdout
    assert "-1" not in printed  # noise is no cluster
    for r in table:
        if r["cluster"] == "-1":
            assert r["cluster_label"] == ""
        else:
            assert r["cluster_label"] == printed[r["cluster"]][1], r
    counts = {c: sum(r["cluster"] == c for r in table) for c in printed}
    assert counts == {c: n for c, (n, _) in printed.items()}
    cos = emb @ embed_query(GERMAN_QUERY)
    np.testing.assert_allclose([float(r["search_cosine"]) for r in table], cos, atol=1e-3)
    matches = re.findall(r"^\s*\d+\. (\S+) \(.*?\)\s+\[(\d+)\] ", proc.stdout, re.M)
    assert matches, proc.stdout
    shown = [float(c) for c, _ in matches]
    assert shown == sorted(shown, reverse=True)
    best = example[int(matches[0][1])]
    assert best["id"] == QUERY_ID and best["lang"] in ("de", "en"), best
