"""The views without a browser or a model: every table and number against a reference computed
here (sklearn, scipy, numpy loops) from the same deterministic fake embeddings."""

from __future__ import annotations

import collections
import csv
import re
import shutil
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from e5ui import models, textio, views
from e5ui.analysis.calibration import baseline_from_embeddings
from tests.conftest import ASSETS, VectorEncoder, rand_rows


def baseline_for(enc):
    return baseline_from_embeddings(enc.encode([f"t{i}" for i in range(40)]), "fake")


def ref_percentile(baseline, score: float) -> float:
    """Fraction of unrelated pairs scoring <= score (at the baseline's float32 precision)."""
    return float(np.mean(baseline.cosines <= np.float32(score)))


def ref_rescaled(baseline, score: float) -> float:
    med = float(np.median(baseline.cosines.astype(np.float64)))
    return (score - med) / (1 - med)


def read_rows(path, delimiter=None):
    delimiter = delimiter or ("\t" if str(path).endswith(".tsv") else ",")
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.reader(f, delimiter=delimiter))


# -- similarity ---------------------------------------------------------------------------------
def test_similarity_top_pairs_and_calibration_against_a_loop(fake_encoder):
    base = baseline_for(fake_encoder)
    corpus = textio.parse_lines("t0\nt1\nt2\n\nt3\nt4\nt5\n")  # a blank line: rows != positions
    result = views.similarity_view(fake_encoder, corpus, "input", baseline=base)
    assert fake_encoder.kinds[-1] == "symmetric"
    emb = fake_encoder.encode(corpus.texts, kind="symmetric")
    sim = cosine_similarity(emb)
    pairs = sorted(((sim[i, j], i, j) for i in range(6) for j in range(i + 1, 6)),
                   key=lambda p: (-p[0], p[1], p[2]))
    assert len(result.top) == 15 and result.top.header[:2] == ["index_a", "index_b"]
    for row, (cos, i, j) in zip(result.top.rows, pairs, strict=True):
        assert row[:4] == [corpus.rows[i], corpus.rows[j], result.labels[i], result.labels[j]]
        assert row[4] == pytest.approx(cos, abs=1e-6)
        assert row[5] == pytest.approx(ref_percentile(base, cos))
        assert row[6] == pytest.approx(ref_rescaled(base, cos), abs=1e-6)
        assert row[7:] == [corpus.texts[i], corpus.texts[j]]
    assert corpus.rows[3] == 4  # "t3" is line 5 of the input: 0-based 4
    off = sim[np.triu_indices(6, k=1)]
    assert result.summary.startswith(f"6 texts · cosines {off.min():.3f}–{off.max():.3f}")


