"""Hubness of a neighbour table: how often each corpus text is someone's neighbour.

In high-dimensional spaces a few points ("hubs") turn up in almost every neighbour list and
others in none (Radovanović et al. 2010); a hub that ranks first for unrelated queries is a
property of the space, not a good match. ``neighbours.search`` reports these statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import skew

# Below this many queries, a text in two or three neighbour lists is chance, not a hub; the
# CLI and the app only flag hubs above it.
MIN_QUERIES_FOR_HUBS = 20


@dataclass(eq=False)
class Hubness:
    """k-occurrence statistics of a neighbour table (Radovanović et al. 2010, "Hubs in space").

    Attributes:
        counts: Int64 (n_corpus,) N_k: how often each corpus text is someone's neighbour.
        skewness: Sample skewness of ``counts`` (scipy.stats.skew); around 0 without hubs,
            clearly positive (> 1) when a few texts are everyone's neighbour. 0.0 when all
            counts are equal, NaN for an empty corpus.
        hubs: Corpus indices flagged as hubs, most frequent first (ties by index).
        threshold: The N_k a hub must exceed: mean + 2 std of the counts.
        orphans: Corpus indices that are nobody's neighbour (N_k = 0, "anti-hubs").
    """

    counts: np.ndarray
    skewness: float
    hubs: np.ndarray
    threshold: float
    orphans: np.ndarray


def hubness(indices: Any, n_corpus: int) -> Hubness:
    """Hubness of a top-k neighbour table.

    A hub is a corpus text with N_k > mean(N_k) + 2 std(N_k) -- following Radovanović et al.
    (2010), who call hubs the points whose N_k exceeds its expected value by more than two
    standard deviations -- and N_k >= 2 mean(N_k), so that in a nearly uniform table a text
    that appears only one or two times more than expected is not called a hub.

    Args:
        indices: Int (n, k) neighbour indices (``Neighbours.indices``); -1 entries are ignored.
        n_corpus: Number of corpus texts.

    Returns:
        Hubness statistics.
    """
    if n_corpus < 0:
        raise ValueError("n_corpus must not be negative")
    idx = np.asarray(indices)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise ValueError("indices must be integers")
    flat = idx.reshape(-1).astype(np.int64)
    flat = flat[flat >= 0]
    if flat.size and flat.max() >= n_corpus:
        raise ValueError(f"neighbour index {int(flat.max())} out of range for {n_corpus} texts")
    counts = np.bincount(flat, minlength=n_corpus).astype(np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if n_corpus == 0:
        return Hubness(counts, float("nan"), empty, float("nan"), empty)
    mean = float(counts.mean())
    std = float(counts.std())
    threshold = mean + 2.0 * std
    skewness = 0.0 if std == 0.0 else float(skew(counts.astype(np.float64)))
    is_hub = (counts > threshold) & (counts >= 2.0 * mean) & (counts > 0)
    hubs = np.flatnonzero(is_hub)
    hubs = hubs[np.lexsort((hubs, -counts[hubs]))].astype(np.int64)
    orphans = np.flatnonzero(counts == 0).astype(np.int64)
    return Hubness(counts, skewness, hubs, threshold, orphans)
