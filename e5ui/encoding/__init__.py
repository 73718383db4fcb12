"""Encoders: the interface (``TextEncoder``), the one pipeline every backend shares
(``base.PipelineEncoder``), and the backends — ``local.Encoder`` (transformers on this machine,
its device and dtype chosen in ``device``) and ``remote.RemoteEncoder`` (a server). ``factory``
builds the one the settings name.

Nothing here imports torch, transformers or httpx until an encoder is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from e5ui.encoding.base import (
    EncodeProgress,
    EncodeResult,
    PipelineEncoder,
    TextEncoder,
    Truncation,
    TruncationWarning,
)
from e5ui.hub import ModelUnavailableError

__all__ = ["EncodeMemoryError", "EncodeProgress", "EncodeResult", "Encoder", "FallbackWarning",
           "ModelUnavailableError", "PipelineEncoder", "RemoteEncoder", "RemoteError",
           "TextEncoder", "Truncation", "TruncationWarning", "build_encoder"]

if TYPE_CHECKING:
    from e5ui.encoding.factory import build_encoder
    from e5ui.encoding.local import EncodeMemoryError, Encoder, FallbackWarning
    from e5ui.encoding.remote import RemoteEncoder, RemoteError

_LAZY = {"Encoder": "local", "EncodeMemoryError": "local", "FallbackWarning": "local",
         "RemoteEncoder": "remote", "RemoteError": "remote", "build_encoder": "factory"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"e5ui.encoding.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'e5ui.encoding' has no attribute {name!r}")
