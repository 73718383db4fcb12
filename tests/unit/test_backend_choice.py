"""Which backend and precision an encoder tries, for every way a user can ask."""

from __future__ import annotations

import pytest

from e5ui.encoding import device
from e5ui.encoding import openvino as ovb


@pytest.fixture
def cpu(monkeypatch):
    """Sets the CPU class and what is installed: cpu("avx512_bf16", openvino=True)."""

    def set_cpu(kind: str, openvino: bool = True, nncf: bool = True):
        monkeypatch.setattr(device, "cpu_class", lambda: kind)
        monkeypatch.setattr(device, "cpu_has_native_bf16", lambda: kind in ("amx", "avx512_bf16"))
        missing = ([] if openvino else ["openvino"]) + ([] if nncf else ["nncf"])
        monkeypatch.setattr(ovb, "missing_packages", lambda precision="float32": [
            m for m in missing if m == "openvino" or precision.startswith("int8")])

    return set_cpu


def names(settings):
    return [(s.backend, s.precision, s.gated) for s in settings]


def test_auto_tries_the_fastest_faithful_candidates_then_torch(cpu):
    cpu("avx2")
    got = names(device.settings_to_try(None, "cpu", "auto"))
    assert got[-1] == ("torch", "auto", False)
    assert all(gated for _, _, gated in got[:-1]) and len(got) >= 2
    assert got[:-1] == [(b, p, True) for b, p in device.AUTO_ORDER["avx2"]]


def test_auto_without_openvino_is_todays_torch_default(cpu):
    cpu("avx512_bf16", openvino=False)
    assert names(device.settings_to_try(None, None, "auto")) == [("torch", "auto", False)]
    assert names(device.settings_to_try("auto", "cpu", "auto")) == [("torch", "auto", False)]


def test_auto_without_nncf_skips_the_int8_settings(cpu):
    cpu("avx2", nncf=False)
    got = names(device.settings_to_try(None, "cpu", "auto"))
    assert all(not p.startswith("int8") for _, p, _ in got)
    assert got[-1] == ("torch", "auto", False)


def test_an_explicit_dtype_is_one_ungated_setting(cpu):
    cpu("avx512_bf16")
    assert names(device.settings_to_try(None, "cpu", "float32")) == [("torch", "float32", False)]
    assert names(device.settings_to_try("openvino", "cpu", "int8")) == [
        ("openvino", "int8", False)]
    # int8 exists only in OpenVINO: asking for it picks the backend.
    assert names(device.settings_to_try(None, "cpu", "int8-weights")) == [
        ("openvino", "int8-weights", False)]


def test_openvino_auto_ends_with_openvino_float32(cpu):
    cpu("avx2")
    got = names(device.settings_to_try("openvino", "cpu", "auto"))
    assert got[-1] == ("openvino", "float32", False)
    assert all(b == "openvino" for b, _, _ in got)


def test_torch_auto_is_torch_alone(cpu):
    cpu("amx")
    assert names(device.settings_to_try("torch", "cpu", "auto")) == [("torch", "auto", False)]


@pytest.mark.parametrize("backend, dev, dtype, message", [
    ("tensorflow", "cpu", "auto", "Unknown backend: 'tensorflow'. Must be one of: auto, torch"),
    (None, "cpu", "int4", "Unknown dtype: 'int4'. Must be one of: auto, float32"),
    ("torch", "cpu", "int8", "needs --backend openvino"),
    ("openvino", "cpu", "float16", "no float16"),
    ("openvino", "cuda", "auto", "runs on the CPU"),
])
def test_bad_requests_are_refused_with_what_to_do(cpu, backend, dev, dtype, message):
    cpu("avx512_bf16")
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        device.settings_to_try(backend, dev, dtype)


def test_openvino_bfloat16_needs_bf16_units(cpu):
    cpu("avx2")
    with pytest.raises(ValueError, match="bfloat16 needs a CPU with bf16 units"):
        device.settings_to_try("openvino", "cpu", "bfloat16")


def test_openvino_missing_says_how_to_install_in_one_line(cpu):
    cpu("avx2", openvino=False)
    for backend, dtype in (("openvino", "auto"), ("openvino", "float32"), (None, "int8")):
        with pytest.raises(ovb.OpenVINOUnavailable) as caught:
            device.settings_to_try(backend, "cpu", dtype)
        message = str(caught.value)
        assert "\n" not in message and 'pip install "e5ui[openvino]"' in message
        assert isinstance(caught.value, ValueError)  # the CLI and the app show ValueErrors


def test_int8_needs_nncf_too(cpu):
    cpu("avx2", nncf=False)
    with pytest.raises(ovb.OpenVINOUnavailable, match="needs nncf"):
        device.settings_to_try("openvino", "cpu", "int8")
    assert names(device.settings_to_try("openvino", "cpu", "float32")) == [
        ("openvino", "float32", False)]
