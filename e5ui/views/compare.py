"""The comparisons a stakeholder demo needs: E5 against keyword search (BM25) in the neighbours
view, and one model against another in the similarity view. (Meaning against language — the
centering switch — is an option of the similarity and map views themselves.)"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from e5ui import plots, registry, textio
from e5ui.analysis import retrieval, similarity
from e5ui.analysis.calibration import calibrate
from e5ui.views.common import Table, ViewProgress, check_suffix
from e5ui.views.similarity import SimilarityResult, similarity_view

METRIC_K = 10  # MRR@10, the model card's measure (Mr. TyDi)
MAX_COMPARE_TEXTS = similarity.AGGREGATE_ABOVE  # two cell-per-pair heatmaps in the same order


# -- E5 against BM25 -----------------------------------------------------------------------------
@dataclass(eq=False)
class KeywordComparison:
    """The same queries through BM25 and through E5.

    Attributes:
        k: the neighbours shown per query.
        bm25_indices, bm25_scores: BM25's top k per query (corpus positions; -1 / NaN where no
            passage shares a word with the query).
        overlap: how many of the top k the two share, per query.
        e5, bm25: MRR@10 and Recall@k of each against the gold ids, or None without ids.
        recall_k: the k of Recall@k.
    """

    k: int
    bm25_indices: np.ndarray
    bm25_scores: np.ndarray
    overlap: retrieval.Overlap
    e5: tuple[retrieval.RetrievalScores, retrieval.RetrievalScores] | None
    bm25: tuple[retrieval.RetrievalScores, retrieval.RetrievalScores] | None

    @property
    def summary(self) -> str:
        """The comparison in one line (the measures when the inputs carry gold ids)."""
        text = (f"E5 and BM25 share {self.overlap.mean:.0%} of their top {self.k} on average")
        if self.e5 is None or self.bm25 is None:
            return text + " (no shared 'id' column between queries and corpus: no gold measures)"
        (e5_mrr, e5_rec), (bm_mrr, bm_rec) = self.e5, self.bm25
        return (f"{text} · against the gold ids ({e5_mrr.n_evaluated} queries): "
                f"MRR@{METRIC_K} E5 {e5_mrr.mrr:.3f} vs BM25 {bm_mrr.mrr:.3f} · "
                f"Recall@{self.k} E5 {e5_rec.recall:.3f} vs BM25 {bm_rec.recall:.3f}")


def keyword_comparison(queries: textio.Corpus, corpus: textio.Corpus, e5_ranking: np.ndarray,
                       k: int) -> KeywordComparison:
    """BM25 on the same queries and corpus as an E5 search, with the overlap and, when both
    inputs carry ``id`` columns, MRR@10 and Recall@k of both.

    Args:
        queries, corpus: the inputs.
        e5_ranking: int (n, w) E5's ranked corpus positions, w >= max(k, 10) where the corpus
            allows (-1 for empty slots).
        k: the neighbours shown per query.

    Returns:
        The comparison.
    """
    from e5ui.bm25 import BM25Index

    depth = max(k, METRIC_K)
    bm = BM25Index(corpus.texts).search(queries.texts, depth)
    overlap = retrieval.topk_overlap(e5_ranking[:, :k], bm.indices[:, :k], k=k)
    e5_scores = bm_scores = None
    if queries.ids and corpus.ids:
        relevant = retrieval.relevant_from_ids(queries.ids, corpus.ids)
        if any(len(r) for r in relevant):
            e5_scores = (retrieval.evaluate_retrieval(e5_ranking, relevant, METRIC_K),
                         retrieval.evaluate_retrieval(e5_ranking, relevant, k))
            bm_scores = (retrieval.evaluate_retrieval(bm.indices, relevant, METRIC_K),
                         retrieval.evaluate_retrieval(bm.indices, relevant, k))
    return KeywordComparison(k, bm.indices[:, :k], bm.scores[:, :k], overlap, e5_scores,
                             bm_scores)


# -- model against model ---------------------------------------------------------------------------
MODEL_HEADER = registry.get("similarity").header("compare")


@dataclass(eq=False)
class ModelComparison:
    """The same texts through two models.

    Attributes:
        first, second: each model's similarity result; the second is shown in the first's
            order, so the two heatmaps line up cell by cell.
        names: the two models' names.
        agreement: Spearman's correlation of their pair scores and every pair, ranked by how
            differently the two models rank it.
        table: every pair, most disagreed first: each model's cosine, rank (1 = its most
            similar pair) and percentile among its own unrelated pairs.
        notes: remarks for the user.
    """

    first: SimilarityResult
    second: SimilarityResult
    names: tuple[str, str]
    agreement: retrieval.PairAgreement
    table: Table
    notes: list[str]

    @property
    def summary(self) -> str:
        a, b = self.names
        med_a, med_b = self.first.baseline.median, self.second.baseline.median
        return (f"{a} vs {b}: Spearman correlation of the {self.agreement.n_pairs} pair scores "
                f"{self.agreement.spearman:.3f} · unrelated pairs score {med_a:.3f} (median) "
                f"for {a} and {med_b:.3f} for {b}")

    @cached_property
    def figures(self) -> tuple:
        """The two heatmaps, titled with their models, laid out to stand side by side."""
        out = []
        for name, result in zip(self.names, (self.first, self.second), strict=True):
            fig = result.heatmap(plots.HEATMAP_PAIR_FRAME)
            # The plot names the view; the model's name is user text like any other.
            fig.update_layout(title={"text": plots.user_text(name.split("/")[-1])})
            out.append(fig)
        return tuple(out)

    def write(self, path: str | Path) -> Path:
        """Writes every pair (.tsv / .csv) or both heatmaps on one page (.html)."""
        suffix = check_suffix(path, (".tsv", ".csv", ".html"), "model comparison")
        if suffix == ".html":
            sections = list(zip(self.names, self.figures, strict=True))
            return plots.write_html(path, "e5ui: two models compared", sections,
                                    {"comparison": self.summary})
        return self.table.write(path)

    def export(self, folder: Path) -> list[str]:
        """Writes the app's data download (every pair) into ``folder``."""
        return [str(self.write(folder / "model-comparison.csv"))]


