"""The one check every event's inputs pass before gradio reads them.

Gradio's own preprocessing refuses some wrong values without a word (a text for a slider's
number: ``{"error": null}``), lets others through (any value for a checkbox, an object for a
text box) and never names the parameter. ``CheckedBlocks`` runs ``check_inputs`` on the raw
values of every event first. Each input component declares what it takes: a slider or number
box its range and step, a radio or dropdown its choices (and a radio the older names it still
takes, ``aliased_radio``), a text box its ``max_length`` (a one-line box 200 characters, any
box no more text than one upload may hold), a file input its types and that it was uploaded
here (``App.check_upload``). A value that does not fit is refused with a sentence naming the
parameter as the API lists it. What passes is what gradio accepts, so its preprocessing then
only converts; anything it still refuses gets a sentence too, never an empty error.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import gradio as gr
from gradio_client.utils import is_http_url_like, is_valid_file

from e5ui import textio

logger = logging.getLogger(__name__)

# A one-line box (a language code, the map's highlight) holds a short value unless its
# component says otherwise (max_length).
SHORT_TEXT = 200


def number_radio(choices: list[tuple[str, int]], **kwargs: Any) -> gr.Radio:
    """A gr.Radio whose choices are numbers (the map's 2-D / 3-D) and that the API lists as
    numbers: gr.Radio lists every choice as a string, then refuses the string. (Set on the
    instance: a gr.Radio subclass would have gradio write a .pyi stub next to this module.)
    ``check_inputs`` takes the number or its digits ("2")."""
    radio = gr.Radio(choices, **kwargs)
    values = [value for _, value in radio.choices]
    kind = "integer" if all(isinstance(v, int) for v in values) else "number"
    radio.api_info = lambda: {"enum": values, "title": "Radio", "type": kind}
    return radio


def aliased_radio(choices: list[tuple[str, str]], aliases: dict[str, str], **kwargs: Any
                  ) -> gr.Radio:
    """A gr.Radio that also takes older names of its values from the API: ``check_inputs``
    turns ``aliases[value]`` into the value it names, so the handler sees only the choices.
    (Set on the instance, as in ``number_radio``.)"""
    radio = gr.Radio(choices, **kwargs)
    values = [value for _, value in radio.choices]
    unknown = sorted(set(aliases.values()) - set(values))
    if unknown:
        raise ValueError(f"Aliases name no choice: {', '.join(unknown)}")
    radio.e5ui_aliases = dict(aliases)
    return radio


class CheckedBlocks(gr.Blocks):
    """gr.Blocks whose events check their inputs (``check_inputs``) before gradio reads them,
    and whose refusals always carry a sentence."""

    e5ui_app: Any = None  # the ui.common.App, set by build_demo

    async def preprocess_data(self, block_fn, inputs, *args, **kwargs):
        """``check_inputs``, then gradio's preprocessing; what gradio still refuses becomes a
        sentence instead of an empty error."""
        inputs = check_inputs(block_fn, inputs, self.e5ui_app)
        try:
            return await super().preprocess_data(block_fn, inputs, *args, **kwargs)
        except gr.Error:
            raise
        except Exception:
            logger.warning("Inputs of %s refused by gradio", block_fn.name, exc_info=True)
            raise gr.Error("One of the inputs has a form this app cannot read; the API page "
                           "(Use via API) lists what each parameter takes",
                           print_exception=False) from None


def check_inputs(block_fn, inputs: list, app) -> list:
    """The raw values of one event, checked against their components.

    Args:
        block_fn: gradio's record of the event (its input components and parameter names).
        inputs: the values as they came in (JSON), one per input component.
        app: the ui.common.App (for the upload check and the limits); None skips those.

    Returns:
        The values, with number choices given as digits turned into numbers.

    Raises:
        gr.Error: a sentence naming the parameter, for the first value that does not fit.
    """
    components = list(block_fn.inputs)
    names = list(getattr(block_fn, "input_parameter_names", None) or [])
    api = f"/{block_fn.api_name}" if getattr(block_fn, "api_name", None) else "This event"
    inputs = _without_column_choices(components, inputs)
    if len(inputs) < len(components):
        raise gr.Error(f"{api} takes {len(components)} inputs; the request gave "
                       f"{len(inputs)}", print_exception=False)
    checked = list(inputs)
    for i, component in enumerate(components):
        name = names[i] if i < len(names) and names[i] else _label(component, i)
        try:
            checked[i] = check_value(component, inputs[i], name, app)
        except ValueError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
    return checked


def _added_later(component) -> bool:
    """An input added to its events after their first release, as their last API parameters,
    with a default: an upload's column choice, the vectors upload and its checkbox
    (``ui.vectors``)."""
    return getattr(component, "e5ui_columns", False) or hasattr(component, "e5ui_default")


def _without_column_choices(components: list, inputs: list) -> list:
    """The inputs of a caller from before the parameters added later (the upload's column
    choices, the vectors: ``_added_later``): those left out get their default, and, as gradio
    does when a call gives every API parameter, the states it skips are placed (None: the
    session's)."""
    if len(inputs) >= len(components):
        return inputs
    given = [c for c in components if not getattr(c, "skip_api", False)]
    if len(inputs) < len(given):
        given, missing = given[:len(inputs)], given[len(inputs):]
        if not all(_added_later(c) for c in missing):
            return inputs
    elif len(inputs) > len(given):
        given = components  # the states are in place; the new ones are missing at the end
        if not all(_added_later(c) for c in components[len(inputs):]):
            return inputs
    placed, values = {id(c) for c in given}, iter(inputs)
    return [next(values, None) if id(c) in placed else getattr(c, "e5ui_default", None)
            for c in components]


def _label(component, index: int) -> str:
    return getattr(component, "label", None) or f"input {index + 1}"


def check_value(component, value: Any, name: str, app=None) -> Any:
    """One input's raw value, checked against what its component declares.

    Returns:
        The value to pass on (a number choice given as digits becomes the number).

    Raises:
        ValueError: a sentence that names ``name``.
    """
    if isinstance(component, gr.State):
        return value
    if isinstance(component, gr.File):
        return _file(component, value, name, app)
    if isinstance(component, (gr.Slider, gr.Number)):
        return _number(component, value, name)
    if isinstance(component, (gr.Radio, gr.Dropdown)):
        return _choice(component, value, name)
    if isinstance(component, gr.Checkbox):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false; got {describe(value)}")
        return value
    if isinstance(component, gr.Textbox):
        return _text(component, value, name, app)
    if getattr(component, "e5ui_columns", False):  # an upload's column choice (ui.common)
        textio.column_choice(value, name)
    return value


def describe(value: Any) -> str:
    """What a value is, in words, without repeating what the user typed."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return f"{value:g}"
    if isinstance(value, str):
        return f"a text of {len(value):,} characters" if value else "an empty text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a value of type {type(value).__name__}"


def _number(component, value: Any, name: str) -> Any:
    low, high = component.minimum, component.maximum
    if isinstance(component, gr.Slider):
        step = component.step
        whole = all(float(v).is_integer() for v in (step, low if low is not None else 0))
        empty_ok = False
    else:
        whole = component.precision == 0
        empty_ok = True  # an empty number box means "none" (the bitext threshold)
    kind = "a whole number" if whole else "a number"
    span = ("" if low is None and high is None else
            f" from {low:g} to {high:g}" if low is not None and high is not None else
            f" of at least {low:g}" if low is not None else f" of at most {high:g}")
    wanted = f"{kind}{span}" + (", or nothing (null) for none" if empty_ok else "")
    if value is None and empty_ok:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be {wanted}; got {describe(value)}")
    if (low is not None and value < low) or (high is not None and value > high) or (
            whole and not float(value).is_integer()):
        raise ValueError(f"{name} must be {wanted}; got {value:g}")
    return value


def _choice(component, value: Any, name: str) -> Any:
    values = [v for _, v in component.choices]
    if isinstance(component, gr.Dropdown):
        if component.multiselect:
            return value  # no multi-select inputs here; gradio checks its own
        # Nothing picked, or nothing offered: the view says what to do (pick a model, or that
        # comparing models is off on this server).
        if value is None or (not values and isinstance(value, str) and len(value) <= 200):
            return value
        if component.allow_custom_value:
            if isinstance(value, str) and len(value) <= 200:
                return value
            raise ValueError(f"{name} must be a text of at most 200 characters; "
                             f"got {describe(value)}")
    for choice in values:
        if _same(value, choice):
            return choice
    aliases = getattr(component, "e5ui_aliases", None) or {}
    if isinstance(value, str) and value in aliases:
        return aliases[value]
    listed = ", ".join(str(v) for v in values)
    raise ValueError(f"{name} must be one of: {listed}; got {describe(value)}")


def _same(value: Any, choice: Any) -> bool:
    """Whether a raw value picks ``choice``: the value itself, or its digits for a number
    choice (the API once listed the map's dimensions as the strings "2" and "3")."""
    if isinstance(value, bool) or isinstance(choice, bool):
        return value is choice
    if isinstance(value, (int, float)) and isinstance(choice, (int, float)):
        return value == choice
    return isinstance(value, (str, int, float)) and str(value) == str(choice)


def _text(component, value: Any, name: str, app) -> Any:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text; got {describe(value)}")
    cap = component.max_length or (SHORT_TEXT if component.max_lines == 1 else None)
    if cap is not None and len(value) > cap:
        raise ValueError(f"{name} takes at most {cap:,} characters; got {len(value):,}")
    if app is not None:
        # A box holds no more than one uploaded file may: longer texts are cut and more texts
        # than the view takes refused later (App.read), but nothing reads megabytes of a box.
        limit = app.max_bytes
        if len(value) > limit or (len(value) * 4 > limit
                                  and len(value.encode("utf-8", "surrogatepass")) > limit):
            raise ValueError(f"{name} holds more than {limit / 2**20:g} MB of text; a text box "
                             f"takes at most as much as one uploaded file (--max-upload-mb)")
    return value


def _file(component, value: Any, name: str, app) -> Any:
    if value is None:
        return None
    wanted = (f"{name} must be a file uploaded to this app (the file input on the page, or "
              "handle_file(path) in gradio_client)")
    if isinstance(value, list) and component.file_count == "single":
        raise ValueError(f"{wanted}: one file, not a list")
    if component.file_count != "single":  # a list of files (the vectors: .npy and .json)
        if not isinstance(value, list):
            raise ValueError(f"{name} must be a list of files uploaded to this app "
                             f"(handle_file(path) in gradio_client); got {describe(value)}")
        if len(value) > MAX_FILES:
            raise ValueError(f"{name} takes at most {MAX_FILES} files; got {len(value)}")
        return [_one_file(component, v, name, wanted, app) for v in value]
    return _one_file(component, value, name, wanted, app)


MAX_FILES = 4  # the most files one list input takes (the vectors: an .npy and its .json)


def _one_file(component, value: Any, name: str, wanted: str, app) -> Any:
    if not isinstance(value, dict) or not isinstance(value.get("path"), str) or not value["path"]:
        raise ValueError(f"{wanted}; got {describe(value)}")
    path = value["path"]
    if is_http_url_like(path):
        raise ValueError(f"{wanted}, not a web address")
    if component.file_types and not is_valid_file(path, component.file_types):
        # Worded as textio words it for the CLI.
        suffix = Path(path).suffix or "(none)"
        raise ValueError(f"Unsupported file type {suffix!r} for {name}. Must be one of: "
                         f"{', '.join(component.file_types)}")
    if app is not None:
        app.check_upload(path, f"The file given as {name}")
    return value
