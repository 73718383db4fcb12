"""The encoder interface and the one encoding pipeline every backend shares.

``TextEncoder`` is what views, exports, the app and the command line may use of an encoder.
``PipelineEncoder`` implements it once — input checks, dedupe, cache, progress, stacking,
normalisation, truncation reports and ``encode``'s sentence-transformers shapes — and a backend
(``local.Encoder``, ``remote.RemoteEncoder``) supplies only how texts become tokens, how a batch
of texts becomes vectors, and what its cache keys hold.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from e5ui import models
from e5ui.cache import EmbeddingCache

# progress(texts done, texts in all), distinct texts only (a view's progress is ViewProgress)
EncodeProgress = Callable[[int, int], None]
# What a backend yields as batches finish: the texts (as sent) and their raw float32 vectors.
Batches = Iterator[tuple[list[str], np.ndarray]]


class TruncationWarning(UserWarning):
    """Some inputs were longer than the model's limit and were cut."""


@dataclass(frozen=True)
class Truncation:
    """One input that was cut to the model's token limit.

    Attributes:
        index: position of the text in the encode() call.
        tokens: its length in tokens, special tokens included, before truncation.
        kept: the tokens the model read.
    """

    index: int
    tokens: int
    kept: int


@dataclass
class EncodeResult:
    """Embeddings with what happened while computing them.

    Attributes:
        embeddings: float32 (n, dim).
        truncated: inputs cut at the token limit, in input order.
        tokens: token count of every input (special tokens included, before truncation).
        cache_hits: inputs served from the cache.
        notes: what the user should know about these vectors beyond truncation (loaded ones:
            made with another prompt, calibration off; ``encoding.vectors``).
    """

    embeddings: np.ndarray
    truncated: list[Truncation] = field(default_factory=list)
    tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cache_hits: int = 0
    notes: list[str] = field(default_factory=list)


def checked_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, or ValueError naming the first item that is not a string (a lone
    string is refused too: it would be encoded character by character)."""
    if isinstance(texts, str):
        raise ValueError("encode_detailed() takes a sequence of strings, not a string")
    texts = list(texts)
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ValueError(f"Text #{i} is {type(t).__name__}, not a string")
    return texts


def checked_kind(kind: str) -> str:
    """``kind``, or ValueError listing the kinds there are."""
    if kind not in models.KINDS:
        raise ValueError(f"Unknown kind: {kind!r}. Must be one of: {', '.join(models.KINDS)}")
    return kind


def make_cache(cache: bool | EmbeddingCache, cache_dir: str | Path | None = None,
               cache_bytes: int | None = None,
               cache_disk_bytes: int | None = None) -> EmbeddingCache | None:
    """The cache an encoder's arguments ask for: the one given, a new one (in memory, or on
    disk under ``cache_dir``), or None."""
    if isinstance(cache, EmbeddingCache):
        return cache
    if not cache and cache_dir is None:
        return None
    kwargs = {} if cache_bytes is None else {"max_bytes": cache_bytes}
    if cache_disk_bytes is not None:
        kwargs["max_disk_bytes"] = cache_disk_bytes
    return EmbeddingCache(directory=cache_dir, **kwargs)


_MEMBERS = ("dim", "model_id", "max_length", "encode", "encode_detailed", "count_tokens",
            "format", "describe", "close")


class _StaticCheck(type(Protocol)):
    """isinstance() finds members without running them, as Python 3.12 does: a remote
    encoder's ``dim`` asks the server, which a type check must not do."""

    def __instancecheck__(cls, instance) -> bool:
        missing = object()
        return all(inspect.getattr_static(instance, name, missing) is not missing
                   for name in _MEMBERS)


@runtime_checkable
class TextEncoder(Protocol, metaclass=_StaticCheck):
    """What every encoder offers; views, exports, the app and the command line use only this.

    Attributes:
        dim: the embedding dimension.
        model_id: the model that actually encodes.
        max_length: the token limit (special tokens included); longer inputs are cut.
    """

    dim: int
    model_id: str
    max_length: int

    def encode(self, texts: str | Sequence[str], kind: str = "query", normalize: bool = True,
               progress: EncodeProgress | None = None) -> np.ndarray:
        """float32 (n, dim) embeddings; (dim,) for a single string."""

    def encode_detailed(self, texts: Sequence[str], kind: str = "query",
                        normalize: bool = True,
                        progress: EncodeProgress | None = None) -> EncodeResult:
        """Embeddings with truncations, token counts and cache hits."""

    def count_tokens(self, texts: Sequence[str], kind: str = "query") -> list[int]:
        """Each input's length in tokens (prefix and special tokens included)."""

    def format(self, texts: Sequence[str], kind: str = "query") -> list[str]:
        """The exact inputs the model reads."""

    def describe(self) -> dict:
        """What encodes and how (model, source, dim, device, dtype, cache statistics ...)."""

    def close(self) -> None:
        """Releases what the encoder holds (connections, a disk cache it opened)."""


