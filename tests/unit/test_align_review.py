"""The review of an alignment in the align view: the doubt_rank and status columns, edits, a
review saved and resumed (and refused, by its line, when it does not fit the documents), TMX of
the approved links, and the CLI's --review / --approved-only."""

from __future__ import annotations

import csv
import math
import xml.etree.ElementTree as ET

import pytest

from e5ui import segment, textio, views
from e5ui.__main__ import main
from e5ui.analysis import review
from tests.conftest import ASSETS, FakeEncoder

EX = ASSETS / "examples" / "align"


@pytest.fixture
def docs():
    return segment.read_document(EX / "source.txt"), segment.read_document(EX / "target.txt")


@pytest.fixture
def result(docs):
    return views.align_view(FakeEncoder(), *docs)


def rows_of(path, delimiter="\t"):
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def first_pair(result, after=-1):
    return next(i for i, x in enumerate(result.alignment.links) if not x.is_omission
                and i > after)


def state(result):
    return [(x.src, x.tgt, x.status) for x in result.alignment.links]


def test_doubt_rank_column_follows_the_documented_order(result, tmp_path):
    rows = rows_of(result.write(tmp_path / "a.tsv"))
    assert list(rows[0]) == ["src_indices", "tgt_indices", "score", "type", "source", "target",
                             "status", "doubt_rank"]

    # Reference: lowest value first, an omission valued DEFAULT_OMISSION_DOUBT, a merge's
    # score lowered by DEFAULT_MERGE_DOUBT per sentence beyond 1-1; ties in file order.
    def value(row):
        a, b = (int(x) for x in row["type"].split("-"))
        if not a or not b:
            return review.DEFAULT_OMISSION_DOUBT
        return float(row["score"]) - review.DEFAULT_MERGE_DOUBT * (a + b - 2)

    order = sorted(range(len(rows)), key=lambda k: (value(rows[k]), k))
    assert [int(rows[k]["doubt_rank"]) for k in order] == list(range(1, len(rows) + 1))
    assert {r["status"] for r in rows} == {"auto"}
    # The file keeps document order.
    starts = [int(r["src_indices"].split(",")[0]) for r in rows if r["src_indices"]]
    assert starts == sorted(starts)


def test_edits_show_in_every_export_and_leave_the_result_as_it_was(result, tmp_path):
    before = state(result)
    k = next(i for i, x in enumerate(result.alignment.links) if len(x.src) == len(x.tgt) == 1)
    link = result.alignment.links[k]
    broken = result.break_link(k)
    assert state(result) == before
    relinked = broken.relink(link.src, link.tgt).accept(0 if k else 1)
    edited = [x for x in relinked.alignment.links if (x.src, x.tgt) == (link.src, link.tgt)]
    assert edited[0].status == "edited"
    assert edited[0].score == pytest.approx(link.score, abs=1e-6)  # rescored, same pair
    rows = rows_of(relinked.write(tmp_path / "r.tsv"))
    assert [r["status"] for r in rows].count("edited") == 1
    assert [r["status"] for r in rows].count("accepted") == 1
    units = ET.parse(relinked.write(tmp_path / "all.tmx")).getroot().findall("body/tu")
    approved = ET.parse(relinked.write(tmp_path / "ok.tmx", approved_only=True)
                        ).getroot().findall("body/tu")
    assert len(units) == len(relinked.alignment.pairs)
    wanted = [x for x in relinked.alignment.pairs if x.status in ("accepted", "edited")]
    assert len(approved) == len(wanted)
    for tu, x in zip(approved, wanted, strict=True):
        props = {p.get("type"): p.text for p in tu.findall("prop")}
        assert props["x-status"] == x.status
        assert props["x-source-sentences"] == ",".join(map(str, x.src))
    with pytest.raises(ValueError, match="out of range"):
        relinked.relink([0], [999])
    with pytest.raises(ValueError, match="already linked"):
        relinked.relink([0], [relinked.alignment.links[-1].tgt[-1]])


@pytest.mark.parametrize("suffix", [".tsv", ".csv"])
def test_a_saved_review_resumes_to_the_same_state(result, docs, tmp_path, suffix):
    edited = result.break_link(first_pair(result, 0)).accept(0)
    assert {x.status for x in edited.alignment.links} == {"auto", "accepted", "edited"}
    saved = edited.write(tmp_path / f"review{suffix}")
    fresh = views.align_view(FakeEncoder(), *docs)
    resumed = views.resume_review(fresh, saved)
    assert state(resumed) == state(edited)
    for a, b in zip(resumed.alignment.links, edited.alignment.links, strict=True):
        assert (math.isnan(a.score) and math.isnan(b.score)) or a.score == pytest.approx(
            b.score, abs=1e-6)
    assert state(fresh) == state(result)  # the fresh alignment is not changed
    for r, s in zip(resumed.table.rows, edited.table.rows, strict=True):
        assert r[:2] + r[3:] == s[:2] + s[3:]  # doubt_rank included


