"""Ordered alignment: the DP against brute force, planted merges/splits/omissions, the windowed
search against the full one, evaluation against hand-computed figures, scale, bad arguments."""

from __future__ import annotations

import hashlib
import itertools
import math
import time
import tracemalloc

import numpy as np
import pytest

from e5ui.analysis import alignment as al


# -- fake embeddings ------------------------------------------------------------------------------
def hashed_embed(dim: int = 8):
    """Every distinct text (concatenations included) gets its own seeded random unit vector."""
    def embed(texts):
        out = []
        for t in texts:
            seed = int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little")
            v = np.random.default_rng(seed).standard_normal(dim)
            out.append(v / np.linalg.norm(v))
        return np.array(out, dtype=np.float32)
    return embed


class Planted:
    """A document pair with known geometry. Source sentence i is "s<i>" with a random unit
    vector; a target sentence names the source sentences it translates ("t:3+4") and gets the
    normalised sum of their vectors plus noise. A concatenation embeds as the normalised sum of
    its parts, as a sentence encoder roughly does. Lengths follow the sources."""

    def __init__(self, n: int, dim: int = 32, seed: int = 0, noise: float = 0.3):
        self.rng = np.random.default_rng(seed)
        self.dim, self.noise = dim, noise
        self.vec: dict[str, np.ndarray] = {}
        self.src = []
        for i in range(n):
            name = f"s{i}|" + "x" * int(self.rng.integers(20, 80))
            self.vec[name] = self._unit(self.rng.standard_normal(dim))
            self.src.append(name)
        self.tgt: list[str] = []
        self.gold: list[tuple[tuple[int, ...], tuple[int, ...]]] = []

    @staticmethod
    def _unit(v):
        return v / np.linalg.norm(v)

    def translate(self, *sources: int) -> None:
        """Appends a target sentence translating the given source sentences (a merge if > 1)."""
        name = f"t{len(self.tgt)}:" + "+".join(map(str, sources)) + "|"
        name += "y" * sum(len(self.src[i]) for i in sources)
        v = sum(self.vec[self.src[i]] for i in sources)
        self.vec[name] = self._unit(self._unit(v) + self.noise * self._unit(
            self.rng.standard_normal(self.dim)))
        self.gold.append((tuple(sources), (len(self.tgt),)))
        self.tgt.append(name)

    def split(self, i: int) -> None:
        """Appends two target sentences that together translate source sentence i."""
        half = self._unit(self.rng.standard_normal(self.dim))
        first = len(self.tgt)
        for sign in (1, -1):
            name = f"t{len(self.tgt)}:{i}{'ab'[sign < 0]}|" + "y" * (len(self.src[i]) // 2)
            self.vec[name] = self._unit(self.vec[self.src[i]] + sign * 0.9 * half)
            self.tgt.append(name)
        self.gold.append(((i,), (first, first + 1)))

    def drop(self, i: int) -> None:
        self.gold.append(((i,), ()))

    def insert(self) -> None:
        name = f"t{len(self.tgt)}:new|" + "y" * 40
        self.vec[name] = self._unit(self.rng.standard_normal(self.dim))
        self.gold.append(((), (len(self.tgt),)))
        self.tgt.append(name)

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for k, text in enumerate(texts):
            parts = text.split(" ")
            out[k] = self._unit(sum(self.vec[p] for p in parts))
        return out


def planted_document(n: int, seed: int, p_merge=0.1, p_drop=0.05, p_split=0.04, p_insert=0.02,
                     dim: int = 32) -> Planted:
    doc = Planted(n, dim=dim, seed=seed)
    rng = np.random.default_rng(seed + 1)
    i = 0
    while i < n:
        r = rng.random()
        if r < p_merge and i + 1 < n:
            doc.translate(i, i + 1)
            i += 2
            continue
        if r < p_merge + p_drop:
            doc.drop(i)
        elif r < p_merge + p_drop + p_split:
            doc.split(i)
        elif r < p_merge + p_drop + p_split + p_insert:
            doc.insert()
            continue
        else:
            doc.translate(i)
        i += 1
    return doc


def as_pairs(links):
    return [(tuple(link.src), tuple(link.tgt)) for link in links]


def canonical(path):
    """Consecutive omissions in one order (source ones first): their order changes no score."""
    out, run = [], []
    for item in [*path, None]:
        S, T = item if item is not None else (None, None)
        if S is not None and (not S or not T):
            run.append((S, T))
            continue
        out += sorted(run, key=lambda x: (not x[0], x))
        run = []
        if S is not None:
            out.append((S, T))
    return out


# -- an independent reference: the documented score, and brute force over all paths -----------
def reference_score(src, tgt, vec_of, S, T, *, length_weight, merge_penalty, neighbour_weight):
    """The bead score of the module docstring, computed the slow way from its definition."""
    n, m = len(src), len(tgt)
    single_s = [vec_of(s) for s in src]
    single_t = [vec_of(t) for t in tgt]
    sims = np.array([[float(x @ y) for y in single_t] for x in single_s])
    # Pairs that are mutual nearest neighbours are likely translations: left out of it.
    unrelated = [sims[i, j] for i in range(n) for j in range(m)
                 if not (sims[i, j] == sims[i].max() and sims[i, j] == sims[:, j].max())]
    background = np.mean(unrelated) if unrelated else sims.mean()
    u = vec_of(al.join_texts([src[i] for i in S]))
    v = vec_of(al.join_texts([tgt[j] for j in T]))
    near_t = [float(u @ single_t[k]) for k in (T[0] - 1, T[-1] + 1) if 0 <= k < m]
    near_s = [float(v @ single_s[k]) for k in (S[0] - 1, S[-1] + 1) if 0 <= k < n]
    nb_t = np.mean(near_t) if near_t else background
    nb_s = np.mean(near_s) if near_s else background
    ratio = sum(len(s) for s in src) / sum(len(t) for t in tgt)
    ls = sum(len(src[i]) for i in S)
    lt = ratio * sum(len(tgt[j]) for j in T)
    r = min(ls, lt) / max(ls, lt)
    reference = neighbour_weight * (nb_t + nb_s) / 2 + (1 - neighbour_weight) * background
    return ((float(u @ v) - reference) / max(1 - background, 0.05)
            + length_weight * (math.log2(1 + r) - 1) - merge_penalty * (len(S) + len(T) - 2))


def all_paths(n, m, types, src_par, tgt_par):
    """Every monotone bead path from (0, 0) to (n, m); no group spans two paragraphs."""
    moves = [*types, (1, 0), (0, 1)]

    def walk(i, j):
        if (i, j) == (n, m):
            yield []
            return
        for a, b in moves:
            if i + a > n or j + b > m:
                continue
            if a > 1 and len(set(src_par[i:i + a])) > 1:
                continue
            if b > 1 and len(set(tgt_par[j:j + b])) > 1:
                continue
            for rest in walk(i + a, j + b):
                yield [(tuple(range(i, i + a)), tuple(range(j, j + b))), *rest]

    yield from walk(0, 0)


@pytest.mark.parametrize("seed", range(12))
def test_dp_finds_the_best_path_of_brute_force(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    max_merge = int(rng.integers(1, 4))
    src = [f"src {seed} {i} " + "a" * int(rng.integers(3, 30)) for i in range(n)]
    tgt = [f"tgt {seed} {j} " + "b" * int(rng.integers(3, 30)) for j in range(m)]
    src_par = sorted(rng.integers(0, 2, n).tolist())
    tgt_par = sorted(rng.integers(0, 2, m).tolist())
    embed = hashed_embed()
    params = dict(length_weight=0.3, merge_penalty=0.05,
                  neighbour_weight=float(rng.choice([0.0, 0.5, 1.0])))
    skip = -0.2
    result = al.align(src, tgt, embed, max_merge=max_merge, skip=skip, src_paragraphs=src_par,
                      tgt_paragraphs=tgt_par, search="full", **params)

    def vec_of(text):
        return embed([text])[0].astype(np.float64)

    def total(path):
        return sum(skip if not S or not T else
                   reference_score(src, tgt, vec_of, S, T, **params) for S, T in path)

    paths = list(all_paths(n, m, al.bead_types(max_merge), src_par, tgt_par))
    best = max(paths, key=total)
    assert as_pairs(result.links) == canonical(best)
    for link in result.pairs:
        assert link.score == pytest.approx(
            reference_score(src, tgt, vec_of, link.src, link.tgt, **params), abs=1e-5)


def test_identical_documents_align_one_to_one():
    text = ["The same line."] * 5
    # Every text, concatenations too, gets one vector (up to rounding): background ~1.
    result = al.align(text, text, lambda texts: np.ones((len(texts), 8)) / np.sqrt(8))
    assert as_pairs(result.links) == [((i,), (i,)) for i in range(5)]
    assert all(abs(link.score) < 1 for link in result.links)


def test_bead_types_up_to_four_on_a_side():
    assert al.bead_types(4) == [(1, 1), (1, 2), (2, 1), (1, 3), (2, 2), (3, 1), (1, 4), (2, 3),
                                (3, 2), (4, 1)]
    assert al.bead_types(1) == [(1, 1)]


# -- planted structure ----------------------------------------------------------------------------
def test_merges_splits_and_omissions_are_recovered():
    doc = Planted(14, seed=3, noise=0.2)
    doc.translate(0)
    doc.translate(1, 2)      # two source sentences translated as one: 2-1
    doc.translate(3)
    doc.drop(4)              # 1-0
    doc.translate(5)
    doc.split(6)             # 1-2
    doc.translate(7)
    doc.insert()             # 0-1
    doc.translate(8)
    doc.translate(9, 10, 11)  # 3-1
    doc.translate(12)
    doc.translate(13)
    result = al.align(doc.src, doc.tgt, doc.embed)
    assert as_pairs(result.links) == doc.gold
    assert result.omitted_src == [4]
    assert result.omitted_tgt == [7]
    assert result.type_counts() == {"1-1": 7, "2-1": 1, "1-0": 1, "1-2": 1, "0-1": 1, "3-1": 1}
    assert all(np.isnan(link.score) for link in result.links if link.is_omission)


def test_no_group_spans_a_paragraph_boundary():
    doc = Planted(6, seed=5, noise=0.1)
    for k in (0, 1):
        doc.translate(k)
    doc.translate(2, 3)  # a merge across the source paragraph boundary between 2 and 3
    for k in (4, 5):
        doc.translate(k)
    free = al.align(doc.src, doc.tgt, doc.embed)
    assert ((2, 3), (2,)) in as_pairs(free.links)
    kept = al.align(doc.src, doc.tgt, doc.embed, src_paragraphs=[0, 0, 0, 1, 1, 1])
    assert all(len({0 if i < 3 else 1 for i in link.src}) <= 1 for link in kept.links)
    assert ((2,), (2,)) in as_pairs(kept.links) or ((3,), (2,)) in as_pairs(kept.links)


def test_corners_trace_the_path_and_cover_both_documents():
    doc = planted_document(40, seed=2)
    result = al.align(doc.src, doc.tgt, doc.embed)
    corners = result.corners()
    assert corners[0].tolist() == [0, 0]
    assert corners[-1].tolist() == [len(doc.src), len(doc.tgt)]
    assert np.all(np.diff(corners, axis=0) >= 0)
    covered_src = [i for link in result.links for i in link.src]
    covered_tgt = [j for link in result.links for j in link.tgt]
    assert covered_src == list(range(len(doc.src)))
    assert covered_tgt == list(range(len(doc.tgt)))


def test_threshold_flags_low_scores_and_can_move_without_a_new_search():
    doc = planted_document(30, seed=4)
    result = al.align(doc.src, doc.tgt, doc.embed, threshold=None)
    assert not any(link.low_confidence for link in result.links)
    scores = sorted(link.score for link in result.pairs)
    cut = scores[len(scores) // 2]
    moved = result.with_threshold(cut)
    assert moved.threshold == cut
    assert [link.low_confidence for link in moved.links] == [
        (not link.is_omission and link.score < cut) for link in result.links]
    assert as_pairs(moved.links) == as_pairs(result.links)


@pytest.mark.parametrize("seed", range(4))
def test_windowed_search_matches_the_full_search_when_anchors_are_right(seed):
    doc = planted_document(150, seed=seed)
    full = al.align(doc.src, doc.tgt, doc.embed, search="full")
    windowed = al.align(doc.src, doc.tgt, doc.embed, search="windowed")
    assert windowed.search == "windowed" and full.search == "full"
    assert as_pairs(windowed.links) == as_pairs(full.links)
    assert windowed.cells < full.cells / 4
    assert al.evaluate(windowed, doc.gold).f1_strict > 0.95


@pytest.mark.parametrize("seed", range(20))
def test_first_pass_chain_is_the_heaviest_of_brute_force(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(1, 10))
    rows = rng.integers(0, 5, k)
    cols = rng.integers(0, 5, k)
    weights = rng.random(k)

    def chain_ok(points):
        return all(rows[p] < rows[q] and cols[p] < cols[q] for p, q in zip(points, points[1:]))

    best = max((c for r in range(1, k + 1) for c in itertools.combinations(
        sorted(range(k), key=lambda p: (rows[p], cols[p])), r) if chain_ok(c)),
        key=lambda c: weights[list(c)].sum())
    chain = al._heaviest_chain(rows, cols, weights)
    assert chain_ok(chain)
    assert weights[chain].sum() == pytest.approx(weights[list(best)].sum())


def test_auto_search_picks_full_for_small_inputs():
    doc = planted_document(20, seed=1)
    assert al.align(doc.src, doc.tgt, doc.embed).search == "full"


def test_embed_is_called_once_with_each_distinct_concatenation():
    doc = planted_document(25, seed=6)
    calls = []

    def embed(texts):
        calls.append(list(texts))
        return doc.embed(texts)

    al.align(doc.src, doc.tgt, embed, max_merge=3, src_paragraphs=[0] * 10 + [1] * 15)
    assert len(calls) == 1
    texts = calls[0]
    assert len(texts) == len(set(texts))
    # Runs of 1..3 sentences, none across the source paragraph boundary after sentence 9.
    n, m = len(doc.src), len(doc.tgt)
    expected_src = sum(n - a + 1 for a in (1, 2, 3)) - (1 + 2)
    expected_tgt = sum(m - b + 1 for b in (1, 2, 3))
    assert len(texts) == expected_src + expected_tgt
    assert al.join_texts([doc.src[9], doc.src[10]]) not in texts


def test_join_texts_puts_no_space_between_chinese_or_japanese_sentences():
    assert al.join_texts(["Hello.", " World. "]) == "Hello. World."
    japanese = ["今日は晴れです。", "公園に行きます。"]
    assert al.join_texts(japanese) == "今日は晴れです。公園に行きます。"
    assert al.join_texts(["我很好。", "OK."]) == "我很好。OK."
    assert al.join_texts(["Fine.", "好的。"]) == "Fine. 好的。"


# -- evaluation -----------------------------------------------------------------------------------
def test_strict_and_lax_scores_match_a_hand_computation():
    gold = [((0,), (0,)), ((1, 2), (1,)), ((3,), ()), ((4,), (2, 3)), ((5,), (4,))]
    test = [((0,), (0,)),        # strict hit
            ((1,), (1,)),        # lax hit: shares 1 and 1 with gold (1,2)-(1,)
            ((2,), ()),          # a wrong omission: no strict, no lax (no target)
            ((3,), ()),          # strict hit (gold omission)
            ((4,), (2, 3)),      # strict hit
            ((5,), (4,))]        # strict hit
    ev = al.evaluate(test, gold)
    # Precision over the 6 predicted links: strict 4/6, lax 5/6.
    assert ev.precision_strict == pytest.approx(4 / 6)
    assert ev.precision_lax == pytest.approx(5 / 6)
    # Recall over the 4 gold links with both sides against the 4 predicted ones with both
    # sides: strict 3/4 ((1,2)-(1) was not found), lax 4/4 ((1,2)-(1) shares 1-1 with (1)-(1)).
    assert ev.recall_strict == pytest.approx(3 / 4)
    assert ev.recall_lax == pytest.approx(1.0)
    assert ev.f1_strict == pytest.approx(2 * (4 / 6) * (3 / 4) / (4 / 6 + 3 / 4))
    assert ev.f1_lax == pytest.approx(2 * (5 / 6) * 1.0 / (5 / 6 + 1.0))
    assert (ev.n_gold, ev.n_pred) == (5, 6)


def test_evaluation_splits_grouped_omissions_and_accepts_links():
    gold = [((0,), (0,)), ((1, 2), ())]
    pred = [al.Link((0,), (0,), 1.0, 0.9), al.Link((1,), ()), al.Link((2,), ())]
    ev = al.evaluate(pred, gold)
    assert ev.precision_strict == 1.0 and ev.recall_strict == 1.0 and ev.n_gold == 3


def test_evaluation_of_nothing_is_zero():
    ev = al.evaluate([], [((0,), (0,))])
    assert ev.f1_strict == 0.0 and ev.precision_strict == 0.0 and ev.recall_strict == 0.0


def test_groups_read_and_write_as_tsv_cells():
    assert al.parse_group("3,4") == (3, 4)
    assert al.parse_group(" ") == ()
    assert al.format_group((3, 4)) == "3,4"
    assert al.format_group(()) == ""


# -- the similarity picture -----------------------------------------------------------------------
def test_similarity_grid_is_exact_when_small_and_block_means_when_large():
    rng = np.random.default_rng(0)
    src = rng.standard_normal((23, 6))
    tgt = rng.standard_normal((17, 6))
    src /= np.linalg.norm(src, axis=1, keepdims=True)
    tgt /= np.linalg.norm(tgt, axis=1, keepdims=True)
    exact = src @ tgt.T
    grid = al.similarity_grid(src, tgt, max_side=50)
    assert not grid.aggregated
    np.testing.assert_allclose(grid.values, exact, atol=1e-5)
    small = al.similarity_grid(src, tgt, max_side=5)
    assert small.aggregated and small.values.shape == (5, 5)
    assert small.src_edges[0] == 0 and small.src_edges[-1] == 23
    for r in range(5):
        for c in range(5):
            block = exact[small.src_edges[r]:small.src_edges[r + 1],
                          small.tgt_edges[c]:small.tgt_edges[c + 1]]
            assert small.values[r, c] == pytest.approx(block.mean(), abs=1e-5)


def test_grid_path_maps_sentence_boundaries_to_cells():
    grid = al.SimilarityGrid(np.zeros((2, 3)), np.array([0, 2, 4]), np.array([0, 1, 2, 6]))
    corners = np.array([[0, 0], [1, 1], [2, 2], [4, 4], [4, 6]])
    np.testing.assert_allclose(grid.path(corners),
                               [[0, 0], [0.5, 1], [1, 2], [2, 2.5], [2, 3]])


# -- scale ----------------------------------------------------------------------------------------
def test_two_thousand_sentences_align_in_linear_memory():
    n = 2000
    doc = planted_document(n, seed=9, dim=32)
    m = len(doc.tgt)
    vectors = {}

    def embed(texts):  # precomputed outside the measurement: only the aligner is measured
        return np.stack([vectors[t] for t in texts])

    texts = [al.join_texts(doc.src[i:i + a]) for a in range(1, 5) for i in range(n - a + 1)]
    texts += [al.join_texts(doc.tgt[j:j + b]) for b in range(1, 5) for j in range(m - b + 1)]
    vectors.update(zip(texts, doc.embed(texts)))
    tracemalloc.start()
    start = time.perf_counter()
    result = al.align(doc.src, doc.tgt, embed)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.search == "windowed"
    # One float32 n x m matrix would take 14.6 MB; the whole alignment (~11 MB, most of it
    # the texts and their vectors) stays below it, and the DP cells grow linearly.
    assert peak < n * m * 4, peak
    assert result.cells < 40 * (n + m)
    assert seconds < 60, seconds
    assert al.evaluate(result, doc.gold).f1_strict > 0.98


# -- bad arguments --------------------------------------------------------------------------------
@pytest.fixture
def small():
    return planted_document(6, seed=0)


def test_max_merge_below_one(small):
    with pytest.raises(ValueError, match="max_merge"):
        al.align(small.src, small.tgt, small.embed, max_merge=0)


def test_max_merge_not_an_integer(small):
    with pytest.raises(ValueError, match="max_merge"):
        al.align(small.src, small.tgt, small.embed, max_merge=2.5)


def test_skip_not_finite(small):
    with pytest.raises(ValueError, match="skip"):
        al.align(small.src, small.tgt, small.embed, skip=float("nan"))


def test_window_below_one(small):
    with pytest.raises(ValueError, match="window"):
        al.align(small.src, small.tgt, small.embed, window=0)


def test_top_k_below_one(small):
    with pytest.raises(ValueError, match="top_k"):
        al.align(small.src, small.tgt, small.embed, top_k=0)


def test_threshold_not_finite(small):
    with pytest.raises(ValueError, match="threshold"):
        al.align(small.src, small.tgt, small.embed, threshold=float("inf"))


def test_negative_length_weight(small):
    with pytest.raises(ValueError, match="length_weight"):
        al.align(small.src, small.tgt, small.embed, length_weight=-0.1)


def test_negative_merge_penalty(small):
    with pytest.raises(ValueError, match="merge_penalty"):
        al.align(small.src, small.tgt, small.embed, merge_penalty=-1)


def test_neighbour_weight_above_one(small):
    with pytest.raises(ValueError, match="neighbour_weight must be at most 1"):
        al.align(small.src, small.tgt, small.embed, neighbour_weight=1.5)


def test_unknown_search(small):
    with pytest.raises(ValueError, match="Must be one of: auto, full, windowed"):
        al.align(small.src, small.tgt, small.embed, search="fast")


def test_empty_source(small):
    with pytest.raises(ValueError, match="source has no sentences"):
        al.align([], small.tgt, small.embed)


def test_empty_target(small):
    with pytest.raises(ValueError, match="target has no sentences"):
        al.align(small.src, [], small.embed)


def test_source_given_as_one_string(small):
    with pytest.raises(ValueError, match="list of sentences"):
        al.align("one. two.", small.tgt, small.embed)


def test_blank_sentence(small):
    with pytest.raises(ValueError, match="target sentence 1 is empty"):
        al.align(small.src, [small.tgt[0], "  ", *small.tgt[1:]], small.embed)


def test_paragraphs_of_the_wrong_length(small):
    with pytest.raises(ValueError, match="src_paragraphs"):
        al.align(small.src, small.tgt, small.embed, src_paragraphs=[0, 0])


def test_paragraphs_out_of_order(small):
    with pytest.raises(ValueError, match="must not decrease"):
        al.align(small.src, small.tgt, small.embed,
                 tgt_paragraphs=list(range(len(small.tgt)))[::-1])


def test_embed_not_callable(small):
    with pytest.raises(ValueError, match="embed must be a function"):
        al.align(small.src, small.tgt, None)


def test_embed_returns_too_few_vectors(small):
    with pytest.raises(ValueError, match="embed returned"):
        al.align(small.src, small.tgt, lambda texts: small.embed(texts)[:-1])


def test_embed_returns_nan(small):
    with pytest.raises(ValueError, match="NaN"):
        al.align(small.src, small.tgt, lambda texts: small.embed(texts) * np.nan)


def test_grid_max_side_below_one():
    with pytest.raises(ValueError, match="max_side"):
        al.similarity_grid(np.eye(3), np.eye(3), max_side=0)


def test_grid_dimension_mismatch():
    with pytest.raises(ValueError, match="dimension mismatch"):
        al.similarity_grid(np.eye(3), np.eye(4))


def test_group_cell_not_numbers():
    with pytest.raises(ValueError, match="comma-separated"):
        al.parse_group("3;4")


def test_group_cell_negative():
    with pytest.raises(ValueError, match="0 or more"):
        al.parse_group("-1")


def test_gold_link_malformed():
    with pytest.raises(ValueError, match="gold must be"):
        al.evaluate([((0,), (0,))], [(0, 0)])


def test_brute_force_reference_enumerates_every_path():
    # Sanity of the reference itself: with 1-1 beads and omissions only, paths from (0,0) to
    # (n, m) are the Delannoy numbers D(n, m).
    assert len(list(all_paths(2, 2, [(1, 1)], [0, 0], [0, 0]))) == 13
    assert len(list(all_paths(3, 2, [(1, 1)], [0] * 3, [0] * 2))) == 25
    assert sum(1 for _ in itertools.islice(all_paths(3, 3, [(1, 1)], [0] * 3, [0] * 3),
                                           1000)) == 63
