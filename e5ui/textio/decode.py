"""Bytes into clean lines: the one decoding every input goes through.

Files are UTF-8 (a byte-order mark is tolerated); UTF-16 and UTF-32 files with a byte-order
mark are decoded too; UTF-16 without one and binary files are refused by name. Files are read
as a stream in ``CHUNK_BYTES`` pieces and reading stops as soon as a byte limit is passed.
Only ``\\n`` and ``\\r\\n`` end a line (``_split_lines``), so line numbers match ``wc -l``;
``tidy`` cleans one line or cell as every reader does (see ``e5ui.textio``'s rules).

The codecs module decodes; what is ours is the line rule (str.splitlines and io's universal
newlines also break at U+2028, ``\\f``, a bare ``\\r`` ...) and an error that names the line.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

MAX_INPUT_BYTES = 200 * 2**20
# Bytes read at a time: stopping at a limit then holds at most this much undecoded text.
CHUNK_BYTES = 256 * 2**10

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
# What str.strip() removes (str.isspace), spelled out so it can be combined with ZERO_WIDTH.
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
              "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_EDGES = WHITESPACE + ZERO_WIDTH
# Inside a text: C0 controls but tab and newline, DEL, C1 controls (NEL among them), and the
# line/paragraph separators become spaces; U+FEFF goes; lone surrogates (which UTF-8 cannot
# encode) and U+FFFE/U+FFFF (which XML cannot hold) become U+FFFD.
_SPECIAL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ud800-\udfff\ufffe\uffff]")
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_ASCII_PLAIN = bytes(b for b in range(128) if b in (9, 10) or 32 <= b < 127)
_SURROGATE = re.compile("[\ud800-\udfff]")
_UNENCODABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")
# Longest BOMs first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


def _size(n: int) -> str:
    """A byte count for messages: "200 MB", "1 KB", "1000-byte"."""
    if n >= 2**20 and n % 2**20 == 0:
        return f"{n // 2**20} MB"
    if n >= 2**10 and n % 2**10 == 0:
        return f"{n // 2**10} KB"
    return f"{n}-byte"


def _too_large(source: str, max_bytes: int) -> ValueError:
    return ValueError(f"{source} is larger than the {_size(max_bytes)} limit for input files; "
                      "split it into smaller files")



def read_chunks(handle: IO[bytes], source: str, max_bytes: int | None = MAX_INPUT_BYTES
                ) -> Iterator[bytes]:
    """Yields an open binary file's bytes in chunks, never reading past the limit.

    Args:
        handle: the file (or pipe) opened for reading bytes.
        source: its name, for messages.
        max_bytes: the most bytes accepted; None for no limit.

    Returns:
        An iterator of chunks; it raises ValueError as soon as the file passes ``max_bytes``
        (having read at most one byte more).
    """
    total = 0
    while True:
        want = CHUNK_BYTES if max_bytes is None else min(CHUNK_BYTES, max_bytes + 1 - total)
        data = handle.read(want)
        if not data:
            return
        total += len(data)
        if max_bytes is not None and total > max_bytes:
            raise _too_large(source, max_bytes)
        yield data


def _looks_utf16(data: bytes) -> bool:
    """NUL bytes on only one side of each byte pair: UTF-16 text (mostly Latin) without a BOM."""
    even, odd = data[0::2].count(0), data[1::2].count(0)
    return len(data) >= 4 and min(even, odd) == 0 and max(even, odd) >= len(data) // 4


class _Decoder:
    """Decodes byte chunks (UTF-8, or UTF-16/32 by their BOM) into text chunks; errors name the
    line. ``label`` says the encoding once iteration has begun."""

    def __init__(self, chunks: Iterable[bytes], source: str):
        self.chunks, self.source, self.label = chunks, source, "UTF-8"

    def __iter__(self) -> Iterator[str]:
        chunks = iter(self.chunks)
        head = b""
        for chunk in chunks:  # a BOM may straddle tiny chunks
            head += chunk
            if len(head) >= 4:
                break
        encoding = "utf-8"
        for bom, name, label in _BOMS:
            if head.startswith(bom):
                encoding, self.label, head = name, label, head[len(bom):]
                break
        else:
            if b"\x00" in head:
                if _looks_utf16(head):
                    raise ValueError(f"{self.source} looks like UTF-16 without a byte-order "
                                     "mark; save it as UTF-8")
                raise ValueError(f"{self.source} looks like a binary file, not text")
        decoder = codecs.getincrementaldecoder(encoding)("strict")
        lines = 0  # line breaks decoded so far, for error messages
        for data in _prepend(head, chunks):
            text = self._decode(decoder, data, encoding, lines, final=False)
            lines += text.count("\n")
            yield text
        yield self._decode(decoder, b"", encoding, lines, final=True)

    def _decode(self, decoder: Any, data: bytes, encoding: str, lines: int, final: bool) -> str:
        pending = decoder.buffer
        try:
            text = decoder.decode(data, final=final)
        except UnicodeDecodeError as exc:
            # exc.start counts from the decoder's buffered bytes, then this chunk.
            good = (pending + data)[: exc.start].decode(encoding, "replace")
            line = lines + good.count("\n") + 1
            if self.label == "UTF-8":
                msg = f"is not UTF-8 text (invalid byte at line {line}); save it as UTF-8"
            else:
                msg = (f"is not valid {self.label} text (invalid data at line {line}); "
                       "save it as UTF-8")
            raise ValueError(f"{self.source} {msg}") from None
        if "\x00" in text:
            raise ValueError(f"{self.source} looks like a binary file, not text")
        return text


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _may_change(chunk: str) -> bool:
    """Whether a chunk holds a character ``_tidy`` replaces (ASCII, the common case, is checked
    8x faster by deleting the printable bytes than by a regex)."""
    if chunk.isascii():
        return bool(chunk.encode("ascii").translate(None, _ASCII_PLAIN))
    return _SPECIAL.search(chunk) is not None


def _split_lines(chunks: Iterable[str]) -> Iterator[tuple[list[str], bool]]:
    """Physical lines of decoded text, in batches: only "\\n" ends a line (the "\\r" of
    "\\r\\n" is dropped); nothing else splits one, unlike str.splitlines. With each batch:
    whether it may hold a character ``_tidy`` replaces (checked per chunk, not per line)."""
    pending: list[str] = []  # a line still open across chunks (joined once, not per chunk)
    pending_special = False
    carry = ""  # a CR at a chunk's end, which may be the start of CR LF
    for chunk in chunks:
        chunk = carry + chunk if carry else chunk
        carry = "\r" if chunk.endswith("\r") else ""
        chunk = (chunk[:-1] if carry else chunk).replace("\r\n", "\n")
        special = _may_change(chunk)
        parts = chunk.split("\n")
        if len(parts) == 1:
            if chunk:
                pending.append(chunk)
                pending_special = pending_special or special
            continue
        if pending:
            pending.append(parts[0])
            parts[0] = "".join(pending)
        last = parts.pop()
        yield parts, special or pending_special
        pending, pending_special = ([last], special) if last else ([], False)
    if pending or carry:  # a last line without LF (a CR at the very end ends it too)
        yield ["".join(pending)], pending_special


def _tidy(raw: str) -> tuple[str, bool]:
    """A line's or cell's text: trimmed of whitespace and zero-width characters at its ends ("" if
    nothing else is left), controls and separators inside it replaced; and whether any were."""
    text = raw.strip(_EDGES)
    if not text or _SPECIAL.search(text) is None:
        return text, False
    cleaned = _UNENCODABLE.sub("\ufffd", _CONTROL.sub(" ", text.replace("\ufeff", "")))
    return cleaned.strip(_EDGES), True


def tidy(raw: str) -> tuple[str, bool]:
    """One line of input as every reader cleans it (see ``e5ui.textio``'s rules), for
    readers of other formats (``segment``'s documents).

    Args:
        raw: the line, without its line break.

    Returns:
        (text, changed): the text trimmed of whitespace and zero-width characters at its ends
        ("" for a blank line), controls and separators inside it made spaces, stray byte-order
        marks removed, lone surrogates and U+FFFE/U+FFFF made U+FFFD; and whether any
        character was replaced.
    """
    return _tidy(raw)



def _checked_path(path: str | Path, max_bytes: int | None) -> Path:
    path = Path(path)
    if not path.exists():
        raise ValueError(f"No such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a text file")
    # A regular file's size is known: refuse it before reading a byte (pipes are counted).
    if max_bytes is not None and path.stat().st_size > max_bytes:
        raise _too_large(path.name, max_bytes)
    return path



@contextmanager
def _decoded(path: Path, max_bytes: int | None) -> Iterator[_Decoder]:
    """A checked file opened and decoded as every input is, closed on leaving: iterate for
    text chunks; ``label`` then names the encoding."""
    with path.open("rb") as handle:
        yield _Decoder(read_chunks(handle, path.name, max_bytes), path.name)


def read_whole(path: str | Path, *, max_bytes: int | None = MAX_INPUT_BYTES) -> tuple[str, str]:
    """A whole file's text, decoded as inputs are: UTF-8 (a BOM dropped), or UTF-16/32 by its
    byte-order mark; binary content and invalid bytes refused with the line; reading stops as
    soon as ``max_bytes`` is passed.

    Args:
        path: the file.
        max_bytes: the most bytes read; None for no limit.

    Returns:
        (text, encoding): the text and the encoding it was read in ("UTF-8", "UTF-16", ...).
    """
    path = _checked_path(path, max_bytes)
    with _decoded(path, max_bytes) as decoder:
        return "".join(decoder), decoder.label

