"""Reading and validating inputs; writing exports.

Inputs: ``.txt`` is one text per line (UTF-8, a BOM is tolerated); ``.csv`` / ``.tsv`` have a
header row with a ``text`` column and optional ``label``, ``lang`` and ``id`` columns. Blank
lines and empty cells are never dropped silently: they are skipped and listed in
``Corpus.skipped``, and every text remembers its row in ``Corpus.rows`` so results can point
back at the user's file.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

TEXT_SUFFIXES = (".txt",)
TABLE_SUFFIXES = {".csv": ",", ".tsv": "\t"}
OPTIONAL_COLUMNS = ("label", "lang", "id")
MAX_INPUT_BYTES = 200 * 2**20


@dataclass
class Corpus:
    """Texts with optional labels, languages and ids, and where each came from.

    Attributes:
        texts: the non-empty texts, in file order.
        labels, langs, ids: per-text values from the optional columns (None when absent;
            "" where a row left the cell empty).
        rows: 0-based line (``.txt``) or data-row (tables) number of each text.
        skipped: 0-based rows that were blank and therefore not read as texts.
        source: the file name, or "<input>" for pasted text.
    """

    texts: list[str]
    labels: list[str] | None = None
    langs: list[str] | None = None
    ids: list[str] | None = None
    rows: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    source: str = "<input>"
    table: bool = False

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def unit(self) -> str:
        """What a row number counts: "row" (data rows of a table) or "line"."""
        return "row" if self.table else "line"

    def where(self, index: int) -> str:
        """Where text ``index`` came from, for messages: "line 7" / "row 3" (1-based)."""
        return f"{self.unit} {self.rows[index] + 1}"

    def names(self) -> list[str]:
        """A short name per text: its ``id``, else its ``label``, else its 1-based row."""
        return [
            (self.ids[i] if self.ids and self.ids[i] else
             self.labels[i] if self.labels and self.labels[i] else str(self.rows[i] + 1))
            for i in range(len(self.texts))
        ]

    def notes(self) -> list[str]:
        """Returns user-facing remarks about what was read (blank rows skipped, ...)."""
        if not self.skipped:
            return []
        shown = ", ".join(str(r + 1) for r in self.skipped[:10])
        more = "" if len(self.skipped) <= 10 else f" and {len(self.skipped) - 10} more"
        return [f"{self.source}: skipped {len(self.skipped)} blank {self.unit}(s): "
                f"{shown}{more}"]


def _decode(data: bytes, source: str) -> str:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValueError(
            f"{source} is not UTF-8 text (invalid byte at line {line}); save it as UTF-8"
        ) from None
    if "\x00" in text:
        raise ValueError(f"{source} looks like a binary file, not text")
    return text


def parse_lines(text: str, source: str = "<input>") -> Corpus:
    """Reads one text per line; blank lines are skipped and recorded.

    Args:
        text: the whole input (pasted or read from a file).
        source: a name for messages.

    Returns:
        The corpus.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = text.splitlines()
    texts, rows, skipped = [], [], []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped:
            texts.append(stripped)
            rows.append(i)
        else:
            skipped.append(i)
    return Corpus(texts, rows=rows, skipped=skipped, source=source)


