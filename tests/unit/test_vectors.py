"""Bring your own vectors: what e5ui records when it writes vectors (Parquet metadata, a JSON
beside an .npy), reading them back without encoding, the checks against the loaded model, and
calibration off for vectors of another model. References are numpy and pyarrow, not the code
under test."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from e5ui import embedjob, textio, views
from e5ui.analysis.calibration import Baseline, calibrate
from e5ui.encoding.vectors import LoadedVectors, VectorsMismatch, use_vectors
from e5ui.textio import vectors as vectorio
from tests.conftest import ASSETS, FakeEncoder


class NoEncoding(FakeEncoder):
    """A FakeEncoder that fails when asked to encode any of ``forbidden`` (the texts whose
    vectors were loaded), and counts what it was asked."""

    def __init__(self, forbidden=(), **kwargs):
        super().__init__(**kwargs)
        self.forbidden = set(forbidden)
        self.asked: list[str] = []

    def encode_detailed(self, texts, kind="query", normalize=True, progress=None):
        hit = self.forbidden.intersection(texts)
        assert not hit, f"encoded loaded texts: {sorted(hit)[:3]}"
        self.asked.extend(texts)
        return super().encode_detailed(texts, kind, normalize, progress)


@pytest.fixture
def corpus():
    return textio.read_texts(ASSETS / "examples/map_parallel.tsv")


def written_map(tmp_path, corpus, encoder, center=False):
    data = views.map_data(encoder, corpus, center=center)
    result = views.map_view(data, method="pca")
    return result, result.write(tmp_path / "map.parquet")


def test_a_map_round_trips_through_parquet_without_encoding(tmp_path, corpus, private_cache):
    made = FakeEncoder()
    first, path = written_map(tmp_path, corpus, made)
    again = textio.read_texts(path)
    assert again.texts == corpus.texts
    strict = NoEncoding(forbidden=corpus.texts)
    loaded = use_vectors(strict, again, path)
    reference = np.stack(pq.read_table(path).column("embedding").to_numpy(zero_copy_only=False))
    out = loaded.encode_detailed(again.texts, kind="symmetric").embeddings
    assert out.dtype == np.float32 and out.tobytes() == first.data.embeddings.tobytes()
    assert np.array_equal(out, reference.astype(np.float32))
    second = views.map_view(views.map_data(loaded, again), method="pca")
    assert np.array_equal(second.projection.coords, first.projection.coords)
    assert strict.asked == []
    # and it records the same model again, so the file it writes loads too
    second.write(tmp_path / "again.parquet")
    meta = json.loads(pq.read_schema(tmp_path / "again.parquet").metadata[b"e5ui"])
    assert meta["model"] == "fake/e5"


def test_parquet_metadata_says_what_made_the_vectors(tmp_path, corpus):
    _, path = written_map(tmp_path, corpus, FakeEncoder(dim=16))
    meta = json.loads(pq.read_schema(path).metadata[b"e5ui"].decode())
    assert meta == {"format": "e5ui-vectors", "version": 1, "model": "fake/e5",
                    "revision": "1", "kind": "symmetric", "prompt": "query: ", "dim": 16,
                    "normalized": True, "centered": False}


def parquet_with(path, texts, emb, meta=None, fixed=True):
    flat = pa.array(emb.reshape(-1))
    column = (pa.FixedSizeListArray.from_arrays(flat, emb.shape[1]) if fixed else
              pa.ListArray.from_arrays(pa.array(np.arange(0, emb.size + 1, emb.shape[1],
                                                          dtype=np.int32)), flat))
    table = pa.table({"text": pa.array(texts), "embedding": column})
    if meta is not None:
        table = table.replace_schema_metadata({"e5ui": json.dumps(meta)})
    pq.write_table(table, path)
    return path


def meta_for(model="fake/e5", dim=16, **changes):
    return {"format": "e5ui-vectors", "version": 1, "model": model, "revision": "1",
            "kind": "symmetric", "prompt": "query: ", "dim": dim, "normalized": True,
            "centered": False, **changes}


@pytest.mark.parametrize("fixed", [True, False])
def test_blank_rows_are_skipped_and_the_vectors_follow_the_texts_read(tmp_path, fixed):
    rng = np.random.default_rng(3)
    emb = rng.normal(size=(5, 16)).astype(np.float32)
    path = parquet_with(tmp_path / "v.parquet", ["a", None, "c", "  ", "e"], emb, meta_for(),
                        fixed)
    corpus = textio.read_texts(path)
    assert corpus.texts == ["a", "c", "e"] and corpus.skipped == [1, 3]
    got = use_vectors(FakeEncoder(), corpus, path).encode(corpus.texts, kind="symmetric")
    want = emb[[0, 2, 4]] / np.linalg.norm(emb[[0, 2, 4]], axis=1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("meta, words", [
    (meta_for(model="intfloat/multilingual-e5-large"),
     ["intfloat/multilingual-e5-large", "fake/e5"]),
    (meta_for(dim=1024), ["1024-dimensional", "fake/e5", "16-dimensional"]),
    (None, ["records no model", "fake/e5", "e5ui-vectors"]),
    (meta_for(centered=True, normalized=False), ["centered", "fake/e5"]),
])
def test_vectors_of_another_model_are_refused_naming_both_sides(tmp_path, meta, words):
    dim = meta["dim"] if meta else 16
    emb = np.random.default_rng(0).normal(size=(3, 16)).astype(np.float32)
    if dim != 16:
        emb = np.random.default_rng(0).normal(size=(3, dim)).astype(np.float32)
    path = parquet_with(tmp_path / "v.parquet", ["a", "b", "c"], emb, meta)
    corpus = textio.read_texts(path)
    with pytest.raises(VectorsMismatch) as err:
        use_vectors(FakeEncoder(), corpus, path)
    for word in words:
        assert word in str(err.value)
    assert "--other-vectors" in str(err.value)


def test_a_centered_map_does_not_pass_as_the_models_vectors(tmp_path, corpus):
    _, path = written_map(tmp_path, corpus, FakeEncoder(), center=True)
    meta = json.loads(pq.read_schema(path).metadata[b"e5ui"])
    assert meta["centered"] is True and meta["normalized"] is False
    with pytest.raises(VectorsMismatch, match="centered"):
        use_vectors(FakeEncoder(), textio.read_texts(path), path)


def test_other_vectors_turn_calibration_off_in_every_view(tmp_path):
    texts = ["alpha one", "beta two", "gamma three", "delta four"]
    emb = np.random.default_rng(5).normal(size=(4, 16)).astype(np.float32)
    path = parquet_with(tmp_path / "v.parquet", texts, emb, meta_for(model="other/model"))
    corpus = textio.read_texts(path)
    strict = NoEncoding(forbidden=texts)
    loaded = use_vectors(strict, corpus, path, allow_other=True)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)

    sim = views.similarity_view(loaded, corpus, order="input")
    assert any(n.startswith("Calibration off") and "other/model" in n for n in sim.notes)
    row = sim.top.rows[0]
    i, j = row[0], row[1]
    assert row[4] == pytest.approx(float(unit[i] @ unit[j]), abs=1e-6)
    assert np.isnan(row[5]) and np.isnan(row[6])
    assert views.fmt_pct(row[5]) == "–"

    nb = views.neighbours_view(loaded, corpus, corpus, k=2, symmetric=True)
    assert sum(n.startswith("Calibration off") for n in nb.notes) == 1
    assert all(np.isnan(r[5]) for r in nb.table.rows)
    frame = nb.table.frame()
    assert set(frame["percentile"]) == {"–"}

    m = views.map_view(views.map_data(loaded, corpus), method="pca")
    near = views.map_neighbours(m, 0, k=2, encoder=loaded)
    assert all(r[3] is None for r in near.table.rows)
    with pytest.raises(ValueError, match="cannot encode a text into their space"):
        views.map_search(m, "a query nobody loaded", loaded)
    assert strict.asked == []


def test_own_vectors_delegate_other_texts_to_the_loaded_model(tmp_path, corpus,
                                                              private_cache):
    _, path = written_map(tmp_path, corpus, FakeEncoder())
    again = textio.read_texts(path)
    strict = NoEncoding(forbidden=again.texts)
    loaded = use_vectors(strict, again, path)
    assert loaded.calibrated and loaded.own
    m = views.map_view(views.map_data(loaded, again), method="pca")
    query = "When does the train to Berlin leave?"
    found = views.map_search(m, query, loaded, threshold=0.5)
    assert query in strict.asked
    vec = FakeEncoder().encode([query], kind="query")[0]
    unit = m.data.embeddings / np.linalg.norm(m.data.embeddings, axis=1, keepdims=True)
    np.testing.assert_allclose(found.found.cosines, unit @ vec, atol=1e-5)
    assert not np.isnan(found.found.percentile).any()


def test_an_embed_job_writes_its_json_last_and_the_npy_loads_back(tmp_path):
    lines = [f"sentence number {i}" if i % 7 else "" for i in range(60)]
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "emb.npy"
    enc = FakeEncoder()

    def stop(done, total):
        if done >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embedjob.run(enc, source, out, chunk=10, progress=stop)
    side = vectorio.sidecar_path(out)
    assert side.name == "emb.npy.json" and not side.exists()  # unfinished: nothing claimed
    embedjob.run(enc, source, out, chunk=10, resume=True)
    meta = json.loads(side.read_text(encoding="utf-8"))
    assert meta == meta_for(kind="query")
    corpus = textio.read_texts(source)
    strict = NoEncoding(forbidden=corpus.texts)
    got = use_vectors(strict, corpus, out).encode(corpus.texts, kind="query")
    np.testing.assert_array_equal(got, np.load(out))
    # a job that starts again removes a description of the array it replaces
    with pytest.raises(KeyboardInterrupt):
        embedjob.run(enc, source, out, chunk=10, progress=stop)
    assert not side.exists()


def test_an_npy_is_checked_row_by_row(tmp_path):
    texts = textio.Corpus([f"t{i}" for i in range(1000)], rows=list(range(1000)))
    emb = np.random.default_rng(1).normal(size=(999, 8)).astype(np.float32)
    np.save(tmp_path / "emb.npy", emb)
    with pytest.raises(ValueError, match="emb.npy has 999 rows, the text file 1,000 texts"):
        use_vectors(None, texts, tmp_path / "emb.npy", allow_other=True)
    short = textio.Corpus(texts.texts[:999], rows=list(range(999)))
    emb[5, 3] = np.nan
    np.save(tmp_path / "emb.npy", emb)
    with pytest.raises(ValueError, match="row 5 holds NaN"):
        use_vectors(None, short, tmp_path / "emb.npy", allow_other=True)
    emb[5] = 0
    np.save(tmp_path / "emb.npy", emb)
    with pytest.raises(ValueError, match="row 5 is all zeros"):
        use_vectors(None, short, tmp_path / "emb.npy", allow_other=True)


def test_an_npy_without_its_json_says_how_to_write_one(tmp_path):
    corpus = textio.Corpus(["a", "b"], rows=[0, 1])
    np.save(tmp_path / "st.npy", np.eye(2, 16, dtype=np.float32))
    with pytest.raises(VectorsMismatch) as err:
        use_vectors(FakeEncoder(), corpus, tmp_path / "st.npy")
    message = str(err.value)
    assert "st.npy.json" in message
    example = json.loads(message[message.index("{"):message.index("}") + 1])
    (tmp_path / "st.npy.json").write_text(json.dumps(example), encoding="utf-8")
    assert use_vectors(FakeEncoder(), corpus, tmp_path / "st.npy").own


def test_a_prompt_other_than_the_views_is_a_note(tmp_path):
    corpus = textio.Corpus(["a b", "c d", "e f"], rows=[0, 1, 2])
    emb = np.random.default_rng(2).normal(size=(3, 16)).astype(np.float32)
    np.save(tmp_path / "e.npy", emb)
    vectorio.write_sidecar(tmp_path / "e.npy", textio.VectorInfo(
        "fake/e5", "1", "query", "query: ", 16))
    loaded = use_vectors(FakeEncoder(), corpus, tmp_path / "e.npy")
    result = loaded.encode_detailed(corpus.texts, kind="passage")
    assert any("'query: '" in n and "'passage: '" in n for n in result.notes)
    assert not loaded.encode_detailed(corpus.texts, kind="symmetric").notes
    # some of the texts with another prompt: the model that made them encodes them as asked
    fake = FakeEncoder()
    np.testing.assert_array_equal(loaded.encode(["c d"], kind="passage"),
                                  fake.encode(["c d"], kind="passage"))
    np.testing.assert_allclose(loaded.encode(["c d"], kind="query")[0],
                               emb[1] / np.linalg.norm(emb[1]), rtol=1e-6)


def test_calibration_off_is_nan_not_a_number_that_looks_calibrated():
    off = Baseline.off("x")
    cal = calibrate(np.array([[0.8, 0.9]]), off)
    assert cal.percentile.shape == (1, 2) and np.isnan(cal.percentile).all()
    assert np.isnan(cal.rescaled).all() and np.isnan(off.median)
    assert LoadedVectors  # the adapter satisfies the encoder protocol
    from e5ui.encoding import TextEncoder

    loaded = LoadedVectors(["a"], textio.Vectors(np.ones((1, 4), np.float32), None, "x.npy"),
                           None, allow_other=True)
    assert isinstance(loaded, TextEncoder)


def test_vectors_are_read_batch_by_batch_for_the_rows_wanted(tmp_path):
    rng = np.random.default_rng(8)
    emb = rng.normal(size=(11, 8)).astype(np.float32)
    emb[4] = np.nan  # the vector of a row whose text is not read does not matter
    path = parquet_with(tmp_path / "v.parquet", [f"t{i}" for i in range(11)], emb, fixed=False)
    wanted = [0, 1, 2, 3, 5, 6, 9, 10]
    got = vectorio.read_parquet(path, wanted, batch_rows=3)
    assert got.embeddings.tobytes() == emb[wanted].tobytes() and got.info is None
    with pytest.raises(ValueError, match="row 4 holds NaN"):
        vectorio.read_parquet(path, None, batch_rows=3)


def test_the_input_byte_limit_does_not_count_the_vectors(tmp_path):
    emb = np.random.default_rng(9).normal(size=(200, 256)).astype(np.float32)
    path = parquet_with(tmp_path / "v.parquet", [f"t{i}" for i in range(200)], emb, meta_for())
    size = path.stat().st_size
    assert size > 150_000  # the vectors: 200 KB
    assert len(textio.read_texts(path, max_bytes=size // 4)) == 200
    with pytest.raises(ValueError, match="larger than"):
        textio.read_texts(path, max_bytes=500)


def test_pages_of_other_vectors_show_cosines_only(tmp_path):
    texts = ["alpha one", "beta two", "gamma three", "delta four"]
    emb = np.random.default_rng(6).normal(size=(4, 16)).astype(np.float32)
    path = parquet_with(tmp_path / "v.parquet", texts, emb, meta_for(model="other/model"))
    corpus = textio.read_texts(path)
    loaded = use_vectors(None, corpus, path, allow_other=True)
    sim = views.similarity_view(loaded, corpus, order="input")
    hover = sim.figure.data[0].hovertemplate
    assert "of unrelated pairs" not in hover and "rescaled" not in hover
    from e5ui import baselines

    m = views.map_view(views.map_data(loaded, corpus), method="pca")
    page = m.write(tmp_path / "map.html", baseline=baselines.reference_baseline(loaded))
    text = page.read_text(encoding="utf-8")
    start = text.index('id="e5ui-explore-data"')
    data = json.loads(text[text.index(">", start) + 1:text.index("</script>", start)])
    assert data["percentile"] is None
