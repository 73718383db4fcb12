"""The Similarity tab: a heatmap of every pair's cosine and the most similar pairs."""

from __future__ import annotations

import gradio as gr

from e5ui import plots, registry, resources, views
from e5ui.ui import common, params

ORDER_CHOICES = [("clustered", "cluster"), ("grouped by language", "language"),
                 ("as given", "input")]
# "symmetric" is the prompt for comparing texts: "query: " on both sides for E5 models, the STS
# instruction for instruct models. The API called it "query" before 0.2; that still works.
KIND_CHOICES = [('"query: " on both sides (symmetric: similarity, clustering)', "symmetric"),
                ('"passage: " on both sides', "passage")]
KIND_ALIASES = {"query": "symmetric"}
EXAMPLES = [("One meaning, ten languages", "one_meaning_ten_languages.tsv"),
            ("Paraphrase vs. look-alike vs. unrelated", "paraphrase_lookalike.tsv")]
VIEW = registry.get("similarity")
TABLE_WIDTHS = VIEW.widths()
CENTER_LABEL = "Meaning, not language: subtract each language's mean embedding"
DISAGREEMENTS = 20  # rows of the "pairs the two models rank most differently" table
REPORT_KEY = VIEW.name  # the report orders its sections by the registry


@common.guard
def run(app: common.App, texts: str, file: str | None = None, order: str = "cluster",
        kind: str = "symmetric", state: dict | None = None, theme: str = "light",
        center: bool = False, request: gr.Request | None = None, progress=gr.Progress()):
    """/similarity: heatmap, summary, notes, most similar pairs, downloads, report state."""
    corpus = app.read(texts, file, "text list")
    enc = app.encoder(progress)
    result = views.similarity_view(enc, corpus, order, kind,
                                   progress=common.progress_adapter(progress), center=center)
    state = common.remember(state, REPORT_KEY, "Similarity heatmap", result.figure)
    notes = list(result.notes)
    table = common.table_for_page(app, result.top, notes)
    return (plots.themed(result.figure, theme), common.md_plain(result.summary),
            common.notes_md(notes), table,
            result.export(app.folder(request, "similarity")), state)


@common.guard
def compare(app: common.App, texts: str, file: str | None = None, second: str | None = None,
            order: str = "cluster", kind: str = "symmetric", center: bool = False,
            state: dict | None = None, theme: str = "light", request: gr.Request | None = None,
            progress=gr.Progress()):
    """/similarity_compare: the same texts through the app's model and ``second``: both
    heatmaps (in one order), the Spearman summary, notes, the most disagreed pairs, downloads,
    report state."""
    corpus = app.read(texts, file, "text list")
    first_encoder = app.encoder(progress)
    second_encoder = app.second_encoder(second, progress)
    result = views.compare_models_view(first_encoder, second_encoder, corpus, order,
                                       kind, center,
                                       progress=common.progress_adapter(progress))
    for k, (name, fig) in enumerate(zip(result.names, result.figures, strict=True)):
        state = common.remember(state, f"{REPORT_KEY}-compare-{k}", f"Model vs model: {name}",
                                fig)
    state = common.remember(state, f"{REPORT_KEY}-compare-2", f"Model vs model · "
                            f"{result.summary}", result.table.html(DISAGREEMENTS))
    notes = list(result.notes)
    shown = views.Table(result.table.header, result.table.rows[:DISAGREEMENTS])
    first_fig, second_fig = (plots.themed(f, theme) for f in result.figures)
    return (first_fig, second_fig, common.md_plain(result.summary), common.notes_md(notes),
            shown.frame(), result.export(app.folder(request, "compare")), state)


