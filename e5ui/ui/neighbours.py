"""The Neighbours tab: each query's nearest corpus texts, with calibrated scores and hub flags."""

from __future__ import annotations

import gradio as gr

from e5ui import registry, resources, views
from e5ui.ui import common
from e5ui.ui import vectors as vectors_ui

VIEW = registry.get("neighbours")
REPORT_KEY = VIEW.name
# The table's columns: the texts last and widest; with BM25, its three beside.
TABLE_WIDTHS = VIEW.widths()
BM25_WIDTHS = VIEW.widths("bm25")
# label, (query file, corpus file, k, cross-lingual, margin, symmetric, BM25)
EXAMPLES = [
    ("Retrieval, model-card style",
     ("retrieval/queries.tsv", "retrieval/passages.tsv", 3, False, False, False, False)),
    ("Find the translations (cross-lingual)",
     ("one_meaning_ten_languages.tsv", "one_meaning_ten_languages.tsv", 3, True, True, True,
      False)),
    ("E5 vs keyword search, across languages",
     ("retrieval/cross_queries.tsv", "retrieval/cross_passages.tsv", 3, False, False, False,
      True)),
]


@common.guard
def run(app: common.App, queries: str, corpus: str, query_file: str | None = None,
        corpus_file: str | None = None, k: int = 3, cross_lingual: bool = False,
        margin: bool = False, symmetric: bool = False, compare_bm25: bool = False,
        state: dict | None = None, query_columns: dict | None = None,
        corpus_columns: dict | None = None, corpus_vectors: list[str] | None = None,
        query_vectors: list[str] | None = None, other_vectors: bool = False,
        request: gr.Request | None = None, progress=gr.Progress()):
    """/neighbours: table, summary, notes, downloads, the BM25 comparison, report state
    (``*_columns``: an uploaded table's columns to read; ``*_vectors``: a side's vectors, an
    .npy and its .json or a .parquet (an uploaded .parquet's recorded ``embedding`` column is
    used without them); ``other_vectors``: use another model's with calibration off)."""
    q = app.read(queries, query_file, "query list", columns=query_columns)
    c = app.read(corpus, corpus_file, "corpus", "max_map_texts", corpus_columns)
    other = bool(other_vectors)
    # The corpus first: the queries' vectors are checked against what made the corpus's, and
    # queries without vectors are encoded only by the model that made them.
    on_corpus = vectors_ui.choose(app, app.encoder(progress), c, corpus_file, corpus_vectors,
                                  other, "corpus")
    on_queries = vectors_ui.choose(app, on_corpus.encoder, q, query_file, query_vectors, other,
                                   "queries")
    result = views.neighbours_view(on_queries.encoder, q, c, k, cross_lingual, margin,
                                   symmetric, progress=common.progress_adapter(progress),
                                   compare_bm25=compare_bm25)
    keyword = result.keyword.summary if result.keyword else ""
    heading = f"Neighbours · {result.summary}" + (f" · {keyword}" if keyword else "")
    state = common.remember(state, REPORT_KEY, heading, result.table.html())
    notes = list(dict.fromkeys([*on_corpus.notes, *on_queries.notes, *result.notes]))
    table = common.table_for_page(app, result.table, notes)
    return (table, common.md_plain(result.summary), common.notes_md(notes),
            result.export(app.folder(request, "neighbours")), common.md_plain(keyword), state)


def widths(compare_bm25: bool):
    """The table's column widths for the columns the next search returns (set here, not in the
    search's answer, so that the API gives plain data)."""
    return gr.update(column_widths=BM25_WIDTHS if compare_bm25 else TABLE_WIDTHS)


def _fill(queries: str, corpus: str, k: int, cross: bool, margin: bool, symmetric: bool,
          bm25: bool):
    texts = common.example_lines(queries), common.example_lines(corpus)
    return *texts, None, None, k, cross, margin, symmetric, bm25


def build(app: common.App, report_state: gr.State, theme: gr.State) -> common.Wiring:
    """Lays out the tab and wires it; returns the view's wiring."""
    with gr.Tab("Neighbours", id="neighbours"):
        gr.Markdown(resources.text("view_neighbours.md"))
        with gr.Row():
            queries, qfile, corpus, cfile = common.two_text_inputs(
                "Queries (one per line)", "Corpus (one per line)", 6)
            with gr.Column(scale=0, min_width=240):
                k = gr.Slider(1, 20, value=3, step=1, label="k")
                cross = gr.Checkbox(False, label="Cross-lingual only")
                margin = gr.Checkbox(False, label="Margin re-ranking")
                symmetric = gr.Checkbox(False, label='Symmetric ("query: " on the corpus)')
                bm25 = gr.Checkbox(False, label="Compare with keyword search (BM25)",
                                   elem_id="nb-bm25")
                run_btn = gr.Button("Search", variant="primary", elem_id="nb-run")
        (cvectors, qvectors), other = vectors_ui.vectors_input(
            [cfile, qfile], ["The corpus's vectors: an .npy and its .json, or a .parquet",
                             "The queries' vectors (optional; else the model encodes them)"],
            prefix="nb")
        examples = common.examples_row([label for label, _ in EXAMPLES])
        summary = gr.Markdown()
        keyword = gr.Markdown(elem_id="nb-compare")
        table = gr.Dataframe(label="Neighbours", wrap=True, max_height=600, elem_id="nb-table",
                             column_widths=TABLE_WIDTHS)
        notes = gr.Markdown(elem_classes=["notes"])
        files = gr.File(label="Downloads", file_count="multiple")
    inputs = [queries, corpus, qfile, cfile, k, cross, margin, symmetric, bm25]
    wiring = common.Wiring(common.bind(run, app),
                           [*inputs, report_state, common.columns_of(qfile),
                            common.columns_of(cfile), cvectors, qvectors, other],
                           [table, summary, notes, files, keyword, report_state])
    wiring.on(run_btn.click, api_name=VIEW.api_name)
    for button, (_, args) in zip(examples, EXAMPLES):  # an example brings no vectors
        common.wire_example(button, lambda a=args: (*_fill(*a), None, None),
                            [*inputs, cvectors, qvectors], wiring)
    bm25.change(widths, bm25, table, queue=False, **common.PRIVATE)
    common.clear_upload_on_typing([(queries, qfile), (corpus, cfile)])
    wiring.parts.update(queries=(queries, qfile), corpus=(corpus, cfile))
    return wiring