def parse_table(text: str, delimiter: str, source: str = "<input>") -> Corpus:
    """Reads a CSV/TSV table with a header row and a ``text`` column.

    Args:
        text: the table's content.
        delimiter: "," or a tab.
        source: a name for messages.

    Returns:
        The corpus, with labels / langs / ids when those columns exist.
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise ValueError(f"{source} is empty") from None
    except csv.Error as exc:
        raise ValueError(f"{source}: cannot read the header row: {exc}") from None
    names = [h.strip().lower() for h in header]
    if "text" not in names:
        kind = "TSV" if delimiter == "\t" else "CSV"
        raise ValueError(
            f"{source}: a {kind} file needs a 'text' column in its header row; "
            f"found: {', '.join(repr(h) for h in header) or 'nothing'}"
        )
    col = {name: names.index(name) for name in ("text", *OPTIONAL_COLUMNS) if name in names}
    texts, rows, skipped = [], [], []
    extra: dict[str, list[str]] = {name: [] for name in OPTIONAL_COLUMNS if name in col}
    try:
        for row_no, row in enumerate(reader):
            if not any(cell.strip() for cell in row):
                skipped.append(row_no)
                continue
            if len(row) < len(header):
                row = row + [""] * (len(header) - len(row))
            elif len(row) > len(header):
                raise ValueError(
                    f"{source}: data row {row_no + 1} has {len(row)} fields but the header has "
                    f"{len(header)} (an unquoted delimiter inside a text?)"
                )
            value = row[col["text"]].strip()
            if not value:
                skipped.append(row_no)
                continue
            texts.append(value)
            rows.append(row_no)
            for name in extra:
                extra[name].append(row[col[name]].strip())
    except csv.Error as exc:
        raise ValueError(f"{source}: malformed table near line {reader.line_num}: {exc}") from None
    return Corpus(
        texts,
        labels=extra.get("label"),
        langs=extra.get("lang"),
        ids=extra.get("id"),
        rows=rows,
        skipped=skipped,
        source=source,
        table=True,
    )


def parse_text(text: str, suffix: str = ".txt", source: str = "<input>") -> Corpus:
    """Parses content by file type (".txt", ".csv" or ".tsv")."""
    suffix = suffix.lower()
    if suffix in TABLE_SUFFIXES:
        return parse_table(text, TABLE_SUFFIXES[suffix], source)
    if suffix in TEXT_SUFFIXES or suffix == "":
        return parse_lines(text, source)
    raise ValueError(
        f"Unsupported file type {suffix!r} for {source}. Must be one of: .txt, .csv, .tsv"
    )


def read_texts(path: str | Path) -> Corpus:
    """Reads a ``.txt`` / ``.csv`` / ``.tsv`` input file.

    Args:
        path: the file.

    Returns:
        The corpus; ValueError with a one-line reason for anything unreadable.
    """
    path = Path(path)
    if not path.exists():
        raise ValueError(f"No such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a text file")
    if path.stat().st_size > MAX_INPUT_BYTES:
        raise ValueError(f"{path} is larger than {MAX_INPUT_BYTES // 2**20} MB")
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES and suffix not in TABLE_SUFFIXES:
        raise ValueError(
            f"Unsupported file type {path.suffix or '(none)'!r} for {path.name}. "
            "Must be one of: .txt, .csv, .tsv"
        )
    return parse_text(_decode(path.read_bytes(), path.name), suffix, path.name)


def require_texts(corpus: Corpus, what: str = "input") -> Corpus:
    """Raises ValueError when a corpus holds no text at all."""
    if not corpus.texts:
        raise ValueError(f"The {what} ({corpus.source}) contains no text")
    return corpus


def read_input(text: str | None, file: str | None, what: str, limit: int, max_chars: int
               ) -> Corpus:
    """Reads texts from an uploaded file (if any) or a text box (one text per line), within
    the app's limits.

    Args:
        text: the text box's content.
        file: the path of an uploaded file, or None.
        what: what the input is, for messages ("text list", "corpus", ...).
        limit: the most texts accepted.
        max_chars: the most characters one text may have.

    Returns:
        The corpus.

    Raises:
        ValueError: with a message for the user when there is nothing usable.
    """
    corpus = read_texts(file) if file else parse_lines(text or "", source=what)
    if not corpus.texts:
        raise ValueError(f"The {what} is empty: type one text per line or upload a file")
    if len(corpus) > limit:
        raise ValueError(f"The {what} has {len(corpus)} texts; this view takes at most {limit}")
    too_long = [i for i, t in enumerate(corpus.texts) if len(t) > max_chars]
    if too_long:
        raise ValueError(
            f"The {what} has text(s) over {max_chars} characters ({corpus.where(too_long[0])}); "
            "split long documents into paragraphs"
        )
    return corpus


# -- exports ---------------------------------------------------------------------------------
def write_npy(path: str | Path, embeddings: np.ndarray) -> Path:
    """Writes a float32 .npy file."""
    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise ValueError(f"Embeddings are written as .npy, not {path.suffix or '(none)'!r}")
    np.save(path, np.asarray(embeddings, dtype=np.float32))
    return path


def _table_writer(handle, suffix: str):
    return csv.writer(handle, delimiter="\t" if suffix == ".tsv" else ",", lineterminator="\n")


def _suffix(path: Path, allowed: tuple[str, ...]) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise ValueError(
            f"Cannot write {path.name}: the file type must be one of {', '.join(allowed)}"
        )
    return suffix


def write_matrix(path: str | Path, matrix: np.ndarray, labels: list[str]) -> Path:
    """Writes a square similarity matrix as CSV/TSV with the labels as header row and column."""
    path = Path(path)
    suffix = _suffix(path, (".csv", ".tsv"))
    if matrix.shape != (len(labels), len(labels)):
        raise ValueError(f"matrix {matrix.shape} does not fit {len(labels)} labels")
    with path.open("w", encoding="utf-8", newline="") as f:
        w = _table_writer(f, suffix)
        w.writerow(["", *labels])
        for label, row in zip(labels, matrix):
            w.writerow([label, *(f"{v:.6f}" for v in row)])
    return path


def _cell(value) -> str:
    """One exported cell: floats with 6 decimals (NaN and None empty), everything else as str."""
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return "" if value != value else f"{value:.6f}"
    return str(value)


def write_rows(path: str | Path, header: list[str], rows: list[list]) -> Path:
    """Writes a table as CSV or TSV by the file's suffix (every table e5ui exports goes through
    here: floats with 6 decimals, None and NaN as empty cells)."""
    path = Path(path)
    suffix = _suffix(path, (".csv", ".tsv"))
    with path.open("w", encoding="utf-8", newline="") as f:
        w = _table_writer(f, suffix)
        w.writerow(header)
        w.writerows([_cell(v) for v in row] for row in rows)
    return path


PAIR_HEADER = ["src_index", "tgt_index", "score", "cosine", "source", "target"]


def pair_rows(result, source: Corpus, target: Corpus) -> list[list]:
    """Rows of the pairs table: 0-based line numbers into the input files, scores, texts."""
    return [
        [source.rows[p.src], target.rows[p.tgt], p.score, p.cosine, source.texts[p.src],
         target.texts[p.tgt]]
        for p in result.pairs
    ]


def write_tmx(
    path: str | Path,
    result,
    source: Corpus,
    target: Corpus,
    src_langs: list[str],
    tgt_langs: list[str],
) -> Path:
    """Writes matched pairs as TMX 1.4 (the translation-memory exchange standard).

    Args:
        path: the .tmx file.
        result: a ``bitext.Matching``.
        source, target: the corpora the pairs index into.
        src_langs, tgt_langs: a language code per sentence (xml:lang of each segment).

    Returns:
        The path.
    """
    import xml.etree.ElementTree as ET

    from e5ui import __version__

    path = Path(path)
    _suffix(path, (".tmx",))
    srclang = max(set(src_langs), key=src_langs.count) if src_langs else "und"
    root = ET.Element("tmx", version="1.4")
    ET.SubElement(
        root, "header", creationtool="e5ui", creationtoolversion=__version__,
        segtype="sentence", adminlang="en", srclang=srclang, datatype="plaintext",
        **{"o-tmf": "e5ui"},
    )
    body = ET.SubElement(root, "body")
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    for p in result.pairs:
        tu = ET.SubElement(body, "tu")
        ET.SubElement(tu, "prop", type="x-score").text = f"{p.score:.6f}"
        ET.SubElement(tu, "prop", type="x-cosine").text = f"{p.cosine:.6f}"
        ET.SubElement(tu, "prop", type="x-source-line").text = str(source.rows[p.src])
        ET.SubElement(tu, "prop", type="x-target-line").text = str(target.rows[p.tgt])
        for lang, text in ((src_langs[p.src], source.texts[p.src]),
                           (tgt_langs[p.tgt], target.texts[p.tgt])):
            tuv = ET.SubElement(tu, "tuv", {xml_lang: lang or "und"})
            ET.SubElement(tuv, "seg").text = text
    ET.indent(root)
    tree = ET.ElementTree(root)
    with path.open("wb") as f:
        f.write(b'<?xml version="1.0" encoding="UTF-8"?>\n')
        f.write(b'<!DOCTYPE tmx SYSTEM "tmx14.dtd">\n')
        tree.write(f, encoding="utf-8", xml_declaration=False)
        f.write(b"\n")
    return path


def write_pairs(path: str | Path, result, source: Corpus, target: Corpus,
                src_langs: list[str] | None = None, tgt_langs: list[str] | None = None) -> Path:
    """Writes bitext pairs as .tsv / .csv (DESIGN.md header) or .tmx (which needs a language
    code per sentence) by the file's suffix."""
    path = Path(path)
    suffix = _suffix(path, (".tsv", ".csv", ".tmx"))
    if suffix == ".tmx":
        if src_langs is None or tgt_langs is None:
            raise ValueError("A TMX file needs the language of every sentence")
        return write_tmx(path, result, source, target, src_langs, tgt_langs)
    return write_rows(path, PAIR_HEADER, pair_rows(result, source, target))


def read_gold(path: str | Path) -> list[tuple[int, int]]:
    """Reads gold pairs: a TSV/CSV with ``src_index`` and ``tgt_index`` columns (0-based line
    numbers into SOURCE and TARGET), or two integer columns without a header."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No such gold file: {path}")
    text = _decode(path.read_bytes(), path.name)
    delimiter = "," if path.suffix.lower() == ".csv" else "\t"
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter) if any(c.strip()
                                                                                for c in r)]
    if not rows:
        raise ValueError(f"{path.name} holds no gold pairs")
    header = [c.strip().lower() for c in rows[0]]
    if "src_index" in header and "tgt_index" in header:
        i, j = header.index("src_index"), header.index("tgt_index")
        rows = rows[1:]
    else:
        i, j = 0, 1
    gold = []
    for n, row in enumerate(rows, start=1):
        try:
            gold.append((int(row[i]), int(row[j])))
        except (ValueError, IndexError):
            raise ValueError(
                f"{path.name}: gold row {n} is not two 0-based line numbers: {row!r}"
            ) from None
    return gold
