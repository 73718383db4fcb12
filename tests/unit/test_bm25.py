"""BM25 keyword search: scores against the formula computed here, tokenisation of scripts
without spaces, empty queries, ties and k beyond the corpus."""

from __future__ import annotations

import math

import numpy as np
import pytest

from e5ui.bm25 import DEFAULT_B, DEFAULT_K1, BM25Index, tokenize

# bm25s "lucene" variant (Lucene >= 8, Anserini): idf = ln(1 + (N - df + 0.5) / (df + 0.5)),
# term weight idf * tf / (tf + k1 * (1 - b + b * |d| / avgdl)), summed over the query's tokens
# (a repeated query token counts each time).


def bm25_by_hand(docs: list[list[str]], query: list[str], k1: float, b: float) -> list[float]:
    n = len(docs)
    avgdl = sum(len(d) for d in docs) / n
    scores = []
    for d in docs:
        s = 0.0
        for t in query:
            tf = d.count(t)
            if tf == 0:
                continue
            df = sum(t in other for other in docs)
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            s += idf * tf / (tf + k1 * (1 - b + b * len(d) / avgdl))
        scores.append(s)
    return scores


def ranking_by_hand(scores: list[float], k: int) -> list[int]:
    """Passages with a positive score, best first, ties by lower index, at most k."""
    order = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: (-scores[i], i))
    return order[:k]


CORPUS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "cats and dogs",
    "the the the cat",
    "a bird in the hand is worth two in the bush",
]


def test_one_score_worked_out():
    # N = 2, df(a) = 1: idf = ln(1 + 1.5 / 1.5) = ln 2; |d0| = 2, avgdl = 2.5.
    index = BM25Index(["a b", "b c c"], k1=1.5, b=0.75)
    expected = math.log(2) * 1 / (1 + 1.5 * (0.25 + 0.75 * 2 / 2.5))
    assert index.scores("a")[0] == pytest.approx(expected, rel=1e-6)
    assert index.scores("a")[1] == 0


@pytest.mark.parametrize("k1,b", [(DEFAULT_K1, DEFAULT_B), (1.5, 0.75), (1.2, 0.0), (0.5, 1.0)])
def test_scores_match_the_formula(k1, b):
    index = BM25Index(CORPUS, k1=k1, b=b)
    docs = [d.split() for d in CORPUS]
    for query in ["cat", "the cat", "sat on the mat", "dogs", "the the", "two birds"]:
        expected = bm25_by_hand(docs, query.split(), k1, b)
        np.testing.assert_allclose(index.scores(query), expected, rtol=1e-5, atol=1e-7)
        got = index.search([query], k=3)
        assert got.indices[0][got.indices[0] >= 0].tolist() == ranking_by_hand(expected, 3)


def test_defaults_are_anserinis():
    assert (DEFAULT_K1, DEFAULT_B) == (0.9, 0.4)
    index = BM25Index(CORPUS)
    assert (index.k1, index.b) == (0.9, 0.4)


def test_random_corpora_against_a_loop():
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(12)]
    for trial in range(20):
        docs = [list(rng.choice(words, size=rng.integers(1, 9))) for _ in range(15)]
        queries = [list(rng.choice(words, size=rng.integers(1, 4))) for _ in range(6)]
        index = BM25Index([" ".join(d) for d in docs])
        k = int(rng.integers(1, 20))
        got = index.search([" ".join(q) for q in queries], k=k)
        assert got.indices.shape == (6, min(k, 15)) and got.indices.dtype == np.int64
        for row, q in enumerate(queries):
            expected = bm25_by_hand(docs, q, DEFAULT_K1, DEFAULT_B)
            want = ranking_by_hand(expected, k)
            assert got.indices[row][: len(want)].tolist() == want, trial
            assert (got.indices[row][len(want):] == -1).all()
            np.testing.assert_allclose(got.scores[row][: len(want)],
                                       [expected[i] for i in want], rtol=1e-5)
            assert np.isnan(got.scores[row][len(want):]).all()


# -- tokenisation -----------------------------------------------------------------------------
def test_space_delimited_words_are_folded():
    assert tokenize("The CAT, the cat!") == ["the", "cat", "the", "cat"]
    # NFKC folds full-width letters and ligatures; case folding maps ß to ss.
    assert tokenize("ＦＵＬＬ ﬁne Straße") == ["full", "fine", "strasse"]
    assert tokenize("Ünïcödé café") == ["ünïcödé", "café"]
    # Combining vowel signs stay inside Devanagari words.
    assert tokenize("हिन्दी भाषा") == ["हिन्दी", "भाषा"]
    assert tokenize("Москва, 2024") == ["москва", "2024"]
    assert tokenize("") == [] and tokenize(" ,.!? ") == []


