"""The real download path (``hub.locate`` -> ``huggingface_hub.snapshot_download``) against a
local fake hub serving the bundled model as a hub repository: a first download with progress,
reuse offline, interrupted, damaged and cut-short downloads, and the hub's error answers. Each
fault ends in a clear message (or the bundled model) and the process serving afterwards.

No test reaches the real hub: HF_ENDPOINT points at the fake hub, the hub cache is a temporary
folder, and name resolution of anything but loopback fails.
"""

from __future__ import annotations

import filecmp
import socket
import time

import numpy as np
import pytest

from e5ui import hub, models
from e5ui.encoding import Encoder, FallbackWarning, ModelUnavailableError
from e5ui.holder import ModelHolder, Settings
from tests.conftest import FakeEncoder
from tests.fake_hub import FakeHub, Pause

pytestmark = pytest.mark.integration

REPO = "intfloat/multilingual-e5-small"
GATED = "intfloat/gated-e5-small"
WEIGHTS = "model.safetensors"
SAMPLE = ["The library opens at nine.", "Die Bibliothek öffnet um neun.", "図書館は九時に開く。"]
MB = 2**20


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Any attempt to resolve a host other than loopback fails (and would fail the test)."""
    real = socket.getaddrinfo

    def guarded(host, *args, **kwargs):
        if host not in ("127.0.0.1", "localhost", "::1", b"127.0.0.1"):
            raise OSError(f"a test tried to reach {host!r}")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", guarded)


@pytest.fixture
def fake_hub(bundled_dir, tmp_path, monkeypatch):
    """The fake hub serving the bundled model as REPO (and as the gated GATED), with the hub
    cache, token and offline switch of this test only."""
    from huggingface_hub import constants

    server = FakeHub({REPO: bundled_dir, GATED: bundled_dir}).start()
    server.gated.add(GATED)
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
                 "HF_OIDC_RESOURCE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(name, raising=False)
    # huggingface_hub reads these at import (tests/conftest.py set HF_HUB_OFFLINE=1 then).
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "hf" / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(tmp_path / "hf" / "tokens"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reference(bundled_encoder):
    """The sample encoded by the bundled model, loaded from its own directory."""
    return bundled_encoder.encode(SAMPLE)


def go_offline(monkeypatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


def blobs() -> list[str]:
    folder = hub.hub_cache_dir() / ("models--" + REPO.replace("/", "--")) / "blobs"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def one_line(message: str) -> str:
    assert "\n" not in message and "Traceback" not in message, message
    assert "force_download" not in message, message  # advice a user of e5ui cannot follow
    return message


# -- the good path -----------------------------------------------------------------------------
def test_first_download_shows_progress_and_the_model_encodes(fake_hub, bundled_dir, reference):
    total = sum(p.stat().st_size for p in bundled_dir.rglob("*") if p.is_file())
    # The transfer stops at 32 MB and at 96 MB until this thread has looked, so it sees the
    # bytes grow while the model loads however fast or busy the machine is. It looks for less
    # than was sent: huggingface_hub writes what it receives in 10 MB pieces.
    stops = [Pause(after=32 * MB), Pause(after=96 * MB)]
    fake_hub.pause[WEIGHTS] = stops
    holder = ModelHolder(Settings(model=REPO, device="cpu", dtype="float32", fallback=False))
    holder.start()
    # From this thread, as the model panel's timer does: the bytes in the hub cache grow.
    seen: list[int] = []
    try:
        for stop, least in zip(stops, (16 * MB, 64 * MB), strict=True):
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and (not seen or seen[-1] < least):
                seen.append(hub.hub_cache_bytes(REPO))
                time.sleep(0.05)
            assert holder.status().state == "loading"
            stop.event.set()
    finally:
        for stop in stops:
            stop.event.set()
    enc = holder.wait(timeout=300)
    info = holder.status().info
    assert info["source"] == "hub" and info["model"] == REPO and not info["fallback_reason"]
    assert 64 * MB <= seen[-1] < total and any(0 < s < seen[-1] for s in seen)
    assert seen == sorted(seen)
    assert hub.hub_cache_bytes(REPO) >= (bundled_dir / WEIGHTS).stat().st_size
    np.testing.assert_allclose(enc.encode(SAMPLE), reference, atol=1e-6)
    # The download went through the hub's file API, after e5ui's quick reachability probe.
    assert fake_hub.calls("HEAD", "/api/models")
    assert fake_hub.calls("GET", f"/api/models/{REPO}/revision/main")
    assert len(fake_hub.calls("GET", f"/resolve/{fake_hub.commit(REPO)}/{WEIGHTS}")) == 1


def test_the_cached_model_is_used_offline_without_a_request(fake_hub, reference, monkeypatch):
    hub.locate(models.resolve(REPO))  # downloaded once
    fake_hub.requests.clear()
    go_offline(monkeypatch)
    enc = Encoder(REPO, device="cpu", dtype="float32", cache=False, fallback=False)
    assert enc.describe()["source"] == "cache"
    np.testing.assert_allclose(enc.encode(SAMPLE), reference, atol=1e-6)
    assert fake_hub.requests == []
    # A model never downloaded is a clear message offline, and no request either.
    with pytest.raises(ModelUnavailableError, match="not in the local Hugging Face cache.*"
                                                    "HF_HUB_OFFLINE"):
        Encoder("intfloat/multilingual-e5-base", device="cpu", fallback=False)
    assert fake_hub.requests == []


# -- interrupted, damaged and short downloads --------------------------------------------------
def test_a_dropped_connection_is_resumed_with_a_range_request(fake_hub, bundled_dir, reference):
    size = (bundled_dir / WEIGHTS).stat().st_size
    fake_hub.drop_after[WEIGHTS] = 100 * MB
    located = hub.locate(models.resolve(REPO))
    gets = fake_hub.calls("GET", f"/{WEIGHTS}")
    assert [g.range is None for g in gets] == [True, False], gets
    resumed_at = int(gets[1].range.removeprefix("bytes=").rstrip("-"))
    assert 80 * MB <= resumed_at <= 100 * MB
    assert fake_hub.sent[WEIGHTS] <= size + 20 * MB  # resumed, not started over
    assert filecmp.cmp(located.path / WEIGHTS, bundled_dir / WEIGHTS, shallow=False)
    enc = Encoder(REPO, device="cpu", dtype="float32", cache=False, fallback=False)
    np.testing.assert_allclose(enc.encode(SAMPLE), reference, atol=1e-6)


def test_a_download_cut_off_for_good_is_a_clear_error_and_the_next_try_completes(
        fake_hub, reference):
    fake_hub.drop_after[WEIGHTS] = 200 * MB
    fake_hub.on_drop = fake_hub.stop  # the network goes away mid-file
    with pytest.raises(ModelUnavailableError) as info:
        Encoder(REPO, device="cpu", dtype="float32", cache=False, fallback=False)
    message = one_line(str(info.value))
    assert f"downloading {WEIGHTS} of {REPO}" in message and "interrupted" in message
    assert "try again" in message
    assert not [b for b in blobs() if b.endswith(".incomplete")]  # no half file left behind
    # Meanwhile the app serves the bundled model, and says why.
    with pytest.warns(FallbackWarning, match="cannot be reached"):
        stand_in = Encoder(REPO, device="cpu", dtype="float32", cache=False)
    np.testing.assert_allclose(stand_in.encode(SAMPLE), reference, atol=1e-6)
    # The hub is back: the next try completes, without fetching the finished files again.
    fake_hub.start()
    enc = Encoder(REPO, device="cpu", dtype="float32", cache=False, fallback=False)
    assert enc.describe()["source"] == "hub"
    np.testing.assert_allclose(enc.encode(SAMPLE), reference, atol=1e-6)
    assert len(fake_hub.calls("GET", "/tokenizer.json")) == 1


def test_a_file_damaged_on_the_way_is_caught_removed_and_fetched_again(fake_hub, reference):
    fake_hub.corrupt[WEIGHTS] = 200 * MB  # inside the weights: they would load, and be wrong
    with pytest.warns(FallbackWarning, match=f"{WEIGHTS} of {REPO} arrived damaged"):
        enc = Encoder(REPO, device="cpu", dtype="float32", cache=False)
    info = enc.describe()
    assert info["source"] == "bundled" and WEIGHTS in one_line(info["fallback_reason"])
    np.testing.assert_allclose(enc.encode(SAMPLE), reference, atol=1e-6)
    sha256 = fake_hub.entry(REPO, WEIGHTS)["lfs"]["oid"]
    assert sha256 not in blobs() and blobs()  # the damaged copy is gone, the others are kept
    del fake_hub.corrupt[WEIGHTS]
    enc = Encoder(REPO, device="cpu", dtype="float32", cache=False, fallback=False)
    assert enc.describe()["source"] == "hub"
    np.testing.assert_allclose(enc.encode(SAMPLE), reference, atol=1e-6)


def test_a_file_cut_short_names_the_file_and_falls_back(fake_hub, bundled_dir, reference):
    size = (bundled_dir / WEIGHTS).stat().st_size
    fake_hub.truncate[WEIGHTS] = size // 2
    with pytest.raises(ModelUnavailableError) as info:
        Encoder(REPO, device="cpu", dtype="float32", cache=False, fallback=False)
    message = one_line(str(info.value))
    assert f"{WEIGHTS} of {REPO} arrived incomplete" in message and "try again" in message
    with pytest.warns(FallbackWarning, match=WEIGHTS):
        enc = Encoder(REPO, device="cpu", dtype="float32", cache=False)
    assert enc.describe()["source"] == "bundled"
    np.testing.assert_allclose(enc.encode(SAMPLE), reference, atol=1e-6)


# -- what the hub answers ----------------------------------------------------------------------
HUB_ERRORS = {
    # case: (repo, token, status rules, words of the message)
    "no such repo": ("intfloat/no-such-e5", None, {}, "was not found on"),
    "no such repo, with a token": ("intfloat/no-such-e5", "hf_test", {}, "was not found on"),
    "gated, no token": (GATED, None, {}, "is a gated model: accept its terms at {url}/" + GATED),
    "gated, token without access": (GATED, "hf_test", {}, "the token in HF_TOKEN has no access"),
    "hub down (503)": (REPO, None, {r"^GET /api/models/.*/revision/": (503, {})},
                       "answered 503 Service Unavailable for " + REPO),
    "file server error (500)": (REPO, None, {rf"^GET /.*/resolve/.*/{WEIGHTS}$": (500, {})},
                                "answered 500 Internal Server Error for " + REPO),
}


@pytest.mark.parametrize("case", list(HUB_ERRORS))
def test_the_hubs_errors_are_clear_messages_and_the_app_keeps_serving(case, fake_hub,
                                                                      monkeypatch):
    repo, token, status, words = HUB_ERRORS[case]
    words = words.format(url=fake_hub.url)
    if token:
        monkeypatch.setenv("HF_TOKEN", token)
    fake_hub.status.update(status)
    with pytest.raises(ModelUnavailableError) as info:
        Encoder(repo, device="cpu", fallback=False)
    message = one_line(str(info.value))
    assert words in message, message
    assert "HF_TOKEN" in message or "try again" in message, message
    # The app: a switch to that model fails with the same message; the old model keeps serving.
    holder = ModelHolder(Settings(model="fake", device="cpu", fallback=False),
                         encoder=FakeEncoder(model="fake"))
    holder.start(repo)
    serving = holder.wait(timeout=120)
    status_now = holder.status()
    assert status_now.state == "failed" and words in status_now.error
    assert serving.model == "fake" and serving.encode(["still here"]).shape == (1, 16)


def test_an_unreachable_hub_fails_fast_and_falls_back(fake_hub, monkeypatch, reference):
    fake_hub.stop()
    start = time.time()
    with pytest.raises(ModelUnavailableError, match="cannot be reached"):
        Encoder(REPO, device="cpu", fallback=False)
    assert time.time() - start < 10
    with pytest.warns(FallbackWarning, match=REPO):
        enc = Encoder(REPO, device="cpu", dtype="float32", cache=False)
    np.testing.assert_allclose(enc.encode(SAMPLE), reference, atol=1e-6)
