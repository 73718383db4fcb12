"""Words that can name a cluster, and the clusters of a map named with them
(``analysis.clustering``).

Text is folded as BM25 folds it (``e5ui.bm25``: NFKC, case-folded, runs of letters, marks and
digits). Words of scripts written with spaces are kept unless they are stop words, numbers or
single characters. Stop words are the lists bm25s ships (English, German, French, Spanish,
Italian, Portuguese, Dutch, Danish, Norwegian, Swedish, Russian, Turkish, Chinese, Korean),
picked by each text's language; a text in another or an unknown language drops the words of
every list.

Text without spaces has no words to split on, and no dictionary is used (a segmenter per
language would add a dependency and a dictionary load for every map; these rules keep the
names to words the texts hold, which the tests check against hand-written word lists):

- **Japanese** (language "ja", or any text with kana when the language is not "zh"): a name
  word is a whole run of one script, a katakana run (コンピュータ, ソフトウェア, with ー) or a
  kanji run (新幹線, 料理), never a piece that straddles a script boundary (ン行 in ベルリン行き)
  and never hiragana (particles and endings: は, が, です). A kanji run of three or more also
  gives its bigrams, so 料理 is found inside 料理教室; a bigram that scores no better than a
  longer candidate holding it is dropped when naming (新幹 and 幹線 inside 新幹線). Runs of
  kanji numerals (三百, 十五) are numbers and split the runs they are in.
- **Chinese** and other Han text: character bigrams (most Chinese words are two characters),
  none holding a one-character Chinese stop word (的, 了, 是) or a numeral (八点, 三楼).
- Hangul, Thai, Lao, Khmer, Myanmar: grapheme bigrams, as BM25 indexes them.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Sequence
from typing import Any

import regex

from e5ui.analysis import clustering

# As e5ui.bm25 splits text: words, then the runs of scripts written without spaces.
_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_UNSPACED = regex.compile(
    r"[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}"
    r"\p{scx=Thai}\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}]+"
)
_HAN_OR_KANA = regex.compile(r"[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}]")
_KANA = regex.compile(r"[\p{Hiragana}\p{Katakana}]")
_GRAPHEME = regex.compile(r"\X")
_NUMERALS = "〇零一二三四五六七八九十百千万萬億亿兆两兩"
# The parts of a Japanese run: katakana (ー lengthens the sound before it), kanji numerals, other
# kanji (々 repeats the one before); hiragana and anything else match nothing and separate.
_JA_PART = regex.compile(
    rf"(?P<kata>\p{{Katakana}}[\p{{Katakana}}ー]*)|(?P<num>[{_NUMERALS}]+)"
    rf"|(?P<han>(?:(?![{_NUMERALS}])[\p{{Han}}々])+)"
)

_LISTS = {"en": "EN_PLUS", "de": "GERMAN", "fr": "FRENCH", "es": "SPANISH", "it": "ITALIAN",
          "pt": "PORTUGUESE", "nl": "DUTCH", "da": "DANISH", "no": "NORWEGIAN",
          "nb": "NORWEGIAN", "sv": "SWEDISH", "ru": "RUSSIAN", "tr": "TURKISH",
          "zh": "CHINESE", "ko": "KOREAN"}


def _base(lang: str | None) -> str:
    return (lang or "").split("-")[0].split("_")[0].lower()


@functools.cache
def stop_words(lang: str) -> frozenset[str]:
    """bm25s's stop words of a language (its base code: "zh-Hant" is "zh"); every list's for a
    language that has none."""
    import bm25s.stopwords as lists  # lazy: bm25s imports numba and scipy

    base = _base(lang)
    names = [_LISTS[base]] if base in _LISTS else sorted(set(_LISTS.values()))
    return frozenset(w.casefold() for name in names for w in getattr(lists, f"STOPWORDS_{name}"))


@functools.cache
def _chinese_breaks() -> frozenset[str]:
    """Characters no Chinese name word holds: one-character stop words and numerals."""
    return frozenset(w for w in stop_words("zh") if len(w) == 1) | frozenset(_NUMERALS)


def _japanese(run: str, alone: frozenset[str] | None) -> list[str]:
    out: list[str] = []
    for part in _JA_PART.finditer(run):
        word = part.group()
        if part.lastgroup == "num" or len(word) < 2:
            continue
        out.append(word)
        if part.lastgroup == "han" and len(word) > 2:
            out.extend(b for b in (word[i : i + 2] for i in range(len(word) - 1))
                       if alone is None or b in alone)
    return out


def _kanji_runs(text: str) -> set[str]:
    """The whole kanji runs of a Japanese text (its kanji words that stand alone)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return {p.group() for p in _JA_PART.finditer(folded) if p.lastgroup == "han"}


def _chinese(run: str) -> list[str]:
    breaks = _chinese_breaks()
    return [a + b for a, b in zip(run, run[1:])
            if a not in breaks and b not in breaks and not _KANA.match(a + b)
            and not _KANA.match(b)]


def _is_japanese(text: str, lang: str) -> bool:
    base = _base(lang)
    return base == "ja" or (base != "zh" and _KANA.search(text) is not None)


def _bigrams(run: str) -> list[str]:
    units = _GRAPHEME.findall(run)
    return [a + b for a, b in zip(units, units[1:])]


def label_words(text: str, lang: str = "", alone: frozenset[str] | None = None) -> list[str]:
    """The words of ``text`` that may name a cluster, in order, repeats kept.

    Args:
        text: Any text.
        lang: Its language code ("" when unknown).
        alone: Japanese kanji words known to stand alone (whole kanji runs of the corpus):
            a longer kanji run gives those of its bigrams; None: all of its bigrams.

    Returns:
        Lower-cased words without stop words, numbers and single characters; for text without
        spaces, the candidates of the module docstring (whole katakana and kanji runs in
        Japanese, character bigrams in Chinese).
    """
    stops = stop_words(lang)
    folded = unicodedata.normalize("NFKC", text).casefold()
    words = _WORD.findall(folded)
    if not _UNSPACED.search(folded):  # most texts: words only
        return [w for w in words if len(w) > 1 and w not in stops and not w.isnumeric()]
    japanese = _is_japanese(folded, lang)
    out: list[str] = []
    for word in words:
        start = 0
        for run in _UNSPACED.finditer(word):
            out.extend(_spaced(word[start : run.start()], stops))
            piece = run.group()
            if not _HAN_OR_KANA.search(piece):
                out.extend(_bigrams(piece))
            else:
                found = _japanese(piece, alone) if japanese else _chinese(piece)
                out.extend(w for w in found if w not in stops)
            start = run.end()
        out.extend(_spaced(word[start:], stops))
    return out


def _spaced(word: str, stops: frozenset[str]) -> list[str]:
    return [word] if len(word) > 1 and word not in stops and not word.isnumeric() else []


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
    lang = [str(langs[i] or "") if langs is not None else "" for i in range(len(texts))]
    japanese = [i for i, t in enumerate(texts) if _is_japanese(t, lang[i])]
    # Pieces of a long kanji run that stand alone somewhere in the corpus are words (料理 in
    # 料理教室); the others are fragments as likely as not (山灰 in 火山灰).
    alone = frozenset().union(*(_kanji_runs(texts[i]) for i in japanese))
    tokens = [label_words(t, lang[i], alone) for i, t in enumerate(texts)]
    return clustering.name_clusters(tokens, labels, langs=langs, ids=ids, top=top)