def test_chinese_becomes_unigrams_and_bigrams():
    assert tokenize("天气很好") == ["天", "气", "很", "好", "天气", "气很", "很好"]
    assert tokenize("猫") == ["猫"]


def test_japanese_runs_across_kana_and_kanji():
    assert tokenize("コーヒー") == ["コ", "ー", "ヒ", "ー", "コー", "ーヒ", "ヒー"]
    # Half-width katakana folds to full width first.
    assert tokenize("ｺｰﾋｰ") == tokenize("コーヒー")
    # A Latin run inside the token stays a word; punctuation splits.
    assert tokenize("iPhone15の価格。") == ["iphone15", "の", "価", "格", "の価", "価格"]


def test_korean_words_are_split_into_syllable_ngrams():
    assert tokenize("도서관은") == ["도", "서", "관", "은", "도서", "서관", "관은"]
    # The stem 도서관 shares its bigrams whatever particle follows.
    assert {"도서", "서관"} <= set(tokenize("도서관이"))


def test_thai_ngrams_keep_marks_with_their_consonants():
    tokens = tokenize("ได้")  # consonant, vowel sign, tone mark: one grapheme after ได
    assert tokens == ["ไ", "ด้", "ได้"]
    assert all(t.strip() for t in tokenize("ภาษาไทยก็ใช้ได้"))
    assert "ก็" in tokenize("ภาษาไทยก็ใช้ได้")


def test_search_in_languages_without_spaces():
    corpus = ["我喜欢猫", "他喜欢狗", "今天天气很好", "東京は晴れです", "ภาษาไทยง่าย"]
    index = BM25Index(corpus)
    assert index.search("天气怎么样", k=1).indices[0, 0] == 2
    assert index.search("猫", k=1).indices[0, 0] == 0  # a one-character word
    assert index.search("今日の東京", k=1).indices[0, 0] == 3
    assert index.search("ภาษาไทย", k=1).indices[0, 0] == 4
    # No shared character: nothing, rather than an arbitrary passage.
    assert (index.search("Wetter", k=3).indices == -1).all()


# -- edge cases -------------------------------------------------------------------------------
def test_queries_without_a_known_token_get_empty_rows():
    index = BM25Index(CORPUS)
    got = index.search(["", "?!", "zebra", "cat"], k=3)
    assert (got.indices[:3] == -1).all() and np.isnan(got.scores[:3]).all()
    assert got.indices[3, 0] in (0, 3)
    assert (index.scores("zebra") == 0).all()


def test_ties_go_to_the_lower_index():
    index = BM25Index(["x y", "z", "x y", "x y", "w"])
    got = index.search("x", k=2)
    assert got.indices.tolist() == [[0, 2]]
    assert got.scores[0, 0] == got.scores[0, 1]
    assert index.search("x", k=5).indices.tolist() == [[0, 2, 3, -1, -1]]


def test_k_beyond_the_corpus_is_clipped_like_topk():
    index = BM25Index(["alpha beta", "beta", "gamma"])
    got = index.search(["beta", "gamma delta"], k=10)
    assert got.indices.shape == (2, 3)
    assert got.indices.tolist() == [[1, 0, -1], [2, -1, -1]]


def test_a_single_string_is_one_query_and_empty_inputs():
    index = BM25Index(CORPUS)
    assert index.search("cat", k=2).indices.shape == (1, 2)
    assert index.search([], k=2).indices.shape == (0, 2)
    empty = BM25Index([])
    assert empty.n_docs == 0 and empty.search(["cat"], k=3).indices.shape == (1, 0)
    blank = BM25Index(["", "...", "  "])
    assert blank.vocabulary_size == 0
    assert blank.search(["cat", ""], k=2).indices.tolist() == [[-1, -1], [-1, -1]]
    # A passage without tokens never matches, and does not break the others.
    mixed = BM25Index(["", "cat", "!!"])
    assert mixed.search("cat", k=3).indices.tolist() == [[1, -1, -1]]


def test_invalid_arguments():
    with pytest.raises(ValueError, match="list of texts"):
        BM25Index("one string")
    with pytest.raises(ValueError, match="k1"):
        BM25Index(CORPUS, k1=-1)
    with pytest.raises(ValueError, match="b must be"):
        BM25Index(CORPUS, b=1.5)
    with pytest.raises(ValueError, match="k must be at least 1"):
        BM25Index(CORPUS).search("cat", k=0)


def test_no_progress_bars(capfd):
    index = BM25Index(CORPUS * 50)
    index.search(["cat", "dog"] * 20, k=5)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
