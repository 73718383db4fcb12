"""Tests for e5ui.plots: what a viewer of each figure relies on, checked on tiny seeded data."""

from __future__ import annotations

import itertools
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
from e5ui.plots import scatter
from e5ui.plots import text as plot_text

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


def _row_text(category: str) -> str:
    """The text part of a heatmap row's category (its name follows, greyed)."""
    return category.split("<br><i>")[0]


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
    # Each row (and column) is a category holding its text and its name (the label, with the
    # language unless the label has it): the hover of cell [i][j] shows row i (%{y}) and
    # column j (%{x}), so the mirror cell swaps the two texts.
    rows, cols = list(trace.y), list(trace.x)
    assert rows == cols and [_row_text(r) for r in rows] == texts
    assert "1 · en" in rows[1] and "2 · fr" in cols[2]
    assert float(trace.z[1][2]) == pytest.approx(0.8123, abs=1e-6)
    assert np.asarray(trace.customdata)[1, 2].tolist() == pytest.approx([0.97, 0.625], abs=1e-6)
    template = trace.hovertemplate
    assert template.startswith("%{y}<br><br>%{x}<br><br>cosine <b>%{z:.3f}</b>")
    assert "higher than %{customdata[0]:.0%} of unrelated pairs" in template
    assert "rescaled %{customdata[1]:.2f}" in template
    # The colour bar's title is an annotation just above the bar (see _heatmap_figure).
    assert "cosine" in _annotation_texts(fig)


def test_heatmap_payload_does_not_grow_with_texts_times_cells():
    n = 300
    texts = [f"sentence {i} " + "with quite a few words in it " * 8 for i in range(n)]
    fig = plots.similarity_heatmap(_sim(n), [f"L{i}" for i in range(n)], texts,
                                   percentile=np.full((n, n), 0.5), rescaled=np.zeros((n, n)))
    size = len(fig.to_json())
    # n * n cells * (z + 2 scores) * 4 bytes as base64, plus every text once per axis.
    assert size < 1.4 * (n * n * 12 * 4 / 3 + 2 * sum(len(t) for t in texts)) + 200_000, size


def test_heatmap_without_calibration_or_languages_has_no_such_lines():
    fig = plots.similarity_heatmap(_sim(3), ["a", "b", "c"], _texts(3))
    (trace,) = fig.data
    assert trace.customdata is None
    assert "a" in trace.y[0] and "b" in trace.x[1]  # the names ride with the texts
    assert "unrelated" not in trace.hovertemplate and "customdata" not in trace.hovertemplate


def test_heatmap_equal_texts_stay_separate_rows():
    trace = plots.similarity_heatmap(_sim(3), ["a", "a", "a"], ["x", "x", "x"]).data[0]
    assert len(set(trace.y)) == 3


def test_heatmap_percent_rounds_down_and_rescaled_keeps_sign():
    sim = _sim(2)
    pct = np.array([[1.0, 0.29], [0.999, 1.0]])  # 0.29 * 100 is 28.999999999999996 in floats
    resc = np.array([[1.0, -0.125], [0.5, 1.0]])
    fig = plots.similarity_heatmap(sim, ["a", "b"], ["x", "y"], percentile=pct, rescaled=resc)
    custom = np.asarray(fig.data[0].customdata)
    assert custom[0, 1, 0] == pytest.approx(0.29)
    assert custom[1, 0, 0] == pytest.approx(0.99)  # never claims 100% unless it is
    assert custom[0, 0, 0] == pytest.approx(1.0)
    assert custom[0, 1, 1] == pytest.approx(-0.125)


def test_heatmap_long_text_is_wrapped_capped_and_escaped():
    long = "<b>bold</b> " + " ".join(["word"] * 200)
    trace = plots.similarity_heatmap(_sim(2), ["a", "b"], [long, "short"]).data[0]
    shown = _row_text(trace.y[0])
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
    assert _row_text(one.y[0]) == "only"


def test_heatmap_cells_are_square_row_zero_on_top_and_ticks_hidden_above_60():
    fig = plots.similarity_heatmap(_sim(60), [f"L{i}" for i in range(60)], _texts(60))
    assert fig.layout.yaxis.scaleanchor == "x"
    assert fig.layout.yaxis.autorange == "reversed"
    assert list(fig.layout.yaxis.ticktext)[:2] == ["L0", "L1"]
    assert fig.layout.xaxis.showticklabels is True
    big = plots.similarity_heatmap(_sim(61), [f"L{i}" for i in range(61)], _texts(61))
    assert big.layout.xaxis.showticklabels is False
    assert big.layout.yaxis.showticklabels is False


def test_heatmap_nan_cells_have_no_hover():
    sim = np.array([[1.0, np.nan, 0.82], [0.71, 1.0, 0.9], [0.82, 0.9, 1.0]])
    pct = np.full((3, 3), 0.5)
    pct[0, 1] = np.nan
    trace = plots.similarity_heatmap(sim, ["a", "b", "c"], _texts(3), percentile=pct).data[0]
    assert trace.hoverongaps is False  # a NaN cell is a gap: no hover with "NaN" in it
    assert np.isnan(float(trace.z[0][1])) and not np.isnan(float(trace.z[1][0]))
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


# --- heatmap sizes, ticks and the colour bar ----------------------------------------------------

FRAME = 1360  # px: the plot's width in the app on a 1920-px screen (1400-px page column)
COLOURBAR_ROOM = 260  # px right of the square at most: bar, ticks, "0.78 unrelated median"


def _plot_box(fig: go.Figure, frame: int = FRAME) -> tuple[float, float]:
    """Width and height in px of the plot area, with Gradio's titled top margin (>= 100)."""
    m = fig.layout.margin
    top = max(100, m.t) if fig.layout.title.text else m.t
    return frame - m.l - m.r, fig.layout.height - top - m.b


@pytest.mark.parametrize("n", [2, 5, 8, 12, 20, 36, 40, 41, 50, 60])
def test_heatmap_cells_are_square_as_large_as_the_height_allows_and_ticks_never_overlap(n):
    texts = [f"Sentence number {i} is long enough to be cut short in a tick" for i in range(n)]
    fig = plots.similarity_heatmap(_sim(n), [f"group{i} · en" for i in range(n)], texts)
    x, y = fig.layout.xaxis, fig.layout.yaxis
    assert y.scaleanchor == "x" and x.constrain == y.constrain == "domain"
    width, height = _plot_box(fig)
    # At 1360 px the frame is wider than tall after labels and colour bar: the square's side is
    # the plot height, so its cells are as large as the figure's height allows.
    assert width - COLOURBAR_ROOM >= height
    cell = height / n
    font = x.tickfont.size
    assert font == y.tickfont.size and 10 <= font <= 14
    assert cell >= 1.2 * font  # rows: one line of text per row, with room to spare
    angle = -x.tickangle
    if angle == 0:  # horizontal only where the whole label fits a column (0.65 em per char)
        widest = max(len(t) for t in x.ticktext)
        assert widest * 0.65 * font <= cell
    else:  # tilted labels are cell * sin(angle) apart across their lines
        assert cell * math.sin(math.radians(angle)) >= 1.2 * font
    if n <= 40:
        assert fig.layout.height <= 880  # a 1080-px screen shows the whole heatmap
        assert min(x.ticktext) and all(len(t) <= 24 for t in x.ticktext)
    if n == 36:  # the 36-text example: readable from the back of a room
        assert font >= 12 and cell >= 15


