"""A local stand-in for the Hugging Face Hub's file API, so tests run the real download path
(``huggingface_hub.snapshot_download`` with ``endpoint=``) without reaching the real hub.

It speaks what huggingface_hub 0.34-2.x calls for a model repository:

- ``GET /api/models/{repo}/revision/{rev}``: the repo info; ``sha`` is the commit.
- ``GET /api/models/{repo}/tree/{rev}?recursive=...``: files with ``oid``, ``size`` and, for
  large files, ``lfs`` (sha256); no ``xetHash``, so the client never tries Xet storage.
- ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``: ``ETag`` (git blob sha1, or the sha256 of an
  LFS file, also as ``X-Linked-Etag`` with ``X-Linked-Size``), ``X-Repo-Commit``,
  ``Content-Length``, ``Accept-Ranges``; ``Range: bytes=N-`` answers 206 (huggingface_hub
  resumes a dropped transfer this way). No ``X-Xet-*`` header is ever sent.
- Errors carry the headers the hub sends: ``X-Error-Code: RepoNotFound`` (404, or 401 for
  private repos), ``GatedRepo`` (401 without a token, 403 with one that has no access).
- ``HEAD /api/models``: 200 (e5ui's reachability probe).

Faults are attributes a test sets (``status``, ``gated``, ``drop_after``, ``truncate``,
``corrupt``, ``pause``); every request is logged in ``requests``.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

LFS_THRESHOLD = 10 * 2**20  # files above this (and every .safetensors) are LFS files, as on the hub
_DIGESTS: dict[tuple[str, int, float], tuple[str, str]] = {}  # (path, size, mtime) -> digests


def _digests(path: Path) -> tuple[str, str]:
    """(git blob sha1, sha256) of a file, computed once per process (the bundled weights are
    470 MB)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime)
    if key not in _DIGESTS:
        sha1 = hashlib.sha1(f"blob {stat.st_size}\0".encode())
        sha256 = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                sha1.update(chunk)
                sha256.update(chunk)
        _DIGESTS[key] = (sha1.hexdigest(), sha256.hexdigest())
    return _DIGESTS[key]


@dataclass
class Request:
    """One request the fake hub received."""

    method: str
    path: str
    range: str | None
    authorization: bool


@dataclass
class Pause:
    """Hold a file transfer after ``after`` bytes until ``event`` is set (or ``timeout``)."""

    after: int
    event: threading.Event = field(default_factory=threading.Event)
    timeout: float = 30.0


