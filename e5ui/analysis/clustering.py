"""Clusters of a map and the words that name them.

Clustering is scikit-learn's HDBSCAN (``sklearn.cluster.HDBSCAN``): maintained, no dependency
beyond scikit-learn, no number of clusters to choose, and points that belong nowhere stay noise
(-1) instead of being forced into a cluster.

It runs on the map's coordinates, not the full embeddings: on 5,000 points HDBSCAN takes about
60 s in 384 dimensions and well under a second in 2-D, and the clusters are then the groups the
user sees, so a name at a cluster's centre sits on its points. Reducing with UMAP and then
running HDBSCAN is BERTopic's recipe too; on a PCA map the clusters are only as good as PCA.

Names are class-based TF-IDF (c-TF-IDF) over tokens given by the caller (``e5ui.labels``
tokenises and drops stop words; this module stays pure).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from e5ui.analysis.similarity import as_matrix

NOISE = -1


def default_min_cluster_size(n: int) -> int:
    """About 1% of the points, at least 3 (a cluster of two is a pair, not a topic) and at
    most 50 (so a large map still shows its smaller topics)."""
    return int(min(50, max(3, round(n / 100))))


def cluster(points: Any, min_cluster_size: int | None = None) -> np.ndarray:
    """HDBSCAN clusters of points (euclidean).

    Args:
        points: (n, m) points, e.g. the map's coordinates.
        min_cluster_size: The smallest cluster; None: ``default_min_cluster_size(n)``.

    Returns:
        Int64 (n,) cluster per point, 0, 1, ... in order of each cluster's first point, -1 for
        noise (every point is noise when there are fewer than ``min_cluster_size``).
    """
    x = as_matrix(points, "points").astype(np.float64)
    n = x.shape[0]
    size = default_min_cluster_size(n) if min_cluster_size is None else int(min_cluster_size)
    if size < 2:
        raise ValueError("min_cluster_size must be at least 2")
    if n < max(size, 2):
        return np.full(n, NOISE, dtype=np.int64)
    from sklearn.cluster import HDBSCAN

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the default of copy changes in 1.10
        raw = HDBSCAN(min_cluster_size=size, copy=True).fit_predict(x)
    # Renumber by first appearance so the numbering does not depend on HDBSCAN's internals.
    out = np.full(n, NOISE, dtype=np.int64)
    order: dict[int, int] = {}
    for i, c in enumerate(raw):
        if c >= 0:
            out[i] = order.setdefault(int(c), len(order))
    return out


def ctfidf(tokens: Sequence[Sequence[str]], labels: Any) -> dict[int, dict[str, float]]:
    """Class-based TF-IDF of each cluster's words.

    ``W(t, c) = tf(t, c) * log(1 + A / f(t))``: tf(t, c) the frequency of t in cluster c
    divided by the number of words in c, A the average number of words per cluster, f(t)
    the frequency of t across all clusters. Source: BERTopic's c-TF-IDF (Grootendorst 2022,
    "BERTopic: Neural topic modeling with a class-based TF-IDF procedure", eq. 1,
    bertopic/vectorizers/_ctfidf.py). Noise (-1) is no cluster.

    Args:
        tokens: The words of each text.
        labels: Cluster per text (``cluster``).

    Returns:
        Cluster -> {word: weight}.
    """
    labels = np.asarray(labels).reshape(-1)
    if len(tokens) != labels.shape[0]:
        raise ValueError(f"got {len(tokens)} token lists for {labels.shape[0]} labels")
    per: dict[int, Counter] = {}
    for words, c in zip(tokens, labels, strict=True):
        if c >= 0:
            per.setdefault(int(c), Counter()).update(words)
    if not per:
        return {}
    total = Counter()
    for counts in per.values():
        total.update(counts)
    average = sum(total.values()) / len(per)
    out: dict[int, dict[str, float]] = {}
    for c, counts in per.items():
        size = sum(counts.values()) or 1
        out[c] = {t: (f / size) * math.log(1 + average / total[t]) for t, f in counts.items()}
    return out


def _linked(labels: np.ndarray, ids: Sequence[Any] | None) -> list[list[int]]:
    """Clusters that hold translations of each other (texts sharing an id), as groups.

    A cluster joins a group when more than half of its ids are in the group and they make up
    more than half of the group's ids; otherwise it starts a group of its own. Not a union
    of pairwise links: on a map where clusters mix topics, pairs that share a few ids would
    chain every cluster into one group, and every cluster would get the same name.
    """
    clusters = sorted({int(c) for c in labels if c >= 0})
    held: dict[int, set] = {c: set() for c in clusters}
    if ids is not None:
        for c, i in zip(labels, ids, strict=True):
            if c >= 0 and i not in (None, ""):
                held[int(c)].add(i)
    groups: list[list[int]] = []
    group_ids: list[set] = []
    for c in sorted(clusters, key=lambda c: (-len(held[c]), c)):  # largest first
        best, best_shared = None, 0
        for g, members_ids in enumerate(group_ids):
            shared = len(held[c] & members_ids)
            if (shared * 2 > len(held[c]) and shared * 2 > len(members_ids)
                    and shared > best_shared):
                best, best_shared = g, shared
        if best is None:
            groups.append([c])
            group_ids.append(set(held[c]))
        else:
            groups[best].append(c)
            group_ids[best] |= held[c]
    return [sorted(members) for members in sorted(groups, key=min)]


@dataclass(eq=False)
class ClusterNames:
    """Clusters and their names.

    Attributes:
        labels: Int64 (n,) cluster per text, -1 for noise.
        names: Cluster -> its name: its most distinctive words joined by " · ", best first,
            the best word of every language in it included; clusters of translations of each
            other (shared ids) share one name.
        words: Cluster -> the words of its name.
    """

    labels: np.ndarray
    names: dict[int, str]
    words: dict[int, list[str]]

    def name_of(self, i: int) -> str:
        """The name of text i's cluster ("" for noise)."""
        c = int(self.labels[i])
        return self.names.get(c, "") if c >= 0 else ""


