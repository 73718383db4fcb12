"""The encoding pipeline's contract, run over both backends: the local Encoder on the tiny
random model and the RemoteEncoder on the scripted fake server of test_remote.

Each backend comes with an independent count of the texts it really embedded (rows through the
model's forward; inputs the server received) and a way to make its next batch fail, so the
tests see dedupe, the cache and the store-on-arrival rule from outside the pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from e5ui.cache import EmbeddingCache
from e5ui.encoding import Encoder, TextEncoder, TruncationWarning
from tests.unit.test_remote import FakeServer, make

BAD_KIND = re.escape("Unknown kind: 'document'. Must be one of: query, passage, symmetric")
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]


@dataclass
class Backend:
    """An encoder under test, how many texts its backend embedded so far, and a switch that
    makes the backend's second batch from now fail."""

    enc: TextEncoder
    embedded: Callable[[], int]
    fail_second_batch: Callable[[], None]


def local_backend(tiny_model_dir, monkeypatch) -> Backend:
    # A 16-token budget puts two or three of these short texts in a batch: several batches.
    enc = Encoder(str(tiny_model_dir), device="cpu", dtype="float32", cache=EmbeddingCache(),
                  token_budget=16)
    state = {"rows": 0, "calls": 0, "fail_call": None}
    real = enc._model.forward

    def forward(*args, **kwargs):
        state["calls"] += 1
        if state["calls"] == state["fail_call"]:
            raise RuntimeError("the model broke")
        state["rows"] += kwargs["input_ids"].shape[0]
        return real(*args, **kwargs)

    def fail_second_batch():
        state["fail_call"] = state["calls"] + 2

    monkeypatch.setattr(enc._model, "forward", forward)
    return Backend(enc, lambda: state["rows"], fail_second_batch)


def remote_backend(fake: FakeServer) -> Backend:
    enc = make(fake, model="fake/e5-small", cache=EmbeddingCache(), max_batch=2, concurrency=1,
               retries=0)

    def fail_second_batch():
        fake.script = ["ok", ("status", 500, {}, {"error": "the model broke"})]

    return Backend(enc, lambda: sum(1 for r in fake.posts() if r["action"] == "ok"
                                    for _ in r["body"]["input"]), fail_second_batch)


@pytest.fixture(params=["local", "remote"])
def backend(request, tiny_model_dir, monkeypatch):
    if request.param == "local":
        yield local_backend(tiny_model_dir, monkeypatch)
        return
    fake = FakeServer()
    try:
        yield remote_backend(fake)
    finally:
        fake.stop()


def test_both_encoders_declare_the_interface_without_asking_the_server(backend):
    before = backend.embedded()
    assert isinstance(backend.enc, TextEncoder)
    assert backend.embedded() == before  # a remote encoder's dim was not probed for it
    assert not isinstance(object(), TextEncoder)


@pytest.mark.parametrize("texts", [[], ["x"]])
def test_a_bad_kind_is_refused_with_one_message_even_for_no_texts(backend, texts):
    with pytest.raises(ValueError, match=f"^{BAD_KIND}$"):
        backend.enc.encode_detailed(texts, kind="document")
    with pytest.raises(ValueError, match=f"^{BAD_KIND}$"):
        backend.enc.encode(texts, kind="document")
    assert backend.embedded() == 0


def test_no_texts_give_zero_rows_and_one_text_one_vector(backend):
    dim = backend.enc.dim
    assert backend.enc.encode([]).shape == (0, dim)
    one = backend.enc.encode("alpha")
    assert one.shape == (dim,) and one.dtype == np.float32


def test_duplicates_are_embedded_once_and_repeats_come_from_the_cache(backend):
    first = backend.enc.encode_detailed(["alpha", "beta", "alpha", "gamma", "beta"])
    assert backend.embedded() == 3 and first.cache_hits == 0
    np.testing.assert_array_equal(first.embeddings[0], first.embeddings[2])
    np.testing.assert_array_equal(first.embeddings[1], first.embeddings[4])
    again = backend.enc.encode_detailed(["gamma", "alpha", "delta", "alpha"])
    # Three of the four inputs are in the cache; only "delta" reaches the backend.
    assert again.cache_hits == 3 and backend.embedded() == 4
    np.testing.assert_array_equal(again.embeddings[0], first.embeddings[3])
    np.testing.assert_array_equal(again.embeddings[1], first.embeddings[0])


def test_progress_counts_distinct_texts_from_what_the_cache_held(backend):
    seen: list[tuple[int, int]] = []
    backend.enc.encode(WORDS + WORDS[:3], progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 8) and seen[-1] == (8, 8) and len(seen) >= 3  # several batches
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    seen.clear()
    backend.enc.encode(["alpha", "beta", "iota"], progress=lambda d, t: seen.append((d, t)))
    assert seen == [(2, 3), (3, 3)]


def test_normalize_false_gives_the_raw_vectors_the_cache_holds(backend):
    unit = backend.enc.encode(WORDS[:4])
    raw = backend.enc.encode(WORDS[:4], normalize=False)  # from the cache, not re-embedded
    assert backend.embedded() == 4
    norms = np.linalg.norm(raw, axis=1)
    assert not np.allclose(norms, 1.0, atol=1e-3)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(raw / norms[:, None], unit, atol=1e-6)


def test_truncation_is_reported_against_the_token_limit(backend):
    enc = backend.enc
    long_text = "Berlin " * 1200  # over 512 tokens, and over the tiny model's 64
    result = enc.encode_detailed(["short", long_text, "short"])
    tokens = enc.count_tokens(["short", long_text, "short"])
    assert result.tokens.tolist() == tokens and tokens[1] > 1200 and tokens[0] < 16
    assert [(t.index, t.tokens, t.kept) for t in result.truncated] == [
        (1, tokens[1], enc.max_length)]
    with pytest.warns(TruncationWarning, match=rf"1 input\(s\) exceed {enc.max_length} tokens"):
        enc.encode([long_text])


def test_batches_finished_before_an_error_are_cached(backend):
    backend.fail_second_batch()
    with pytest.raises(Exception, match="the model broke"):
        backend.enc.encode(WORDS)
    kept = backend.embedded()
    assert 0 < kept < len(WORDS)
    assert backend.enc.cache.stats().entries == kept
    result = backend.enc.encode_detailed(WORDS)
    assert result.cache_hits == kept and backend.embedded() == len(WORDS)
