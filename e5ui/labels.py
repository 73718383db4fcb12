"""Words that can name a cluster: BM25's tokens (``e5ui.bm25.tokenize``, which splits CJK and
Thai without a dictionary) minus stop words, numbers and single characters; and the clusters
of a map named with them (``analysis.clustering``).

Stop words are the lists bm25s ships (English, German, French, Spanish, Italian, Portuguese,
Dutch, Danish, Norwegian, Swedish, Russian, Turkish, Chinese, Korean), picked by each text's
language; a text in another or an unknown language drops the words of every list. For text
without spaces the tokeniser gives characters and character bigrams: single characters are
dropped (most are particles or parts of words), so do bigrams that hold a Chinese stop word of
one character (的, 了, 是) or, in Japanese, a hiragana character (grammar: は, が, を, です; the
content words are mostly kanji and katakana).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import regex

from e5ui.analysis import clustering
from e5ui.bm25 import tokenize

_HIRAGANA = regex.compile(r"\p{Hiragana}")
_HAN = regex.compile(r"\p{scx=Han}")
_NUMBER = regex.compile(r"^\p{N}+$")

_LISTS = {"en": "EN_PLUS", "de": "GERMAN", "fr": "FRENCH", "es": "SPANISH", "it": "ITALIAN",
          "pt": "PORTUGUESE", "nl": "DUTCH", "da": "DANISH", "no": "NORWEGIAN",
          "nb": "NORWEGIAN", "sv": "SWEDISH", "ru": "RUSSIAN", "tr": "TURKISH",
          "zh": "CHINESE", "ko": "KOREAN"}


@functools.cache
def stop_words(lang: str) -> frozenset[str]:
    """bm25s's stop words of a language (its base code: "zh-Hant" is "zh"); every list's for a
    language that has none."""
    import bm25s.stopwords as lists  # lazy: bm25s imports numba and scipy

    base = (lang or "").split("-")[0].split("_")[0].lower()
    names = [_LISTS[base]] if base in _LISTS else sorted(set(_LISTS.values()))
    return frozenset(w.casefold() for name in names for w in getattr(lists, f"STOPWORDS_{name}"))


@functools.cache
def _chinese_single() -> frozenset[str]:
    return frozenset(w for w in stop_words("zh") if len(w) == 1)


def label_words(text: str, lang: str = "") -> list[str]:
    """The words of ``text`` that may name a cluster, in order, repeats kept.

    Args:
        text: Any text.
        lang: Its language code ("" when unknown).

    Returns:
        ``bm25.tokenize`` tokens without stop words, numbers and single characters.
    """
    stops = stop_words(lang)
    single = _chinese_single()
    out = []
    for t in tokenize(text):
        if len(t) < 2 or t in stops or _NUMBER.match(t):
            continue
        if _HAN.search(t) or _HIRAGANA.search(t):
            if _HIRAGANA.search(t) or any(ch in single for ch in t):
                continue
        out.append(t)
    return out


def name_clusters(texts: Sequence[str], labels: Any, langs: Sequence[str] | None = None,
                  ids: Sequence[Any] | None = None, top: int = 3) -> clustering.ClusterNames:
    """Names the clusters of a map's texts (``analysis.clustering.name_clusters`` over
    ``label_words``).

    Args:
        texts: The texts.
        labels: Cluster per text (``analysis.clustering.cluster``), -1 for noise.
        langs: Optional language per text (picks the stop words).
        ids: Optional id per text: clusters of translations share one name.
        top: Words per name (at least; one per language when there are more).

    Returns:
        ClusterNames.
    """
    tokens = [label_words(t, langs[i] if langs is not None else "") for i, t in enumerate(texts)]
    return clustering.name_clusters(tokens, labels, langs=langs, ids=ids, top=top)