def test_similarity_matrix_export_in_display_order(fake_encoder, tmp_path):
    corpus = textio.read_texts(ASSETS / "examples/one_meaning_ten_languages.tsv")
    result = views.similarity_view(fake_encoder, corpus, "cluster",
                                   baseline=baseline_for(fake_encoder))
    sim = cosine_similarity(fake_encoder.encode(corpus.texts, kind="symmetric"))
    order = result.order
    assert sorted(order.tolist()) == list(range(len(corpus)))
    rows = read_rows(result.write(tmp_path / "m.csv"))
    labels = [result.labels[i] for i in order]
    assert rows[0] == ["", *labels] and [r[0] for r in rows[1:]] == labels
    np.testing.assert_allclose(np.array([[float(v) for v in r[1:]] for r in rows[1:]]),
                               sim[np.ix_(order, order)], atol=2e-6)
    np.testing.assert_array_equal(np.load(result.write(tmp_path / "e.npy")),
                                  fake_encoder.encode(corpus.texts, kind="symmetric"))
    files = result.export(tmp_path)
    assert sorted(p.rsplit("/", 1)[-1] for p in files) == ["embeddings.npy", "similarity.csv"]
    page = result.write(tmp_path / "heatmap.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "Plotly.newPlot" in page
    with pytest.raises(ValueError, match="writes .csv, .tsv, .npy, .html"):
        result.write(tmp_path / "m.xlsx")


def test_similarity_aggregates_large_inputs(fake_encoder):
    big = textio.parse_lines("\n".join(f"text {i}" for i in range(600)))
    result = views.similarity_view(fake_encoder, big, "cluster",
                                   baseline=baseline_for(fake_encoder))
    assert result.figure.data[0].type == "heatmap"
    assert len(result.figure.data[0].z) < 100  # clusters, not 600 x 600 cells
    assert any("clusters" in n for n in result.notes)


def test_a_heatmap_cell_is_the_pair_its_row_and_column_show(fake_encoder):
    base = baseline_for(fake_encoder)
    corpus = textio.read_texts(ASSETS / "examples/one_meaning_ten_languages.tsv")
    result = views.similarity_view(fake_encoder, corpus, "cluster", baseline=base)
    order = result.order
    assert not np.array_equal(order, np.arange(len(corpus)))  # a reordered heatmap
    emb = fake_encoder.encode(corpus.texts, kind="symmetric")
    z = np.asarray(result.figure.data[0].z, dtype=np.float64)
    n = len(corpus)
    everything = (emb @ emb.T)[np.triu_indices(n, k=1)]
    for row, col in [(0, 1), (3, 7), (n - 1, 2), (5, 5)]:
        cell = views.pair_at(result, row, col)
        # The texts the drawn heatmap's hover names that row and column by (wrapped at
        # spaces); the example's texts are all different.
        assert corpus.texts[cell.first] in result.figure.data[0].y[row].replace("<br>", " ")
        assert corpus.texts[cell.second] in result.figure.data[0].x[col].replace("<br>", " ")
        assert (cell.first, cell.second) == (order[row], order[col])
        expected = float(emb[cell.first] @ emb[cell.second])
        assert cell.cosine == pytest.approx(expected, abs=1e-6)
        assert cell.cosine == pytest.approx(z[row, col], abs=1e-6)  # what the cell shows
        assert cell.percentile == pytest.approx(ref_percentile(base, cell.cosine))
        assert cell.rescaled == pytest.approx(ref_rescaled(base, cell.cosine), abs=1e-6)
        assert cell.same == (row == col) and cell.clusters is None
        np.testing.assert_allclose(np.sort(cell.pair_cosines), np.sort(everything), atol=1e-6)
        lines = [s.x0 for s in cell.figure.layout.shapes if s.line.dash == "solid"]
        assert lines == [pytest.approx(cell.cosine)]
        shown = float(re.search(r"higher than \*\*([\d.]+)%", cell.scores).group(1))
        assert f"{cell.cosine:.4f}" in cell.scores
        assert shown <= 100 * cell.percentile < shown + 0.1 + 1e-9  # rounded down
    assert views.pair_at(result, 5, 5).cosine == pytest.approx(1.0, abs=1e-6)
    for row, col in [(n, 0), (0, -1), (True, 0), (1.5, 0)]:
        with pytest.raises(ValueError, match="The heatmap has no"):
            views.pair_at(result, row, col)


def test_a_cluster_heatmap_cell_is_the_two_groups(fake_encoder):
    base = baseline_for(fake_encoder)
    big = textio.parse_lines("\n".join(f"text {i}" for i in range(600)))
    result = views.similarity_view(fake_encoder, big, "cluster", baseline=base)
    view = result.clusters
    emb = fake_encoder.encode(big.texts, kind="symmetric")
    z = np.asarray(result.figure.data[0].z, dtype=np.float64)
    for row, col in [(0, 1), (2, 2)]:
        cell = views.pair_at(result, row, col)
        a, b = cell.clusters
        assert (a, b) == (view.order[row], view.order[col]) and cell.first is None
        members_a = np.flatnonzero(view.labels == a)
        members_b = np.flatnonzero(view.labels == b)
        block = emb[members_a] @ emb[members_b].T
        if a == b:
            pairs = block[np.triu_indices(len(members_a), k=1)]
        else:
            pairs = block.ravel()
        assert cell.sizes == (len(members_a), len(members_b))
        assert cell.cosine == pytest.approx(float(pairs.mean()), abs=1e-5)
        assert cell.cosine == pytest.approx(z[row, col], abs=1e-6)
        assert cell.percentile == pytest.approx(ref_percentile(base, cell.cosine))
        np.testing.assert_allclose(np.sort(cell.pair_cosines), np.sort(pairs), atol=1e-6)
        assert cell.same == (a == b) and "Mean cosine" in cell.scores


def test_labels_are_unique(fake_encoder):
    corpus = textio.parse_table("text\tid\nA\tx\nB\tx\nC\tx\n", "\t")
    assert views.labels_for(corpus, ["en", "en", "de"]) == ["x · en", "x · en (2)", "x · de"]


def test_truncation_and_blank_lines_are_listed():
    from e5ui.encoding import EncodeResult, Truncation

    corpus = textio.parse_lines("a\n\nb")
    result = EncodeResult(np.zeros((2, 4), np.float32), [Truncation(1, 900, 512)])
    notes = views.notes_for(corpus, result, 512, "Input")
    assert any("blank line" in n for n in notes)
    assert any("line 3 (900 tokens)" in n and "truncated" in n for n in notes)


# -- neighbours ---------------------------------------------------------------------------------
def test_neighbours_table_against_brute_force(fake_encoder):
    base = baseline_for(fake_encoder)
    q = textio.parse_lines("q0\n\nq1\nq2")
    c = textio.parse_lines("\n".join(f"c{i}" if i % 3 else "" for i in range(16)))
    result = views.neighbours_view(fake_encoder, q, c, k=3, baseline=base)
    assert fake_encoder.kinds[-2:] == ["query", "passage"]
    sim = cosine_similarity(fake_encoder.encode(q.texts, kind="query"),
                            fake_encoder.encode(c.texts, kind="passage"))
    expected = []
    for qi in range(len(q)):
        for rank, ci in enumerate(np.argsort(-sim[qi], kind="stable")[:3]):
            expected.append((q.rows[qi], rank + 1, c.rows[ci], sim[qi, ci], q.texts[qi],
                             c.texts[ci]))
    assert result.table.header == views.NEIGHBOUR_HEADER
    assert len(result.table) == len(expected) == 9
    for row, (qr, rank, cr, cos, qt, ct) in zip(result.table.rows, expected, strict=True):
        assert row[:3] == [qr, rank, cr] and row[10:] == [qt, ct]
        assert row[3] == pytest.approx(cos, abs=1e-6) and row[4] is None  # no margin asked
        assert row[5] == pytest.approx(ref_percentile(base, cos))
        assert row[6] == pytest.approx(ref_rescaled(base, cos), abs=1e-6)


def test_neighbours_flags_the_hub_a_direct_count_finds():
    rng = np.random.default_rng(3)
    center = rng.normal(size=16)
    queries = {f"q{i}": center + 0.7 * np.linalg.norm(center) * u / np.linalg.norm(u)
               for i, u in enumerate(rng.normal(size=(24, 16)))}
    corpus = {f"c{i}": v for i, v in enumerate(rng.normal(size=(24, 16)))}
    corpus["the hub"] = center
    enc = VectorEncoder({**queries, **corpus})
    q = textio.parse_lines("\n".join(queries))
    c = textio.parse_lines("\n".join(corpus))
    result = views.neighbours_view(enc, q, c, k=3, baseline=baseline_for(enc))
    # The k-occurrence rule of Radovanović et al., counted here from a brute-force top-3.
    sim = cosine_similarity(np.stack([queries[t] for t in q.texts]),
                            np.stack([corpus[t] for t in c.texts]))
    counts = np.bincount(np.argsort(-sim, axis=1)[:, :3].ravel(), minlength=len(c))
    hubs = {c.texts[i] for i in np.flatnonzero((counts > counts.mean() + 2 * counts.std())
                                               & (counts >= 2 * counts.mean()))}
    assert hubs == {"the hub"}
    flagged = {row[11] for row in result.table.rows if row[9] == "hub"}
    assert flagged == hubs
    assert any(n.startswith("⚑ 1 hub(s)") for n in result.notes)


def test_neighbours_cross_lingual_and_margin(fake_encoder):
    base = baseline_for(fake_encoder)
    q = textio.parse_table("text\tlang\nhello\ten\nhallo\tde\n", "\t")
    c = textio.parse_table("text\tlang\nworld\ten\nwelt\tde\nmonde\tfr\n", "\t")
    result = views.neighbours_view(fake_encoder, q, c, k=2, cross_lingual=True, baseline=base)
    assert len(result.table) == 4
    assert all(r[7] != r[8] for r in result.table.rows)
    margin = views.neighbours_view(fake_encoder, q, c, k=2, cross_lingual=True, margin=True,
                                   baseline=base)
    # Random vectors give some non-positive margin denominators: those slots stay empty.
    assert margin.table.rows and all(isinstance(r[4], float) for r in margin.table.rows)
    with pytest.raises(ValueError, match="between 1 and 100"):
        views.neighbours_view(fake_encoder, q, c, k=0, baseline=base)


def test_symmetric_neighbours_use_the_symmetric_prompt_on_both_sides(fake_encoder):
    q = textio.parse_lines("a\nb")
    views.neighbours_view(fake_encoder, q, q, k=1, symmetric=True,
                          baseline=baseline_for(fake_encoder))
    assert fake_encoder.kinds[-2:] == ["symmetric", "symmetric"]


# -- map ------------------------------------------------------------------------------------------
def test_map_table_and_restyle(fake_encoder, tmp_path):
    corpus = textio.read_texts(ASSETS / "examples/one_meaning_ten_languages.tsv")
    data = views.map_data(fake_encoder, corpus)
    result = views.map_view(data, "pca", 2, search="train")
    assert result.projection.method == "pca" and "neighbour preservation" in result.summary
    assert any("matching text" in n for n in result.notes)
    table = result.table
    assert table.header == ["index", "x", "y", "lang", "label", "id", "text"]
    for i, row in enumerate(table.rows):
        assert row[0] == corpus.rows[i] and row[-1] == corpus.texts[i]
        assert row[1:3] == pytest.approx(result.projection.coords[i].tolist())
        assert row[3:6] == [data.langs[i], "", corpus.ids[i]]  # this file has no label column
    back = read_rows(result.write(tmp_path / "coords.csv"))
    assert back[0] == table.header and len(back) == len(corpus) + 1
    restyled = result.restyled("label", False, "")
    assert not any("matching" in n for n in restyled.notes)
    assert restyled.projection is result.projection  # no new projection
    plain = views.map_view(views.map_data(fake_encoder, textio.parse_lines("a\nb\nc")), "pca")
    assert any("no 'label' column" in n for n in plain.restyled("label", True, "").notes)


def test_map_preview_only_when_umap_will_run(fake_encoder):
    small = views.map_data(fake_encoder, textio.parse_lines("a\nb\nc"))
    assert views.map_preview(small) is None
    data = views.map_data(fake_encoder, textio.parse_lines("\n".join("abcdefghij")))
    preview = views.map_preview(data)
    assert preview.preview and preview.projection.preservation is None
    assert preview.summary.startswith("PCA preview") and preview.export(None) == []


# -- bitext ---------------------------------------------------------------------------------------
def test_bitext_with_gold_and_exports(fake_encoder, tmp_path):
    src = textio.parse_lines("one\ntwo\n\nthree")
    tgt = textio.parse_lines("two\nthree\none")  # the fake encodes equal texts equally
    result = views.bitext_view(fake_encoder, src, tgt, gold=[(0, 2), (1, 0), (3, 1)],
                               src_lang="EN", tgt_lang="en")
    assert result.evaluation.p_at_1 == 1.0
    assert [r[:2] for r in result.table.rows] == [[0, 2], [1, 0], [3, 1]]
    assert all(r[3] == pytest.approx(1.0, abs=1e-6) for r in result.table.rows)
    files = result.export(tmp_path)
    assert sorted(p.rsplit(".", 1)[-1] for p in files) == ["csv", "tmx", "tsv"]
    assert read_rows(tmp_path / "pairs.tsv")[1][:2] == ["0", "2"]
    langs = {tuv.get("{http://www.w3.org/XML/1998/namespace}lang")
             for tuv in ET.parse(tmp_path / "pairs.tmx").iter("tuv")}
    assert langs == {"en"}
    with pytest.raises(ValueError, match="points at a line"):
        views.bitext_view(fake_encoder, src, tgt, gold=[(2, 0)])  # line 2 is blank


def test_bitext_threshold_lists_the_unmatched(fake_encoder):
    src = textio.parse_lines("same\nother text")
    tgt = textio.parse_lines("same")
    result = views.bitext_view(fake_encoder, src, tgt, method="cosine", threshold=0.99)
    assert [r[:2] for r in result.table.rows] == [[0, 0]]
    assert result.unmatched.rows == [["source", 1, "other text"]]
    assert "threshold 0.99" in result.summary


# -- explain and pair score -----------------------------------------------------------------------
def test_explain_against_sklearn(fake_encoder):
    base = baseline_for(fake_encoder)
    corpus = textio.parse_lines("a\nb\nc\nd")
    result = views.explain_view(fake_encoder, corpus, baseline=base)
    sim = cosine_similarity(fake_encoder.encode(corpus.texts, kind="symmetric"))
    pairs = sim[np.triu_indices(4, k=1)]
    np.testing.assert_allclose(np.sort(result.pair_cosines), np.sort(pairs), atol=1e-6)
    assert f"Your 4 texts: 6 pairs, median {np.median(pairs):.3f}" in result.summary
    none = views.explain_view(fake_encoder, None, baseline=base)
    assert "unrelated pairs" in none.summary and "Your" not in none.summary
    one = views.explain_view(fake_encoder, textio.parse_lines("only one"), baseline=base)
    assert "Your" not in one.summary and "at least two" in one.notes[0]


def test_pair_score_against_a_direct_computation(fake_encoder):
    base = baseline_for(fake_encoder)
    score = views.pair_score(fake_encoder, "a", "b", baseline=base)
    a, b = fake_encoder.encode(["a", "b"], kind="symmetric")
    raw = float(a @ b)
    assert score.raw == pytest.approx(raw, abs=1e-6)
    assert score.percentile == pytest.approx(ref_percentile(base, raw))
    assert score.rescaled == pytest.approx(ref_rescaled(base, raw), abs=1e-6)
    with pytest.raises(ValueError, match="both boxes"):
        views.pair_score(fake_encoder, "a", " ", baseline=base)


def test_report_needs_a_view(tmp_path):
    with pytest.raises(ValueError, match="run at least one view"):
        views.report([], None, tmp_path)


def test_table_display_formats():
    table = views.Table(["a", "percentile", "score"], [[1, 0.97321, 0.123456789],
                                                      [2, 0.9999, None]])
    frame = table.frame()
    assert frame.values.tolist() == [[1, "97.3%", 0.1235], [2, ">99.9%", "–"]]


# -- the instruct model's prompts (a bug: symmetric views got the retrieval instruction) -------
def test_instruct_models_get_the_symmetric_instruction_in_symmetric_views(tiny_model_dir,
                                                                          tmp_path):
    from e5ui.encoding import Encoder

    instruct_dir = shutil.copytree(tiny_model_dir, tmp_path / "tiny-e5-instruct")
    enc = Encoder(str(instruct_dir), device="cpu", dtype="float32", cache=False)
    assert enc.spec.prompt == "instruct"
    texts = ["The cat sleeps.", "Die Katze schläft.", "Stocks fell."]
    corpus = textio.parse_lines("\n".join(texts))
    typed = [f"Instruct: Retrieve semantically similar text\nQuery: {t}" for t in texts]
    expected = enc.encode(typed, kind="passage")  # passages are read as they are
    base = baseline_from_embeddings(rand_rows(10, enc.dim), "x")
    np.testing.assert_allclose(views.similarity_view(enc, corpus, baseline=base).embeddings,
                               expected, atol=1e-6)
    np.testing.assert_allclose(views.map_data(enc, corpus).embeddings, expected, atol=1e-6)
    retrieval = enc.encode([f"Instruct: {models.DEFAULT_INSTRUCTION}\nQuery: {t}"
                            for t in texts], kind="passage")
    assert not np.allclose(retrieval, expected, atol=1e-3)  # the two prompts differ


def test_map_exports_for_embedding_atlas_and_the_projector(fake_encoder, tmp_path):
    import csv as csvlib

    import pyarrow.parquet as pq

    corpus = textio.read_texts(ASSETS / "examples/map_parallel.tsv")
    data = views.map_data(fake_encoder, corpus)
    result = views.map_view(data, "pca", 2)
    files = {p.rsplit("/", 1)[-1] for p in result.export(tmp_path)}
    assert files == {"coords.csv", "map.parquet", "vectors.tsv", "metadata.tsv"}
    table = pq.read_table(tmp_path / "map.parquet").to_pydict()
    assert set(table) == {"index", "x", "y", "lang", "label", "id", "text", "embedding"}
    assert table["text"] == corpus.texts and table["index"] == corpus.rows
    assert table["id"] == corpus.ids and table["lang"] == data.langs
    np.testing.assert_array_equal(np.array(table["embedding"], np.float32), data.embeddings)
    np.testing.assert_allclose(np.c_[table["x"], table["y"]], result.projection.coords,
                               atol=1e-6)
    vectors = np.loadtxt(tmp_path / "vectors.tsv", delimiter="\t", dtype=np.float32)
    np.testing.assert_allclose(vectors, data.embeddings, rtol=1e-6, atol=1e-7)
    with open(tmp_path / "metadata.tsv", encoding="utf-8", newline="") as f:
        meta = list(csvlib.reader(f, delimiter="\t", quoting=csvlib.QUOTE_NONE))
    assert meta[0] == ["index", "lang", "label", "id", "text"]
    assert [r[4] for r in meta[1:]] == corpus.texts and len(meta) == len(corpus) + 1


# -- align ----------------------------------------------------------------------------------------
def test_align_table_and_exports_cover_every_sentence_once(fake_encoder, tmp_path):
    from e5ui import segment

    src, tgt = segment.split_pair(
        "One fish. Two fish. Red fish.\n\nBlue fish. Old fish.",
        "Ein Fisch. Zwei Fische, ein roter Fisch.\n\nBlauer Fisch.", source_lang="en",
        target_lang="de")
    result = views.align_view(fake_encoder, src, tgt, threshold=0.5)
    assert result.table.header == ["src_indices", "tgt_indices", "score", "type", "source",
                                   "target", "status", "doubt_rank"]

    def indices(cell):
        return [int(i) for i in cell.split(",")] if cell else []

    seen_src, seen_tgt = [], []
    for row in result.table.rows:
        a, b = indices(row[0]), indices(row[1])
        assert row[3] == f"{len(a)}-{len(b)}"  # the type counts the sentences on each side
        assert (row[4] is None) == (not a) and (row[5] is None) == (not b)
        seen_src += a
        seen_tgt += b
    assert sorted(seen_src) == list(range(len(src))) and sorted(seen_tgt) == list(range(len(tgt)))
    back = read_rows(result.write(tmp_path / "a.tsv"))
    assert back[0] == result.table.header and len(back) == len(result.table) + 1
    units = ET.parse(result.write(tmp_path / "a.tmx")).getroot().findall("body/tu")
    assert len(units) == len(result.alignment.pairs)  # omissions are not translation units
    for tu, link in zip(units, result.alignment.pairs, strict=True):
        segs = [tuv.find("seg").text for tuv in tu.findall("tuv")]
        assert segs[0] == " ".join(src.sentences[i] for i in link.src)
        assert segs[1] == " ".join(tgt.sentences[j] for j in link.tgt)
    flagged = result.restyled(2.0)  # every link scores below 2
    assert len(flagged.low_confidence) == len(result.alignment.pairs)
    assert flagged.alignment.links[0].src == result.alignment.links[0].src  # no new search


def test_map_neighbours_view_against_numpy(fake_encoder, tmp_path):
    corpus = textio.read_texts(ASSETS / "examples/map_parallel.tsv")
    data = views.map_data(fake_encoder, corpus)
    result = views.map_view(data, "pca", 2)
    base = baseline_for(fake_encoder)
    got = views.map_neighbours(result, 3, 5, baseline=base)
    assert got.table.header == views.explore.VIEW.header("neighbours")
    x = data.embeddings.astype(np.float64)
    cos = x @ x[3]
    cos[3] = -np.inf
    want = np.lexsort((np.arange(len(cos)), -cos))[:5]
    assert [row[1] for row in got.table.rows] == [corpus.rows[j] for j in want]
    for row, j in zip(got.table.rows, want, strict=True):
        assert row[2] == pytest.approx(cos[j], abs=1e-6)
        assert row[3] == pytest.approx(ref_percentile(base, cos[j]))
        assert row[5] == data.langs[j] and row[-1] == corpus.texts[j]
        assert (row[8] == "yes") == (corpus.ids[j] == corpus.ids[3] and data.langs[j]
                                     != data.langs[3])
    assert read_rows(got.write(tmp_path / "n.tsv"))[0] == got.table.header
    with pytest.raises(ValueError, match="no text of this map"):
        views.map_neighbours(result, 10_000, 5, baseline=base)


def test_map_search_view_and_map_columns(fake_encoder):
    corpus = textio.read_texts(ASSETS / "examples/map_parallel.tsv")
    result = views.map_view(views.map_data(fake_encoder, corpus), "pca", 2, clusters=True)
    base = baseline_for(fake_encoder)
    found = views.map_search(result, corpus.texts[7], fake_encoder, 0.5, baseline=base)
    q = fake_encoder.encode([corpus.texts[7]], kind="query")[0].astype(np.float64)
    cos = result.data.embeddings.astype(np.float64) @ q
    pct = np.array([ref_percentile(base, c) for c in cos])
    want = [j for j in np.argsort(-cos, kind="stable") if pct[j] >= 0.5]
    assert [row[1] for row in found.table.rows] == [corpus.rows[j] for j in want]
    header = found.map.table.header
    assert header[-5:] == ["cluster", "cluster_label", "search_cosine", "search_percentile",
                           "text"]
    assert [r[-2] for r in found.map.table.rows] == pytest.approx(pct.tolist())
    assert found.found.place is not None and found.found.place.shape == (2,)
    with pytest.raises(ValueError, match="search for"):
        views.map_search(result, "  ", fake_encoder, baseline=base)


def test_map_search_in_other_languages_lists_no_text_in_the_querys_language(fake_encoder):
    corpus = textio.read_texts(ASSETS / "examples/map_parallel.tsv")
    result = views.map_view(views.map_data(fake_encoder, corpus), "pca", 2)
    base = baseline_for(fake_encoder)
    (german,) = [i for i, (lang, ident) in enumerate(zip(corpus.langs, corpus.ids, strict=True))
                 if lang == "de" and ident == "p02"]
    query = corpus.texts[german]
    found = views.map_search(result, query, fake_encoder, 0.5, baseline=base,
                             other_languages=True)
    q = fake_encoder.encode([query], kind="query")[0].astype(np.float64)
    cos = result.data.embeddings.astype(np.float64) @ q
    pct = np.array([ref_percentile(base, c) for c in cos])
    want = [j for j in np.argsort(-cos, kind="stable")
            if pct[j] >= 0.5 and corpus.langs[j] != "de"]
    assert want and [row[1] for row in found.table.rows] == [corpus.rows[j] for j in want]
    assert "other languages than the query's (de)" in found.summary
    # The highlight on the map follows the listed matches.
    assert sorted(found.map.meaning.matches.tolist()) == sorted(want)


def test_a_map_selection_is_its_rows_its_language_counts_and_text_that_reads_back(fake_encoder,
                                                                                 tmp_path):
    corpus = textio.read_texts(ASSETS / "examples/map_parallel.tsv")
    result = views.map_view(views.map_data(fake_encoder, corpus), "pca", 2)
    picked = [40, 3, 3, 150, 77]  # a repeat counts once; the order is kept
    found = views.map_selection(result, picked)
    assert found.positions == [40, 3, 150, 77]
    assert found.table.rows == [result.table.rows[p] for p in (40, 3, 150, 77)]
    want = collections.Counter(corpus.langs[p] for p in (40, 3, 150, 77))
    assert dict(found.counts) == dict(want)
    assert found.summary.startswith("4 of 192 texts selected")
    back = textio.parse_pasted(found.text)  # what a text box of another view reads
    assert back.texts == [corpus.texts[p] for p in (40, 3, 150, 77)]
    assert back.langs == [corpus.langs[p] for p in (40, 3, 150, 77)]
    assert back.ids == [corpus.ids[p] for p in (40, 3, 150, 77)]
    assert read_rows(found.write(tmp_path / "s.csv"))[0] == result.table.header
    for bad in ([192], [-1], [True], ["3"]):
        with pytest.raises(ValueError, match="not on this map"):
            views.map_selection(result, bad)


def test_selection_text_quotes_what_a_line_box_would_misread():
    for texts in (['say "hi"', "two\nlines", "plain"], ["text\tx", "b"],
                  ['"quoted"', "tab\there"]):
        text = textio.input_text(textio.Corpus(texts=texts), range(len(texts)))
        assert textio.parse_pasted(text).texts == texts
    assert textio.input_text(textio.Corpus(texts=["a", "b"]), [1, 0]) == "b\na"


def test_a_large_maps_hubs_come_from_umaps_graph_and_a_large_pca_map_marks_none(
        fake_encoder, monkeypatch):
    from types import SimpleNamespace

    from e5ui.analysis import explore as analysis_explore
    from e5ui.analysis.projection import Projection
    from e5ui.views import map as map_view

    corpus = textio.read_texts(ASSETS / "examples/map_parallel.tsv")
    data = views.map_data(fake_encoder, corpus)
    n = len(corpus)
    exact = views.map_view(data, "pca", 2)
    x = data.embeddings.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cos = x @ x.T
    np.fill_diagonal(cos, -np.inf)
    nearest = np.stack([np.lexsort((np.arange(n), -row))[:10] for row in cos])
    counts = np.bincount(nearest.reshape(-1), minlength=n)
    np.testing.assert_array_equal(exact.hubs.counts, counts)  # small: an exact search
    monkeypatch.setattr(map_view, "HUBS_EXACT_MAX", 5)
    pca = views.map_view(data, "pca", 2)
    assert not pca.hubs_marked and pca.hubs.hubs.size == 0
    found = views.map_neighbours(pca, corpus.rows[0], 5)
    assert any("Hubs are not marked" in note for note in found.notes)
    graph = np.c_[np.arange(n), nearest, nearest[:, :2]]  # itself first, as UMAP's
    umap_like = views.MapResult(data, Projection(pca.projection.coords, "umap", 2,
                                                 model=SimpleNamespace(_knn_indices=graph)))
    assert umap_like.hubs_marked
    want = analysis_explore.hubness(nearest, n)
    np.testing.assert_array_equal(umap_like.hubs.counts, want.counts)
    np.testing.assert_array_equal(umap_like.hubs.hubs, want.hubs)
