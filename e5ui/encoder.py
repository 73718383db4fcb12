"""Encoder: multilingual-e5 embeddings exactly as the model card prescribes.

The recipe (model card of intfloat/multilingual-e5-large): prefix each input with "query: " or
"passage: ", tokenize with truncation at 512 tokens, run the model, average the last hidden
states over the attention mask, L2-normalise. This module adds what a tool needs around it:
model resolution with an offline fallback, a cache, length-sorted batches bounded by a token
budget, truncation reports, progress and thread safety.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from e5ui import hub, models
from e5ui.cache import EmbeddingCache, cache_key
from e5ui.hub import Located, ModelUnavailableError

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

# Padded tokens per batch (batch size x longest input). On CPU, batches whose activations fit
# in cache win: 1024 tokens ran 1.5x faster than 8192 on a 2-core AVX2 EPYC (benchmarks/).
# On GPU, large batches keep paying off.
CPU_TOKEN_BUDGET = 1024
CUDA_TOKEN_BUDGET = 65536
MAX_BATCH = 512


class TruncationWarning(UserWarning):
    """Some inputs were longer than the model's limit and were cut."""


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


def encode_warning_cuts(encoder, texts: str | Sequence[str], kind: str, normalize: bool,
                        progress: Progress | None, cut: str) -> np.ndarray:
    """``encoder.encode_detailed`` for one text or many, with a TruncationWarning naming the
    first five inputs over ``encoder.max_length`` tokens and what happened to them (``cut``).
    Returns (dim,) for a single string, (n, dim) otherwise."""
    single = isinstance(texts, str)
    result = encoder.encode_detailed([texts] if single else texts, kind, normalize, progress)
    if result.truncated:
        shown = ", ".join(f"#{t.index} ({t.tokens} tokens)" for t in result.truncated[:5])
        more = "" if len(result.truncated) <= 5 else f" and {len(result.truncated) - 5} more"
        warnings.warn(
            f"{len(result.truncated)} input(s) exceed {encoder.max_length} tokens{cut}: "
            f"{shown}{more}",
            TruncationWarning,
            stacklevel=3,
        )
    return result.embeddings[0] if single else result.embeddings


class FallbackWarning(UserWarning):
    """The requested model was unavailable and the bundled model encodes instead."""


class EncodeMemoryError(MemoryError, ValueError):
    """One text does not fit in memory even on its own. Also a ValueError, so that the app and
    the CLI show its message like other problems the user can act on."""


