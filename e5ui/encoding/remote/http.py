"""The HTTP client of remote encoders: one server, bounded in every way a bad server could hurt.

``HttpClient`` sends requests to ``{base}{path}`` only (redirects are not followed), with pooled
connections up to the encoder's concurrency, the API key from an environment variable as a
bearer token, credentials in the URL as basic auth and removed from everything shown or logged
(``redact_url``). Each request is retried on 429/502/503/504, connection errors and timeouts,
with exponential backoff and jitter, honouring ``Retry-After``, and all its attempts end by a
deadline. A reply is read as a stream and abandoned past a size cap the caller sets.

Replies are decompressed here rather than by httpx because httpx inflates each network chunk
whole: 48 KB of gzip becomes 34 MB in one step, before any count can stop it. ``zlib``'s
``max_length`` lets the reader stop at the cap.

Retries are our own loop rather than tenacity's or stamina's: the deadline shapes each attempt
(its connect and read timeouts are the time left, and a ``Retry-After`` wait that would end past
the deadline stops the loop at once, with a message saying so), which those libraries would need
custom wait and stop callbacks, plus a new dependency, to express; the loop is 50 lines.
"""

from __future__ import annotations

import email.utils
import functools
import json
import logging
import math
import os
import random
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import unquote, urlsplit, urlunsplit

logger = logging.getLogger(__name__)

# Statuses that mean "not now" (rate limit, overload, a load balancer between replicas).
RETRY_STATUSES = frozenset({429, 502, 503, 504})
_MESSAGE_CHARS = 200
_CHUNK = 64 * 1024  # bytes read at once; what they inflate to is bounded by zlib's max_length


class RemoteError(ValueError):
    """The embedding server could not be used: unreachable, refused, or answered wrongly.

    A ValueError, so the app and the command line show its message to the user as it is.
    """


class _Overdue(Exception):
    """The request's deadline passed while a reply was still arriving."""


@dataclass
class Reply:
    """A server's answer, its body read in full within the reply cap (and decompressed)."""

    status_code: int
    headers: Mapping[str, str]
    reason_phrase: str
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self):
        """The decoded JSON; ValueError when the body is not JSON."""
        return json.loads(self.content)


def redact_url(url: str) -> str:
    """Returns ``url`` without the user name and password it may carry.

    Args:
        url: an http(s) URL, possibly ``http://user:secret@host/v1``.

    Returns:
        The same URL with the credentials removed (``http://host/v1``).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host + (f":{port}" if port is not None else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_url(url: str, suffix: str = ""):
    """Returns (base URL without credentials and without a trailing ``suffix``, httpx auth from
    the URL's credentials or None); ValueError for a URL that is not an http(s) base."""
    import httpx

    if not isinstance(url, str) or not url.strip():
        raise ValueError("The encoder URL is empty; give the server's OpenAI-compatible base, "
                         "e.g. http://127.0.0.1:7997/v1")
    raw = url.strip()
    parts = urlsplit(raw)
    shown = redact_url(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"The encoder URL must start with http:// or https:// and name a "
                         f"host, e.g. http://127.0.0.1:7997/v1 (got {shown})")
    if parts.query or parts.fragment:
        raise ValueError(f"The encoder URL must be a base such as http://host:port/v1, "
                         f"without ?query or #fragment (got {shown})")
    try:
        parts.port
    except ValueError as exc:
        raise ValueError(f"The encoder URL has an invalid port: {shown}") from exc
    base = shown.rstrip("/")
    if suffix and base.endswith(suffix):
        base = base[: -len(suffix)]
    auth = None
    if parts.username is not None or parts.password is not None:
        auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))
    return base, auth