def test_heatmap_ticks_show_text_snippets_up_to_40_texts_and_names_beyond():
    texts = [f"Text {i}: the quick brown fox jumps over the lazy dog" for i in range(41)]
    labels = [f"t{i} · en" for i in range(41)]
    forty = plots.similarity_heatmap(_sim(40), labels[:40], texts[:40])
    ticks = list(forty.layout.yaxis.ticktext)
    assert ticks == list(forty.layout.xaxis.ticktext)
    assert ticks[0].startswith("Text 0: the quick") and ticks[0].endswith("…")
    assert ticks[10].startswith("Text 10: the quick")
    many = plots.similarity_heatmap(_sim(41), labels, texts)
    assert list(many.layout.yaxis.ticktext) == labels
    short = plots.similarity_heatmap(_sim(2), ["a", "b"], ["Hi <there>", "Ciao"])
    assert list(short.layout.xaxis.ticktext) == ["Hi &lt;there&gt;", "Ciao"]  # escaped, uncut


def test_snippets_measure_wide_scripts_by_their_width():
    zh = "这是一个很长的中文句子，用来测试刻度标签的宽度是否正确"
    snip = plot_text._snippet(zh)
    assert snip.endswith("…") and zh.startswith(snip[:-1])
    assert len(snip) <= 12  # CJK characters are twice as wide as Latin ones: about half as many
    latin = plot_text._snippet("x" * 40)
    assert 18 <= len(latin) <= 24 and latin.endswith("…")
    assert plot_text._snippet("  two\nlines  ") == "two lines"


def test_colour_bar_marks_the_unrelated_median_where_the_bar_shows_it():
    sim = _sim(6)  # off-diagonal in [0.72, 0.98]: zmin 0.7
    fig = plots.similarity_heatmap(sim, list("abcdef"), _texts(6), baseline_median=0.784)
    trace = fig.data[0]
    bar = trace.colorbar
    assert trace.zmin == pytest.approx(0.7) and trace.zmax == 1.0
    labels = dict(zip(bar.tickvals, bar.ticktext, strict=True))
    assert "unrelated median" in labels[0.784]
    assert "0.78" in labels[0.784]
    assert labels[0.9] == "0.90" and labels[0.7] == "0.70"
    # No other tick label within a line's height (~20 px of a bar several hundred px tall).
    _, height = _plot_box(fig)
    others = [v for v in bar.tickvals if v != 0.784]
    assert min(abs(v - 0.784) for v in others) * height / 0.3 >= 20
    # The bar spans the plot's height exactly, so the mark at the same paper fraction meets it.
    assert bar.len == 1 and bar.ypad == 0 and bar.lenmode in (None, "fraction")
    (mark,) = fig.layout.shapes
    assert mark.yref == "paper" and mark.y0 == mark.y1 == pytest.approx((0.784 - 0.7) / 0.3)


def test_colour_bar_reaches_down_to_a_median_below_all_pairs():
    sim = np.full((3, 3), 0.93)
    np.fill_diagonal(sim, 1.0)
    trace = plots.similarity_heatmap(sim, list("abc"), _texts(3), baseline_median=0.78).data[0]
    assert trace.zmin == pytest.approx(0.75)  # all pairs above chance: the bar shows it
    assert 0.78 in trace.colorbar.tickvals
    plain = plots.similarity_heatmap(sim, list("abc"), _texts(3)).data[0]
    assert plain.zmin == pytest.approx(0.9)
    nan = plots.similarity_heatmap(sim, list("abc"), _texts(3), baseline_median=float("nan"))
    assert nan.data[0].zmin == pytest.approx(0.9) and not nan.layout.shapes


def test_cluster_heatmap_marks_the_median_too():
    fig = plots.cluster_heatmap(_view(), [f"t{i}" for i in range(8)], baseline_median=0.76)
    assert any("unrelated median" in t for t in fig.data[0].colorbar.ticktext)
    assert len(fig.layout.shapes) == 1


# --- map_scatter ----------------------------------------------------------------------------------


def _points(n: int, dim: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim))


def _wide_points(n: int, seed: int = 0) -> np.ndarray:
    """Points wider than tall: a map keeps their orientation (a tall one is turned)."""
    return _points(n, seed=seed) * np.array([3.0, 1.0])


def _marker_traces(fig: go.Figure) -> list:
    return [t for t in fig.data if t.mode == "markers"]


def test_scatter_has_one_trace_per_category_in_order_of_appearance():
    cats = ["en", "de", "en", "ja", "de", "en"]
    fig = plots.map_scatter(_wide_points(6), _texts(6), cats)
    traces = _marker_traces(fig)
    assert all(isinstance(t, go.Scatter) for t in fig.data)
    assert [t.name for t in traces] == ["en", "de", "ja"]
    assert [len(t.x) for t in traces] == [3, 2, 1]
    assert len({t.marker.color for t in traces}) == 3
    # The en trace holds texts 0, 2, 5 at their coordinates, with the text in hover.
    xy = _wide_points(6)
    assert list(traces[0].x) == pytest.approx(xy[[0, 2, 5], 0])
    assert list(traces[0].y) == pytest.approx(xy[[0, 2, 5], 1])
    assert [row[0] for row in traces[0].customdata] == ["text number 0", "text number 2",
                                                        "text number 5"]
    assert fig.layout.xaxis.showticklabels is False
    assert fig.layout.yaxis.scaleanchor == "x"


def test_scatter_styles_stay_distinct_12_colours_then_shapes():
    n = 100
    cats = [f"c{i}" for i in range(n)]
    traces = _marker_traces(plots.map_scatter(_points(n), _texts(n), cats))
    assert [t.name for t in traces] == cats  # no point is far: 100 normal points
    styles = [(t.marker.color, t.marker.symbol) for t in traces]
    assert len({c for c, _ in styles[:12]}) == 12  # 12 colours before any repeat
    assert {s for _, s in styles[:12]} == {"circle"}
    assert styles[12][0] == styles[0][0] and styles[12][1] != "circle"
    assert len(set(styles[:96])) == 96  # colour x shape stays unique for 96 categories
    assert not any(s.startswith("triangle") for _, s in styles)  # triangles mean "far"


