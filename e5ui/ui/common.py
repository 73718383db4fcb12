"""What every tab shares: the app context (model, settings, downloads), the error guard, text
inputs with an upload slot, example rows, the wiring of a view's handler to its buttons, and
progress."""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import logging
import re
import threading
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr

from e5ui import plots, resources, textio
from e5ui.holder import ModelHolder
from e5ui.settings import Settings
from e5ui.ui.storage import ExportStore, scratch_store

logger = logging.getLogger(__name__)

UPLOAD_TYPES = [".txt", ".csv", ".tsv", ".jsonl", ".parquet"]
PRIVATE = {"api_visibility": "private"}  # events that are not part of the app's API



@dataclass
class App:
    """What every handler works with: the model, the settings (with the limits) and the store
    the downloads go to."""

    holder: ModelHolder
    settings: Settings
    store: ExportStore
    # The Blocks serving this app (set by build_demo): while it runs, file inputs must be
    # what was uploaded to it.
    demo: gr.Blocks | None = field(default=None, repr=False)
    _second: dict = field(default_factory=dict, repr=False)
    _second_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def for_tests(cls, holder: ModelHolder) -> App:
        """An App around a holder, with default limits and a private downloads folder."""
        return cls(holder, holder.settings, scratch_store())

    def read(self, text: str | None, file: str | None, what: str, limit: str = "max_texts",
             columns: dict | None = None) -> textio.Corpus:
        """One input of a view, from its upload or its text box, within the limits (``limit``:
        the field of ``Limits`` that caps its texts: ``max_side`` for a side of bitext,
        ``max_map_texts`` for the map and the neighbours corpus); ``columns``: the upload's
        columns to read, ``{"text": "sentence"}`` (the column choice under the upload)."""
        limits = self.settings.limits
        self.check_upload(file)
        chosen = textio.column_choice(columns) if file else {}
        return textio.read_input(text, file, what, getattr(limits, limit), limits.max_chars,
                                 max_bytes=self.max_bytes, cut=True, **chosen)

    def check_upload(self, file: str | None, what: str = "The uploaded file") -> None:
        """The one check every file input passes (the views call it, and so does the check
        of every event's inputs, ``params.check_inputs``): a file is read only if it is an
        input this app was given.

        Refused, with a message that names the file but not where it lies on the server: any
        of the app's downloads (any session's: downloads are never inputs), and, while the app
        is served, anything but a file uploaded to it (gradio's upload route, which the page's
        file inputs and gradio_client's ``handle_file`` use) or gradio's copy of a bundled
        example (the Examples buttons put those in file inputs). Uploads are kept
        ``export_age_s``; one that is gone gets a message saying so.

        Args:
            file: the path gradio passed, or None / "" for no file.
            what: how the message names the input ("The file given as gold_file").

        Raises:
            ValueError: for a file the app does not read.
        """
        if not file:
            return
        path = Path(file)
        shown = f"{what} ({path.name})"
        real = path.resolve()
        if real.is_relative_to(self.store.root.resolve()):
            raise ValueError(f"{shown} is one of this app's downloads; downloads cannot be read "
                             "back as inputs. Upload a copy of the file instead")
        if self.demo is not None and self.demo.is_running and not (
                _uploaded(self.demo, path, real) or _example_copy(real)):
            raise ValueError(f"{shown} was not uploaded to this app; upload the file first (the "
                             "file input on the page, or handle_file(path) in gradio_client)")
        if not path.is_file():
            minutes = self.settings.limits.export_age_s // 60
            raise ValueError(f"{shown} is no longer on the server (uploads are kept "
                             f"{minutes} minutes); upload it again")

    @property
    def max_bytes(self) -> int:
        """The most bytes of one uploaded file the app reads."""
        return self.settings.limits.max_upload_mb * 2**20

    def encoder(self, progress) -> Any:
        """The encoder, waiting (with a progress line) while the model loads."""

        def tick(waited: float) -> None:
            progress(0.0, desc=f"Waiting for the model to load ({waited:.0f} s)")

        return self.holder.wait(tick=tick)

    def check_offered(self, name: str | None, what: str, pick: str) -> None:
        """Raises ValueError unless ``name`` is among the models the operator offers
        (``--models``); ``what`` names the feature that is off when none are, ``pick`` asks
        for a model when none is given."""
        allowed = self.settings.switchable
        if not allowed:
            raise ValueError(f"{what} is turned off on this server (its operator can allow "
                             "some with --models)")
        if not name:
            raise ValueError(pick)
        if name not in allowed:
            raise ValueError(f"{name} is not offered on this server. Must be one of: "
                             f"{', '.join(allowed)}")

    def second_encoder(self, name: str | None, progress) -> Any:
        """A second model for comparisons, loaded in the background like the first and kept
        (one at a time: two models in memory at most); the main model itself when it is the
        one asked for. Only the models the operator offers (``--models``) can be loaded."""
        self.check_offered(name, "Comparing models", "Pick the model to compare with")
        if name == self.holder.status().requested:
            return self.encoder(progress)
        with self._second_lock:
            holder = self._second.get(name)
            if holder is None:
                self._second.clear()  # free the previous second model first
                holder = ModelHolder(self.settings, factory=self.holder.factory,
                                     cache=self.holder.cache)
                holder.start(name)
                self._second[name] = holder

        def tick(waited: float) -> None:
            progress(0.0, desc=f"Waiting for {name} to load ({waited:.0f} s)")

        return holder.wait(tick=tick)

    def folder(self, request: gr.Request | None, view: str) -> Path:
        """A fresh folder for one result's downloads, in the visitor's session folder."""
        return self.store.folder(getattr(request, "session_hash", None), view)


