"""Reviewing an alignment: the doubtful-first order, edits that keep it valid (and refusals that
leave it as it was), scores of edited links against the documented formula, candidates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from e5ui.analysis import alignment as al
from e5ui.analysis import review
from tests.unit.test_alignment import planted_document, reference_score


def pairs_of(result):
    return [(x.src, x.tgt) for x in result.links]


def hand_made(n_src=5, n_tgt=5, links=None, dim=8, seed=0):
    """An alignment written by hand: 0↔0, 1,2↔1, 3 alone, target 2 alone, 4↔3,4."""
    rng = np.random.default_rng(seed)
    unit = lambda x: (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    links = links if links is not None else [
        al.Link((0,), (0,), 0.9, 0.9), al.Link((1, 2), (1,), 0.3, 0.8),
        al.Link((3,), ()), al.Link((), (2,)), al.Link((4,), (3, 4), 0.05, 0.7)]
    return al.Alignment(links, n_src, n_tgt, unit(rng.standard_normal((n_src, dim))),
                        unit(rng.standard_normal((n_tgt, dim))), threshold=0.15)


# -- doubt ----------------------------------------------------------------------------------------
def test_doubt_ranks_put_low_scores_omissions_and_merges_first_as_weighted():
    links = hand_made().links
    # Plain lowest score first, omissions valued 0.2: 0.05 (link 4), 0.2, 0.2 (2, 3 in
    # document order), 0.3 (1), 0.9 (0).
    assert review.doubt_ranks(links, omission=0.2, merge=0.0).tolist() == [5, 4, 2, 3, 1]
    # A merge penalty of 0.2 per extra sentence: link 1 -> 0.1, link 4 -> -0.15.
    assert review.doubt_ranks(links, omission=0.2, merge=0.2).tolist() == [5, 2, 3, 4, 1]
    # Omissions last when valued above every score.
    assert review.doubt_ranks(links, omission=math.inf, merge=0.0).tolist() == [3, 2, 4, 5, 1]
    order = review.doubt_order(links, omission=0.2, merge=0.0)
    assert order.tolist() == [4, 2, 3, 1, 0]


def test_doubt_of_nothing_and_of_ties():
    assert review.doubt_ranks([]).tolist() == []
    same = [al.Link((i,), (i,), 0.5, 0.9) for i in range(4)]
    assert review.doubt_ranks(same).tolist() == [1, 2, 3, 4]  # ties in document order


# -- validity -------------------------------------------------------------------------------------
def test_document_order_puts_omissions_in_their_gap_source_first():
    shuffled = [al.Link((4,), (3, 4)), al.Link((), (2,)), al.Link((3,), ()),
                al.Link((0,), (0,)), al.Link((1, 2), (1,))]
    ordered = review.in_document_order(shuffled, 5, 5)
    assert [(x.src, x.tgt) for x in ordered] == [((0,), (0,)), ((1, 2), (1,)), ((3,), ()),
                                                 ((), (2,)), ((4,), (3, 4))]
    review.check(hand_made())


@pytest.mark.parametrize("links, message", [
    ([al.Link((0,), (0,)), al.Link((0,), (1,))], "source sentence 0 is used twice"),
    ([al.Link((0,), (0,))], "source sentence\\(s\\) 1 are in no link"),
    ([al.Link((0,), (1,)), al.Link((1,), (0,))], "crosses"),
    ([al.Link((0,), (0,)), al.Link((1,), (5,))], "target sentence 5 is out of range"),
    ([al.Link((0, 1), ()), al.Link((), (0, 1))], "a link of its own"),
])
def test_invalid_link_sets_are_refused_with_the_reason(links, message):
    with pytest.raises(ValueError, match=message):
        review.in_document_order(links, 2, 2)


# -- edits ----------------------------------------------------------------------------------------
def test_accept_marks_one_link_and_leaves_the_input_unchanged():
    before = hand_made()
    kept = list(before.links)
    after = review.accept(before, 1)
    assert [x.status for x in after.links] == ["auto", "accepted", "auto", "auto", "auto"]
    assert before.links == kept and all(x.status == "auto" for x in before.links)
    assert pairs_of(after) == pairs_of(before)
    assert after.links[1].score == 0.3  # accepting changes no score


def test_break_then_relink_restores_the_pair_with_its_cosine():
    before = hand_made()
    broken = review.break_link(before, 1)
    assert pairs_of(broken) == [((0,), (0,)), ((1,), ()), ((2,), ()), ((3,), ()), ((), (1,)),
                                ((), (2,)), ((4,), (3, 4))]
    assert {x.status for x in broken.links[1:6] if x.src != (3,) and x.tgt != (2,)} == {
        "edited"}
    relinked = review.relink(broken, [2], [1])
    assert pairs_of(relinked) == [((0,), (0,)), ((1,), ()), ((2,), (1,)), ((3,), ()),
                                  ((), (2,)), ((4,), (3, 4))]
    link = relinked.links[2]
    assert link.status == "edited"
    expected = float(before.src_vectors[2].astype(np.float64) @ before.tgt_vectors[1])
    assert link.cosine == pytest.approx(expected, abs=1e-6)
    # The hand-made alignment has no lengths or scoring: the bead score is unknown, not kept.
    assert math.isnan(link.score)


def test_relink_refuses_a_sentence_linked_elsewhere_unless_released():
    before = hand_made()
    with pytest.raises(ValueError, match=r"target sentence 0 is already linked in link 0 "
                                         r"\(source 0 ↔ target 0\); break that link first"):
        review.relink(before, [3], [0])
    released = review.relink(before, [1], [2], release=True)
    # 1,2↔1 broken (2 and target 1 left alone), target 2 was alone: 1↔2 crosses nothing;
    # target 1 sits before it, source 2 after it.
    assert pairs_of(released) == [((0,), (0,)), ((), (1,)), ((1,), (2,)), ((2,), ()),
                                  ((3,), ()), ((4,), (3, 4))]
    review.check(released)


def test_relink_regroups_links_that_it_covers_whole():
    before = hand_made()
    merged = review.relink(before, [0, 1, 2], [0, 1])
    assert pairs_of(merged) == [((0, 1, 2), (0, 1)), ((3,), ()), ((), (2,)), ((4,), (3, 4))]


@pytest.mark.parametrize("src, tgt, message", [
    ([3], [0, 1], "already linked in link 0"),               # a sentence used twice
    ([3], [7], "target sentence 7 is out of range"),         # out of range
    ([-1], [2], "source sentence -1 is out of range"),
    ([3], [], "a link needs sentences on both sides"),
    ([1, 3], [2], "not consecutive"),
])
def test_invalid_relinks_are_refused_and_change_nothing(src, tgt, message):
    before = hand_made()
    kept = pairs_of(before)
    with pytest.raises(ValueError, match=message):
        review.relink(before, src, tgt)
    assert pairs_of(before) == kept


def test_a_relink_that_would_cross_another_link_is_refused():
    before = review.break_link(hand_made(), 0)            # source 0 and target 0 alone
    with pytest.raises(ValueError, match=r"crosses source 1,2 ↔ target 1"):
        review.relink(before, [3], [0])


def test_merge_with_the_next_link_and_split_it_back():
    before = hand_made()
    merged = review.merge_next(before, 2)                 # 3 alone + target 2 alone
    assert pairs_of(merged) == [((0,), (0,)), ((1, 2), (1,)), ((3,), (2,)), ((4,), (3, 4))]
    assert merged.links[2].status == "edited"
    with pytest.raises(ValueError, match="is the last link"):
        review.merge_next(before, 4)
    split = review.split_link(before, 1, 1, 1)
    assert pairs_of(split) == [((0,), (0,)), ((1,), (1,)), ((2,), ()), ((3,), ()), ((), (2,)),
                               ((4,), (3, 4))]
    split = review.split_link(before, 4, 1, 1)
    assert pairs_of(split)[-2:] == [((4,), (3,)), ((), (4,))]
    for bad, message in (((0, None, None), "only a merge can be split"),
                         ((2, None, None), "only a merge can be split"),
                         ((1, 2, 1), "leaves one part empty"),
                         ((1, 3, 0), "src_at must be an integer from 0 to 2"),
                         ((1, 1, None), "or neither"),
                         ((9, None, None), "link 9 is out of range")):
        with pytest.raises(ValueError, match=message):
            review.split_link(before, *bad)
    assert pairs_of(before) == pairs_of(hand_made())


def test_default_split_follows_the_vectors():
    before = hand_made()
    # Make target 1 the translation of source 2: the default split of 1,2↔1 gives 2 the link.
    before.tgt_vectors[1] = before.src_vectors[2]
    split = review.split_link(before, 1)
    assert pairs_of(split)[1:3] == [((1,), ()), ((2,), (1,))]


def test_merge_next_of_two_omissions_of_one_side_is_refused():
    links = [al.Link((0,), ()), al.Link((1,), ()), al.Link((), (0,))]
    before = hand_made(2, 1, links)
    with pytest.raises(ValueError, match=r"links 0 \(source 0 \(no partner\)\) and 1"):
        review.merge_next(before, 0)


# -- scores of edited links against the documented formula -----------------------------------------
def test_rescore_gives_the_aligners_score_and_the_formula_for_new_beads():
    doc = planted_document(30, seed=3)
    result = al.align(doc.src, doc.tgt, doc.embed)
    texts = {"src": doc.src, "tgt": doc.tgt}

    def vectors(side, group):
        return doc.embed([al.join_texts([texts[side][i] for i in group])])[0]

    def vec_of(text):
        return doc.embed([text])[0].astype(np.float64)

    kw = {"length_weight": al.DEFAULT_LENGTH_WEIGHT, "merge_penalty": al.DEFAULT_MERGE_PENALTY,
          "neighbour_weight": al.DEFAULT_NEIGHBOUR_WEIGHT}
    for link in result.pairs:  # the DP's own scores
        again = review.rescore(result, link.src, link.tgt, vectors)
        assert again.score == pytest.approx(link.score, abs=1e-5)
        assert again.cosine == pytest.approx(link.cosine, abs=1e-5)
    for s, t in (((3,), (7,)), ((4, 5), (4,)), ((10,), (9, 10, 11))):  # beads it did not pick
        ref = reference_score(doc.src, doc.tgt, vec_of, s, t, **kw)
        assert review.rescore(result, s, t, vectors).score == pytest.approx(ref, abs=1e-5)
    assert math.isnan(review.rescore(result, (4, 5), (4,)).score)  # a merge without vectors


# -- candidates -----------------------------------------------------------------------------------
def test_candidates_are_the_nearest_targets_by_cosine():
    before = hand_made()
    sims = before.src_vectors.astype(np.float64) @ before.tgt_vectors.T.astype(np.float64)
    for i in range(5):
        got = review.candidates(before, i, top=3)
        expected = sorted(range(5), key=lambda j: -sims[i, j])[:3]
        assert [c.tgt for c in got] == [(j,) for j in expected]
        assert [c.cosine for c in got] == pytest.approx([sims[i, j] for j in expected])
    assert [c.linked for c in review.candidates(before, 0, top=5) if c.tgt == (0,)] == [True]
    with pytest.raises(ValueError, match="source sentence 5 is out of range"):
        review.candidates(before, 5)
    with pytest.raises(ValueError, match="top must be"):
        review.candidates(before, 0, top=0)


# -- any sequence of edits keeps the alignment valid ----------------------------------------------
def covered_once(result):
    """Independent check: every sentence of both sides in exactly one link, and the links
    with both sides increasing on both sides in the order given."""
    src = sorted(i for x in result.links for i in x.src)
    tgt = sorted(j for x in result.links for j in x.tgt)
    pairs = [x for x in result.links if x.src and x.tgt]
    return (src == list(range(result.n_src)) and tgt == list(range(result.n_tgt))
            and all(a.src[-1] < b.src[0] and a.tgt[-1] < b.tgt[0]
                    for a, b in zip(pairs, pairs[1:])))


@pytest.mark.parametrize("seed", range(6))
def test_random_edit_sequences_keep_the_alignment_valid_or_change_nothing(seed):
    doc = planted_document(25, seed=seed)
    result = al.align(doc.src, doc.tgt, doc.embed)
    rng = np.random.default_rng(seed)
    refused = 0
    for _ in range(60):
        before = pairs_of(result)
        n = len(result.links)
        op = rng.integers(5)
        try:
            if op == 0:
                new = review.accept(result, int(rng.integers(n)))
            elif op == 1:
                new = review.break_link(result, int(rng.integers(n)))
            elif op == 2:
                i, j = int(rng.integers(result.n_src)), int(rng.integers(result.n_tgt))
                new = review.relink(result, [i], [j], release=bool(rng.integers(2)))
            elif op == 3:
                new = review.merge_next(result, int(rng.integers(n)))
            else:
                new = review.split_link(result, int(rng.integers(n)))
        except ValueError:
            refused += 1
            assert pairs_of(result) == before
            continue
        assert covered_once(new)
        assert pairs_of(result) == before  # the input is never changed
        review.check(new)
        result = new
    assert 5 <= refused <= 50  # both kinds happened


def test_candidates_include_runs_when_a_translation_is_split():
    doc = planted_document(12, seed=1, p_merge=0, p_drop=0, p_split=0, p_insert=0)
    doc.tgt, doc.gold = [], []
    for i in range(12):
        doc.split(i) if i == 5 else doc.translate(i)
    result = al.align(doc.src, doc.tgt, doc.embed)

    def vectors(side, group):
        texts = doc.src if side == "src" else doc.tgt
        return doc.embed([al.join_texts([texts[k] for k in group])])[0]

    got = review.candidates(result, 5, top=3, vectors=vectors, max_group=2)
    assert got[0].tgt == (5, 6)  # the two halves of its translation, joined
    u = result.src_vectors[5].astype(np.float64)
    assert got[0].cosine == pytest.approx(float(u @ vectors("tgt", (5, 6))), abs=1e-6)
    assert got[0].linked == (result.links[5].tgt == (5, 6))
    assert all(len(c.tgt) == 1 for c in review.candidates(result, 5, top=3))
