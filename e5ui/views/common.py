"""What every view shares: the table type, progress, encoding with notes, labels, and writing
figures."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from e5ui import plots, textio

# progress(fraction done, what is happening); encode() reports texts instead (EncodeProgress)
ViewProgress = Callable[[float, str], None]


@dataclass
class Table:
    """A view's table: what the app shows and what the CLI writes, with one header.

    Attributes:
        header: column names.
        rows: one list per row: ints (0-based line numbers, ranks), floats (scores, written
            with 6 decimals) and strings; None for a cell that does not apply.
    """

    header: list[str]
    rows: list[list] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def write(self, path: str | Path) -> Path:
        """Writes the table as .csv or .tsv."""
        return textio.write_rows(path, self.header, self.rows)

    def frame(self, limit: int | None = None):
        """The table for display (pandas): scores rounded to 4 decimals, percentiles as
        "97.3%", cells that do not apply as "–"."""
        import pandas as pd

        def shown(column: str, value: Any) -> Any:
            if value is None or (isinstance(value, float) and value != value):
                return "–"  # (NaN: calibration off, vectors of another model)
            if column == "percentile":
                return fmt_pct(float(value))
            if isinstance(value, float):
                return round(value, 4)
            return value

        rows = self.rows if limit is None else self.rows[:limit]
        return pd.DataFrame([[shown(c, v) for c, v in zip(self.header, r)] for r in rows],
                            columns=self.header)

    def html(self, limit: int = 200) -> plots.Markup:
        """The first rows as an escaped HTML table, for the report."""
        return plots.Markup(self.frame(limit).to_html(index=False, escape=True))


def score_words(pct: float, rescaled: float, median: float) -> dict[str, str]:
    """A score's percentile (to 0.1%, rounded down as the heatmap's hover rounds), rescaled
    score and unrelated median as ``pair_score.md`` shows them: "–" each where calibration is
    off (NaN: vectors of another model have no baseline)."""
    if pct != pct:
        return {"pct": "–", "rescaled": "–", "median": "–"}
    # Rounded down to the 0.1% shown: "100.0%" only when no unrelated pair scores higher.
    shown = math.floor(pct * 1000 + 1e-9) / 1000
    return {"pct": f"{shown:.1%}", "rescaled": f"{rescaled:+.3f}", "median": f"{median:.3f}"}


def fmt_pct(p: float) -> str:
    """A percentile for people: "97.3%", ">99.9%", "<0.1%"."""
    if p != p:  # NaN
        return "–"
    if p >= 0.999:
        return ">99.9%"
    if p <= 0.001:
        return "<0.1%"
    return f"{p:.1%}"


# -- shared steps -------------------------------------------------------------------------------
def embed(encoder, corpus: textio.Corpus, kind: str, progress: ViewProgress | None, lo: float,
           hi: float, what: str):
    def cb(done: int, total: int) -> None:
        if progress is not None and total:
            progress(lo + (hi - lo) * done / total, f"Encoding {what}: {done}/{total}")

    return encoder.encode_detailed(corpus.texts, kind=kind, progress=cb)


def stage(progress: ViewProgress | None, fraction: float, what: str) -> None:
    if progress is not None:
        progress(fraction, what)


def notes_for(corpus: textio.Corpus, result: Any, max_tokens: int, what: str) -> list[str]:
    """User-facing notes on one input: skipped blank lines and truncated texts."""
    notes = list(corpus.notes())
    if result is not None and result.truncated:
        listed = ", ".join(f"{corpus.where(t.index)} ({t.tokens} tokens)"
                           for t in result.truncated[:8])
        more = "" if len(result.truncated) <= 8 else f" and {len(result.truncated) - 8} more"
        notes.append(f"{what}: {len(result.truncated)} text(s) longer than {max_tokens} tokens "
                     f"were truncated (the model reads only the first {max_tokens}): "
                     f"{listed}{more}")
    if result is not None:  # loaded vectors: another prompt, calibration off
        notes.extend(n for n in getattr(result, "notes", ()) if n not in notes)
    return notes


def labels_for(corpus: textio.Corpus, langs: list[str]) -> list[str]:
    """Short unique labels: "name · lang" (name = id, label or 1-based row), "(2)" on repeats."""
    out = [f"{name} · {lang}" for name, lang in zip(corpus.names(), langs)]
    # Plotly merges equal category labels, pandas renames equal columns: keep them unique.
    seen: dict[str, int] = {}
    for i, label in enumerate(out):
        if label in seen:
            seen[label] += 1
            out[i] = f"{label} ({seen[label]})"
        else:
            seen[label] = 1
    return out


def check_suffix(path: str | Path, allowed: Sequence[str], what: str) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in allowed:
        raise ValueError(f"The {what} view writes {', '.join(allowed)} files, not "
                         f"{Path(path).name!r}")
    return suffix


def centered(emb: np.ndarray, langs: list[str], notes: list[str]) -> np.ndarray:
    """The embeddings with each language's mean subtracted (``analysis.centering``), and a note
    saying which languages were centered and which had too few texts to be."""
    from e5ui.analysis.centering import center_languages

    result = center_languages(emb, langs)
    if not result.applied:
        notes.append(f"Centering changed nothing: no language has {result.min_texts} or more "
                     "texts.")
        return result.embeddings
    listed = ", ".join(f"{lang} ({n})" for lang, n in sorted(result.centered.items()))
    note = f"Languages centered (each language's mean embedding subtracted): {listed}."
    if result.skipped:
        few = ", ".join(f"{lang} ({n})" for lang, n in sorted(result.skipped.items()))
        note += f" Not centered, fewer than {result.min_texts} texts: {few}."
    notes.append(note)
    return result.embeddings
