"""The Bitext tab: two sentence lists in, matched pairs out (TSV, CSV, TMX)."""

from __future__ import annotations

import html

import gradio as gr
import pandas as pd

from e5ui import plots, registry, resources, textio, views
from e5ui.ui import common

VIEW = registry.get("bitext")
REPORT_KEY = VIEW.name
TABLE_WIDTHS = VIEW.widths()
ACTIONS = ("accept", "reject", "relink", "candidates")
TOP_CANDIDATES = 8
CANDIDATE_COLUMNS = list(views.bitext.CANDIDATE_HEADER)


def shade(table, column: str):
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


def _outputs(app: common.App, result: views.BitextResult, state: dict | None,
             request: gr.Request | None):
    """Pairs, unmatched sentences, summary, gold metrics, notes, downloads, the result (for
    the review's edits), report state."""
    metrics = ""
    if result.evaluation is not None:
        ev = result.evaluation
        metrics = (f"**Against {ev.n_gold} gold pairs:** P@1 **{ev.p_at_1:.3f}** · precision "
                   f"{ev.precision:.3f} · recall {ev.recall:.3f} · F1 **{ev.f1:.3f}**")
    notes = list(result.notes)
    table = common.table_for_page(app, result.table, notes)
    styled = shade(table, "score") if not table.empty else table
    report = (f"<p>{html.escape(result.metrics)}</p>" if result.metrics else "")
    state = common.remember(state, REPORT_KEY, f"Bitext · {result.summary}",
                            plots.Markup(report + result.table.html(300)))
    unmatched = common.table_for_page(app, result.unmatched, notes)
    return (styled, unmatched, common.md_plain(result.summary), metrics, common.notes_md(notes),
            result.export(app.folder(request, "bitext")), result, state)


@common.guard
def run(app: common.App, source: str, target: str, source_file: str | None = None,
        target_file: str | None = None, method: str = "margin", one_to_one: bool = True,
        threshold: float | None = None, gold_file: str | None = None, state: dict | None = None,
        source_columns: dict | None = None, target_columns: dict | None = None,
        review_file: str | None = None, request: gr.Request | None = None,
        progress=gr.Progress()):
    """/bitext: pairs, unmatched sentences, summary, gold metrics, notes, downloads, report
    state (``*_columns``: an uploaded table's columns to read; ``review_file``: a saved review,
    the pairs.tsv/.csv this view wrote, edited or not, whose pairs and statuses replace the
    new matching's — refused by its line when it does not fit the lists)."""
    s = app.read(source, source_file, "source list", "max_side", source_columns)
    t = app.read(target, target_file, "target list", "max_side", target_columns)
    app.check_upload(gold_file)
    app.check_upload(review_file, "The review file")
    gold = textio.read_gold(gold_file, source=s, target=t,
                            max_bytes=app.max_bytes) if gold_file else None
    # A review that does not fit the lists is refused before any encoding.
    reviewed = textio.read_bitext_review(review_file, s, t, one_to_one=bool(one_to_one),
                                         max_bytes=app.max_bytes) if review_file else None
    enc = app.encoder(progress)
    result = views.bitext_view(enc, s, t, method, one_to_one, threshold, gold,
                               progress=common.progress_adapter(progress))
    if reviewed is not None:
        result = views.resume_bitext_review(result, reviewed)
    return _outputs(app, result, state, request)


def _pair_row(result: views.BitextResult, row: int | None, src: int | None) -> int:
    """The table row an accept or reject is for: ``row``, or the pair holding source line
    ``src``."""
    if row is not None:
        return int(row)
    if src is None:
        raise ValueError("Give the pair's row (0-based, as in the table) or its source line")
    k = result.row_of(int(src))
    if k is None:
        raise ValueError(f"source line {int(src)} is in no pair (it is unmatched)")
    return k


@common.guard
def review(app: common.App, saved: views.BitextResult | None, action: str = "accept",
           row: int | None = None, src: int | None = None, tgt: int | None = None,
           release: bool = False, state: dict | None = None,
           request: gr.Request | None = None):
    """/bitext_review: one edit of the last matching (``accept`` or ``reject`` pair ``row``,
    or the pair of source line ``src``; ``relink`` source line ``src`` with target line
    ``tgt``, ``release`` taking the target from the pair that holds it) or the
    ``candidates`` for source line ``src``. The outputs of /bitext, then the candidates. An
    invalid edit is refused with one message and changes nothing."""
    if saved is None:
        raise ValueError("Match the two lists first: there are no pairs to review yet")
    if action not in ACTIONS:
        raise ValueError(f"Unknown action: {action}. Must be one of: {', '.join(ACTIONS)}")
    if action in ("relink", "candidates") and src is None:
        raise ValueError("Give the source line (0-based, as in the table's src_index)")
    candidates = gr.update()
    result = saved
    if action == "accept":
        result = saved.accept(_pair_row(saved, row, src))
    elif action == "reject":
        result = saved.reject(_pair_row(saved, row, src))
    elif action == "relink":
        if tgt is None:
            raise ValueError("Give the target line to re-link the source line with")
        result = saved.relink(int(src), int(tgt), release=bool(release))
    else:
        candidates = common.table_for_page(app, saved.candidates(int(src), TOP_CANDIDATES), [])
    return (*_outputs(app, result, state, request), candidates)


