"""Score calibration: what a cosine means for a given model.

E5 was trained with InfoNCE at temperature 0.01, which compresses cosines into roughly 0.7-1.0:
unrelated texts already score ~0.75. A raw score only means something relative to the cosines
the same model gives to unrelated pairs (its baseline). Everything here is a plain function of
numpy arrays; where the baseline's reference texts come from is ``e5ui.baselines``' business.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from e5ui.analysis.similarity import as_matrix, cosine_matrix


@dataclass(eq=False)
class Baseline:
    """Cosines a model gives to pairs of unrelated texts.

    Attributes:
        model: Name of the model that produced the cosines.
        cosines: All unrelated-pair cosines, float32, sorted ascending.
        n_texts: Number of texts the pairs were drawn from.
        calibrated: False for ``Baseline.off``: no baseline applies (vectors of another
            model than the one that could encode the reference set), so percentiles, rescaled
            scores and the median are NaN rather than numbers that would look calibrated.
    """

    model: str
    cosines: np.ndarray
    n_texts: int = 0
    calibrated: bool = True

    @classmethod
    def off(cls, model: str) -> Baseline:
        """A baseline that calibrates nothing: every percentile and rescaled score is NaN."""
        return cls(model=model, cosines=np.zeros(1, np.float32), n_texts=0, calibrated=False)

    def __post_init__(self) -> None:
        arr = np.asarray(self.cosines, dtype=np.float32).reshape(-1)
        if arr.size == 0:
            raise ValueError("a baseline needs at least one unrelated pair")
        if not np.isfinite(arr).all():
            raise ValueError("baseline cosines contain NaN or infinite values")
        self.cosines = np.sort(arr)

    @property
    def median(self) -> float:
        """Median unrelated-pair cosine (NaN when calibration is off)."""
        if not self.calibrated:
            return float("nan")
        return float(np.median(self.cosines.astype(np.float64)))

    @property
    def p5(self) -> float:
        """5th percentile of unrelated-pair cosines (linear interpolation)."""
        if not self.calibrated:
            return float("nan")
        return float(np.percentile(self.cosines.astype(np.float64), 5))

    @property
    def p95(self) -> float:
        """95th percentile of unrelated-pair cosines (linear interpolation)."""
        if not self.calibrated:
            return float("nan")
        return float(np.percentile(self.cosines.astype(np.float64), 95))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict; the cosines are kept exactly (float32 round-trips through float)."""
        return {
            "version": 1,
            "model": self.model,
            "n_texts": int(self.n_texts),
            "cosines": self.cosines.astype(np.float64).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Baseline:
        """Inverse of ``to_dict``.

        Args:
            data: A dict with ``model``, ``cosines`` and optionally ``n_texts``.

        Returns:
            The Baseline.
        """
        try:
            return cls(
                model=str(data["model"]),
                cosines=np.asarray(data["cosines"], dtype=np.float32),
                n_texts=int(data.get("n_texts", 0)),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a baseline: missing or bad field {exc}") from None


def baseline_from_embeddings(emb: Any, model: str) -> Baseline:
    """Baseline from all pairs i < j of embeddings of mutually unrelated texts.

    Args:
        emb: Embeddings of shape (n, d), n >= 2. Memory is O(n^2): meant for a reference set
            of a few hundred texts.
        model: Model name stored with the baseline.

    Returns:
        A Baseline with n (n - 1) / 2 cosines.
    """
    arr = as_matrix(emb)
    n = arr.shape[0]
    if n < 2:
        raise ValueError("a baseline needs at least 2 texts")
    sims = cosine_matrix(arr)
    return Baseline(model=model, cosines=sims[np.triu_indices(n, k=1)], n_texts=n)


def percentile(scores: Any, baseline: Baseline) -> np.ndarray:
    """Fraction of unrelated-pair cosines that are <= each score.

    Args:
        scores: Cosine(s), any shape.
        baseline: The model's Baseline.

    Returns:
        Float64 array of the same shape as ``scores`` with values in [0, 1] (0-d for a scalar);
        NaN where a score is NaN. Scores are compared at the baseline's float32 precision, so
        a typed 0.8 counts as equal to a stored float32 0.8.
    """
    s = np.asarray(scores, dtype=np.float32)
    if not baseline.calibrated:
        return np.full(s.shape, np.nan)
    frac = np.searchsorted(baseline.cosines, s, side="right") / baseline.cosines.shape[0]
    return np.where(np.isnan(s), np.nan, frac)


def rescale(scores: Any, baseline: Baseline) -> np.ndarray:
    """Map cosines so the typical unrelated pair scores 0 and identical texts 1.

    ``(s - b) / (1 - b)`` with b the baseline median. Not clipped: a negative value means
    "less similar than the typical unrelated pair".

    Args:
        scores: Cosine(s), any shape.
        baseline: The model's Baseline; its median must be below 1.

    Returns:
        Float64 array of the same shape as ``scores``.
    """
    if not baseline.calibrated:
        return np.full(np.shape(scores), np.nan)
    b = baseline.median
    if not b < 1.0 - 1e-6:
        raise ValueError(f"baseline median {b:.6f} is too close to 1 to rescale")
    s = np.asarray(scores, dtype=np.float64)
    return (s - b) / (1.0 - b)


@dataclass(eq=False)
class Calibrated:
    """Scores in three units.

    Attributes:
        raw: The cosines as given.
        percentile: Fraction of unrelated pairs scoring <= each cosine, in [0, 1].
        rescaled: ``(s - median) / (1 - median)`` of the baseline; 0 = typical unrelated pair.
    """

    raw: np.ndarray
    percentile: np.ndarray
    rescaled: np.ndarray


def calibrate(scores: Any, baseline: Baseline) -> Calibrated:
    """Express cosines relative to a model's unrelated-pair baseline.

    Args:
        scores: Cosine(s), any shape.
        baseline: The model's Baseline.

    Returns:
        Calibrated arrays, each of the shape of ``scores``.
    """
    raw = np.asarray(scores, dtype=np.float64)
    return Calibrated(
        raw=raw, percentile=percentile(raw, baseline), rescaled=rescale(raw, baseline)
    )
