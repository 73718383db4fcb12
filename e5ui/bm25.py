"""Keyword search: BM25 over a corpus, the baseline a stakeholder asks E5 to beat.

(The module is ``bm25``, not ``keyword``, which would shadow the standard library's.)

Scoring is ``bm25s`` (a maintained BM25 library) with its "lucene" variant, the formula of
Lucene >= 8, Elasticsearch and Anserini/Pyserini::

    score(q, d) = sum over query tokens t found in d of  idf(t) * tf / (tf + k1 * norm(d))
    norm(d)     = 1 - b + b * |d| / avgdl      (|d|: tokens in d, avgdl: mean over the corpus)
    idf(t)      = ln(1 + (N - df + 0.5) / (df + 0.5))

(Lucene dropped the constant ``k1 + 1`` numerator of Robertson's form: same ranking.) A query
token that occurs twice counts twice, as repeated clauses do in Lucene. The defaults
``k1 = 0.9, b = 0.4`` are Anserini's, the BM25 behind the Mr. TyDi baseline that the
multilingual-e5 model card compares against.

Tokenisation has to work for ~100 languages, some written without spaces:

- Text is NFKC-normalised (full-width letters, half-width kana and ligatures fold to their
  plain forms) and case-folded.
- Tokens are maximal runs of letters, combining marks and digits (``[\\p{L}\\p{M}\\p{N}]+``), so
  Devanagari vowel signs and Thai tone marks stay inside their words and punctuation splits.
- Inside a token, runs in scripts that do not separate words by spaces (Han, Hiragana,
  Katakana, Thai, Lao, Khmer, Myanmar) and Hangul become overlapping character **bigrams plus
  unigrams**, counted over grapheme clusters so a Thai consonant keeps its vowel and tone
  marks. Bigrams are the classic dictionary-free indexing unit for CJK (Lucene's
  CJKAnalyzer, Elasticsearch's ``cjk_bigram``): most Chinese and Japanese words are two
  characters long, and a bigram that matches is strong evidence. Unigrams are added for
  recall: one-character words (猫, 水, 山) and words split differently in query and passage
  still match, and BM25's idf makes frequent single characters (的, の, は) nearly free.
  Hangul is treated the same way because Korean attaches particles to words (도서관은 /
  도서관이), so whole space-separated words rarely repeat exactly.
- Everything else (Latin, Cyrillic, Greek, Arabic, Hebrew, Devanagari, ...) keeps whole words.
  No stemming and no stop words: both are per language, and idf already discounts words that
  are everywhere.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence

import numpy as np
import regex

from e5ui.analysis.neighbours import Neighbours, select_topk

logger = logging.getLogger(__name__)

# Anserini's defaults: the BM25 of the Mr. TyDi baseline in the multilingual-e5 model card.
DEFAULT_K1 = 0.9
DEFAULT_B = 0.4

_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
# Script_Extensions, so the kana prolonged sound mark (ー) and iteration marks join their runs.
_UNSPACED = regex.compile(
    r"[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}"
    r"\p{scx=Thai}\p{scx=Lao}\p{scx=Khmer}\p{scx=Myanmar}]+"
)
_GRAPHEME = regex.compile(r"\X")

# Bytes of one block of float32 query-by-document scores while selecting the top k.
_CHUNK_BYTES = 32 * 2**20


def _char_ngrams(run: str) -> list[str]:
    """Unigrams then overlapping bigrams of the grapheme clusters of ``run``."""
    units = _GRAPHEME.findall(run)
    return units + [a + b for a, b in zip(units, units[1:])]


def tokenize(text: str) -> list[str]:
    """Returns the BM25 tokens of ``text`` (see the module docstring for the rules).

    Args:
        text: Any text.

    Returns:
        Tokens in order of appearance, repeats kept: lower-cased words for space-delimited
        scripts; grapheme unigrams followed by bigrams for each Han/kana/Hangul/Thai/Lao/
        Khmer/Myanmar run.
    """
    tokens: list[str] = []
    folded = unicodedata.normalize("NFKC", text).casefold()
    for word in _WORD.findall(folded):
        start = 0
        for run in _UNSPACED.finditer(word):
            if run.start() > start:
                tokens.append(word[start : run.start()])
            tokens.extend(_char_ngrams(run.group()))
            start = run.end()
        if start < len(word):
            tokens.append(word[start:])
    return tokens


class BM25Index:
    """A BM25 index of a corpus, searched with ``search``.

    Args:
        corpus: The passages, one string each.
        k1: Term-frequency saturation.
        b: Length normalisation (0: none, 1: full).

    Attributes:
        n_docs: Number of passages.
        vocabulary_size: Distinct tokens in the corpus.
    """

    def __init__(self, corpus: Sequence[str], *, k1: float = DEFAULT_K1, b: float = DEFAULT_B):
        if isinstance(corpus, str):
            raise ValueError("corpus must be a list of texts, not one string")
        if k1 < 0:
            raise ValueError("k1 must not be negative")
        if not 0 <= b <= 1:
            raise ValueError("b must be between 0 and 1")
        self.k1, self.b = float(k1), float(b)
        tokens = [tokenize(str(t)) for t in corpus]
        self.n_docs = len(tokens)
        self._vocab: dict[str, int] = {}
        self._bm25 = None
        if any(tokens):
            import bm25s  # lazy: it imports numba and scipy

            # bm25s sets its logger to DEBUG on import; its progress notes are not news.
            logging.getLogger("bm25s").setLevel(logging.WARNING)

            # The numpy backend: numba's JIT would compile for tens of seconds on first use.
            self._bm25 = bm25s.BM25(k1=self.k1, b=self.b, method="lucene", backend="numpy")
            self._bm25.index(tokens, show_progress=False)
            self._vocab = {t: i for t, i in self._bm25.vocab_dict.items() if t != ""}
        self.vocabulary_size = len(self._vocab)
        logger.debug("BM25 index: %d passages, %d distinct tokens", self.n_docs,
                     self.vocabulary_size)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every passage for one query.

        Args:
            query: The query text.

        Returns:
            Float32 (n_docs,) scores; 0 for passages sharing no token with the query.
        """
        ids = [self._vocab[t] for t in tokenize(str(query)) if t in self._vocab]
        if not ids or self._bm25 is None:
            return np.zeros(self.n_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def search(self, queries: Sequence[str] | str, k: int = 10) -> Neighbours:
        """Top-k passages of each query by BM25.

        Args:
            queries: Query texts (one string counts as one query).
            k: Passages per query; clipped to the corpus size, as ``neighbours.topk`` does.

        Returns:
            Neighbours with int64 ``indices`` (n, min(k, n_docs)), best first, ties broken by
            the lower passage index, and float32 BM25 ``scores``. Passages that share no
            token with the query are never returned: their slots hold -1 and NaN (a query
            with no known token gets an all-empty row).
        """
        if k < 1:
            raise ValueError("k must be at least 1")
        texts = [queries] if isinstance(queries, str) else list(queries)
        width = min(k, self.n_docs)
        indices = np.full((len(texts), width), -1, dtype=np.int64)
        values = np.full((len(texts), width), np.nan, dtype=np.float32)
        if width == 0 or not texts:
            return Neighbours(indices, values)
        rows = max(1, _CHUNK_BYTES // (4 * self.n_docs))
        for start in range(0, len(texts), rows):
            block = np.stack([self.scores(q) for q in texts[start : start + rows]])
            # Zero means no shared token: never a hit, even when k asks for more.
            block[block <= 0] = -np.inf
            idx, val = select_topk(block, width)
            indices[start : start + rows] = idx
            values[start : start + rows] = val
        return Neighbours(indices, values)
