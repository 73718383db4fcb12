"""Browser fixtures: the real app in a subprocess and one headless chromium per module.

The server is started with ``--model large``: offline, large is not cached, so the app falls
back to the bundled multilingual-e5-small within seconds and shows its banner — the tests see
the fallback path a first-time offline user sees.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

ARTIFACTS = ROOT / "artifacts"  # ignored by git (.gitignore: /artifacts/)
SCREENS = ARTIFACTS / "screens"
LOGS = ARTIFACTS / "e2e"

CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
STARTUP_S = 120.0  # until the URL answers; the model itself loads in the background after


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if CHROMIUM is None:
        return "chromium is not on PATH (apt-get install chromium; CI installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not importable (pip install playwright)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppServer:
    """A running ``python app.py`` and where its output goes."""

    url: str
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"(no server log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    def diagnose(self) -> str:
        """A paragraph for assertion messages: is the server alive, and what did it last say."""
        code = self.process.poll()
        state = "running" if code is None else f"exited with code {code}"
        return f"server {state}; last lines of {self.log_path}:\n{self.log_tail()}"


def _answers(url: str) -> bool:
    # No proxy: an HTTP(S)_PROXY in the environment must not intercept 127.0.0.1.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@pytest.fixture(scope="session")
def app_server() -> Iterator[AppServer]:
    """``python app.py --model large`` on a free 127.0.0.1 port, offline, output logged."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    LOGS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
               GRADIO_ANALYTICS_ENABLED="False")
    env.pop("E5UI_CACHE_DIR", None)  # the bundled model and baselines live in ~/.cache/e5ui
    log_path = LOGS / "server.log"
    cmd = [sys.executable, "app.py", "--model", "large", "--port", str(port),
           "--host", "127.0.0.1"]
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
    server = AppServer(f"http://127.0.0.1:{port}/", process, log_path)
    try:
        deadline = time.monotonic() + STARTUP_S
        while not _answers(server.url):
            if process.poll() is not None:
                pytest.fail(f"{' '.join(cmd)} died before answering\n{server.diagnose()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{server.url} did not answer within {STARTUP_S:.0f} s\n"
                            f"{server.diagnose()}")
            time.sleep(0.5)
        yield server
    finally:
        _stop(process)


@contextlib.contextmanager
def headless_chromium():
    """Debian's chromium, headless, with the flags above (``playwright install`` is not
    needed); skips the test when chromium or playwright is missing."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser(app_server):
    """One headless chromium per module, for pages of the app."""
    with headless_chromium() as browser:
        yield browser


def open_app(browser, url: str, viewport: dict, **context_options) -> Iterator:
    """A fresh browser context (own Gradio state, no leftover toasts) showing the app at
    ``viewport``; the page collects JavaScript errors in ``page.js_errors``. Closed on exit."""
    context = browser.new_context(viewport=viewport, **context_options)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.js_errors = []
    page.on("pageerror", lambda exc: page.js_errors.append(str(exc)))
    page.goto(url)
    page.get_by_role("tab", name="Similarity", exact=True).wait_for()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser, app_server):
    """The app in a fresh session at the default viewport."""
    yield from open_app(browser, app_server.url, VIEWPORT)


@pytest.fixture(scope="session")
def screens_dir() -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    return SCREENS
