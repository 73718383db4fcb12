"""The review of mined pairs (the Bitext view): accept, reject, re-link with one-to-one kept
valid, scores of new pairs and candidates against numpy references, the status column, a review
saved and resumed (and refused, by its line, when it does not fit the lists), TMX of the approved
pairs, and the CLI's --review / --approved-only."""

from __future__ import annotations

import csv
import math
import random
import xml.etree.ElementTree as ET
from dataclasses import astuple

import numpy as np
import pytest

from e5ui import registry, textio, views
from e5ui.__main__ import main
from e5ui.analysis import bitext
from e5ui.analysis import bitext_review as br
from tests.conftest import ASSETS, FakeEncoder, rand_rows

EX = ASSETS / "examples" / "bitext"


def margin_reference(s: np.ndarray, t: np.ndarray, k: int) -> np.ndarray:
    """The full (n, m) ratio-margin matrix, from its definition (Artetxe & Schwenk 2019)."""
    s = s / np.linalg.norm(s, axis=1, keepdims=True)
    t = t / np.linalg.norm(t, axis=1, keepdims=True)
    cos = s.astype(np.float64) @ t.T.astype(np.float64)
    x = np.sort(cos, axis=1)[:, ::-1][:, :k].mean(1)
    y = np.sort(cos, axis=0)[::-1][:k].mean(0)
    return cos / ((x[:, None] + y[None, :]) / 2)


def state(m: bitext.Matching):
    return [astuple(p) for p in m.pairs], list(m.unmatched_src), list(m.unmatched_tgt)


@pytest.fixture
def small():
    """Three sources, three targets: source i is nearest target i; target 3 is a spare."""
    t = np.eye(4, 6)[:4]
    s = t[:3] + 0.1 * rand_rows(3, 6, seed=1)
    return s, t


def test_accept_and_reject_return_new_matchings_and_leave_the_input(small):
    s, t = small
    m = bitext.match(s, t)
    before = state(m)
    assert [(p.src, p.tgt, p.status) for p in m.pairs] == [(0, 0, "auto"), (1, 1, "auto"),
                                                           (2, 2, "auto")]
    a = br.accept(m, 1, 3, 4)
    assert [p.status for p in a.pairs] == ["auto", "accepted", "auto"]
    r = br.reject(a, 0, 3, 4)
    assert [(p.src, p.tgt) for p in r.pairs] == [(1, 1), (2, 2)]
    assert r.unmatched_src == [0] and r.unmatched_tgt == [0, 3]
    assert state(m) == before


@pytest.mark.parametrize("method", ["margin", "cosine"])
def test_relink_scores_the_new_pair_as_numpy_does(small, method):
    s, t = small
    m = bitext.match(s, t, method=method, k=2)
    sc = br.scorer(s, t, method, k=2)
    out = br.relink(m, sc, 0, 3)  # source 0 to the spare target: its old target 0 is freed
    new = next(p for p in out.pairs if p.src == 0)
    cos = (s[0] / np.linalg.norm(s[0])) @ t[3]
    expected = margin_reference(s, t, 2)[0, 3] if method == "margin" else cos
    assert (new.tgt, new.status) == (3, "edited")
    assert new.score == pytest.approx(expected, abs=1e-5)
    assert new.cosine == pytest.approx(cos, abs=1e-6)
    assert out.unmatched_tgt == [0] and out.unmatched_src == []


def test_the_scorer_gives_the_matchers_scores():
    s, t = rand_rows(40, 8, seed=3), rand_rows(30, 8, seed=4)
    m = bitext.match(s, t, k=4)
    ref = margin_reference(s, t, 4)
    got = [p.score for p in m.pairs]
    np.testing.assert_allclose(got, [ref[p.src, p.tgt] for p in m.pairs], atol=1e-5)
    sc = br.scorer(s, t, "margin", 4)
    np.testing.assert_allclose([sc.score(p.src, p.tgt)[0] for p in m.pairs], got, atol=1e-5)


def test_a_taken_target_is_refused_unless_released(small):
    s, t = small
    m = bitext.match(s, t)
    sc = br.scorer(s, t)
    before = state(m)
    with pytest.raises(ValueError, match=r"target sentence 2 is already paired \(source 2 ↔ "
                       r"target 2\)"):
        br.relink(m, sc, 0, 2)
    assert state(m) == before
    out = br.relink(m, sc, 0, 2, release=True)
    assert [(p.src, p.tgt, p.status) for p in out.pairs] == [(0, 2, "edited"), (1, 1, "auto")]
    assert out.unmatched_src == [2] and out.unmatched_tgt == [0, 3]
    assert state(m) == before


