"""The Map tab: texts on a UMAP (PCA preview first) or PCA map, coloured by language or label."""

from __future__ import annotations

import json
import re

import gradio as gr
import numpy as np

from e5ui import baselines, plots, registry, resources, views
from e5ui.ui import common
from e5ui.ui import vectors as vectors_ui
from e5ui.ui.common import EVENT_CHARS
from e5ui.ui.common import plot_event as _event
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
        clusters: bool = False, columns: dict | None = None, vectors: list[str] | None = None,
        other_vectors: bool = False, request: gr.Request | None = None,
        progress=gr.Progress()):
    """/map (alias /projection): figure, summary, notes, downloads, the map (for redrawing),
    report state. With UMAP a PCA preview comes first. ``columns``: an uploaded table's
    columns to read (``{"text": "sentence"}``), here and in the explore endpoints;
    ``vectors``: the texts' vectors (an .npy and its .json, or a .parquet; an uploaded
    .parquet's recorded ``embedding`` column is used without them), ``other_vectors``: use
    another model's with calibration off."""
    data, extra = _data(app, texts, file, center, columns, vectors, other_vectors, progress)
    if method == "umap":
        preview = views.map_preview(data, int(dim), color_by, connect, search, clusters)
        if preview is not None:
            progress(0.7, desc="PCA preview")
            yield (plots.themed(preview.figure, theme), common.md_plain(preview.summary),
                   common.notes_md(extra + preview.notes), [], preview, state)
            progress(0.8, desc="UMAP")
    result = views.map_view(data, method, int(dim), color_by, connect, search,
                            clusters=clusters)
    state = common.remember(state, REPORT_KEY, "Map", result.figure)
    yield (plots.themed(result.figure, theme), common.md_plain(result.summary),
           common.notes_md(extra + result.notes),
           result.export(app.folder(request, "map")), result, state)


def _data(app: common.App, texts: str, file: str | None, center: bool, columns: dict | None,
          vectors: list[str] | None, other: bool, progress
          ) -> tuple[views.MapData, list[str]]:
    """The map's texts and their embeddings: encoded, or the vectors given (or in the
    uploaded Parquet file); and notes the map's own do not carry."""
    corpus = app.read(texts, file, "text list", "max_map_texts", columns)
    chosen = vectors_ui.choose(app, app.encoder(progress), corpus, file, vectors,
                               bool(other), "texts")
    data = views.map_data(chosen.encoder, corpus, common.progress_adapter(progress),
                          center=center)
    return data, chosen.notes


@common.guard
def figure_page(app: common.App, saved: views.MapResult | None,
                request: gr.Request | None = None, progress=gr.Progress()):
    """The "Save the figure as HTML" button: the map as a page that explores offline (a click
    lists a text's nearest texts with their percentiles, a box searches), as ``map --out
    map.html`` writes it."""
    if saved is None or saved.preview:
        raise ValueError("Draw the map first (wait for UMAP); then it can be saved")
    baseline = baselines.reference_baseline(saved.data.encoder_for(app.encoder(progress)))
    name = re.sub(r"\W+", "-", VIEW.figure_title).strip("-") + ".html"
    path = saved.write(app.folder(request, "map-figure") / name, baseline=baseline)
    return gr.update(value=str(path), visible=True)


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
             method: str, dim: int, center: bool, progress, columns: dict | None = None,
             vectors: list[str] | None = None, other: bool = False
             ) -> tuple[views.MapResult, object]:
    """The map of these texts: their embeddings through the encoder (its cache makes this
    cheap) or read from the vectors given, then the session's last map when it was drawn
    from the same embeddings (same texts, model and centering), else a new projection; and
    the loaded model (the views score a map of vectors read from a file with those:
    ``MapData.encoder_for``)."""
    data, _ = _data(app, texts, file, center, columns, vectors, other, progress)
    enc = app.encoder(progress)
    if (saved is not None and not saved.preview and saved.data.corpus.texts == data.corpus.texts
            and saved.data.embeddings.shape == data.embeddings.shape
            and np.array_equal(saved.data.embeddings, data.embeddings)):
        return saved, enc
    return views.map_view(data, method, int(dim)), enc


