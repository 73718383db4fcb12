"""The Map from vectors a team already has, in a real browser: a 20,000-text Parquet file with
its ``embedding`` column, recorded as the loaded model's, is uploaded, mapped (PCA) from those
vectors without encoding, and a click on a point lists its neighbours and draws their lines.

The file is made here: texts of generated words per topic and random unit vectors around topic
centres (d = 384, the bundled model's; encoding 20,000 texts would take minutes on 2 cores,
and the point is that the app maps the file's vectors). Its record is the one the app itself
writes into a map.parquet download, so it names exactly the model the app loaded. The
reference for the neighbours is numpy's top-k by cosine over the file's own vectors.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import open_app
from tests.e2e.test_browser import open_tab, table_rows, wait_for
from tests.e2e.test_map_explore import GD, POINTS_JS, K, check_lines

pytestmark = pytest.mark.e2e

N, D, TOPICS = 20_000, 384, 24
LANGS = ("en", "de", "fr", "es")
MAP_MS = 120_000  # upload (31 MB), read, PCA and 20,000 points to the browser
EVENT_MS = 60_000


def recorded_model(url: str, folder) -> bytes:
    """The e5ui record the app writes for its own model's vectors (a 3-text map's
    map.parquet download)."""
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=str(folder))
    files = client.predict("one\ntwo\nthree", None, "pca", api_name="/map")[3]
    parquet = next(f for f in files if str(f).endswith("map.parquet"))
    return pq.read_schema(parquet).metadata[b"e5ui"]


def make_file(path, record: bytes) -> np.ndarray:
    """``N`` texts of six words of their topic, in one of ``LANGS``, with unit vectors around
    the topic's centre; returns the vectors."""
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(TOPICS, D))
    topic = rng.integers(0, TOPICS, N)
    block = centres[topic] + 0.8 * rng.normal(size=(N, D))
    vectors = (block / np.linalg.norm(block, axis=1, keepdims=True)).astype(np.float32)
    langs = [LANGS[i % len(LANGS)] for i in range(N)]
    words = [" ".join(f"{langs[i]}{topic[i]}w{j}" for j in rng.integers(0, 12, 6))
             + f" number {i}" for i in range(N)]
    info = json.loads(record)
    assert info["dim"] == D, info  # the bundled model's dimension
    column = pa.FixedSizeListArray.from_arrays(pa.array(vectors.reshape(-1)), D)
    table = pa.table({"text": words, "lang": langs, "embedding": column})
    pq.write_table(table.replace_schema_metadata({b"e5ui": record}), path)
    return vectors


def isolated_point(points: list[dict]) -> dict:
    """The drawn point farthest on screen from its nearest other point (a click at its centre
    hits it alone); a k-d tree, not 20,000 × 20,000 distances."""
    from scipy.spatial import cKDTree

    xy = np.array([[p["px"], p["py"]] for p in points])
    gaps, _ = cKDTree(xy).query(xy, k=2)
    return points[int(np.argmax(gaps[:, 1]))]


def test_a_20000_point_map_from_a_parquet_file_with_vectors(browser, app_server, tmp_path,
                                                            screens_dir):
    path = tmp_path / "collection.parquet"
    vectors = make_file(path, recorded_model(app_server.url, tmp_path / "client"))
    assert path.stat().st_size < 50 * 2**20  # within the app's default --max-upload-mb

    for page in open_app(browser, app_server.url, {"width": 1920, "height": 1080}):
        panel = open_tab(page, "Map", "#map-plot")
        panel.get_by_text("Options: method, colours, meaning vs. language").click()
        panel.get_by_label("PCA", exact=True).check()  # no UMAP wait (nor a preview to refuse)
        panel.locator("input[type=file]").first.set_input_files(str(path))
        wait_for(page, app_server, "document.body.innerText.includes('collection.parquet')",
                 "the uploaded file in its slot", MAP_MS)
        page.locator("#map-run").click()
        wait_for(page, app_server,
                 "(document.querySelector('#map-summary')?.innerText || '').startsWith('PCA')",
                 "the PCA map of the file's vectors", MAP_MS)
        notes = panel.locator(".notes").first.inner_text()
        assert "Used the vectors in collection.parquet's 'embedding' column" in notes, notes
        assert "nothing encoded" in notes

        page.locator("#map-plot").scroll_into_view_if_needed()
        points = page.evaluate(POINTS_JS)
        assert len(points) == N
        target = isolated_point(points)
        pos = target["pos"]
        page.mouse.click(target["px"], target["py"])
        wait_for(page, app_server,
                 f"(document.querySelector('#map-near-summary')?.innerText || '')"
                 f".includes('of line {pos} ') && {GD}.data.some(t => t.name === "
                 "'clicked text')", f"the neighbours of the clicked text {pos}", EVENT_MS)

        cos = vectors.astype(np.float64) @ vectors[pos].astype(np.float64)
        cos[pos] = -np.inf  # itself excluded
        want = np.argsort(-cos, kind="stable")[:K]
        rows = table_rows(page, "map-near-table")
        got = [int(r["index"]) for r in rows]
        assert got == want.tolist(), (got, want.tolist(), np.round(cos[want], 4).tolist())
        assert np.allclose([float(r["cosine"]) for r in rows], cos[want], atol=1e-3)
        # The model's own vectors: calibrated percentiles, not "–".
        assert all(r["percentile"] not in ("", "–") for r in rows), rows
        far = {int(r["index"]) for r in rows if r["far_on_map"] == "far"}
        check_lines(page, target, got, far)
        page.screenshot(path=str(screens_dir / "map-vectors-20000.png"))
        assert page.js_errors == []
