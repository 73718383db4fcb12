"""The Scores explained tab: the user's pair scores over the model's unrelated-pair baseline, and
a box that scores two typed sentences."""

from __future__ import annotations

import gradio as gr

from e5ui import plots, registry, resources, views
from e5ui.ui import common

EXAMPLES = [("Paraphrase vs. look-alike vs. unrelated", "paraphrase_lookalike.tsv"),
            ("One meaning, ten languages", "one_meaning_ten_languages.tsv")]


VIEW = registry.get("explain")
REPORT_KEY = VIEW.name


@common.guard
def run(app: common.App, texts: str = "", file: str | None = None,
        state: dict | None = None, theme: str = "light", columns: dict | None = None,
        progress=gr.Progress()):
    """/explain: histogram, summary, notes, report state (no texts: the baseline alone);
    ``columns``: an uploaded table's columns to read."""
    corpus = None
    if (texts or "").strip() or file:
        corpus = app.read(texts, file, "text list", columns=columns)
    enc = app.encoder(progress)
    result = views.explain_view(enc, corpus, progress=common.progress_adapter(progress))
    state = common.remember(state, REPORT_KEY, "Scores explained", result.figure)
    return (plots.themed(result.figure, theme), common.md_plain(result.summary),
            common.notes_md(result.notes), state)


@common.guard
def score_pair(app: common.App, a: str, b: str, progress=gr.Progress()):
    """/pair_score: two sentences' cosine, percentile and rescaled score, in words."""
    limit = app.settings.limits.max_chars
    long = [name for name, text in (("A", a), ("B", b)) if len(text or "") > limit]
    text = views.pair_score(app.encoder(progress), (a or "")[:limit], (b or "")[:limit]).text
    if long:
        text += (f"\n\nSentence {' and '.join(long)} had more than {limit:,} characters; only "
                 f"the first {limit:,} were used (the model reads at most 512 tokens).")
    return text


def build(app: common.App, report_state: gr.State, theme: gr.State) -> common.Wiring:
    """Lays out the tab and wires it; returns the view's wiring."""
    with gr.Tab("Scores explained", id="explain"):
        gr.Markdown(resources.text("view_explain.md"))
        with gr.Row():
            with gr.Column(scale=3):
                plot = gr.Plot(plots.message_figure("Press Show to draw the baseline"),
                               label="Score distribution", elem_id="ex-plot")
                summary = gr.Markdown(elem_id="ex-summary")
            with gr.Column(scale=2):
                gr.Markdown(resources.text("scores_explained.md"), elem_classes=["explain"])
        with gr.Row():
            with gr.Column(scale=2):
                texts, upload = common.text_input("Your texts (one per line)", 5)
            with gr.Column(scale=1):
                run_btn = gr.Button("Show", variant="primary", elem_id="ex-run")
                examples = common.examples_row([label for label, _ in EXAMPLES])
        notes = gr.Markdown(elem_classes=["notes"])
        gr.Markdown("### Type two sentences")
        with gr.Row():
            pair_a = gr.Textbox(label="Sentence A", value="The train is late again.")
            pair_b = gr.Textbox(label="Sentence B", value="Der Zug hat schon wieder Verspätung.")
            pair_btn = gr.Button("Score", elem_id="pair-run", scale=0, min_width=120)
        pair_out = gr.Markdown(elem_id="pair-out")
    wiring = common.Wiring(common.bind(run, app), [texts, upload, report_state, theme,
                                                   common.columns_of(upload)],
                    [plot, summary, notes, report_state])
    wiring.on(run_btn.click, api_name=VIEW.api_name)
    pair_btn.click(common.bind(score_pair, app), [pair_a, pair_b], [pair_out],
                   api_name="pair_score")
    common.wire_file_examples(examples, [name for _, name in EXAMPLES], texts, upload, wiring)
    common.clear_upload_on_typing([(texts, upload)])
    return wiring
