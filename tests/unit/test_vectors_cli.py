"""Bring your own vectors on the command line: map.parquet's embedding column used again,
--embeddings / --corpus-embeddings (written by the embed job when missing, resumable, through
--encoder-url too), --other-vectors. The encoder fails when asked for texts whose vectors were
loaded; results are checked against numpy."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

import e5ui.__main__ as cli
from e5ui import baselines, embedjob, textio
from e5ui.__main__ import main
from tests.conftest import ASSETS, FakeEncoder
from tests.unit.test_vectors import NoEncoding


def rows_of(path, delimiter=","):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=delimiter))


@pytest.fixture
def use(monkeypatch):
    """Makes the CLI build ``enc``."""
    def install(enc):
        enc.model_id = enc.model  # what the similarity command prints
        monkeypatch.setattr(cli, "_encoder", lambda args: enc)
        return enc
    return install


@pytest.mark.parametrize("method", ["pca", "umap"])
def test_map_parquet_round_trips_without_encoding(tmp_path, capsys, use, private_cache, method):
    src = ASSETS / "examples/map_parallel.tsv"
    texts = textio.read_texts(src).texts
    use(FakeEncoder())
    parquet, first = tmp_path / "map.parquet", tmp_path / "first.csv"
    assert main(["map", str(src), "--method", method, "--out", str(parquet), "--out",
                 str(first), "-q"]) == 0
    strict = use(NoEncoding(forbidden=texts))
    again = tmp_path / "again.csv"
    assert main(["map", str(parquet), "--method", method, "--out", str(again), "-q"]) == 0
    assert "using the 'embedding' column of map.parquet" in capsys.readouterr().err
    assert strict.asked == []
    a, b = rows_of(first), rows_of(again)
    assert [(r["x"], r["y"], r["text"]) for r in a] == [(r["x"], r["y"], r["text"]) for r in b]
    # --ignore-embeddings encodes anew
    with pytest.raises(AssertionError, match="encoded loaded texts"):
        main(["map", str(parquet), "--method", "pca", "--ignore-embeddings", "--out",
              str(again), "-q"])


def test_another_models_map_is_refused_then_used_with_calibration_off(tmp_path, capsys, use,
                                                                      private_cache):
    src = ASSETS / "examples/map_parallel.tsv"
    texts = textio.read_texts(src).texts
    use(FakeEncoder(model="other/model"))
    parquet = tmp_path / "map.parquet"
    assert main(["map", str(src), "--method", "pca", "--out", str(parquet), "-q"]) == 0
    capsys.readouterr()
    use(NoEncoding(forbidden=texts))
    assert main(["similarity", str(parquet), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "using the 'embedding' column" in err[0]
    assert len(err) == 2 and "other/model" in err[1] and "fake/e5" in err[1]
    assert "--other-vectors" in err[1]
    assert main(["similarity", str(parquet), "--other-vectors", "-q"]) == 0
    out, err = capsys.readouterr()
    assert "calibration off" in err.lower()
    pairs = [line for line in out.splitlines() if " ~ " in line]
    assert pairs and all(re.search(r" \d\.\d{4} +– +– ", line) for line in pairs)
    table = tmp_path / "nb.tsv"
    assert main(["neighbours", str(parquet), str(parquet), "--symmetric", "-k", "2",
                 "--other-vectors", "--out", str(table), "-q"]) == 0
    rows = rows_of(table, "\t")
    assert rows and {r["percentile"] for r in rows} == {""} and {r["rescaled"] for r in rows} \
        == {""}
    emb = np.stack(__import__("pyarrow.parquet").parquet.read_table(parquet)
                   .column("embedding").to_numpy(zero_copy_only=False))
    for r in rows[:6]:
        want = float(emb[int(r["query_index"])] @ emb[int(r["corpus_index"])])
        assert float(r["cosine"]) == pytest.approx(want, abs=1e-5)
    # a query typed into a map of another model's vectors
    assert main(["map", str(parquet), "--method", "pca", "--other-vectors", "--search",
                 "something new", "--out", str(tmp_path / "c.csv"), "-q"]) == 2
    assert "cannot encode a text into their space" in capsys.readouterr().err


def write_lines(path, n, start=0):
    lines = [f"line {i} of the corpus" if i % 11 else "" for i in range(start, start + n)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_embed_then_views_use_the_npy_without_encoding(tmp_path, capsys, use, private_cache):
    corpus_file = write_lines(tmp_path / "corpus.txt", 40)
    queries_file = tmp_path / "q.txt"
    queries_file.write_text("what is line 3\nwhere is line 20\n", encoding="utf-8")
    use(FakeEncoder())
    emb = tmp_path / "emb.npy"
    assert main(["embed", str(corpus_file), "--out", str(emb), "-q"]) == 0
    assert json.loads((tmp_path / "emb.npy.json").read_text())["kind"] == "query"
    texts = textio.read_texts(corpus_file).texts
    strict = use(NoEncoding(forbidden=texts))
    assert main(["similarity", str(corpus_file), "--embeddings", str(emb), "-q"]) == 0
    assert main(["map", str(corpus_file), "--embeddings", str(emb), "--method", "pca",
                 "--out", str(tmp_path / "m.csv"), "-q"]) == 0
    table = tmp_path / "nb.tsv"
    assert main(["neighbours", str(queries_file), str(corpus_file), "--corpus-embeddings",
                 str(emb), "-k", "3", "--out", str(table), "-q"]) == 0
    err = capsys.readouterr().err
    assert "'query: '" in err and "'passage: '" in err  # the prompt note
    # the model encoded the queries and its calibration set, never the corpus
    asked = set(strict.asked) - set(baselines.reference_texts())
    assert sorted(asked) == ["what is line 3", "where is line 20"]
    vectors = np.load(emb)
    q = FakeEncoder().encode(["what is line 3", "where is line 20"], kind="query")
    rows = rows_of(table, "\t")
    expect = np.argsort(-(q @ vectors.T), axis=1)[:, :3]
    lines = textio.read_texts(corpus_file).rows
    got = [[int(r["corpus_index"]) for r in rows if r["query_index"] == str(i)]
           for i in range(2)]
    assert got == [[lines[j] for j in expect[i]] for i in range(2)]
    for r in rows:
        assert r["percentile"] != ""  # the model's own vectors: calibrated


def test_a_missing_npy_is_written_by_the_embed_job_and_a_killed_one_resumes(tmp_path, capsys,
                                                                            use,
                                                                            private_cache):
    source = write_lines(tmp_path / "in.txt", 95)
    enc = use(FakeEncoder())
    whole = tmp_path / "whole.npy"
    assert main(["map", str(source), "--embeddings", str(whole), "--chunk", "20", "--method",
                 "pca", "--out", str(tmp_path / "a.csv"), "-q"]) == 0
    assert json.loads((tmp_path / "whole.npy.json").read_text())["kind"] == "symmetric"
    assert np.load(whole).shape == (len(textio.read_texts(source)), 16)

    part = tmp_path / "part.npy"

    def stop(done, total):
        if done >= 40:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embedjob.run(enc, source, part, kind="symmetric", chunk=20, progress=stop)
    assert main(["map", str(source), "--embeddings", str(part), "--method", "pca", "--out",
                 str(tmp_path / "b.csv"), "-q"]) == 2
    assert "pass --resume" in capsys.readouterr().err
    assert main(["map", str(source), "--embeddings", str(part), "--resume", "--method", "pca",
                 "--out", str(tmp_path / "b.csv"), "-q"]) == 0
    assert "resumed after 40" in capsys.readouterr().err
    assert np.load(part).tobytes() == np.load(whole).tobytes()
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_the_job_encodes_through_the_encoder_url(tmp_path, capsys, private_cache):
    from tests.unit.test_remote import FakeServer

    server = FakeServer()
    try:
        source = write_lines(tmp_path / "in.txt", 30)
        emb = tmp_path / "r.npy"
        argv = ["map", str(source), "--embeddings", str(emb), "--encoder-url", server.url,
                "--method", "pca", "--out", str(tmp_path / "r.csv"), "-q"]
        assert main(argv) == 0, capsys.readouterr().err
        meta = json.loads((tmp_path / "r.npy.json").read_text())
        assert meta["model"] == "fake/e5-small" and meta["revision"].startswith("remote")
        before = len(server.requests)
        assert main(argv) == 0  # the second run reads the file: no corpus text is sent
        sent = [json.dumps(r["body"]) for r in server.requests[before:]
                if r["method"] == "POST"]
        texts = textio.read_texts(source).texts
        assert not [t for t in texts if any(json.dumps(t)[1:-1] in body for body in sent)]
        first = [json.dumps(r["body"]) for r in server.requests[:before] if r["method"] == "POST"]
        assert all(any(json.dumps(t)[1:-1] in body for body in first) for t in texts)
    finally:
        server.stop()


def test_similarity_npy_carries_its_json_and_loads_back(tmp_path, capsys, use, private_cache):
    source = write_lines(tmp_path / "in.txt", 25)
    use(FakeEncoder())
    emb = tmp_path / "sim.npy"
    (tmp_path / "sim.npy.json").write_text("{}", encoding="utf-8")  # a stale record
    assert main(["similarity", str(source), "--out", str(emb), "-q"]) == 0
    assert json.loads((tmp_path / "sim.npy.json").read_text())["kind"] == "symmetric"
    use(NoEncoding(forbidden=textio.read_texts(source).texts))
    out = tmp_path / "m.csv"
    assert main(["similarity", str(source), "--embeddings", str(emb), "--out", str(out),
                 "-q"]) == 0
    x = np.load(emb)
    with open(out, encoding="utf-8", newline="") as fh:
        matrix = np.array([[float(v) for v in row[1:]] for row in list(csv.reader(fh))[1:]])
    np.testing.assert_allclose(matrix, x @ x.T, atol=1e-5)


def test_an_embedding_column_e5ui_did_not_write_is_used_only_when_named(tmp_path, capsys, use,
                                                                        private_cache):
    from tests.unit.test_vectors import parquet_with

    texts = [f"text number {i}" for i in range(12)]
    emb = np.random.default_rng(4).normal(size=(12, 16)).astype(np.float32)
    path = parquet_with(tmp_path / "st.parquet", texts, emb)
    enc = use(FakeEncoder())
    assert main(["similarity", str(path), "-q"]) == 0
    assert "that e5ui did not write, so the texts are encoded" in capsys.readouterr().err
    assert enc.calls == 2  # the texts and the calibration set
    use(NoEncoding(forbidden=texts))
    assert main(["similarity", str(path), "--embeddings", str(path), "-q"]) == 2
    assert "records no model" in capsys.readouterr().err
    out = tmp_path / "m.csv"
    assert main(["similarity", str(path), "--embeddings", str(path), "--other-vectors",
                 "--out", str(out), "-q"]) == 0
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    with open(out, encoding="utf-8", newline="") as fh:
        matrix = np.array([[float(v) for v in row[1:]] for row in list(csv.reader(fh))[1:]])
    np.testing.assert_allclose(matrix, unit @ unit.T, atol=1e-5)
