"""Tests for e5ui.plots: what a viewer of each figure relies on, checked on tiny seeded data."""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
from html.parser import HTMLParser

import numpy as np
import plotly.graph_objects as go
import pytest

from e5ui import plots
from e5ui.analysis.calibration import Baseline
from e5ui.analysis.similarity import ClusterView

BUNDLE_BANNER = "* plotly.js v"  # the licence header at the top of plotly's JS bundle


def _sim(n: int, seed: int = 0) -> np.ndarray:
    """A symmetric E5-like cosine matrix: off-diagonal in [0.72, 0.98], diagonal 1."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.72, 0.98, size=(n, n))
    s = (a + a.T) / 2
    np.fill_diagonal(s, 1.0)
    return s


def _texts(n: int) -> list[str]:
    return [f"text number {i}" for i in range(n)]


def _annotation_texts(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def _is_message(fig: go.Figure) -> bool:
    return len(fig.data) == 0 and len(fig.layout.annotations) == 1


# --- module boundary ---------------------------------------------------------------------------


def test_importing_plots_does_not_import_ui_or_model_libraries():
    code = (
        "import sys, e5ui.plots; "
        "print(sorted(m for m in ('gradio', 'torch', 'transformers', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --- similarity_heatmap ------------------------------------------------------------------------


def test_heatmap_hover_of_cell_ij_shows_text_i_text_j_languages_and_calibrated_scores():
    n = 4
    sim = _sim(n)
    sim[1, 2] = sim[2, 1] = 0.8123
    pct = np.full((n, n), 0.5)
    pct[1, 2] = 0.97
    resc = np.zeros((n, n))
    resc[1, 2] = 0.625
    texts = ["Der Hund schläft.", "The dog sleeps.", "Le chien dort.", "Il cane dorme."]
    langs = ["de", "en", "fr", "it"]
    fig = plots.similarity_heatmap(
        sim, [f"{i} · {c}" for i, c in enumerate(langs)], texts, langs, pct, resc
    )
    (trace,) = fig.data
    assert isinstance(trace, go.Heatmap)
    cell = list(trace.customdata[1][2])
    assert cell == ["The dog sleeps.", "Le chien dort.", "en", "fr", "0.812", "97%", "0.62"]
    # Cell [i][j] is row i, column j: the mirror cell swaps the two texts.
    assert list(trace.customdata[2][1][:4]) == ["Le chien dort.", "The dog sleeps.", "fr", "en"]
    template = trace.hovertemplate
    assert "%{customdata[0]}" in template and "%{customdata[1]}" in template
    assert "higher than %{customdata[5]} of unrelated pairs" in template
    assert "%{customdata[6]}" in template
    assert trace.colorbar.title.text == "cosine"


def test_heatmap_without_calibration_or_languages_has_no_such_lines():
    fig = plots.similarity_heatmap(_sim(3), ["a", "b", "c"], _texts(3))
    (trace,) = fig.data
    assert np.asarray(trace.customdata).shape == (3, 3, 5)
    assert "unrelated" not in trace.hovertemplate
    assert "customdata[2]" not in trace.hovertemplate


def test_heatmap_percent_rounds_down_and_rescaled_keeps_sign():
    sim = _sim(2)
    pct = np.array([[1.0, 0.29], [0.999, 1.0]])  # 0.29 * 100 is 28.999999999999996 in floats
    resc = np.array([[1.0, -0.125], [0.5, 1.0]])
    fig = plots.similarity_heatmap(sim, ["a", "b"], ["x", "y"], percentile=pct, rescaled=resc)
    trace = fig.data[0]
    assert trace.customdata[0][1][5] == "29%"
    assert trace.customdata[1][0][5] == "99%"  # never claims 100% unless it is
    assert trace.customdata[0][0][5] == "100%"
    assert trace.customdata[0][1][6] == "-0.12"


def test_heatmap_long_text_is_wrapped_capped_and_escaped():
    long = "<b>bold</b> " + " ".join(["word"] * 200)
    trace = plots.similarity_heatmap(_sim(2), ["a", "b"], [long, "short"]).data[0]
    shown = trace.customdata[0][1][0]
    lines = shown.split("<br>")
    assert len(lines) > 1
    assert all(len(line) <= 60 + len("&lt;b&gt;") * 2 for line in lines)
    assert shown.startswith("&lt;b&gt;bold&lt;/b&gt; word")
    assert shown.endswith("…")
    plain = shown.replace("<br>", " ").replace("&lt;", "<").replace("&gt;", ">")
    assert len(plain) <= 300


@pytest.mark.parametrize(
    ("off_min", "expected"),
    [(0.83, 0.8), (0.8, 0.8), (0.71, 0.7), (0.749, 0.7), (0.3, 0.3), (-0.12, -0.15)],
)
def test_heatmap_zmin_is_the_lowest_off_diagonal_value_floored_to_005(off_min, expected):
    sim = np.full((3, 3), 0.95)
    np.fill_diagonal(sim, 0.0)  # the diagonal is ignored even when it is lowest
    sim[0, 2] = sim[2, 0] = off_min
    trace = plots.similarity_heatmap(sim, ["a", "b", "c"], _texts(3)).data[0]
    assert trace.zmin == pytest.approx(expected)
    assert trace.zmax == 1.0


def test_heatmap_zmin_stays_below_one_for_duplicates_and_has_a_default_for_one_text():
    dup = plots.similarity_heatmap(np.ones((2, 2)), ["a", "b"], ["x", "x"]).data[0]
    assert dup.zmin == pytest.approx(0.95)
    one = plots.similarity_heatmap(np.ones((1, 1)), ["0 · en"], ["only"]).data[0]
    assert one.zmin == pytest.approx(0.7)
    assert one.customdata[0][0][0] == "only"


def test_heatmap_cells_are_square_row_zero_on_top_and_ticks_hidden_above_60():
    fig = plots.similarity_heatmap(_sim(60), [f"L{i}" for i in range(60)], _texts(60))
    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.yaxis.autorange == "reversed"
    assert list(fig.layout.yaxis.ticktext)[:2] == ["L0", "L1"]
    assert fig.layout.xaxis.showticklabels is True
    big = plots.similarity_heatmap(_sim(61), [f"L{i}" for i in range(61)], _texts(61))
    assert big.layout.xaxis.showticklabels is False
    assert big.layout.yaxis.showticklabels is False


def test_heatmap_nan_cells_show_a_dash():
    sim = np.array([[1.0, np.nan, 0.82], [0.71, 1.0, 0.9], [0.82, 0.9, 1.0]])
    pct = np.full((3, 3), 0.5)
    pct[0, 1] = np.nan
    trace = plots.similarity_heatmap(sim, ["a", "b", "c"], _texts(3), percentile=pct).data[0]
    assert trace.customdata[0][1][4] == "–"
    assert trace.customdata[0][1][5] == "–"
    assert trace.customdata[1][0][4] != "–"
    assert trace.zmin == pytest.approx(0.7)  # NaN does not drag zmin down


def test_heatmap_with_no_texts_says_so():
    fig = plots.similarity_heatmap(np.zeros((0, 0)), [], [])
    assert _is_message(fig)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sim": np.zeros((2, 3))}, "square"),
        ({"labels": ["a"]}, "labels"),
        ({"texts": ["a"]}, "texts"),
        ({"langs": ["de"]}, "language"),
        ({"percentile": np.zeros((3, 3))}, "percentile"),
    ],
)
def test_heatmap_rejects_mismatched_inputs(kwargs, match):
    args = {"sim": _sim(2), "labels": ["a", "b"], "texts": ["x", "y"], **kwargs}
    with pytest.raises(ValueError, match=match):
        plots.similarity_heatmap(**args)


# --- cluster_heatmap ---------------------------------------------------------------------------


def _view() -> ClusterView:
    labels = np.array([0, 1, 1, 2, 2, 2, 2, 2])
    mean = np.array([[1.0, 0.81, 0.74], [0.81, 0.93, 0.77], [0.74, 0.77, 0.9]], dtype=np.float32)
    members = [np.flatnonzero(labels == c) for c in range(3)]
    return ClusterView(labels, np.array([1, 2, 5]), mean, members, np.array([2, 0, 1]))


def test_cluster_heatmap_follows_the_order_with_size_labels_and_examples():
    view = _view()
    texts = [f"t{i}" for i in range(8)]
    fig = plots.cluster_heatmap(view, texts)
    (trace,) = fig.data
    z = np.asarray(trace.z)
    for a, ca in enumerate([2, 0, 1]):
        for b, cb in enumerate([2, 0, 1]):
            assert z[a, b] == pytest.approx(float(view.mean_sim[ca, cb]))
    assert list(fig.layout.xaxis.ticktext) == ["C2 (5)", "C0 (1)", "C1 (2)"]
    row, col, mean = trace.customdata[0][2]  # cluster 2 (row) against cluster 1 (column)
    assert "C2" in row and "5 texts" in row
    shown = [t for t in ("t3", "t4", "t5", "t6", "t7") if t in row.split("<br>")]
    assert shown == ["t3", "t4", "t5"]
    assert "C1" in col and "2 texts" in col and "t1" in col and "t2" in col
    assert mean == "0.770"
    assert trace.zmin == pytest.approx(0.7)
    assert fig.layout.yaxis.autorange == "reversed"


def test_cluster_heatmap_without_clusters_says_so():
    empty = np.zeros(0, dtype=np.int64)
    view = ClusterView(empty, empty, np.zeros((0, 0), np.float32), [], empty)
    assert _is_message(plots.cluster_heatmap(view, []))


# --- projection_scatter ------------------------------------------------------------------------


def _points(n: int, dim: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim))


def _marker_traces(fig: go.Figure) -> list:
    return [t for t in fig.data if t.mode == "markers"]


def test_scatter_has_one_trace_per_category_in_order_of_appearance():
    cats = ["en", "de", "en", "ja", "de", "en"]
    fig = plots.projection_scatter(_points(6), _texts(6), cats)
    traces = _marker_traces(fig)
    assert all(isinstance(t, go.Scatter) for t in fig.data)
    assert [t.name for t in traces] == ["en", "de", "ja"]
    assert [len(t.x) for t in traces] == [3, 2, 1]
    assert len({t.marker.color for t in traces}) == 3
    # The en trace holds texts 0, 2, 5 at their coordinates, with the text in hover.
    xy = _points(6)
    assert list(traces[0].x) == pytest.approx(xy[[0, 2, 5], 0])
    assert list(traces[0].y) == pytest.approx(xy[[0, 2, 5], 1])
    assert [row[0] for row in traces[0].customdata] == ["text number 0", "text number 2",
                                                        "text number 5"]
    assert fig.layout.xaxis.showticklabels is False
    assert fig.layout.yaxis.scaleanchor == "x"


def test_scatter_colours_stay_distinct_for_24_categories_and_cycle_beyond():
    cats = [f"c{i}" for i in range(26)]
    traces = _marker_traces(plots.projection_scatter(_points(26), _texts(26), cats))
    colours = [t.marker.color for t in traces]
    assert len(set(colours[:24])) == 24
    assert colours[24] == colours[0]


def test_scatter_uses_webgl_above_1000_points_and_scatter3d_in_3d():
    n = 1001
    big = plots.projection_scatter(_points(n), [""] * n, ["a"] * n)
    assert all(isinstance(t, go.Scattergl) for t in big.data)
    small = plots.projection_scatter(_points(1000), [""] * 1000, ["a"] * 1000)
    assert all(isinstance(t, go.Scatter) for t in small.data)
    three = plots.projection_scatter(_points(5, 3), _texts(5), ["a", "b", "a", "b", "a"],
                                     ids=[1, 1, 2, 2, None])
    assert all(isinstance(t, go.Scatter3d) for t in three.data)
    assert three.layout.scene.xaxis.showticklabels is False


def test_translation_lines_connect_exactly_the_points_sharing_an_id():
    xy = _points(7)
    ids = ["s1", "s2", "s1", "s1", None, "s2", "solo"]
    fig = plots.projection_scatter(xy, _texts(7), ["a"] * 7, ids=ids)
    (lines,) = [t for t in fig.data if t.mode == "lines"]
    assert fig.data[0] is lines  # drawn first, under the points
    x, y = list(lines.x), list(lines.y)
    assert len(x) % 3 == 0 and x[2::3] == [None] * (len(x) // 3)
    segments = {
        frozenset({(x[k], y[k]), (x[k + 1], y[k + 1])}) for k in range(0, len(x), 3)
    }
    point = {i: (float(xy[i, 0]), float(xy[i, 1])) for i in range(7)}
    # Star from each group's first member: s1 -> 0-2, 0-3; s2 -> 1-5. None and "solo" unlinked.
    expected = {frozenset({point[0], point[2]}), frozenset({point[0], point[3]}),
                 frozenset({point[1], point[5]})}
    assert len(x) // 3 == 3
    assert segments == expected


def test_scatter_without_shared_ids_draws_no_lines():
    fig = plots.projection_scatter(_points(3), _texts(3), ["a"] * 3, ids=["x", "y", float("nan")])
    assert all(t.mode == "markers" for t in fig.data)
    assert "id" in fig.data[0].hovertemplate


def test_highlight_enlarges_outlines_and_keeps_opaque_exactly_the_masked_points():
    cats = ["a", "b"] * 5
    mask = np.zeros(10, dtype=bool)
    mask[[1, 4, 7]] = True
    fig = plots.projection_scatter(_points(10), _texts(10), cats, highlight=mask)
    plain = plots.projection_scatter(_points(10), _texts(10), cats)
    base = plain.data[0].marker.size
    for trace, members in zip(_marker_traces(fig), ([0, 2, 4, 6, 8], [1, 3, 5, 7, 9]), strict=True):
        hit = [bool(mask[i]) for i in members]
        sizes, opacity = list(trace.marker.size), list(trace.marker.opacity)
        widths = list(trace.marker.line.width)
        assert [s > base for s in sizes] == hit
        assert all(s == base for s, h in zip(sizes, hit, strict=True) if not h)
        assert [o == 1.0 for o in opacity] == hit
        assert all(o == pytest.approx(0.25) for o, h in zip(opacity, hit, strict=True) if not h)
        assert [w > 0 for w in widths] == hit


def test_highlight_in_3d_grows_matches_and_fades_the_rest_by_colour():
    mask = np.array([True, False, False])
    trace = _marker_traces(
        plots.projection_scatter(_points(3, 3), _texts(3), ["a"] * 3, highlight=mask)
    )[0]
    sizes = list(trace.marker.size)
    assert sizes[0] > sizes[1] == sizes[2]
    colours = list(trace.marker.color)
    assert not colours[0].startswith("rgba") and all(c.startswith("rgba") for c in colours[1:])


def test_highlight_that_matches_nothing_changes_nothing():
    plain = plots.projection_scatter(_points(4), _texts(4), ["a"] * 4)
    none = plots.projection_scatter(_points(4), _texts(4), ["a"] * 4, highlight=[False] * 4)
    assert none.data[0].marker.size == plain.data[0].marker.size
    assert none.data[0].marker.opacity == plain.data[0].marker.opacity


def test_scatter_corner_cases_and_note():
    assert _is_message(plots.projection_scatter(np.zeros((0, 2)), [], []))
    one = plots.projection_scatter(np.zeros((1, 2)), ["<i>only</i>"], [""], method_note="PCA")
    (trace,) = one.data
    assert trace.name == "(none)"
    assert trace.customdata[0][0] == "&lt;i&gt;only&lt;/i&gt;"
    assert "PCA" in _annotation_texts(one)
    with pytest.raises(ValueError, match="coords"):
        plots.projection_scatter(np.zeros((2, 4)), ["a", "b"], ["x", "y"])
    with pytest.raises(ValueError, match="categories"):
        plots.projection_scatter(np.zeros((2, 2)), ["a", "b"], ["x"])
    with pytest.raises(ValueError, match="highlight"):
        plots.projection_scatter(np.zeros((2, 2)), ["a", "b"], ["x", "y"], highlight=[True])


# --- score_histogram ---------------------------------------------------------------------------


def _baseline(seed: int = 0, n: int = 401) -> Baseline:
    return Baseline("m", np.random.default_rng(seed).normal(0.76, 0.03, size=n).astype(np.float32))


def _shape_at(fig: go.Figure, x: float) -> list:
    return [s for s in fig.layout.shapes if s.x0 == pytest.approx(x) and s.x1 == s.x0]


def test_histogram_overlays_reference_and_your_texts_on_the_same_bins():
    baseline = _baseline()
    ours = np.random.default_rng(1).uniform(0.70, 1.0, size=45)
    ours[0] = 1.0
    fig = plots.score_histogram(ours, baseline)
    ref, mine = fig.data
    assert isinstance(ref, go.Histogram) and isinstance(mine, go.Histogram)
    assert ref.name == "unrelated pairs (reference set)" and mine.name == "your texts"
    assert ref.histnorm == mine.histnorm == "probability density"
    assert ref.xbins == mine.xbins
    lowest = min(float(baseline.cosines.min()), float(ours.min()))
    start, size, end = ref.xbins.start, ref.xbins.size, ref.xbins.end
    assert start == pytest.approx(lowest - 0.02)
    assert 55 <= (1.0 - start) / size <= 65
    # plotly adds bins of `size` from `start` until it reaches `end`: the last one must hold 1.0.
    last_edge = start + math.ceil((end - start) / size - 1e-9) * size
    assert last_edge > 1.0
    assert fig.layout.barmode == "overlay"


def test_histogram_marks_the_unrelated_median_p95_and_given_scores():
    baseline = _baseline()
    values = [float(v) for v in baseline.cosines]
    median = statistics.median(values)
    p95 = statistics.quantiles(values, n=20, method="inclusive")[-1]
    fig = plots.score_histogram([0.9, 0.95], baseline, marks=[("your pair", 0.912)])
    (med,) = _shape_at(fig, median)
    (top,) = _shape_at(fig, p95)
    (mark,) = _shape_at(fig, 0.912)
    assert med.line.dash == top.line.dash == "dash"
    assert mark.line.dash == "solid"
    notes = _annotation_texts(fig)
    assert "median unrelated" in notes
    assert "95% of unrelated pairs below" in notes
    assert any(n.startswith("your pair") and "0.912" in n for n in notes)


def test_histogram_with_no_pairs_draws_the_reference_and_asks_for_texts():
    fig = plots.score_histogram(np.array([]), _baseline())
    (only,) = fig.data
    assert only.name == "unrelated pairs (reference set)"
    assert any("at least two texts" in n for n in _annotation_texts(fig))


def test_histogram_of_many_pairs_sends_a_bounded_sample_with_the_same_shape():
    ours = np.random.default_rng(2).beta(8, 2, size=250_001)
    mine = plots.score_histogram(ours, _baseline()).data[1]
    sent = np.asarray(mine.x)
    assert sent.size == 200_000
    assert sent.min() == ours.min() and sent.max() == ours.max()
    for q in (0.1, 0.5, 0.9):
        assert np.quantile(sent, q) == pytest.approx(np.quantile(ours, q), abs=1e-3)


# --- message_figure and HTML -------------------------------------------------------------------


def test_message_figure_shows_the_message_without_axes():
    fig = plots.message_figure("Nothing to show <yet>", title="Similarity")
    assert _annotation_texts(fig) == ["Nothing to show &lt;yet&gt;"]
    assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
    assert fig.layout.title.text == "Similarity"
    assert fig.layout.font.size >= 14


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.title = ""
        self._in_title = False
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self._in_title = tag == "title"
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in_title = self._in_script = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._in_script:
            self.scripts[-1] += data


def _parse(doc: str) -> _Collector:
    parser = _Collector()
    parser.feed(doc)
    parser.close()
    return parser


def test_figure_html_is_a_standalone_page_with_one_bundle_and_the_title():
    doc = plots.figure_html(plots.message_figure("hi"), "Heatmap <de & en>")
    parsed = _parse(doc)
    assert doc.startswith("<!DOCTYPE html>")
    assert parsed.title == "Heatmap <de & en>"  # escaped in the source, intact once parsed
    assert "<title>Heatmap &lt;de &amp; en&gt;</title>" in doc
    assert doc.count(BUNDLE_BANNER) == 1
    assert sum(BUNDLE_BANNER in s for s in parsed.scripts) == 1
    assert doc.count("Plotly.newPlot(") == 1
    assert 'src="http' not in doc  # nothing fetched from a CDN: works offline


def test_report_embeds_plotly_once_and_escapes_user_text():
    figs = [plots.message_figure(f"figure {i}") for i in range(3)]
    doc = plots.report_html(
        "Run <1>",
        [
            ("Heatmap", figs[0]),
            ("Notes", "a <script>alert(1)</script> b\n\nsecond paragraph"),
            ("Map", figs[1]),
            ("Table", plots.Markup("<table><tr><td>42</td></tr></table>")),
            ("Scores", figs[2]),
        ],
        {"model": "intfloat/multilingual-e5-small", "source": "<bundled>"},
    )
    parsed = _parse(doc)
    assert doc.count(BUNDLE_BANNER) == 1
    assert doc.count("Plotly.newPlot(") == 3
    assert "<script>alert(1)" not in doc
    assert "a &lt;script&gt;alert(1)&lt;/script&gt; b" in doc
    assert "<p>second paragraph</p>" in doc
    assert "<table><tr><td>42</td></tr></table>" in doc
    assert "<dt>source</dt><dd>&lt;bundled&gt;</dd>" in doc
    assert parsed.title == "Run <1>"
    assert parsed.tags.count("h2") == 5 and parsed.tags.count("section") == 5


def test_report_without_figures_carries_no_plotly_bundle():
    doc = plots.report_html("Words only", [("Notes", "plain")], {})
    assert BUNDLE_BANNER not in doc
    assert "<p>plain</p>" in doc
