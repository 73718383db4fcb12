"""What every tab shares: the error guard, text inputs with an upload slot, example rows, the
wiring of a view's handler to its buttons, progress, and the folders downloads are written to."""

from __future__ import annotations

import functools
import inspect
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from e5ui import resources, textio
from e5ui.loader import ModelHolder

logger = logging.getLogger(__name__)

UPLOAD_TYPES = [".txt", ".csv", ".tsv"]
PRIVATE = {"api_visibility": "private"}  # events that are not part of the app's API

# Limits of the app (the CLI has none): texts per request and characters per text.
MAX_TEXTS = 5000  # similarity / map / explain views, queries
MAX_BITEXT = 20000  # sentences per side, corpus texts
MAX_CHARS = 20000  # one text; longer inputs are almost certainly a paste mistake


def guard(fn: Callable) -> Callable:
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


@dataclass
class Wiring:
    """A view's handler with its inputs and outputs: one triple for the run button, the
    examples and the API endpoint alike."""

    fn: Callable
    inputs: list
    outputs: list

    def on(self, event: Callable, **kwargs: Any):
        """Attaches the view to an event, e.g. ``wiring.on(button.click, api_name="map")``."""
        return event(self.fn, self.inputs, self.outputs, **kwargs)


def wire_example(button: gr.Button, fill: Callable, targets: list, wiring: Wiring) -> None:
    """One click on an example fills the view's inputs, then runs the view."""
    wiring.on(button.click(fill, None, targets, **PRIVATE).then, **PRIVATE)


def wire_file_examples(buttons: list[gr.Button], files: list[str], box: gr.Textbox,
                       upload: gr.File, wiring: Wiring) -> None:
    """Examples that are one input file each: a click loads the file, then runs the view."""
    for button, name in zip(buttons, files, strict=True):
        wire_example(button, lambda n=name: ("", example_copy(n)), [box, upload], wiring)


def bind(handler: Callable, holder: ModelHolder) -> Callable:
    """The handler with the app's model holder as its first argument (gradio reads the rest of
    the signature: the inputs, and ``progress``)."""
    return functools.partial(handler, holder)


def read(text: str | None, file: str | None, what: str, limit: int = MAX_TEXTS):
    """One input of a view, from its upload or its text box, within the app's limits."""
    return textio.read_input(text, file, what, limit, MAX_CHARS)


def model_for(holder: ModelHolder, progress) -> Any:
    """The encoder, waiting (with a progress line) while the model loads."""

    def tick(waited: float) -> None:
        progress(0.0, desc=f"Waiting for the model to load ({waited:.0f} s)")

    return holder.wait(tick=tick)


def progress_adapter(progress) -> Callable[[float, str], None]:
    """A views.Progress that drives gradio's progress bar."""
    return lambda fraction, what: progress(fraction, desc=what)


def text_input(label: str, lines: int, **kwargs: Any) -> tuple[gr.Textbox, gr.File]:
    """A text box (one text per line) with an upload slot under it."""
    box = gr.Textbox(lines=lines, label=label, **kwargs)
    upload = gr.File(label="…or upload .txt / .csv / .tsv", file_types=UPLOAD_TYPES, height=90)
    return box, upload


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


def notes_md(notes: list[str]) -> str:
    return "\n".join(f"- {n}" for n in notes)


def export_dir() -> Path:
    """A fresh folder for one result's downloads (under the system temp dir, which Gradio
    serves)."""
    return Path(tempfile.mkdtemp(prefix="e5ui-"))


def example_copy(name: str) -> str:
    """Copies an example file into a temp folder (Gradio serves uploads from there)."""
    src = resources.path("examples", *name.split("/"))
    dst = export_dir() / src.name
    shutil.copy(src, dst)
    return str(dst)


def example_lines(name: str) -> str:
    """An example file's text, to fill a text box."""
    return resources.path("examples", *name.split("/")).read_text(encoding="utf-8").strip()


def remember(state: dict | None, key: str, heading: str, item: Any) -> dict:
    """The report state with one view's section replaced (keys sort in tab order)."""
    new = dict(state or {})
    new[key] = (heading, item)
    return new


def clear_upload_on_typing(pairs: list[tuple[gr.Textbox, gr.File]]) -> None:
    """Typing in a box means "use what I type": drop a file left there by an example."""
    for box, upload in pairs:
        box.input(lambda: None, None, [upload], **PRIVATE)
