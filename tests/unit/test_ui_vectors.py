"""The app's vectors inputs without a server: an .npy is paired with its JSON whatever name
gradio kept, a recorded Parquet column is used and an unrecorded one is not, another model's
vectors are refused unless allowed, a map drawn from them keeps scoring with them, and callers
from before the new API parameters get their defaults."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from e5ui import textio, views
from e5ui.encoding.vectors import LoadedVectors, VectorsMismatch, vector_info
from e5ui.holder import ModelHolder
from e5ui.settings import Settings
from e5ui.textio.vectors import VectorInfo, parquet_metadata, write_sidecar
from e5ui.ui import common, params
from e5ui.ui import vectors as vectors_ui
from tests.conftest import FakeEncoder

TEXTS = [f"text {i}" for i in range(12)]


@pytest.fixture
def app(private_cache):
    return common.App.for_tests(ModelHolder(Settings(model="fake"), encoder=FakeEncoder()))


def unit_rows(n: int, d: int = 16, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def corpus_and_file(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    return textio.read_texts(path), path


def test_an_npy_is_paired_with_its_json_under_any_name(app, tmp_path):
    enc = app.holder.wait()
    corpus, _ = corpus_and_file(tmp_path)
    vectors = unit_rows(len(TEXTS))
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()  # as gradio keeps uploads: apart
    np.save(tmp_path / "a" / "emb.npy", vectors)
    side = write_sidecar(tmp_path / "a" / "emb.npy", vector_info(enc, "symmetric"))
    renamed = side.rename(tmp_path / "b" / "record (1).json")
    (tmp_path / "a" / "emb.npy.json").unlink(missing_ok=True)
    chosen = vectors_ui.choose(app, enc, corpus, None,
                               [str(renamed), str(tmp_path / "a" / "emb.npy")], False, "texts")
    assert isinstance(chosen.encoder, LoadedVectors) and chosen.encoder.own
    np.testing.assert_array_equal(chosen.encoder.encode(TEXTS, kind="symmetric"), vectors)
    assert chosen.encoder.notes[0].startswith("Used the vectors of emb.npy, made by fake/e5")
    # Without its JSON the .npy names no model: refused, naming the checkbox.
    with pytest.raises(VectorsMismatch, match="records no model.*Use vectors of another model"):
        vectors_ui.choose(app, enc, corpus, None, [str(tmp_path / "a" / "emb.npy")], False,
                          "texts")
    for files, message in (([], None), ([str(renamed)], "Upload one vectors file"),
                           ([str(tmp_path / "texts.txt")], "not 'texts.txt'")):
        if message is None:
            assert vectors_ui.choose(app, enc, corpus, None, files, False, "t").encoder is enc
        else:
            with pytest.raises(ValueError, match=message):
                vectors_ui.choose(app, enc, corpus, None, files, False, "texts")


def test_a_parquet_upload_uses_its_recorded_column_only(app, tmp_path):
    enc = app.holder.wait()
    vectors = unit_rows(len(TEXTS), seed=3)
    column = pa.array(list(vectors), pa.list_(pa.float32()))
    recorded, unrecorded = tmp_path / "map.parquet", tmp_path / "theirs.parquet"
    table = pa.table({"text": TEXTS, "embedding": column})
    pq.write_table(table.replace_schema_metadata(parquet_metadata(vector_info(enc, "symmetric"))),
                   recorded)
    pq.write_table(table, unrecorded)
    corpus = textio.read_input(None, str(recorded), "texts", 100, 1000)
    chosen = vectors_ui.choose(app, enc, corpus, str(recorded), None, False, "texts")
    assert isinstance(chosen.encoder, LoadedVectors) and not chosen.notes
    assert "map.parquet's 'embedding' column" in chosen.encoder.notes[0]
    calls = enc.calls
    data = views.map_data(chosen.encoder, corpus)
    np.testing.assert_array_equal(data.embeddings, vectors)
    assert enc.calls == calls  # nothing encoded
    chosen = vectors_ui.choose(app, enc, corpus, str(unrecorded), None, False, "texts")
    assert chosen.encoder is enc and "e5ui did not write" in chosen.notes[0]


def test_a_map_of_another_models_vectors_keeps_scoring_with_them(app, tmp_path):
    enc = app.holder.wait()
    corpus, _ = corpus_and_file(tmp_path)
    vectors = unit_rows(len(TEXTS), seed=5)
    np.save(tmp_path / "big.npy", vectors)
    write_sidecar(tmp_path / "big.npy", VectorInfo("org/other-model", None, "symmetric",
                                                   "query: ", 16))
    files = [str(tmp_path / "big.npy"), str(tmp_path / "big.npy.json")]
    with pytest.raises(VectorsMismatch, match="made by org/other-model; the loaded model is"):
        vectors_ui.choose(app, enc, corpus, None, files, False, "texts")
    chosen = vectors_ui.choose(app, enc, corpus, None, files, True, "texts")
    result = views.map_view(views.map_data(chosen.encoder, corpus), "pca")
    # Later interactions are given the loaded model, as the app's clicks are.
    found = views.map_neighbours(result, 4, 3, encoder=enc)
    sims = vectors @ vectors[4]
    sims[4] = -np.inf
    assert [r[1] for r in found.table.rows] == np.argsort(-sims)[:3].tolist()
    assert np.isnan(found.found.percentile).all()
    assert (found.table.frame()["percentile"] == "–").all()
    with pytest.raises(ValueError, match="cannot encode a text into their space"):
        views.map_search(result, "a new query", enc)
    # A text of the map is its own vector: searchable, with no percentiles.
    hits = views.map_search(result, TEXTS[2], enc, 0.5)
    assert np.isnan(hits.found.percentile).all()


def test_callers_from_before_the_vectors_get_their_defaults(app):
    from e5ui import ui

    demo = ui.build_demo(holder=app.holder)
    fn = next(f for f in demo.fns.values() if f.api_name == "similarity")
    names = list(fn.input_parameter_names)
    assert names[-3:] == ["columns", "vectors", "other_vectors"]
    old = ["a\nb", None, "input", "symmetric", False]  # before columns and the vectors
    checked = params.check_inputs(fn, old, None)
    assert checked[-3:] == [None, None, False] and checked[:4] == old[:4]
    with pytest.raises(Exception, match="vectors must be a list of files"):
        params.check_inputs(fn, [*old, None, "emb.npy", False], None)
    with pytest.raises(Exception, match="other_vectors must be true or false"):
        params.check_inputs(fn, [*old, None, None, "yes"], None)


def test_a_heatmap_cell_of_another_models_vectors_shows_no_percentile(app, tmp_path):
    enc = app.holder.wait()
    corpus, _ = corpus_and_file(tmp_path)
    vectors = unit_rows(len(TEXTS), seed=7)
    np.save(tmp_path / "big.npy", vectors)
    write_sidecar(tmp_path / "big.npy", VectorInfo("org/other-model", None, "symmetric",
                                                   "query: ", 16))
    chosen = vectors_ui.choose(app, enc, corpus, None, [str(tmp_path / "big.npy"),
                                                        str(tmp_path / "big.npy.json")],
                               True, "texts")
    result = views.similarity_view(chosen.encoder, corpus, "input")
    cell = views.pair_at(result, 0, 1)
    assert cell.cosine == pytest.approx(float(vectors[0] @ vectors[1]), abs=1e-5)
    assert "higher than **–** of unrelated pairs · rescaled **–**" in cell.scores
    assert "nan" not in cell.scores.lower()
    assert "Calibration off" in cell.figure.layout.annotations[0].text
