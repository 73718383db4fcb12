"""One self-contained HTML report of the views a visitor ran."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from e5ui import plots, registry


def report(sections: Mapping[str, tuple[str, Any]] | list[tuple[str, Any]], info: dict | None,
           folder: Path) -> str:
    """Writes one self-contained HTML report of the given views into ``folder``.

    Args:
        sections: view name (or ``"<view>-<part>"``) -> (heading, figure or HTML), put in the
            registry's order of the views; or (heading, figure or HTML) in reading order.
        info: the encoder's ``describe()``.
        folder: where to write it.

    Returns:
        The file's path.
    """
    if not sections:
        raise ValueError("Nothing to report yet: run at least one view first")
    if isinstance(sections, Mapping):
        sections = [sections[k] for k in sorted(sections, key=registry.section_order)]
    meta = {"created": time.strftime("%Y-%m-%d %H:%M")}
    if info:
        meta.update({"model": info.get("model"), "source": info.get("source"),
                     "device": info.get("device"), "dtype": info.get("dtype")})
        if info.get("fallback_reason"):
            meta["note"] = f"requested {info.get('requested')}: {info['fallback_reason']}"
    return str(plots.write_html(folder / "e5ui-report.html", "e5ui report", sections, meta))
