"""Encoder plumbing on a tiny random XLM-RoBERTa, checked against the model card's recipe."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer

from e5ui.encoding import Encoder, TruncationWarning
from e5ui.encoding.device import select_device_and_dtype

TEXTS = [
    "The train to Berlin leaves at eight.",
    "Der Zug nach Berlin fährt um acht ab.",
    "Le train pour Berlin part à huit heures.",
    "ベルリン行きの列車は八時に発車します。",
    "short",
    "A somewhat longer sentence about the weather in the mountains this weekend, with rain.",
]


def model_card_embeddings(model_dir, texts, max_length):
    """The recipe from the multilingual-e5 model card, verbatim in spirit."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
    batch = tokenizer(texts, max_length=max_length, padding=True, truncation=True,
                      return_tensors="pt")
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    mask = batch["attention_mask"]
    hidden = out.last_hidden_state.masked_fill(~mask[..., None].bool(), 0.0)
    emb = hidden.sum(dim=1) / mask.sum(dim=1)[..., None]
    return F.normalize(emb, p=2, dim=1).numpy()


def test_matches_model_card_recipe(tiny_encoder, tiny_model_dir):
    ours = tiny_encoder.encode(TEXTS, kind="passage")
    ref = model_card_embeddings(tiny_model_dir, ["passage: " + t for t in TEXTS], 64)
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), 32)


def test_shapes_and_normalisation(tiny_encoder):
    one = tiny_encoder.encode("hello")
    assert one.shape == (32,)
    assert tiny_encoder.encode([]).shape == (0, 32)
    many = tiny_encoder.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)
    raw = tiny_encoder.encode(TEXTS, normalize=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)
    np.testing.assert_allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), many, atol=1e-6)


def test_prefix_added_once(tiny_encoder):
    assert tiny_encoder.format(["x", "query: x"], "query") == ["query: x", "query: x"]
    assert tiny_encoder.format(["query: x"], "passage") == ["passage: query: x"]
    a = tiny_encoder.encode(["query: Hallo Welt"])
    b = tiny_encoder.encode(["Hallo Welt"])
    np.testing.assert_array_equal(a, b)


def test_batching_does_not_change_vectors(tiny_model_dir):
    texts = TEXTS * 5 + [f"number {i} of many texts of various length " * (i % 2 + 1)
                         for i in range(40)]
    small = Encoder(str(tiny_model_dir), dtype="float32", cache=False, token_budget=64)
    large = Encoder(str(tiny_model_dir), dtype="float32", cache=False, token_budget=100_000)
    a, b = small.encode(texts), large.encode(texts)
    assert small.forward_calls > large.forward_calls
    np.testing.assert_allclose(a, b, atol=2e-6)


def test_batches_respect_token_budget(tiny_model_dir):
    enc = Encoder(str(tiny_model_dir), dtype="float32", cache=False, token_budget=100)
    ids = [[1] * n for n in (5, 60, 7, 30, 30, 2, 64, 9)]
    batches = enc._batches(ids)
    assert sorted(i for b in batches for i in b) == list(range(len(ids)))
    for batch in batches:
        longest = max(len(ids[i]) for i in batch)
        assert len(batch) == 1 or longest * len(batch) <= 100


def test_truncation_is_reported(tiny_encoder):
    long_text = " ".join(["Berlin"] * 300)
    result = tiny_encoder.encode_detailed(["short one", long_text])
    assert [t.index for t in result.truncated] == [1]
    assert result.truncated[0].tokens > 64 and result.truncated[0].kept == 64
    assert result.tokens[0] < 64
    with pytest.warns(TruncationWarning, match="truncated"):
        tiny_encoder.encode([long_text])
    # Truncation keeps the first max_length - 1 tokens and the closing </s>, like the tokenizer.
    tok = AutoTokenizer.from_pretrained(tiny_encoder.located.path)
    ref_ids = tok(["query: " + long_text], max_length=64, truncation=True)["input_ids"][0]
    assert len(ref_ids) == 64
    ref = model_card_embeddings(tiny_encoder.located.path, ["query: " + long_text], 64)
    np.testing.assert_allclose(result.embeddings[1], ref[0], atol=1e-5)