def _rank(value: float) -> int | float:
    """A rank as a whole number unless tied scores gave it a half."""
    return int(value) if float(value).is_integer() else float(value)


def compare_models_view(first_encoder, second_encoder, corpus: textio.Corpus,
                        order: str = "cluster", kind: str = "symmetric", center: bool = False,
                        progress: ViewProgress | None = None) -> ModelComparison:
    """The same texts encoded by two models: two heatmaps in one order, the Spearman
    correlation of their pair scores, each model's calibrated scores, and the pairs they
    disagree on most.

    Args:
        first_encoder, second_encoder: the two models.
        corpus: the texts (at most ``MAX_COMPARE_TEXTS``).
        order: the heatmaps' order (computed on the first model).
        kind: the prompt, as for ``similarity_view``.
        center: subtract each language's mean embedding in both models.
        progress: progress callback.

    Returns:
        The comparison.
    """
    if len(corpus) > MAX_COMPARE_TEXTS:
        raise ValueError(f"Comparing two models takes at most {MAX_COMPARE_TEXTS} texts (the "
                         f"heatmaps show every pair); got {len(corpus)}")
    if len(corpus) < 3:
        raise ValueError("Comparing two models needs at least 3 texts (3 pairs to rank)")

    def half(lo: float) -> ViewProgress | None:
        if progress is None:
            return None
        return lambda fraction, what: progress(lo + fraction / 2, what)

    first = similarity_view(first_encoder, corpus, order, kind, center=center,
                            progress=half(0.0))
    second = similarity_view(second_encoder, corpus, "input", kind, center=center,
                             progress=half(0.5))
    second.order, second.order_method = first.order, first.order_method
    names = (str(first_encoder.describe()["model"]), str(second_encoder.describe()["model"]))
    sim_a = similarity.cosine_matrix(first.embeddings)
    sim_b = similarity.cosine_matrix(second.embeddings)
    n_pairs = len(corpus) * (len(corpus) - 1) // 2
    agreement = retrieval.compare_pair_scores(sim_a, sim_b, limit=n_pairs)
    cal_a = calibrate(agreement.scores_a, first.baseline)
    cal_b = calibrate(agreement.scores_b, second.baseline)
    rows = [[corpus.rows[i], corpus.rows[j], first.labels[i], first.labels[j], float(sa),
             _rank(ra), float(pa), float(sb), _rank(rb), float(pb), _rank(ra - rb),
             corpus.texts[i], corpus.texts[j]]
            for i, j, sa, ra, pa, sb, rb, pb in zip(
                agreement.rows.tolist(), agreement.cols.tolist(), agreement.scores_a,
                agreement.ranks_a, cal_a.percentile, agreement.scores_b, agreement.ranks_b,
                cal_b.percentile)]
    notes = list(first.notes) + [n for n in second.notes if n not in first.notes]
    if names[0] == names[1]:
        notes.append("Both sides are the same model: the comparison shows no difference.")
    return ModelComparison(first, second, names, agreement, Table(MODEL_HEADER, rows), notes)