@pytest.mark.parametrize("call, message", [
    (lambda m, sc: br.relink(m, sc, 3, 0), "source sentence 3 is out of range"),
    (lambda m, sc: br.relink(m, sc, 0, 4), "target sentence 4 is out of range"),
    (lambda m, sc: br.relink(m, sc, -1, 0), "source sentence -1 is out of range"),
    (lambda m, sc: br.relink(m, sc, "0", 0), "0-based index"),
    (lambda m, sc: br.accept(m, 3, 3, 4), "pair row 3 is out of range"),
    (lambda m, sc: br.reject(m, True, 3, 4), "0-based row"),
    (lambda m, sc: br.candidates(m, sc, 0, 0), "top must be"),
])
def test_invalid_edits_are_refused_with_one_message_and_nothing_changes(small, call, message):
    s, t = small
    m = bitext.match(s, t)
    before = state(m)
    with pytest.raises(ValueError, match=message):
        call(m, br.scorer(s, t))
    assert state(m) == before


def test_candidates_are_the_top_targets_by_score(small):
    s, t = rand_rows(12, 8, seed=5), rand_rows(9, 8, seed=6)
    m = bitext.match(s, t, k=3)
    sc = br.scorer(s, t, "margin", 3)
    ref = margin_reference(s, t, 3)[4]
    found = br.candidates(m, sc, 4, top=4)
    assert [c.tgt for c in found] == np.argsort(-ref, kind="stable")[:4].tolist()
    np.testing.assert_allclose([c.score for c in found], np.sort(ref)[::-1][:4], atol=1e-5)
    holder = {p.tgt: p.src for p in m.pairs}
    assert [c.paired_with for c in found] == [holder.get(c.tgt) for c in found]
    assert len(br.candidates(m, sc, 4, top=50)) == 9


@pytest.mark.parametrize("seed", range(6))
def test_random_edit_sequences_keep_one_to_one_or_change_nothing(seed):
    rng = random.Random(seed)
    n, mt = rng.randint(1, 9), rng.randint(1, 9)
    s, t = rand_rows(n, 6, seed=seed), rand_rows(mt, 6, seed=seed + 100)
    m = bitext.match(s, t)
    sc = br.scorer(s, t)
    refused = 0
    for _ in range(40):
        before = state(m)
        op = rng.choice(["accept", "reject", "relink", "release"])
        try:
            if op in ("accept", "reject"):
                k = rng.randint(-1, len(m.pairs))
                out = (br.accept if op == "accept" else br.reject)(m, k, n, mt)
            else:
                out = br.relink(m, sc, rng.randint(-1, n), rng.randint(-1, mt),
                                release=op == "release")
        except ValueError:
            refused += 1
            assert state(m) == before
            continue
        # Independent check: each side used at most once, the unmatched lists are the rest.
        srcs, tgts = [p.src for p in out.pairs], [p.tgt for p in out.pairs]
        assert len(set(srcs)) == len(srcs) and len(set(tgts)) == len(tgts)
        assert srcs == sorted(srcs)
        assert sorted(out.unmatched_src + srcs) == list(range(n))
        assert sorted(out.unmatched_tgt + tgts) == list(range(mt))
        for p in out.pairs:
            if p.status == "edited" and not math.isnan(p.score):
                assert p.score == pytest.approx(margin_reference(s, t, 4)[p.src, p.tgt],
                                                abs=1e-4)
        m = out
    assert refused  # the refusals were reached


def test_without_one_to_one_a_target_may_be_shared(small):
    s, t = small
    m = bitext.match(s, t, one_to_one=False)
    out = br.relink(m, br.scorer(s, t), 0, 2)
    assert sorted((p.src, p.tgt) for p in out.pairs) == [(0, 2), (1, 1), (2, 2)]
    assert out.unmatched_tgt == [0, 3]


# -- the view, its files, the CLI ---------------------------------------------------------------
@pytest.fixture
def lists():
    return (textio.read_texts(str(EX / "source.txt")), textio.read_texts(str(EX / "target.txt")))


@pytest.fixture
def result(lists):
    return views.bitext_view(FakeEncoder(), *lists)


def rows_of(path):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t" if str(path).endswith(".tsv") else ","))