def test_scatter_uses_webgl_above_1000_points_and_scatter3d_in_3d():
    n = 1001
    big = plots.map_scatter(_points(n), [""] * n, ["a"] * n)
    assert all(isinstance(t, go.Scattergl) for t in big.data)
    small = plots.map_scatter(_points(1000), [""] * 1000, ["a"] * 1000)
    assert all(isinstance(t, go.Scatter) for t in small.data)
    three = plots.map_scatter(_points(5, 3), _texts(5), ["a", "b", "a", "b", "a"],
                                     ids=[1, 1, 2, 2, None])
    assert all(isinstance(t, go.Scatter3d) for t in three.data)
    assert three.layout.scene.xaxis.showticklabels is False


def test_translation_lines_connect_exactly_the_points_sharing_an_id():
    xy = _points(7)
    ids = ["s1", "s2", "s1", "s1", None, "s2", "solo"]
    fig = plots.map_scatter(xy, _texts(7), ["a"] * 7, ids=ids)
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
    fig = plots.map_scatter(_points(3), _texts(3), ["a"] * 3, ids=["x", "y", float("nan")])
    assert all(t.mode == "markers" for t in fig.data)
    assert "id" in fig.data[0].hovertemplate


def test_highlight_enlarges_outlines_and_keeps_opaque_exactly_the_masked_points():
    cats = ["a", "b"] * 5
    mask = np.zeros(10, dtype=bool)
    mask[[1, 4, 7]] = True
    fig = plots.map_scatter(_points(10), _texts(10), cats, highlight=mask)
    plain = plots.map_scatter(_points(10), _texts(10), cats)
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
        plots.map_scatter(_points(3, 3), _texts(3), ["a"] * 3, highlight=mask)
    )[0]
    sizes = list(trace.marker.size)
    assert sizes[0] > sizes[1] == sizes[2]
    colours = list(trace.marker.color)
    assert not colours[0].startswith("rgba") and all(c.startswith("rgba") for c in colours[1:])


def test_highlight_that_matches_nothing_changes_nothing():
    plain = plots.map_scatter(_points(4), _texts(4), ["a"] * 4)
    none = plots.map_scatter(_points(4), _texts(4), ["a"] * 4, highlight=[False] * 4)
    assert none.data[0].marker.size == plain.data[0].marker.size
    assert none.data[0].marker.opacity == plain.data[0].marker.opacity


def test_scatter_corner_cases_and_note():
    assert _is_message(plots.map_scatter(np.zeros((0, 2)), [], []))
    one = plots.map_scatter(np.zeros((1, 2)), ["<i>only</i>"], [""], method_note="PCA")
    (trace,) = one.data
    assert trace.name == "(none)"
    assert trace.customdata[0][0] == "&lt;i&gt;only&lt;/i&gt;"
    assert "PCA" in _annotation_texts(one)
    with pytest.raises(ValueError, match="coords"):
        plots.map_scatter(np.zeros((2, 4)), ["a", "b"], ["x", "y"])
    with pytest.raises(ValueError, match="categories"):
        plots.map_scatter(np.zeros((2, 2)), ["a", "b"], ["x"])
    with pytest.raises(ValueError, match="highlight"):
        plots.map_scatter(np.zeros((2, 2)), ["a", "b"], ["x", "y"], highlight=[True])


# --- the map fills its frame -------------------------------------------------------------------

LEGEND = 130  # px the legend of 8 language codes with a title takes (measured in chromium)

# UMAP of assets/examples/map_parallel.tsv (24 sentences x 8 languages, in file order: en, de,
# fr, es, ja, zh, ru, ar; ids p01-p24 in each) with the bundled multilingual-e5-small: a layout
# taller than wide whose one far cluster (p17, at y = -3) shrank the old view to 17% coverage.
_EXAMPLE_UMAP = """
12.09,7.67 4.35,3.93 7.06,2.69 -1.27,5.05 4.69,6.14 12.26,7.78 6.84,13.12 2.28,5.52 6.24,7.71
5.88,5.64 6.79,4.64 3.27,12.35 3.29,4.73 10.01,6.53 3.38,12.30 1.34,10.15 2.31,-3.04 0.18,5.05
8.08,5.75 4.49,2.70 3.64,7.12 5.35,7.60 5.59,11.63 8.31,9.03 12.24,7.94 4.17,3.90 6.99,2.67
-1.34,5.11 4.62,6.32 12.36,7.73 6.84,13.09 2.26,5.51 6.22,7.71 5.77,5.79 6.81,4.63 3.20,12.48
3.33,4.79 10.05,6.47 3.33,12.44 1.25,10.12 2.41,-3.10 0.20,5.12 8.24,5.62 4.34,2.73 3.49,7.13
5.50,7.47 5.66,11.69 8.30,9.00 12.36,7.49 4.23,3.93 7.03,2.68 -1.31,5.11 4.60,6.41 12.46,7.53
6.75,13.19 2.24,5.47 6.11,7.74 5.95,5.61 6.86,4.45 3.29,12.16 3.20,4.83 10.06,6.46 3.09,12.17
1.48,10.29 2.26,-2.96 0.26,5.16 8.05,5.77 4.50,2.62 3.75,7.24 5.31,7.57 5.50,11.54 8.16,8.90
12.02,7.71 4.42,3.79 7.00,2.67 -1.38,5.15 4.53,6.27 12.17,7.61 6.86,13.06 2.36,5.60 6.17,7.65
5.96,5.63 6.81,4.63 3.08,12.41 3.36,4.83 9.95,6.57 3.06,12.24 1.42,10.06 2.31,-3.03 0.27,5.17
8.09,5.73 4.35,2.65 3.70,7.02 5.33,7.66 5.76,11.80 8.21,8.91 12.11,7.87 4.18,4.09 6.94,2.60
-1.49,5.29 5.03,6.01 12.21,7.98 6.92,12.88 2.52,5.75 6.23,7.46 5.54,5.80 6.76,4.69 3.18,12.66
3.80,4.72 10.01,6.52 3.07,12.60 1.40,10.10 2.32,-3.03 0.36,5.07 8.17,5.67 4.42,2.80 3.63,6.90
5.42,7.37 5.80,11.83 8.44,9.08 11.82,7.88 4.53,3.69 6.85,2.63 -1.38,5.16 4.98,6.04 11.99,7.97
6.97,12.91 2.28,5.48 6.21,7.54 5.42,5.94 6.65,4.79 3.28,12.63 3.62,4.75 9.96,6.49 3.39,12.48
1.35,10.09 2.49,-2.85 0.30,5.18 8.26,5.55 4.52,2.90 3.76,7.04 5.43,7.41 5.83,11.88 8.31,8.87
12.14,7.47 4.47,3.74 7.03,2.72 -1.41,5.19 4.67,6.09 12.33,7.44 6.78,13.18 2.24,5.48 6.39,7.82
6.00,5.58 6.88,4.55 3.23,12.25 3.22,4.76 9.91,6.61 3.11,11.97 1.21,10.25 2.47,-2.92 0.29,5.17
8.10,5.73 4.30,2.60 3.57,7.17 5.35,7.59 5.62,11.67 8.10,9.02 12.38,7.58 4.34,4.02 6.98,2.78
-1.10,4.90 4.51,6.24 12.42,7.44 6.79,13.13 2.44,5.70 6.28,7.89 5.95,5.72 6.84,4.56 3.58,11.83
3.41,4.62 10.13,6.40 3.40,12.00 1.48,10.01 2.30,-3.00 0.22,5.21 7.82,5.85 4.49,2.61 3.62,7.13
5.19,7.50 5.60,11.65 7.94,9.04
"""
_LANGS8 = ["en", "de", "fr", "es", "ja", "zh", "ru", "ar"]


