"""The Align tab: a document and its translation aligned in order, the path drawn over their
sentence similarity, links flagged below a threshold the visitor can move."""

from __future__ import annotations

from dataclasses import replace

import gradio as gr

from e5ui import baselines, plots, registry, resources, segment, textio, views
from e5ui.analysis import alignment
from e5ui.ui import align_review, common
from e5ui.views.align import parse_edits

VIEW = registry.get("align")
REPORT_KEY = VIEW.name
DOC_TYPES = list(segment.DOCUMENT_SUFFIXES)  # a table file: one unit a row, not split
MODES = [("split into sentences", "split"), ("one sentence per line", "lines")]
TABLE_WIDTHS = VIEW.widths()


def _document(app: common.App, text: str | None, file: str | None, side: str, mode: str,
              lang: str | None, columns: dict | None = None) -> segment.Document:
    """One side, from its upload (.txt / .md split into sentences; .csv / .tsv / .jsonl /
    .parquet one unit a row of its ``text`` column) or its box, within the app's limits: the
    upload size, sentences a side, characters a sentence (longer ones cut, with a note), and a
    language code that is one. ``columns``: a table's columns to read (``{"text": "s"}``)."""
    lang = segment.check_lang(lang, f"The {side} language ({side}_lang)")
    if file:
        app.check_upload(file)
        doc = segment.read_document(file, lang, mode, max_bytes=app.max_bytes,
                                    max_units=app.settings.limits.max_side,
                                    **textio.column_choice(columns, f"{side}_columns"))
    else:
        doc = segment.split_document(text or "", lang, mode, source=f"the {side}")
    limits = app.settings.limits
    if len(doc) > limits.max_side:
        raise ValueError(f"The {side} has {len(doc)} sentences; this view takes at most "
                         f"{limits.max_side}")
    return segment.cut_long(doc, limits.max_chars, f"The {side}")


def _shaded(result: views.AlignResult, app: common.App, notes: list[str]):
    """The table for the page: low-confidence links shaded red, omissions amber."""
    frame = common.table_for_page(app, result.table, notes)
    low = set(result.low_confidence)
    omitted = {k for k, link in enumerate(result.alignment.links) if link.is_omission}

    def colour(row):
        k = row.name
        tint = ("rgba(214, 39, 40, 0.18)" if k in low else
                "rgba(255, 127, 14, 0.18)" if k in omitted else "")
        return [f"background-color: {tint}" if tint else ""] * len(row)

    return frame.style.apply(colour, axis=1).format(precision=4)


def _outputs(app: common.App, result: views.AlignResult, theme: str, state: dict | None,
             files: list[str]):
    notes = list(result.notes)
    state = common.remember(state, REPORT_KEY, f"Align · {result.summary}", result.figure)
    return (plots.themed(result.figure, theme), common.md_plain(result.summary),
            common.md_plain(result.metrics), _shaded(result, app, notes),
            common.notes_md(notes), files, result, state)


@common.guard
def run(app: common.App, source: str, target: str, source_file: str | None = None,
        target_file: str | None = None, mode: str = "split", max_merge: int = 4,
        threshold: float = alignment.DEFAULT_THRESHOLD, source_lang: str = "",
        target_lang: str = "", gold_file: str | None = None, state: dict | None = None,
        theme: str = "light", source_columns: dict | None = None,
        target_columns: dict | None = None, request: gr.Request | None = None,
        progress=gr.Progress()):
    """/align: the figure, summary, gold metrics, links, notes, downloads, the result (for the
    threshold slider), report state (``*_columns``: an uploaded table's columns to read)."""
    result = _aligned(app, source, target, source_file, target_file, mode, max_merge,
                      threshold, source_lang, target_lang, gold_file, source_columns,
                      target_columns, progress)
    return _outputs(app, result, theme, state, result.export(app.folder(request, "align")))


def _aligned(app: common.App, source, target, source_file, target_file, mode, max_merge,
             threshold, source_lang, target_lang, gold_file, source_columns, target_columns,
             progress) -> views.AlignResult:
    """The two documents read within the app's limits, and aligned."""
    src = _document(app, source, source_file, "source", mode, source_lang, source_columns)
    tgt = _document(app, target, target_file, "target", mode, target_lang, target_columns)
    segment.check_pair(src, tgt)
    app.check_upload(gold_file)
    gold = textio.read_links(gold_file, n_src=len(src), n_tgt=len(tgt),
                             max_bytes=app.max_bytes) if gold_file else None
    enc = app.encoder(progress)
    result = views.align_view(enc, src, tgt, int(max_merge), threshold, gold,
                              progress=common.progress_adapter(progress))
    # The review's hover gives each link's cosine a percentile among unrelated pairs.
    return replace(result, baseline=baselines.reference_baseline(enc))