@common.guard
def neighbours(app: common.App, texts: str, file: str | None = None, index: int | None = 0,
               k: int = 10, saved: views.MapResult | None = None, method: str = "umap",
               dim: int = 2, center: bool = False, columns: dict | None = None,
               vectors: list[str] | None = None, other_vectors: bool = False,
               progress=gr.Progress()):
    """/map_neighbours: one text's nearest texts in the embedding space (by its 0-based
    ``index``, the map table's), with calibrated scores, languages, hubs, translations and
    the ones the map put far away: table, summary, notes."""
    if index is None:  # an emptied index box: the API's validator lets null through
        raise ValueError("Type the 0-based index of a text (the map table's index column)")
    result, enc = _map_for(app, texts, file, saved, method, dim, center, progress, columns,
                           vectors, other_vectors)
    found = views.map_neighbours(result, int(index), int(k), encoder=enc)
    return found.table.frame(), common.md_plain(found.summary), common.notes_md(found.notes)


@common.guard
def search_meaning(app: common.App, texts: str, file: str | None = None, query: str = "",
                   threshold: float = 0.99, saved: views.MapResult | None = None,
                   method: str = "umap", dim: int = 2, center: bool = False,
                   other_languages: bool = False, columns: dict | None = None,
                   vectors: list[str] | None = None, other_vectors: bool = False,
                   progress=gr.Progress()):
    """/map_search: the texts that mean what ``query`` means (above ``threshold``, the share
    of unrelated pairs they outscore; with ``other_languages``, only texts in another language
    than the query's), best first, and the query's place on the map: table, summary. A map of
    another model's vectors takes no typed query (no loaded model encodes into their space)."""
    found = _search(app, texts, file, query, threshold, saved, method, dim, center,
                    other_languages, progress, columns, vectors, other_vectors)
    return found.table.frame(), common.md_plain(_search_summary(found))


def _search(app: common.App, texts: str, file: str | None, query: str, threshold: float,
            saved: views.MapResult | None, method: str, dim: int, center: bool,
            other_languages: bool, progress, columns: dict | None = None,
            vectors: list[str] | None = None, other: bool = False) -> views.MapSearchResult:
    result, enc = _map_for(app, texts, file, saved, method, dim, center, progress, columns,
                           vectors, other)
    return views.map_search(result, query, enc, float(threshold),
                            other_languages=bool(other_languages))


def _search_summary(found: views.MapSearchResult) -> str:
    place = found.found.place
    return found.summary + ("" if place is None else " · the query lands at ("
                            + ", ".join(f"{v:.2f}" for v in place) + ") on the map")


# --- the page's own interactions: clicks and selections on the figure (assets/plot_events.js),
# the explore panel's buttons. Private events: the API has /map_neighbours and /map_search.

def _point_md(found: views.MapNeighboursResult) -> str:
    """The clicked text in full, with its language, label, id and hub flag."""
    data, i = found.map.data, found.found.index
    hub = ("a hub (near many texts)",) if i in found.map.hubs.hubs else ()
    return common.text_md(data.corpus, data.langs, i, "Text ", hub)


def focus_payload(result: views.MapResult, theme: str = "light") -> str:
    """What the page's script draws over the map it has for a clicked text (``e5uiFocus`` in
    assets/plot_events.js): JSON ``{"uirevision": the map's, "traces": [the click's lines and
    rings, as plotly traces]}``, a few kB where the whole map is ~18 MB at 100,000 points.
    No traces: the lines are taken away."""
    fig = plots.themed(result.focus_figure, theme)
    return json.dumps({"uirevision": fig.layout.uirevision,
                       "traces": [_lists(t.to_plotly_json()) for t in fig.data]})


