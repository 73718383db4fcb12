"""Tests for e5ui.analysis.clustering and e5ui.labels: HDBSCAN on separated blobs, c-TF-IDF
against the formula computed here, names made of real words of the cluster's texts."""

from __future__ import annotations

import csv
import math
import unicodedata
from collections import Counter

import numpy as np
import pytest
import regex
from sklearn.metrics import adjusted_rand_score

from e5ui import labels, resources
from e5ui.analysis import clustering
from e5ui.bm25 import tokenize

# Two topics (trains, cooking), five sentences each, in Japanese and Chinese; the same id for a
# sentence and its translation.
JA = ["東京駅から新幹線に乗って大阪へ行きました。", "新幹線の切符を駅の窓口で買いました。",
      "電車が遅れたので駅で待ちました。", "朝の電車はいつも通勤客で混雑しています。",
      "新幹線は時速三百キロで走ります。",
      "母は台所で野菜スープを料理しています。", "料理の前に野菜をよく洗いましょう。",
      "鶏肉と野菜を炒めて夕食を作りました。", "この料理には醤油と砂糖を使います。",
      "週末に友達と一緒に料理教室へ行きました。"]
ZH = ["我们从东京站坐高铁去大阪。", "我在车站窗口买了高铁车票。",
      "火车晚点了，所以我们在车站等待。", "早上的火车总是挤满了上班族。",
      "高铁每小时行驶三百公里。",
      "妈妈在厨房里做蔬菜汤。", "做饭之前要把蔬菜洗干净。",
      "我用鸡肉和蔬菜炒了晚饭。", "这道菜要用酱油和白糖。",
      "周末我和朋友一起去烹饪课。"]


def test_hdbscan_finds_separated_blobs_and_leaves_stragglers_as_noise():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [20, 0], [0, 20]])
    truth = np.repeat(np.arange(3), 30)
    pts = centres[truth] + rng.normal(scale=0.5, size=(90, 2))
    got = clustering.cluster(np.vstack([pts, [[60, 60]]]), min_cluster_size=5)
    assert adjusted_rand_score(truth, got[:90]) == 1.0
    assert got[90] == clustering.NOISE
    assert list(dict.fromkeys(got[:90])) == [0, 1, 2]  # numbered by first appearance
    assert (clustering.cluster(pts[:2], min_cluster_size=5) == -1).all()
    with pytest.raises(ValueError, match="min_cluster_size"):
        clustering.cluster(pts, min_cluster_size=1)


def test_ctfidf_is_bertopics_formula():
    tokens = [["a", "b", "b"], ["b", "c"], ["c", "c", "d"], ["x"]]
    got = clustering.ctfidf(tokens, [0, 0, 1, -1])
    tf = {0: Counter(a=1, b=3, c=1), 1: Counter(c=2, d=1)}
    total = tf[0] + tf[1]
    avg = (5 + 3) / 2
    for c, counts in tf.items():
        size = sum(counts.values())
        for t, f in counts.items():
            assert got[c][t] == pytest.approx(f / size * math.log(1 + avg / total[t]))
    assert "x" not in got[0] and "x" not in got[1]


