"""The CPU a benchmark ran on, as every benchmark reports it: model name and the vector
extensions that decide bf16 speed."""

from __future__ import annotations

import os
import platform
from pathlib import Path

FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def cpu_info() -> tuple[str, list[str]]:
    """The CPU's model name and which of ``FLAGS`` it has (empty where /proc is unreadable)."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.processor(), []
    model = next((ln.split(":", 1)[1].strip() for ln in lines if ln.startswith("model name")),
                 platform.processor())
    flags = next((ln for ln in lines if ln.startswith("flags")), "")
    return model, [f for f in FLAGS if f" {f}" in flags]


def cpu() -> str:
    """One line: model, cores and extensions, e.g. ``AMD EPYC (2 cores; avx2)``."""
    model, flags = cpu_info()
    return f"{model} ({os.cpu_count()} cores; {' '.join(flags) or 'no avx2'})"