def _example_map() -> tuple[np.ndarray, list[str], list[str]]:
    xy = np.array([[float(v) for v in pair.split(",")] for pair in _EXAMPLE_UMAP.split()])
    langs = [lang for lang in _LANGS8 for _ in range(24)]
    ids = [f"p{i + 1:02d}" for _ in _LANGS8 for i in range(24)]
    return xy, langs, ids


def _clusters_and_outliers(seed: int = 3) -> tuple[np.ndarray, list[str], list[str]]:
    """A seeded UMAP-like layout: 8 tight clusters of 24 in a tall region, 2 far outliers."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform([0, 0], [9, 12], size=(8, 2))
    xy = np.concatenate([c + rng.normal(0, 0.35, size=(24, 2)) for c in centers])
    xy = np.vstack([xy, [[4.0, 40.0], [-25.0, 6.0]]])  # one far above, one far left
    langs = [_LANGS8[i % 8] for i in range(len(xy))]
    ids = [f"s{i // 8}" for i in range(len(xy))]
    return xy, langs, ids


def _drawn_where_they_are(fig: go.Figure, xy: np.ndarray) -> np.ndarray:
    """Marker positions that are some input point's own coordinates (in either orientation)."""
    own = {(round(a, 9), round(b, 9)) for a, b in xy} | {(round(b, 9), round(a, 9)) for a, b in xy}
    drawn = [(float(x), float(y)) for t in _marker_traces(fig) for x, y in zip(t.x, t.y,
                                                                             strict=True)]
    return np.array([p for p in drawn if (round(p[0], 9), round(p[1], 9)) in own])


def _coverage(fig: go.Figure, points: np.ndarray, frame: int) -> float:
    """Share of the plot area the points' bounding box covers, as plotly draws the figure.

    Assumptions: the plot is ``frame`` px wide (its page column), the legend takes ``LEGEND``
    px on the right, Gradio raises a titled figure's top margin to 100 px. With equal aspect
    plotly shows the given ranges and widens the one that has room to spare: both axes get the
    larger of the two data-units-per-pixel ratios.
    """
    width, height = _plot_box(fig, frame)
    width -= LEGEND
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    per_px = max((x1 - x0) / width, (y1 - y0) / height)
    box = np.ptp(points[:, 0]) * np.ptp(points[:, 1])
    return float(box / ((per_px * width) * (per_px * height)))


@pytest.mark.parametrize("layout", [_example_map, _clusters_and_outliers])
@pytest.mark.parametrize("frame", [1200, FRAME])
def test_map_points_cover_at_least_half_of_the_plot_area(layout, frame):
    xy, langs, ids = layout()
    fig = plots.map_scatter(xy, [f"t{i}" for i in range(len(xy))], langs, ids=ids,
                                   title="UMAP map", legend_title="language")
    assert fig.layout.yaxis.scaleanchor == "x" and fig.layout.yaxis.scaleratio == 1
    shown = _drawn_where_they_are(fig, xy)
    assert len(shown) >= 0.95 * len(xy)  # at most 5% per side are moved to the edge
    cover = _coverage(fig, shown, frame)
    assert cover >= 0.5, f"{layout.__name__} at {frame} px: {cover:.2f}"
    # The old view of the example: every point, autoranged, 640 px high: a speck.
    if layout is _example_map:
        old_w, old_h = frame - 64 - 32 - LEGEND, 640 - 100 - 56
        span_x, span_y = np.ptp(xy[:, 0]) * 1.1, np.ptp(xy[:, 1]) * 1.1
        per_px = max(span_x / old_w, span_y / old_h)
        old = np.ptp(xy[:, 0]) * np.ptp(xy[:, 1]) / (per_px ** 2 * old_w * old_h)
        assert cover > 2 * old


def test_far_points_are_drawn_at_the_edge_as_triangles_in_their_category():
    xy, langs, ids = _clusters_and_outliers()
    fig = plots.map_scatter(xy, [f"t{i}" for i in range(len(xy))], langs, ids=ids)
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    edge = [t for t in _marker_traces(fig) if t.showlegend is False]
    assert sorted(len(t.x) for t in edge) == [1, 1]
    main = {t.name: t for t in _marker_traces(fig) if t.showlegend is not False}
    for t in edge:
        assert t.legendgroup == t.name == main[t.name].legendgroup  # one legend entry, shared
        assert t.marker.color == main[t.name].marker.color
        (symbol,) = t.marker.symbol
        assert symbol.startswith("triangle")
        x, y = t.x[0], t.y[0]
        assert x0 < x < x1 and y0 < y < y1  # drawn inside the view...
        near_x = min(x - x0, x1 - x) < 0.05 * (x1 - x0)
        near_y = min(y - y0, y1 - y) < 0.05 * (y1 - y0)
        assert near_x or near_y  # ...at its edge
        assert "edge" in t.customdata[0][5]  # hover says why
    # The tall layout was turned on its side: the point far "above" now lies far right.
    symbols = sorted(t.marker.symbol[0] for t in edge)
    assert symbols == ["triangle-down", "triangle-right"]
    assert any("2 far point" in a for a in _annotation_texts(fig))
    # Translation lines end at the points as drawn.
    (lines,) = [t for t in fig.data if t.mode == "lines"]
    ends = {(a, b) for a, b in zip(lines.x, lines.y, strict=True) if a is not None}
    assert {(t.x[0], t.y[0]) for t in edge} <= ends


def test_small_maps_show_every_point_where_it_is():
    xy = _wide_points(19)
    xy[0] = [40.0, 0.0]  # far, but a map of 19 points shows it where it is
    fig = plots.map_scatter(xy, _texts(19), ["a"] * 19)
    (trace,) = _marker_traces(fig)
    assert list(trace.x) == pytest.approx(xy[:, 0]) and list(trace.y) == pytest.approx(xy[:, 1])
    (x0, x1) = fig.layout.xaxis.range
    assert x0 < xy[:, 0].min() and x1 > 40.0


