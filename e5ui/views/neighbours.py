"""The neighbours view: each query's nearest corpus texts, with calibrated scores and hubs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from e5ui import baselines, langid, registry, textio
from e5ui.analysis import neighbours
from e5ui.analysis.calibration import Baseline
from e5ui.views.common import Table, ViewProgress, check_suffix, embed, notes_for, stage
from e5ui.views.compare import METRIC_K, KeywordComparison, keyword_comparison

# -- neighbours ---------------------------------------------------------------------------------
NEIGHBOUR_HEADER = registry.get("neighbours").header()
# With BM25: NEIGHBOUR_HEADER, then BM25's neighbour of the same rank.
BM25_HEADER = registry.get("neighbours").header("bm25")


@dataclass(eq=False)
class NeighboursResult:
    """Each query's nearest corpus texts.

    Attributes:
        queries, corpus: the inputs.
        found: the search (neighbours, cosines, hubness, calibrated scores).
        table: one row per (query, rank): 0-based line numbers, rank 1 = nearest.
        notes: remarks for the user.
        summary: one line saying what was searched.
        keyword: the same queries through BM25, when asked for (the table then has BM25's
            neighbour of each rank beside E5's: ``bm25_index``, ``bm25_score``, ``bm25_text``).
    """

    queries: textio.Corpus
    corpus: textio.Corpus
    found: neighbours.Search
    table: Table
    notes: list[str]
    summary: str
    keyword: KeywordComparison | None = None

    def write(self, path: str | Path) -> Path:
        """Writes the table as .tsv or .csv."""
        check_suffix(path, (".tsv", ".csv"), "neighbours")
        return self.table.write(path)

    def export(self, folder: Path) -> list[str]:
        """Writes the app's downloads into ``folder``; returns their paths."""
        return [str(self.write(folder / "neighbours.tsv"))] if self.table.rows else []


def neighbours_view(encoder, queries: textio.Corpus, corpus: textio.Corpus, k: int = 5,
                    cross_lingual: bool = False, margin: bool = False, symmetric: bool = False,
                    baseline: Baseline | None = None, progress: ViewProgress | None = None,
                    compare_bm25: bool = False) -> NeighboursResult:
    """Top-k corpus texts per query, with raw and calibrated scores, languages and hub flags.

    Args:
        encoder: the encoder.
        queries, corpus: the inputs.
        k: neighbours per query (1-100).
        cross_lingual: only neighbours in another language than the query's.
        margin: re-rank by ratio margin (demotes hubs).
        symmetric: both sides are the same kind of text (the symmetric prompt on both);
            False is retrieval (queries as "query: ", the corpus as "passage: ").
        baseline: the model's baseline; None looks it up.
        progress: progress callback.
        compare_bm25: also search with BM25 (keyword search), show its neighbours beside
            E5's, their overlap and, with gold ``id`` columns, MRR@10 and Recall@k of both.

    Returns:
        The result.
    """
    if not 1 <= int(k) <= 100:
        raise ValueError("k must be between 1 and 100")
    k = int(k)
    q = embed(encoder, queries, "symmetric" if symmetric else "query", progress, 0.0, 0.3,
              "queries")
    c = embed(encoder, corpus, "symmetric" if symmetric else "passage", progress, 0.3, 0.9,
              "corpus")
    baseline = baseline or baselines.reference_baseline(encoder)
    qlang = langid.detect(queries.texts, queries.langs)
    clang = langid.detect(corpus.texts, corpus.langs)
    found = neighbours.search(q.embeddings, c.embeddings, k, margin=margin,
                              cross_lingual=cross_lingual, query_langs=qlang, corpus_langs=clang,
                              baseline=baseline)
    top, cal = found.neighbours, found.calibrated
    rows = [
        [queries.rows[qi], rank + 1, corpus.rows[ci], float(found.cosines[qi, rank]),
         float(top.scores[qi, rank]) if margin else None, float(cal.percentile[qi, rank]),
         float(cal.rescaled[qi, rank]), qlang[qi], clang[ci], "hub" if ci in found.hubs else "",
         queries.texts[qi], corpus.texts[ci]]
        for qi, rank, ci in found.entries()
    ]
    # (a note on the vectors of both sides, such as calibration off, is said once)
    notes = list(dict.fromkeys(notes_for(queries, q, encoder.max_length, "Queries") + notes_for(
        corpus, c, encoder.max_length, "Corpus")))
    if cross_lingual:
        lonely = int((top.indices < 0).all(axis=1).sum())
        if lonely:
            notes.append(f"{lonely} query(ies) have no corpus text in another language.")
    if found.hubs:
        hub = found.hubness
        notes.append(
            f"⚑ {hub.hubs.size} hub(s): corpus texts that appear in unusually many neighbour "
            f"lists (up to {int(hub.counts[hub.hubs[0]])} of {len(queries)}; expected about "
            f"{len(queries) * top.indices.shape[1] / max(len(corpus), 1):.1f}). Hubs crowd out "
            "better neighbours; the margin switch demotes them."
        )
    summary = (f"{len(queries)} queries × {len(corpus)} corpus texts · top {k}"
               f"{' · cross-lingual' if cross_lingual else ''}{' · margin' if margin else ''}"
               f" · {'symmetric' if symmetric else 'retrieval (query/passage)'}")
    table = Table(NEIGHBOUR_HEADER, rows)
    keyword = None
    if compare_bm25:
        stage(progress, 0.93, "BM25")
        ranking = top.indices
        if ranking.shape[1] < METRIC_K:  # MRR@10 needs E5's top 10, whatever k shows
            ranking = neighbours.search(q.embeddings, c.embeddings, METRIC_K, margin=margin,
                                        cross_lingual=cross_lingual, query_langs=qlang,
                                        corpus_langs=clang).neighbours.indices
        keyword = keyword_comparison(queries, corpus, ranking, k)
        table = _with_bm25(table, [(qi, rank) for qi, rank, _ in found.entries()], keyword,
                           corpus)
    return NeighboursResult(queries, corpus, found, table, notes, summary, keyword)


def _with_bm25(table: Table, slots: list[tuple[int, int]], keyword: KeywordComparison,
               corpus: textio.Corpus) -> Table:
    """The table with BM25's neighbour of the same rank beside each row (empty where BM25
    found no passage sharing a word with the query)."""
    rows = []
    for row, (qi, rank) in zip(table.rows, slots, strict=True):
        ci = int(keyword.bm25_indices[qi, rank]) if rank < keyword.bm25_indices.shape[1] else -1
        rows.append([*row, *((corpus.rows[ci], float(keyword.bm25_scores[qi, rank]),
                              corpus.texts[ci]) if ci >= 0 else (None, None, None))])
    return Table(list(BM25_HEADER), rows)
