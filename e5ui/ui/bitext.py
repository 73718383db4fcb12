"""The Bitext tab: two sentence lists in, matched pairs out (TSV, CSV, TMX)."""

from __future__ import annotations

import html

import gradio as gr

from e5ui import plots, registry, resources, textio, views
from e5ui.ui import common

VIEW = registry.get("bitext")
REPORT_KEY = VIEW.name
TABLE_WIDTHS = VIEW.widths()


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


@common.guard
def run(app: common.App, source: str, target: str, source_file: str | None = None,
        target_file: str | None = None, method: str = "margin", one_to_one: bool = True,
        threshold: float | None = None, gold_file: str | None = None, state: dict | None = None,
        source_columns: dict | None = None, target_columns: dict | None = None,
        request: gr.Request | None = None, progress=gr.Progress()):
    """/bitext: pairs, unmatched sentences, summary, gold metrics, notes, downloads, report
    state (``*_columns``: an uploaded table's columns to read)."""
    s = app.read(source, source_file, "source list", "max_side", source_columns)
    t = app.read(target, target_file, "target list", "max_side", target_columns)
    app.check_upload(gold_file)
    gold = textio.read_gold(gold_file, source=s, target=t,
                            max_bytes=app.max_bytes) if gold_file else None
    enc = app.encoder(progress)
    result = views.bitext_view(enc, s, t, method, one_to_one, threshold, gold,
                               progress=common.progress_adapter(progress))
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
            result.export(app.folder(request, "bitext")), state)


def _fill():
    texts = common.example_lines("bitext/source.txt"), common.example_lines("bitext/target.txt")
    return *texts, None, None, "margin", True, None, common.example_file("bitext/gold.tsv")


def build(app: common.App, report_state: gr.State, theme: gr.State) -> common.Wiring:
    """Lays out the tab and wires it; returns the view's wiring."""
    with gr.Tab("Bitext", id="bitext"):
        gr.Markdown(resources.text("view_bitext.md"))
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
                run_btn = gr.Button("Match", variant="primary", elem_id="bt-run")
        (example,) = common.examples_row(["Shuffled en ↔ de / fr / ja, with gold"])
        summary = gr.Markdown()
        metrics = gr.Markdown(elem_id="bt-metrics")
        table = gr.Dataframe(label="Pairs (shaded by score)", wrap=True, max_height=600,
                             elem_id="bt-table", column_widths=TABLE_WIDTHS)
        unmatched = gr.Dataframe(label="Unmatched sentences", wrap=True, max_height=300)
        notes = gr.Markdown(elem_classes=["notes"])
        files = gr.File(label="Downloads (TSV, CSV, TMX)", file_count="multiple")
    inputs = [source, target, sfile, tfile, method, one, threshold, gold]
    wiring = common.Wiring(common.bind(run, app),
                           [*inputs, report_state, common.columns_of(sfile),
                            common.columns_of(tfile)],
                           [table, unmatched, summary, metrics, notes, files, report_state])
    wiring.on(run_btn.click, api_name=VIEW.api_name)
    common.wire_example(example, _fill, inputs, wiring)
    common.clear_upload_on_typing([(source, sfile), (target, tfile)])
    return wiring
