"""The Map tab: texts on a UMAP (PCA preview first) or PCA map, coloured by language or label."""

from __future__ import annotations

import gradio as gr
import numpy as np

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
        clusters: bool = False, request: gr.Request | None = None, progress=gr.Progress()):
    """/map (alias /projection): figure, summary, notes, downloads, the map (for redrawing),
    report state. With UMAP a PCA preview comes first."""
    corpus = app.read(texts, file, "text list")
    enc = app.encoder(progress)
    data = views.map_data(enc, corpus, common.progress_adapter(progress), center=center)
    if method == "umap":
        preview = views.map_preview(data, int(dim), color_by, connect, search, clusters)
        if preview is not None:
            progress(0.7, desc="PCA preview")
            yield (plots.themed(preview.figure, theme), common.md_plain(preview.summary),
                   common.notes_md(preview.notes), [], preview, state)
            progress(0.8, desc="UMAP")
    result = views.map_view(data, method, int(dim), color_by, connect, search,
                            clusters=clusters)
    state = common.remember(state, REPORT_KEY, "Map", result.figure)
    yield (plots.themed(result.figure, theme), common.md_plain(result.summary),
           common.notes_md(result.notes),
           result.export(app.folder(request, "map")), result, state)


@common.guard
def redraw(saved: views.MapResult | None, color_by: str, connect: bool, search: str,
           theme: str = "light", clusters: bool = False):
    """New colours, lines, highlights or cluster names on the computed map (no re-encoding,
    no projection); the map with them, kept for the next redraw."""
    if saved is None:
        return gr.update(), gr.update(), gr.update()
    result = saved.restyled(color_by, connect, search, clusters)
    return plots.themed(result.figure, theme), common.notes_md(result.notes), result


def _map_for(app: common.App, texts: str, file: str | None, saved: views.MapResult | None,
             method: str, dim: int, center: bool, progress) -> tuple[views.MapResult, object]:
    """The map of these texts: their embeddings through the encoder (its cache makes this
    cheap), then the session's last map when it was drawn from the same embeddings (same
    texts, model and centering), else a new projection."""
    corpus = app.read(texts, file, "text list")
    enc = app.encoder(progress)
    data = views.map_data(enc, corpus, common.progress_adapter(progress), center=center)
    if (saved is not None and not saved.preview and saved.data.corpus.texts == corpus.texts
            and saved.data.embeddings.shape == data.embeddings.shape
            and np.array_equal(saved.data.embeddings, data.embeddings)):
        return saved, enc
    return views.map_view(data, method, int(dim)), enc


@common.guard
def neighbours(app: common.App, texts: str, file: str | None = None, index: int | None = 0,
               k: int = 10, saved: views.MapResult | None = None, method: str = "umap",
               dim: int = 2, center: bool = False, progress=gr.Progress()):
    """/map_neighbours: one text's nearest texts in the embedding space (by its 0-based
    ``index``, the map table's), with calibrated scores, languages, hubs, translations and
    the ones the map put far away: table, summary, notes."""
    if index is None:  # an emptied index box: the API's validator lets null through
        raise ValueError("Type the 0-based index of a text (the map table's index column)")
    result, enc = _map_for(app, texts, file, saved, method, dim, center, progress)
    found = views.map_neighbours(result, int(index), int(k), encoder=enc)
    return found.table.frame(), common.md_plain(found.summary), common.notes_md(found.notes)


@common.guard
def search_meaning(app: common.App, texts: str, file: str | None = None, query: str = "",
                   threshold: float = 0.99, saved: views.MapResult | None = None,
                   method: str = "umap", dim: int = 2, center: bool = False,
                   progress=gr.Progress()):
    """/map_search: the texts that mean what ``query`` means (above ``threshold``, the share
    of unrelated pairs they outscore), best first, and the query's place on the map: table,
    summary."""
    result, enc = _map_for(app, texts, file, saved, method, dim, center, progress)
    found = views.map_search(result, query, enc, float(threshold))
    place = found.found.place
    where = ("" if place is None else " · the query lands at ("
             + ", ".join(f"{v:.2f}" for v in place) + ") on the map")
    return found.table.frame(), common.md_plain(found.summary + where)


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
                    color = gr.Radio([("language", "language"), ("label", "label"),
                                      ("cluster", "cluster")],
                                     value="language", label="Colour by")
                    connect = gr.Checkbox(True, label="Join translations (same id)")
                    clusters = gr.Checkbox(False, label="Clusters: name them on the map",
                                           elem_id="map-clusters")
                    center = gr.Checkbox(False, label="Meaning, not language: subtract each "
                                         "language's mean embedding", elem_id="map-center")
            with gr.Column(scale=3, min_width=360):
                # The summary under the map, so that the whole map fits a 1080-px projector.
                plot = gr.Plot(plots.message_figure("Add texts and press Draw map"),
                               label="Map", elem_id="map-plot")
                summary = gr.Markdown(elem_id="map-summary")
        notes = gr.Markdown(elem_classes=["notes"])
        with gr.Accordion("Explore: a text's neighbours, search by meaning", open=False,
                          elem_id="map-explore"):
            with gr.Row():
                index = gr.Number(0, label="Text (0-based index)", precision=0, minimum=0,
                                  elem_id="map-point")
                k = gr.Slider(1, 100, value=10, step=1, label="Neighbours")
                near_btn = gr.Button("Nearest texts", elem_id="map-neighbours-run")
            with gr.Row():
                query = gr.Textbox("", label="Search by meaning", max_lines=1,
                                   max_length=views.explore.QUERY_CHARS,
                                   elem_id="map-query")
                threshold = gr.Slider(0.5, 1.0, value=0.99, step=0.001,
                                      label="Percentile of unrelated pairs a match beats")
                query_btn = gr.Button("Search", elem_id="map-search-run")
            explore_summary = gr.Markdown(elem_id="map-explore-summary")
            explore_notes = gr.Markdown(elem_classes=["notes"])
            explore_table = gr.Dataframe(wrap=True, max_height=420, elem_id="map-explore-table")
        files = common.downloads(app, report_state, REPORT_KEY, VIEW.figure_title)
    wiring = common.Wiring(common.bind(run, app),
                    [texts, upload, method, dim, color, connect, search, report_state, theme,
                     center, clusters],
                    [plot, summary, notes, files, saved, report_state])
    wiring.on(run_btn.click, api_name=VIEW.api_name)  # also /projection (ui.wire_aliases)
    common.wire_file_examples(examples, [name for _, name in EXAMPLES], texts, upload, wiring)
    restyle = (redraw, [saved, color, connect, search, theme, clusters], [plot, notes, saved])
    for event in (color.change, connect.change, search.submit, clusters.change):
        event(*restyle, **common.PRIVATE)
    near_btn.click(common.bind(neighbours, app),
                   [texts, upload, index, k, saved, method, dim, center],
                   [explore_table, explore_summary, explore_notes], api_name="map_neighbours")
    query_btn.click(common.bind(search_meaning, app),
                    [texts, upload, query, threshold, saved, method, dim, center],
                    [explore_table, explore_summary], api_name="map_search")
    common.clear_upload_on_typing([(texts, upload)])
    return wiring
