"""The comparisons, checked against direct computations: MRR@10 and Recall@k of E5 and BM25
from plain loops over their rankings, Spearman against scipy, centering against numpy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics.pairwise import cosine_similarity

from e5ui import textio, views
from e5ui.analysis.calibration import baseline_from_embeddings
from e5ui.bm25 import BM25Index
from tests.conftest import FakeEncoder, VectorEncoder


def baseline_for(enc):
    return baseline_from_embeddings(enc.encode([f"t{i}" for i in range(40)]), "fake")


def mrr_loop(rankings, query_ids, corpus_ids, cut=10):
    total, n = 0.0, 0
    for qi, ranking in enumerate(rankings):
        relevant = {j for j, cid in enumerate(corpus_ids) if cid == query_ids[qi]}
        if not relevant:
            continue
        n += 1
        for rank, j in enumerate(ranking[:cut], start=1):
            if j in relevant:
                total += 1.0 / rank
                break
    return total / n


def recall_loop(rankings, query_ids, corpus_ids, cut):
    values = []
    for qi, ranking in enumerate(rankings):
        relevant = {j for j, cid in enumerate(corpus_ids) if cid == query_ids[qi]}
        if relevant:
            values.append(len(relevant & set(ranking[:cut])) / len(relevant))
    return float(np.mean(values))


RETRIEVAL = """text\tid
how do I bake bread at home\tq1
why is the sky blue\tq2
which plants need little water\tq3
"""
PASSAGES = """text\tid
Knead the dough, let it rise for an hour, then bake it at 220 degrees.\tq1
Bread prices rose again at the home market this week.\t
Sunlight scatters off air molecules, and blue light scatters most.\tq2
The sky blue paint sold out in every home store.\t
Cacti and succulents store water in their leaves and need little of it.\tq3
Water the lawn early in the morning, say plant experts.\t
Whole-wheat loaves need a longer rise than white ones.\tq1
"""


def test_bm25_and_e5_measures_match_a_direct_computation(fake_encoder):
    queries = textio.parse_table(RETRIEVAL, "\t")
    corpus = textio.parse_table(PASSAGES, "\t")
    result = views.neighbours_view(fake_encoder, queries, corpus, k=3, compare_bm25=True,
                                   baseline=baseline_for(fake_encoder))
    kw = result.keyword
    # E5's ranking, directly: cosine of "query: " queries against "passage: " passages.
    sim = cosine_similarity(fake_encoder.encode(queries.texts, kind="query"),
                            fake_encoder.encode(corpus.texts, kind="passage"))
    e5_rank = [list(np.argsort(-row, kind="stable")) for row in sim]
    # BM25's, directly: each passage's score for the query, passages sharing no word left out.
    index = BM25Index(corpus.texts)
    bm_rank = []
    for q in queries.texts:
        scores = index.scores(q)
        bm_rank.append([j for j in np.argsort(-scores, kind="stable") if scores[j] > 0])
    (e5_mrr, e5_rec), (bm_mrr, bm_rec) = kw.e5, kw.bm25
    assert e5_mrr.mrr == pytest.approx(mrr_loop(e5_rank, queries.ids, corpus.ids))
    assert bm_mrr.mrr == pytest.approx(mrr_loop(bm_rank, queries.ids, corpus.ids))
    assert e5_rec.recall == pytest.approx(recall_loop(e5_rank, queries.ids, corpus.ids, 3))
    assert bm_rec.recall == pytest.approx(recall_loop(bm_rank, queries.ids, corpus.ids, 3))
    overlap = np.mean([len(set(e5_rank[q][:3]) & set(bm_rank[q][:3])) / 3 for q in range(3)])
    assert kw.overlap.mean == pytest.approx(overlap)
    assert f"MRR@10 E5 {e5_mrr.mrr:.3f} vs BM25 {bm_mrr.mrr:.3f}" in kw.summary
    # BM25's neighbour of each rank sits beside E5's in the table.
    header = result.table.header
    assert header[-3:] == ["bm25_index", "bm25_score", "bm25_text"]
    for row in result.table.rows:
        qi, rank = queries.rows.index(row[0]), row[1] - 1
        expected = bm_rank[qi][rank] if rank < len(bm_rank[qi]) else None
        assert row[-3] == (None if expected is None else corpus.rows[expected])


def test_without_gold_ids_bm25_shows_only_the_overlap(fake_encoder):
    q = textio.parse_lines("bread\nsky")
    c = textio.parse_lines("bread is good\nthe sky\nnothing here")
    result = views.neighbours_view(fake_encoder, q, c, k=2, compare_bm25=True,
                                   baseline=baseline_for(fake_encoder))
    assert result.keyword.e5 is None and "no gold measures" in result.keyword.summary


def test_two_models_spearman_and_disagreements_match_scipy():
    texts = [f"text {i}" for i in range(8)]
    a, b = FakeEncoder(model="fake/a"), FakeEncoder(model="fake/b", dim=24)
    corpus = textio.parse_lines("\n".join(texts))
    result = views.compare_models_view(a, b, corpus, order="cluster")
    sim_a = cosine_similarity(a.encode(texts, kind="symmetric"))
    sim_b = cosine_similarity(b.encode(texts, kind="symmetric"))
    iu = np.triu_indices(8, k=1)
    assert result.agreement.spearman == pytest.approx(spearmanr(sim_a[iu], sim_b[iu]).statistic)
    assert len(result.table) == 28  # every pair, most disagreed first
    diffs = [abs(row[10]) for row in result.table.rows]
    assert diffs == sorted(diffs, reverse=True)
    top = result.table.rows[0]
    i, j = top[0], top[1]
    assert top[4] == pytest.approx(sim_a[i, j], abs=1e-6)
    assert top[7] == pytest.approx(sim_b[i, j], abs=1e-6)
    # Both heatmaps in the first model's order.
    assert np.array_equal(result.second.order, result.first.order)
    assert result.summary.startswith("fake/a vs fake/b: Spearman")
    with pytest.raises(ValueError, match="at least 3 texts"):
        views.compare_models_view(a, b, textio.parse_lines("x\ny"))


def test_model_names_in_the_comparison_titles_are_escaped(tmp_path):
    # A model's name is user text: a title shows it, it does not format the title.
    a = FakeEncoder(model="org/R&D <beta>")
    b = FakeEncoder(model="org/نموذج", dim=24)
    corpus = textio.parse_lines("\n".join(f"text {i}" for i in range(5)))
    result = views.compare_models_view(a, b, corpus)
    first, second = (fig.layout.title.text for fig in result.figures)
    assert first == "R&amp;D &lt;beta&gt;"
    assert second == "\u2068نموذج\u2069"  # isolated: cannot reorder the words around it
    page = result.write(tmp_path / "compare.html").read_text(encoding="utf-8")
    assert "<h2>org/R&amp;D &lt;beta&gt;</h2>" in page


def test_centering_subtracts_each_language_mean():
    rng = np.random.default_rng(5)
    vectors = {f"en {i}": rng.normal(size=8) + 3 for i in range(6)}
    vectors.update({f"de {i}": rng.normal(size=8) - 3 for i in range(6)})
    vectors.update({"hi 0": rng.normal(size=8), "hi 1": rng.normal(size=8)})
    enc = VectorEncoder(vectors)
    table = "text\tlang\n" + "".join(f"{t}\t{t.split()[0]}\n" for t in vectors)
    corpus = textio.parse_table(table, "\t")
    result = views.similarity_view(enc, corpus, "input", baseline=baseline_for(enc), center=True)
    x = np.stack([v / np.linalg.norm(v) for v in vectors.values()])
    expected = x.copy()
    for lang in ("en", "de"):  # hi has 2 texts: fewer than the 5 a mean needs
        rows = [k for k, t in enumerate(vectors) if t.startswith(lang)]
        block = x[rows] - x[rows].mean(axis=0)
        expected[rows] = block / np.linalg.norm(block, axis=1, keepdims=True)
    np.testing.assert_allclose(result.embeddings, expected, atol=1e-6)
    assert any("Languages centered" in n and "hi (2)" in n for n in result.notes)
    assert "languages centered" in result.figure.layout.title.text
    plain = views.similarity_view(enc, corpus, "input", baseline=baseline_for(enc))
    assert not np.allclose(plain.embeddings, result.embeddings)


def test_map_centering_moves_languages_together():
    """Two languages far apart in raw space: centered, their embeddings match numpy's centered
    vectors and the PCA map no longer separates the languages along its first axis."""
    rng = np.random.default_rng(9)
    meaning = rng.normal(size=(6, 8))
    vectors = {f"en {i}": meaning[i] + 6 for i in range(6)}
    vectors.update({f"de {i}": meaning[i] - 6 for i in range(6)})
    enc = VectorEncoder(vectors)
    table = "text\tlang\n" + "".join(f"{t}\t{t.split()[0]}\n" for t in vectors)
    corpus = textio.parse_table(table, "\t")
    plain = views.map_view(views.map_data(enc, corpus), method="pca")
    centered = views.map_view(views.map_data(enc, corpus, center=True), method="pca")
    x = np.stack([v / np.linalg.norm(v) for v in vectors.values()])
    expected = x.copy()
    for rows in (range(6), range(6, 12)):
        block = x[list(rows)] - x[list(rows)].mean(axis=0)
        expected[list(rows)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    np.testing.assert_allclose(centered.data.embeddings, expected, atol=1e-6)

    def gap(result):  # distance between the two languages' centers on the map, over spread
        xy = np.asarray(result.projection.coords)
        return np.linalg.norm(xy[:6].mean(0) - xy[6:].mean(0)) / xy.std()

    assert gap(plain) > 1.5
    assert gap(centered) < 0.5
    assert "languages centered" in centered.figure.layout.title.text
    assert "languages centered" not in plain.figure.layout.title.text