@common.guard
def review(app: common.App, source: str, target: str, source_file: str | None = None,
           target_file: str | None = None, mode: str = "split", max_merge: int = 4,
           threshold: float = alignment.DEFAULT_THRESHOLD, source_lang: str = "",
           target_lang: str = "", gold_file: str | None = None, state: dict | None = None,
           theme: str = "light", source_columns: dict | None = None,
           target_columns: dict | None = None, review_file: str | None = None,
           edits: str | None = "", approved_only: bool = False,
           request: gr.Request | None = None, progress=gr.Progress()):
    """/align_review: the two documents aligned as /align does, the saved review
    (``review_file``, the TSV/CSV download) put back when given — refused, naming its line,
    when it does not fit the documents — and ``edits`` applied in turn (``views.parse_edits``:
    "accept 3; relink 5 6,7"; all or none). Returns /align's outputs, the TMX with only the
    accepted and edited links when ``approved_only``, and a line saying what was done."""
    result = _aligned(app, source, target, source_file, target_file, mode, max_merge,
                      threshold, source_lang, target_lang, gold_file, source_columns,
                      target_columns, progress)
    done = []
    if review_file:
        app.check_upload(review_file, "The review file")
        links = textio.read_review(review_file, result.source.sentences,
                                   result.target.sentences, max_bytes=app.max_bytes)
        result = views.resume_review(result, links)
        done.append(f"Review resumed: {_reviewed(result)}")
    if (edits or "").strip():
        parsed = parse_edits(edits)
        result = result.edited(parsed, app.encoder(progress))
        done.append(f"{len(parsed)} edit(s) applied")
    files = result.export(app.folder(request, "align"), bool(approved_only))
    return (*_outputs(app, result, theme, state, files), common.md_plain(" · ".join(done)))


def _reviewed(result: views.AlignResult) -> str:
    status = [link.status for link in result.alignment.links]
    return (f"{status.count('accepted')} accepted, {status.count('edited')} edited, "
            f"{status.count('auto')} not yet reviewed")


@common.guard
def edit(app: common.App, saved: views.AlignResult | None, action: str, link: float | None,
         src: str | None, tgt: str | None, release: bool = False, approved_only: bool = False,
         state: dict | None = None, theme: str = "light", request: gr.Request | None = None,
         progress=gr.Progress()):
    """One edit from the review's form on the session's alignment; a refused one raises
    ValueError (one message) and the state keeps the alignment it had."""
    if saved is None:
        raise ValueError("Align two documents first, then review the links")
    line = align_review.edit_line(action, link, src, tgt, release)
    result = saved.edited(line, app.encoder(progress))
    files = result.export(app.folder(request, "align"), bool(approved_only))
    return (*_outputs(app, result, theme, state, files),
            common.md_plain(f"Applied: {line}. {_reviewed(result)}."))


@common.guard
def reexport(app: common.App, saved: views.AlignResult | None, approved_only: bool = False,
             request: gr.Request | None = None):
    """The downloads again, the TMX with or without the links nobody reviewed."""
    if saved is None:
        return gr.update()
    return saved.export(app.folder(request, "align"), bool(approved_only))


@common.guard
def reflag(app: common.App, saved: views.AlignResult | None, threshold: float,
           state: dict | None = None, theme: str = "light", approved_only: bool = False,
           request: gr.Request | None = None):
    """A new threshold on the same alignment: flags, figure and downloads again, no search."""
    if saved is None:
        return (gr.update(),) * 7 + (state,)
    result = saved.restyled(threshold)
    return _outputs(app, result, theme, state,
                    result.export(app.folder(request, "align"), bool(approved_only)))


def _fill():
    texts = common.example_lines("align/source.txt"), common.example_lines("align/target.txt")
    return *texts, None, None, "split", 4, alignment.DEFAULT_THRESHOLD, "", "", \
        common.example_file("align/gold.tsv")


