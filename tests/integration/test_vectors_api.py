"""Bring your own vectors through the app's API, on the bundled model: an uploaded map.parquet
whose vectors e5ui recorded is mapped from them; an .npy with its JSON (uploaded under another
name) feeds Neighbours and Similarity; another model's vectors are refused with one sentence,
then used with calibration off ("–") when the caller allows them.

The files' vectors are random unit vectors recorded as the loaded model's: nothing the model
would make of the texts, so every score below can only come from the file, and the encoder,
which records every text it is asked for, shows the texts were never encoded."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.conftest import rows, small_app, upload

pytestmark = pytest.mark.integration

N, D = 40, 384  # the bundled model's dimension
TEXTS = [f"record {i}: {w}" for i, w in enumerate(
    ["apple", "river", "castle", "engine", "violin", "desert", "harbour", "glacier"] * 5)]


class Counting:
    """The bundled encoder, recording every text it encodes."""

    def __init__(self, encoder):
        self.encoder, self.seen = encoder, set()

    def encode_detailed(self, texts, kind="query", normalize=True, progress=None):
        self.seen.update(texts)
        return self.encoder.encode_detailed(texts, kind=kind, normalize=normalize,
                                            progress=progress)

    def encode(self, texts, kind="query", normalize=True, progress=None):
        self.seen.update([texts] if isinstance(texts, str) else texts)
        return self.encoder.encode(texts, kind=kind, normalize=normalize, progress=progress)

    def __getattr__(self, name):
        return getattr(self.encoder, name)


def unit_rows(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def top_k(queries: np.ndarray, corpus: np.ndarray, k: int, skip_self: bool = False):
    """The reference: each query's k most cosine-similar corpus rows (numpy alone)."""
    sims = queries @ corpus.T
    if skip_self:
        np.fill_diagonal(sims, -np.inf)
    return np.argsort(-sims, axis=1, kind="stable")[:, :k]


