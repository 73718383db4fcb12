"""Bring your own vectors: vectors read from a file (``textio.vectors``) stand in for the loaded
model's, through an encoder that every view already knows how to use.

``LoadedVectors`` is a ``TextEncoder``: asked for the texts the vectors belong to, it returns
them without encoding; asked for any other text (a query typed into a map, the calibration
reference set), it hands it to the loaded model — only when that model made the vectors. Whether
it did is decided once, by ``mismatch``: the recorded model (and its revision, when both sides
know a hub commit), the dimension, and that the vectors are the model's own (not centered). Vectors
of another model, or of an unknown one, are refused — or, when the caller allows them
(``allow_other``), used with calibration off: ``baselines.reference_baseline`` then returns
``Baseline.off``, so percentiles and rescaled scores are NaN (shown as "–"), and every result's
notes say so.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from e5ui import models
from e5ui.encoding.base import (
    EncodeProgress,
    EncodeResult,
    TruncationWarning,
    checked_kind,
    checked_texts,
)
from e5ui.textio import vectors as vectorio
from e5ui.textio.corpus import Corpus
from e5ui.textio.vectors import VectorInfo, Vectors

_COMMIT = re.compile(r"[0-9a-f]{40}")
# Rows read back from float32 files are unit length within ~1e-6; anything further was not
# normalised and is normalised here.
_UNIT_TOLERANCE = 1e-3


class VectorsMismatch(ValueError):
    """Vectors that are not the loaded model's, and the caller did not allow other vectors."""


def _prompt(encoder, kind: str) -> str:
    """The exact prefix ``encoder``'s model reads before a text of ``kind``."""
    fmt = getattr(encoder, "format", None)
    if fmt is not None:
        return fmt([""], kind)[0]
    style = (encoder.describe() or {}).get("prompt") or "e5"
    return models.format_input("", kind, style if style in ("e5", "instruct") else "e5")


def vector_info(encoder, kind: str, normalized: bool = True, centered: bool = False,
                dim: int | None = None) -> VectorInfo | None:
    """What to record about vectors ``encoder`` made with prompt ``kind``.

    For ``LoadedVectors`` it is what made the loaded vectors (None when that is unknown), so a
    file written from them never claims the loaded model made them.

    Args:
        encoder: the encoder.
        kind: the prompt kind.
        normalized: the rows are L2-normalised.
        centered: each language's mean was subtracted.
        dim: the vectors' dimension (None asks the encoder).

    Returns:
        The record, or None when nothing is known.
    """
    if isinstance(encoder, LoadedVectors):
        made = encoder.made_by
        if made is None:
            return None
        return replace(made, centered=made.centered or centered,
                       normalized=normalized and not centered)
    info = encoder.describe()
    revision = info.get("revision")
    return VectorInfo(str(info["model"]), None if revision is None else str(revision), kind,
                      _prompt(encoder, kind), int(dim if dim is not None else encoder.dim),
                      normalized, centered)


def _same_model(a: str, b: str) -> bool:
    """Equal ids; a server's bare name ("multilingual-e5-large") matches the hub id it
    serves ("intfloat/multilingual-e5-large")."""
    a, b = a.strip().lower(), b.strip().lower()
    if a == b:
        return True
    return ("/" not in a or "/" not in b) and a.rsplit("/", 1)[-1] == b.rsplit("/", 1)[-1]


def mismatch(vectors: Vectors, encoder) -> str | None:
    """Why ``vectors`` cannot stand for ``encoder``'s model's, or None when they can.

    Args:
        vectors: vectors read from a file.
        encoder: the loaded encoder, or None.

    Returns:
        A sentence naming both sides, or None.
    """
    info, source = vectors.info, vectors.source
    if encoder is None:
        made = info.model if info is not None else "an unknown model"
        return f"{source} was made by {made} and no model is loaded to check it against"
    loaded = encoder.describe()
    model = str(loaded["model"])
    if info is None:
        example = vector_info(encoder, "query")
        example = replace(example, dim=vectors.dim) if example is not None else None
        where = (f"no {vectorio.sidecar_path(source).name} beside it"
                 if source.lower().endswith(".npy") else "no e5ui metadata")
        return (f"{source} records no model ({where}), so e5ui cannot tell whether {model} "
                f"made its {vectors.dim}-dimensional vectors. If {model} made them with the "
                f"\"query: \" prompt, write {vectorio.sidecar_path(source).name} beside it "
                f"holding {json.dumps(example.to_dict()) if example else '{}'}")
    if info.centered:
        return (f"{source} holds language-centered vectors of {info.model} (each language's "
                "mean embedding subtracted, --center-languages), not the model's own; use a "
                "map written without centering")
    dim = int(encoder.dim)
    if info.dim != dim:
        return (f"{source} holds {info.dim}-dimensional vectors made by {info.model}; the "
                f"loaded model {model} makes {dim}-dimensional ones")
    if not _same_model(info.model, model):
        return f"{source} was made by {info.model}; the loaded model is {model}"
    theirs, ours = info.revision or "", str(loaded.get("revision") or "")
    if _COMMIT.fullmatch(theirs) and _COMMIT.fullmatch(ours) and theirs != ours:
        return (f"{source} was made by {info.model} at revision {theirs[:12]}; the loaded "
                f"model is revision {ours[:12]}")
    return None


