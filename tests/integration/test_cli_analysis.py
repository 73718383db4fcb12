"""The analysis subcommands on the bundled model, offline, as a user runs them."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from tests.conftest import ASSETS, ROOT

pytestmark = pytest.mark.integration
EX = ASSETS / "examples"


def run(*args, timeout=600):
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "e5ui", *map(str, args), "--model", "bundled",
                           "-q"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def read_table(path, delimiter):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def test_similarity_matrix_csv(tmp_path):
    out = tmp_path / "m.csv"
    proc = run("similarity", EX / "one_meaning_ten_languages.tsv", "--order", "cluster",
               "--out", out)
    assert proc.returncode == 0, proc.stderr
    with open(out, encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 31 and len(rows[0]) == 31
    m = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(m, m.T, atol=1e-6)
    np.testing.assert_allclose(np.diag(m), 1.0, atol=1e-5)
    # Cluster order puts each meaning's ten translations next to each other.
    ids = [r[0].split(" · ")[0] for r in rows[1:]]  # labels read "m1 · en"
    blocks = [set(ids[i : i + 10]) for i in (0, 10, 20)]
    assert all(len(b) == 1 for b in blocks) and set.union(*blocks) == {"m1", "m2", "m3"}, ids
    assert "most similar pairs" in proc.stdout and "percentile" in proc.stdout


def test_neighbours_cross_lingual_table(tmp_path):
    out = tmp_path / "nb.tsv"
    proc = run("neighbours", EX / "retrieval/queries.tsv", EX / "retrieval/passages.tsv",
               "-k", "3", "--out", out)
    assert proc.returncode == 0, proc.stderr
    rows = read_table(out, "\t")
    assert len(rows) == 8 * 3
    queries = read_table(EX / "retrieval/queries.tsv", "\t")
    passages = read_table(EX / "retrieval/passages.tsv", "\t")
    top1 = {int(r["query_index"]): int(r["corpus_index"]) for r in rows if r["rank"] == "1"}
    hits = sum(passages[top1[i]]["id"] == q["id"] for i, q in enumerate(queries))
    assert hits >= 7, f"only {hits}/8 queries found their answer first"
    for r in rows:
        assert 0.0 <= float(r["percentile"]) <= 1.0
    out2 = tmp_path / "nb2.tsv"
    proc = run("neighbours", EX / "one_meaning_ten_languages.tsv",
               EX / "one_meaning_ten_languages.tsv", "-k", "5", "--cross-lingual",
               "--corpus-kind", "query", "--out", out2)
    assert proc.returncode == 0, proc.stderr
    for r in read_table(out2, "\t"):
        assert r["query_lang"] != r["corpus_lang"]


def test_bitext_with_gold_tsv_and_tmx(tmp_path):
    out = tmp_path / "pairs.tsv"
    proc = run("bitext", EX / "bitext/source.txt", EX / "bitext/target.txt", "--gold",
               EX / "bitext/gold.tsv", "--out", out)
    assert proc.returncode == 0, proc.stderr
    rows = read_table(out, "\t")
    assert list(rows[0]) == ["src_index", "tgt_index", "score", "cosine", "source", "target",
                             "status"]
    assert {r["status"] for r in rows} == {"auto"}
    gold = {(int(r["src_index"]), int(r["tgt_index"])) for r in read_table(EX / "bitext/gold.tsv",
                                                                             "\t")}
    got = {(int(r["src_index"]), int(r["tgt_index"])) for r in rows}
    assert len(got & gold) >= 29
    assert "P@1" in proc.stdout
    tmx = tmp_path / "pairs.tmx"
    proc = run("bitext", EX / "bitext/source.txt", EX / "bitext/target.txt", "--out", tmx)
    assert proc.returncode == 0, proc.stderr
    root = ET.parse(tmx).getroot()
    assert root.tag == "tmx" and root.get("version") == "1.4"
    assert root.find("header").get("srclang") == "en"
    tus = root.findall("body/tu")
    assert len(tus) == 30
    lang = "{http://www.w3.org/XML/1998/namespace}lang"
    tgt_langs = {tu.findall("tuv")[1].get(lang) for tu in tus}
    assert tgt_langs == {"de", "fr", "ja"}


def test_map_pca_and_umap(tmp_path):
    out = tmp_path / "coords.csv"
    proc = run("map", EX / "one_meaning_ten_languages.tsv", "--method", "umap", "--dim",
               "3", "--out", out)
    assert proc.returncode == 0, proc.stderr
    rows = read_table(out, ",")
    assert len(rows) == 30 and {"index", "x", "y", "z", "lang", "id", "text"} <= set(rows[0])
    assert [int(r["index"]) for r in rows] == list(range(30))
    assert "neighbour preservation" in proc.stdout
    tiny = tmp_path / "two.txt"
    tiny.write_text("Hallo Welt\nHello world\n")
    proc = run("project", tiny, "--out", tmp_path / "c2.csv")  # the subcommand's old name
    assert proc.returncode == 0, proc.stderr
    assert "too few for UMAP; showing PCA" in proc.stderr


def test_bad_input_gives_one_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("sentence\nhello\n")
    proc = run("similarity", bad)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("e5ui: error:")
    assert "'text' column" in proc.stderr
    proc = run("bitext", EX / "bitext/source.txt", EX / "bitext/target.txt", "--out",
               tmp_path / "p.xlsx")
    assert proc.returncode == 2 and ".tmx" in proc.stderr


def test_neighbours_compare_bm25_reports_both_rankings(tmp_path):
    """E5 beside BM25 on the cross-lingual example: the printed MRR@10 of each equals the one
    recomputed from the written table and the files' ids, and E5 finds what keyword search
    cannot across languages. No library chatter reaches the terminal."""
    out = tmp_path / "nb.tsv"
    proc = run("neighbours", EX / "retrieval/cross_queries.tsv",
               EX / "retrieval/cross_passages.tsv", "-k", "10", "--compare-bm25", "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert "DEBUG" not in proc.stdout + proc.stderr
    rows = read_table(out, "\t")
    query_ids = [r["id"] for r in read_table(EX / "retrieval/cross_queries.tsv", "\t")]
    corpus_ids = [r["id"] for r in read_table(EX / "retrieval/cross_passages.tsv", "\t")]
    assert len(rows) == len(query_ids) * 10

    def mrr(column):
        total = 0.0
        for q, qid in enumerate(query_ids):
            ranked = [r for r in rows if int(r["query_index"]) == q]
            ranked.sort(key=lambda r: int(r["rank"]))
            hits = [k for k, r in enumerate(ranked, 1)
                    if r[column] != "" and corpus_ids[int(r[column])] == qid]
            total += 1 / hits[0] if hits else 0.0
        return total / len(query_ids)

    e5, bm25 = mrr("corpus_index"), mrr("bm25_index")
    assert f"MRR@10 E5 {e5:.3f} vs BM25 {bm25:.3f}" in proc.stdout, proc.stdout
    assert e5 >= bm25 + 0.3
