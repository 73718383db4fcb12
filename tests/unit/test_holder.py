"""The app's model holder without a model: background loading, waiting, failures, switching."""

from __future__ import annotations

import threading
import time

import pytest

from e5ui.holder import ModelHolder, Settings
from tests.conftest import FakeEncoder


def settings(**kw):
    return Settings(model="fake", **kw)


def settled(holder: ModelHolder, timeout: float = 60.0) -> str:
    """The holder's state once its background load has ended (or ``timeout`` has passed):
    generous, because on a busy machine the load thread may wait a while for a CPU."""
    deadline = time.monotonic() + timeout
    while holder.status().state == "loading" and time.monotonic() < deadline:
        time.sleep(0.02)
    return holder.status().state


def test_requests_wait_for_a_loading_model():
    gate = threading.Event()

    def factory(model, settings, cache, progress=None):
        assert gate.wait(60), "no request waited for the model"
        return FakeEncoder(model=model)

    holder = ModelHolder(settings(), factory=factory)
    assert holder.status().state == "idle"
    holder.start()
    assert holder.status().state == "loading"
    ticks = []

    def tick(waited):
        # The load cannot end before a request is seen waiting for it: no race with a timer.
        ticks.append(waited)
        gate.set()

    enc = holder.wait(tick=tick)
    assert enc.model == "fake" and ticks and holder.status().state == "ready"


def test_wait_starts_an_idle_holder():
    holder = ModelHolder(settings(), factory=lambda m, s, c, p=None: FakeEncoder(model=m))
    assert holder.wait().model == "fake"


def test_a_failed_load_is_a_message_not_a_crash():
    def factory(model, settings, cache, progress=None):
        raise RuntimeError("disk on fire")

    holder = ModelHolder(settings(), factory=factory)
    holder.start()
    with pytest.raises(ValueError, match="could not be loaded: disk on fire"):
        holder.wait()
    assert settled(holder) == "failed"  # the next attempt, started in the background


def test_switching_keeps_serving_the_old_model_if_the_new_one_fails():
    calls = []

    def factory(model, settings, cache, progress=None):
        calls.append(model)
        if model == "broken":
            raise RuntimeError("no such model")
        return FakeEncoder(model=model)

    holder = ModelHolder(settings(), factory=factory)
    first = holder.wait()
    holder.start("broken")
    assert settled(holder) == "failed"
    status = holder.status()
    assert status.state == "failed" and "no such model" in status.error
    assert holder.wait() is first  # still usable


def test_a_failed_load_is_tried_again_by_the_next_request():
    attempts = []

    def factory(model, settings, cache, progress=None):
        attempts.append(model)
        if len(attempts) == 1:
            raise RuntimeError("connection refused")  # e.g. the remote server was not up yet
        return FakeEncoder(model=model)

    holder = ModelHolder(Settings(model="remote", encoder_url="http://127.0.0.1:9/v1"),
                         factory=factory)
    with pytest.raises(ValueError, match="connection refused"):
        holder.wait()
    assert holder.wait().model == "remote" and attempts == ["remote", "remote"]
