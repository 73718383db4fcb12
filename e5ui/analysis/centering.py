"""Meaning vs language: remove each language's mean embedding, and measure what that does.

Multilingual embeddings carry a language component: texts in one language share a direction,
so a map of several languages can cluster by language rather than by meaning. Subtracting
each language's mean and re-normalising removes that shared direction (Libovický et al.,
2020, "On the Language Neutrality of Pre-trained Multilingual Representations").
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from e5ui.analysis.neighbours import topk
from e5ui.analysis.similarity import as_matrix, normalize_rows

logger = logging.getLogger(__name__)

# A language is centered only with at least this many texts. The m centered vectors of one
# language sum to zero, so (at equal norms) their mean pairwise cosine is forced to
# -1 / (m - 1): exactly -1 for two texts whatever they say, -1/3 for four, -1/4 for five,
# shrinking from there; the mean itself is also noisy for a handful of texts.
MIN_TEXTS = 5


def _lang_key(value: Any) -> str | None:
    """A language code, or None for a missing one (None, NaN, blank)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


@dataclass(eq=False)
class Centering:
    """Embeddings with each language's mean removed.

    Attributes:
        embeddings: Float32 (n, d) L2-normalised rows: centered and re-normalised for the
            languages in ``centered``, the normalised input rows for all others (an all-zero
            row stays zero).
        centered: Language -> number of texts, for the languages that were centered.
        skipped: Language -> number of texts, for languages left as they are because they
            have fewer than ``min_texts`` texts.
        unlabelled: Texts without a language, left as they are.
        min_texts: The threshold that was applied.
    """

    embeddings: np.ndarray
    centered: dict[str, int]
    skipped: dict[str, int]
    unlabelled: int
    min_texts: int

    @property
    def applied(self) -> bool:
        """Whether at least one language was centered."""
        return bool(self.centered)


def center_languages(emb: Any, langs: Sequence[Any], min_texts: int = MIN_TEXTS) -> Centering:
    """Subtract each language's mean embedding and re-normalise.

    Rows are L2-normalised first, so the mean is taken in the cosine geometry every view
    uses. For each language with at least ``min_texts`` texts: ``x_i - mean(x_lang)``,
    then L2-normalised.

    Args:
        emb: Embeddings (n, d).
        langs: A language code per text (n,); None, NaN or blank for unknown.
        min_texts: Languages with fewer texts are left as they are (and reported).

    Returns:
        A Centering.
    """
    x = normalize_rows(emb)
    n = x.shape[0]
    if len(langs) != n:
        raise ValueError(f"got {len(langs)} languages for {n} embeddings")
    if min_texts < 2:
        raise ValueError("min_texts must be at least 2 (one text centered is a zero vector)")
    keys = [_lang_key(lang) for lang in langs]
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key is not None:
            groups.setdefault(key, []).append(i)
    out = x.copy()
    centered, skipped = {}, {}
    for lang, rows in groups.items():
        if len(rows) < min_texts:
            skipped[lang] = len(rows)
            continue
        block = x[rows].astype(np.float64)
        out[rows] = normalize_rows(block - block.mean(axis=0))
        centered[lang] = len(rows)
    if skipped:
        logger.info("Not centered (fewer than %d texts): %s", min_texts,
                    ", ".join(f"{k} ({v})" for k, v in sorted(skipped.items())))
    unlabelled = sum(key is None for key in keys)
    return Centering(out, centered, skipped, unlabelled, min_texts)


@dataclass(eq=False)
class CrossLingualP1:
    """How often a text's nearest neighbour in another language is its translation.

    Attributes:
        p_at_1: Fraction of evaluated texts whose nearest neighbour among the texts in other
            languages shares their id; NaN when none is evaluated.
        evaluated: Texts that have an id, a language and a translation (same id) in another
            language.
        hits: Bool (n,) per text; False for texts not evaluated.
        neighbour: Int64 (n,) each text's nearest other-language neighbour (-1: none).
    """

    p_at_1: float
    evaluated: int
    hits: np.ndarray
    neighbour: np.ndarray


def cross_lingual_p_at_1(emb: Any, langs: Sequence[Any], ids: Sequence[Any]) -> CrossLingualP1:
    """Cross-lingual nearest-neighbour P@1 of a parallel set.

    Args:
        emb: Embeddings (n, d).
        langs: Language per text (n,).
        ids: Meaning id per text (n,): translations of one sentence share it.

    Returns:
        A CrossLingualP1 (cosine similarity, ties by lower index).
    """
    x = as_matrix(emb)
    n = x.shape[0]
    if len(langs) != n or len(ids) != n:
        raise ValueError(f"got {len(langs)} languages and {len(ids)} ids for {n} embeddings")
    lang_keys = [_lang_key(v) for v in langs]
    id_keys = [_lang_key(v) for v in ids]
    evaluable = _evaluable(id_keys, lang_keys)
    neighbour = np.full(n, -1, dtype=np.int64)
    # Texts without a language are neither queries nor candidates: "another language" is
    # unknown for them.
    labelled = np.array([i for i, k in enumerate(lang_keys) if k is not None], dtype=np.int64)
    if labelled.size > 1:
        codes = [lang_keys[i] for i in labelled]
        nb = topk(x[labelled], x[labelled], 1, exclude_self=True, cross_lingual=True,
                  query_langs=codes, corpus_langs=codes)
        found = nb.indices[:, 0]
        neighbour[labelled] = np.where(found >= 0, labelled[np.maximum(found, 0)], -1)
    hits = np.array([
        bool(evaluable[i]) and neighbour[i] >= 0 and id_keys[neighbour[i]] == id_keys[i]
        for i in range(n)
    ], dtype=bool)
    evaluated = int(evaluable.sum())
    p = float(hits.sum() / evaluated) if evaluated else float("nan")
    return CrossLingualP1(p, evaluated, hits, neighbour)


def _evaluable(id_keys: list[str | None], lang_keys: list[str | None]) -> np.ndarray:
    """Whether each text has a same-id text in another language (linear time)."""
    langs_per_id: dict[str, set[str]] = {}
    for key, lang in zip(id_keys, lang_keys, strict=True):
        if key is not None and lang is not None:
            langs_per_id.setdefault(key, set()).add(lang)
    return np.array([
        k is not None and lang is not None and len(langs_per_id[k] - {lang}) > 0
        for k, lang in zip(id_keys, lang_keys, strict=True)
    ], dtype=bool)
