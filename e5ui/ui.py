"""The Gradio app: layout and event wiring only. The work happens in ``service.py``.

``build_demo(...)`` returns the Blocks; nothing loads a model at import time. Each view's run
button is an API endpoint: /similarity, /neighbours, /projection, /bitext, /explain.
"""

from __future__ import annotations

import functools
import html
import inspect
import logging
import shutil
import time

import gradio as gr

from e5ui import assets, models, plots, projection, service

logger = logging.getLogger(__name__)

ORDER_CHOICES = [("clustered", "cluster"), ("grouped by language", "language"),
                 ("as given", "input")]
KIND_CHOICES = [('"query: " on both sides (symmetric: similarity, clustering)', "query"),
                ('"passage: " on both sides', "passage")]
UPLOAD_TYPES = [".txt", ".csv", ".tsv"]
# Columns of the neighbours table (service.NEIGHBOUR_COLUMNS): the texts last and widest.
NB_WIDTHS = ["4%", "4%", "6%", "6%", "7%", "6%", "6%", "5%", "22%", "30%", "4%"]

# One-click example sets (files in assets/examples).
EXAMPLES = {
    "similarity": [
        ("One meaning, ten languages", "one_meaning_ten_languages.tsv"),
        ("Paraphrase vs. look-alike vs. unrelated", "paraphrase_lookalike.tsv"),
    ],
    "map": [
        ("24 sentences × 8 languages", "map_parallel.tsv"),
        ("One meaning, ten languages", "one_meaning_ten_languages.tsv"),
    ],
    "explain": [
        ("Paraphrase vs. look-alike vs. unrelated", "paraphrase_lookalike.tsv"),
        ("One meaning, ten languages", "one_meaning_ten_languages.tsv"),
    ],
}


def _example_copy(name: str) -> str:
    """Copies an example file into a temp folder (Gradio serves uploads from there)."""
    src = assets.path("examples", *name.split("/"))
    dst = service.export_dir() / src.name
    shutil.copy(src, dst)
    return str(dst)


def _text_input(label: str, lines: int, **kwargs) -> tuple[gr.Textbox, gr.File]:
    """A text box (one text per line) with an upload slot under it."""
    box = gr.Textbox(lines=lines, label=label, **kwargs)
    upload = gr.File(label="…or upload .txt / .csv / .tsv", file_types=UPLOAD_TYPES, height=90)
    return box, upload


def _lines(name: str) -> str:
    return assets.path("examples", *name.split("/")).read_text(encoding="utf-8").strip()


def _guard(fn):
    """Turns exceptions into Gradio error toasts: the message for ValueError, a short line for
    anything else (logged with its traceback), never a raw traceback in the page."""

    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, ValueError):  # bad input: a message, no traceback in the log
            return gr.Error(str(exc), print_exception=False)
        logger.exception("Unexpected error in %s", fn.__name__)
        return gr.Error(f"Something went wrong ({type(exc).__name__}: {exc}). The app is still "
                        "running; please try again.")

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:
                raise translate(exc) from None

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise translate(exc) from None

    return wrapper


def _notes_md(notes: list[str]) -> str:
    return "\n".join(f"- {n}" for n in notes)


def _status_md(status: service.ModelStatus) -> str:
    if status.state == "idle":
        return f"**{status.requested}** loads on first use."
    if status.state == "loading":
        text = assets.text("loading.md").format(requested=status.requested,
                                                seconds=time.time() - status.since)
        spec = models.resolve(status.requested)
        if spec.hub_id:
            from e5ui.encoder import hub_cache_bytes

            got = hub_cache_bytes(spec.hub_id) / 2**20
            if got > 1:
                total = f" of ~{spec.download_mb} MB" if spec.download_mb else ""
                text += f" Downloaded {got:.0f} MB{total}."
        return text
    if status.state == "failed" and not status.info:
        return f"**Model {status.requested} failed to load:** {status.error}"
    info = status.info or {}
    cache = info.get("cache") or {}
    parts = [
        f"**{info.get('model', '?')}**",
        f"source: {info.get('source', '?')}",
        f"{info.get('device', '?')} · {info.get('dtype', '?')}",
        f"dim {info.get('dim', '?')}",
        f"max {info.get('max_tokens', '?')} tokens",
    ]
    if cache:
        parts.append(f"cache {cache.get('hits', 0)} hits / {cache.get('misses', 0)} misses")
    line = " · ".join(parts)
    if status.state == "failed":
        line += f"  \n⚠ Switching to {status.requested} failed: {status.error}"
    return line