def test_a_map_with_missing_or_infinite_coordinates_still_has_finite_ranges():
    xy = _wide_points(30)
    xy[0] = [np.nan, 0.0]
    xy[1] = [np.inf, 0.0]
    fig = plots.map_scatter(xy, _texts(30), ["a"] * 30)
    assert np.isfinite(fig.layout.xaxis.range).all() and np.isfinite(fig.layout.yaxis.range).all()
    (edge,) = [t for t in _marker_traces(fig) if t.showlegend is False]
    assert edge.x[0] < fig.layout.xaxis.range[1]  # the infinite one, at the right edge


def test_a_map_taller_than_wide_is_turned_on_its_side():
    xy = _wide_points(8)[:, ::-1]  # three times taller than wide
    fig = plots.map_scatter(xy, _texts(8), ["a"] * 8)
    (trace,) = _marker_traces(fig)
    assert list(trace.x) == pytest.approx(xy[:, 1]) and list(trace.y) == pytest.approx(xy[:, 0])
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    assert x1 - x0 > y1 - y0
    assert 560 <= fig.layout.height <= 880


def test_marker_size_and_line_width_follow_the_number_of_points():
    looks = {}
    for n in (10, 100, 200, 1000, 5000):
        xy = _points(n, seed=1)
        fig = plots.map_scatter(xy, [""] * n, ["a", "b"] * (n // 2),
                                       ids=[i // 2 for i in range(n)])
        (lines,) = [t for t in fig.data if t.mode == "lines"]
        marker = _marker_traces(fig)[0].marker
        looks[n] = (marker.size, lines.line.width)
    sizes = [looks[n][0] for n in sorted(looks)]
    widths = [looks[n][1] for n in sorted(looks)]
    assert sizes == sorted(sizes, reverse=True) and widths == sorted(widths, reverse=True)
    assert 10 <= looks[100][0] <= 14 and looks[5000][0] >= 5  # legible at 100 and at 5,000
    assert looks[1000][0] < looks[100][0]
    assert widths[-1] >= 0.5 and looks[200][1] >= 1.5  # lines visible, thin in dense maps


def test_legend_click_isolates_a_category_and_hover_names_language_and_label():
    langs = ["de", "en", "fr", "en"]
    fig = plots.map_scatter(_wide_points(4), ["Hallo", "Hello", "Bonjour", "Hi"], langs,
                                   ids=["g", "g", "g", "h"], langs=langs,
                                   labels=["greeting", "greeting", "<b>", ""],
                                   legend_title="language")
    assert fig.layout.legend.itemclick == "toggleothers"
    assert fig.layout.legend.itemdoubleclick == "toggle"
    assert fig.layout.legend.title.text == "language"
    (lines,) = [t for t in fig.data if t.mode == "lines"]
    assert lines.legendrank > 1000  # "same id" is listed after the languages
    fr = {t.name: t for t in _marker_traces(fig)}["fr"]
    text, _cat, ident, lang, label, note, position = fr.customdata[0]
    assert (text, ident, lang, label, note) == ("Bonjour", "g", "fr", "&lt;b&gt;", "")
    assert position == 2  # the third text: a click in the page names the point by it
    template = fr.hovertemplate
    assert "language %{customdata[3]}" in template and "label %{customdata[4]}" in template
    assert "id %{customdata[2]}" in template
    assert "%{customdata[1]}" not in template  # the colour is the language: said once
    en = {t.name: t for t in _marker_traces(fig)}["en"]
    assert en.customdata[1][4] == "–"  # no label
    assert [row[-1] for row in en.customdata] == [1, 3]


# --- palette -----------------------------------------------------------------------------------


def _lab(hex_colour: str, cvd: np.ndarray | None = None) -> tuple[float, float, float]:
    """CIELAB (D65) of an sRGB colour, optionally as seen with a colour-vision deficiency."""
    rgb = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    if cvd is not None:
        lin = np.clip(cvd @ lin, 0.0, 1.0)
    xyz = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                    [0.0193339, 0.1191920, 0.9503041]]) @ lin / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def _ciede2000(lab1, lab2) -> float:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005), kL = kC = kH = 1."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar**7 / (c_bar**7 + 25**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p = math.degrees(math.atan2(b1, a1p)) % 360 if c1p else 0.0
    h2p = math.degrees(math.atan2(b2, a2p)) % 360 if c2p else 0.0
    dh = 0.0
    if c1p * c2p:
        dh = h2p - h1p
        dh = dh - 360 if dh > 180 else dh + 360 if dh < -180 else dh
    d_hp = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if not c1p * c2p:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(h_bar - 30)) + 0.24 * math.cos(math.radians(2 * h_bar))
         + 0.32 * math.cos(math.radians(3 * h_bar + 6))
         - 0.20 * math.cos(math.radians(4 * h_bar - 63)))
    d_theta = 30 * math.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_bar**7 / (cp_bar**7 + 25**7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_bar, 1 + 0.015 * cp_bar * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    dl, dc, dhh = (l2 - l1) / s_l, (c2p - c1p) / s_c, d_hp / s_h
    return math.sqrt(dl**2 + dc**2 + dhh**2 + r_t * dc * dhh)


# Machado, Oliveira & Fernandes (2009), severity 1, on linear RGB.
_CVD = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}


