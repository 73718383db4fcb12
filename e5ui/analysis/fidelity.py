"""How far a faster encoding setting moves what users see, measured against float32.

Pure functions of two embeddings of the same texts — the float32 reference and the candidate
(bfloat16, an OpenVINO model, int8 weights ...) — row for row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from e5ui.analysis.calibration import baseline_from_embeddings, percentile

# What "faithful" means for dtype="auto" (DESIGN.md, speed policy): a setting may replace
# float32 by default only when every vector stays this close and neighbours barely move.
FAITHFUL_MIN_COS = 0.9995
FAITHFUL_TOP10 = 0.97


@dataclass(frozen=True)
class Agreement:
    """A candidate's agreement with float32 on one sample.

    Attributes:
        texts: the sample's size.
        min_cos: the lowest cosine between a text's two vectors.
        p1_cos: the 1st percentile of those cosines.
        top10_overlap: the mean share of each text's 10 nearest neighbours (within the
            sample) that stay among its 10 nearest.
        max_percentile_shift: the largest change, in points, of a pair's calibrated
            percentile (each side against its own unrelated-pair baseline) over all pairs.
    """

    texts: int
    min_cos: float
    p1_cos: float
    top10_overlap: float
    max_percentile_shift: float

    @property
    def faithful(self) -> bool:
        """True when ``dtype="auto"`` may use the setting (min cos and top-10 thresholds)."""
        return self.min_cos >= FAITHFUL_MIN_COS and self.top10_overlap >= FAITHFUL_TOP10


def _unit(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def row_cosines(reference: Any, candidate: Any) -> np.ndarray:
    """Vector (n,) with res[i] = cos(reference[i], candidate[i])."""
    return (_unit(reference) * _unit(candidate)).sum(axis=1)


def top_k_overlap(reference: Any, candidate: Any, k: int = 10) -> float:
    """The mean, over texts, of |top-k(reference) ∩ top-k(candidate)| / k, where top-k are a
    text's k most similar other texts in the same sample (ties broken by index)."""
    ref, cand = _unit(reference), _unit(candidate)
    n = len(ref)
    k = min(k, n - 1)
    if k < 1:
        return 1.0
    overlap = 0
    s_ref, s_cand = ref @ ref.T, cand @ cand.T
    np.fill_diagonal(s_ref, -np.inf)
    np.fill_diagonal(s_cand, -np.inf)
    a = np.argsort(-s_ref, axis=1, kind="stable")[:, :k]
    b = np.argsort(-s_cand, axis=1, kind="stable")[:, :k]
    for x, y in zip(a, b):
        overlap += len(set(x.tolist()) & set(y.tolist()))
    return overlap / (n * k)


def max_percentile_shift(reference: Any, candidate: Any) -> float:
    """The largest |percentile_ref(cos_ref(i, j)) − percentile_cand(cos_cand(i, j))| over pairs
    i < j, in points (0–100): each side's cosines are calibrated against the unrelated-pair
    baseline of its own vectors, as the app calibrates a model's scores."""
    ref, cand = _unit(reference), _unit(candidate)
    n = len(ref)
    if n < 3:
        return 0.0
    iu = np.triu_indices(n, k=1)
    shifts = []
    for emb in (ref, cand):
        base = baseline_from_embeddings(emb, "sample")
        shifts.append(percentile((emb @ emb.T)[iu], base))
    return float(100 * np.max(np.abs(shifts[0] - shifts[1])))


def agreement(reference: Any, candidate: Any, k: int = 10) -> Agreement:
    """Measures a candidate against float32 on the same texts.

    Args:
        reference: float32 vectors (n, dim).
        candidate: the candidate's vectors of the same n texts, same order.
        k: neighbours compared per text.

    Returns:
        The Agreement.
    """
    ref, cand = np.asarray(reference), np.asarray(candidate)
    if ref.shape != cand.shape or ref.ndim != 2 or len(ref) == 0:
        raise ValueError(f"Reference and candidate must have the same (n, dim) shape, n > 0; "
                         f"got {ref.shape} and {cand.shape}")
    cos = row_cosines(ref, cand)
    return Agreement(texts=len(ref), min_cos=float(cos.min()),
                     p1_cos=float(np.percentile(cos, 1)),
                     top10_overlap=float(top_k_overlap(ref, cand, k)),
                     max_percentile_shift=max_percentile_shift(ref, cand))
