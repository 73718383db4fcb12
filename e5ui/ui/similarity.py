"""The Similarity tab: a heatmap of every pair's cosine and the most similar pairs."""

from __future__ import annotations

import gradio as gr

from e5ui import plots, resources, views
from e5ui.ui import common

ORDER_CHOICES = [("clustered", "cluster"), ("grouped by language", "language"),
                 ("as given", "input")]
# "query" (the API's value since the first release) is the symmetric prompt: "query: " on both
# sides for E5 models, the STS instruction for instruct models.
KIND_CHOICES = [('"query: " on both sides (symmetric: similarity, clustering)', "query"),
                ('"passage: " on both sides', "passage")]
EXAMPLES = [("One meaning, ten languages", "one_meaning_ten_languages.tsv"),
            ("Paraphrase vs. look-alike vs. unrelated", "paraphrase_lookalike.tsv")]
TABLE_WIDTHS = ["6%", "6%", "9%", "9%", "7%", "8%", "7%", "24%", "24%"]
REPORT_KEY = "1-similarity"


@common.guard
def run(app: common.App, texts: str, file: str | None = None, order: str = "cluster",
        kind: str = "query", state: dict | None = None, theme: str = "light",
        request: gr.Request | None = None, progress=gr.Progress()):
    """/similarity: heatmap, summary, notes, most similar pairs, downloads, report state."""
    corpus = app.read(texts, file, "text list")
    enc = app.encoder(progress)
    result = views.similarity_view(enc, corpus, order, "symmetric" if kind == "query" else kind,
                                   progress=common.progress_adapter(progress))
    state = common.remember(state, REPORT_KEY, "Similarity heatmap", result.figure)
    notes = list(result.notes)
    table = common.table_for_page(app, result.top, notes)
    return (plots.themed(result.figure, theme), common.md_plain(result.summary),
            common.notes_md(notes), table,
            result.export(app.folder(request, "similarity")), state)


def build(app: common.App, report_state: gr.State, theme: gr.State) -> common.Wiring:
    """Lays out the tab and wires it; returns the view's wiring."""
    with gr.Tab("Similarity", id="similarity"):
        gr.Markdown(resources.text("view_similarity.md"))
        with gr.Row():
            with gr.Column(scale=2):
                texts, upload = common.text_input(
                    "Texts (one per line)", 8, placeholder="The cat sleeps.\nDie Katze schläft.")
            with gr.Column(scale=1):
                order = gr.Radio(ORDER_CHOICES, value="cluster", label="Order")
                kind = gr.Radio(KIND_CHOICES, value="query", label="Prefix")
                gr.Markdown(resources.text("prefix_help.md"), elem_classes=["small"])
                run_btn = gr.Button("Compare", variant="primary", elem_id="sim-run")
        examples = common.examples_row([label for label, _ in EXAMPLES])
        summary = gr.Markdown()
        plot = gr.Plot(plots.message_figure("Add texts and press Compare"), label="Heatmap",
                       elem_id="sim-plot")
        notes = gr.Markdown(elem_classes=["notes"])
        table = gr.Dataframe(label="Most similar pairs", wrap=True, max_height=420,
                             elem_id="sim-table", column_widths=TABLE_WIDTHS)
        files = common.downloads(app, report_state, REPORT_KEY, "e5ui similarity heatmap")
    wiring = common.Wiring(common.bind(run, app),
                           [texts, upload, order, kind, report_state, theme],
                           [plot, summary, notes, table, files, report_state])
    wiring.on(run_btn.click, api_name="similarity")
    common.wire_file_examples(examples, [name for _, name in EXAMPLES], texts, upload, wiring)
    common.clear_upload_on_typing([(texts, upload)])
    return wiring
