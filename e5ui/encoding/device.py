"""Device and dtype: decided here and nowhere else, and logged once per choice.

"auto" picks float16 on CUDA and MPS, bfloat16 on CPUs with native bf16 matrix units (AMX or
AVX512-BF16, where it is several times faster than float32) and float32 on other CPUs (where
bf16 is emulated and slow).
"""

from __future__ import annotations

import logging
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