class LoadedVectors:
    """A ``TextEncoder`` serving vectors read from a file for the texts they belong to.

    Other texts go to ``encoder`` when it made the vectors (``own``); otherwise they are
    refused, since no loaded model can put them into the vectors' space.

    Args:
        texts: the texts the vectors belong to, one per row.
        vectors: the vectors (``load_vectors``).
        encoder: the loaded encoder, or None (then every other text is refused and
            calibration is off).
        allow_other: use vectors that are not the loaded model's (another model, an unknown
            one, centered), with calibration off, instead of refusing them.

    Raises:
        VectorsMismatch: the vectors are not the loaded model's and ``allow_other`` is False.
        ValueError: as many texts as rows, or not.
    """

    def __init__(self, texts: Sequence[str], vectors: Vectors, encoder=None,
                 allow_other: bool = False):
        self.texts = checked_texts(texts)
        if len(self.texts) != len(vectors.embeddings):
            raise ValueError(f"{vectors.source} has {len(vectors.embeddings):,} rows for "
                             f"{len(self.texts):,} texts")
        self.vectors, self.encoder = vectors, encoder
        self.reason = mismatch(vectors, encoder)
        if self.reason is not None and not allow_other:
            raise VectorsMismatch(f"{self.reason}. To use them anyway, with calibration off "
                                  "(no percentiles), allow other vectors (--other-vectors)")
        self.own = self.reason is None
        self.calibrated = self.own
        self.made_by = vectors.info
        self.dim = vectors.dim
        self.max_length = getattr(encoder, "max_length", 512)
        self.model_id = (getattr(encoder, "model_id", None) or str(encoder.describe()["model"])
                         if self.own else
                         f"{self.made_by.model if self.made_by else 'unknown model'} "
                         f"(vectors of {vectors.source})")
        self._index: dict[str, int] = {}
        for i, t in enumerate(self.texts):
            self._index.setdefault(t, i)
        emb = vectors.embeddings
        norms = np.sqrt(np.einsum("ij,ij->i", emb, emb))  # no (n, d) temporary
        self._unit = bool(np.all(np.abs(norms - 1) <= _UNIT_TOLERANCE))
        self.notes: list[str] = []
        if not self.own:
            self.notes.append(f"Calibration off: {self.reason}. Percentiles and rescaled "
                              "scores need the baseline of the model that made the vectors, so "
                              "they are not shown (–); cosines are the vectors' own.")

    # -- TextEncoder ----------------------------------------------------------------------------
    def encode(self, texts: str | Sequence[str], kind: str = "query", normalize: bool = True,
               progress: EncodeProgress | None = None) -> np.ndarray:
        """float32 (n, dim) embeddings; (dim,) for a single string."""
        single = isinstance(texts, str)
        result = self.encode_detailed([texts] if single else texts, kind, normalize, progress)
        if result.truncated:
            warnings.warn(f"{len(result.truncated)} input(s) exceed {self.max_length} tokens "
                          "and were truncated", TruncationWarning, stacklevel=2)
        return result.embeddings[0] if single else result.embeddings

    def encode_detailed(self, texts: Sequence[str], kind: str = "query",
                        normalize: bool = True,
                        progress: EncodeProgress | None = None) -> EncodeResult:
        """The loaded rows for texts they belong to; other texts encoded by the loaded model
        when it made the vectors, refused otherwise."""
        texts = checked_texts(texts)
        checked_kind(kind)
        n = len(texts)
        emb = self.vectors.embeddings
        if texts == self.texts:  # the usual call: every text, in order: no copy
            out, missing = self._unit_rows(emb, normalize), []
        else:
            where = [self._index.get(t) for t in texts]
            if self.own and not self._same_prompt(kind):
                # Some of the texts, with another prompt (a corpus line typed as a query): the
                # model that made the vectors encodes them as asked.
                where = [None] * n
            missing = [i for i, w in enumerate(where) if w is None]
            if missing and not self.own:
                raise ValueError(self._refusal(texts[missing[0]]))
            out = np.empty((n, self.dim), np.float32)
            found = [i for i, w in enumerate(where) if w is not None]
            if found:
                rows = emb[np.asarray([where[i] for i in found], dtype=np.int64)]
                out[found] = self._unit_rows(rows, normalize)
        notes = list(self.notes)
        truncated, tokens = [], np.zeros(n, np.int64)
        if missing:
            fresh = self.encoder.encode_detailed([texts[i] for i in missing], kind=kind,
                                                 normalize=normalize)
            out[missing] = fresh.embeddings
            tokens[missing] = fresh.tokens if len(fresh.tokens) == len(missing) else 0
            truncated = [replace(t, index=missing[t.index]) for t in fresh.truncated]
        served = n - len(missing)
        if served and not self._same_prompt(kind):
            wanted, made = _prompt(self.encoder, kind), self.made_by.prompt
            # A note, not a refusal: the file was given for these texts, and the same model's
            # "query: " and "passage: " vectors share one space (their cosines differ by a few
            # hundredths), while refusing would mean encoding the whole corpus again.
            notes.append(f"{self.vectors.source}'s vectors were made with the prompt "
                         f"{made!r}; this view would read {wanted!r}. They are used as "
                         "they are (scores may differ slightly from encoding anew).")
        if progress is not None:
            progress(n, n)
        return EncodeResult(out, truncated, tokens, served, notes)

    def _same_prompt(self, kind: str) -> bool:
        """Whether the vectors were made with the prompt ``kind`` gives (True when unknown)."""
        if self.made_by is None or self.encoder is None:
            return True
        return _prompt(self.encoder, kind) == self.made_by.prompt

    def _unit_rows(self, rows: np.ndarray, normalize: bool) -> np.ndarray:
        if not normalize or self._unit:
            shared = rows.view()  # the loaded array itself: nobody may write into it
            shared.flags.writeable = False
            return shared
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)

    def _refusal(self, text: str) -> str:
        short = text if len(text) <= 40 else text[:39] + "…"
        made = self.made_by.model if self.made_by is not None else "an unknown model"
        loaded = (f"the loaded model {self.encoder.describe()['model']}"
                  if self.encoder is not None
                  else "no loaded model")
        return (f"{short!r} is not one of the texts of {self.vectors.source}: its vectors were "
                f"made by {made}, and {loaded} cannot encode a text into their space")

    def count_tokens(self, texts: Sequence[str], kind: str = "query") -> list[int]:
        """Each input's length in tokens, by the loaded model's tokenizer (0 without one)."""
        if self.encoder is None:
            return [0] * len(texts)
        return self.encoder.count_tokens(texts, kind)

    def format(self, texts: Sequence[str], kind: str = "query") -> list[str]:
        """The inputs as the loaded model would read them."""
        if self.encoder is not None and hasattr(self.encoder, "format"):
            return self.encoder.format(texts, kind)
        return [models.format_input(t, kind, "e5") for t in texts]

    def describe(self) -> dict:
        """The loaded model's description, with the vectors' file, who made them and whether
        scores are calibrated."""
        base = dict(self.encoder.describe()) if self.encoder is not None else {
            "requested": None, "model": self.model_id, "source": "vectors", "revision": None,
            "fallback_reason": None, "dim": self.dim, "max_tokens": self.max_length,
            "device": "none", "dtype": "float32", "cache": None}
        base.update(vectors=self.vectors.source, vectors_model=(
            self.made_by.model if self.made_by is not None else None),
            calibration="on" if self.calibrated else "off")
        if not self.own:
            base["model"], base["dim"] = self.model_id, self.dim
        return base

    def close(self) -> None:
        """Nothing to release: the loaded encoder belongs to its owner."""


