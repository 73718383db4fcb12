"""The model panel (which model encodes, the fallback banner, switching) and the report button."""

from __future__ import annotations

import time

import gradio as gr

from e5ui import hub, models, resources, views
from e5ui.loader import ModelStatus
from e5ui.ui.common import PRIVATE, App, bind, guard


def status_md(status: ModelStatus) -> str:
    """The panel's line: the model in use, where it came from, device, dtype, cache counters."""
    if status.state == "idle":
        return f"**{status.requested}** loads on first use."
    if status.state == "loading":
        text = resources.text("loading.md").format(requested=status.requested,
                                                   seconds=time.time() - status.since)
        spec = models.resolve(status.requested)
        if spec.hub_id:
            got = hub.hub_cache_bytes(spec.hub_id) / 2**20
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


def banner(status: ModelStatus):
    """The fallback banner: shown while the bundled model stands in for the requested one."""
    reason = status.fallback_reason
    if status.state == "ready" and reason:
        info = status.info or {}
        text = resources.text("fallback_banner.md").format(requested=info.get("requested"),
                                                           reason=reason)
        return gr.update(value=text, visible=True)
    return gr.update(value="", visible=False)


def refresh(app: App):
    """The status line and the banner, as they are now."""
    status = app.holder.status()
    return status_md(status), banner(status)


@guard
def switch(app: App, name: str | None):
    """Starts loading another model in the background (the current one serves meanwhile).
    Only the models the operator allowed (``--models``) can be loaded: the model is shared by
    every visitor, and a switch makes them all wait."""
    allowed = app.settings.switchable
    if not allowed:
        raise ValueError("Switching models is turned off on this server (its operator can "
                         "allow some with --models)")
    if not name:
        raise ValueError("Pick a model to load")
    if name not in allowed:
        raise ValueError(f"{name} is not offered on this server. Must be one of: "
                         f"{', '.join(allowed)}")
    app.holder.start(name)
    return refresh(app)


@guard
def make_report(app: App, state: dict | None, request: gr.Request | None = None):
    """One HTML file of the views run so far, in tab order."""
    sections = [state[k] for k in sorted(state or {})]
    path = views.report(sections, app.holder.status().info, app.folder(request, "report"))
    return gr.update(value=path, visible=True)


def build_panel(app: App) -> list:
    """The header: intro, fallback banner, model status and the model switch; returns the
    components ``refresh`` updates."""
    with gr.Row(elem_id="e5ui-header"):
        gr.Markdown(resources.text("intro.md"), elem_id="e5ui-intro")
    note = gr.Markdown(visible=False, elem_id="e5ui-banner", elem_classes=["banner"])
    allowed = app.settings.switchable
    with gr.Row(elem_id="e5ui-model-row"):
        line = gr.Markdown(status_md(app.holder.status()), elem_id="e5ui-model-status")
        with gr.Column(scale=0, min_width=320, visible=bool(allowed)):
            with gr.Row():
                pick = gr.Dropdown(allowed, value=None, label="Switch model", scale=3,
                                   info=" · ".join(allowed), elem_id="e5ui-model-pick")
                load = gr.Button("Load", scale=1, elem_id="e5ui-model-load")
    timer = gr.Timer(1.5)
    outputs = [line, note]
    timer.tick(bind(refresh, app), None, outputs, show_progress="hidden", **PRIVATE)
    load.click(bind(switch, app), [pick], outputs, **PRIVATE)
    return outputs


def build_report(app: App, report_state: gr.State) -> None:
    """The report row at the bottom of the page."""
    with gr.Row(elem_id="e5ui-report-row"):
        button = gr.Button("Download a report of these views (HTML)", elem_id="report-run")
        file = gr.File(label="Report", height=80, visible=False)
    button.click(bind(make_report, app), [report_state], [file], **PRIVATE)
