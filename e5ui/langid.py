"""Language detection for labels and cross-lingual filters.

py3langid ships its model inside the package (97 languages, ISO 639-1 codes), so detection
works offline. A user-supplied ``lang`` column always wins over detection.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

logger = logging.getLogger(__name__)

UNKNOWN = "und"  # BCP 47 "undetermined"
_lock = threading.Lock()


def normalise_code(code: str) -> str:
    """Returns a lower-case primary language subtag: "de-CH" -> "de", "zh_Hans" -> "zh"."""
    code = (code or "").strip().replace("_", "-").lower()
    return code.split("-", 1)[0] if code else ""


def detect(texts: Sequence[str], given: Sequence[str] | None = None) -> list[str]:
    """Returns a language code per text.

    Args:
        texts: the texts.
        given: codes from the input's ``lang`` column; a non-empty value wins over detection.

    Returns:
        ISO 639-1 codes (or "und" for texts without letters).
    """
    if given is not None and len(given) != len(texts):
        raise ValueError(f"got {len(given)} language codes for {len(texts)} texts")
    out: list[str] = []
    for i, text in enumerate(texts):
        code = normalise_code(given[i]) if given is not None else ""
        if not code:
            if not any(ch.isalpha() for ch in text):
                code = UNKNOWN
            else:
                import py3langid

                with _lock:  # py3langid loads its model into a module global on first use
                    code = py3langid.classify(text)[0]
        out.append(code)
    return out
