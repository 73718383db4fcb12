"""The OpenVINO backend on the bundled multilingual-e5-small, against sentence-transformers in
float32 (an independent reference): OpenVINO float32 gives its vectors, every setting
dtype="auto" may pick (on any CPU class this CPU can stand in for) is faithful and its fidelity
record holds what an independent computation gives, and so does int8's."""

from __future__ import annotations

import pytest

from tests.conftest import ASSETS

pytest.importorskip("openvino", reason="requirements-dev.txt installs openvino")
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def st_model(bundled_dir):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(bundled_dir), device="cpu")


def parallel_texts() -> list[str]:
    return [line for path in sorted((ASSETS / "examples" / "parallel").glob("*.txt"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_openvino_float32_is_sentence_transformers_float32(st_model):
    from e5ui.analysis.fidelity import top_k_overlap
    from e5ui.encoding import Encoder

    enc = Encoder("bundled", backend="openvino", dtype="float32", cache=False)
    texts = parallel_texts()
    want = st_model.encode(["query: " + t for t in texts], normalize_embeddings=True)
    got = enc.encode(texts)
    assert (want * got).sum(axis=1).min() >= 0.99999
    assert top_k_overlap(want, got, 10) == 1.0


def _auto_candidates() -> list[str]:
    """The OpenVINO precisions dtype="auto" tries on some CPU class, that this CPU can run
    (bfloat16 only with bf16 units); float32 has its own, stricter test."""
    from e5ui.encoding import device

    wanted = {p for order in device.AUTO_ORDER.values() for b, p in order if b == "openvino"}
    return sorted(p for p in wanted - {"float32"}
                  if p != "bfloat16" or device.cpu_has_native_bf16())


@pytest.mark.parametrize("dtype", _auto_candidates())
def test_what_auto_may_pick_is_faithful_and_measured_so(st_model, dtype):
    from e5ui.analysis.fidelity import FAITHFUL_MIN_COS, top_k_overlap
    from e5ui.encoding import Encoder
    from e5ui.encoding.fidelity import sample_inputs

    enc = Encoder("bundled", backend="openvino", dtype=dtype, cache=False)
    texts = parallel_texts()
    want = st_model.encode(["query: " + t for t in texts], normalize_embeddings=True)
    got = enc.encode(texts)
    assert (want * got).sum(axis=1).min() >= FAITHFUL_MIN_COS
    assert top_k_overlap(want, got, 10) >= 0.97
    # The record's figures are the ones sentence-transformers' float32 gives on the sample.
    sample = sample_inputs(enc)
    ref = st_model.encode(sample, normalize_embeddings=True)
    mine = enc.encode(sample)
    record = enc.describe()["fidelity"]["agreement"]
    assert record["min_cos"] == pytest.approx(float((ref * mine).sum(axis=1).min()), abs=1e-5)
    assert record["top10_overlap"] == pytest.approx(top_k_overlap(ref, mine, 10), abs=0.01)


def test_int8_is_measured_and_says_so(st_model):
    from e5ui.encoding import Encoder

    enc = Encoder("bundled", backend="openvino", dtype="int8", cache=False)
    info = enc.describe()
    line = info["fidelity_line"]
    assert line.startswith("openvino int8: ") and "cosine to float32 ≥" in line
    # Independently: the sample against sentence-transformers' float32.
    from e5ui.encoding.fidelity import sample_inputs

    sample = sample_inputs(enc)
    ref = st_model.encode(sample, normalize_embeddings=True)
    mine = enc.encode(sample)
    min_cos = float((ref * mine).sum(axis=1).min())
    assert info["fidelity"]["agreement"]["min_cos"] == pytest.approx(min_cos, abs=1e-5)
    assert min_cos >= 0.995  # the int8 recipe's promise (FFN output layers kept)
    assert f"cosine to float32 ≥ {min_cos:.4f} for every text" in line
