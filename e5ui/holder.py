"""The app's model, loaded in a background thread so the page serves at once, and switched
without blocking requests. No gradio here: ``ui`` shows ``ModelHolder.status()``.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from e5ui.cache import EmbeddingCache
from e5ui.encoding.factory import build_encoder
from e5ui.settings import Settings

logger = logging.getLogger(__name__)

def _takes_progress(factory: Callable) -> bool:
    """True when ``factory`` takes a fourth argument, the progress callback (factories written
    before it existed take three)."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    return len([p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]) >= 4


@dataclass
class ModelStatus:
    """What the model panel shows."""

    state: str  # idle | loading | ready | failed
    requested: str
    info: dict | None = None
    error: str | None = None
    since: float = 0.0
    step: str | None = None  # the one-time work under way (an OpenVINO conversion ...)

    @property
    def fallback_reason(self) -> str | None:
        return (self.info or {}).get("fallback_reason")


class ModelHolder:
    """Owns the Encoder: loads it in a background thread, lets requests wait for it, and
    switches models without blocking the UI.

    Args:
        settings: model, device, dtype, cache dir, fallback.
        encoder: an already-built Encoder (tests, scripts); no loading then.
        factory: builds an encoder from (model name, settings, cache, progress); defaults to
            ``encoding.factory.build_encoder`` (the one the command line uses too).
            ``progress``, when the factory takes it, is called with a line per step of
            one-time work.
        cache: the embedding cache to share (e.g. with another holder).
    """

    def __init__(self, settings: Settings, encoder: Any = None, factory: Callable | None = None,
                 cache: EmbeddingCache | None = None):
        self.settings = settings
        self.factory = factory or build_encoder
        self._steps = _takes_progress(self.factory)
        self._cond = threading.Condition()
        self._encoder = encoder
        self._generation = 0
        self.cache = cache or getattr(encoder, "cache", None) or EmbeddingCache(
            directory=settings.cache_dir,
            max_disk_bytes=settings.limits.cache_disk_mb * 2**20,
        )
        if encoder is not None:
            self._status = ModelStatus("ready", settings.model, encoder.describe(),
                                       since=time.time())
        else:
            self._status = ModelStatus("idle", settings.model, since=time.time())

    def start(self, model: str | None = None) -> None:
        """Begins loading ``model`` (default: the settings' model) in a daemon thread."""
        model = model or self.settings.model
        with self._cond:
            self._generation += 1
            generation = self._generation
            self._status = ModelStatus("loading", model, since=time.time())
            self._cond.notify_all()
        thread = threading.Thread(target=self._load, args=(model, generation), daemon=True,
                                  name=f"e5ui-load-{model}")
        thread.start()

    def _load(self, model: str, generation: int) -> None:
        def step(text: str) -> None:
            with self._cond:
                if generation == self._generation and self._status.state == "loading":
                    self._status = dataclasses.replace(self._status, step=text)

        try:
            encoder = (self.factory(model, self.settings, self.cache, step) if self._steps
                       else self.factory(model, self.settings, self.cache))
            status = ModelStatus("ready", model, encoder.describe(), since=time.time())
        except Exception as exc:  # shown in the model panel; the server keeps running
            logger.exception("Loading %s failed", model)
            encoder, status = None, ModelStatus("failed", model, error=str(exc),
                                                since=time.time())
        with self._cond:
            if generation != self._generation:
                return  # a newer switch superseded this load
            if encoder is not None:
                self._encoder = encoder
            self._status = status
            self._cond.notify_all()

    def status(self) -> ModelStatus:
        """The current status (with fresh cache counters when ready)."""
        with self._cond:
            status = self._status
            if status.state == "ready" and self._encoder is not None:
                status = ModelStatus("ready", status.requested, self._encoder.describe(),
                                     since=status.since)
            return status

    def wait(self, timeout: float = 900.0, tick: Callable[[float], None] | None = None):
        """Returns the encoder, waiting while a model loads.

        Args:
            timeout: seconds to wait at most.
            tick: called about once a second with the seconds waited (for progress bars).

        Raises:
            ValueError: when loading failed or took too long (shown to the user).
        """
        start = time.time()
        if self.status().state == "idle":
            self.start()
        with self._cond:
            while self._status.state in ("idle", "loading"):
                waited = time.time() - start
                if waited > timeout:
                    raise ValueError(f"The model is still loading after {timeout:.0f} s")
                if tick is not None:
                    tick(waited)
                self._cond.wait(timeout=1.0)
            status = self._status
        if status.state == "failed" and self._encoder is None:
            # This request gets the message; loading starts again for the next one (a server
            # that was down may be up by then).
            self.start(status.requested)
            raise ValueError(f"The model could not be loaded: {status.error}")
        return self._encoder
