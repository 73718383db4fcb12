"""A seeded fuzz pass over every endpoint of the app, through its API on loopback: random
strings with control characters, lone surrogates, bidi overrides, huge and empty values, and
wrong types for every parameter, plus file parameters naming paths the session never uploaded.

Each answer must be a result or a refusal that carries a sentence (no empty or generic error,
no traceback, no server path); afterwards the same app process answers a normal request with
the right numbers, and its temp folders stayed bounded. A deterministic fake encoder keeps this
about the server, not the model.
"""

from __future__ import annotations

import csv
import json
import random
import re
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FakeEncoder
from tests.integration.conftest import small_app

pytestmark = pytest.mark.integration

SEED = 20261206
CALLS_PER_ENDPOINT = 14
# Generic words a refusal must not stop at: they tell the user nothing.
EMPTY_MESSAGES = {"", "none", "null", "error"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app with small limits, a fake encoder and its own temp folders."""
    root = tmp_path_factory.mktemp("fuzz")
    encoder = FakeEncoder()
    with small_app(root, encoder, max_texts=40, max_side=50, max_chars=400, max_upload_mb=1,
                   max_rows=20, export_mb=32) as (client, store):
        yield client, store, root, encoder


def hostile_string(rng: random.Random) -> str:
    pieces = [
        "The train is late.", "Der Zug hat Verspätung.", "電車が遅れています。", "",
        "\x00", "\x01\x08", "\ufffe", "\ud800", "\udfff", "\u202e", "\u2066", "\r", "\x85",
        "\u2028", "\t", "=cmd|' /C calc'!A0", "<script>x</script>", "\\", '"', "\u200b",
        "text\tlabel\nA\tB", "0,1\n1,0", "../../etc/passwd", "🙂" * 3,
    ]
    size = rng.choice([0, 1, 3, 12, 60])
    text = "\n".join("".join(rng.choice(pieces) for _ in range(rng.randint(1, 4)))
                     for _ in range(size))
    if rng.random() < 0.12:
        text += "x" * rng.choice([5_000, 200_000])  # one very long line
    return text


def hostile_value(rng: random.Random, param: dict, root: Path, other: str):
    """A value for ``param`` that is usually wrong in some way."""
    kind = param["python_type"]["type"]
    pick = rng.random()
    if pick < 0.15:
        return None
    if pick < 0.25:
        return rng.choice([[], {}, ["a", 1], {"a": 1}, True, 0, -1, 1e308, "abc", "NaN"])
    if param.get("component") == "Json":  # an upload's column choice
        return rng.choice([{}, {"text": "text"}, {"text": "missing", "lang": None},
                           {"texts": "text"}, {"text": 3}, {"id": "x" * 300}, "text=text"])
    if kind == "filepath":
        path = rng.choice([other, str(root / "exports"), "/etc/passwd", "/proc/self/environ",
                           "../../../etc/hosts", str(root / "cache"), "http://127.0.0.1:1/x"])
        return rng.choice([path, {"path": path, "meta": {"_type": "gradio.FileData"}}])
    if kind == "float":
        return rng.choice([-1e9, -3, 0, 0.5, 3, 1e9, 1e308, "7", "abc", "inf"])
    if kind == "bool":
        return rng.choice([True, False, "yes", 2])
    if kind.startswith("Literal"):
        choices = re.findall(r"'([^']*)'", kind)
        return rng.choice([*choices, "", "x" * 300, "\ud800", choices[0].upper()])
    return hostile_string(rng)


def is_sentence(message) -> bool:
    """A refusal the user can act on: words, not an empty, generic or internal message."""
    text = (message or "").strip() if isinstance(message, str) else ""
    return (text.lower() not in EMPTY_MESSAGES and len(text.split()) >= 3
            and "Traceback" not in text and "has not enabled verbose error" not in text)


def call(base: str, name: str, data: list) -> tuple[str, object]:
    """One request straight to the queue's HTTP API (as a script would, without
    gradio_client, which would upload local paths itself): ("complete", outputs) or
    ("error", message)."""
    import httpx

    # ensure_ascii: a lone surrogate travels as a JSON escape, as a browser would send it.
    body = json.dumps({"data": data}, ensure_ascii=True, allow_nan=False).encode()
    reply = httpx.post(f"{base}gradio_api/call/{name.strip('/')}", content=body, timeout=60,
                       headers={"content-type": "application/json"})
    if reply.status_code != 200:
        return "error", reply.json().get("detail") if reply.headers.get(
            "content-type", "").startswith("application/json") else reply.text
    event_id = reply.json()["event_id"]
    with httpx.stream("GET", f"{base}gradio_api/call/{name.strip('/')}/{event_id}",
                      timeout=120) as stream:
        text = "".join(stream.iter_text())
    events = re.findall(r"^event: (\w+)\ndata: (.*)$", text, re.M)
    kind, payload = next((k, d) for k, d in reversed(events) if k in ("complete", "error"))
    value = json.loads(payload)
    return kind, (value or {}).get("error") if kind == "error" else value


def test_every_endpoint_answers_hostile_values_with_a_result_or_a_sentence(served):
    client, store, root, _ = served
    base = client.src if client.src.endswith("/") else client.src + "/"
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/similarity", "/neighbours", "/map", "/bitext", "/align", "/align_review",
            "/explain", "/pair_score"} <= set(api)
    # Another session's download: its path is the kind of thing a client could learn.
    kind, outputs = call(base, "/similarity", ["a\nb", None, "input", "symmetric", False])
    other = outputs[4][0]["path"]
    outcomes = {"complete": 0, "error": 0}
    server_paths = (str(root), "/tmp/", "site-packages", "/work/")
    for name, endpoint in sorted(api.items()):
        # One stream per endpoint: a parameter added to one leaves the others' values as they
        # were.
        rng = random.Random(f"{SEED}:{name}")
        params = endpoint["parameters"]
        for _ in range(CALLS_PER_ENDPOINT):
            args = [hostile_value(rng, p, root, other) for p in params]
            kind, value = call(base, name, args)
            outcomes[kind] += 1
            if kind == "error":
                assert is_sentence(value), f"{name}{tuple(args)!r:.600}: {value!r}"
                assert not any(p in value for p in server_paths), f"{name}: {value!r}"
    assert outcomes["complete"] and outcomes["error"]  # both happened: the checks were reached
    # Bounded temp disk: the store keeps only the latest result per view and session.
    assert store.usage() < 32 * 2**20


def test_the_same_app_answers_a_normal_request_correctly_afterwards(served):
    client, _, _, encoder = served
    texts = ["The train is late.", "Der Zug hat Verspätung.", "I like green tea."]
    files = client.predict("\n".join(texts), None, "input", "symmetric", False,
                           api_name="/similarity")[4]
    matrix_csv = next(Path(f) for f in files if str(f).endswith(".csv"))
    with matrix_csv.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    got = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    # Independent reference: the fake encoder's vectors (the symmetric prompt), multiplied here.
    vectors = encoder.encode(texts, kind="symmetric")
    np.testing.assert_allclose(got, vectors @ vectors.T, atol=1e-4)