def _lists(value):
    """A trace's spec with numpy arrays as lists (plotly.js reads both; lists read plainly)."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def _near_outputs(found: views.MapNeighboursResult, theme: str) -> tuple:
    """The panel and the click's lines (not the map: the page draws them over the map it
    has); the map with its focus is kept for the next redraw."""
    return (focus_payload(found.map, theme), _point_md(found),
            common.md_plain(found.summary), common.notes_md(found.notes), found.table.frame(),
            found.map, gr.Tabs(selected="map-ex-near"))


@common.guard
def clicked(app: common.App, saved: views.MapResult | None, event: str, k: int = 10,
            theme: str = "light", progress=gr.Progress()):
    """A click on a point of the map: its nearest texts in the embedding space in the panel,
    lines to them drawn by the page over its map (the map is neither computed nor sent
    again)."""
    if saved is None or not event:
        return ("", *(gr.update(),) * 7)  # "": the page draws nothing
    _drawn(saved)
    point = _event(event, "point")
    n = len(saved.data.corpus)
    if isinstance(point, bool) or not isinstance(point, int) or not 0 <= point < n:
        raise ValueError("That point is not on this map; draw the map again")
    # (a map of vectors read from a file scores with theirs: MapData.encoder_for)
    found = views.map_neighbours(saved, saved.data.corpus.rows[point], int(k),
                                 encoder=app.encoder(progress))
    return (*_near_outputs(found, theme), saved.data.corpus.rows[point])


@common.guard
def near_typed(app: common.App, saved: views.MapResult | None, index: int, k: int = 10,
               theme: str = "light", progress=gr.Progress()):
    """The "Nearest texts" button: the neighbourhood of the text typed by its index."""
    if saved is None:
        raise ValueError("Draw the map first")
    _drawn(saved)
    if index is None:
        raise ValueError("Type the 0-based index of a text (the map table's index column)")
    found = views.map_neighbours(saved, int(index), int(k), encoder=app.encoder(progress))
    return _near_outputs(found, theme)


def _drawn(saved: views.MapResult) -> None:
    """Refuses the PCA preview shown while UMAP computes: the UMAP map replaces it (and would
    lose what a click drew on it)."""
    if saved.preview:
        raise ValueError("The map is still being drawn (UMAP); click again when it is done")


@common.guard
def search_on_map(app: common.App, texts: str, file: str | None, query: str, threshold: float,
                  saved: views.MapResult | None, method: str, dim: int, center: bool,
                  other_languages: bool = False, theme: str = "light",
                  columns: dict | None = None, vectors: list[str] | None = None,
                  other_vectors: bool = False, progress=gr.Progress()):
    """The Search button: matches highlighted on the map and listed, the query drawn where it
    lands."""
    found = _search(app, texts, file, query, threshold, saved, method, dim, center,
                    other_languages, progress, columns, vectors, other_vectors)
    return (plots.themed(found.map.figure, theme), common.md_plain(_search_summary(found)),
            found.table.frame(), found.map, gr.Tabs(selected="map-ex-search"))


@common.guard
def cleared(saved: views.MapResult | None, theme: str = "light"):
    """The Clear button: the map without a clicked text's lines and a search's highlights:
    the page takes the lines away itself; the map is sent again only to undo a search."""
    if saved is None:
        return gr.update(), gr.update(), gr.update()
    result = saved.changed(focus=None, meaning=None, query="")
    if saved.meaning is None and not saved.query:
        return gr.update(), focus_payload(result, theme), result
    # The new map has no lines: nothing for the page to take away from it.
    return plots.themed(result.figure, theme), "", result


@common.guard
def selected(app: common.App, saved: views.MapResult | None, event: str,
             request: gr.Request | None = None):
    """A box or lasso selection on the map: its texts in a table with their language counts,
    as CSV and TSV downloads, and kept for sending to another view."""
    if saved is None or not event:
        return (gr.update(),) * 5
    positions = _event(event, "points")
    if not isinstance(positions, list):
        raise ValueError("The page sent a map event the app cannot read; reload the page")
    found = views.map_selection(saved, positions)
    if not positions:
        return common.md_plain(SELECT_HELP), found.table.frame(), None, "", gr.update()
    folder = app.folder(request, "map-selection")
    files = [str(found.write(folder / "selection.csv")),
             str(found.write(folder / "selection.tsv"))]
    notes: list[str] = []
    table = common.table_for_page(app, found.table, notes)
    summary = common.md_plain(found.summary) + "".join(f"\n\n{common.md_plain(n)}"
                                                       for n in notes)
    return summary, table, files, found.text, gr.Tabs(selected="map-ex-sel")


SELECT_HELP = ("Choose Box Select or Lasso Select in the map's toolbar and drag over points: "
               "the texts inside are listed here, and can be sent to Similarity or Neighbours.")
SENDS = {"similarity": ("Similarity heatmap of the selection", "similarity", "texts"),
         "queries": ("Neighbours: the selection as queries", "neighbours", "queries"),
         "corpus": ("Neighbours: the selection as corpus", "neighbours", "corpus")}


@common.guard
def send(text: str, tab: str):
    """Puts the selection into another view's text box (and empties its upload and vectors)
    and opens that view."""
    if not text:
        raise ValueError("Select texts on the map first: " + SELECT_HELP)
    return text, None, None, gr.Tabs(selected=tab)


def wire_sends(wirings: dict[str, common.Wiring], tabs: gr.Tabs) -> None:
    """The selection's send buttons: each fills another view's box; the Similarity view then
    runs (its heatmap is the point), Neighbours waits for the other list."""
    parts = wirings[VIEW.name].parts
    for name, (_, view, box) in SENDS.items():
        target = wirings[view]
        box_part, upload = target.parts[box]
        event = parts["send"][name].click(send, [parts["selection"], gr.State(view)],
                                          [box_part, upload, vectors_ui.slot_of(upload), tabs],
                                          **common.PRIVATE)
        if view == "similarity":
            target.on(event.success, **common.PRIVATE)


def build(app: common.App, report_state: gr.State, theme: gr.State) -> common.Wiring:
    """Lays out the tab and wires it; returns the view's wiring."""
    with gr.Tab("Map", id="map"):
        gr.Markdown(resources.text("view_map.md"))
        saved = gr.State(None)
        # Inputs beside the map: on a projector the map is in sight from the start.
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=360):
                texts, upload = common.text_input("Texts (one per line)", 6)
                (vectors,), other = vectors_ui.vectors_input([upload], prefix="map")
                run_btn = gr.Button("Draw map", variant="primary", elem_id="map-run")
                examples = common.examples_row([label for label, _ in EXAMPLES])
                with gr.Row(equal_height=True):
                    query = gr.Textbox("", label="Search by meaning (any language)",
                                       max_lines=1, max_length=views.explore.QUERY_CHARS,
                                       elem_id="map-query", scale=3)
                    query_btn = gr.Button("Search", elem_id="map-search-run", scale=1,
                                          min_width=90)
                threshold = gr.Slider(0.5, 1.0, value=0.99, step=0.001,
                                      label="A match beats this share of unrelated pairs "
                                      "(0.99: the top 1%)", elem_id="map-threshold")
                other_langs = gr.Checkbox(False, label="Other languages only (find the "
                                          "query's translations)", elem_id="map-other-langs")
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
                # Where the page's script writes clicks and selections (in the page, not on
                # screen; see assets/plot_events.js).
                click_box = gr.Textbox("", visible="hidden", elem_id="map-plot-click",
                                       max_length=EVENT_CHARS)
                select_box = gr.Textbox("", visible="hidden", elem_id="map-plot-select",
                                        max_length=EVENT_CHARS)
                # ...and where the server puts a click's lines for the script to draw.
                focus_box = gr.Textbox("", visible="hidden", elem_id="map-plot-focus")
        notes = gr.Markdown(elem_classes=["notes"])
        explore = _build_explore()
        files = common.downloads(app, report_state, REPORT_KEY, VIEW.figure_title,
                                 page=(common.bind(figure_page, app), [saved]))
        selection = gr.State("")
        api_near, api_search = gr.Button(visible=False), gr.Button(visible=False)
    wiring = common.Wiring(common.bind(run, app),
                    [texts, upload, method, dim, color, connect, search, report_state, theme,
                     center, clusters, common.columns_of(upload), vectors, other],
                    [plot, summary, notes, files, saved, report_state])
    wiring.on(run_btn.click, api_name=VIEW.api_name)  # also /projection (ui.wire_aliases)
    common.wire_file_examples(examples, [name for _, name in EXAMPLES], texts, upload, wiring)
    restyle = (redraw, [saved, color, connect, search, theme, clusters], [plot, notes, saved])
    for event in (color.change, connect.change, search.submit, clusters.change):
        event(*restyle, **common.PRIVATE)
    _wire_page_events(app, explore, saved, plot, (click_box, select_box, focus_box), selection,
                      theme)
    tabs, k, index = explore["tabs"], explore["k"], explore["index"]
    map_inputs, chosen = [texts, upload], common.columns_of(upload)
    found_out = [plot, explore["search_summary"], explore["search_table"], saved, tabs]
    for event in (query_btn.click, query.submit):
        event(common.bind(search_on_map, app),
              [*map_inputs, query, threshold, saved, method, dim, center, other_langs, theme,
               chosen, vectors, other],
              found_out, **common.PRIVATE)
    # The API's endpoints, on hidden buttons: plain data out (tables and summaries).
    api_near.click(common.bind(neighbours, app),
                   [*map_inputs, index, k, saved, method, dim, center, chosen, vectors, other],
                   [explore[n] for n in ("near_table", "near_summary", "near_notes")],
                   api_name="map_neighbours")
    api_search.click(common.bind(search_meaning, app),
                     [*map_inputs, query, threshold, saved, method, dim, center, other_langs,
                      chosen, vectors, other],
                     [explore["search_table"], explore["search_summary"]], api_name="map_search")
    common.clear_upload_on_typing([(texts, upload)])
    wiring.parts.update(texts=(texts, upload), send=explore["send"], selection=selection)
    return wiring