def lines_of(path):
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.mark.parametrize("change, message", [
    (lambda ls: ls[:3] + [ls[3].replace("\t", "\tX", 1)] + ls[4:], "line 4"),
    (lambda ls: ls[:5] + ls[6:], "in no row"),
    (lambda ls: ls[:2] + [ls[2].replace(ls[2].split("\t")[4], "A changed text.")] + ls[3:],
     r"line 3: the source text 'A changed text\.' is not the document's"),
    (lambda ls: ls[:2] + [ls[1]] + ls[2:], "line 3: source sentence 0 is used twice"),
    (lambda ls: ls[:2] + [ls[2].replace("\tauto\t", "\tmaybe\t")] + ls[3:],
     "line 3: unknown status 'maybe'"),
])
def test_a_review_that_does_not_fit_is_refused_by_its_line(result, docs, tmp_path, change,
                                                           message):
    path = result.write(tmp_path / "review.tsv")
    path.write_text("".join(change(lines_of(path))), encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        textio.read_review(path, docs[0].sentences, docs[1].sentences)
    with pytest.raises(ValueError, match=message):
        views.resume_review(result, path)


def test_a_review_index_out_of_range_names_its_line(result, docs, tmp_path):
    path = result.write(tmp_path / "review.tsv")
    n = len(docs[0].sentences)
    ls = lines_of(path)
    cells = ls[1].split("\t")
    cells[0] = str(n + 3)
    ls[1] = "\t".join(cells)
    path.write_text("".join(ls), encoding="utf-8")
    with pytest.raises(ValueError, match=f"line 2: source sentence {n + 3} is out of range"):
        textio.read_review(path, docs[0].sentences, docs[1].sentences)
    # Another document (one sentence fewer) does not fit the review either.
    with pytest.raises(ValueError, match="out of range|not the document's"):
        textio.read_review(result.write(tmp_path / "ok.tsv"), docs[0].sentences[:-1],
                           docs[1].sentences)


def test_cli_re_exports_a_review_with_only_the_approved_links(result, tmp_path, monkeypatch,
                                                              capsys):
    import e5ui.__main__ as cli

    monkeypatch.setattr(cli, "_encoder", lambda args: FakeEncoder())
    reviewed = result.accept(first_pair(result)).break_link(first_pair(result, first_pair(result)))
    saved = reviewed.write(tmp_path / "review.tsv")
    tmx, tsv = tmp_path / "ok.tmx", tmp_path / "again.tsv"
    assert main(["align", str(EX / "source.txt"), str(EX / "target.txt"), "--review",
                 str(saved), "--approved-only", "--out", str(tmx), "--out", str(tsv),
                 "-q"]) == 0
    units = ET.parse(tmx).getroot().findall("body/tu")
    assert len(units) == sum(x.status != "auto" for x in reviewed.alignment.pairs) == 1
    assert [(r["src_indices"], r["tgt_indices"], r["status"]) for r in rows_of(tsv)] == [
        (r["src_indices"], r["tgt_indices"], r["status"]) for r in rows_of(saved)]
    assert "reviewed: 1 accepted" in capsys.readouterr().out
    # A review of other documents is refused, by its line, before the model loads.
    monkeypatch.setattr(cli, "_encoder", lambda args: pytest.fail("the model was loaded"))
    other = tmp_path / "other.txt"
    other.write_text("Something else entirely.\nAnd more.\n", encoding="utf-8")
    assert main(["align", str(other), str(EX / "target.txt"), "--review", str(saved),
                 "--out", str(tmp_path / "x.tmx"), "-q"]) == 2
    assert "review.tsv line 2" in capsys.readouterr().err


def test_a_merge_made_in_review_is_scored_with_the_encoders_vectors(result, docs):
    from e5ui.analysis.alignment import join_texts

    k = first_pair(result)
    assert math.isnan(result.merge_next(k).alignment.links[k].score)  # no encoder: no score
    merged = result.merge_next(k, FakeEncoder())
    link = merged.alignment.links[k]
    assert link.status == "edited" and len(link.src) + len(link.tgt) > 2
    enc = FakeEncoder()
    u = enc.encode([join_texts([docs[0].sentences[i] for i in link.src])], kind="symmetric")[0]
    v = enc.encode([join_texts([docs[1].sentences[j] for j in link.tgt])], kind="symmetric")[0]
    cos = float(u @ v) / float((u @ u) ** 0.5 * (v @ v) ** 0.5)
    assert link.cosine == pytest.approx(cos, abs=1e-5)
    assert math.isfinite(link.score)
    split = merged.split_link(k, len(result.alignment.links[k].src),
                              len(result.alignment.links[k].tgt))
    assert [(x.src, x.tgt) for x in split.alignment.links] == [
        (x.src, x.tgt) for x in result.alignment.links]


def test_candidates_of_the_view_are_the_nearest_targets(result):
    import numpy as np

    a = result.alignment
    cos = a.tgt_vectors.astype(np.float64) @ a.src_vectors[2].astype(np.float64)
    want = sorted(range(len(cos)), key=lambda j: (-cos[j], j))[:4]
    assert [c.tgt for c in result.candidates(2, top=4)] == [(j,) for j in want]
    with_runs = result.candidates(2, top=4, encoder=FakeEncoder())
    assert len(with_runs) == 4 and with_runs[0].cosine >= with_runs[-1].cosine
