"""The Similarity tab: a heatmap of every pair's cosine and the most similar pairs."""

from __future__ import annotations

import gradio as gr

from e5ui import plots, registry, resources, views
from e5ui.ui import common, params
from e5ui.ui import vectors as vectors_ui

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
        center: bool = False, columns: dict | None = None, vectors: list[str] | None = None,
        other_vectors: bool = False, request: gr.Request | None = None,
        progress=gr.Progress()):
    """/similarity: heatmap, summary, notes, most similar pairs, downloads, report state, and
    the result (a State: kept for clicks on the heatmap's cells, not returned by the API).
    ``columns``: an uploaded table's columns to read (``{"text": "sentence"}``); ``vectors``:
    the texts' vectors (an .npy and its .json, or a .parquet; an uploaded .parquet's recorded
    ``embedding`` column is used without them), ``other_vectors``: use another model's with
    calibration off."""
    corpus = app.read(texts, file, "text list", columns=columns)
    chosen = vectors_ui.choose(app, app.encoder(progress), corpus, file, vectors,
                               bool(other_vectors), "texts")
    result = views.similarity_view(chosen.encoder, corpus, order, kind,
                                   progress=common.progress_adapter(progress), center=center)
    state = common.remember(state, REPORT_KEY, "Similarity heatmap", result.figure)
    notes = [*chosen.notes, *result.notes]
    table = common.table_for_page(app, result.top, notes)
    return (plots.themed(result.figure, theme), common.md_plain(result.summary),
            common.notes_md(notes), table,
            result.export(app.folder(request, "similarity")), state, result)


# --- the page's own interaction: a click on a heatmap cell (assets/plot_events.js). Private:
# the API's callers have the whole matrix (/similarity's downloads).

CELL_HELP = ("Click a cell of the heatmap: both texts are shown here in full, with their "
             "cosine, its calibrated scores and where it falls among unrelated pairs.")
CLUSTER_EXAMPLES = 3  # texts listed per cluster when a cell is a pair of clusters


@common.guard
def cell_clicked(saved: views.SimilarityResult | None, event: str, theme: str = "light"):
    """A click on a heatmap cell: the pair of texts (or of clusters) behind it, in the panel
    under the heatmap, with its scores and its place on the unrelated-pairs histogram."""
    if saved is None or not event:
        return gr.update(), gr.update()
    cell = common.plot_event(event, "cell")
    if not isinstance(cell, list) or len(cell) != 2:
        raise ValueError("That is not a cell of the heatmap; click inside the square")
    found = views.pair_at(saved, cell[0], cell[1])
    return _cell_md(saved, found), gr.Plot(plots.themed(found.figure, theme), visible=True)


def cleared():
    """A new result: the panel asks for a click again."""
    return common.md_plain(CELL_HELP), gr.Plot(None, visible=False)


def _text_md(result: views.SimilarityResult, i: int, where: str) -> str:
    """One text in full, with its row number, language, label and id."""
    return common.text_md(result.corpus, result.langs, i, f"{where}text ")


def _cell_md(result: views.SimilarityResult, cell: views.HeatmapCell) -> str:
    """The panel's text: both texts (once on the diagonal), or the two clusters, and the
    scores."""
    if cell.clusters is not None:
        parts = [f"**A group, not a pair**: {result.n} texts are too many for a cell per "
                 "pair, so each cell is the mean cosine between the texts of two clusters."]
        view = result.clusters
        for where, c, size in zip(("Row", "Column"), cell.clusters, cell.sizes, strict=True):
            if where == "Column" and cell.same:
                parts[0] += " This cell is a cluster with itself (its texts among themselves)."
                break
            shown = [f"> {common.md_plain(result.corpus.texts[int(i)])}"
                     for i in view.members[c][:CLUSTER_EXAMPLES]]
            parts.append(f"**{where}: cluster C{c}**, {size} {'text' if size == 1 else 'texts'}"
                         f"{', the first:' if size > CLUSTER_EXAMPLES else ':'}\n\n"
                         + "\n>\n".join(shown))
        return "\n\n".join([*parts, cell.scores])
    if cell.same:
        return "\n\n".join([_text_md(result, cell.first, "The diagonal: "),
                             "A text compared with itself: its cosine is 1 by definition.",
                             cell.scores])
    return "\n\n".join([_text_md(result, cell.first, "Row: "),
                         _text_md(result, cell.second, "Column: "), cell.scores])


@common.guard
def compare(app: common.App, texts: str, file: str | None = None, second: str | None = None,
            order: str = "cluster", kind: str = "symmetric", center: bool = False,
            state: dict | None = None, theme: str = "light", columns: dict | None = None,
            request: gr.Request | None = None, progress=gr.Progress()):
    """/similarity_compare: the same texts through the app's model and ``second``: both
    heatmaps (in one order), the Spearman summary, notes, the most disagreed pairs, downloads,
    report state."""
    corpus = app.read(texts, file, "text list", columns=columns)
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
                (vectors,), other = vectors_ui.vectors_input([upload], prefix="sim")
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
                # Where the page's script writes a click on a cell (in the page, not on
                # screen; see assets/plot_events.js), and the clicked pair under the summary.
                click_box = gr.Textbox("", visible="hidden", elem_id="sim-plot-click",
                                       max_length=common.EVENT_CHARS)
                pair = gr.Markdown(common.md_plain(CELL_HELP), elem_id="sim-pair")
                pair_plot = gr.Plot(label="This pair among unrelated pairs", visible=False,
                                    elem_id="sim-pair-plot")
        saved = gr.State(None)
        notes = gr.Markdown(elem_classes=["notes"])
        table = gr.Dataframe(label="Most similar pairs", wrap=True, max_height=420,
                             elem_id="sim-table", column_widths=TABLE_WIDTHS)
        files = common.downloads(app, report_state, REPORT_KEY, VIEW.figure_title)
        comparison = _build_comparison(app)
    wiring = common.Wiring(common.bind(run, app),
                           [texts, upload, order, kind, report_state, theme, center,
                            common.columns_of(upload), vectors, other],
                           [plot, summary, notes, table, files, report_state, saved])
    wiring.on(run_btn.click, api_name=VIEW.api_name)
    click_box.change(cell_clicked, [saved, click_box, theme], [pair, pair_plot],
                     show_progress="minimal", **common.PRIVATE)
    saved.change(cleared, None, [pair, pair_plot], **common.PRIVATE)
    second, compare_btn, outputs = comparison
    compare_btn.click(common.bind(compare, app),
                      [texts, upload, second, order, kind, center, report_state, theme,
                       common.columns_of(upload)],
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