def name_clusters(
    tokens: Sequence[Sequence[str]],
    labels: Any,
    *,
    langs: Sequence[str] | None = None,
    ids: Sequence[Any] | None = None,
    top: int = 3,
) -> ClusterNames:
    """Names each cluster by its c-TF-IDF words (``ctfidf``), in every language it holds.

    Clusters linked by shared ids are named together (their texts' words pooled). A name
    takes the best word of each language in the group first (so "train · Zug · 電車" rather
    than three English words), then the best remaining words, up to ``max(top, languages)``
    words, ordered by weight.

    Args:
        tokens: The words of each text (stop words already dropped).
        labels: Cluster per text (``cluster``).
        langs: Optional language per text.
        ids: Optional id per text (translations share one).
        top: Words per name (at least; one per language when there are more).

    Returns:
        ClusterNames.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    n = labels.shape[0]
    for name, seq in (("langs", langs), ("ids", ids)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"got {len(seq)} {name} for {n} texts")
    groups = _linked(labels, ids)
    group_of = {c: g for g, members in enumerate(groups) for c in members}
    pooled = np.array([group_of[int(c)] if c >= 0 else NOISE for c in labels], dtype=np.int64)
    weights = ctfidf(tokens, pooled)
    names: dict[int, str] = {}
    words: dict[int, list[str]] = {}
    for g, members in enumerate(groups):
        w = weights.get(g, {})
        # Which language each word of the group came from (its first text's).
        origin: dict[str, str] = {}
        for i in np.flatnonzero(pooled == g):
            for t in tokens[i]:
                origin.setdefault(t, str(langs[i] or "") if langs is not None else "")
        ranked = sorted(w, key=lambda t: (-w[t], t))
        chosen: list[str] = []
        seen_langs: set[str] = set()
        for t in ranked:  # the best word of each language
            if origin.get(t, "") not in seen_langs:
                seen_langs.add(origin.get(t, ""))
                chosen.append(t)
        limit = max(top, len(chosen))
        for t in ranked:
            if len(chosen) >= limit:
                break
            if t not in chosen:
                chosen.append(t)
        chosen.sort(key=lambda t: (-w[t], t))
        for c in members:
            words[c] = chosen
            names[c] = " · ".join(chosen)
    return ClusterNames(labels, names, words)
