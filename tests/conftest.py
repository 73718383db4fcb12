"""Shared fixtures: a tiny random XLM-RoBERTa for plumbing, the bundled model for behaviour."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"

# No test may reach the model hub; the fallback paths are tested on purpose.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def rand_rows(n: int, d: int = 16, seed: int = 0):
    """Seeded standard-normal float32 rows (not normalised), the tests' random embeddings."""
    import numpy as np

    return np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)


def _build_tiny_model(directory: Path, max_positions: int = 64) -> Path:
    """Writes a randomly initialised XLM-RoBERTa (2 layers, hidden 32) with a real Unigram
    tokenizer trained on the project's parallel example set."""
    import torch
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )
    from transformers import PreTrainedTokenizerFast, XLMRobertaConfig, XLMRobertaModel

    texts = [
        line
        for path in sorted((ASSETS / "examples" / "parallel").glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=3000, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tok.train_from_iterator(texts, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="<pad>", cls_token="<s>", sep_token="</s>", model_max_length=max_positions,
    )
    fast.save_pretrained(directory)
    torch.manual_seed(0)
    config = XLMRobertaConfig(
        vocab_size=tok.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
        num_attention_heads=4, intermediate_size=64, max_position_embeddings=max_positions + 2,
    )
    XLMRobertaModel(config).eval().save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A local Hugging Face directory with a tiny random XLM-RoBERTa (64-token limit)."""
    return _build_tiny_model(tmp_path_factory.mktemp("tiny-xlmr"))


@pytest.fixture(scope="session")
def tiny_encoder(tiny_model_dir):
    """An Encoder over the tiny model, float32, in-memory cache."""
    from e5ui.encoding import Encoder

    return Encoder(str(tiny_model_dir), device="cpu", dtype="float32")


@pytest.fixture(scope="session")
def bundled_dir() -> Path:
    """The bundled multilingual-e5-small directory (built on first use)."""
    from e5ui.offline import bundled_model_dir

    return bundled_model_dir()


@pytest.fixture(scope="session")
def bundled_encoder(bundled_dir):
    """The bundled model in float32, loaded once per session, no cache."""
    from e5ui.encoding import Encoder

    return Encoder("bundled", device="cpu", dtype="float32", cache=False)


class FakeEncoder:
    """A deterministic stand-in for Encoder (plumbing tests): a text's vector is seeded by its
    hash, so equal texts get equal vectors and nothing needs a model."""

    def __init__(self, dim: int = 16, delay: float = 0.0, model: str = "fake/e5"):
        self.dim, self.delay, self.model, self.max_length = dim, delay, model, 512
        self.calls = 0
        self.kinds: list[str] = []

    def _vec(self, text: str):
        import hashlib

        import numpy as np

        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
        return v / np.linalg.norm(v)

    def encode_detailed(self, texts, kind="query", normalize=True, progress=None):
        import time

        import numpy as np

        from e5ui.encoding import EncodeResult

        self.calls += 1
        self.kinds.append(kind)
        time.sleep(self.delay)
        emb = np.stack([self._vec(f"{kind}: {t}") for t in texts]) if texts else np.zeros(
            (0, self.dim), np.float32)
        if progress:
            progress(len(texts), len(texts))
        return EncodeResult(emb, [], np.full(len(texts), 8), 0)

    def encode(self, texts, kind="query", normalize=True, progress=None):
        single = isinstance(texts, str)
        out = self.encode_detailed([texts] if single else list(texts), kind).embeddings
        return out[0] if single else out

    def describe(self):
        return {"requested": self.model, "model": self.model, "source": "local",
                "revision": "1", "dtype": "float32", "device": "cpu", "dim": self.dim,
                "max_tokens": self.max_length, "fallback_reason": None, "cache": None}


class VectorEncoder(FakeEncoder):
    """A FakeEncoder whose listed texts get the given vectors (whatever the prompt kind), so a
    test can build the geometry it needs: a hub, a translation, an unrelated text."""

    def __init__(self, vectors: dict, **kwargs):
        import numpy as np

        super().__init__(dim=len(next(iter(vectors.values()))), **kwargs)
        self.vectors = {t: np.asarray(v, np.float32) / np.linalg.norm(v)
                        for t, v in vectors.items()}

    def _vec(self, text: str):
        kind, _, raw = text.partition(": ")
        return self.vectors[raw] if raw in self.vectors else super()._vec(text)


@pytest.fixture
def fake_encoder():
    return FakeEncoder()


@pytest.fixture
def private_cache(tmp_path, monkeypatch):
    """Points e5ui's cache root (stored baselines, numba kernels) at a fresh folder. Tests with
    the bundled model do not use it: it would rebuild the model there."""
    monkeypatch.setenv("E5UI_CACHE_DIR", str(tmp_path / "e5ui-cache"))
    return tmp_path / "e5ui-cache"
