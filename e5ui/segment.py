"""Splitting a document into sentences, for ordered alignment with its translation.

Input: pasted text or a ``.txt`` / ``.md`` file (UTF-8, a BOM is tolerated; UTF-16/32 with a
BOM). Paragraphs are separated by blank lines; a paragraph boundary is hard: no sentence spans
two paragraphs, and the aligner never groups sentences of two paragraphs. Two modes:

- ``"split"``: each paragraph goes through ``sentencex`` (Wikimedia's rule-based segmenter,
  ~300 languages, no model download, maintained; a compiled wheel, milliseconds a page).
  Checked on en/de/fr/ru/zh/ja/ar/hi/th: it splits at 。！？ (also half-width ｡), at Arabic ؟
  and Urdu ۔, at Devanagari । and ॥, and knows common abbreviations (Dr., z. B., e.g.).
  Three gaps get a small rule of our own:
    * Thai has no sentence punctuation: a space between two Thai characters ends a sentence
      (the usual convention; it also cuts some long clauses, which the aligner's merges
      absorb). sentencex leaves Thai unsplit.
    * Japanese quotations: 「…。」と言った is one sentence; sentencex cuts after 」.
      A piece that starts with the quoting particle と or って joins the one before it when
      that one ends with 」 or 』.
    * Initials and one-letter abbreviations: a piece made only of single letters with a
      period ("M." in "M. Dupont", "Т. е.") joins the next one (sentencex's French rules cut
      after "M.", and other languages' rules after "Т.").
  Line breaks inside a paragraph are soft: they become a space (none between Chinese or
  Japanese characters). A Markdown heading line ("# Title") is a paragraph of its own.
- ``"lines"``: the input is already one sentence per line; blank lines are skipped (and noted)
  and, as in split mode, separate paragraphs.

A ``.csv`` / ``.tsv`` / ``.jsonl`` / ``.parquet`` file is already segmented: it is read as
every table input is (``textio.read_texts``, its ``text`` column or the one named) and each row
is one unit, never split, in one paragraph (``read_rows``), whatever the mode; a note says so.

The language of a side is detected with ``e5ui.langid`` (py3langid) unless given; it selects
sentencex's abbreviation rules and is shown to the user. A given code must look like one
(``check_lang``): it is echoed in the summary and written into the TMX.

Documents are read as every other input is (``textio``): files decoded by ``textio.read_whole``
(UTF-8, or UTF-16/32 by a byte-order mark, within a byte limit), and each line cleaned by
``textio.tidy`` (control and separator characters become spaces, lone surrogates and
U+FFFE/U+FFFF become U+FFFD) with a note naming the lines changed, so the table, the TSV and
the TMX hold the same text. ``cut_long`` cuts sentences to the app's character limit.
"""

from __future__ import annotations

import bisect
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from e5ui import textio
from e5ui.analysis.alignment import join_texts

logger = logging.getLogger(__name__)

MODES = ("split", "lines")
ROW_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")  # one unit per row, not split
DOCUMENT_SUFFIXES = (".txt", ".md", *ROW_SUFFIXES)
MAX_DOCUMENT_BYTES = 50 * 2**20
# One side this many times longer (in characters) than the other is not a translation of it.
MAX_LENGTH_RATIO = 100
# Characters of a document handed to language detection: enough for a stable answer.
DETECT_CHARS = 5000

_THAI = r"\u0E00-\u0E7F"
_THAI_SPACE = re.compile(rf"(?<=[{_THAI}])\s+(?=[{_THAI}])")
_INITIALS = re.compile(r"^(?:[^\W\d_]\.\s*)+$")  # "M.", "J. K.", "Т. е."
_QUOTE_END = ("」", "』")
_SPACES = re.compile(r"\s+")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+\S")  # a Markdown ATX heading line
_QUOTE_PARTICLES = ("と", "って")
# A language code as BCP 47 writes one ("en", "pt-BR", "zh-Hant-TW"; "_" as in locale names):
# anything else would be echoed to the page and into the TMX.
_LANG_CODE = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*")
MAX_LANG_CHARS = 35
_SHOWN = 10  # lines listed in a note before "and N more"


