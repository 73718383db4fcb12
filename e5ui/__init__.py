"""e5ui: see what a multilingual-e5 embedding model does.

Public API::

    from e5ui import Encoder
    enc = Encoder(model="large")          # falls back to the bundled model offline
    emb = enc.encode(["query: ...", "..."], kind="query")
    enc = RemoteEncoder("http://127.0.0.1:7997/v1")   # or on a TEI / Infinity / vLLM server
    vec = use_vectors(enc, corpus, "map.parquet")     # vectors made earlier, for any view
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from e5ui._version import __version__

__all__ = ["Encoder", "EncodeResult", "EmbeddingCache", "LoadedVectors", "ModelUnavailableError",
           "RemoteEncoder", "VectorsMismatch", "__version__", "load_vectors", "use_vectors"]

if TYPE_CHECKING:
    from e5ui.cache import EmbeddingCache
    from e5ui.encoding import EncodeResult, ModelUnavailableError
    from e5ui.encoding.local import Encoder
    from e5ui.encoding.remote import RemoteEncoder
    from e5ui.encoding.vectors import LoadedVectors, VectorsMismatch, load_vectors, use_vectors

# Where each public name lives; imported on first use.
_LAZY = {"Encoder": "e5ui.encoding.local", "EncodeResult": "e5ui.encoding.base",
         "ModelUnavailableError": "e5ui.hub", "RemoteEncoder": "e5ui.encoding.remote",
         "EmbeddingCache": "e5ui.cache", "LoadedVectors": "e5ui.encoding.vectors",
         "VectorsMismatch": "e5ui.encoding.vectors", "load_vectors": "e5ui.encoding.vectors",
         "use_vectors": "e5ui.encoding.vectors"}


def __getattr__(name: str):
    # Lazy: importing e5ui must not import torch (the CLI's --help and the UI start fast).
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'e5ui' has no attribute {name!r}")
