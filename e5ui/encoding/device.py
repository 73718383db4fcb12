"""Device and dtype: decided here and nowhere else, and logged once per choice.

"auto" picks float16 on CUDA and MPS, bfloat16 on CPUs with native bf16 matrix units (AMX or
AVX512-BF16, where it is several times faster than float32) and float32 on other CPUs (where
bf16 is emulated and slow).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

_logged_choice: set[tuple[str, str]] = set()


def cpu_has_native_bf16() -> bool:
    """True on CPUs with bf16 matrix instructions (AMX or AVX512-BF16)."""
    import torch

    try:
        if torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported():
            return True
    except AttributeError:  # older torch without these probes
        pass
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def _checked_device(torch, name: str):
    """The torch device named ``name``, or a ValueError a user understands (torch raises a
    RuntimeError for an unknown name and fails only later, deep inside, for a missing GPU)."""
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError, TypeError):
        raise ValueError(
            f"Unknown device {name!r}. Must be one of: cpu, cuda, cuda:N, mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = "a CPU-only build" if torch.version.cuda is None else "no visible GPU"
            raise ValueError(f"Device {name!r} is not available: this torch has {build}; "
                             "use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"Device {name!r} is not available: "
                             f"{torch.cuda.device_count()} GPU(s) visible")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                    and torch.backends.mps.is_available()):
        raise ValueError(f"Device {name!r} is not available on this machine; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"Unsupported device {name!r}. Must be one of: cpu, cuda, cuda:N, mps")
    return dev


def select_device_and_dtype(device: str | None = None, dtype: str = "auto"):
    """Chooses the torch device and dtype, logging the choice once per process.

    "auto" means float16 on CUDA, bfloat16 on CPUs with native bf16 matrix units (where it is
    several times faster than float32), float32 elsewhere (where bf16 is emulated and slow).

    Args:
        device: "cpu", "cuda", "cuda:1", "mps" or None for the best available.
        dtype: "auto" | "float32" | "bfloat16" | "float16".

    Returns:
        (torch.device, torch.dtype)
    """
    import torch

    choices = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if dtype != "auto" and dtype not in choices:
        raise ValueError(f"Unknown dtype: {dtype!r}. Must be one of: auto, {', '.join(choices)}")
    if device is None:
        if torch.cuda.is_available():
            device = "cuda"
        elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            device = "mps"
        else:
            device = "cpu"
    dev = _checked_device(torch, device)
    if dtype != "auto":
        chosen = choices[dtype]
        why = "requested"
    elif dev.type in ("cuda", "mps"):
        chosen, why = torch.float16, f"{dev.type} default"
    elif cpu_has_native_bf16():
        chosen, why = torch.bfloat16, "CPU has native bf16 matrix units"
    else:
        chosen, why = torch.float32, "CPU has no native bf16 matrix units"
    key = (str(dev), str(chosen))
    if key not in _logged_choice:
        _logged_choice.add(key)
        logger.info("Encoding on %s in %s (%s)", dev, str(chosen).removeprefix("torch."), why)
    return dev, chosen


# -- backends --------------------------------------------------------------------------------
BACKENDS = ("torch", "openvino")
TORCH_DTYPES = ("float32", "bfloat16", "float16")
OPENVINO_ONLY = ("int8-weights", "int8")
DTYPES = ("auto", *TORCH_DTYPES, *OPENVINO_ONLY)

# What dtype="auto" tries on a CPU, fastest first as measured on that CPU class
# (benchmarks/RESULTS.md, "Backends"); each is used only when installed and faithful on the
# fidelity sample (encoding.fidelity), and torch at its default is the last resort.
# On AVX512-BF16 CPUs OpenVINO's bf16 beats torch's bf16 (1.08-1.21x, one run) and its own
# int8-weights (whose weights are decompressed for bf16 work); on AMX torch's bf16 was measured
# (4x sentence-transformers) and OpenVINO was not, so torch stays; on AVX2 the int8 weights halve
# the bytes a float32 matmul reads.
AUTO_ORDER = {
    "amx": (),
    "avx512_bf16": (("openvino", "bfloat16"),),
    "avx2": (("openvino", "int8-weights"), ("openvino", "float32")),
}


@dataclass(frozen=True)
class Setting:
    """One way to run the model: a backend and its precision, and why it was chosen.

    Attributes:
        backend: "torch" or "openvino".
        precision: "auto" (torch decides: ``select_device_and_dtype``), or a dtype.
        why: "requested", or what made ``dtype="auto"`` try it.
        gated: True when it must prove faithful on the fidelity sample before it is used
            (``dtype="auto"`` trying a faster setting); False for what the user asked for and
            for the last resort.
    """

    backend: str
    precision: str
    why: str
    gated: bool = False


def cpu_class() -> str:
    """"amx", "avx512_bf16" (bf16 units without AMX), "avx2" or "other"."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        flags = ""
    if "amx_bf16" in flags:
        return "amx"
    if cpu_has_native_bf16():
        return "avx512_bf16"
    if " avx2" in flags:
        return "avx2"
    return "other"


