"""The Gradio app: layout and event wiring only; the views compute in ``e5ui.views``.

``build_demo(...)`` returns the Blocks; nothing loads a model at import time. A tab per view of
``e5ui.registry``, in its order, each a module here with a module-level ``run`` handler that
tests can call and a ``build`` function that lays the tab out and wires its run button, examples
and API endpoints to one ``Wiring``; an endpoint's older names (/projection for /map) are wired
here, from the registry.
"""

from __future__ import annotations

import logging
import sys

import gradio as gr
from starlette.middleware import Middleware

from e5ui import plots, registry, resources, runtime
from e5ui.holder import ModelHolder
from e5ui.settings import Settings
from e5ui.ui import map as map_tab
from e5ui.ui import panel
from e5ui.ui.common import PRIVATE, App, Wiring, bind
from e5ui.ui.login import LoginRequired
from e5ui.ui.params import CheckedBlocks
from e5ui.ui.storage import ExportStore
from e5ui.ui.upload_limit import UploadLimitNote

logger = logging.getLogger(__name__)


def page_theme(request: gr.Request | None = None) -> str:
    """The theme the page asked for (``?__theme=dark``), kept for the session: figures follow
    it. (A dark page chosen by the system's preference alone cannot be seen from the server;
    its figures stay light, on white, which reads too.)"""
    asked = request.query_params.get("__theme") if request is not None else None
    return "dark" if asked == "dark" else "light"


def build_demo(encoder=None, settings: Settings | None = None,
               holder: ModelHolder | None = None, store: ExportStore | None = None
               ) -> gr.Blocks:
    """Builds the app.

    Args:
        encoder: an Encoder to use as is (tests, notebooks); None loads ``settings.model`` in
            the background when the app starts.
        settings: app settings (model, limits, who may switch models, ...).
        holder: a ModelHolder to share (overrides ``encoder``).
        store: where downloads go; default: session folders in Gradio's upload folder.

    Returns:
        The Blocks, ready to ``launch(...)`` (see ``launch`` below for theme and CSS).
    """
    settings = settings or Settings()
    holder = holder or ModelHolder(settings, encoder=encoder)
    limits = settings.limits
    store = store or ExportStore.in_gradio_cache(limits.export_age_s, limits.export_mb * 2**20)
    app = App(holder, settings, store)
    # Gradio deletes the uploads and cached copies it made once they are older than the
    # downloads' age, checking as often (the session folders are swept by the store itself).
    age = limits.export_age_s
    # CheckedBlocks: every event's inputs are checked against their components first
    # (params.check_inputs), so a wrong value gets a sentence naming its parameter.
    with CheckedBlocks(title="e5ui — multilingual-e5 explorer", analytics_enabled=False,
                       delete_cache=(age, age)) as demo:
        status_outputs = panel.build_panel(app)
        report_state = gr.State({})
        # Figures follow the page's theme (?__theme=dark); API callers get the light one.
        theme = gr.State("light")
        with gr.Tabs(elem_id="e5ui-tabs") as tabs:
            wirings = {view.name: view.build_tab(app, report_state, theme)
                       for view in registry.views()}
        wire_aliases(wirings)
        map_tab.wire_sends(wirings, tabs)
        panel.build_report(app, report_state)
        demo.load(bind(panel.on_load, app), None, status_outputs, show_progress="hidden",
                  **PRIVATE)
        demo.load(page_theme, None, [theme], **PRIVATE)
        demo.unload(bind(end_session, app))
    demo.e5ui_app = app  # for launch(), the input checks and tests
    app.demo = demo  # while it runs, file inputs must be uploads to it (App.check_upload)
    return demo


def wire_aliases(wirings: dict[str, Wiring]) -> None:
    """Each view's endpoint also answers to its older names (the registry's aliases), through
    a hidden button running the same wiring."""
    for view in registry.views():
        for alias in view.endpoints[0].aliases:
            wirings[view.name].on(gr.Button(visible=False).click, api_name=alias)


def end_session(app: App, request: gr.Request | None = None) -> None:
    """A visitor closed the page: their downloads go."""
    app.store.end_session(getattr(request, "session_hash", None))


def theme() -> gr.themes.Base:
    """Calm, projector-readable theme."""
    return gr.themes.Soft(
        primary_hue="indigo", secondary_hue="sky", neutral_hue="slate",
        # System fonts only: the app must look right offline, with no font CDN.
        font=["system-ui", "Segoe UI", "Helvetica Neue", "Arial", "sans-serif"],
        text_size="lg",
    )


