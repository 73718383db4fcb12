"""The exported map's data: every point's nearest neighbours (``explore.nearest_table``) against
numpy and scikit-learn, and the page's JSON blocks, which no text can break out of."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from e5ui import plots, textio
from e5ui.analysis import explore, projection
from e5ui.analysis.calibration import Baseline
from e5ui.views.map import MapData, MapResult


def unit_rows(n: int, d: int = 12, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).normal(size=(n, d))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def reference_topk(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Full n x n cosines, diagonal excluded, argsort: the independent answer."""
    sims = x @ x.T
    np.fill_diagonal(sims, -np.inf)
    idx = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(sims, idx, axis=1)


@pytest.mark.parametrize("chunk_bytes", [20 * 3, 20 * 37 * 11, 20 * 97 * 13, 64 * 2**20])
def test_nearest_table_equals_a_full_argsort_whatever_the_tiles(chunk_bytes):
    # 97 points and tiles of 3, 37 x 11 or 97 x 13 cells: tile edges fall inside the rows
    # and the columns; random floats leave no ties.
    x = unit_rows(97)
    got = explore.nearest_table(x * 3.0, 10, chunk_bytes=chunk_bytes)  # rows are normalised
    idx, cos = reference_topk(x, 10)
    np.testing.assert_array_equal(got.indices, idx)
    np.testing.assert_allclose(got.cosines, cos, atol=1e-6)
    assert got.percentile is None
    assert (got.indices != np.arange(97)[:, None]).all()


def test_nearest_table_agrees_with_sklearn_cosine_neighbours():
    x = unit_rows(200, 16, seed=4)
    got = explore.nearest_table(x, 10, chunk_bytes=20 * 50 * 50)
    dist, idx = NearestNeighbors(n_neighbors=11, metric="cosine").fit(x).kneighbors(x)
    np.testing.assert_array_equal(got.indices, idx[:, 1:])  # sklearn's first is the point
    np.testing.assert_allclose(got.cosines, 1.0 - dist[:, 1:], atol=1e-6)


def test_nearest_table_percentiles_count_the_baseline_pairs_at_or_below():
    x = unit_rows(40, seed=2)
    base = Baseline("m", np.sort(np.random.default_rng(9).uniform(-0.5, 0.9, 500)
                                 ).astype(np.float32), 32)
    got = explore.nearest_table(x, 5, baseline=base)
    expected = (base.cosines[None, None, :] <= got.cosines[..., None]).mean(axis=-1)
    np.testing.assert_allclose(got.percentile, expected)


def test_nearest_table_small_inputs_and_bad_k():
    assert explore.nearest_table(unit_rows(1), 10).indices.shape == (1, 0)
    assert explore.nearest_table(np.zeros((0, 4)), 10).indices.shape == (0, 0)
    got = explore.nearest_table(unit_rows(4), 10)
    assert got.indices.shape == (4, 3)
    np.testing.assert_array_equal(np.sort(got.indices[0]), [1, 2, 3])
    with pytest.raises(ValueError, match="k must be at least 1"):
        explore.nearest_table(unit_rows(4), 0)


class Scripts(HTMLParser):
    """The page's script elements as (attributes, text) — how a browser splits them."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[dict, str]] = []
        self._open: dict | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open = dict(attrs)
            self.found.append((self._open, ""))

    def handle_data(self, data):
        if self._open is not None:
            attrs, text = self.found[-1]
            self.found[-1] = (attrs, text + data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._open = None


HOSTILE = ["</script><script>alert(1)</script>", "<!-- <script>", "a </SCRIPT > b",
           "\u2028 line sep", "ok & <b>bold</b>"]


def hostile_map() -> tuple[MapResult, np.ndarray]:
    n = 12
    texts = [HOSTILE[i % len(HOSTILE)] + f" {i}" for i in range(n)]
    langs = ["en", "de", "</script>"] * 4
    corpus = textio.Corpus(texts, labels=["<l>"] * n, langs=langs,
                           ids=[f"</script>{i // 2}" for i in range(n)], rows=list(range(n)))
    emb = unit_rows(n, 8, seed=7).astype(np.float32)
    proj = projection.project(emb, method="pca", dim=2, preservation_k=None)
    return MapResult(MapData(corpus, emb, langs, []), proj), emb


def test_the_page_carries_its_data_as_json_that_no_text_breaks_out_of(tmp_path):
    result, emb = hostile_map()
    path = result.write(tmp_path / "map.html")
    page = path.read_text(encoding="utf-8")
    parser = Scripts()
    parser.feed(page)
    kinds = [attrs.get("type") for attrs, _ in parser.found]
    # PlotlyConfig, plotly.js, the figure, the explore data, our script: nothing more.
    assert kinds == ["text/javascript", "text/javascript", "application/json",
                     "application/json", "text/javascript"]
    blocks = {attrs["id"]: json.loads(text) for attrs, text in parser.found
              if attrs.get("type") == "application/json"}
    data = blocks["e5ui-explore-data"]
    assert data["texts"] == result.data.corpus.texts
    assert data["langs"] == result.data.langs
    assert data["ids"] == result.data.corpus.ids
    idx, cos = reference_topk(emb.astype(np.float64), 10)
    assert data["neighbours"] == idx.tolist()
    np.testing.assert_allclose(data["cosines"], cos, atol=1e-4)
    assert data["percentile"] is None and data["k"] == 10
    positions = [cd[-1] for t in blocks["e5ui-figure"]["data"] for cd in t.get("customdata", [])]
    assert sorted(positions) == list(range(len(emb)))  # what a click names its point by
    assert len(re.findall(r"</script", page, re.IGNORECASE)) == len(kinds)
    assert "<!--" not in page
    # The same map and data give the same bytes.
    assert result.write(tmp_path / "again.html").read_bytes() == path.read_bytes()


def test_the_page_carries_percentiles_with_a_baseline(tmp_path):
    result, emb = hostile_map()
    base = Baseline("m", np.sort(np.random.default_rng(1).uniform(-1, 1, 300)
                                 ).astype(np.float32), 25)
    page = result.write(tmp_path / "map.html", baseline=base).read_text(encoding="utf-8")
    parser = Scripts()
    parser.feed(page)
    data = next(json.loads(text) for attrs, text in parser.found
                if attrs.get("id") == "e5ui-explore-data")
    _, cos = reference_topk(emb.astype(np.float64), 10)
    expected = (base.cosines[None, None, :] <= np.asarray(data["cosines"])[..., None]).mean(-1)
    np.testing.assert_allclose(data["percentile"], expected, atol=0.01)


def test_write_html_refuses_explore_data_for_a_report(tmp_path):
    explore_data = plots.MapExplore(["a"], [""], None, None, np.zeros((1, 0), int),
                                    np.zeros((1, 0)))
    with pytest.raises(ValueError, match="single map figure"):
        plots.write_html(tmp_path / "r.html", "r", [("s", "text")], explore=explore_data)