def _uploaded(demo: gr.Blocks, path: Path, real: Path) -> bool:
    """Whether gradio's upload route wrote this file (it records every file it writes)."""
    uploads = getattr(demo, "upload_file_set", ())
    return str(path) in uploads or str(real) in uploads


@functools.cache
def _example_digests() -> frozenset[tuple[str, str]]:
    """(name, SHA-256) of every bundled example file."""
    root = resources.path("examples")
    return frozenset((p.name, hashlib.sha256(p.read_bytes()).hexdigest())
                     for p in root.rglob("*") if p.is_file())


def _example_copy(path: Path) -> bool:
    """Whether ``path`` is gradio's copy of a bundled example: an Examples button that puts
    one in a file input has gradio copy it into its upload folder (its words are public)."""
    from gradio.utils import get_upload_folder

    digests = _example_digests()
    if path.name not in {name for name, _ in digests} or not path.is_file() \
            or not path.is_relative_to(Path(get_upload_folder()).resolve()):
        return False
    if path.stat().st_size > 2**22:  # every example is far smaller
        return False
    return (path.name, hashlib.sha256(path.read_bytes()).hexdigest()) in digests


# An absolute path (POSIX, home-relative or Windows) of two parts or more, not inside a URL.
_PATH = re.compile(r"(?<![\w.:/\\~-])(?:~|[A-Za-z]:)?(?:[\\/][^\s'\"<>|\\/]+){2,}")
_MAX_MESSAGE = 1000


def user_message(text: str) -> str:
    """A message fit for the page: a path keeps only its last part (the server's folders are
    nobody's business), a traceback that crept in is cut off, and it stays short."""
    text = text.split("Traceback (most recent call last)")[0].strip()
    text = _PATH.sub(lambda m: re.split(r"[\\/]", m.group(0))[-1], text)
    return text if len(text) <= _MAX_MESSAGE else text[:_MAX_MESSAGE - 1] + "…"


def guard(fn: Callable) -> Callable:
    """Turns exceptions into Gradio error toasts: the message for ValueError, a short line for
    anything else (logged with its traceback), never a raw traceback or a server path in the
    page (``user_message``)."""

    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, ValueError):  # bad input: a message, no traceback in the log
            return gr.Error(user_message(str(exc)), print_exception=False)
        logger.exception("Unexpected error in %s", fn.__name__)
        return gr.Error(user_message(f"Something went wrong ({type(exc).__name__}: {exc}). "
                                     "The app is still running; please try again."))

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