@pytest.fixture(scope="module")
def served(tmp_path_factory, bundled_encoder):
    from e5ui.encoding.vectors import vector_info
    from e5ui.textio.vectors import VectorInfo, parquet_metadata, write_sidecar

    root = tmp_path_factory.mktemp("vectors")
    vectors = unit_rows(N, 1)
    info = vector_info(bundled_encoder, "symmetric", dim=D)
    table = pa.table({"text": TEXTS, "embedding": pa.array(list(vectors),
                                                           pa.list_(pa.float32()))})
    pq.write_table(table.replace_schema_metadata(parquet_metadata(info)), root / "map.parquet")
    (root / "texts.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    np.save(root / "emb.npy", vectors)
    # Uploaded under another name than emb.npy.json: the app pairs it with the .npy.
    shutil.copy(write_sidecar(root / "emb.npy", vector_info(bundled_encoder, "passage", dim=D)),
                root / "emb-record.json")
    other = root / "other"
    other.mkdir()
    np.save(other / "large.npy", vectors)
    write_sidecar(other / "large.npy", VectorInfo("intfloat/multilingual-e5-large", None,
                                                  "symmetric", "query: ", D))
    encoder = Counting(bundled_encoder)
    with small_app(root, encoder) as (client, _):
        yield client, root, vectors, encoder


def encoded_any(encoder: Counting) -> bool:
    return bool(encoder.seen & set(TEXTS))


def test_a_recorded_map_parquet_is_mapped_from_its_vectors(served):
    client, root, vectors, encoder = served
    parquet = upload(root / "map.parquet")
    _, summary, notes, files, *_ = client.predict("", parquet, "pca", api_name="/map")
    assert "Used the vectors in map.parquet's 'embedding' column, made by" in notes
    assert "nothing encoded" in notes and "Calibration off" not in notes
    assert not encoded_any(encoder)
    table, _, _ = client.predict("", parquet, 7, 5, "pca", api_name="/map_neighbours")
    got = [r["index"] for r in rows(table)]
    assert got == top_k(vectors, vectors, 5, skip_self=True)[7].tolist()
    assert all(r["percentile"] != "–" for r in rows(table))  # the model's own: calibrated
    assert not encoded_any(encoder)
    # Search by meaning with the model's own vectors: the query is encoded, the texts not.
    _, summary = client.predict("", parquet, "a castle by the river", 0.5, "pca",
                                api_name="/map_search")
    assert f"of {N} texts" in summary and "a castle by the river" in encoder.seen
    assert not encoded_any(encoder)


def test_neighbours_and_similarity_read_an_npy_with_its_json(served, bundled_encoder):
    client, root, vectors, encoder = served
    pair = [upload(root / "emb.npy"), upload(root / "emb-record.json")]
    queries = ["a violin in the castle", "the engine of a ship"]
    table, _, notes, *_ = client.predict(
        "\n".join(queries), "", None, upload(root / "texts.txt"), 3, corpus_vectors=pair,
        api_name="/neighbours")
    assert "Used the vectors of emb.npy, made by" in notes
    q = bundled_encoder.encode(queries, kind="query")
    want = top_k(q, vectors, 3)
    got = np.array([r["corpus_index"] for r in rows(table)]).reshape(2, 3)
    np.testing.assert_array_equal(got, want)
    assert not encoded_any(encoder)

    _, _, _, _, files, *_ = client.predict("", upload(root / "texts.txt"), "input",
                                               vectors=pair, api_name="/similarity")
    matrix = next(Path(f) for f in files if str(f).endswith(".csv"))
    with matrix.open(encoding="utf-8", newline="") as f:
        got = np.array([[float(v) for v in row[1:]] for row in list(csv.reader(f))[1:]])
    np.testing.assert_allclose(got, vectors @ vectors.T, atol=1e-4)
    assert not encoded_any(encoder)


def test_another_models_vectors_are_refused_then_used_without_calibration(served):
    from gradio_client.exceptions import AppError

    client, root, vectors, encoder = served
    large = [upload(root / "other" / "large.npy"), upload(root / "other" / "large.npy.json")]
    texts = upload(root / "texts.txt")
    with pytest.raises(AppError) as refused:
        client.predict("", texts, "input", vectors=large, api_name="/similarity")
    message = str(refused.value)
    assert "large.npy was made by intfloat/multilingual-e5-large" in message
    assert "Use vectors of another model (calibration off)" in message
    assert "Traceback" not in message

    _, summary, notes, table, *_ = client.predict("", texts, "input", vectors=large,
                                                  other_vectors=True, api_name="/similarity")
    assert "Calibration off" in notes
    top = rows(table)
    assert top and all(r["percentile"] == "–" for r in top)
    best = max(((i, j) for i in range(N) for j in range(i + 1, N)),
               key=lambda p: float(vectors[p[0]] @ vectors[p[1]]))
    assert {top[0]["index_a"], top[0]["index_b"]} == set(best)

    # The map of them: a click's percentiles are "–"; a typed query is refused (the loaded
    # model cannot encode into another model's space).
    client.predict("", texts, "pca", vectors=large, other_vectors=True, api_name="/map")
    table, _, _ = client.predict("", texts, 3, 4, "pca", vectors=large,
                                 other_vectors=True, api_name="/map_neighbours")
    assert [r["index"] for r in rows(table)] == top_k(vectors, vectors, 4, skip_self=True)[3]\
        .tolist()
    assert all(r["percentile"] == "–" for r in rows(table))
    with pytest.raises(AppError, match="cannot encode a text into their space"):
        client.predict("", texts, "a castle", 0.5, "pca", vectors=large,
                       other_vectors=True, api_name="/map_search")
    assert not encoded_any(encoder) and "a castle" not in encoder.seen


def test_callers_from_before_the_vectors_parameters_are_answered_as_before(served):
    from tests.integration.test_fuzz_endpoints import call

    client, *_ = served
    base = client.src if client.src.endswith("/") else client.src + "/"
    # /similarity's parameters before ``columns`` and the vectors: texts, file, order, kind,
    # center.
    kind, outputs = call(base, "/similarity", ["a\nb\nc", None, "input", "symmetric", False])
    assert kind == "complete" and outputs[1].startswith("3 texts")