@dataclass
class Document:
    """One side of a document pair, as sentences.

    Attributes:
        sentences: The sentences in document order (whitespace inside collapsed).
        paragraphs: 0-based paragraph index of each sentence (non-decreasing).
        lines: 0-based line of the input where each sentence starts.
        lang: Language code (ISO 639-1, or "und"), given or detected.
        lang_detected: True when ``lang`` was detected rather than given.
        mode: ``"split"`` or ``"lines"``.
        source: The file name, or "<input>" for pasted text.
        notes: Remarks for the user (blank lines skipped, language detected, ...).
    """

    sentences: list[str]
    paragraphs: list[int]
    lines: list[int]
    lang: str
    lang_detected: bool = True
    mode: str = "split"
    source: str = "<input>"
    notes: list[str] = field(default_factory=list)
    unit: str = "line"  # what ``lines`` counts: "line", or "row" of a table file

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def n_paragraphs(self) -> int:
        """Number of paragraphs that hold a sentence."""
        return len(set(self.paragraphs))

    def where(self, index: int) -> str:
        """Where sentence ``index`` starts, for messages: "line 7" (1-based)."""
        return f"{self.unit} {self.lines[index] + 1}"


# -- reading --------------------------------------------------------------------------------------
def read_document(path: str | Path, lang: str | None = None, mode: str = "split", *,
                  max_bytes: int | None = MAX_DOCUMENT_BYTES, max_units: int | None = None,
                  **columns: str | None) -> Document:
    """Reads a ``.txt`` or ``.md`` file and splits it into sentences; a ``.csv`` / ``.tsv``
    / ``.jsonl`` / ``.parquet`` file is read one unit per row instead (``read_rows``).

    Args:
        path: The file.
        lang: Its language code; None: detect.
        mode: ``"split"`` (sentence splitting) or ``"lines"`` (one sentence per line).
        max_bytes: The most bytes read (the app's upload limit); None for no limit.
        max_units: For a table file, the most rows read (reading stops there); None for no
            limit.
        **columns: ``text_column=`` (and ``lang_column=``, ...) for a table file, as for
            ``textio.read_texts``.

    Returns:
        The Document; ValueError with a one-line reason for anything unreadable.
    """
    path = Path(path)
    if path.suffix.lower() not in DOCUMENT_SUFFIXES:
        raise ValueError(f"Unsupported file type {path.suffix or '(none)'!r} for {path.name}. "
                         f"Must be one of: {', '.join(DOCUMENT_SUFFIXES)}")
    if path.suffix.lower() in ROW_SUFFIXES:
        return read_rows(path, lang, max_bytes=max_bytes, max_units=max_units, **columns)
    try:
        text, encoding = textio.read_whole(path, max_bytes=max_bytes)
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None
    doc = split_document(text, lang=lang, mode=mode, source=path.name)
    if encoding != "UTF-8":
        doc.notes.insert(0, f"{path.name} was read as {encoding} (its byte-order mark says so).")
    return doc


def read_rows(path: str | Path, lang: str | None = None, *,
              max_bytes: int | None = MAX_DOCUMENT_BYTES, max_units: int | None = None,
              **columns: str | None) -> Document:
    """Reads a document that is already segmented: one unit (a sentence or a segment) per row
    of a ``.csv`` / ``.tsv`` / ``.jsonl`` / ``.parquet`` file's text column, never split, all
    in one paragraph, as ``--lines`` reads one sentence per line.

    Args:
        path: The file.
        lang: Its language code; None: detect.
        max_bytes: The most bytes read; None for no limit.
        max_units: The most rows read; None for no limit.
        **columns: ``text_column=``, ... as for ``textio.read_texts``.

    Returns:
        The Document (``unit`` "row"); ValueError for a file without its text column (naming
        the columns it has) or without a text.
    """
    path = Path(path)
    corpus = textio.require_texts(
        textio.read_texts(path, max_texts=max_units, max_bytes=max_bytes, **columns),
        f"document {path.name}")
    # Inner whitespace collapsed as a line of --lines is, so both read the same units.
    units = [" ".join(text.split()) for text in corpus.texts]
    code, detected = _detect("\n".join(units), check_lang(lang))
    how = "detected" if detected else "given"
    notes = [f"{path.name}: {len(units)} unit(s), one per row of its text column, not split "
             f"into sentences (a table file is read as already segmented), language {code} "
             f"({how})", *corpus.notes()]
    return Document(units, [0] * len(units), list(corpus.rows), code, detected, "lines",
                    path.name, notes, unit="row")


