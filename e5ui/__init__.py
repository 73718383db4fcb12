"""e5ui: see what a multilingual-e5 embedding model does.

Public API::

    from e5ui import Encoder
    enc = Encoder(model="large")          # falls back to the bundled model offline
    emb = enc.encode(["query: ...", "..."], kind="query")
    enc = RemoteEncoder("http://127.0.0.1:7997/v1")   # or on a TEI / Infinity / vLLM server
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from e5ui._version import __version__

__all__ = ["Encoder", "EncodeResult", "EmbeddingCache", "ModelUnavailableError", "RemoteEncoder",
           "__version__"]

if TYPE_CHECKING:
    from e5ui.cache import EmbeddingCache
    from e5ui.encoder import Encoder, EncodeResult, ModelUnavailableError
    from e5ui.remote import RemoteEncoder


def __getattr__(name: str):
    # Lazy: importing e5ui must not import torch (the CLI's --help and the UI start fast).
    if name in ("Encoder", "EncodeResult", "ModelUnavailableError"):
        from e5ui import encoder

        return getattr(encoder, name)
    if name == "RemoteEncoder":
        from e5ui.remote import RemoteEncoder

        return RemoteEncoder
    if name == "EmbeddingCache":
        from e5ui.cache import EmbeddingCache

        return EmbeddingCache
    raise AttributeError(f"module 'e5ui' has no attribute {name!r}")
