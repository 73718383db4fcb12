"""The OpenVINO backend on the tiny random model: the same vectors as the model card's recipe,
a conversion made once and kept (atomically), a fidelity report that agrees with an independent
computation, dtype="auto"'s gate, and life without openvino installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from e5ui.encoding import Encoder
from e5ui.encoding import device as device_mod
from e5ui.encoding import fidelity as fidelity_mod
from e5ui.encoding import openvino as ovb

ROOT = Path(__file__).resolve().parents[2]
pytest.importorskip("openvino", reason="requirements-dev.txt installs openvino")

TEXTS = ["hello world", "Bonjour tout le monde, comment allez-vous aujourd'hui ?",
         "ein", "Привет мир и все, кто в нём живёт", "hello world", "短い"]


def card_recipe(model_dir: Path, inputs: list[str]) -> np.ndarray:
    """The model card's code: tokenize with padding, average the last hidden states over the
    attention mask, L2-normalise (float32, PyTorch)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    model = AutoModel.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    # e5ui's limit for this model: 66 positions, 2 reserved for padding (RoBERTa).
    batch = tok(inputs, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    """One cache root for the module, so the conversions are made once."""
    root = tmp_path_factory.mktemp("ov-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("E5UI_CACHE_DIR", str(root))
    yield root
    mp.undo()


def test_openvino_float32_gives_the_model_cards_vectors(tiny_model_dir, cache_root):
    enc = Encoder(str(tiny_model_dir), backend="openvino", dtype="float32", cache=False)
    assert (enc.describe()["backend"], enc.describe()["dtype"]) == ("openvino", "float32")
    assert enc.describe()["fidelity"] is None  # float32 is the reference itself
    got = enc.encode(TEXTS)
    want = card_recipe(tiny_model_dir, enc.format(TEXTS, "query"))
    np.testing.assert_allclose(got, want, atol=2e-5)
    assert enc._model is None  # no torch weights in this process


def test_a_conversion_is_kept_and_reused(tiny_model_dir, cache_root, monkeypatch):
    Encoder(str(tiny_model_dir), backend="openvino", dtype="float32", cache=False)
    folders = [p for p in (cache_root / "openvino").iterdir() if p.is_dir()]
    assert len(folders) == 1 and "-float32-" in folders[0].name
    marker = json.loads((folders[0] / "e5ui.json").read_text())
    assert marker["precision"] == "float32" and marker["source"] == str(tiny_model_dir)
    assert not [p for p in (cache_root / "openvino").iterdir() if p.name.startswith(".building")]

    def no_child(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(ovb, "run_child", no_child)
    again = Encoder(str(tiny_model_dir), backend="openvino", dtype="float32", cache=False)
    assert again.encode(["hello world"]).shape == (1, 32)


def test_a_folder_without_its_marker_is_rebuilt(tiny_model_dir, cache_root, monkeypatch):
    enc = Encoder(str(tiny_model_dir), backend="openvino", dtype="float32", cache=False)
    folder = ovb.model_folder(enc.located, "float32")
    (folder / "e5ui.json").unlink()
    # A half-written file (a new one: the first encoder still maps the old one's pages).
    (folder / "model.bin").unlink()
    (folder / "model.bin").write_bytes(b"half a file")
    calls = []
    real = ovb.run_child
    monkeypatch.setattr(ovb, "run_child", lambda *a, **k: (calls.append(a), real(*a, **k)))
    rebuilt = Encoder(str(tiny_model_dir), backend="openvino", dtype="float32", cache=False)
    assert len(calls) == 1
    np.testing.assert_allclose(rebuilt.encode(TEXTS), enc.encode(TEXTS), atol=1e-6)


def test_a_failed_conversion_says_why_and_leaves_nothing(tiny_model_dir, tmp_path,
                                                         monkeypatch):
    monkeypatch.setenv("E5UI_CACHE_DIR", str(tmp_path))
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in tiny_model_dir.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    # Weights the tokenizer-only load in this process accepts, the child cannot convert.
    (broken / "model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="--backend openvino: the OpenVINO conversion failed"):
        Encoder(str(broken), backend="openvino", dtype="float32", cache=False, fallback=False)
    left = [p.name for p in (tmp_path / "openvino").iterdir() if not p.name.endswith(".lock")]
    assert left == []


def test_int8_weights_reports_what_it_costs(tiny_model_dir, cache_root):
    enc = Encoder(str(tiny_model_dir), backend="openvino", dtype="int8-weights", cache=False)
    info = enc.describe()
    assert info["dtype"] == "int8-weights" and info["fidelity_line"].startswith(
        "openvino int8-weights: ")
    # Independently: the model card's float32 vectors of the sample against the encoder's.
    sample = fidelity_mod.sample_inputs(enc)
    want = card_recipe(tiny_model_dir, sample)
    with pytest.warns(UserWarning, match="exceed 64 tokens"):
        got = enc.encode(sample)
    cos = (want * got).sum(axis=1)
    assert info["fidelity"]["agreement"]["min_cos"] == pytest.approx(cos.min(), abs=2e-5)
    assert info["fidelity"]["agreement"]["texts"] == len(sample) == 336
    # Kept: a second encoder reads the record instead of measuring again.
    records = list((cache_root / "fidelity").glob("*openvino-int8-weights*.json"))
    assert len(records) == 1
    assert json.loads(records[0].read_text())["line"] == info["fidelity_line"]


def test_cache_keys_differ_between_backends(tiny_model_dir, cache_root):
    torch_enc = Encoder(str(tiny_model_dir), backend="torch", dtype="float32", cache=False)
    ov_enc = Encoder(str(tiny_model_dir), backend="openvino", dtype="float32", cache=False)
    assert torch_enc._cache_key("query: a", "query") != ov_enc._cache_key("query: a", "query")


def test_auto_passes_over_an_unfaithful_setting(tiny_model_dir, cache_root, monkeypatch):
    monkeypatch.setattr(device_mod, "cpu_class", lambda: "avx2")
    monkeypatch.setattr(device_mod, "AUTO_ORDER", {"avx2": (("openvino", "int8-weights"),)})
    real = fidelity_mod.measure

    def unfaithful(encoder, backend, precision, *args, **kwargs):
        record = real(encoder, backend, precision, *args, **kwargs)
        from dataclasses import replace

        return replace(record, agreement=replace(record.agreement, min_cos=0.99))

    monkeypatch.setattr(fidelity_mod, "measure", unfaithful)
    enc = Encoder(str(tiny_model_dir), device="cpu", cache=False)
    assert enc.describe()["backend"] == "torch"
    monkeypatch.setattr(fidelity_mod, "measure", real)
    enc = Encoder(str(tiny_model_dir), device="cpu", cache=False)
    info = enc.describe()
    assert (info["backend"], info["dtype"]) == ("openvino", "int8-weights")
    assert info["fidelity"]["faithful"] == (
        info["fidelity"]["agreement"]["min_cos"] >= 0.9995
        and info["fidelity"]["agreement"]["top10_overlap"] >= 0.97)


HIDE = ("import sys; sys.modules['openvino'] = None; sys.modules['nncf'] = None; "
        "from e5ui.__main__ import main; sys.exit(main(sys.argv[1:]))")


def cli_without_openvino(*args, cache: Path):
    env = dict(os.environ, E5UI_CACHE_DIR=str(cache), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-c", HIDE, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_without_openvino_everything_works_and_asking_says_how(tiny_model_dir, tmp_path):
    source = tmp_path / "texts.txt"
    source.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "emb.npy"
    asked = cli_without_openvino("embed", str(source), "--model", str(tiny_model_dir),
                                 "--backend", "openvino", "--out", str(out), "-q",
                                 cache=tmp_path / "c")
    assert asked.returncode == 2 and not out.exists()
    lines = [ln for ln in asked.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and 'pip install "e5ui[openvino]"' in lines[0], asked.stderr
    plain = cli_without_openvino("embed", str(source), "--model", str(tiny_model_dir),
                                 "--dtype", "float32", "--out", str(out), "-q",
                                 cache=tmp_path / "c")
    assert plain.returncode == 0, plain.stderr
    want = card_recipe(tiny_model_dir, ["query: " + t for t in TEXTS])
    np.testing.assert_allclose(np.load(out), want, atol=2e-5)