# -- splitting ------------------------------------------------------------------------------------
def _paragraphs(lines: list[str]) -> list[list[int]]:
    """Groups of consecutive non-blank line numbers; a Markdown heading is a group of its own."""
    groups: list[list[int]] = []
    current: list[int] = []
    for k, line in enumerate(lines):
        if _HEADING.match(line):
            if current:
                groups.append(current)
            groups.append([k])
            current = []
        elif line.strip():
            current.append(k)
        elif current:
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def _merge_pieces(pieces: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The fallback rules for Japanese quotations and single-letter abbreviations."""
    out: list[tuple[int, str]] = []
    for start, text in pieces:
        if out:
            prev_start, prev = out[-1]
            quote = prev.rstrip().endswith(_QUOTE_END) and text.lstrip().startswith(
                _QUOTE_PARTICLES)
            if quote or _INITIALS.match(prev.strip()):
                out[-1] = (prev_start, prev + text)
                continue
        out.append((start, text))
    return out


def _split_thai(pieces: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Cuts pieces at whitespace between two Thai characters."""
    out: list[tuple[int, str]] = []
    for start, text in pieces:
        pos = 0
        for match in _THAI_SPACE.finditer(text):
            out.append((start + pos, text[pos:match.start()]))
            pos = match.start()
        out.append((start + pos, text[pos:]))
    return out


def split_sentences(text: str, lang: str = "en") -> list[tuple[int, str]]:
    """Splits one paragraph into sentences.

    Args:
        text: The paragraph (line breaks inside are soft).
        lang: Language code for sentencex's rules (unknown codes fall back to its defaults).

    Returns:
        (character offset in ``text``, sentence) pairs; sentences are stripped, with runs of
        whitespace inside collapsed, and never empty.
    """
    import sentencex

    pieces = [(b["start_index"], text[b["start_index"]:b["end_index"]])
              for b in sentencex.get_sentence_boundaries(lang or "en", text)
              if not b.get("is_paragraph_break")]
    pieces = _split_thai(_merge_pieces(pieces))
    out = []
    for start, piece in pieces:
        clean = _collapse(piece)
        if clean:
            out.append((start + len(piece) - len(piece.lstrip()), clean))
    return out


def _collapse(text: str) -> str:
    """Strips the ends; a run of spaces becomes one space; a soft line break becomes a space,
    or nothing between Chinese or Japanese characters."""
    text = text.strip()

    def one(match: re.Match) -> str:
        if "\n" not in match.group(0) and "\r" not in match.group(0):
            return " "
        pair = join_texts([text[match.start() - 1], text[match.end()]])
        return " " if len(pair) == 3 else ""

    return _SPACES.sub(one, text)


def _line_of(offsets: list[int], lines: list[int], pos: int) -> int:
    """The input line holding character ``pos`` of a paragraph joined from ``lines``."""
    return lines[bisect.bisect_right(offsets, pos) - 1]


def check_lang(value: str | None, name: str = "lang") -> str | None:
    """A language code given by the user, checked: None for none (detect).

    Args:
        value: The code ("en", "pt-BR", "zh_Hant"), or None / "" / spaces for none.
        name: The parameter, for the message ("--src-lang", "source_lang").

    Returns:
        The code, stripped; ValueError naming ``name`` for anything that is not one (over 35
        characters, or not letters then optional "-" subtags).
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a language code such as en, de or pt-BR, "
                         f"got {type(value).__name__}")
    code = value.strip()
    if not code:
        return None
    if len(code) > MAX_LANG_CHARS or not _LANG_CODE.fullmatch(code):
        shown = code if len(code) <= 40 else code[:40] + "…"
        raise ValueError(f"{name} must be a language code such as en, de or pt-BR (2 to 8 "
                         f"letters, then optional -subtags; at most {MAX_LANG_CHARS} "
                         f"characters), got {shown!r}; leave it empty to detect the language")
    return code


def _detect(text: str, lang: str | None) -> tuple[str, bool]:
    from e5ui import langid

    if lang and langid.normalise_code(lang):
        return langid.normalise_code(lang), False
    return langid.detect([text[:DETECT_CHARS]])[0], True


def _listed(items: list[str]) -> str:
    more = "" if len(items) <= _SHOWN else f" and {len(items) - _SHOWN} more"
    return ", ".join(items[:_SHOWN]) + more


def _tidy_lines(lines: list[str]) -> list[int]:
    """Cleans the lines in place as ``textio`` cleans every input line (``textio.tidy``: a
    line only of whitespace and zero-width characters becomes blank); returns the 0-based
    lines whose characters were replaced."""
    changed = []
    for k, line in enumerate(lines):
        text, replaced = textio.tidy(line)
        if replaced:
            changed.append(k)
        if replaced or not text:
            lines[k] = text  # an unchanged line keeps its indentation ("    # code")
    return changed


def split_document(text: str, lang: str | None = None, mode: str = "split",
                   source: str = "<input>") -> Document:
    """Splits a document into sentences, keeping paragraphs and where each sentence came from.

    Args:
        text: The document (pasted or read from a file).
        lang: Its language code; None or "": detect.
        mode: ``"split"`` (sentence splitting) or ``"lines"`` (one sentence per line).
        source: A name for messages.

    Returns:
        The Document. ValueError when there is no text at all, or for binary content.
    """
    if mode not in MODES:
        raise ValueError(f"Unknown mode: {mode}. Must be one of: {', '.join(MODES)}")
    if not isinstance(text, str):
        raise ValueError(f"{source}: expected text, got {type(text).__name__}")
    if "\x00" in text:
        raise ValueError(f"{source} looks like a binary file, not text")
    lang = check_lang(lang)
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise ValueError(f"{source} is empty: it holds no text, only whitespace")
    # Only \n (and \r\n) end a line, as everywhere in e5ui: str.splitlines would also split
    # at form feeds, U+2028 and the like, and shift every line number after them.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and not lines[-1]:
        lines.pop()  # the line break that ends the last line opens none
    changed = _tidy_lines(lines)
    if changed:
        text = "\n".join(lines)
        if not text.strip():
            raise ValueError(f"{source} is empty: it holds no text, only whitespace and "
                             "control characters")
    code, detected = _detect(text, lang)
    groups = _paragraphs(lines)
    sentences: list[str] = []
    paragraphs: list[int] = []
    starts: list[int] = []
    for p, group in enumerate(groups):
        if mode == "lines":
            found = [(k, " ".join(lines[k].split())) for k in group]
        else:
            found = _split_paragraph(lines, group, code)
        for line_no, sentence in found:
            sentences.append(sentence)
            paragraphs.append(p)
            starts.append(line_no)
    if not sentences:
        raise ValueError(f"{source} holds no sentences")
    notes = _notes(lines, groups, sentences, code, detected, mode, source)
    if changed:
        notes.append(
            f"{source}: {len(changed)} line(s) held control or separator characters (form "
            "feed, vertical tab, U+2028, a bare carriage return, ...), each replaced by a "
            "space, or characters no file can hold (a lone surrogate, U+FFFE, U+FFFF), each "
            "replaced by U+FFFD (stray byte-order marks removed): line(s) "
            f"{_listed([str(k + 1) for k in changed])}")
    logger.debug("%s: %d sentences in %d paragraphs (%s, %s)", source, len(sentences),
                 len(groups), code, mode)
    return Document(sentences, paragraphs, starts, code, detected, mode, source, notes)


def _split_paragraph(lines: list[str], group: list[int], lang: str) -> list[tuple[int, str]]:
    """Sentences of one paragraph with the input line each starts on."""
    offsets, pos = [], 0
    for k in group:
        offsets.append(pos)
        pos += len(lines[k]) + 1
    joined = "\n".join(lines[k] for k in group)
    return [(_line_of(offsets, group, start), sentence)
            for start, sentence in split_sentences(joined, lang)]


def _notes(lines: list[str], groups: list[list[int]], sentences: list[str], lang: str,
           detected: bool, mode: str, source: str) -> list[str]:
    notes = []
    blank = sum(1 for line in lines if not line.strip())
    if mode == "lines" and blank:
        notes.append(f"{source}: skipped {blank} blank line(s); they separate paragraphs")
    how = "detected" if detected else "given"
    notes.append(f"{source}: {len(sentences)} sentence(s) in {len(groups)} paragraph(s), "
                 f"language {lang} ({how})")
    return notes


def cut_long(doc: Document, max_chars: int, what: str | None = None) -> Document:
    """The document with every sentence longer than ``max_chars`` cut to its first
    ``max_chars`` characters and a note naming each, as the app cuts every other text
    (``textio.read_input(..., cut=True)``).

    Args:
        doc: The document.
        max_chars: The most characters of one sentence.
        what: The side, for the note ("the source"); default: the document's source.

    Returns:
        The document (a new one when a sentence was cut).
    """
    long = [i for i, s in enumerate(doc.sentences) if len(s) > max_chars]
    if not long:
        return doc
    sentences = list(doc.sentences)
    for i in long:
        sentences[i] = sentences[i][:max_chars].rstrip()
    listed = _listed([f"sentence {i} ({doc.where(i)})" for i in long])
    note = (f"{what or doc.source}: {len(long)} sentence(s) longer than {max_chars} characters "
            f"were cut to their first {max_chars}: {listed}")
    return replace(doc, sentences=sentences, notes=[*doc.notes, note])


def check_pair(source: Document, target: Document) -> None:
    """ValueError when two documents cannot be a document and its translation.

    Args:
        source: The source side.
        target: The target side.
    """
    a = sum(len(s) for s in source.sentences)
    b = sum(len(s) for s in target.sentences)
    longer, shorter = (source, target) if a >= b else (target, source)
    if max(a, b) > MAX_LENGTH_RATIO * max(min(a, b), 1):
        raise ValueError(
            f"{longer.source} is {max(a, b) / max(min(a, b), 1):.0f} times longer than "
            f"{shorter.source} ({max(a, b)} vs {min(a, b)} characters): they cannot be a "
            f"document and its translation")


def split_pair(source_text: str, target_text: str, *, source_lang: str | None = None,
               target_lang: str | None = None, mode: str = "split",
               source_name: str = "source", target_name: str = "target"
               ) -> tuple[Document, Document]:
    """Splits a document and its translation, and checks that they can be aligned.

    Args:
        source_text: The source document.
        target_text: The target document.
        source_lang: The source's language code; None: detect.
        target_lang: The target's language code; None: detect.
        mode: ``"split"`` or ``"lines"`` (both sides alike).
        source_name: A name for messages about the source.
        target_name: A name for messages about the target.

    Returns:
        (source, target) Documents. ValueError (a message for the user) for an empty or
        whitespace-only side, binary content, or one side 100x longer than the other.
    """
    source = split_document(source_text, source_lang, mode, source_name)
    target = split_document(target_text, target_lang, mode, target_name)
    check_pair(source, target)
    return source, target