@pytest.mark.parametrize(("lab1", "lab2", "expected"), [  # Sharma et al. 2005, table 1
    ((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
    ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
    ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
])
def test_the_colour_difference_used_below_matches_published_values(lab1, lab2, expected):
    assert _ciede2000(lab1, lab2) == pytest.approx(expected, abs=1e-4)


def test_palette_has_12_distinct_colours_and_its_first_8_survive_colour_blindness():
    palette = plots.PALETTE
    assert len(palette) >= 12 and len(set(palette)) == len(palette)
    first12 = [_lab(c) for c in palette[:12]]
    normal = min(_ciede2000(a, b) for a, b in itertools.combinations(first12, 2))
    assert normal >= 12  # clearly different side by side
    for name, matrix in _CVD.items():  # the 8-language example, as 1 in 12 men see it
        seen = [_lab(c, matrix) for c in palette[:8]]
        worst = min(_ciede2000(a, b) for a, b in itertools.combinations(seen, 2))
        assert worst >= 10, name
    # The old pair that issue 12 found hard to tell apart (de, ar) was 8.6 apart in tritanopia.
    assert _ciede2000(_lab("#11A579", _CVD["tritanopia"]),
                      _lab("#008695", _CVD["tritanopia"])) < 10
    assert "#000000" not in palette  # black vanishes on the dark theme


# --- dark theme --------------------------------------------------------------------------------


def _luminance(colour: str) -> float:
    rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(lin @ [0.2126, 0.7152, 0.0722])


def _contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


GRADIO_DARK_BLOCK = "#1f2937"  # what a transparent figure sits on in Gradio's dark theme


def test_dark_theme_gives_light_ink_on_the_page_surface_and_leaves_the_figure_alone():
    sim = _sim(5)
    light = plots.similarity_heatmap(sim, list("abcde"), _texts(5), langs=["en"] * 5,
                                     baseline_median=0.8, title="Heatmap")
    dark = plots.themed(light, "dark")
    assert dark is not light and light.layout.paper_bgcolor == "white"  # original unchanged
    assert dark.layout.paper_bgcolor == dark.layout.plot_bgcolor == "rgba(0,0,0,0)"
    ink = dark.layout.font.color
    assert _contrast(ink, GRADIO_DARK_BLOCK) >= 7  # body text, WCAG AAA
    assert _contrast(dark.layout.hoverlabel.font.color, dark.layout.hoverlabel.bgcolor) >= 7
    assert dark.layout.title.font.color == ink
    assert _contrast(dark.layout.shapes[0].line.color, GRADIO_DARK_BLOCK) >= 7  # median mark
    # The hover names no colour of its own (italics instead), so it reads on either page.
    assert "color" not in "".join(light.data[0].y) + light.data[0].hovertemplate
    assert dark.data[0].colorscale == light.data[0].colorscale
    assert np.array_equal(np.asarray(dark.data[0].customdata), np.asarray(light.data[0].customdata))
    assert dark.layout.template.layout.paper_bgcolor == "rgb(17,17,17)"  # plotly_dark
    assert plots.themed(light, "light") is light


def test_dark_map_keeps_its_colours_and_turns_lines_and_rings_for_a_dark_page():
    xy = _wide_points(6)
    light = plots.map_scatter(xy, _texts(6), ["a", "b"] * 3, ids=[1, 1, 2, 2, 3, 3],
                                     highlight=[True] + [False] * 5)
    dark = plots.themed(light, "dark")
    for lt, dt in zip(light.data, dark.data, strict=True):
        assert list(lt.x) == list(dt.x)
        if lt.mode == "markers":
            assert dt.marker.color == lt.marker.color  # data colours are the same
            assert dt.marker.line.color != lt.marker.line.color  # dark outlines instead of ink
        else:
            assert _contrast(dt.line.color, GRADIO_DARK_BLOCK) > _contrast(lt.line.color,
                                                                           GRADIO_DARK_BLOCK)
    assert "color:#6b7280" not in dark.data[1].hovertemplate
    with pytest.raises(ValueError, match="Must be one of"):
        plots.themed(light, "sepia")


def test_exports_stay_light():
    fig = plots.map_scatter(_wide_points(3), _texts(3), ["a"] * 3)
    doc = plots.figure_html(fig, "Map")
    assert '"paper_bgcolor":"white"' in doc.replace(" ", "")
    assert "background:#fff" in doc


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


def test_write_html_writes_utf8_pages_with_plain_line_ends(tmp_path):
    fig = plots.message_figure("Grüße, 日本語")
    page = plots.write_html(tmp_path / "figure.html", "Heatmap <de & en> ü", fig)
    data = page.read_bytes()
    assert page == tmp_path / "figure.html"
    assert b"\r\n" not in data  # the same bytes on every system
    assert "<title>Heatmap &lt;de &amp; en&gt; ü</title>".encode() in data
    assert _parse(data.decode("utf-8")).title == "Heatmap <de & en> ü"
    assert data.count(BUNDLE_BANNER.encode()) == 1

    sections = [("Notes", "a <b>\n\nsecond"), ("Figure", fig)]
    report = plots.write_html(tmp_path / "report.html", "Run", sections, {"model": "<m>"})
    text = report.read_text(encoding="utf-8")
    assert "<p>a &lt;b&gt;</p>" in text and "<dd>&lt;m&gt;</dd>" in text
    assert text.count(BUNDLE_BANNER) == 1 and text.count("Plotly.newPlot(") == 1
    with pytest.raises(ValueError, match="single figure"):
        plots.write_html(tmp_path / "x.html", "x", fig, {"model": "m"})


def test_user_text_is_escaped_and_isolated_for_any_figure_text():
    # Written from plotly's pseudo-HTML (&, <, > as entities; quotes shown as they are) and
    # UAX #9 (FSI ... PDI around text with right-to-left letters), not from the code.
    assert plots.user_text('R&D <b>"v2"</b>') == 'R&amp;D &lt;b&gt;"v2"&lt;/b&gt;'
    assert plots.user_text("نموذج 2") == "\u2068نموذج 2\u2069"
    assert plots.user_text("abc\u202edef") == "\u2068abc\u202edef\u202c\u2069"
    assert plots.user_text(7) == "7"


def test_quotes_in_texts_are_shown_as_quotes():
    # plotly's pseudo-HTML knows &amp; &lt; &gt; but shows &quot; and &#x27; literally.
    said = 'He said "hi" and it\'s <fine> & done'
    trace = plots.similarity_heatmap(_sim(2), ["a", "b"], [said, "other"]).data[0]
    shown = trace.y[0]
    assert '"hi"' in shown and "it's" in shown and "&lt;fine&gt; &amp; done" in shown
    assert "&quot;" not in shown and "&#x27;" not in shown
    scatter = plots.map_scatter(np.array([[0.0, 0.0], [1.0, 1.0]]), [said, "x"],
                                       ['lang "q"', "en"])
    names = [t.name for t in scatter.data]
    assert 'lang "q"' in names


# --- right-to-left text and direction controls ----------------------------------------------

# Written from UAX #9, independently of plots: what opens an embedding, override or isolate,
# and what closes one.
BIDI_OPENERS = "\u202a\u202b\u202d\u202e\u2066\u2067\u2068"
BIDI_ISOLATES = "\u2066\u2067\u2068"
BIDI_CLOSERS = "\u202c\u2069"
RLO_LABEL = "abc\u202edef"  # an override that is never closed


def _open_at(shown: str, at: int) -> str:
    """The direction controls still open just before ``shown[at]``, outermost first; fails
    when a closer closes nothing (the text's controls are then not paired)."""
    stack: list[str] = []
    for ch in shown[:at]:
        if ch in BIDI_OPENERS:
            stack.append(ch)
        elif ch in BIDI_CLOSERS:
            assert stack, f"a closer with nothing open in {shown!r}"
            stack.pop()
    return "".join(stack)


def _assert_app_words_plain(shown: str, words: list[str]) -> None:
    """Each of the app's ``words`` lies outside every embedding, override and isolate, and
    the whole string closes all it opens."""
    for word in words:
        at = shown.index(word)
        assert _open_at(shown, at) == "", f"{word!r} is inside an open control in {shown!r}"
    assert _open_at(shown, len(shown)) == "", f"left open at the end of {shown!r}"


def _assert_isolated(shown: str, piece: str) -> None:
    """``piece`` of user text sits inside an isolate (FSI/LRI/RLI ... PDI)."""
    opened = _open_at(shown, shown.index(piece))
    assert opened and opened[0] in BIDI_ISOLATES, f"{piece!r} is not isolated in {shown!r}"


def test_an_unclosed_override_in_a_label_stays_inside_the_heatmap_hover_and_ticks():
    texts = ["The cat sleeps.", "Le chat dort \u202eevil"]
    fig = plots.similarity_heatmap(_sim(2), [RLO_LABEL, "x"], texts, ["en", "fr"],
                                   percentile=np.full((2, 2), 0.5))
    (trace,) = fig.data
    # The hover of cell [0][1], as plotly fills its template.
    hover = trace.hovertemplate.replace("%{y}", trace.y[0]).replace("%{x}", trace.x[1])
    _assert_isolated(hover, "abc")
    _assert_isolated(hover, "evil")
    _assert_app_words_plain(hover, ["en", "cosine", "higher than", "<extra>"])
    for tick in fig.layout.xaxis.ticktext:  # up to 40 texts the ticks are the texts
        _assert_app_words_plain(tick, [])
    _assert_isolated(fig.layout.xaxis.ticktext[1], "evil")
    # Above 40 texts the ticks are the labels.
    n = 45
    many = plots.similarity_heatmap(_sim(n), [RLO_LABEL, *(f"L{i}" for i in range(1, n))],
                                    _texts(n))
    _assert_isolated(many.layout.yaxis.ticktext[0], "abc")
    _assert_app_words_plain(many.layout.yaxis.ticktext[0], [])


def test_stray_closers_and_right_to_left_labels_cannot_reach_the_app_words():
    # A lone PDI would close the isolate early; a Hebrew label would pull " · en" and the
    # digits after it into its right-to-left run.
    labels = ["\u05e9\u05dc\u05d5\u05dd \u2069\u202c\u202e after", "\u2067nested\u202a"]
    trace = plots.similarity_heatmap(_sim(2), labels, ["one", "two"], ["en", "de"]).data[0]
    hover = trace.hovertemplate.replace("%{y}", trace.y[0]).replace("%{x}", trace.y[1])
    _assert_isolated(hover, "\u05e9")
    _assert_isolated(hover, "after")
    _assert_isolated(hover, "nested")
    _assert_app_words_plain(hover, [" · en", " · de", "cosine"])


def test_direction_controls_stay_inside_map_cluster_alignment_and_histogram_text():
    coords = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
    fig = plots.map_scatter(coords, ["a \u202etext", "b", "c"],
                                   [RLO_LABEL, "en", RLO_LABEL], ids=["\u202bident", "2", "3"],
                                   langs=["heb\u202e", "en", "heb\u202e"],
                                   labels=[RLO_LABEL, "x", RLO_LABEL])
    trace = next(t for t in _marker_traces(fig) if "abc" in t.name)
    _assert_isolated(trace.name, "abc")
    _assert_app_words_plain(trace.name, [])
    hover = trace.hovertemplate
    for k, value in enumerate(trace.customdata[0]):
        hover = hover.replace(f"%{{customdata[{k}]}}", str(value))
    for piece in ("text", "abc", "ident", "heb"):
        _assert_isolated(hover, piece)
    _assert_app_words_plain(hover, ["language", "label", "id ", "</span>"])

    clusters = plots.cluster_heatmap(_view(), [f"t{i} \u202ex" for i in range(8)])
    cell = clusters.data[0]
    hover = cell.hovertemplate
    for k, value in enumerate(cell.customdata[0][1]):
        hover = hover.replace(f"%{{customdata[{k}]}}", str(value))
    _assert_isolated(hover, "t3")
    _assert_app_words_plain(hover, ["mean cosine"])

    aligned = plots.alignment_heatmap(np.full((2, 2), 0.8), ["src \u202eone", "src two"],
                                      ["tgt \u202dthree", "tgt four"], [[0, 0], [2, 2]])
    cell = aligned.data[0]
    hover = cell.hovertemplate.replace("%{y}", cell.y[0]).replace("%{x}", cell.x[0])
    _assert_isolated(hover, "one")
    _assert_isolated(hover, "three")
    _assert_app_words_plain(hover, ["<b>target</b>", "cosine"])

    hist = plots.score_histogram(np.array([0.8, 0.9]), _baseline(), marks=[(RLO_LABEL, 0.85)])
    (mark,) = [t for t in _annotation_texts(hist) if "abc" in t]
    _assert_isolated(mark, "abc")
    _assert_app_words_plain(mark, ["0.850"])


def test_right_to_left_pattern_covers_every_right_to_left_character():
    # Text without any of these is shown as it is (no invisible characters added): the
    # pattern must hold every character of bidi class R, AL or AN and every control.
    import unicodedata

    classes = {"R", "AL", "AN", "LRE", "RLE", "LRO", "RLO", "PDF", "LRI", "RLI", "FSI", "PDI"}
    missing = [hex(c) for c in range(0x110000)
               if unicodedata.bidirectional(chr(c)) in classes
               and not plot_text._RIGHT_TO_LEFT.match(chr(c))]
    assert missing == []
    plain = plots.similarity_heatmap(_sim(2), ["a · b", "c"], ["Der Hund.", "日本語"]).data[0]
    assert _row_text(plain.y[0]) == "Der Hund." and _row_text(plain.y[1]) == "日本語"


# --- exploring: a clicked text's lines, the query's star, one uirevision per map -------------

def _drawn(fig: go.Figure) -> dict[int, tuple[float, ...]]:
    """Where each text is drawn, by its position (the last customdata entry)."""
    out = {}
    for trace in _marker_traces(fig):
        if trace.customdata is None:
            continue
        axes = [trace.x, trace.y] + ([trace.z] if getattr(trace, "z", None) is not None else [])
        for k, row in enumerate(trace.customdata):
            out[int(row[-1])] = tuple(float(a[k]) for a in axes)
    return out


@pytest.mark.parametrize("dim", [2, 3])
def test_a_clicked_text_is_joined_to_its_neighbours_dashed_where_the_map_put_them_far(dim):
    xy = _points(40, seed=3)[:, :2] * np.array([1.0, 3.0])  # taller than wide: turned
    coords = xy if dim == 2 else np.column_stack([xy, _points(40, seed=4)[:, 0]])
    focus = plots.MapFocus(5, [7, 9, 11], [False, True, False])
    fig = plots.map_scatter(coords, _texts(40), ["en", "de"] * 20, focus=focus)
    drawn = _drawn(fig)
    lines = {t.name: t for t in fig.data if t.mode == "lines"}
    near, far = (lines["nearest texts (embedding space)"],
                 lines["nearest texts the map put far away"])
    assert near.line.dash == "solid" and far.line.dash == "dash"
    axes = ("x", "y", "z")[:dim]

    def segments(trace):
        values = [list(getattr(trace, a)) for a in axes]
        return [(tuple(v[i] for v in values), tuple(v[i + 1] for v in values))
                for i in range(0, len(values[0]), 3)]

    assert segments(near) == [(drawn[5], drawn[7]), (drawn[5], drawn[11])]
    assert segments(far) == [(drawn[5], drawn[9])]
    (ring,) = [t for t in fig.data if t.name == "clicked text"]
    assert tuple(float(getattr(ring, a)[0]) for a in axes) == drawn[5]
    # The category traces come first, in the same order as without a click: a legend click
    # that hid a language hides the same trace after the redraw.
    plain = plots.map_scatter(coords, _texts(40), ["en", "de"] * 20)
    assert [t.name for t in fig.data[: len(plain.data)]] == [t.name for t in plain.data]
    assert fig.layout.uirevision == plain.layout.uirevision
    other = plots.map_scatter(coords + 1.0, _texts(40), ["en", "de"] * 20)
    assert other.layout.uirevision != plain.layout.uirevision  # a new map starts afresh


@pytest.mark.parametrize(("n", "dim"), [(40, 2), (40, 3), (1500, 2)])
def test_a_clicks_lines_alone_are_drawn_where_the_full_map_draws_its_points(n, dim):
    # What the page draws over its map after a click: the figure's lines without the figure.
    xy = _points(n, seed=3)[:, :2] * np.array([1.0, 3.0])  # taller than wide: turned
    xy[0] = [40.0, 0.0]  # far from the rest: clipped to the edge
    coords = xy if dim == 2 else np.column_stack([xy, _points(n, seed=4)[:, 0]])
    focus = plots.MapFocus(0, [7, 9, 11], [False, True, False])
    alone = plots.map_focus(coords, _texts(n), focus)
    full = plots.map_scatter(coords, _texts(n), ["en", "de"] * (n // 2), focus=focus)
    drawn = _drawn(full)
    assert alone.layout.uirevision == full.layout.uirevision
    assert [t.meta for t in alone.data] == [plots.FOCUS_META] * len(alone.data)
    axes = ("x", "y", "z")[:dim]
    (ring,) = [t for t in alone.data if t.name == "clicked text"]
    assert tuple(float(getattr(ring, a)[0]) for a in axes) == drawn[0]
    ends = {}
    for t in alone.data:
        if t.mode == "lines":
            values = [list(getattr(t, a)) for a in axes]
            for i in range(0, len(values[0]), 3):
                assert tuple(v[i] for v in values) == drawn[0]
                ends[tuple(v[i + 1] for v in values)] = t.line.dash
    assert ends == {drawn[7]: "solid", drawn[9]: "dash", drawn[11]: "solid"}
    assert type(ring) is type(full.data[-1])  # the map's own kind of trace (WebGL above 1000)
    assert plots.map_focus(coords, _texts(n), None).data == ()


def test_a_large_maps_hover_holds_the_start_of_each_text():
    long = "word " * 100
    n = scatter.SHORT_HOVER_ABOVE + 1
    texts = [f"{i} {long}" for i in range(n)]
    (trace,) = _marker_traces(plots.map_scatter(_points(n), texts, ["en"] * n))
    hovers = [row[0].replace("<br>", " ") for row in trace.customdata[:3]]
    assert hovers == [f"{i} {long}"[:79].rstrip() + "…" for i in range(3)]
    small = plots.map_scatter(_points(10), texts[:10], ["en"] * 10)
    assert len(_marker_traces(small)[0].customdata[0][0].replace("<br>", " ")) == 300


def test_the_query_is_drawn_where_the_maps_own_points_would_be():
    xy = _points(40, seed=5) * np.array([1.0, 3.0])  # taller than wide: the map turns it
    fig = plots.map_scatter(xy, _texts(40), ["en"] * 40, query=("Zug <b>", xy[12]))
    (star,) = [t for t in fig.data if t.name == "search query"]
    assert (float(star.x[0]), float(star.y[0])) == _drawn(fig)[12]  # turned like the rest
    assert "Zug &lt;b&gt;" in star.hovertemplate
    far_away = plots.map_scatter(xy, _texts(40), ["en"] * 40, query=("q", xy[0] * 1e6))
    (star,) = [t for t in far_away.data if t.name == "search query"]
    assert far_away.layout.xaxis.range[0] < star.x[0] < far_away.layout.xaxis.range[1]
    assert far_away.layout.yaxis.range[0] < star.y[0] < far_away.layout.yaxis.range[1]


def test_a_focus_off_the_map_is_refused():
    with pytest.raises(ValueError, match="not on the map"):
        plots.map_scatter(_wide_points(5), _texts(5), ["en"] * 5,
                          focus=plots.MapFocus(9, [1], [False]))


def test_a_large_maps_figure_is_what_plotly_checks_would_make_of_it():
    import json

    n = 1500
    xy = np.random.default_rng(3).normal(size=(n, 2))
    xy[:4] *= 50  # far points, drawn at the edge
    cats = [["en", "de", "fr"][i % 3] for i in range(n)]
    ids = [f"t{i // 3}" if i % 5 else "" for i in range(n)]
    mask = np.zeros(n, dtype=bool)
    mask[::7] = True
    for dim_xy in (xy, np.c_[xy, xy[:, 0]]):
        fig = plots.map_scatter(dim_xy, _texts(n), cats, ids=ids, langs=cats, highlight=mask)
        checked = go.Figure(fig.to_dict())  # plotly's own checks on the same content
        assert json.loads(fig.to_json()) == json.loads(checked.to_json())
        lines = next(t for t in fig.data if t.mode == "lines")
        x = np.asarray(lines.x, dtype=float)
        assert np.isnan(x[2::3]).all() and not np.isnan(x[0::3]).any()


@pytest.mark.parametrize("dim", [2, 3])
def test_a_maps_frame_is_fitted_once_and_shared_read_only(dim):
    from e5ui.plots import mapfit

    coords = _points(50, dim, seed=7)
    fit = mapfit._fit_map(coords)
    assert mapfit._fit_map(coords.copy()) is fit  # same points: the same frame
    assert mapfit._fit_map(coords, 900) is not fit and mapfit._fit_map(coords + 1) is not fit
    assert not fit.xy.flags.writeable and coords.flags.writeable  # the caller's stay theirs
    fresh = mapfit._fit_of(coords)
    assert np.array_equal(fit.xy, fresh.xy) and np.array_equal(fit.far, fresh.far)