class FakeHub:
    """A threaded HTTP server on 127.0.0.1 serving local directories as hub model repositories.

    Args:
        repos: repository id -> local directory whose files (recursively) the repo holds.

    Attributes:
        url: the endpoint to put in ``HF_ENDPOINT`` (set by ``start``).
        requests: every request, in arrival order.
        status: regex on "METHOD /path" -> (code, headers) answered instead of the normal
            response.
        gated: repo ids that are gated (files answer 401 without a token, 403 with one).
        drop_after: file path -> bytes sent before the connection is cut (once per entry:
            the entry is removed when it fires).
        truncate: file path -> bytes the server holds (it advertises the full size on HEAD,
            like a hub whose storage lost the end of a file).
        corrupt: file path -> offset of 16 bytes that arrive flipped (same size, same ETag).
        pause: file path -> a Pause, or several (the transfer stops at each in turn).
        on_drop: called after a drop (e.g. to take the hub down).
    """

    def __init__(self, repos: dict[str, Path]):
        self.repos = {repo: Path(d) for repo, d in repos.items()}
        self.url = ""
        self.port = 0
        self.requests: list[Request] = []
        self.sent: dict[str, int] = {}
        self.status: dict[str, tuple[int, dict[str, str]]] = {}
        self.gated: set[str] = set()
        self.drop_after: dict[str, int] = {}
        self.truncate: dict[str, int] = {}
        self.corrupt: dict[str, int] = {}
        self.pause: dict[str, Pause | Sequence[Pause]] = {}
        self.on_drop = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> FakeHub:
        """Starts serving (on the same port as before after a ``stop``)."""
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self.port = server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True, name="fake-hub")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops listening and cuts every open connection (the hub goes away)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            for conn in list(self._open):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self._open.clear()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what the tests read --------------------------------------------------------------------
    def calls(self, method: str | None = None, contains: str = "") -> list[Request]:
        """The requests with this method whose path contains ``contains``."""
        return [r for r in self.requests
                if (method is None or r.method == method) and contains in r.path]

    def commit(self, repo: str) -> str:
        """The repo's (made-up, stable) commit hash."""
        return hashlib.sha1(f"commit:{repo}".encode()).hexdigest()

    def files(self, repo: str) -> dict[str, Path]:
        """Path in the repo -> local file."""
        root = self.repos[repo]
        return {p.relative_to(root).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()}

    def entry(self, repo: str, name: str) -> dict:
        """The tree entry of one file (LFS metadata for large files and .safetensors)."""
        path = self.files(repo)[name]
        size = path.stat().st_size
        sha1, sha256 = _digests(path)
        item = {"type": "file", "path": name, "size": size, "oid": sha1}
        if size > LFS_THRESHOLD or name.endswith(".safetensors"):
            item["lfs"] = {"oid": sha256, "size": size, "pointerSize": 134}
        return item


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the hub; every answer has a Content-Length
    hub: FakeHub

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass  # the tests read hub.requests instead of stderr

    def setup(self) -> None:
        super().setup()
        with self.hub._lock:
            self.hub._open.add(self.connection)

    def finish(self) -> None:
        with self.hub._lock:
            self.hub._open.discard(self.connection)
        try:
            super().finish()
        except OSError:
            pass

    # -- answers ----------------------------------------------------------------------------
    def _send(self, code: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data, headers: dict[str, str] | None = None) -> None:
        self._send(200, json.dumps(data).encode(), headers)

    def _error(self, code: int, error_code: str | None, message: str) -> None:
        headers = {"X-Error-Message": message}
        if error_code:
            headers["X-Error-Code"] = error_code
        self._send(code, json.dumps({"error": message}).encode(), headers)

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
        self._route()

    def do_GET(self) -> None:  # noqa: N802
        self._route()

    def _route(self) -> None:
        hub = self.hub
        url = urlsplit(self.path)
        path = unquote(url.path)
        with hub._lock:
            hub.requests.append(Request(self.command, path, self.headers.get("Range"),
                                        "authorization" in {k.lower() for k in self.headers}))
        for pattern, (code, headers) in list(hub.status.items()):
            if re.search(pattern, f"{self.command} {path}"):
                self._send(code, json.dumps({"error": f"status {code}"}).encode(), headers)
                return
        if path.rstrip("/") == "/api/models":
            self._json([])
            return
        api = re.fullmatch(r"/api/models/(.+?)/(revision|tree)/([^/]+)(?:/(.*))?", path)
        if api:
            repo, kind, rev, _ = api.groups()
            if self._check_repo(repo):
                if kind == "revision":
                    self._repo_info(repo)
                else:
                    self._tree(repo, parse_qs(url.query).get("recursive", ["false"])[0])
            return
        api = re.fullmatch(r"/api/models/(.+)", path)
        if api:
            if self._check_repo(api.group(1)):
                self._repo_info(api.group(1))
            return
        resolve = re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path)
        if resolve:
            repo, _, name = resolve.groups()
            if self._check_repo(repo):
                self._file(repo, name)
            return
        self._error(404, None, "Not Found")

    def _check_repo(self, repo: str) -> bool:
        """Answers the hub's errors for unknown and gated repos; True to go on."""
        hub = self.hub
        if repo not in hub.repos:
            # The hub does not say whether a repo is private or missing: 401 without a token.
            code = 404 if "authorization" in {k.lower() for k in self.headers} else 401
            self._error(code, "RepoNotFound", "Repository not found")
            return False
        return True

    def _repo_info(self, repo: str) -> None:
        hub = self.hub
        commit = hub.commit(repo)
        self._json({
            "id": repo, "modelId": repo, "sha": commit, "private": False,
            "gated": "manual" if repo in hub.gated else False, "disabled": False,
            "downloads": 0, "likes": 0, "tags": ["sentence-transformers", "xlm-roberta"],
            "library_name": "sentence-transformers", "lastModified": "2024-01-01T00:00:00.000Z",
            "siblings": [{"rfilename": name} for name in hub.files(repo)],
        })

    def _tree(self, repo: str, recursive: str) -> None:
        hub = self.hub
        items: list[dict] = []
        folders: set[str] = set()
        for name in hub.files(repo):
            parts = name.split("/")
            if len(parts) > 1 and recursive.lower() != "true":
                folders.add(parts[0])
                continue
            for i in range(1, len(parts)):
                folders.add("/".join(parts[:i]))
            items.append(hub.entry(repo, name))
        items += [{"type": "directory", "path": f, "size": 0,
                   "oid": hashlib.sha1(f.encode()).hexdigest()} for f in sorted(folders)]
        self._json(items)

    def _file(self, repo: str, name: str) -> None:
        hub = self.hub
        files = hub.files(repo)
        commit = hub.commit(repo)
        if name not in files:
            self._send(404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit,
                                  "X-Error-Message": "Entry not found"})
            return
        if repo in hub.gated:
            authorized = "authorization" in {k.lower() for k in self.headers}
            self._error(403 if authorized else 401, "GatedRepo",
                        f"Access to model {repo} is restricted and you are not in the authorized "
                        "list."
                        if authorized else
                        f"Access to model {repo} is restricted. You must have access to it and be "
                        "authenticated to access it. Please log in.")
            return
        item = hub.entry(repo, name)
        size = item["size"]
        etag = item["lfs"]["oid"] if "lfs" in item else item["oid"]
        headers = {"ETag": f'"{etag}"', "X-Repo-Commit": commit, "Accept-Ranges": "bytes"}
        if "lfs" in item:
            headers["X-Linked-Etag"] = f'"{etag}"'
            headers["X-Linked-Size"] = str(size)
        if self.command == "HEAD":
            self.send_response(200)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            return
        held = min(size, hub.truncate.get(name, size))
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            if start >= held:
                self._send(416, b"", {"Content-Range": f"bytes */{held}"})
                return
        self.send_response(206 if match else 200)
        for key, value in headers.items():
            self.send_header(key, value)
        if match:
            self.send_header("Content-Range", f"bytes {start}-{held - 1}/{held}")
        self.send_header("Content-Length", str(held - start))
        self.end_headers()
        self._body(name, files[name], start, held)

    def _body(self, name: str, path: Path, start: int, end: int) -> None:
        """Sends bytes [start, end) of ``path``, with the faults set for ``name``."""
        hub = self.hub
        drop = hub.drop_after.get(name)
        pauses = hub.pause.get(name, ())
        pauses = (pauses,) if isinstance(pauses, Pause) else tuple(pauses)
        flip = hub.corrupt.get(name)
        pos = start
        with path.open("rb") as f:
            if drop is None and not pauses and flip is None:
                try:  # no fault to inject: let the kernel copy (loopback is then ~1 GB/s)
                    sent = self.connection.sendfile(f, start, end - start)
                except OSError:
                    return
                with hub._lock:
                    hub.sent[name] = hub.sent.get(name, 0) + sent
                return
            f.seek(start)
            while pos < end:
                limit = end
                if drop is not None and pos < drop:
                    limit = min(limit, drop)
                for pause in pauses:
                    if pos < pause.after:
                        limit = min(limit, pause.after)
                chunk = f.read(min(1 << 20, limit - pos))
                if flip is not None and pos < flip + 16 and flip < pos + len(chunk):
                    data = bytearray(chunk)
                    for i in range(max(flip, pos), min(flip + 16, pos + len(chunk))):
                        data[i - pos] ^= 0xFF
                    chunk = bytes(data)
                try:
                    self.wfile.write(chunk)
                except OSError:
                    return
                pos += len(chunk)
                with hub._lock:
                    hub.sent[name] = hub.sent.get(name, 0) + len(chunk)
                for pause in pauses:
                    if pos == pause.after:
                        pause.event.wait(pause.timeout)
                if drop is not None and pos == drop and hub.drop_after.pop(name, None) is not None:
                    self._cut()
                    if hub.on_drop is not None:
                        threading.Thread(target=hub.on_drop, daemon=True).start()
                    return

    def _cut(self) -> None:
        """Drops the connection mid-body, as a network failure would."""
        self.close_connection = True
        time.sleep(0.05)  # let the bytes already written reach the client first
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
