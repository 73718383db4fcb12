"""The Map tab: texts on a UMAP (PCA preview first) or PCA map, coloured by language or label."""

from __future__ import annotations

import gradio as gr

from e5ui import plots, registry, resources, views
from e5ui.ui import common
from e5ui.ui.params import number_radio

EXAMPLES = [("24 sentences × 8 languages", "map_parallel.tsv"),
            ("One meaning, ten languages", "one_meaning_ten_languages.tsv")]


VIEW = registry.get("map")
REPORT_KEY = VIEW.name
SEARCH_CHARS = 200  # a highlight is a word or a phrase


@common.guard
def run(app: common.App, texts: str, file: str | None = None, method: str = "umap",
        dim: int = 2, color_by: str = "language", connect: bool = True, search: str = "",
        state: dict | None = None, theme: str = "light", center: bool = False,
        request: gr.Request | None = None, progress=gr.Progress()):
    """/map (alias /projection): figure, summary, notes, downloads, the map (for redrawing),
    report state. With UMAP a PCA preview comes first."""
    corpus = app.read(texts, file, "text list")
    enc = app.encoder(progress)
    data = views.map_data(enc, corpus, common.progress_adapter(progress), center=center)
    if method == "umap":
        preview = views.map_preview(data, int(dim), color_by, connect, search)
        if preview is not None:
            progress(0.7, desc="PCA preview")
            yield (plots.themed(preview.figure, theme), common.md_plain(preview.summary),
                   common.notes_md(preview.notes), [], preview, state)
            progress(0.8, desc="UMAP")
    result = views.map_view(data, method, int(dim), color_by, connect, search)
    state = common.remember(state, REPORT_KEY, "Map", result.figure)
    yield (plots.themed(result.figure, theme), common.md_plain(result.summary),
           common.notes_md(result.notes),
           result.export(app.folder(request, "map")), result, state)


@common.guard
def redraw(saved: views.MapResult | None, color_by: str, connect: bool, search: str,
           theme: str = "light"):
    """New colours, lines or highlights on the computed map (no re-encoding, no projection)."""
    if saved is None:
        return gr.update(), gr.update()
    result = saved.restyled(color_by, connect, search)
    return plots.themed(result.figure, theme), common.notes_md(result.notes)


def build(app: common.App, report_state: gr.State, theme: gr.State) -> common.Wiring:
    """Lays out the tab and wires it; returns the view's wiring."""
    with gr.Tab("Map", id="map"):
        gr.Markdown(resources.text("view_map.md"))
        saved = gr.State(None)
        # Inputs beside the map: on a projector the map is in sight from the start.
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=360):
                texts, upload = common.text_input("Texts (one per line)", 6)
                run_btn = gr.Button("Draw map", variant="primary", elem_id="map-run")
                examples = common.examples_row([label for label, _ in EXAMPLES])
                search = gr.Textbox("", label="Highlight texts containing…", max_lines=1,
                                    max_length=SEARCH_CHARS, elem_id="map-search")
                with gr.Accordion("Options: method, colours, meaning vs. language",
                                  open=False):
                    method = gr.Radio([("UMAP", "umap"), ("PCA", "pca")], value="umap",
                                      label="Method")
                    dim = number_radio([("2-D", 2), ("3-D", 3)], value=2, label="Dimensions")
                    color = gr.Radio([("language", "language"), ("label", "label")],
                                     value="language", label="Colour by")
                    connect = gr.Checkbox(True, label="Join translations (same id)")
                    center = gr.Checkbox(False, label="Meaning, not language: subtract each "
                                         "language's mean embedding", elem_id="map-center")
            with gr.Column(scale=3, min_width=360):
                # The summary under the map, so that the whole map fits a 1080-px projector.
                plot = gr.Plot(plots.message_figure("Add texts and press Draw map"),
                               label="Map", elem_id="map-plot")
                summary = gr.Markdown(elem_id="map-summary")
        notes = gr.Markdown(elem_classes=["notes"])
        files = common.downloads(app, report_state, REPORT_KEY, VIEW.figure_title)
    wiring = common.Wiring(common.bind(run, app),
                    [texts, upload, method, dim, color, connect, search, report_state, theme,
                     center],
                    [plot, summary, notes, files, saved, report_state])
    wiring.on(run_btn.click, api_name=VIEW.api_name)  # also /projection (ui.wire_aliases)
    common.wire_file_examples(examples, [name for _, name in EXAMPLES], texts, upload, wiring)
    restyle = (redraw, [saved, color, connect, search, theme], [plot, notes])
    for event in (color.change, connect.change, search.submit):
        event(*restyle, **common.PRIVATE)
    common.clear_upload_on_typing([(texts, upload)])
    return wiring
