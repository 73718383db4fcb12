"""TMX 1.4, the translation-memory exchange standard: ``write_tmx_units`` writes translation
units (a view builds them: bitext's pairs, align's links) exactly, without the formula prefixes
of the tables, since a translation memory is not a spreadsheet. ElementTree writes the XML."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from e5ui._version import __version__
from e5ui.textio.tables import _suffix

# Characters XML 1.0 cannot hold; texts read by textio never contain them (they became
# spaces or U+FFFD), so this only guards corpora built by hand.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


@dataclass(frozen=True)
class TranslationUnit:
    """One ``<tu>`` of a TMX file: its properties and its segments, (language, text) each."""

    props: tuple[tuple[str, str], ...]
    segments: tuple[tuple[str, str], ...]


def write_tmx_units(path: str | Path, units: Iterable[TranslationUnit], srclang: str) -> Path:
    """Writes translation units as TMX 1.4 (the translation-memory exchange standard),
    exactly (no formula prefixes: a translation memory is not a spreadsheet).

    Args:
        path: the .tmx file.
        units: the units, in order.
        srclang: the header's source language.

    Returns:
        The path.
    """
    path = Path(path)
    _suffix(path, (".tmx",))
    root = ET.Element("tmx", version="1.4")
    ET.SubElement(
        root, "header", creationtool="e5ui", creationtoolversion=__version__,
        segtype="sentence", adminlang="en", srclang=_xml_safe(srclang) or "und",
        datatype="plaintext", **{"o-tmf": "e5ui"},
    )
    body = ET.SubElement(root, "body")
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    for unit in units:
        tu = ET.SubElement(body, "tu")
        for name, value in unit.props:
            ET.SubElement(tu, "prop", type=name).text = value
        for lang, text in unit.segments:
            tuv = ET.SubElement(tu, "tuv", {xml_lang: _xml_safe(lang) or "und"})
            ET.SubElement(tuv, "seg").text = _xml_safe(text)
    ET.indent(root)
    tree = ET.ElementTree(root)
    with path.open("wb") as f:
        f.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        f.write(b'<!DOCTYPE tmx SYSTEM "tmx14.dtd">\n')
        tree.write(f, encoding="utf-8", xml_declaration=False)
        f.write(b"\n")
    return path


def majority(codes: list[str]) -> str:
    """The most common language code ("und" for none): a TMX header's source language."""
    return max(set(codes), key=codes.count) if codes else "und"