def _read_example():
    path = resources.path("examples") / "map_parallel.tsv"
    with open(path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


_SPACED_WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
_KATAKANA_RUN = regex.compile(r"\p{Katakana}[\p{Katakana}ー]*")
_KANJI_RUN = regex.compile(r"[\p{Han}々]+")
_KANJI_NUMERALS = set("〇一二三四五六七八九十百千万")


def _fold(text):
    return unicodedata.normalize("NFKC", text).casefold()


def _is_word_of(w, text, lang):
    """Whether w is a word of text by the script runs of its language, checked with regexes
    here: a whole word where words are spaced; in Japanese a whole katakana run or a piece of
    one kanji run (no kana, no numerals); in Chinese two or more Han characters in a row,
    no numerals and no one-character stop word."""
    text = _fold(text)
    if lang == "ja":
        return (w in _KATAKANA_RUN.findall(text)
                or (any(w in run for run in _KANJI_RUN.findall(text)) and len(w) >= 2
                    and not set(w) & _KANJI_NUMERALS))
    if lang == "zh":
        return (len(w) >= 2 and regex.fullmatch(r"\p{Han}+", w) is not None and w in text
                and not set(w) & _KANJI_NUMERALS and not set(w) & set(_ZH_ONE_CHAR_STOPS))
    return w in _SPACED_WORD.findall(text)


# Chinese function words of one character (none may be part of a name word).
_ZH_ONE_CHAR_STOPS = "的了是在我你他她它们和与就也都又把被从给对这那个有要"


def test_names_on_the_map_example_are_words_of_the_cluster_in_its_languages():
    rows = _read_example()
    texts = [r["text"] for r in rows]
    langs = [r["lang"] for r in rows]
    ids = [r["id"] for r in rows]
    # A cluster per six sentences (every language of each), as a map of translations gives.
    order = sorted(set(ids))
    group = np.array([order.index(i) // 6 for i in ids])
    named = labels.name_clusters(texts, group, langs=langs, ids=ids)
    assert set(named.names) == set(group.tolist())
    for c, words in named.words.items():
        assert len(words) >= len(set(langs))  # a word of every language at least
        members = [i for i in range(len(texts)) if group[i] == c]
        vocab = {t for i in members for t in tokenize(texts[i])}
        for w in words:
            # a word of one of the cluster's texts, by the rules of that text's language
            assert any(_is_word_of(w, texts[i], langs[i]) for i in members), (w, c)
            assert len(w) > 1
            assert not any(w in labels.stop_words(lang) for lang in set(langs))
            if regex.search(r"[\p{Han}\p{Hiragana}\p{Katakana}]", w) is None:
                assert w in vocab, (w, c)  # spaced words are BM25's words too
        langs_of = {langs[i] for i in members for w in words if _is_word_of(w, texts[i], langs[i])}
        assert {"ja", "zh"} <= langs_of, words  # a Japanese and a Chinese word too


def test_japanese_and_chinese_clusters_get_one_name_of_multi_character_words():
    texts = JA + ZH
    langs = ["ja"] * 10 + ["zh"] * 10
    ids = [f"s{i}" for i in range(10)] * 2
    # Four clusters: the map put each language's topics apart; shared ids join them.
    group = np.array([0] * 5 + [1] * 5 + [2] * 5 + [3] * 5)
    named = labels.name_clusters(texts, group, langs=langs, ids=ids)
    assert named.names[0] == named.names[2] and named.names[1] == named.names[3]
    assert named.names[0] != named.names[1]
    cjk = regex.compile(r"^[\p{scx=Han}\p{scx=Katakana}]+$")
    for c in (0, 1):
        members = [i for i in range(20) if group[i] in (c, c + 2)]
        joined = "".join(texts[i] for i in members)
        words = named.words[c]
        assert any(w in "".join(JA) for w in words) and any(w in "".join(ZH) for w in words)
        for w in words:
            assert len(w) >= 2 and cjk.match(w) and w in joined, (w, words)
    # the topic words themselves come first
    # (新幹線 whole, not its bigrams 新幹 and 幹線, which earlier names used)
    assert named.words[0][0] in {"新幹線", "高铁", "電車", "火车", "车站"}
    assert named.words[1][0] in {"料理", "野菜", "蔬菜"}
    assert named.name_of(0) == named.names[0]


def test_label_words_drop_stop_words_numbers_and_particles():
    assert labels.label_words("The train and the 42 trains", "en") == ["train", "trains"]
    assert labels.label_words("Der Zug und die Bahn", "de") == ["zug", "bahn"]
    assert "の電" not in labels.label_words("東京の電車", "ja")
    assert labels.label_words("我的火车", "zh") == ["火车"]


def test_clusters_that_share_a_few_ids_are_not_chained_into_one_name():
    from e5ui.analysis import clustering

    # Two clusters of translations (the same ids in two languages), then three clusters that
    # each share one id with the next: pairwise links would chain those three into one group.
    labels = np.array([0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    ids = ["a", "b", "a", "b", "p", "q", "q", "r", "r", "s"]
    groups = sorted(sorted(g) for g in clustering._linked(labels, ids))
    assert groups == [[0, 1], [2], [3], [4]]


# Four topics (trains, cooking, computers, football) × five sentences in Japanese and Chinese,
# a sentence and its translation sharing an id; and the words of each language's texts,
# written by hand (whole words only: 新幹線, not 新幹 or 幹線's neighbour 線に).
JA_SET = JA[:5] + JA[5:] + [
    "新しいコンピュータにソフトウェアをインストールしました。",
    "コンピュータが動かないので、再起動してみてください。",
    "このソフトウェアはパスワードを毎月変更するように求めます。",
    "データをバックアップしてからコンピュータを修理に出しました。",
    "プログラマーは新しいソフトウェアの不具合を修正しています。",
    "日曜日にサッカーの試合を見に行きました。",
    "サッカー選手は毎日グラウンドで練習しています。",
    "決勝戦で日本代表がゴールを決めました。",
    "監督は試合の後で選手たちを褒めました。",
    "弟は学校のサッカー部に入りました。"]
ZH_SET = ZH[:5] + ZH[5:] + [
    "我在新电脑上安装了软件。", "电脑不能运行了，请重新启动试试。", "这个软件要求每个月更改密码。",
    "我先备份了数据，然后把电脑送去修理。", "程序员正在修复新软件的错误。",
    "星期天我去看了足球比赛。", "足球运动员每天在球场上训练。", "在决赛中日本队进了一个球。",
    "比赛结束后教练表扬了球员们。", "我弟弟参加了学校的足球队。"]
JA_WORDS = set(
    "東京駅 東京 新幹線 大阪 切符 窓口 電車 通勤客 通勤 混雑 時速 キロ 台所 野菜 スープ 野菜スープ "
    "料理 鶏肉 夕食 醤油 砂糖 週末 友達 一緒 料理教室 教室 コンピュータ ソフトウェア インストール "
    "再起動 起動 パスワード 毎月 変更 データ バックアップ 修理 プログラマー 不具合 修正 日曜日 "
    "日曜 サッカー 試合 選手 毎日 グラウンド 練習 決勝戦 決勝 日本代表 日本 代表 ゴール 監督 学校 "
    "サッカー部".split())
ZH_WORDS = set(
    "东京站 东京 高铁 大阪 车站 窗口 车票 火车 晚点 所以 等待 早上 总是 挤满 上班族 上班 小时 "
    "行驶 公里 妈妈 厨房 蔬菜 蔬菜汤 做饭 之前 干净 鸡肉 晚饭 酱油 白糖 周末 朋友 一起 烹饪 "
    "烹饪课 电脑 安装 软件 运行 重新 启动 试试 要求 更改 密码 备份 数据 然后 修理 程序员 程序 "
    "正在 修复 错误 星期天 星期 足球 比赛 运动员 运动 每天 球场 训练 决赛 日本队 日本 结束 教练 "
    "表扬 球员 弟弟 参加 学校 足球队".split())


@pytest.mark.parametrize("top", [3, 6])
def test_japanese_and_chinese_names_are_whole_words_of_their_clusters(top):
    texts = JA_SET + ZH_SET
    langs = ["ja"] * 20 + ["zh"] * 20
    ids = [f"s{i}" for i in range(20)] * 2
    topic = np.repeat(np.arange(4), 5)
    group = np.concatenate([topic, topic + 4])  # each language's topics apart, as on a map
    named = labels.name_clusters(texts, group, langs=langs, ids=ids, top=top)
    stops = labels.stop_words("zh") | labels.stop_words("ja")
    for c in range(4):
        assert named.names[c] == named.names[c + 4]  # translations share one name
        ja = [_fold(JA_SET[i]) for i in range(20) if topic[i] == c]
        zh = [_fold(ZH_SET[i]) for i in range(20) if topic[i] == c]
        words = named.words[c]
        assert len(words) >= top
        assert any(any(w in t for t in ja) for w in words)
        assert any(any(w in t for t in zh) for w in words)
        for w in words:
            in_ja, in_zh = any(w in t for t in ja), any(w in t for t in zh)
            assert in_ja or in_zh, (w, words)  # (a) it occurs in the cluster's texts
            assert len(w) >= 2 and w not in stops, (w, words)  # (b)
            # (c) one script: no kana+kanji fragment, never hiragana
            assert not (regex.search(r"\p{Han}", w)
                        and regex.search(r"[\p{Hiragana}\p{Katakana}]", w)), (w, words)
            assert not regex.search(r"\p{Hiragana}", w), (w, words)
            # and a word of its language, by the lists above
            assert (in_ja and w in JA_WORDS) or (in_zh and w in ZH_WORDS), (w, words)
    assert len({named.names[c] for c in range(4)}) == 4