@dataclass
class Wiring:
    """A view's handler with its inputs and outputs: one triple for the run button, the
    examples and the API endpoint alike."""

    fn: Callable
    inputs: list
    outputs: list
    # Components other tabs work with, by name (the map's selection fills the Similarity
    # view's "texts", the Neighbours view's "queries" or "corpus": (box, upload) each).
    parts: dict[str, Any] = field(default_factory=dict)

    def on(self, event: Callable, **kwargs: Any):
        """Attaches the view to an event, e.g. ``wiring.on(button.click, api_name="map")``."""
        return event(self.fn, self.inputs, self.outputs, **kwargs)


def wire_example(button: gr.Button, fill: Callable, targets: list, wiring: Wiring) -> None:
    """One click on an example fills the view's inputs, then runs the view."""
    wiring.on(button.click(fill, None, targets, **PRIVATE).then, **PRIVATE)


def wire_file_examples(buttons: list[gr.Button], files: list[str], box: gr.Textbox,
                       upload: gr.File, wiring: Wiring) -> None:
    """Examples that are one input file each: a click puts the file's text into the box (a
    TSV keeps its header, so labels, languages and ids come along), where the audience sees it
    and the presenter can edit a line, then runs the view."""
    slot = getattr(upload, "e5ui_vectors", None)  # an example brings no vectors
    targets = [box, upload] if slot is None else [box, upload, slot]
    for button, name in zip(buttons, files, strict=True):
        wire_example(button, lambda n=name: (example_lines(n), *[None] * (len(targets) - 1)),
                     targets, wiring)


def bind(handler: Callable, first: Any) -> Callable:
    """The handler with its first argument (the App) filled in.

    Gradio reads the rest of the signature: the inputs, ``progress`` (by its default) and a
    ``gr.Request`` (by its type hint, which gradio cannot see through functools.partial), so
    the bound function carries the remaining parameters and their resolved hints.
    """
    signature = inspect.signature(handler)
    params = list(signature.parameters.values())[1:]
    hints = typing.get_type_hints(handler)
    if inspect.isgeneratorfunction(handler):
        def bound(*args, **kwargs):
            yield from handler(first, *args, **kwargs)
    else:
        def bound(*args, **kwargs):
            return handler(first, *args, **kwargs)
    bound.__name__ = bound.__qualname__ = handler.__name__
    bound.__doc__ = handler.__doc__
    bound.__signature__ = signature.replace(parameters=params)
    bound.__annotations__ = {p.name: hints[p.name] for p in params if p.name in hints}
    return bound


def progress_adapter(progress) -> Callable[[float, str], None]:
    """A views.ViewProgress that drives gradio's progress bar."""
    return lambda fraction, what: progress(fraction, desc=what)


def text_input(label: str, lines: int, **kwargs: Any) -> tuple[gr.Textbox, gr.File]:
    """A text box (one text per line, or a pasted TSV with a ``text`` column) with an upload
    slot under it, and under that the column choice for a file without a ``text`` column
    (``columns_of(upload)`` is its value, an input of the view's events)."""
    kwargs.setdefault("placeholder", "One text per line — or paste a TSV whose header row names "
                      "a 'text' column (and 'lang', 'label', 'id' if you like). Uploads: .txt, "
                      ".csv, .tsv, .jsonl, .parquet (a 'text' column)")
    box = gr.Textbox(lines=lines, max_lines=max(lines, 14), label=label, **kwargs)
    # A label that stays on one line on a phone (a longer one wraps over the box's words).
    upload = gr.File(label="…or upload a text or table file", file_types=UPLOAD_TYPES,
                     height=90)
    column_choice(upload)
    return box, upload


# The column choice: which of an uploaded table's columns hold the texts, languages, labels
# and ids, offered when the file has no ``text`` column.
COLUMN_LABELS = {"text": "Text column", "lang": "Language column", "label": "Label column",
                 "id": "Id column"}