def _banner(status: service.ModelStatus):
    reason = status.fallback_reason
    if status.state == "ready" and reason:
        info = status.info or {}
        text = assets.text("fallback_banner.md").format(requested=info.get("requested"),
                                                        reason=reason)
        return gr.update(value=text, visible=True)
    return gr.update(value="", visible=False)


def build_demo(encoder=None, settings: service.Settings | None = None,
               holder: service.ModelHolder | None = None) -> gr.Blocks:
    """Builds the app.

    Args:
        encoder: an Encoder to use as is (tests, notebooks); None loads ``settings.model`` in
            the background when the app starts.
        settings: app settings (model, dtype, cache dir, ...).
        holder: a ModelHolder to share (overrides ``encoder``).

    Returns:
        The Blocks, ready to ``launch(...)`` (see ``launch`` below for theme and CSS).
    """
    settings = settings or service.Settings()
    holder = holder or service.ModelHolder(settings, encoder=encoder)

    def model_for(progress) -> object:
        def tick(waited: float) -> None:
            progress(0.0, desc=f"Waiting for the model to load ({waited:.0f} s)")

        return holder.wait(tick=tick)

    def progress_adapter(progress):
        return lambda frac, desc: progress(frac, desc=desc)

    with gr.Blocks(title="e5ui — multilingual-e5 explorer", analytics_enabled=False) as demo:
        with gr.Row(elem_id="e5ui-header"):
            gr.Markdown(assets.text("intro.md"), elem_id="e5ui-intro")
        banner = gr.Markdown(visible=False, elem_id="e5ui-banner", elem_classes=["banner"])
        with gr.Row(elem_id="e5ui-model-row"):
            status_md = gr.Markdown(_status_md(holder.status()), elem_id="e5ui-model-status")
            with gr.Column(scale=0, min_width=320):
                with gr.Row():
                    model_pick = gr.Dropdown(service.MODEL_CHOICES, value=None,
                                             label="Switch model", scale=3,
                                             info="small · base · large · large-instruct · "
                                             "bundled", elem_id="e5ui-model-pick")
                    load_btn = gr.Button("Load", scale=1, elem_id="e5ui-model-load")
        timer = gr.Timer(1.5)

        with gr.Tabs(elem_id="e5ui-tabs"):
            # ---------------------------------------------------------------- similarity
            with gr.Tab("Similarity", id="similarity"):
                gr.Markdown(assets.text("view_similarity.md"))
                with gr.Row():
                    with gr.Column(scale=2):
                        sim_texts, sim_file = _text_input(
                            "Texts (one per line)", 8,
                            placeholder="The cat sleeps.\nDie Katze schläft.")
                    with gr.Column(scale=1):
                        sim_order = gr.Radio(ORDER_CHOICES, value="cluster", label="Order")
                        sim_kind = gr.Radio(KIND_CHOICES, value="query", label="Prefix")
                        gr.Markdown(assets.text("prefix_help.md"), elem_classes=["small"])
                        sim_run = gr.Button("Compare", variant="primary", elem_id="sim-run")
                with gr.Row():
                    gr.Markdown("**Examples:**", elem_classes=["examples-label"])
                    sim_examples = [gr.Button(label, size="sm", elem_classes=["example"])
                                    for label, _ in EXAMPLES["similarity"]]
                sim_summary = gr.Markdown()
                sim_plot = gr.Plot(plots.message_figure("Add texts and press Compare"),
                                   label="Heatmap", elem_id="sim-plot")
                sim_notes = gr.Markdown(elem_classes=["notes"])
                sim_table = gr.Dataframe(label="Most similar pairs", wrap=True,
                                         max_height=420, elem_id="sim-table",
                                         column_widths=["9%", "9%", "7%", "9%", "7%", "29%",
                                                        "30%"])
                sim_files = gr.File(label="Downloads", file_count="multiple")

            # ---------------------------------------------------------------- neighbours
            with gr.Tab("Neighbours", id="neighbours"):
                gr.Markdown(assets.text("view_neighbours.md"))
                with gr.Row():
                    with gr.Column():
                        nb_queries, nb_qfile = _text_input("Queries (one per line)", 6)
                    with gr.Column():
                        nb_corpus, nb_cfile = _text_input("Corpus (one per line)", 6)
                    with gr.Column(scale=0, min_width=240):
                        nb_k = gr.Slider(1, 20, value=3, step=1, label="k")
                        nb_cross = gr.Checkbox(False, label="Cross-lingual only")
                        nb_margin = gr.Checkbox(False, label="Margin re-ranking")
                        nb_sym = gr.Checkbox(False, label='Symmetric ("query: " on the corpus)')
                        nb_run = gr.Button("Search", variant="primary", elem_id="nb-run")
                with gr.Row():
                    gr.Markdown("**Examples:**", elem_classes=["examples-label"])
                    nb_ex_retrieval = gr.Button("Retrieval, model-card style", size="sm",
                                                elem_classes=["example"])
                    nb_ex_cross = gr.Button("Find the translations (cross-lingual)", size="sm",
                                            elem_classes=["example"])
                nb_summary = gr.Markdown()
                nb_table = gr.Dataframe(label="Neighbours", wrap=True, max_height=600,
                                        elem_id="nb-table", column_widths=NB_WIDTHS)
                nb_notes = gr.Markdown(elem_classes=["notes"])
                nb_files = gr.File(label="Downloads", file_count="multiple")

            # ---------------------------------------------------------------- map
            with gr.Tab("Map", id="map"):
                gr.Markdown(assets.text("view_map.md"))
                map_state = gr.State(None)
                with gr.Row():
                    with gr.Column(scale=2):
                        map_texts, map_file = _text_input("Texts (one per line)", 6)
                    with gr.Column(scale=1):
                        map_method = gr.Radio([("UMAP", "umap"), ("PCA", "pca")],
                                              value="umap", label="Method")
                        map_dim = gr.Radio([("2-D", 2), ("3-D", 3)], value=2, label="Dimensions")
                        map_color = gr.Radio([("language", "language"), ("label", "label")],
                                             value="language", label="Colour by")
                        map_connect = gr.Checkbox(True, label="Join translations (same id)")
                        map_run = gr.Button("Draw map", variant="primary", elem_id="map-run")
                with gr.Row():
                    gr.Markdown("**Examples:**", elem_classes=["examples-label"])
                    map_examples = [gr.Button(label, size="sm", elem_classes=["example"])
                                    for label, _ in EXAMPLES["map"]]
                map_search = gr.Textbox("", label="Highlight texts containing…", max_lines=1,
                                        elem_id="map-search")
                map_summary = gr.Markdown(elem_id="map-summary")
                map_plot = gr.Plot(plots.message_figure("Add texts and press Draw map"),
                                   label="Map", elem_id="map-plot")
                map_notes = gr.Markdown(elem_classes=["notes"])
                map_files = gr.File(label="Downloads", file_count="multiple")

            # ---------------------------------------------------------------- bitext
            with gr.Tab("Bitext", id="bitext"):
                gr.Markdown(assets.text("view_bitext.md"))
                with gr.Row():
                    with gr.Column():
                        bt_source, bt_sfile = _text_input("Source sentences (one per line)", 8)
                    with gr.Column():
                        bt_target, bt_tfile = _text_input("Target sentences (one per line)", 8)
                    with gr.Column(scale=0, min_width=260):
                        bt_method = gr.Radio([("margin", "margin"), ("cosine", "cosine")],
                                             value="margin", label="Score")
                        bt_one = gr.Checkbox(True, label="One-to-one")
                        bt_threshold = gr.Number(None, label="Threshold (empty = keep all)",
                                                 minimum=-10, maximum=10)
                        bt_gold = gr.File(label="Gold pairs (optional)",
                                          file_types=[".tsv", ".csv"], height=90)
                        bt_run = gr.Button("Match", variant="primary", elem_id="bt-run")
                with gr.Row():
                    gr.Markdown("**Examples:**", elem_classes=["examples-label"])
                    bt_example = gr.Button("Shuffled en ↔ de / fr / ja, with gold", size="sm",
                                           elem_classes=["example"])
                bt_summary = gr.Markdown()
                bt_metrics = gr.Markdown(elem_id="bt-metrics")
                bt_table = gr.Dataframe(label="Pairs (shaded by score)", wrap=True,
                                        max_height=600, elem_id="bt-table",
                                        column_widths=["8%", "8%", "8%", "8%", "34%", "34%"])
                bt_unmatched = gr.Dataframe(label="Unmatched sentences", wrap=True,
                                            max_height=300)
                bt_notes = gr.Markdown(elem_classes=["notes"])
                bt_files = gr.File(label="Downloads (TSV, CSV, TMX)", file_count="multiple")

            # ---------------------------------------------------------------- explain
            with gr.Tab("Scores explained", id="explain"):
                gr.Markdown(assets.text("view_explain.md"))
                with gr.Row():
                    with gr.Column(scale=3):
                        ex_plot = gr.Plot(plots.message_figure("Press Show to draw the "
                                                               "baseline"),
                                          label="Score distribution", elem_id="ex-plot")
                        ex_summary = gr.Markdown(elem_id="ex-summary")
                    with gr.Column(scale=2):
                        gr.Markdown(assets.text("scores_explained.md"),
                                    elem_classes=["explain"])
                with gr.Row():
                    with gr.Column(scale=2):
                        ex_texts, ex_file = _text_input("Your texts (one per line)", 5)
                    with gr.Column(scale=1):
                        ex_run = gr.Button("Show", variant="primary", elem_id="ex-run")
                        gr.Markdown("**Examples:**", elem_classes=["examples-label"])
                        ex_examples = [gr.Button(label, size="sm", elem_classes=["example"])
                                       for label, _ in EXAMPLES["explain"]]
                ex_notes = gr.Markdown(elem_classes=["notes"])
                gr.Markdown("### Type two sentences")
                with gr.Row():
                    pair_a = gr.Textbox(label="Sentence A", value="The train is late again.")
                    pair_b = gr.Textbox(label="Sentence B", value="Der Zug hat schon wieder "
                                        "Verspätung.")
                    pair_btn = gr.Button("Score", elem_id="pair-run", scale=0, min_width=120)
                pair_out = gr.Markdown(elem_id="pair-out")

        with gr.Row(elem_id="e5ui-report-row"):
            report_btn = gr.Button("Download a report of these views (HTML)",
                                   elem_id="report-run")
            report_file = gr.File(label="Report", height=80, visible=False)
        report_state = gr.State({})

        # ------------------------------------------------------------------ handlers
        def remember(state: dict, key: str, heading: str, item) -> dict:
            new = dict(state or {})
            new[key] = (heading, item)
            return new

        @_guard
        def similarity(texts: str, file: str | None = None, order: str = "cluster",
                       kind: str = "query", state: dict | None = None,
                       progress=gr.Progress()):
            corpus = service.read_input(texts, file, "text list")
            enc = model_for(progress)
            baseline = holder.baseline(enc)
            view = service.similarity_view(enc, baseline, corpus, order, kind,
                                           progress_adapter(progress))
            state = remember(state, "1-similarity", "Similarity heatmap", view.figure)
            return (view.figure, view.summary, _notes_md(view.notes), view.top_pairs,
                    view.files, state)

        @_guard
        def neighbours(queries: str, corpus: str, query_file: str | None = None,
                       corpus_file: str | None = None, k: int = 3, cross_lingual: bool = False,
                       margin: bool = False, symmetric: bool = False,
                       state: dict | None = None, progress=gr.Progress()):
            q = service.read_input(queries, query_file, "query list")
            c = service.read_input(corpus, corpus_file, "corpus", limit=service.MAX_BITEXT)
            enc = model_for(progress)
            view = service.neighbours_view(enc, holder.baseline(enc), q, c, k, cross_lingual,
                                           margin, symmetric, progress_adapter(progress))
            table_html = plots.Markup(view.table.head(200).to_html(index=False, escape=True))
            state = remember(state, "2-neighbours", f"Neighbours · {view.summary}", table_html)
            return view.table, view.summary, _notes_md(view.notes), view.files, state

        @_guard
        def project_view(texts: str, file: str | None = None, method: str = "umap",
                         dim: int = 2, color_by: str = "language", connect: bool = True,
                         search: str = "", state: dict | None = None, progress=gr.Progress()):
            corpus = service.read_input(texts, file, "text list")
            enc = model_for(progress)
            data = service.map_input(enc, corpus, progress_adapter(progress))
            if method == "umap" and len(corpus) > projection.MIN_UMAP_TEXTS:
                # A PCA preview at once; UMAP (seconds, more on first use) replaces it.
                # Only the figure: no score, no downloads for a map about to be replaced.
                progress(0.7, desc="PCA preview")
                pca = projection.project(data.embeddings, method="pca", dim=int(dim),
                                         preservation_k=None)
                figure, notes = service.map_figure(data, pca, color_by, connect, search)
                yield (figure, "PCA preview — UMAP is computing…", _notes_md(notes), [],
                       (data, pca), state)
                progress(0.8, desc="UMAP")
            view = service.map_view(data, method, dim, color_by, connect, search)
            state = remember(state, "3-map", "Map", view.figure)
            yield (view.figure, view.summary, _notes_md(view.notes), view.files,
                   (data, view.projection), state)

        @_guard
        def redraw_map(saved, color_by: str, connect: bool, search: str):
            if not saved:
                return gr.update(), gr.update()
            data, proj = saved
            # Reuse the computed coordinates: only colours, lines and highlights change.
            figure, notes = service.map_figure(data, proj, color_by, connect, search)
            return figure, _notes_md(notes)

        @_guard
        def bitext_view(source: str, target: str, source_file: str | None = None,
                        target_file: str | None = None, method: str = "margin",
                        one_to_one: bool = True, threshold: float | None = None,
                        gold_file: str | None = None, state: dict | None = None,
                        progress=gr.Progress()):
            s = service.read_input(source, source_file, "source list", service.MAX_BITEXT)
            t = service.read_input(target, target_file, "target list", service.MAX_BITEXT)
            enc = model_for(progress)
            view = service.bitext_view(enc, s, t, method, one_to_one, threshold, gold_file,
                                       progress_adapter(progress))
            metrics = ""
            if view.evaluation is not None:
                ev = view.evaluation
                metrics = (f"**Against {ev.n_gold} gold pairs:** P@1 **{ev.p_at_1:.3f}** · "
                           f"precision {ev.precision:.3f} · recall {ev.recall:.3f} · "
                           f"F1 **{ev.f1:.3f}**")
            styled = _shade(view.table, "score") if not view.table.empty else view.table
            table_html = view.table.head(300).to_html(index=False, escape=True)
            state = remember(state, "4-bitext", f"Bitext · {view.summary}",
                             plots.Markup((f"<p>{html.escape(metrics)}</p>" if metrics else "")
                                          + table_html))
            return (styled, view.unmatched, view.summary, metrics, _notes_md(view.notes),
                    view.files, state)

        @_guard
        def explain(texts: str = "", file: str | None = None, state: dict | None = None,
                    progress=gr.Progress()):
            corpus = None
            if (texts or "").strip() or file:
                corpus = service.read_input(texts, file, "text list")
            enc = model_for(progress)
            view = service.explain_view(enc, holder.baseline(enc), corpus,
                                        progress_adapter(progress))
            state = remember(state, "5-explain", "Scores explained", view.figure)
            return view.figure, view.summary, _notes_md(view.notes), state

        @_guard
        def score_pair(a: str, b: str, progress=gr.Progress()):
            enc = model_for(progress)
            return service.pair_score(enc, holder.baseline(enc), a, b).text

        @_guard
        def make_report(state: dict):
            sections = [state[k] for k in sorted(state or {})]
            return gr.update(value=service.report(sections, holder.status().info), visible=True)

        def refresh_status():
            status = holder.status()
            return _status_md(status), _banner(status)

        @_guard
        def switch_model(name: str | None):
            if not name:
                raise ValueError("Pick a model to load")
            holder.start(name)
            return refresh_status()

        # ------------------------------------------------------------------ wiring
        private = {"api_visibility": "private"}
        sim_run.click(similarity, [sim_texts, sim_file, sim_order, sim_kind, report_state],
                      [sim_plot, sim_summary, sim_notes, sim_table, sim_files, report_state],
                      api_name="similarity")
        nb_run.click(neighbours, [nb_queries, nb_corpus, nb_qfile, nb_cfile, nb_k, nb_cross,
                                  nb_margin, nb_sym, report_state],
                     [nb_table, nb_summary, nb_notes, nb_files, report_state],
                     api_name="neighbours")
        map_run.click(project_view, [map_texts, map_file, map_method, map_dim, map_color,
                                     map_connect, map_search, report_state],
                      [map_plot, map_summary, map_notes, map_files, map_state, report_state],
                      api_name="projection")
        for comp in (map_color, map_connect):
            comp.change(redraw_map, [map_state, map_color, map_connect, map_search],
                        [map_plot, map_notes], **private)
        map_search.submit(redraw_map, [map_state, map_color, map_connect, map_search],
                          [map_plot, map_notes], **private)
        bt_run.click(bitext_view, [bt_source, bt_target, bt_sfile, bt_tfile, bt_method, bt_one,
                                   bt_threshold, bt_gold, report_state],
                     [bt_table, bt_unmatched, bt_summary, bt_metrics, bt_notes, bt_files,
                      report_state], api_name="bitext")
        ex_run.click(explain, [ex_texts, ex_file, report_state],
                     [ex_plot, ex_summary, ex_notes, report_state], api_name="explain")
        pair_btn.click(score_pair, [pair_a, pair_b], [pair_out], api_name="pair_score")
        report_btn.click(make_report, [report_state], [report_file], **private)
        timer.tick(refresh_status, None, [status_md, banner], show_progress="hidden",
                   **private)
        demo.load(refresh_status, None, [status_md, banner], show_progress="hidden", **private)
        load_btn.click(switch_model, [model_pick], [status_md, banner], **private)

        # Typing in a box means "use what I type": drop a file left there by an example.
        for box, upload in ((sim_texts, sim_file), (nb_queries, nb_qfile),
                            (nb_corpus, nb_cfile), (map_texts, map_file), (bt_source, bt_sfile),
                            (bt_target, bt_tfile), (ex_texts, ex_file)):
            box.input(lambda: None, None, [upload], **private)

        # One-click examples: fill the inputs, then run the view.
        for button, (_, name) in zip(sim_examples, EXAMPLES["similarity"]):
            button.click(lambda n=name: ("", _example_copy(n)), None, [sim_texts, sim_file],
                         **private).then(
                similarity, [sim_texts, sim_file, sim_order, sim_kind, report_state],
                [sim_plot, sim_summary, sim_notes, sim_table, sim_files, report_state],
                **private)
        for button, (_, name) in zip(map_examples, EXAMPLES["map"]):
            button.click(lambda n=name: ("", _example_copy(n)), None, [map_texts, map_file],
                         **private).then(
                project_view, [map_texts, map_file, map_method, map_dim, map_color,
                               map_connect, map_search, report_state],
                [map_plot, map_summary, map_notes, map_files, map_state, report_state],
                **private)
        for button, (_, name) in zip(ex_examples, EXAMPLES["explain"]):
            button.click(lambda n=name: ("", _example_copy(n)), None, [ex_texts, ex_file],
                         **private).then(
                explain, [ex_texts, ex_file, report_state],
                [ex_plot, ex_summary, ex_notes, report_state], **private)
        nb_inputs = [nb_queries, nb_corpus, nb_qfile, nb_cfile, nb_k, nb_cross, nb_margin,
                     nb_sym, report_state]
        nb_outputs = [nb_table, nb_summary, nb_notes, nb_files, report_state]
        nb_ex_retrieval.click(
            lambda: ("", "", _example_copy("retrieval/queries.tsv"),
                     _example_copy("retrieval/passages.tsv"), 3, False, False, False),
            None, nb_inputs[:8], **private).then(neighbours, nb_inputs, nb_outputs, **private)
        nb_ex_cross.click(
            lambda: ("", "", _example_copy("one_meaning_ten_languages.tsv"),
                     _example_copy("one_meaning_ten_languages.tsv"), 3, True, True, True),
            None, nb_inputs[:8], **private).then(neighbours, nb_inputs, nb_outputs, **private)
        bt_inputs = [bt_source, bt_target, bt_sfile, bt_tfile, bt_method, bt_one, bt_threshold,
                     bt_gold, report_state]
        bt_example.click(
            lambda: (_lines("bitext/source.txt"), _lines("bitext/target.txt"), None, None,
                     "margin", True, None, _example_copy("bitext/gold.tsv")),
            None, bt_inputs[:8], **private).then(
            bitext_view, bt_inputs, [bt_table, bt_unmatched, bt_summary, bt_metrics, bt_notes,
                                     bt_files, report_state], **private)

        demo.e5ui_holder = holder  # for launch() and tests
    return demo


