"""Scores explained: the user's pair scores against the model's unrelated-pair baseline, and
the two-sentence score."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from e5ui import baselines, plots, registry, resources, textio
from e5ui.analysis import similarity
from e5ui.analysis.calibration import Baseline, calibrate
from e5ui.views.common import ViewProgress, check_suffix, embed, notes_for, score_words


@dataclass(eq=False)
class ExplainResult:
    """The user's pair scores against the model's unrelated-pair baseline.

    Attributes:
        model: the model that encoded.
        baseline: its unrelated-pair baseline.
        pair_cosines: the cosines of every pair of the user's texts (may be empty).
        n_texts: how many texts the user gave.
        notes: remarks for the user.
    """

    model: str
    baseline: Baseline
    pair_cosines: np.ndarray
    n_texts: int
    notes: list[str]

    @cached_property
    def figure(self):
        return plots.score_histogram(self.pair_cosines, self.baseline,
                                     title="Your pairs vs. unrelated pairs")

    @property
    def summary(self) -> str:
        b, pair = self.baseline, self.pair_cosines
        text = (f"{self.model} · unrelated pairs ({b.n_texts} reference sentences, "
                f"{b.cosines.size} pairs) score {b.p5:.3f}–{b.p95:.3f} (5th–95th percentile), "
                f"median {b.median:.3f}.")
        if pair.size:
            above = float((pair > b.p95).mean())
            pairs_word = "pair" if pair.size == 1 else "pairs"
            text += (f" Your {self.n_texts} texts: {pair.size} {pairs_word}, median "
                     f"{float(np.median(pair)):.3f}; {above:.0%} score above 95% of unrelated "
                     "pairs.")
        return text

    def write(self, path: str | Path) -> Path:
        """Writes the histogram (.html)."""
        check_suffix(path, (".html",), "explain")
        return plots.write_html(path, registry.get("explain").figure_title, self.figure)


def explain_view(encoder, corpus: textio.Corpus | None, baseline: Baseline | None = None,
                 progress: ViewProgress | None = None) -> ExplainResult:
    """Where the pairwise cosines of the user's texts (if any) fall among unrelated pairs."""
    pair = np.zeros(0, np.float32)
    notes: list[str] = []
    if corpus is not None and len(corpus) >= 2:
        encoded = embed(encoder, corpus, "symmetric", progress, 0.0, 0.9, "texts")
        sim = similarity.cosine_matrix(encoded.embeddings)
        pair = sim[np.triu_indices(len(corpus), k=1)]
        notes = notes_for(corpus, encoded, encoder.max_length, "Input")
    elif corpus is not None:
        notes = ["One text makes no pair: add at least two to see where your scores fall."]
    baseline = baseline or baselines.reference_baseline(encoder)
    return ExplainResult(encoder.describe()["model"], baseline, pair,
                         0 if corpus is None else len(corpus), notes)


@dataclass
class PairScore:
    """Two texts' cosine in three units, and the sentence that explains it."""

    raw: float
    percentile: float
    rescaled: float
    text: str


def pair_score(encoder, a: str, b: str, baseline: Baseline | None = None) -> PairScore:
    """Raw cosine, percentile among unrelated pairs and rescaled score of two texts."""
    a, b = (a or "").strip(), (b or "").strip()
    if not a or not b:
        raise ValueError("Type a sentence in both boxes")
    emb = encoder.encode([a, b], kind="symmetric")
    baseline = baseline or baselines.reference_baseline(encoder)
    raw = float(emb[0] @ emb[1])
    cal = calibrate(raw, baseline)
    pct, res = float(cal.percentile), float(cal.rescaled)
    text = resources.text("pair_score.md").format(raw=raw, **score_words(pct, res,
                                                                         baseline.median))
    return PairScore(raw, pct, res, text)