NO_COLUMN = "(none)"
# Runs in the page: the choice becomes the value the view's events send, with no round trip
# (a click on Run right after a pick sends the pick).
_CHOICE_JS = """(text, lang, label, id) => {
  const v = (x) => (x && x !== "(none)") ? x : null;
  return {text: v(text), lang: v(lang), label: v(label), id: v(id)};
}"""


def column_choice(upload: gr.File) -> gr.JSON:
    """The dropdowns of the column choice (hidden until a file needs them) and the hidden value
    they fill, kept on the upload component (``columns_of``)."""
    with gr.Row(visible=False, elem_classes=["column-choice"]) as row:
        drops = [gr.Dropdown([], value=None, label=label, min_width=110,
                             elem_classes=[f"column-{role}"])
                 for role, label in COLUMN_LABELS.items()]
    chosen = gr.JSON(None, label="columns", visible=False)
    chosen.e5ui_columns = True  # checked as a column choice (params.check_value)
    upload.e5ui_columns = chosen
    upload.change(offer_columns, [upload], [row, *drops], **PRIVATE)
    for drop in drops:
        drop.change(None, drops, [chosen], js=_CHOICE_JS, **PRIVATE)
    return chosen


def columns_of(upload: gr.File) -> gr.JSON:
    """The column choice under an upload slot made by ``text_input``: an input of the view's
    events (its handler's ``columns`` parameter, ``App.read``'s)."""
    return upload.e5ui_columns


@guard
def offer_columns(file: str | None):
    """An upload's column choice: hidden for no file, a text file or a table with a ``text``
    column (read as before); else the file's columns to pick from, the text column first
    (required), language, label and id preset to the columns of those names if any."""
    names = textio.column_names(file, max_bytes=None) if file else []
    folded = {name.strip().lower(): name for name in names}
    if not names or "text" in folded:
        return gr.update(visible=False), *[gr.update(choices=[], value=None)] * len(COLUMN_LABELS)
    text = gr.update(choices=names, value=None)
    optional = [gr.update(choices=[NO_COLUMN, *names], value=folded.get(role, NO_COLUMN))
                for role in list(COLUMN_LABELS)[1:]]
    return gr.update(visible=True), text, *optional


def two_text_inputs(label_a: str, label_b: str, lines: int
                    ) -> tuple[gr.Textbox, gr.File, gr.Textbox, gr.File]:
    """Two side-by-side text boxes with their upload slots (inside a ``gr.Row``)."""
    with gr.Column():
        box_a, upload_a = text_input(label_a, lines)
    with gr.Column():
        box_b, upload_b = text_input(label_b, lines)
    return box_a, upload_a, box_b, upload_b


def examples_row(labels: list[str]) -> list[gr.Button]:
    """An "Examples:" row of small buttons."""
    with gr.Row():
        gr.Markdown("**Examples:**", elem_classes=["examples-label"])
        return [gr.Button(label, size="sm", elem_classes=["example"]) for label in labels]


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")
_MD_BULLET = re.compile(r"^(\s*)([-+])(?=\s)", re.M)
_MD_NUMBERED = re.compile(r"^(\s*\d+)([.)])(?=\s)", re.M)


def md_plain(text: str) -> str:
    """Markdown that shows ``text`` exactly as typed: user text (a search, a file name, a
    model path) goes into Markdown only escaped, so ``![x](http://host/beacon.png)`` shows as
    those characters and no viewer's browser fetches anything."""
    text = _MD_SPECIAL.sub(r"\\\1", text)
    return _MD_NUMBERED.sub(r"\1\\\2", _MD_BULLET.sub(r"\1\\\2", text))