def load_vectors(path: str | Path, corpus: Corpus, column: str = vectorio.COLUMN) -> Vectors:
    """The vectors of ``corpus``'s texts from ``path``: a Parquet file's ``embedding`` column
    (the rows of the texts read, ``corpus.rows``) or an ``.npy`` with one row per text.

    Args:
        path: a ``.parquet`` or ``.npy`` file.
        corpus: the texts read (from the same Parquet file, or from the text file the .npy was
            written from).
        column: the Parquet column holding the vectors.

    Returns:
        The vectors; ValueError for a file that does not fit the texts.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise ValueError(f"No such file: {path}")
    if suffix == ".npy":
        return vectorio.read_npy(path, len(corpus))
    if suffix == ".parquet":
        return vectorio.read_parquet(path, corpus.rows, column)
    raise ValueError(f"Vectors are read from .npy or .parquet files, not {path.name!r}")


def use_vectors(encoder, corpus: Corpus, path: str | Path, allow_other: bool = False,
                column: str = vectorio.COLUMN) -> LoadedVectors:
    """An encoder that serves ``path``'s vectors for ``corpus``'s texts (see ``LoadedVectors``).

    Args:
        encoder: the loaded encoder (None: no model; other texts are refused, calibration off).
        corpus: the texts the vectors belong to.
        path: a ``.parquet`` with an ``embedding`` column or an ``.npy`` (and its JSON).
        allow_other: use vectors of another or unknown model with calibration off.
        column: the Parquet column holding the vectors.

    Returns:
        The encoder to hand to any view.

    Raises:
        VectorsMismatch: the vectors are not the loaded model's (the message names both).
        ValueError: the file does not fit the texts.
    """
    return LoadedVectors(corpus.texts, load_vectors(path, corpus, column), encoder, allow_other)
