"""Clusters of a map and the words that name them.

Clustering is scikit-learn's HDBSCAN (``sklearn.cluster.HDBSCAN``): maintained, no dependency
beyond scikit-learn, no number of clusters to choose, and points that belong nowhere stay noise
(-1) instead of being forced into a cluster. Its ``algorithm="auto"`` is kept: on 2-D or 3-D
points it is Prim's spanning tree over a KD-tree's core distances (the mutual-reachability tree
is O(n^2), ~110 ms at 5,000 points on 2 cores); "brute" takes ~5x longer, and scikit-learn
has no Borůvka variant. ``min_samples`` keeps its default (``min_cluster_size``): 5 or 10 gave
the same clusters on the benchmark's map and were no faster.

It runs on the map's coordinates, not the full embeddings: on 5,000 points HDBSCAN takes about
60 s in 384 dimensions and well under a second in 2-D, and the clusters are then the groups the
user sees, so a name at a cluster's centre sits on its points. Reducing with UMAP and then
running HDBSCAN is BERTopic's recipe too; on a PCA map the clusters are only as good as PCA.

Names are class-based TF-IDF (c-TF-IDF) over tokens given by the caller (``e5ui.labels``
tokenises and drops stop words; this module stays pure), computed on a sparse
(cluster x word) count matrix, as BERTopic does.
"""

from __future__ import annotations

import warnings
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


@dataclass(eq=False)
class _Counts:
    """Words counted per cluster: the sparse form behind ``ctfidf`` and ``name_clusters``."""

    vocab: list[str]  # word of each column
    counts: Any  # scipy CSR (clusters, words): how often each word occurs in each cluster
    first: Any  # scipy CSR (clusters, words): 1 + the first text of the cluster holding it
    weights: Any  # scipy CSR (clusters, words): c-TF-IDF


def _count(tokens: Sequence[Sequence[str]], labels: np.ndarray) -> _Counts:
    from scipy import sparse

    k = int(labels.max()) + 1 if labels.size else 0
    vocab: dict[str, int] = {}
    column = np.fromiter((vocab.setdefault(t, len(vocab)) for words in tokens for t in words),
                         dtype=np.int64)
    text = np.repeat(np.arange(len(tokens)), [len(words) for words in tokens])
    keep = labels[text] >= 0 if text.size else np.zeros(0, dtype=bool)
    row, column, text = labels[text[keep]], column[keep], text[keep]
    shape = (k, len(vocab))
    counts = sparse.csr_matrix((np.ones(row.size), (row, column)), shape=shape)
    # Occurrences come in text order, so the first of each (cluster, word) is its first text.
    _, at = np.unique(row * len(vocab) + column, return_index=True)
    first = sparse.csr_matrix((text[at] + 1, (row[at], column[at])), shape=shape)
    size = np.asarray(counts.sum(axis=1)).ravel()
    total = np.asarray(counts.sum(axis=0)).ravel()
    used = np.count_nonzero(size)
    average = total.sum() / used if used else 0.0
    idf = np.log1p(average / np.maximum(total, 1))
    weights = sparse.diags(1 / np.maximum(size, 1)) @ counts @ sparse.diags(idf)
    return _Counts(list(vocab), counts, first, sparse.csr_matrix(weights))


def ctfidf(tokens: Sequence[Sequence[str]], labels: Any) -> dict[int, dict[str, float]]:
    """Class-based TF-IDF of each cluster's words.

    ``W(t, c) = tf(t, c) * log(1 + A / f(t))``: tf(t, c) the frequency of t in cluster c
    divided by the number of words in c, A the average number of words per cluster, f(t)
    the frequency of t across all clusters. Source: BERTopic's c-TF-IDF (Grootendorst 2022,
    "BERTopic: Neural topic modeling with a class-based TF-IDF procedure", eq. 1,
    bertopic/vectorizers/_ctfidf.py), computed as BERTopic does, on a sparse matrix of counts.
    Noise (-1) is no cluster.

    Args:
        tokens: The words of each text.
        labels: Cluster per text (``cluster``).

    Returns:
        Cluster -> {word: weight}.
    """
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    if len(tokens) != labels.shape[0]:
        raise ValueError(f"got {len(tokens)} token lists for {labels.shape[0]} labels")
    got = _count(tokens, labels)
    out: dict[int, dict[str, float]] = {}
    for c in range(got.weights.shape[0]):
        row = got.weights[c]
        if got.counts[c].nnz:
            out[c] = {got.vocab[j]: float(w) for j, w in zip(row.indices, row.data, strict=True)}
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
    if len(tokens) != n:
        raise ValueError(f"got {len(tokens)} token lists for {n} labels")
    for name, seq in (("langs", langs), ("ids", ids)):
        if seq is not None and len(seq) != n:
            raise ValueError(f"got {len(seq)} {name} for {n} texts")
    groups = _linked(labels, ids)
    group_of = np.full(int(labels.max()) + 1 if n else 0, NOISE, dtype=np.int64)
    for g, members in enumerate(groups):
        group_of[members] = g
    pooled = np.where(labels >= 0, group_of[np.maximum(labels, 0)] if n else labels, NOISE)
    got = _count(tokens, pooled)
    names: dict[int, str] = {}
    words: dict[int, list[str]] = {}
    for g, members in enumerate(groups):
        row, first = got.weights[g], got.first[g]
        w = {got.vocab[j]: float(x) for j, x in zip(row.indices, row.data, strict=True)}
        # Which language each word of the group came from (its first text's).
        origin = {got.vocab[j]: str(langs[i - 1] or "") if langs is not None else ""
                  for j, i in zip(first.indices, first.data, strict=True)}
        ranked = [t for t in sorted(w, key=lambda t: (-w[t], t)) if not _inside(t, w)]
        chosen: list[str] = []
        seen_langs: set[str] = set()
        for t in ranked:  # the best word of each language
            if origin[t] not in seen_langs:
                seen_langs.add(origin[t])
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


def _unspaced(word: str) -> bool:
    # From CJK Radicals on: the scripts written without spaces (kana, Han, Hangul).
    return all(ord(ch) >= 0x2E80 for ch in word)


def _inside(word: str, weights: dict[str, float]) -> bool:
    """Whether ``word`` (of a script without spaces) is likely a fragment: part of a longer
    candidate that scores at least as well (幹線 inside 新幹線: the same evidence, a worse
    name), or a bigram that overlaps a better one by a character (做蔬 beside 蔬菜, from
    做蔬菜汤: a bigram that straddles the boundary of a more frequent word)."""
    if not _unspaced(word):
        return False
    mine = weights[word] * (1 - 1e-9)
    for other, w in weights.items():
        if other == word or not _unspaced(other):
            continue
        if len(other) > len(word) and word in other and w >= mine:
            return True
        if (len(word) == len(other) == 2 and w > weights[word] * (1 + 1e-9)
                and (word[1] == other[0] or word[0] == other[1])):
            return True
    return False