def _shade(table, column: str):
    """Shades a column from white (its lowest value) to green (its highest): confidence at a
    glance. (pandas' background_gradient would need matplotlib.)"""
    values = table[column].astype(float)
    lo, hi = float(values.min()), float(values.max())
    span = hi - lo if hi > lo else 1.0

    def colour(col):
        return [f"background-color: rgba(22, 163, 74, {0.08 + 0.5 * (v - lo) / span:.2f})"
                for v in col.astype(float)]

    return table.style.apply(colour, subset=[column]).format(
        {c: "{:.4f}" for c in ("score", "cosine") if c in table.columns})


def theme() -> gr.themes.Base:
    """Calm, projector-readable theme."""
    return gr.themes.Soft(
        primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
        # System fonts only: the app must look right offline, with no font CDN.
        font=["system-ui", "Segoe UI", "Helvetica Neue", "Arial", "sans-serif"],
        text_size="lg",
    )


def launch(demo: gr.Blocks, settings: service.Settings, **kwargs):
    """Starts loading the model (if needed) and serves the app with e5ui's theme and CSS."""
    holder: service.ModelHolder = demo.e5ui_holder
    if holder.status().state == "idle":
        holder.start()
    projection.configure_numba_cache()
    projection.warm_up(background=True)
    css = assets.path("style.css").read_text(encoding="utf-8")
    return demo.queue(default_concurrency_limit=2).launch(
        server_name=settings.host, server_port=settings.port, share=settings.share,
        theme=theme(), css=css, footer_links=["api", "gradio"], show_error=False,
        **kwargs)