class PipelineEncoder:
    """The encoding pipeline, once for every backend.

    ``encode_detailed`` checks the texts and the kind (before anything else, so an empty list
    with a bad kind is refused like a full one), formats them, encodes each distinct input once,
    serves what the cache holds, asks the backend for the rest, stores each finished batch in
    the cache as it arrives (after an error on a later batch, the earlier ones are kept), reports
    progress over distinct inputs, stacks the vectors in input order, normalises them, and lists
    the inputs over ``max_length`` tokens.

    A backend sets ``cache``, ``max_length``, ``prompt`` and ``instruction`` and implements
    ``dim``, ``describe``, ``_tokenize``, ``_embed_batches`` and ``_cache_key`` (and, when what
    it sends differs from what the model reads, ``_sent_texts`` and ``_readable``).
    """

    cache: EmbeddingCache | None = None
    max_length: int
    prompt: str = "e5"
    instruction: str | None = None
    _owns_cache: bool = False
    # Ends the TruncationWarning's sentence: what happened to the long inputs.
    _cut_note = " and were truncated"

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError

    # -- what a backend supplies ---------------------------------------------------------------
    def _tokenize(self, inputs: list[str]) -> list[list[int]]:
        """Full token ids of formatted inputs (no truncation: lengths are reported)."""
        raise NotImplementedError

    def _embed_batches(self, todo: list[tuple[str, list[int]]], first_index: dict[str, int],
                       kind: str) -> Batches:
        """Yields (texts, raw float32 vectors) for (text as sent, token ids) pairs, a batch at a
        time as each finishes; ``first_index`` gives each text's number in the call (to name it
        in an error)."""
        raise NotImplementedError

    def _cache_key(self, sent: str, kind: str) -> str:
        """The cache key of a text as sent: everything that changes its vector."""
        raise NotImplementedError

    def _sent_texts(self, texts: list[str], formatted: list[str], kind: str) -> list[str]:
        """What the backend embeds for each text (by default what the model reads)."""
        return formatted

    def _readable(self, sent: list[str], kind: str) -> list[str]:
        """What the model reads for texts as sent."""
        return sent

    # -- the public API ------------------------------------------------------------------------
    def format(self, texts: Sequence[str], kind: str = "query") -> list[str]:
        """Returns the exact inputs the model reads (prefix or instruction added once)."""
        return [models.format_input(t, kind, self.prompt, self.instruction) for t in texts]

    def count_tokens(self, texts: Sequence[str], kind: str = "query") -> list[int]:
        """Returns each input's length in tokens (prefix and special tokens included)."""
        return [len(x) for x in self._tokenize(self.format(list(texts), kind))]

    def close(self) -> None:
        """Closes the disk cache this encoder opened (a cache passed in belongs to its owner)."""
        if self.cache is not None and self._owns_cache:
            self.cache.close()

    def encode(
        self,
        texts: str | Sequence[str],
        kind: str = "query",
        normalize: bool = True,
        progress: EncodeProgress | None = None,
    ) -> np.ndarray:
        """Embeds texts.

        Retrieval uses "query" for questions and "passage" for documents; tasks that compare
        texts of one kind (similarity, bitext, clustering, maps) use "symmetric", which is
        "query: " on every text for E5 models and the STS instruction for instruct models
        (model card FAQ). Inputs over the token limit are cut and reported with a
        TruncationWarning naming the first five; encode_detailed() gives the whole list.

        Args:
            texts: one string or a sequence of strings.
            kind: "query", "passage" or "symmetric".
            normalize: L2-normalise the embeddings.
            progress: called as progress(done, total) while encoding.

        Returns:
            float32 array (n, dim); (dim,) for a single string.
        """
        single = isinstance(texts, str)
        result = self.encode_detailed([texts] if single else texts, kind, normalize, progress)
        if result.truncated:
            cut = result.truncated
            shown = ", ".join(f"#{t.index} ({t.tokens} tokens)" for t in cut[:5])
            more = "" if len(cut) <= 5 else f" and {len(cut) - 5} more"
            warnings.warn(f"{len(cut)} input(s) exceed {self.max_length} tokens"
                          f"{self._cut_note}: {shown}{more}", TruncationWarning, stacklevel=2)
        return result.embeddings[0] if single else result.embeddings

    def encode_detailed(
        self,
        texts: Sequence[str],
        kind: str = "query",
        normalize: bool = True,
        progress: EncodeProgress | None = None,
    ) -> EncodeResult:
        """Like encode(), for a sequence, returning truncations, token counts and cache hits."""
        texts = checked_texts(texts)
        checked_kind(kind)
        if not texts:
            return EncodeResult(np.zeros((0, self.dim), np.float32))
        sent = self._sent_texts(texts, self.format(texts, kind), kind)
        first_index: dict[str, int] = {}
        for i, s in enumerate(sent):
            first_index.setdefault(s, i)
        unique = list(first_index)
        ids = dict(zip(unique, self._tokenize(self._readable(unique, kind))))
        keys = {u: self._cache_key(u, kind) for u in unique} if self.cache is not None else {}
        vectors: dict[str, np.ndarray] = {}
        if self.cache is not None:
            found = self.cache.get_many(list(keys.values()))
            vectors = {u: found[k] for u, k in keys.items() if k in found}
        hits = sum(1 for s in sent if s in vectors)
        todo = [(u, ids[u]) for u in unique if u not in vectors]
        done = len(unique) - len(todo)
        if progress:
            progress(done, len(unique))
        for part, rows in self._embed_batches(todo, first_index, kind) if todo else ():
            fresh = dict(zip(part, rows))
            vectors.update(fresh)
            if self.cache is not None:  # the one place anything is cached
                self.cache.put_many({keys[u]: v for u, v in fresh.items()})
            done += len(part)
            if progress:
                progress(done, len(unique))
        out = np.stack([vectors[s] for s in sent]).astype(np.float32, copy=False)
        if normalize:
            out = out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        tokens = np.array([len(ids[s]) for s in sent], dtype=np.int64)
        truncated = [Truncation(i, int(t), self.max_length)
                     for i, t in enumerate(tokens) if t > self.max_length]
        return EncodeResult(out.astype(np.float32, copy=False), truncated, tokens, hits)
