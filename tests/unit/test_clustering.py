"""Tests for e5ui.analysis.clustering and e5ui.labels: HDBSCAN on separated blobs, c-TF-IDF
against the formula computed here, names made of real words of the cluster's texts."""

from __future__ import annotations

import csv
import math
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


def test_names_on_the_map_example_are_words_of_the_cluster_not_stop_words():
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
            assert w in vocab, (w, c)
            assert len(w) > 1
            assert not any(w in labels.stop_words(lang) for lang in set(langs))


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
    assert named.words[0][0] in {"新幹", "幹線", "高铁", "電車", "火车", "車站", "车站"}
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
