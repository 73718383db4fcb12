"""Where e5ui's assets live: example sets, the calibration reference set, texts shown to users."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

ASSETS_DIR = Path(os.environ.get("E5UI_ASSETS", Path(__file__).resolve().parent.parent / "assets"))


def path(*parts: str) -> Path:
    """Returns a path inside assets/ (raising ValueError when it does not exist)."""
    p = ASSETS_DIR.joinpath(*parts)
    if not p.exists():
        raise ValueError(f"Missing asset: {p}")
    return p


@lru_cache(maxsize=64)
def text(name: str) -> str:
    """Returns the UTF-8 text of ``assets/text/<name>`` (user-facing words live there)."""
    return path("text", name).read_text(encoding="utf-8").strip()