def test_the_table_ends_with_status_and_edits_show_in_it(result):
    header = registry.get("bitext").header("pairs")
    assert list(header[:6]) == ["src_index", "tgt_index", "score", "cosine", "source", "target"]
    assert header[-1] == "status"
    assert {r[-1] for r in result.table.rows} == {"auto"}
    edited = result.reject(0).relink(0, result.target.rows[result.matching.pairs[1].tgt],
                                     release=True).accept(2)
    statuses = {r[0]: r[-1] for r in edited.table.rows}
    assert statuses[0] == "edited" and "accepted" in statuses.values()
    assert "reviewed: 1 accepted, 1 edited" in edited.summary
    assert {r[-1] for r in result.table.rows} == {"auto"}  # the original is unchanged


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_a_saved_review_resumes_to_the_same_state(result, lists, tmp_path, suffix):
    edited = result.reject(3).accept(0).relink(5, result.target.rows[0], release=True)
    saved = edited.write(tmp_path / f"review{suffix}")
    fresh = views.bitext_view(FakeEncoder(), *lists)
    resumed = views.resume_bitext_review(fresh, saved)
    got = [astuple(p)[:2] + (p.status,) for p in resumed.matching.pairs]
    assert got == [astuple(p)[:2] + (p.status,) for p in edited.matching.pairs]
    np.testing.assert_allclose([p.score for p in resumed.matching.pairs],
                               [p.score for p in edited.matching.pairs], atol=1e-6)
    assert resumed.matching.unmatched_src == edited.matching.unmatched_src


@pytest.mark.parametrize("change, message", [
    (lambda r: r.__setitem__(4, "A changed sentence."), "line 3: the source text"),
    (lambda r: r.__setitem__(1, "999"), "line 3: target line 999 holds no sentence"),
    (lambda r: r.__setitem__(6, "approved"), "line 3: unknown status 'approved'"),
    (lambda r: r.__setitem__(0, "x"), "line 3: src_index 'x' is not a whole number"),
])
def test_a_review_that_does_not_fit_is_refused_by_its_line(result, tmp_path, change, message):
    path = result.write(tmp_path / "review.tsv")
    lines = path.read_text(encoding="utf-8").splitlines()
    cells = lines[2].split("\t")
    change(cells)
    lines[2] = "\t".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = state(result.matching)
    with pytest.raises(ValueError, match=message):
        views.resume_bitext_review(result, path)
    assert state(result.matching) == before


def test_a_target_in_two_rows_is_refused_by_its_line(result, tmp_path):
    path = result.write(tmp_path / "review.tsv")
    lines = path.read_text(encoding="utf-8").splitlines()
    second = lines[2].split("\t")
    second[1], second[5] = lines[1].split("\t")[1], lines[1].split("\t")[5]
    lines[2] = "\t".join(second)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"review.tsv line 3: target line \d+ is in two pairs "
                       r"\(line 2 holds it too\)"):
        textio.read_bitext_review(path, result.source, result.target)


def test_tmx_can_hold_only_the_approved_pairs(result, tmp_path):
    reviewed = result.accept(2).relink(0, result.target.rows[0], release=True)
    every = ET.parse(reviewed.write(tmp_path / "all.tmx")).getroot().findall("body/tu")
    approved = ET.parse(reviewed.write(tmp_path / "ok.tmx", approved_only=True)
                        ).getroot().findall("body/tu")
    assert len(every) == len(reviewed.matching.pairs)
    statuses = [tu.find("prop[@type='x-status']").text for tu in approved]
    assert sorted(statuses) == ["accepted", "edited"]


def test_cli_re_exports_a_review_with_only_the_approved_pairs(result, tmp_path, monkeypatch,
                                                              capsys):
    import e5ui.__main__ as cli

    monkeypatch.setattr(cli, "_encoder", lambda args: FakeEncoder())
    reviewed = result.accept(1).reject(0)
    saved = reviewed.write(tmp_path / "review.tsv")
    tmx, tsv = tmp_path / "ok.tmx", tmp_path / "again.tsv"
    assert main(["bitext", str(EX / "source.txt"), str(EX / "target.txt"), "--review",
                 str(saved), "--approved-only", "--out", str(tmx), "--out", str(tsv),
                 "-q"]) == 0
    units = ET.parse(tmx).getroot().findall("body/tu")
    assert len(units) == 1
    assert [(r["src_index"], r["tgt_index"], r["status"]) for r in rows_of(tsv)] == [
        (r["src_index"], r["tgt_index"], r["status"]) for r in rows_of(saved)]
    assert "reviewed: 1 accepted" in capsys.readouterr().out
    # A review of other lists is refused, by its line, before the model loads.
    monkeypatch.setattr(cli, "_encoder", lambda args: pytest.fail("the model was loaded"))
    other = tmp_path / "other.txt"
    other.write_text("Something else entirely.\nAnd more.\n", encoding="utf-8")
    assert main(["bitext", str(other), str(EX / "target.txt"), "--review", str(saved),
                 "--out", str(tmp_path / "x.tmx"), "-q"]) == 2
    assert "review.tsv line 2" in capsys.readouterr().err