def launch(demo: gr.Blocks, settings: Settings, **kwargs):
    """Starts loading the model (if needed) and serves the app with e5ui's theme, CSS and
    limits; refuses to serve an exposed app without a login unless told to.

    Raises:
        ValueError: from ``Settings.check`` (exposed without a login).
    """
    settings.check()
    app: App = demo.e5ui_app
    if settings.exposed:
        where = "a public share link" if settings.share else f"{settings.host}:{settings.port}"
        login = "with a login" if settings.auth else "WITHOUT a login (--insecure-no-auth)"
        print(f"e5ui: warning: serving on {where}, {login}: anyone who can reach it can use "
              "this app and its model", file=sys.stderr)
    if app.holder.status().state == "idle":
        app.holder.start()
    runtime.configure_numba_cache()
    runtime.warm_up(background=True)
    css = page_css()
    # With --auth, every route but the login page needs the login (gradio leaves a few open).
    app_kwargs = dict(kwargs.pop("app_kwargs", None) or {})
    app_kwargs["middleware"] = [*app_kwargs.get("middleware", []), Middleware(LoginRequired),
                                Middleware(UploadLimitNote)]
    return demo.queue(default_concurrency_limit=2).launch(
        server_name=settings.host, server_port=settings.port, share=settings.share,
        auth=settings.auth, theme=theme(), css=css, head=page_head(),
        footer_links=["api", "gradio"],
        show_error=False, max_file_size=f"{settings.limits.max_upload_mb}mb",
        allowed_paths=[str(resources.path("examples"))], app_kwargs=app_kwargs, **kwargs)


# On a phone, each table shows the columns a reader reads a row by (its texts and its score);
# the others fold away (the downloads hold them all). Element id -> (view, table, columns).
PHONE_COLUMNS = {
    "sim-table": ("similarity", None, ("cosine", "text_a", "text_b")),
    "sim-compare-table": ("similarity", "compare", ("cosine_1", "cosine_2", "text_a", "text_b")),
    # The BM25 table is the neighbours table with three more columns at its end.
    "nb-table": ("neighbours", "bm25", ("cosine", "query", "neighbour", "bm25_score",
                                        "bm25_text")),
    "bt-table": ("bitext", None, ("score", "source", "target")),
    "al-table": ("align", None, ("score", "source", "target")),
    "map-near-table": ("map", "neighbours", ("cosine", "lang", "text")),
    "map-search-table": ("map", "matches", ("cosine", "lang", "text")),
}
PHONE_SCORE_PX = 84  # "0.9599" on one line in the table's monospace font
PHONE_TEXT_PX = 116  # two texts and a score fit a 390-px phone's table (~316 px)


def phone_table_css() -> str:
    """Phone rules for the tables of ``PHONE_COLUMNS``: the other columns hidden, the shown
    ones a readable width (gradio sizes columns as shares of the table's width, which a phone
    squeezes to a character or two); a table wider than the screen scrolls sideways."""
    text_names = {"text_a", "text_b", "query", "neighbour", "bm25_text", "source", "target",
                  "text"}
    rules = []
    for elem, (view_name, table, keep) in PHONE_COLUMNS.items():
        header = registry.get(view_name).header(table)
        missing = [name for name in keep if name not in header]
        if missing:
            raise ValueError(f"Unknown columns of {elem}: {missing}. Must be among: {header}")
        for i, name in enumerate(header):
            cells = (f"#{elem} thead th:nth-child({i + 1}), "
                     f"#{elem} .body-cell[data-col=\"{i}\"]")
            if name not in keep:
                rules.append(f"  {cells} {{ display: none !important; }}")
                continue
            px = PHONE_TEXT_PX if name in text_names else PHONE_SCORE_PX
            rules.append(f"  {cells} {{ width: {px}px !important; min-width: {px}px !important;"
                         f" max-width: {px}px !important; flex: 0 0 {px}px !important; }}")
        rules.append(f"  #{elem} table.header-table {{ width: auto !important; }}\n"
                     f"  #{elem} .virtual-body {{ width: max-content !important;"
                     f" min-width: 100%; }}")
    return "@media (max-width: 700px) {\n" + "\n".join(rules) + "\n}\n"


def page_head() -> str:
    """The page's script: plotly's clicks and selections passed on to the server
    (assets/plot_events.js; gradio's Plot has no such events)."""
    script = resources.path("plot_events.js").read_text(encoding="utf-8")
    return f"<script>\n{script}</script>\n"


def page_css() -> str:
    """assets/style.css, plus the phone widths of the heatmaps: the widths their labels were
    laid out for (plots), so a phone scrolls a heatmap sideways rather than squeeze it; and
    the phone columns of the tables (``phone_table_css``)."""
    pair = ", ".join(f"#sim-compare-{i} .js-plotly-plot" for i in (1, 2))
    return (resources.path("style.css").read_text(encoding="utf-8")
            + "\n@media (max-width: 700px) {\n"
            f"  #sim-plot .js-plotly-plot {{ min-width: {plots.HEATMAP_FRAME}px; }}\n"
            f"  {pair} {{ min-width: {plots.HEATMAP_PAIR_FRAME}px; }}\n}}\n"
            + phone_table_css())