# The page's script draws the click's lines the server put in the focus box (no server call).
DRAW_FOCUS = "(payload) => { if (window.e5uiFocus) window.e5uiFocus('map-plot', payload); }"


def _wire_page_events(app: common.App, explore: dict, saved: gr.State, plot: gr.Plot,
                      boxes: tuple[gr.Textbox, gr.Textbox, gr.Textbox], selection: gr.State,
                      theme: gr.State) -> None:
    """The figure's clicks and selections (written into the hidden boxes by the page's
    script) and the explore panel's buttons, each to its private handler; a click's lines
    come back in the focus box, which the script draws over the map."""
    click_box, select_box, focus_box = boxes
    tabs, k, index = explore["tabs"], explore["k"], explore["index"]
    near_out = [focus_box, explore["point"], explore["near_summary"], explore["near_notes"],
                explore["near_table"], saved, tabs]
    events = [
        click_box.change(common.bind(clicked, app), [saved, click_box, k, theme],
                         [*near_out, index], show_progress="minimal", **common.PRIVATE),
        explore["near_btn"].click(common.bind(near_typed, app), [saved, index, k, theme],
                                  near_out, **common.PRIVATE),
        explore["clear_btn"].click(cleared, [saved, theme], [plot, focus_box, saved],
                                   **common.PRIVATE)]
    for event in events:
        event.success(None, [focus_box], None, js=DRAW_FOCUS, **common.PRIVATE)
    select_box.change(common.bind(selected, app), [saved, select_box],
                      [explore["sel_summary"], explore["sel_table"], explore["sel_files"],
                       selection, tabs], show_progress="minimal", **common.PRIVATE)