def _is_out_of_memory(exc: BaseException) -> bool:
    """True for torch's CUDA/MPS out-of-memory errors and the CPU allocator's failures."""
    if isinstance(exc, MemoryError):
        return True
    if type(exc).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError (CUDA)
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text
        or "cannot allocate memory" in text)


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
    """

    embeddings: np.ndarray
    truncated: list[Truncation] = field(default_factory=list)
    tokens: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cache_hits: int = 0


@dataclass
class _Split:
    """What one encode() call learnt about out-of-memory errors: the largest batch to try (in
    texts) and whether the user was told."""

    cap: int | None = None
    warned: bool = False
    failed: list[tuple[int, int]] = field(default_factory=list)  # (text index, tokens)

    def error(self, device) -> EncodeMemoryError:
        """The error for the texts that did not fit even on their own."""
        index, tokens = min(self.failed)
        more = f" (and {len(self.failed) - 1} more)" if len(self.failed) > 1 else ""
        return EncodeMemoryError(
            f"Out of memory on {device} encoding text #{index} ({tokens} tokens){more} even on "
            "its own; free memory on the device, use --device cpu, or shorten the text (the "
            "other texts are encoded and cached)")


# -- device and dtype: decided here and nowhere else ------------------------------------------
_logged_choice: set[tuple[str, str]] = set()


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 matrix instructions (AMX or AVX512-BF16)."""
    import torch

    try:
        if torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported():
            return True
    except AttributeError:  # older torch without these probes
        pass
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def _checked_device(torch, name: str):
    """The torch device named ``name``, or a ValueError a user understands (torch raises a
    RuntimeError for an unknown name and fails only later, deep inside, for a missing GPU)."""
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(
            f"Unknown device {name!r}. Must be one of: cpu, cuda, cuda:N, mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no visible GPU"
            raise ValueError(f"Device {name!r} is not available: this torch has {build}; "
                             "use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"Device {name!r} is not available: "
                             f"{torch.cuda.device_count()} GPU(s) visible")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                    and torch.backends.mps.is_available()):
        raise ValueError(f"Device {name!r} is not available on this machine; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"Unsupported device {name!r}. Must be one of: cpu, cuda, cuda:N, mps")
    return dev


def select_device_and_dtype(device: str | None = None, dtype: str = "auto"):
    """Chooses the torch device and dtype, logging the choice once per process.

    "auto" means float16 on CUDA, bfloat16 on CPUs with native bf16 matrix units (where it is
    several times faster than float32), float32 elsewhere (where bf16 is emulated and slow).

    Args:
        device: "cpu", "cuda", "cuda:1", "mps" or None for the best available.
        dtype: "auto" | "float32" | "bfloat16" | "float16".

    Returns:
        (torch.device, torch.dtype)
    """
    import torch

    choices = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype != "auto" and dtype not in choices:
        raise ValueError(f"Unknown dtype: {dtype!r}. Must be one of: auto, {', '.join(choices)}")
    if device is None:
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    dev = _checked_device(torch, device)
    if dtype != "auto":
        chosen = choices[dtype]
        why = "requested"
    elif dev.type in ("cuda", "mps"):
        chosen, why = torch.float16, f"{dev.type} default"
    elif cpu_has_native_bf16():
        chosen, why = torch.bfloat16, "CPU has native bf16 matrix units"
    else:
        chosen, why = torch.float32, "CPU has no native bf16 matrix units"
    key = (str(dev), str(chosen))
    if key not in _logged_choice:
        _logged_choice.add(key)
        logger.info("Encoding on %s in %s (%s)", dev, str(chosen).removeprefix("torch."), why)
    return dev, chosen


# -- the encoder -------------------------------------------------------------------------------
class Encoder:
    """Multilingual-e5 text encoder with caching, truncation reports and an offline fallback.

    Args:
        model: "small" | "base" | "large" | "large-instruct" | "bundled", a hub id or a local
            Hugging Face directory.
        device: torch device string, or None to pick CUDA > MPS > CPU.
        dtype: "auto" | "float32" | "bfloat16" | "float16" (see select_device_and_dtype).
        cache: True for an in-memory cache, False for none, or an EmbeddingCache to share.
        cache_dir: folder for a persistent cache (implies cache=True).
        cache_bytes: memory bound of the in-memory cache.
        cache_disk_bytes: bound of the persistent cache (default ``cache.DEFAULT_DISK_BYTES``).
        fallback: use the bundled model, with a warning, when ``model`` cannot be had.
        revision: hub revision (branch, tag or commit).
        instruction: task line for instruct models' queries.
        token_budget: padded tokens per batch; None picks one for the device.
        max_length: token limit (special tokens included); defaults to the model's, 512.
    """

    def __init__(
        self,
        model: str = models.DEFAULT_MODEL,
        device: str | None = None,
        dtype: str = "auto",
        cache: bool | EmbeddingCache = True,
        *,
        cache_dir: str | Path | None = None,
        cache_bytes: int | None = None,
        cache_disk_bytes: int | None = None,
        fallback: bool = True,
        revision: str | None = None,
        instruction: str | None = None,
        token_budget: int | None = None,
        max_length: int | None = None,
    ):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.requested = model
        spec = models.resolve(model)
        # Before anything is downloaded: a bad --device is the user's to fix, now.
        self.device, self.torch_dtype = select_device_and_dtype(device, dtype)
        self.dtype = str(self.torch_dtype).removeprefix("torch.")
        self.fallback_reason: str | None = None
        # The default bundled model is the last resort: when it fails there is nothing to fall
        # back to. Any other model, a second bundled one included, falls back to it.
        last_resort = models.MODELS["bundled"]
        try:
            located = hub.locate(spec, revision)
        except ModelUnavailableError as exc:
            if not fallback or spec is last_resort:
                raise
            located = self._fall_back(model, str(exc))
            spec = last_resort
        self.located = located
        self.spec = spec
        self.instruction = instruction
        while True:  # at most twice: the located model, then (after a failure) the bundled one
            try:
                self._tokenizer, self._model = self._load(self.located, AutoTokenizer, AutoModel)
                break
            except ModelUnavailableError as exc:
                if self.fallback_reason:  # the bundled model failed after the requested one
                    raise ModelUnavailableError(
                        f"{exc} (it stood in for {model!r}: {self.fallback_reason})") from exc
                if not fallback or self.spec is last_resort:
                    raise
                self.located, self.spec = self._fall_back(model, str(exc)), last_resort
        self._model.to(self.device).eval()
        config = self._model.config
        self.dim = int(config.hidden_size)
        limit = int(getattr(config, "max_position_embeddings", 512))
        if getattr(config, "model_type", "") in ("xlm-roberta", "roberta"):
            limit -= 2  # positions 0 and 1 are reserved for padding in RoBERTa-style models
        self.max_length = min(max_length or self.spec.max_tokens, limit)
        self.token_budget = token_budget or (
            CUDA_TOKEN_BUDGET if self.device.type == "cuda" else CPU_TOKEN_BUDGET
        )
        self._pad_id = int(self._tokenizer.pad_token_id)
        self._eos_id = int(self._tokenizer.eos_token_id)
        self._lock = threading.RLock()
        self._owns_cache = not isinstance(cache, EmbeddingCache)
        if isinstance(cache, EmbeddingCache):
            self.cache: EmbeddingCache | None = cache
        elif cache or cache_dir is not None:
            kwargs = {} if cache_bytes is None else {"max_bytes": cache_bytes}
            if cache_disk_bytes is not None:
                kwargs["max_disk_bytes"] = cache_disk_bytes
            self.cache = EmbeddingCache(directory=cache_dir, **kwargs)
        else:
            self.cache = None
        self._torch = torch
        self.forward_calls = 0
        logger.info(
            "Loaded %s from %s (%s, dim %d, max %d tokens)",
            self.located.model_id, self.located.source, self.located.path, self.dim,
            self.max_length,
        )

    def _load(self, located: Located, auto_tokenizer, auto_model):
        """The tokenizer and the model of ``located``, or a ModelUnavailableError that names
        the folder and the file at fault (transformers raises a dozen kinds of errors for a
        damaged directory, and loads a useless tokenizer when its files are missing)."""
        try:
            hub.check_model_dir(located.path)
        except ModelUnavailableError as exc:
            raise ModelUnavailableError(f"loading {located.model_id} failed: {exc}") from exc
        try:
            tokenizer = auto_tokenizer.from_pretrained(str(located.path))
            model = auto_model.from_pretrained(str(located.path), dtype=self.torch_dtype)
        except Exception as exc:  # noqa: BLE001 - any failure here means "this model cannot load"
            logger.debug("Loading %s failed", located.path, exc_info=True)
            raise ModelUnavailableError(
                f"loading {located.model_id} failed: {hub.load_error(exc, located.path)}"
            ) from exc
        return tokenizer, model

    def _fall_back(self, requested: str, reason: str) -> Located:
        try:
            located = hub.bundled()
        except ModelUnavailableError as exc:
            raise ModelUnavailableError(f"{reason}; and {exc}") from exc
        self.fallback_reason = reason
        msg = f"Model {requested!r} is unavailable ({reason}); using the bundled model instead."
        logger.info(msg)
        warnings.warn(msg, FallbackWarning, stacklevel=3)
        return located

    # -- public API ----------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        """The model that actually encodes."""
        return self.located.model_id

    def close(self) -> None:
        """Closes the disk cache this encoder opened (a cache passed in belongs to its owner);
        encoding still works afterwards, cached in memory only."""
        if self.cache is not None and self._owns_cache:
            self.cache.close()

    def describe(self) -> dict:
        """Returns what encodes and how: requested vs. actual model, source, dim, device, dtype,
        cache statistics and, after a fallback, the reason."""
        return {
            "requested": self.requested,
            "model": self.located.model_id,
            "source": self.located.source,
            "path": str(self.located.path),
            "revision": self.located.revision,
            "fallback_reason": self.fallback_reason,
            "dim": self.dim,
            "max_tokens": self.max_length,
            "prompt": self.spec.prompt,
            "device": str(self.device),
            "dtype": self.dtype,
            "cache": asdict(self.cache.stats()) if self.cache else None,
        }

    def format(self, texts: Sequence[str], kind: str = "query") -> list[str]:
        """Returns the exact inputs the model reads (prefix or instruction added once)."""
        return [models.format_input(t, kind, self.spec.prompt, self.instruction) for t in texts]

    def encode(
        self,
        texts: str | Sequence[str],
        kind: str = "query",
        normalize: bool = True,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Embeds texts.

        Retrieval uses "query" for questions and "passage" for documents; tasks that compare
        texts of one kind (similarity, bitext, clustering, maps) use "symmetric", which is
        "query: " on every text for E5 models and the STS instruction for instruct models
        (model card FAQ).
        Inputs over the token limit are cut and reported with a TruncationWarning; use
        encode_detailed() to get the list.

        Args:
            texts: one string or a sequence of strings.
            kind: "query", "passage" or "symmetric".
            normalize: L2-normalise the embeddings.
            progress: called as progress(done, total) while encoding.

        Returns:
            float32 array (n, dim); (dim,) for a single string.
        """
        return encode_warning_cuts(self, texts, kind, normalize, progress, " and were truncated")

    def encode_detailed(
        self,
        texts: Sequence[str],
        kind: str = "query",
        normalize: bool = True,
        progress: Progress | None = None,
    ) -> EncodeResult:
        """Like encode(), for a sequence, returning truncations, token counts and cache hits."""
        texts = checked_texts(texts)
        n = len(texts)
        if n == 0:
            return EncodeResult(np.zeros((0, self.dim), np.float32))
        inputs = self.format(texts, kind)
        unique = list(dict.fromkeys(inputs))
        ids = self._token_ids(unique)
        lengths = {u: len(x) for u, x in zip(unique, ids)}
        vectors: dict[str, np.ndarray] = {}
        keys: dict[str, str] = {}
        if self.cache is not None:
            keys = {
                u: cache_key(self.located.model_id, self.located.revision, self.dtype,
                             self.max_length, u)
                for u in unique
            }
            found = self.cache.get_many(list(keys.values()))
            vectors = {u: found[k] for u, k in keys.items() if k in found}
        todo = [(u, x) for u, x in zip(unique, ids) if u not in vectors]
        hits = sum(1 for s in inputs if s in vectors)
        total_unique = len(unique)
        done = total_unique - len(todo)
        if progress:
            progress(done, total_unique)
        split = _Split()
        for batch in self._batches([x for _, x in todo]):
            for part, pooled in self._run_batch([todo[i] for i in batch], split, inputs):
                # Each part is stored as soon as it is computed: after an out-of-memory error
                # on a later text, the texts already encoded are kept (cached), none lost.
                fresh = dict(zip((u for u, _ in part), pooled))
                vectors.update(fresh)
                if self.cache is not None:
                    self.cache.put_many({keys[u]: v for u, v in fresh.items()})
                done += len(part)
                if progress:
                    progress(done, total_unique)
        if split.failed:
            raise split.error(self.device)
        out = np.stack([vectors[s] for s in inputs]).astype(np.float32, copy=False)
        if normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = out / np.maximum(norms, 1e-12)
        tokens = np.array([lengths[s] for s in inputs], dtype=np.int64)
        truncated = [
            Truncation(i, int(t), self.max_length)
            for i, t in enumerate(tokens)
            if t > self.max_length
        ]
        return EncodeResult(out.astype(np.float32, copy=False), truncated, tokens, hits)

    def count_tokens(self, texts: Sequence[str], kind: str = "query") -> list[int]:
        """Returns each input's length in tokens (prefix and special tokens included)."""
        return [len(x) for x in self._token_ids(self.format(texts, kind))]

    # -- internals -----------------------------------------------------------------------------
    def _token_ids(self, inputs: list[str]) -> list[list[int]]:
        """Full token ids of already formatted inputs (no truncation: lengths are reported)."""
        with self._lock:  # a fast tokenizer is not safe to share between threads
            return self._tokenizer(inputs, add_special_tokens=True, truncation=False,
                                   verbose=False)["input_ids"]

    def _batches(self, ids: list[list[int]]) -> list[list[int]]:
        """Groups indices into length-sorted batches whose padded size fits the token budget."""
        order = np.argsort([-min(len(x), self.max_length) for x in ids], kind="stable")
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for i in order.tolist():
            length = min(len(ids[i]), self.max_length)
            longest_if = max(longest, length)
            if current and (
                longest_if * (len(current) + 1) > self.token_budget or len(current) >= MAX_BATCH
            ):
                batches.append(current)
                current, longest_if = [], length
            current.append(i)
            longest = longest_if
        if current:
            batches.append(current)
        return batches

    def _run_batch(self, items: list[tuple[str, list[int]]], split: _Split,
                   inputs: list[str]):
        """Yields (part, vectors) for a batch of (input, token ids); when the device runs out of
        memory, the part is split in halves and retried, down to one text. A text that does not
        fit on its own is recorded in ``split.failed`` and skipped."""
        cap = split.cap or len(items)  # after an OOM in this call, start at the size that fit
        pending = [items[i : i + cap] for i in range(0, len(items), cap)]
        while pending:
            part = pending.pop(0)
            failure = None
            try:
                pooled = self._forward([x for _, x in part])
            except Exception as exc:  # noqa: BLE001 - re-raised unless out of memory
                if not _is_out_of_memory(exc):
                    raise
                failure = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            if failure is None:
                yield part, pooled
                continue
            # Out of the except block, so the failed call's tensors can be freed.
            self._release_memory()
            tokens = max(min(len(x), self.max_length) for _, x in part)
            if len(part) == 1:  # given up on; the others are still encoded (and cached)
                split.failed.append((inputs.index(part[0][0]), tokens))
                continue
            half = (len(part) + 1) // 2
            split.cap = half if split.cap is None else min(split.cap, half)
            log = logger.warning if not split.warned else logger.debug
            split.warned = True
            log("Out of memory on %s encoding %d texts of up to %d tokens (%s); retrying in "
                "smaller batches", self.device, len(part), tokens, failure)
            pending[:0] = [part[:half], part[half:]]

    def _release_memory(self) -> None:
        """Returns the failed batch's cached blocks to the device."""
        import gc

        gc.collect()
        torch = self._torch
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
        elif self.device.type == "mps" and hasattr(torch, "mps"):
            torch.mps.empty_cache()

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        """Runs the model on token id lists and returns mean-pooled float32 vectors."""
        torch = self._torch
        cut = [x if len(x) <= self.max_length else x[: self.max_length - 1] + [self._eos_id]
               for x in batch]
        width = max(len(x) for x in cut)
        input_ids = torch.full((len(cut), width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(cut), width), dtype=torch.long)
        for row, x in enumerate(cut):
            input_ids[row, : len(x)] = torch.tensor(x, dtype=torch.long)
            mask[row, : len(x)] = 1
        with self._lock, torch.inference_mode():
            self.forward_calls += 1
            hidden = self._model(
                input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)
            ).last_hidden_state
            m = mask.to(self.device).unsqueeze(-1).to(torch.float32)
            summed = (hidden.to(torch.float32) * m).sum(dim=1)
            pooled = summed / m.sum(dim=1).clamp(min=1.0)
            return pooled.cpu().numpy()
