"""Where e5ui's assets live: example sets, the calibration reference set, texts shown to users.

In a checkout they are the top-level ``assets/`` folder; an installed package carries a copy as
``e5ui/assets/`` (pyproject.toml maps one onto the other). ``E5UI_ASSETS`` overrides both.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _assets_dir() -> Path:
    if os.environ.get("E5UI_ASSETS"):
        return Path(os.environ["E5UI_ASSETS"])
    packaged = _HERE / "assets"
    return packaged if packaged.is_dir() else _HERE.parent / "assets"


ASSETS_DIR = _assets_dir()


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
