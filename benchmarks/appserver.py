"""The app in a subprocess for the latency and load benchmarks: ``python app.py --model bundled``
from any checkout (so an older commit can be measured the same way), on a free loopback port,
with its own Gradio temp folder, stopped by its process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python app.py`` in its own process group, with its own Gradio temp folder."""

    def __init__(self, app_dir: Path, temp: Path):
        self.port = free_port()
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_TEMP_DIR": str(temp / "gradio"),
               "GRADIO_ANALYTICS_ENABLED": "False"}
        self.log = open(temp / "server.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "app.py", "--model", "bundled", "--port", str(self.port)],
            cwd=app_dir, env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}/"
        self.temp = temp
        deadline = time.time() + 180
        import urllib.request

        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError("the app did not start; see server.log")

    def reset_peak(self) -> None:
        try:
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")
        except OSError:
            pass

    def peak_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()

    def disk_mb(self) -> float:
        """Megabytes in the server's Gradio temp folder (uploads, downloads, cached copies)."""
        folder = self.temp / "gradio"
        return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20 \
            if folder.exists() else 0.0
