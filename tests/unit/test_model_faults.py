"""Model faults on the tiny random model: damaged or incomplete model directories (a clear error
naming the path, or the fallback), a failing second bundled model, and out-of-memory errors
during encoding (split and retried, then a clear error, no text lost or cached wrongly)."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from e5ui import offline
from e5ui.encoding import EncodeMemoryError, Encoder, FallbackWarning, ModelUnavailableError

TEXTS = [
    "The train to Berlin leaves at eight.",
    "Der Zug nach Berlin fährt um acht ab.",
    "Le train pour Berlin part à huit heures.",
    "short",
    "A somewhat longer sentence about the weather in the mountains this weekend, with rain.",
    "ベルリン行きの列車は八時に発車します。",
    "one more",
]


@pytest.fixture(scope="module")
def reference(tiny_model_dir):
    """The texts encoded normally (no cache), one text per batch: the vectors to match."""
    enc = Encoder(str(tiny_model_dir), dtype="float32", cache=False, token_budget=1)
    return enc.encode(TEXTS)


@pytest.fixture
def bundled_is_tiny(tiny_model_dir, monkeypatch):
    """The default bundled model is the tiny one (the fallback without the 470 MB model)."""
    real = offline.bundled_model_dir

    def fake(root=None, name=offline.DEFAULT_BUNDLED):
        return tiny_model_dir if name == offline.DEFAULT_BUNDLED else real(root, name)

    monkeypatch.setattr(offline, "bundled_model_dir", fake)
    return tiny_model_dir


# -- damaged or incomplete model directories ---------------------------------------------------
def _truncate_weights(d: Path) -> Path:
    path = d / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


def _garble_header(d: Path) -> Path:
    path = d / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[8:24] = b"not a json head!"
    path.write_bytes(bytes(data))
    return path


def _drop(*names: str):
    def mutate(d: Path) -> Path:
        for name in names:
            (d / name).unlink(missing_ok=True)
        return d

    return mutate


def _bad_config(d: Path) -> Path:
    (d / "config.json").write_text("{not json", encoding="utf-8")
    return d / "config.json"


DAMAGE = {
    # case: (mutate -> the path the message must name, words the message must contain)
    "no config.json": (_drop("config.json"), "no config.json"),
    "no weights": (_drop("model.safetensors"), "no weights"),
    "truncated weights": (_truncate_weights, "damaged or incomplete"),
    "garbled weights header": (_garble_header, "damaged or incomplete"),
    "no tokenizer": (_drop("tokenizer.json", "tokenizer_config.json",
                           "special_tokens_map.json"), "no tokenizer"),
    "damaged config.json": (_bad_config, "damaged"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_model_directory_is_a_clear_error_naming_the_path(case, tiny_model_dir,
                                                                      tmp_path):
    mutate, words = DAMAGE[case]
    broken = tmp_path / "model"
    shutil.copytree(tiny_model_dir, broken)
    named = mutate(broken)
    with pytest.raises(ModelUnavailableError) as info:
        Encoder(str(broken), dtype="float32", cache=False, fallback=False)
    message = str(info.value)
    assert str(named) in message and words in message, message
    assert "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize("case", ["truncated weights", "no tokenizer", "no weights"])
def test_a_damaged_model_directory_falls_back(case, tiny_model_dir, tmp_path, bundled_is_tiny):
    mutate, words = DAMAGE[case]
    broken = tmp_path / "model"
    shutil.copytree(tiny_model_dir, broken)
    named = mutate(broken)
    with pytest.warns(FallbackWarning, match=words):
        enc = Encoder(str(broken), dtype="float32", cache=False)
    info = enc.describe()
    assert info["source"] == "bundled" and str(named) in info["fallback_reason"]
    ref = Encoder(str(tiny_model_dir), dtype="float32", cache=False)
    np.testing.assert_allclose(enc.encode(TEXTS), ref.encode(TEXTS), atol=1e-6)


def test_a_failing_second_bundled_model_falls_back_to_the_default(tiny_model_dir, tmp_path,
                                                                  monkeypatch):
    broken = tmp_path / "enpt"
    shutil.copytree(tiny_model_dir, broken)
    _truncate_weights(broken)
    dirs = {offline.DEFAULT_BUNDLED: tiny_model_dir, "bundled-enpt": broken}
    monkeypatch.setattr(offline, "bundled_model_dir",
                        lambda root=None, name=offline.DEFAULT_BUNDLED: dirs[name])
    with pytest.warns(FallbackWarning, match="bundled-enpt"):
        enc = Encoder("bundled-enpt", dtype="float32", cache=False)
    info = enc.describe()
    assert info["source"] == "bundled" and info["path"] == str(tiny_model_dir)
    assert info["model"] == offline.bundled_image().label
    assert "model.safetensors" in info["fallback_reason"]
    # Asked not to fall back, it says what is wrong instead.
    with pytest.raises(ModelUnavailableError, match="damaged or incomplete"):
        Encoder("bundled-enpt", dtype="float32", cache=False, fallback=False)


def test_a_second_bundled_model_that_cannot_be_built_falls_back(tiny_model_dir, monkeypatch):
    def fake(root=None, name=offline.DEFAULT_BUNDLED):
        if name != offline.DEFAULT_BUNDLED:
            raise OSError(28, "No space left on device")
        return tiny_model_dir

    monkeypatch.setattr(offline, "bundled_model_dir", fake)
    with pytest.warns(FallbackWarning, match="bundled-enpt could not be prepared"):
        enc = Encoder("bundled-enpt", dtype="float32", cache=False)
    assert enc.describe()["path"] == str(tiny_model_dir)


def test_the_default_bundled_model_failing_is_an_error_not_a_loop(tiny_model_dir, tmp_path,
                                                                  monkeypatch):
    broken = tmp_path / "bundled"
    shutil.copytree(tiny_model_dir, broken)
    _truncate_weights(broken)
    monkeypatch.setattr(offline, "bundled_model_dir", lambda root=None, name="bundled": broken)
    with pytest.raises(ModelUnavailableError, match="model.safetensors is damaged"):
        Encoder("bundled", dtype="float32", cache=False)
    # A broken model whose fallback is broken too: both reasons, once each.
    other = tmp_path / "other"
    shutil.copytree(tiny_model_dir, other)
    (other / "tokenizer.json").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FallbackWarning)
        with pytest.raises(ModelUnavailableError) as info:
            Encoder(str(other), dtype="float32", cache=False)
    assert "no tokenizer" in str(info.value) and "damaged" in str(info.value)


# -- out of memory while encoding --------------------------------------------------------------
def _oom_above(enc: Encoder, rows: int, error, seen: list[int], monkeypatch) -> None:
    """Makes the model fail like an exhausted allocator on batches of more than ``rows`` texts
    and records the size of every batch it encoded."""
    real = enc._model.forward

    def forward(*args, **kwargs):
        n = int(kwargs["input_ids"].shape[0])
        if n > rows:
            raise error
        seen.append(n)
        return real(*args, **kwargs)

    monkeypatch.setattr(enc._model, "forward", forward)


@pytest.mark.parametrize("error", [
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate "
                 "memory: you tried to allocate 123456789 bytes. Error code 12"),
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 79.1 GiB "
                           "total capacity)"),
], ids=["cpu", "cuda"])
def test_out_of_memory_splits_the_batch_and_gives_the_same_vectors(
        error, tiny_model_dir, reference, monkeypatch, caplog):
    enc = Encoder(str(tiny_model_dir), dtype="float32", cache=True, token_budget=100_000)
    seen: list[int] = []
    _oom_above(enc, 2, error, seen, monkeypatch)
    progress = []
    with caplog.at_level(logging.WARNING, logger="e5ui.encoding"):
        got = enc.encode(TEXTS, progress=lambda d, t: progress.append((d, t)))
    np.testing.assert_allclose(got, reference, atol=2e-6)
    assert seen and max(seen) <= 2 and sum(seen) == len(TEXTS)  # every text encoded once
    assert progress[-1] == (len(TEXTS), len(TEXTS))
    assert [d for d, _ in progress] == sorted(d for d, _ in progress)
    oom_logs = [r for r in caplog.records if "Out of memory" in r.getMessage()]
    assert len(oom_logs) == 1  # one warning per call, not one per split
    # The cache holds exactly the right vectors: a second call encodes nothing.
    calls = enc.forward_calls
    np.testing.assert_allclose(enc.encode(TEXTS), reference, atol=2e-6)
    assert enc.forward_calls == calls


def test_a_text_that_never_fits_is_a_clear_error_and_nothing_is_lost(
        tiny_model_dir, reference, monkeypatch):
    enc = Encoder(str(tiny_model_dir), dtype="float32", cache=True, token_budget=100_000)
    longest = int(np.argmax(enc.count_tokens(TEXTS)))
    width = enc.count_tokens(TEXTS)[longest]
    real = enc._model.forward

    def forward(*args, **kwargs):
        if kwargs["input_ids"].shape[1] >= width:  # the longest text never fits, even alone
            raise RuntimeError("CUDA error: out of memory")
        return real(*args, **kwargs)

    monkeypatch.setattr(enc._model, "forward", forward)
    with pytest.raises(EncodeMemoryError, match=f"text #{longest} .*even on its own") as info:
        enc.encode(TEXTS)
    assert isinstance(info.value, ValueError)  # shown as a message by the app and the CLI
    assert "\n" not in str(info.value)
    # The other texts were kept, with their right vectors; the failing one was not cached.
    monkeypatch.setattr(enc._model, "forward", real)
    calls = enc.forward_calls
    result = enc.encode_detailed(TEXTS)
    assert result.cache_hits == len(TEXTS) - 1 and enc.forward_calls == calls + 1
    np.testing.assert_allclose(result.embeddings, reference, atol=2e-6)


def test_other_errors_are_not_mistaken_for_out_of_memory(tiny_model_dir, monkeypatch):
    enc = Encoder(str(tiny_model_dir), dtype="float32", cache=False)

    def forward(*args, **kwargs):
        raise RuntimeError("expected all tensors to be on the same device")

    monkeypatch.setattr(enc._model, "forward", forward)
    with pytest.raises(RuntimeError, match="same device"):
        enc.encode(TEXTS)
    assert enc.forward_calls == 1  # no retries
