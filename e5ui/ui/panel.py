"""The model panel (which model encodes, the fallback banner, switching) and the report button."""

from __future__ import annotations

import html
import time

import gradio as gr

from e5ui import hub, models, resources, views
from e5ui.holder import ModelStatus
from e5ui.ui.common import PRIVATE, App, bind, guard


def _setting(info: dict) -> str:
    """The backend (when not torch) and dtype; with a fidelity record, its line on hover."""
    backend = info.get("backend") or "torch"
    text = f"{backend} {info.get('dtype', '?')}" if backend != "torch" else str(
        info.get("dtype", "?"))
    line = info.get("fidelity_line")
    if not line:
        return text
    return f"<abbr title=\"{html.escape(line, quote=True)}\">{text}</abbr>"


def status_md(status: ModelStatus) -> str:
    """The panel's line: the model in use, where it came from, device, dtype, cache counters."""
    if status.state == "idle":
        return f"**{status.requested}** loads on first use."
    if status.state == "loading":
        text = resources.text("loading.md").format(requested=status.requested,
                                                   seconds=time.time() - status.since)
        if status.step:
            text += " " + resources.text("loading_step.md").strip().format(step=status.step)
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
        *([f"server {info['url']}"] if info.get("url") else []),
        # OpenVINO runs on the CPU: its name says where (the header must stay one line).
        _setting(info) if info.get("backend") == "openvino"
        else f"{info.get('device', '?')} · {_setting(info)}",
        f"dim {info.get('dim', '?')}",
        f"max {info.get('max_tokens', '?')} tokens",
    ]
    if cache:
        lookups = cache.get("hits", 0) + cache.get("misses", 0)
        parts.append(f"cache hits {cache.get('hits', 0)} of {lookups}")
    line = " · ".join(parts)
    fidelity = info.get("fidelity") or {}
    if info.get("fidelity_line") and not fidelity.get("faithful", True):
        # A setting bought for speed says what it costs under the line, in short; opened, in
        # full. (A faithful one gives its line on hovering the dtype: the header of a
        # projector's screen stays one line.)
        short = fidelity.get("short") or info["fidelity_line"]
        line += (f"\n\n<details class='e5ui-fidelity'><summary>{short}</summary>\n\n"
                 f"{info['fidelity_line']}\n\n</details>")
    if status.state == "failed":
        line += f"  \n⚠ Switching to {status.requested} failed: {status.error}"
    return line


def banner(status: ModelStatus):
    """The fallback banner, shown while the bundled model stands in for the requested one: one
    line that says so, and the reason when it is opened (a projector keeps the figure in
    sight; the reason is there for whoever wants it)."""
    reason = status.fallback_reason
    if status.state == "ready" and reason:
        info = status.info or {}
        text = resources.text("fallback_banner.md").format(requested=info.get("requested"),
                                                           reason=reason)
        # The file's first line is the summary, the rest what opening it shows.
        summary, _, details = text.strip().partition("\n")
        return gr.update(value=f"<details><summary>{summary}</summary>\n\n{details.strip()}"
                               "\n\n</details>", visible=True)
    return gr.update(value="", visible=False)


def refresh(app: App):
    """The status line and the banner, as they are now."""
    status = app.holder.status()
    return status_md(status), banner(status)


def on_load(app: App):
    """What a fresh page shows: the status line, the banner and the model in use."""
    return (*refresh(app), current(app))


def in_use(status: ModelStatus) -> str:
    """The registry name of the model in use: "bundled" after a fallback, else the request."""
    return "bundled" if status.fallback_reason else status.requested


def current(app: App):
    """The dropdown showing the model in use (or being loaded)."""
    return gr.update(value=in_use(app.holder.status()))


def tick(app: App, last: str | None):
    """The timer's refresh: the status line and banner always; the dropdown only when the model
    in use changed (a fallback, a finished switch), so a visitor's pick is not undone."""
    status = app.holder.status()
    now = f"{status.state}:{in_use(status)}"
    pick = gr.update(value=in_use(status)) if now != last else gr.update()
    return (*refresh(app), pick, now)


@guard
def switch(app: App, name: str | None):
    """Starts loading another model in the background (the current one serves meanwhile).
    Only the models the operator allowed (``--models``) can be loaded: the model is shared by
    every visitor, and a switch makes them all wait."""
    app.check_offered(name, "Switching models", "Pick a model to load")
    app.holder.start(name)
    return (*refresh(app), gr.update(value=name))


@guard
def make_report(app: App, state: dict | None, request: gr.Request | None = None):
    """One HTML file of the views run so far, in tab order."""
    path = views.report(state or {}, app.holder.status().info, app.folder(request, "report"))
    return gr.update(value=path, visible=True)


def build_panel(app: App) -> list:
    """The header: intro, fallback banner, model status and the model switch; returns the
    components a page load updates (``on_load``)."""
    # One compact row, so the tabs and each view's figure start high on a 1080-px projector:
    # the title, the model in use with its source (and the fallback notice, one line that
    # opens), and the model switch.
    allowed = app.settings.switchable
    with gr.Row(elem_id="e5ui-header", equal_height=False):
        gr.Markdown(resources.text("intro.md"), elem_id="e5ui-intro")
        with gr.Column(scale=1, min_width=300, elem_id="e5ui-model-box"):
            line = gr.Markdown(status_md(app.holder.status()), elem_id="e5ui-model-status")
            note = gr.Markdown(visible=False, elem_id="e5ui-banner", elem_classes=["banner"])
        with gr.Row(visible=bool(allowed), elem_id="e5ui-model-switch", equal_height=True):
            current_name = in_use(app.holder.status())
            # The names are the dropdown's choices; the label stays for screen readers.
            pick = gr.Dropdown(allowed, value=current_name if current_name in allowed else None,
                               label="Model", show_label=False, container=False,
                               min_width=180, elem_id="e5ui-model-pick",
                               allow_custom_value=False)
            load = gr.Button("Load", min_width=80, elem_id="e5ui-model-load")
    timer = gr.Timer(1.5)
    outputs = [line, note]
    last = gr.State(None)
    timer.tick(bind(tick, app), [last], [*outputs, pick, last], show_progress="hidden",
               **PRIVATE)
    load.click(bind(switch, app), [pick], [*outputs, pick], **PRIVATE)
    return [*outputs, pick]


def build_report(app: App, report_state: gr.State) -> None:
    """The report row at the bottom of the page."""
    with gr.Row(elem_id="e5ui-report-row"):
        button = gr.Button("Download a report of these views (HTML)", elem_id="report-run")
        file = gr.File(label="Report", height=80, visible=False)
    button.click(bind(make_report, app), [report_state], [file], **PRIVATE)