def size_text(n: int) -> str:
    """Bytes for people: "900 bytes", "12.6 MB"."""
    return f"{n} bytes" if n < 10_000 else f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def shorten(text: str, limit: int = _MESSAGE_CHARS) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Parses a ``Retry-After`` header: delay seconds or an HTTP date.

    Args:
        value: the header's value, or None.
        now: the current time as a POSIX timestamp (for tests); None reads the clock.

    Returns:
        Seconds to wait (>= 0), or None when absent or unreadable.
    """
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        current = datetime.now(timezone.utc).timestamp() if now is None else now
        seconds = when.timestamp() - current
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


@functools.lru_cache(maxsize=1)
def _ssl_context():
    """One TLS context per process (building one reads the CA bundle, ~0.1 s)."""
    import httpx

    return httpx.create_ssl_context()


class HttpClient:
    """Requests to one server, retried within a deadline, replies read within a cap.

    Args:
        url: the base URL, without credentials (see ``parse_url``).
        auth: httpx auth from the URL's credentials, or None.
        api_key_env: environment variable holding the API key (unset or empty: no key).
        concurrency: connections kept to the server.
        connect_timeout, read_timeout: seconds to wait for a connection, for an answer.
        retries: extra attempts after a 429/502/503/504, a connection error or a timeout.
        deadline: seconds one request may take in all, waits included.
        backoff: first retry delay in seconds; it doubles with each attempt, with jitter.
        max_wait: longest single wait between attempts, ``Retry-After`` included.
        server_message: the server's error message in a reply (the protocol knows its shapes).
    """

    # The clock of deadlines and the waits between attempts (tests replace them).
    _clock = staticmethod(time.monotonic)
    _sleep = staticmethod(time.sleep)

    def __init__(self, url: str, auth, *, api_key_env: str, concurrency: int,
                 connect_timeout: float, read_timeout: float, retries: int, deadline: float,
                 backoff: float, max_wait: float, server_message: Callable[[Reply], str]):
        import httpx

        self.url = url
        self.api_key_env = api_key_env
        self.connect_timeout, self.read_timeout = float(connect_timeout), float(read_timeout)
        self.retries, self.deadline = int(retries), float(deadline)
        self.backoff, self.max_wait = float(backoff), float(max_wait)
        self.server_message = server_message
        self.requests_sent = 0
        self._count_lock = threading.Lock()
        # Only encodings _read_body inflates with a bound (httpx would also offer br and zstd).
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate",
                   "User-Agent": "e5ui-remote"}
        key = os.environ.get(api_key_env, "").strip() if api_key_env else ""
        self.has_key = bool(key)
        if key:
            headers["Authorization"] = f"Bearer {key}"
            auth = None  # an explicit key wins over URL credentials: one Authorization header
        self._client = httpx.Client(
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(connect=self.connect_timeout, read=self.read_timeout,
                                  write=self.read_timeout, pool=self.read_timeout),
            limits=httpx.Limits(max_connections=concurrency,
                                max_keepalive_connections=concurrency),
            follow_redirects=False,  # only the configured URL is ever contacted
            verify=_ssl_context(),
        )

    def close(self) -> None:
        """Closes the connections."""
        self._client.close()

    def request(self, method: str, path: str, *, max_bytes: int, **kwargs) -> Reply:
        """One request with bounded retries on 429/502/503/504, connection errors and timeouts,
        all within ``deadline`` seconds; each reply is read up to ``max_bytes``.

        Returns the first reply that is not worth retrying (any status); raises RemoteError
        when the attempts or the deadline run out, or a reply is larger than ``max_bytes``.
        """
        import httpx

        url = self.url + path
        attempts = self.retries + 1
        end = self._clock() + self.deadline
        problem = ""
        tried = 0
        for attempt in range(attempts):
            wait_s = self._backoff(attempt)
            left = end - self._clock()
            if left <= 0:
                break
            # Every wait of this attempt ends by the deadline (the longest is the read's).
            timeout = httpx.Timeout(connect=min(self.connect_timeout, left),
                                    read=min(self.read_timeout, left),
                                    write=min(self.read_timeout, left),
                                    pool=min(self.read_timeout, left))
            tried += 1
            try:
                with self._count_lock:
                    self.requests_sent += 1
                response = self._exchange(method, url, timeout, max_bytes, end, **kwargs)
            except _Overdue:
                problem = "its reply was still arriving"
                break
            except httpx.TimeoutException as exc:
                problem = (f"no answer within {timeout.read:.3g} s"
                           if isinstance(exc, httpx.ReadTimeout) else
                           f"timed out ({type(exc).__name__})")
            except (httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                problem = f"connection failed ({type(exc).__name__}: {shorten(str(exc), 80)})"
            except httpx.HTTPError as exc:
                raise RemoteError(f"Could not send a request to the embedding server at "
                                  f"{self.url}: {type(exc).__name__}: {shorten(str(exc))}"
                                  ) from None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"HTTP {response.status_code}: {self.server_message(response)}"
                after = retry_after_seconds(response.headers.get("Retry-After"))
                if after is not None:
                    wait_s = after
            if attempt + 1 < attempts:
                wait_s = min(wait_s, self.max_wait)
                if wait_s >= end - self._clock():
                    break  # the next attempt would start after the deadline
                logger.warning("Embedding server at %s: %s; retrying in %.1f s (attempt %d of %d)",
                               self.url, problem, wait_s, attempt + 2, attempts)
                self._sleep(wait_s)
        else:
            if self._clock() < end:
                raise RemoteError(
                    f"The embedding server at {self.url} did not answer usefully after "
                    f"{attempts} attempt(s): {problem}. Check that it is running and reachable, "
                    f"then try again."
                )
        raise RemoteError(
            f"The embedding server at {self.url} did not answer within {self.deadline:g} s "
            f"({tried} attempt{'s' if tried != 1 else ''}; the last: {problem}). Check that it "
            f"is running and not overloaded, or give it longer with --remote-deadline SECONDS "
            f"(or E5UI_REMOTE_DEADLINE_S)."
        )

    def _exchange(self, method: str, url: str, timeout, max_bytes: int, end: float,
                  **kwargs) -> Reply:
        """Sends one request and reads its reply as a stream, within the cap and the deadline;
        leaving early closes the connection, so the rest is never received."""
        with self._client.stream(method, url, timeout=timeout, **kwargs) as response:
            content = self._read_body(response, max_bytes, end)
            return Reply(response.status_code, response.headers, response.reason_phrase,
                         content)

    def _read_body(self, response, max_bytes: int, end: float) -> bytes:
        """The reply's body, decompressed, or RemoteError as soon as it passes ``max_bytes``
        (announced by Content-Length, or counted after decompression)."""
        where = f"The embedding server at {self.url}"
        fix = "Is the encoder URL an OpenAI-compatible embeddings server?"
        length = response.headers.get("Content-Length", "").strip()
        if length.isdigit() and int(length) > max_bytes:
            raise RemoteError(f"{where} announced a reply of {size_text(int(length))}, more "
                              f"than the {size_text(max_bytes)} this request can need; it was "
                              f"not read. {fix}")
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        elif encoding in ("", "identity"):
            inflater = None
        else:
            raise RemoteError(f"{where} sent a reply compressed with {shorten(encoding, 40)!r}, "
                              f"which was not asked for (only gzip and deflate are).")
        chunks: list[bytes] = []
        size = 0
        try:
            for raw in response.iter_raw(_CHUNK):
                room = max_bytes - size
                # Asking for one byte more than the room tells an over-long reply from a full one.
                data = raw if inflater is None else inflater.decompress(raw, room + 1)
                size += len(data)
                if size > max_bytes:
                    raise RemoteError(f"{where} sent a reply of more than {size_text(max_bytes)} "
                                      f"(after decompression), more than this request can "
                                      f"need; it was not read further. {fix}")
                chunks.append(data)
                if self._clock() > end:
                    raise _Overdue
            if inflater is not None:
                chunks.append(inflater.flush())
        except zlib.error as exc:
            raise RemoteError(f"{where} sent a compressed reply that could not be "
                              f"decompressed ({exc}).") from None
        return b"".join(chunks)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: half the step fixed, half random (so clients that
        failed together do not come back together)."""
        step = min(self.max_wait, self.backoff * 2**attempt)
        return step / 2 + random.uniform(0, step / 2)