def text_md(corpus: textio.Corpus, langs: list[str], i: int, heading: str,
            facts: tuple[str, ...] = ()) -> str:
    """One text of a view in full for a panel: a bold heading with its 0-based row, then its
    language, label, id and any further facts, then the text itself (all user text escaped)."""
    parts = [f"**{heading}{corpus.rows[i]}**", f"language {langs[i] or 'unknown'}"]
    if corpus.labels and corpus.labels[i]:
        parts.append(f"label {md_plain(corpus.labels[i])}")
    if corpus.ids and corpus.ids[i]:
        parts.append(f"id {md_plain(corpus.ids[i])}")
    return " · ".join([*parts, *facts]) + "\n\n> " + md_plain(corpus.texts[i])


def notes_md(notes: list[str]) -> str:
    """Notes (plain text from the views) as a Markdown list."""
    return "\n".join(f"- {md_plain(n)}" for n in notes)


def table_for_page(app: App, table, notes: list[str]):
    """The first ``max_rows`` rows of a views.Table for the page; says so when there are more
    (the downloads hold every row)."""
    limit = app.settings.limits.max_rows
    if len(table) > limit:
        notes.append(f"Showing the first {limit:,} of {len(table):,} rows; the download holds "
                     "them all.")
    return table.frame(limit)


def example_file(name: str) -> str:
    """An example file's path (launch() allows the examples folder; gradio keeps one cached
    copy per file content, however often it is clicked)."""
    return str(resources.path("examples", *name.split("/")))


def example_lines(name: str) -> str:
    """An example file's text, to fill a text box."""
    return resources.path("examples", *name.split("/")).read_text(encoding="utf-8").strip()


@guard
def figure_file(app: App, state: dict | None, key: str, title: str,
                request: gr.Request | None = None):
    """The view's figure as a standalone HTML file (~5 MB: plotly.js inside, so it opens
    offline), written only when asked for."""
    if not state or key not in state:
        raise ValueError("Run the view first; then its figure can be saved")
    _, figure = state[key]
    name = re.sub(r"\W+", "-", title).strip("-") + ".html"
    path = plots.write_html(app.folder(request, f"{key}-figure") / name, title, figure)
    return gr.update(value=str(path), visible=True)


def downloads(app: App, report_state: gr.State, key: str, title: str,
              page: tuple[Callable, list] | None = None) -> gr.File:
    """The view's downloads (its data files) and a button that saves its figure as HTML
    (``page``: the view's own (handler, inputs) for that page, as the map's, which explores
    offline; else the figure of the report state, ``figure_file``)."""
    files = gr.File(label="Downloads", file_count="multiple")
    with gr.Row():
        button = gr.Button("Save the figure as HTML", size="sm", scale=0, min_width=240,
                           elem_classes=["figure-save"])
        saved = gr.File(label="Figure (HTML)", visible=False, height=80)
    fn, inputs = page or (bind(figure_file, app), [report_state, gr.State(key),
                                                   gr.State(title)])
    button.click(fn, inputs, [saved], **PRIVATE)
    return files


def remember(state: dict | None, key: str, heading: str, item: Any) -> dict:
    """The report state with one view's section replaced (keys sort in tab order)."""
    new = dict(state or {})
    new[key] = (heading, item)
    return new


# --- the page's own interactions: clicks and selections on a figure (assets/plot_events.js)

EVENT_CHARS = 2_000_000  # a selection of 100,000 points, as JSON


def plot_event(raw: str, key: str) -> Any:
    """One field of an event the page sent about a figure (plot_events.js):
    ``{"point": 3, "cell": [2, 5], "n": 7}``."""
    try:
        payload = json.loads(raw)
    except (TypeError, ValueError):
        payload = None
    if not isinstance(payload, dict) or key not in payload:
        raise ValueError("The page sent an event the app cannot read; reload the page")
    return payload[key]


def clear_upload_on_typing(pairs: list[tuple[gr.Textbox, gr.File]]) -> None:
    """Typing in a box means "use what I type": drop a file left there by an example (and
    the vectors that went with it, ``ui.vectors``)."""
    for box, upload in pairs:
        slot = getattr(upload, "e5ui_vectors", None)
        if slot is None:
            box.input(lambda: None, None, [upload], **PRIVATE)
        else:
            box.input(lambda: (None, None), None, [upload, slot], **PRIVATE)