def build(app: common.App, report_state: gr.State, theme: gr.State) -> common.Wiring:
    """Lays out the tab and wires it; returns the view's wiring."""
    with gr.Tab("Align", id="align"):
        gr.Markdown(resources.text("view_align.md"))
        saved = gr.State(None)
        # The documents beside the picture: on a projector the path is in sight at once.
        with gr.Row(equal_height=False):
            with gr.Column(scale=2, min_width=360):
                source = gr.Textbox(lines=6, max_lines=12, label="Source document",
                                    placeholder="Paste a document; blank lines separate "
                                    "paragraphs")
                target = gr.Textbox(lines=6, max_lines=12, label="Its translation",
                                    placeholder="Paste the translation")
                run_btn = gr.Button("Align", variant="primary", elem_id="al-run")
                (example,) = common.examples_row(["A library notice, en → de, with gold"])
                with gr.Accordion("Files, sentences, threshold, languages, gold", open=False):
                    with gr.Row():
                        with gr.Column(min_width=160):
                            sfile = gr.File(label="Source (.txt, .md; a table: a row each)",
                                            file_types=DOC_TYPES, height=90)
                            common.column_choice(sfile)
                        with gr.Column(min_width=160):
                            tfile = gr.File(label="Translation (.txt, .md, a table)",
                                            file_types=DOC_TYPES, height=90)
                            common.column_choice(tfile)
                    mode = gr.Radio(MODES, value="split", label="Sentences")
                    merge = gr.Slider(1, 6, value=alignment.DEFAULT_MAX_MERGE, step=1,
                                      label="Most sentences on one side of a link")
                    with gr.Row():
                        slang = gr.Textbox("", label="Source language", placeholder="detect",
                                           max_lines=1, min_width=80)
                        tlang = gr.Textbox("", label="Target language", placeholder="detect",
                                           max_lines=1, min_width=80)
                    gold = gr.File(label="Gold links (optional)", file_types=[".tsv", ".csv"],
                                   height=90)
                threshold = gr.Slider(-0.5, 1.0, value=alignment.DEFAULT_THRESHOLD, step=0.01,
                                      label="Flag links scoring below", elem_id="al-threshold")
            with gr.Column(scale=3, min_width=360):
                # The summary and metrics under the figure: the whole path fits a 1080-px
                # projector above the fold.
                plot = gr.Plot(plots.message_figure("Add two documents and press Align"),
                               label="Alignment path",
                               elem_id="al-plot")
                summary = gr.Markdown(elem_id="al-summary")
                metrics = gr.Markdown(elem_id="al-metrics")
        rv = align_review.build(app, saved)
        table = gr.Dataframe(label="Links (red: below the threshold, amber: no partner)",
                             wrap=True, max_height=600, elem_id="al-table",
                             column_widths=TABLE_WIDTHS)
        notes = gr.Markdown(elem_classes=["notes"])
        files = common.downloads(app, report_state, REPORT_KEY, VIEW.figure_title)
    inputs = [source, target, sfile, tfile, mode, merge, threshold, slang, tlang, gold]
    outputs = [plot, summary, metrics, table, notes, files, saved, report_state]
    wiring = common.Wiring(common.bind(run, app),
                           [*inputs, report_state, theme, common.columns_of(sfile),
                            common.columns_of(tfile)], outputs)
    wiring.on(run_btn.click, api_name=VIEW.api_name)
    threshold.release(common.bind(reflag, app),
                      [saved, threshold, report_state, theme, rv["approved"]], outputs,
                      **common.PRIVATE)
    rv["apply"].click(common.bind(edit, app),
                      [saved, rv["action"], rv["link"], rv["src"], rv["tgt"], rv["release"],
                       rv["approved"], report_state, theme], [*outputs, rv["message"]],
                      **common.PRIVATE)
    rv["approved"].change(common.bind(reexport, app), [saved, rv["approved"]], [files],
                          **common.PRIVATE)
    # The upload of a saved review is the /align_review endpoint: the documents in the boxes
    # aligned again (cached vectors: no new encoding) and the review put back.
    rv["resume"].upload(common.bind(review, app),
                        [*wiring.inputs, rv["resume"], rv["edits"], rv["approved"]],
                        [*outputs, rv["message"]], api_name="align_review")
    common.wire_example(example, _fill, inputs, wiring)
    common.clear_upload_on_typing([(source, sfile), (target, tfile)])
    return wiring