def build(app: common.App, report_state: gr.State, theme: gr.State) -> common.Wiring:
    """Lays out the tab and wires it; returns the view's wiring."""
    with gr.Tab("Similarity", id="similarity"):
        gr.Markdown(resources.text("view_similarity.md"))
        # Inputs beside the figure: on a projector the heatmap is in sight from the start.
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=360):
                texts, upload = common.text_input("Texts (one per line)", 8)
                run_btn = gr.Button("Compare", variant="primary", elem_id="sim-run")
                examples = common.examples_row([label for label, _ in EXAMPLES])
                with gr.Accordion("Options: order, prefix, meaning vs. language", open=False):
                    order = gr.Radio(ORDER_CHOICES, value="cluster", label="Order")
                    kind = params.aliased_radio(KIND_CHOICES, KIND_ALIASES, value="symmetric",
                                                label="Prefix")
                    gr.Markdown(resources.text("prefix_help.md"), elem_classes=["small"])
                    center = gr.Checkbox(False, label=CENTER_LABEL, elem_id="sim-center")
            # At least the width the heatmap is laid out for: a narrower screen puts the figure
            # under the inputs rather than squeezing its square under labels sized for it.
            with gr.Column(scale=3, min_width=plots.HEATMAP_FRAME + 16):
                # The summary under the figure, so that the whole heatmap fits a 1080-px
                # projector above the fold.
                plot = gr.Plot(plots.message_figure("Add texts and press Compare"),
                               label="Heatmap", elem_id="sim-plot")
                summary = gr.Markdown(elem_id="sim-summary")
        notes = gr.Markdown(elem_classes=["notes"])
        table = gr.Dataframe(label="Most similar pairs", wrap=True, max_height=420,
                             elem_id="sim-table", column_widths=TABLE_WIDTHS)
        files = common.downloads(app, report_state, REPORT_KEY, VIEW.figure_title)
        comparison = _build_comparison(app)
    wiring = common.Wiring(common.bind(run, app),
                           [texts, upload, order, kind, report_state, theme, center],
                           [plot, summary, notes, table, files, report_state])
    wiring.on(run_btn.click, api_name=VIEW.api_name)
    second, compare_btn, outputs = comparison
    compare_btn.click(common.bind(compare, app),
                      [texts, upload, second, order, kind, center, report_state, theme],
                      [*outputs, report_state], api_name="similarity_compare")
    common.wire_file_examples(examples, [name for _, name in EXAMPLES], texts, upload, wiring)
    common.clear_upload_on_typing([(texts, upload)])
    wiring.parts["texts"] = (texts, upload)
    return wiring


def _build_comparison(app: common.App):
    """The "model vs model" panel: a second model, a button, two heatmaps side by side."""
    offered = app.settings.switchable
    with gr.Accordion("Compare with another model (the same texts, two heatmaps)",
                      open=False, visible=bool(offered), elem_id="sim-compare"):
        with gr.Row():
            second = gr.Dropdown(offered, value=_second_default(app, offered),
                                 label="Second model", elem_id="sim-second", scale=3)
            button = gr.Button("Compare models", elem_id="sim-compare-run", scale=1)
        summary = gr.Markdown(elem_id="sim-compare-summary")
        with gr.Row():
            # Side by side where both fit at the width they are laid out for, else stacked.
            first_plot = gr.Plot(label="This model", elem_id="sim-compare-1",
                                 min_width=plots.HEATMAP_PAIR_FRAME)
            second_plot = gr.Plot(label="Second model", elem_id="sim-compare-2",
                                  min_width=plots.HEATMAP_PAIR_FRAME)
        notes = gr.Markdown(elem_classes=["notes"])
        table = gr.Dataframe(label="Pairs the two models rank most differently", wrap=True,
                             max_height=420, elem_id="sim-compare-table")
        files = gr.File(label="Downloads (every pair)", file_count="multiple")
    return second, button, [first_plot, second_plot, summary, notes, table, files]


def _second_default(app: common.App, offered: list[str]) -> str | None:
    current = app.holder.status().requested
    others = [m for m in offered if m != current]
    preferred = [m for m in ("bundled-enpt", "bundled", "small") if m in others]
    return (preferred or others or [None])[0]
