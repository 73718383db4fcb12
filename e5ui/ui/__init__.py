"""The Gradio app: layout and event wiring only; the views compute in ``e5ui.views``.

``build_demo(...)`` returns the Blocks; nothing loads a model at import time. One module per
tab (similarity, neighbours, map, bitext, explain), each with a module-level ``run`` handler
that tests can call and a ``build`` function that lays the tab out and wires its run button,
examples and API endpoint (/similarity, /neighbours, /map — also /projection —, /bitext,
/explain, /pair_score) to one ``Wiring``.
"""

from __future__ import annotations

import gradio as gr

from e5ui import resources, runtime
from e5ui.loader import ModelHolder, Settings
from e5ui.ui import bitext, explain, map, neighbours, panel, similarity
from e5ui.ui.common import PRIVATE, bind

TABS = (similarity, neighbours, map, bitext, explain)


def build_demo(encoder=None, settings: Settings | None = None,
               holder: ModelHolder | None = None) -> gr.Blocks:
    """Builds the app.

    Args:
        encoder: an Encoder to use as is (tests, notebooks); None loads ``settings.model`` in
            the background when the app starts.
        settings: app settings (model, dtype, cache dir, ...).
        holder: a ModelHolder to share (overrides ``encoder``).

    Returns:
        The Blocks, ready to ``launch(...)`` (see ``launch`` below for theme and CSS).
    """
    settings = settings or Settings()
    holder = holder or ModelHolder(settings, encoder=encoder)
    with gr.Blocks(title="e5ui — multilingual-e5 explorer", analytics_enabled=False) as demo:
        status_outputs = panel.build_panel(holder)
        report_state = gr.State({})
        with gr.Tabs(elem_id="e5ui-tabs"):
            for tab in TABS:
                tab.build(holder, report_state)
        panel.build_report(holder, report_state)
        demo.load(bind(panel.refresh, holder), None, status_outputs, show_progress="hidden",
                  **PRIVATE)
    demo.e5ui_holder = holder  # for launch() and tests
    return demo


def theme() -> gr.themes.Base:
    """Calm, projector-readable theme."""
    return gr.themes.Soft(
        primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
        # System fonts only: the app must look right offline, with no font CDN.
        font=["system-ui", "Segoe UI", "Helvetica Neue", "Arial", "sans-serif"],
        text_size="lg",
    )


def launch(demo: gr.Blocks, settings: Settings, **kwargs):
    """Starts loading the model (if needed) and serves the app with e5ui's theme and CSS."""
    holder: ModelHolder = demo.e5ui_holder
    if holder.status().state == "idle":
        holder.start()
    runtime.configure_numba_cache()
    runtime.warm_up(background=True)
    css = resources.path("style.css").read_text(encoding="utf-8")
    return demo.queue(default_concurrency_limit=2).launch(
        server_name=settings.host, server_port=settings.port, share=settings.share,
        theme=theme(), css=css, footer_links=["api", "gradio"], show_error=False,
        **kwargs)
