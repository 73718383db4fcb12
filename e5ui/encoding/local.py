"""Encoder: multilingual-e5 embeddings on this machine, exactly as the model card prescribes.

The recipe (model card of intfloat/multilingual-e5-large): prefix each input with "query: " or
"passage: ", tokenize with truncation at 512 tokens, run the model, average the last hidden
states over the attention mask, L2-normalise. The pipeline around it (dedupe, cache, progress,
normalisation, truncation reports) is ``base.PipelineEncoder``'s; this module adds model
resolution with an offline fallback, length-sorted batches bounded by a token budget,
out-of-memory splitting and thread safety.
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from e5ui import hub, models
from e5ui.cache import EmbeddingCache, cache_key
from e5ui.encoding import fidelity, weights
from e5ui.encoding import openvino as ovb
from e5ui.encoding.base import Batches, PipelineEncoder, make_cache
from e5ui.encoding.device import (
    Setting,
    cpu_has_native_bf16,
    select_device_and_dtype,
    settings_to_try,
)
from e5ui.encoding.fidelity import Fidelity
from e5ui.hub import Located, ModelUnavailableError

logger = logging.getLogger(__name__)

# Padded tokens per batch (batch size x longest input). On CPU, batches whose activations fit
# in cache win: 1024 tokens ran 1.5x faster than 8192 on a 2-core AVX2 EPYC (benchmarks/).
# On GPU, large batches keep paying off.
CPU_TOKEN_BUDGET = 1024
CUDA_TOKEN_BUDGET = 65536
MAX_BATCH = 512


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



class Encoder(PipelineEncoder):
    """Multilingual-e5 text encoder with caching, truncation reports and an offline fallback.

    Args:
        model: "small" | "base" | "large" | "large-instruct" | "bundled", a hub id or a local
            Hugging Face directory.
        device: torch device string, or None to pick CUDA > MPS > CPU.
        dtype: "auto" | "float32" | "bfloat16" | "float16" | "int8-weights" | "int8" (see
            ``device.settings_to_try``: "auto" is the fastest setting faithful to float32).
        cache: True for an in-memory cache, False for none, or an EmbeddingCache to share.
        cache_dir: folder for a persistent cache (implies cache=True).
        cache_bytes: memory bound of the in-memory cache.
        cache_disk_bytes: bound of the persistent cache (default ``cache.DEFAULT_DISK_BYTES``).
        fallback: use the bundled model, with a warning, when ``model`` cannot be had.
        revision: hub revision (branch, tag or commit).
        instruction: task line for instruct models' queries.
        token_budget: padded tokens per batch; None picks one for the device.
        max_length: token limit (special tokens included); defaults to the model's, 512.
        backend: "torch", "openvino" or None / "auto" (``device.settings_to_try``).
        progress: called with a line per step of one-time work (a conversion, a fidelity
            measurement).
        report_fidelity: measure (once) and keep what a setting other than float32 costs; a
            setting ``dtype="auto"`` tries is always measured.
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
        backend: str | None = None,
        progress: Callable[[str], None] | None = None,
        report_fidelity: bool = True,
    ):
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.requested = model
        spec = models.resolve(model)
        # Before anything is downloaded: a bad --device, --dtype or --backend is the user's to
        # fix, now.
        settings = settings_to_try(backend, device, dtype)
        first = settings[0]
        if first.backend == "torch":
            self.device, self.torch_dtype = select_device_and_dtype(device, first.precision)
        else:  # OpenVINO runs on the CPU; its precision is its own (``_activate``)
            self.device, self.torch_dtype = torch.device("cpu"), torch.float32
        self.backend = first.backend
        self.dtype = (str(self.torch_dtype).removeprefix("torch.") if first.backend == "torch"
                      else first.precision)
        self.fidelity: Fidelity | None = None
        self._ov = None
        self._progress = progress
        self._report_fidelity = report_fidelity
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
        # Only torch needs the weights in this process; OpenVINO converts them in a child.
        auto_model = AutoModel if first.backend == "torch" else None
        while True:  # at most twice: the located model, then (after a failure) the bundled one
            try:
                self._tokenizer, self._model = self._load(self.located, AutoTokenizer, auto_model)
                break
            except ModelUnavailableError as exc:
                if self.fallback_reason:  # the bundled model failed after the requested one
                    raise ModelUnavailableError(
                        f"{exc} (it stood in for {model!r}: {self.fallback_reason})") from exc
                if not fallback or self.spec is last_resort:
                    raise
                self.located, self.spec = self._fall_back(model, str(exc)), last_resort
        self.prompt = self.spec.prompt
        if self._model is not None:
            self._model.to(self.device).eval()
            config = self._model.config
        else:
            from transformers import AutoConfig

            config = AutoConfig.from_pretrained(str(self.located.path))
        self._dim = int(config.hidden_size)
        limit = int(getattr(config, "max_position_embeddings", 512))
        if getattr(config, "model_type", "") in ("xlm-roberta", "roberta"):
            limit -= 2  # positions 0 and 1 are reserved for padding in RoBERTa-style models
        self.max_length = min(max_length or self.spec.max_tokens, limit)
        self._device_arg, self._budget_arg = device, token_budget
        self._pad_id = int(self._tokenizer.pad_token_id)
        self._eos_id = int(self._tokenizer.eos_token_id)
        self._lock = threading.RLock()
        self._owns_cache = not isinstance(cache, EmbeddingCache)
        self.cache = make_cache(cache, cache_dir, cache_bytes, cache_disk_bytes)
        self._torch = torch
        self.forward_calls = 0
        self._native_bf16 = cpu_has_native_bf16()
        self.why = self._choose(settings, AutoModel)
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
        except Exception as exc:  # noqa: BLE001 - any failure here means "this model cannot load"
            logger.debug("Loading %s failed", located.path, exc_info=True)
            raise ModelUnavailableError(
                f"loading {located.model_id} failed: {hub.load_error(exc, located.path)}"
            ) from exc
        model = None if auto_model is None else self._load_weights(located, auto_model)
        return tokenizer, model

    def _load_weights(self, located: Located, auto_model):
        """The torch model of ``located`` in ``self.torch_dtype``, or a ModelUnavailableError."""
        try:
            if self.torch_dtype.itemsize < 4:  # bf16 / fp16: never the float32 file beside
                model = weights.load_narrow(located.path, self.torch_dtype)
                if model is not None:
                    return model
            return auto_model.from_pretrained(str(located.path), dtype=self.torch_dtype)
        except Exception as exc:  # noqa: BLE001 - any failure here means "this model cannot load"
            logger.debug("Loading %s failed", located.path, exc_info=True)
            raise ModelUnavailableError(
                f"loading {located.model_id} failed: {hub.load_error(exc, located.path)}"
            ) from exc

    def _choose(self, settings: list[Setting], auto_model) -> str:
        """Runs the first setting that works and, when it is gated, proves faithful on the
        fidelity sample; returns why it was chosen. A setting the user asked for is not
        gated: its failure is theirs to see."""
        for setting in settings:
            try:
                self._activate(setting, auto_model)
            except ovb.OpenVINOUnavailable:
                raise
            except (RuntimeError, OSError, ValueError) as exc:
                if not setting.gated:
                    if setting.backend == "openvino":
                        raise ValueError(f"--backend openvino: {exc}") from exc
                    raise
                logger.warning("%s %s could not be used here (%s); trying the next setting",
                               setting.backend, setting.precision, exc)
                continue
            if setting.gated and not (self.fidelity and self.fidelity.faithful):
                logger.info("%s %s is not faithful on this CPU (%s); trying the next setting",
                            setting.backend, setting.precision,
                            self.fidelity.line() if self.fidelity else "not measured")
                self._ov, self.fidelity = None, None
                continue
            logger.info("Encoding with %s %s (%s)%s", self.backend, self.dtype, setting.why,
                        f": {self.fidelity.line()}" if self.fidelity else "")
            return setting.why
        raise AssertionError("the last setting is never gated")  # pragma: no cover

    def _activate(self, setting: Setting, auto_model) -> None:
        """Loads what ``setting`` runs on and, for anything but float32 on a CPU, its
        fidelity record (measured on first use)."""
        if setting.backend == "torch":
            self.device, self.torch_dtype = select_device_and_dtype(self._device_arg,
                                                                    setting.precision)
            if self._model is None:  # an OpenVINO setting came first and failed
                self._model = self._load_weights(self.located, auto_model)
            self._model.to(device=self.device, dtype=self.torch_dtype).eval()
            self.backend, self._ov = "torch", None
            self.dtype = str(self.torch_dtype).removeprefix("torch.")
            self.token_budget = self._budget_arg or (
                CUDA_TOKEN_BUDGET if self.device.type == "cuda" else CPU_TOKEN_BUDGET)
        else:
            folder = ovb.ensure_model(self.located, setting.precision, self.max_length,
                                      self._progress)
            self._ov = ovb.OpenVINOModel(folder, setting.precision, self._native_bf16)
            self.backend, self.dtype = "openvino", setting.precision
            self.device, self.torch_dtype = self._torch.device("cpu"), self._torch.float32
            # 1024 and 2048 were within run-to-run noise of each other for OpenVINO too.
            self.token_budget = self._budget_arg or CPU_TOKEN_BUDGET
        self.fidelity = None
        wanted = self._report_fidelity or setting.gated
        if wanted and self.dtype != "float32" and self.device.type == "cpu":
            self.fidelity = fidelity.measure(self, self.backend, self.dtype, self._native_bf16,
                                             self._progress)

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

    @property
    def dim(self) -> int:
        """The embedding dimension (the model's hidden size)."""
        return self._dim

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
            "backend": self.backend,
            "dtype": self.dtype,
            "why": self.why,
            "fidelity": self.fidelity.to_dict() if self.fidelity else None,
            "fidelity_line": self.fidelity.line() if self.fidelity else None,
            "cache": asdict(self.cache.stats()) if self.cache else None,
        }

    # -- the backend: tokens, cache keys, batches ----------------------------------------------
    def _tokenize(self, inputs: list[str]) -> list[list[int]]:
        """Full token ids of already formatted inputs (no truncation: lengths are reported)."""
        with self._lock:  # a fast tokenizer is not safe to share between threads
            return self._tokenizer(inputs, add_special_tokens=True, truncation=False,
                                   verbose=False)["input_ids"]

    def _cache_key(self, sent: str, kind: str) -> str:
        # torch keys keep their old form; another backend's vectors never answer for torch's.
        setting = self.dtype if self.backend == "torch" else f"{self.backend}-{self.dtype}"
        return cache_key(self.located.model_id, self.located.revision, setting,
                         self.max_length, sent)

    def _embed_batches(self, todo: list[tuple[str, list[int]]], first_index: dict[str, int],
                       kind: str) -> Batches:
        """Yields (texts, vectors) per batch; after the others, raises EncodeMemoryError for
        texts that did not fit in memory even on their own."""
        split = _Split()
        for batch in self._batches([x for _, x in todo]):
            for part, pooled in self._run_batch([todo[i] for i in batch], split, first_index):
                yield [u for u, _ in part], pooled
        if split.failed:
            raise split.error(self.device)

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
                   first_index: dict[str, int]):
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
                split.failed.append((first_index[part[0][0]], tokens))
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
        if self._ov is not None:
            with self._lock:
                self.forward_calls += 1
                return self._ov.pooled(input_ids.numpy(), mask.numpy())
        with self._lock, torch.inference_mode():
            self.forward_calls += 1
            hidden = self._model(
                input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device)
            ).last_hidden_state
            m = mask.to(self.device).unsqueeze(-1).to(torch.float32)
            summed = (hidden.to(torch.float32) * m).sum(dim=1)
            pooled = summed / m.sum(dim=1).clamp(min=1.0)
            return pooled.cpu().numpy()