def settings_to_try(backend: str | None, device: str | None, dtype: str) -> list[Setting]:
    """The settings an encoder tries, in order, for a backend and dtype as the user gave them.

    ``dtype="auto"`` on a CPU tries, fastest first, the settings ``AUTO_ORDER`` lists for
    this CPU class that the installed packages can run, each gated on fidelity, then torch at
    its default. An int8 dtype implies the OpenVINO backend. Any other request is one
    setting.

    Args:
        backend: None or "auto" (e5ui decides), "torch" or "openvino".
        device: as for ``select_device_and_dtype`` (OpenVINO runs on the CPU only).
        dtype: one of ``DTYPES``.

    Raises:
        ValueError: an unknown backend or dtype, a dtype the backend lacks, OpenVINO on a GPU,
            or (``encoding.openvino.OpenVINOUnavailable``) OpenVINO asked for but not
            installed.
    """
    from e5ui.encoding import openvino as ovb

    if backend in (None, "auto"):
        backend = "openvino" if dtype in OPENVINO_ONLY else None
    elif backend not in BACKENDS:
        raise ValueError(f"Unknown backend: {backend!r}. Must be one of: auto, "
                         f"{', '.join(BACKENDS)}")
    if dtype not in DTYPES:
        raise ValueError(f"Unknown dtype: {dtype!r}. Must be one of: {', '.join(DTYPES)}")
    on_cpu = device is None or str(device).split(":")[0] == "cpu"
    if device is None:
        import torch

        on_cpu = not torch.cuda.is_available() and not (
            getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())
    if backend == "torch":
        if dtype in OPENVINO_ONLY:
            raise ValueError(f"dtype {dtype!r} needs --backend openvino")
        return [Setting("torch", dtype, "requested")]
    if backend == "openvino":
        if not on_cpu:
            raise ValueError(f"The OpenVINO backend runs on the CPU, not on {device or 'a GPU'}; "
                             "use --device cpu or --backend torch")
        if dtype == "float16":
            raise ValueError("OpenVINO on a CPU has no float16; use float32, bfloat16, "
                             "int8-weights or int8")
        if dtype == "bfloat16" and not cpu_has_native_bf16():
            raise ValueError("bfloat16 needs a CPU with bf16 units (AMX or AVX512-BF16), which "
                             "this one lacks; use int8-weights or float32")
        if dtype != "auto":
            ovb.require(dtype)
            return [Setting("openvino", dtype, "requested")]
        ovb.require("float32")
        tried = [Setting("openvino", p, "fastest faithful OpenVINO setting on this CPU", True)
                 for b, p in AUTO_ORDER.get(cpu_class(), ()) if b == "openvino"
                 and ovb.available(p)]
        return tried + [Setting("openvino", "float32", "OpenVINO's faithful fallback")]
    # backend None: e5ui decides.
    if dtype != "auto":
        return [Setting("torch", dtype, "requested")]
    if not on_cpu:
        return [Setting("torch", "auto", "GPU")]
    tried = [Setting(b, p, "fastest faithful setting on this CPU", True)
             for b, p in AUTO_ORDER.get(cpu_class(), ()) if ovb.available(p)]
    return tried + [Setting("torch", "auto", "torch's default")]