def test_cache_hit_skips_the_model(tiny_model_dir):
    enc = Encoder(str(tiny_model_dir), dtype="float32", cache=True)
    first = enc.encode(TEXTS)
    calls = enc.forward_calls
    again = enc.encode(TEXTS)
    assert enc.forward_calls == calls
    np.testing.assert_array_equal(first, again)
    stats = enc.describe()["cache"]
    assert stats["hits"] == len(TEXTS) and stats["misses"] == len(TEXTS)
    # Query and passage are different inputs, so different cache entries.
    enc.encode(TEXTS, kind="passage")
    assert enc.forward_calls > calls


def test_duplicates_encoded_once(tiny_model_dir):
    enc = Encoder(str(tiny_model_dir), dtype="float32", cache=False)
    calls = []
    out = enc.encode_detailed(["same", "same", "other", "same"],
                              progress=lambda d, t: calls.append((d, t)))
    np.testing.assert_array_equal(out.embeddings[0], out.embeddings[3])
    assert calls[-1] == (2, 2)


def test_progress_is_monotone(tiny_encoder):
    seen = []
    tiny_encoder.encode([f"text number {i}" for i in range(50)],
                        progress=lambda d, t: seen.append((d, t)))
    dones = [d for d, _ in seen]
    assert dones == sorted(dones) and seen[-1][0] == seen[-1][1]


def test_threads_get_the_same_vectors(tiny_model_dir):
    enc = Encoder(str(tiny_model_dir), dtype="float32", cache=False, token_budget=128)
    sets = [[f"thread {k} sentence {i} about trains" for i in range(30)] for k in range(4)]
    expected = [enc.encode(s) for s in sets]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []

    def work(k):
        try:
            for _ in range(3):
                results[k] = enc.encode(sets[k])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in range(4):
        np.testing.assert_array_equal(results[k], expected[k])


def test_bad_inputs(tiny_encoder):
    with pytest.raises(ValueError, match="kind"):
        tiny_encoder.encode(["x"], kind="document")
    with pytest.raises(ValueError, match="#1"):
        tiny_encoder.encode(["x", None])
    with pytest.raises(ValueError, match="dtype"):
        select_device_and_dtype("cpu", "int3")


def test_describe_names_what_encodes(tiny_encoder, tiny_model_dir):
    info = tiny_encoder.describe()
    assert info["source"] == "local"
    assert info["model"] == str(tiny_model_dir.resolve())
    assert info["dim"] == 32 and info["max_tokens"] == 64
    assert info["dtype"] == "float32" and info["device"] == "cpu"
    assert info["fallback_reason"] is None


def test_auto_dtype_follows_the_cpu(monkeypatch):
    import e5ui.encoding.device as encoder

    monkeypatch.setattr(encoder, "cpu_has_native_bf16", lambda: True)
    assert select_device_and_dtype("cpu", "auto")[1] == torch.bfloat16
    monkeypatch.setattr(encoder, "cpu_has_native_bf16", lambda: False)
    assert select_device_and_dtype("cpu", "auto")[1] == torch.float32
    assert select_device_and_dtype("cpu", "float32")[1] == torch.float32


def test_no_warning_for_normal_inputs(tiny_encoder):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny_encoder.encode(TEXTS)


def test_download_progress_reads_the_hub_cache(tmp_path, monkeypatch):
    from e5ui.hub import hub_cache_bytes

    # Read when asked, not at import: the app and the tests may set it late.
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    assert hub_cache_bytes("intfloat/multilingual-e5-large") == 0
    blobs = tmp_path / "models--intfloat--multilingual-e5-large" / "blobs"
    blobs.mkdir(parents=True)
    (blobs / "abc.incomplete").write_bytes(b"x" * 1000)
    (blobs / "def").write_bytes(b"y" * 24)
    assert hub_cache_bytes("intfloat/multilingual-e5-large") == 1024
