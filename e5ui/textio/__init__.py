"""Reading and validating inputs; writing exports.

Inputs: ``.txt`` is one text per line; ``.csv`` / ``.tsv`` have a header row with a ``text``
column and optional ``label``, ``lang`` and ``id`` columns; ``.jsonl`` is one JSON object per
line with those keys; ``.parquet`` has columns of those names. ``read_texts(..., text_column=,
lang_column=, label_column=, id_column=)`` reads other columns (matched exactly, else ignoring
case); a missing one is refused with the file's columns listed. Text files are UTF-8 (a
byte-order mark is tolerated); UTF-16 and UTF-32 files with a byte-order mark are decoded too.
Files are read as a stream and reading stops as soon as a byte or text limit is passed (a
Parquet file: its size is checked whole, then it is read batch by batch).

How inputs are read, exactly:

- Only ``\\n`` and ``\\r\\n`` end a line, so line numbers match ``wc -l``, ``sed -n`` and any
  0-based gold file. Every other break or control character inside a line (``\\f``, ``\\v``,
  ``\\x1c``-``\\x1f``, ``\\x85``, U+2028, U+2029, a bare ``\\r``, other C0/C1 controls) becomes a
  space, a byte-order mark inside a text is removed, and a note counts the texts so changed.
- A line or cell that holds nothing but whitespace and zero-width characters (U+200B, U+200C,
  U+200D, U+2060, U+FEFF) is blank. Blank lines and empty cells are never dropped silently:
  they are skipped and listed in ``Corpus.skipped``, and every text remembers its row in
  ``Corpus.rows`` so results can point back at the user's file. Zero-width joiners inside a
  text are kept (Persian, Indic scripts and emoji need them).
- Tables follow RFC 4180 quoting, strictly: a cell is quoted only when it opens with ``"`` and
  closes with a ``"`` followed by the delimiter or the end of its line (inner quotes doubled).
  Any other quote is text, so a TSV with a stray quote is read row by row. A quoted cell may
  span lines (a text with a line break, as spreadsheets and e5ui's exports write it); a note
  names each such row, so rows are never merged silently.
- JSON Lines: blank lines are skipped and listed like a ``.txt`` file's, and a row is the
  0-based line; a line that is not a JSON object is refused by its 1-based number. Texts and
  ``lang`` must be strings; ``id`` and ``label`` may be numbers (written as JSON wrote them);
  ``null`` or a missing key is an empty cell.
- Parquet: only the columns read are decoded (an ``embedding`` column is never read); texts
  and ``lang`` must be string columns, ``id`` and ``label`` string or integer ones; a null is
  an empty cell; a row is the 0-based data row. Cells of both are tidied as table cells are.
- Gold files (``read_links`` for align, ``read_gold`` for bitext) are tables read by the same
  rules, through one reader: each index is checked against the documents, a file holds at
  most as many links as the documents have sentences, and every error names the line.

Exports: ``write_rows`` is the one CSV/TSV writer (``write_matrix`` and the Embedding
Projector's ``metadata.tsv`` share its cell rules): text cells that start with ``=``, ``+``,
``-``, ``@``, a tab, ``\\r`` or ``\\n`` get a leading ``'`` (OWASP's advice against formula
injection); numbers stay numbers; cells holding the delimiter, a quote, ``\\r`` or ``\\n`` are
quoted. NPY, Parquet and TMX exports are exact.

One concern a module, each importing only the ones below it:

- ``decode``: bytes into lines (BOMs, UTF-8/16/32, byte limits, the line rule, ``tidy``).
- ``corpus``: ``Corpus``, what an input is once read, and its notes.
- ``records``: the RFC 4180 record splitter every table is read with.
- ``columns``: which columns to read, the missing-column message, the record-to-corpus builder.
- ``jsonl``, ``parquet``: those formats (the json module and pyarrow parse; ours are the rules).
- ``reader``: every input file and pasted text into a ``Corpus``.
- ``gold``: gold links and pairs, read by the same decoding and records.
- ``tables``: the one CSV/TSV writer.
- ``arrays``: NPY, Parquet and the Embedding Projector pair.
- ``tmx``: TMX 1.4 translation memories.
- ``review``: a saved alignment review read back and checked against its documents.
- ``bitext_review``: a saved bitext review (mined pairs) read back and checked against its lists.
- ``vectors``: vectors made earlier read back (a Parquet ``embedding`` column, an ``.npy`` and
  the JSON beside it), with what made them (``VectorInfo``).

A view's own rows (its header, what a row holds) live with the view (``views/``); the writers
here take a header and rows.
"""

from __future__ import annotations

from e5ui.textio.arrays import write_npy, write_parquet, write_projector
from e5ui.textio.bitext_review import BITEXT_REVIEW_COLUMNS, read_bitext_review
from e5ui.textio.columns import column_choice
from e5ui.textio.corpus import Corpus, TooManyTexts
from e5ui.textio.decode import (
    CHUNK_BYTES,
    MAX_INPUT_BYTES,
    WHITESPACE,
    ZERO_WIDTH,
    read_chunks,
    read_whole,
    tidy,
)
from e5ui.textio.gold import GOLD_HEADERS, MAX_GOLD_CELL, GoldLink, read_gold, read_links
from e5ui.textio.reader import (
    OPTIONAL_COLUMNS,
    TABLE_SUFFIXES,
    TEXT_SUFFIXES,
    column_names,
    is_pasted_table,
    parse_lines,
    parse_pasted,
    parse_table,
    parse_text,
    read_input,
    read_texts,
    require_texts,
    stream_texts,
)
from e5ui.textio.records import MAX_QUOTED_LINES
from e5ui.textio.review import REVIEW_COLUMNS, read_review
from e5ui.textio.tables import (
    FORMULA_STARTS,
    MATRIX_BLOCK_CELLS,
    input_text,
    neutralise,
    write_matrix,
    write_rows,
    write_unquoted_tsv,
)
from e5ui.textio.tmx import TranslationUnit, majority, write_tmx_units
from e5ui.textio.vectors import VectorInfo, Vectors

__all__ = [
    "BITEXT_REVIEW_COLUMNS",
    "CHUNK_BYTES", "FORMULA_STARTS", "GOLD_HEADERS", "MATRIX_BLOCK_CELLS", "MAX_GOLD_CELL",
    "MAX_INPUT_BYTES", "MAX_QUOTED_LINES", "OPTIONAL_COLUMNS", "REVIEW_COLUMNS",
    "TABLE_SUFFIXES", "TEXT_SUFFIXES", "WHITESPACE", "ZERO_WIDTH", "Corpus", "GoldLink",
    "TooManyTexts", "TranslationUnit",
    "VectorInfo", "Vectors",
    "column_choice", "column_names", "input_text", "is_pasted_table", "majority", "neutralise",
    "parse_lines", "parse_pasted",
    "parse_table", "parse_text", "read_bitext_review",
    "read_chunks", "read_gold", "read_input", "read_links",
    "read_review", "read_texts", "read_whole", "require_texts", "stream_texts", "tidy",
    "write_matrix", "write_npy", "write_parquet", "write_projector", "write_rows",
    "write_tmx_units", "write_unquoted_tsv",
]