def _picked(evt: gr.SelectData):
    """A click on a candidate: its target line into the re-link box."""
    value = (evt.row_value or [None])[0]
    return (gr.update() if value is None else int(value)), "relink"


def _fill():
    texts = common.example_lines("bitext/source.txt"), common.example_lines("bitext/target.txt")
    return (*texts, None, None, "margin", True, None, common.example_file("bitext/gold.tsv"),
            None)


def build(app: common.App, report_state: gr.State, theme: gr.State) -> common.Wiring:
    """Lays out the tab and wires it; returns the view's wiring."""
    with gr.Tab("Bitext", id="bitext"):
        gr.Markdown(resources.text("view_bitext.md"))
        saved = gr.State(None)
        show_candidates = gr.State("candidates")
        with gr.Row():
            source, sfile, target, tfile = common.two_text_inputs(
                "Source sentences (one per line)", "Target sentences (one per line)", 8)
            with gr.Column(scale=0, min_width=260):
                method = gr.Radio([("margin", "margin"), ("cosine", "cosine")], value="margin",
                                  label="Score")
                one = gr.Checkbox(True, label="One-to-one")
                threshold = gr.Number(None, label="Threshold (empty = keep all)", minimum=-10,
                                      maximum=10)
                gold = gr.File(label="Gold pairs (optional)", file_types=[".tsv", ".csv"],
                               height=90)
                resume = gr.File(label="Resume a review",
                                 file_types=[".tsv", ".csv"], height=90, elem_id="bt-resume")
                resume.e5ui_default = None  # added after /bitext's first release: optional
                run_btn = gr.Button("Match", variant="primary", elem_id="bt-run")
        (example,) = common.examples_row(["Shuffled en ↔ de / fr / ja, with gold"])
        summary = gr.Markdown(elem_id="bt-summary")
        metrics = gr.Markdown(elem_id="bt-metrics")
        with gr.Accordion("Review the pairs: accept, reject, re-link (download pairs.tsv to "
                          "save, resume it above)", open=False, elem_id="bt-review"):
            with gr.Row(equal_height=True):
                action = gr.Radio([("accept", "accept"), ("reject", "reject"),
                                   ("re-link", "relink"), ("candidates", "candidates")],
                                  value="accept", label="Edit", elem_id="bt-action",
                                  min_width=300)
                row = gr.Number(None, label="Pair row (0-based)",
                                precision=0, minimum=0, elem_id="bt-row", min_width=120)
                src = gr.Number(None, label="Source line (src_index)", precision=0, minimum=0,
                                elem_id="bt-src", min_width=120)
                tgt = gr.Number(None, label="Target line (tgt_index)", precision=0, minimum=0,
                                elem_id="bt-tgt", min_width=120)
                release = gr.Checkbox(False, label="Take the target from its pair",
                                      elem_id="bt-release", min_width=140)
                with gr.Column(scale=0, min_width=130):
                    apply_btn = gr.Button("Apply", variant="primary", elem_id="bt-apply",
                                          size="sm")
                    cand_btn = gr.Button("Candidates", elem_id="bt-candidates", size="sm")
            candidates = gr.Dataframe(
                pd.DataFrame(columns=CANDIDATE_COLUMNS), max_height=240, wrap=True,
                label="Candidates for the source line (click one to re-link with it)",
                elem_id="bt-cands")
        table = gr.Dataframe(label="Pairs (shaded by score)", wrap=True, max_height=600,
                             elem_id="bt-table", column_widths=TABLE_WIDTHS)
        unmatched = gr.Dataframe(label="Unmatched sentences", wrap=True, max_height=300)
        notes = gr.Markdown(elem_classes=["notes"])
        files = gr.File(label="Downloads (TSV, CSV, TMX)", file_count="multiple",
                        elem_id="bt-files")
    inputs = [source, target, sfile, tfile, method, one, threshold, gold]
    outputs = [table, unmatched, summary, metrics, notes, files, saved, report_state]
    wiring = common.Wiring(common.bind(run, app),
                           [*inputs, report_state, common.columns_of(sfile),
                            common.columns_of(tfile), resume], outputs)
    wiring.on(run_btn.click, api_name=VIEW.api_name)
    edit = common.bind(review, app)
    apply_btn.click(edit, [saved, action, row, src, tgt, release, report_state],
                    [*outputs, candidates], api_name="bitext_review")
    cand_btn.click(edit, [saved, show_candidates, row, src, tgt, release, report_state],
                   [*outputs, candidates], **common.PRIVATE)
    candidates.select(_picked, None, [tgt, action], **common.PRIVATE)
    common.wire_example(example, _fill, [*inputs, resume], wiring)
    common.clear_upload_on_typing([(source, sfile), (target, tfile)])
    return wiring
