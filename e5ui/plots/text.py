"""User text in figures: escaping for plotly's pseudo-HTML, bidi isolation, and the short
forms (one line, shortened, wrapped, tick snippets) that hover labels and ticks show.

Every piece of user text (a text, label, language, id, model name) goes into a figure through
``user_text``; the app's own words go through ``_esc``. Pure string functions: no plotly here.
"""

from __future__ import annotations

import functools
import html
import re
import textwrap
import unicodedata
from typing import Any

WRAP_WIDTH = 60  # hover lines wider than this are hard to read
HOVER_CHARS = 300  # longest text shown in a hover label
SHORT_HOVER_CHARS = 80  # a large map's hover label: two lines (the click panel has it whole)
EXAMPLE_CHARS = 60  # example texts in cluster hovers: one line each
SNIPPET_COLUMNS = 22  # a tick snippet's width in Latin characters (CJK count two)

_DASH = "–"  # a value that is missing or not a number


def _esc(text: Any) -> str:
    """Text for plotly's pseudo-HTML (titles, hover, ticks, legends): &, < and > escaped, and
    nothing else — plotly shows &quot; and &#x27; literally, so quotes stay quotes; its
    direction controls paired (``_balanced``). User text goes through ``user_text``."""
    return html.escape(_balanced(str(text)), quote=False)


# Explicit direction controls (Unicode's bidi algorithm, UAX #9) and what closes each: U+202A-
# U+202E embed or override until U+202C (PDF), U+2066-U+2068 isolate until U+2069 (PDI).
_PDF, _FSI, _PDI = "\u202c", "\u2068", "\u2069"
_CLOSER = {"\u202a": _PDF, "\u202b": _PDF, "\u202d": _PDF, "\u202e": _PDF,
           "\u2066": _PDI, "\u2067": _PDI, "\u2068": _PDI}
_BIDI_CONTROL = re.compile("[\u202a-\u202e\u2066-\u2069]")
# Every character of bidi class R, AL or AN (right-to-left letters, Arabic digits, RLM) and the
# controls, in blocks (the tests check it against unicodedata): text with none of them cannot
# reorder a left-to-right line.
_RIGHT_TO_LEFT = re.compile(
    "[\u0590-\u08ff\u200f\u202a-\u202e\u2066-\u2069\ufb1d-\ufdff\ufe70-\ufefe"
    "\U00010800-\U00010fff\U0001e800-\U0001efff]"
)


def _balanced(text: str) -> str:
    """``text`` with its direction controls paired as UAX #9 pairs them: a closer with nothing
    to close is dropped, and whatever is left open is closed at the end, so an unclosed
    U+202E cannot reverse what follows the text."""
    if _BIDI_CONTROL.search(text) is None:
        return text
    out: list[str] = []
    open_: list[str] = []  # the closer each open control waits for, innermost last
    for ch in text:
        if ch in _CLOSER:
            open_.append(_CLOSER[ch])
        elif ch == _PDF:  # closes an embedding, never across an isolate
            if not open_ or open_[-1] != _PDF:
                continue
            open_.pop()
        elif ch == _PDI:  # closes the innermost isolate and the embeddings opened inside it
            if _PDI not in open_:
                continue
            while open_[-1] != _PDI:
                out.append(open_.pop())
            open_.pop()
        out.append(ch)
    out.extend(reversed(open_))
    return "".join(out)


def _isolated(text: str) -> str:
    """User text set apart from the app's words beside it: when it holds right-to-left letters
    or direction controls, wrapped in FSI ... PDI (U+2068 ... U+2069: its direction comes from
    its own first letter and reaches no further) with its controls paired (``_balanced``).
    Other text is returned as it is: it cannot change the order of a left-to-right line."""
    if _RIGHT_TO_LEFT.search(text) is None:
        return text
    return _FSI + _balanced(text) + _PDI


def user_text(text: Any) -> str:
    """One piece of user text (a text, label, language, id, model name) for a figure's
    title, hover, ticks or legend.

    Args:
        text: Anything; shown as ``str(text)``.

    Returns:
        The text isolated from the words around it (``_isolated``) and escaped for plotly
        (``_esc``): &, < and > as entities, direction controls paired.
    """
    return _esc(_isolated(str(text)))


def _one_line(text: Any) -> str:
    """Text with runs of whitespace (newlines, tabs) collapsed to single spaces."""
    return " ".join(str(text).split())


def _shorten(text: Any, limit: int) -> str:
    """One-line text cut to ``limit`` characters, ending in an ellipsis when cut."""
    flat = _one_line(text)
    if len(flat) <= limit:
        return flat
    return flat[: max(limit - 1, 1)].rstrip() + "…"


def _hover_text(text: Any, limit: int = HOVER_CHARS, width: int = WRAP_WIDTH) -> str:
    """Escaped text for a hover label: shortened to ``limit``, wrapped at ``width`` with <br>,
    each line isolated as user text (``user_text``)."""
    if isinstance(text, str):
        return _hover_line(text, limit, width)
    return _hover_line(str(text), limit, width)


# A map's texts are drawn again at every click, search and restyle: their hover labels are
# remembered (a 100,000-text map's worth), not wrapped and escaped anew each time.
@functools.lru_cache(maxsize=2**17)
def _hover_line(text: str, limit: int, width: int) -> str:
    short = _shorten(text, limit)
    if not short:
        return "<i>(empty)</i>"
    if len(short) <= width and short == short.strip(" "):
        # One line already (``_shorten`` leaves no other whitespace): what textwrap would
        # return, at a fraction of its cost for a map's many short texts.
        return user_text(short)
    # Wrap before escaping so a line break never splits an entity such as &amp;.
    lines = textwrap.wrap(short, width, break_long_words=True, break_on_hyphens=False)
    return "<br>".join(user_text(line) for line in lines)


def _columns(text: str) -> int:
    """Display width in Latin-character columns: wide (CJK) characters count two, marks none."""
    return sum(_char_columns(ch) for ch in text)


def _char_columns(ch: str) -> int:
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _snippet(text: Any, columns: int = SNIPPET_COLUMNS) -> str:
    """The start of a text on one line, at most ``columns`` wide, ending in "…" when cut."""
    flat = _one_line(text)
    if _columns(flat) <= columns:
        return flat
    out: list[str] = []
    used = 1  # the ellipsis
    for ch in flat:
        used += _char_columns(ch)
        if used > columns:
            break
        out.append(ch)
    return "".join(out).rstrip() + "…"


def _unique(labels: list[str]) -> list[str]:
    """The labels, made unique (plotly merges equal categories)."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        out.append(label if seen[label] == 1 else f"{label} <i>({seen[label]})</i>")
    return out