def _build_explore() -> dict:
    """The panel under the map: a clicked text's neighbourhood, the selection, the matches of
    a search by meaning, one tab each (an interaction opens its tab)."""
    parts: dict = {}
    with gr.Tabs(elem_id="map-explore") as parts["tabs"]:
        with gr.Tab("Clicked text", id="map-ex-near"):
            parts["point"] = gr.Markdown(
                "Click a point on the map: its nearest texts in the embedding space are listed "
                "here and joined to it by lines (dashed red where the map put them far away).",
                elem_id="map-point")
            with gr.Row(equal_height=True):
                parts["index"] = gr.Number(0, label="…or a text by its index (0-based)",
                                           precision=0, minimum=0, elem_id="map-index")
                parts["k"] = gr.Slider(1, 100, value=10, step=1, label="Neighbours",
                                       elem_id="map-k")
                parts["near_btn"] = gr.Button("Nearest texts", elem_id="map-neighbours-run")
                parts["clear_btn"] = gr.Button("Clear lines and search", elem_id="map-clear")
            parts["near_summary"] = gr.Markdown(elem_id="map-near-summary")
            parts["near_notes"] = gr.Markdown(elem_classes=["notes"])
            parts["near_table"] = gr.Dataframe(wrap=True, max_height=420,
                                               elem_id="map-near-table")
        with gr.Tab("Selection", id="map-ex-sel"):
            parts["sel_summary"] = gr.Markdown(common.md_plain(SELECT_HELP),
                                               elem_id="map-sel-summary")
            with gr.Row():
                parts["send"] = {name: gr.Button(label, size="sm", elem_id=f"map-send-{name}")
                                 for name, (label, _, _) in SENDS.items()}
            parts["sel_table"] = gr.Dataframe(wrap=True, max_height=420,
                                              elem_id="map-sel-table")
            parts["sel_files"] = gr.File(label="The selection (CSV, TSV)", file_count="multiple",
                                         elem_id="map-sel-files")
        with gr.Tab("Search by meaning", id="map-ex-search"):
            parts["search_summary"] = gr.Markdown(
                "Type a query beside the map and press Search: the texts that mean the same "
                "are highlighted and listed here, best first; a star marks where the query "
                "lands.", elem_id="map-search-summary")
            parts["search_table"] = gr.Dataframe(wrap=True, max_height=420,
                                                 elem_id="map-search-table")
    return parts
