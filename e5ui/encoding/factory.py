"""The one place an encoder is built from settings: the command line and the app's model
holder (``holder.ModelHolder``) both call ``build_encoder``."""

from __future__ import annotations

from collections.abc import Callable

from e5ui.cache import EmbeddingCache
from e5ui.encoding.base import TextEncoder
from e5ui.settings import REMOTE, Settings


def build_encoder(model: str, settings: Settings, cache: EmbeddingCache | None = None,
                  progress: Callable[[str], None] | None = None) -> TextEncoder:
    """Builds the encoder for ``model``: a RemoteEncoder on ``settings.encoder_url`` for the
    model "remote", a local Encoder (with the bundled model as fallback when
    ``settings.fallback``) for any other.

    Args:
        model: a model name (``e5ui.models``), a hub id, a local folder, or "remote".
        settings: device, dtype, fallback, the remote server and its limits, the cache folder.
        cache: a cache to share (the app's, across model switches); None opens one of the
            encoder's own, on disk under ``settings.cache_dir`` when set, which its ``close()``
            closes.
        progress: called with a line per step of one-time work (an OpenVINO conversion, a
            fidelity measurement).

    Returns:
        The encoder. A fallback is announced with a ``FallbackWarning``.

    Raises:
        ValueError: for bad settings (a RemoteError when the server cannot be used).
        ModelUnavailableError: when the model cannot be had and there is no fallback.
    """
    if cache is not None:
        caching: dict = {"cache": cache}
    else:
        caching = {"cache": True, "cache_dir": settings.cache_dir,
                   "cache_disk_bytes": settings.limits.cache_disk_mb * 2**20}
    if model == REMOTE:
        from e5ui.encoding.remote import RemoteEncoder

        return RemoteEncoder(settings.encoder_url, model=settings.remote_model,
                             prefix=settings.remote_prefix,
                             deadline=settings.limits.remote_deadline_s, **caching)
    from e5ui.encoding.local import Encoder

    return Encoder(model, device=settings.device, dtype=settings.dtype,
                   backend=settings.backend, fallback=settings.fallback, progress=progress,
                   **caching)
