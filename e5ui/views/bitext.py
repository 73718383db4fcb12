"""The bitext view: source sentences paired with their translations, in any order."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from e5ui import langid, registry, textio
from e5ui.analysis import bitext, bitext_review
from e5ui.views.common import Table, ViewProgress, check_suffix, embed, notes_for, stage

# The pairs table (.tsv / .csv, DESIGN.md): 0-based line numbers into the inputs, then scores.
PAIR_HEADER = registry.get("bitext").header("pairs")
# The candidates to re-link a source sentence with (``BitextResult.candidates``).
CANDIDATE_HEADER = ("tgt_index", "score", "cosine", "paired_with", "target")


@dataclass(eq=False)
class BitextResult:
    """Source sentences paired with their translations among the target sentences.

    Attributes:
        source, target: the inputs.
        matching: the pairs and the sentences left unmatched (indices into the inputs).
        src_langs, tgt_langs: a language code per sentence (given or detected).
        evaluation: scores against a gold file, when one was given.
        notes: remarks for the user.
        scorer: scores any pair as the matcher did (for re-linking; None: no edits).
        gold: the gold pairs as indices into the sentences (so that an edit updates the
            evaluation).
    """

    source: textio.Corpus
    target: textio.Corpus
    matching: bitext.Matching
    src_langs: list[str]
    tgt_langs: list[str]
    evaluation: bitext.Evaluation | None
    notes: list[str]
    scorer: bitext_review.PairScorer | None = None
    gold: list[tuple[int, int]] | None = None

    @property
    def table(self) -> Table:
        """One row per pair: 0-based line numbers into the input files, score, cosine, both
        sentences, the review status (auto, accepted, edited). This table is also the review
        file (``resume_bitext_review`` reads it back)."""
        s, t = self.source, self.target
        return Table(list(PAIR_HEADER), [
            [s.rows[p.src], t.rows[p.tgt], None if math.isnan(p.score) else p.score,
             None if math.isnan(p.cosine) else p.cosine, s.texts[p.src], t.texts[p.tgt],
             p.status]
            for p in self.matching.pairs])

    # -- review edits: each returns a new result (this one is unchanged); ValueError, naming
    # the pair and the indices, for an edit that would not leave a valid matching. Sentences
    # are given by the 0-based line numbers the table shows; pairs by their table row.
    def reviewed(self, matching: bitext.Matching) -> BitextResult:
        """This result with another matching of the same lists (checked; the evaluation redone
        against the gold pairs)."""
        bitext_review.check(matching, len(self.source), len(self.target))
        evaluation = bitext.evaluate(matching, self.gold) if self.gold is not None else None
        return replace(self, matching=matching, evaluation=evaluation)

    def _index(self, line, side: str) -> int:
        corpus = self.source if side == "source" else self.target
        if isinstance(line, bool) or not isinstance(line, (int, np.integer)):
            raise ValueError(f"a {side} sentence is given by its 0-based line number, got "
                             f"{line!r}"[:200])
        if line not in corpus.rows:
            last = f", lines 0 to {corpus.rows[-1]}" if corpus.rows else ""
            raise ValueError(f"{side} line {line} holds no sentence ({len(corpus)} "
                             f"sentence(s){last})")
        return corpus.rows.index(int(line))

    def _scorer(self) -> bitext_review.PairScorer:
        if self.scorer is None:
            raise ValueError("this result keeps no vectors to score a new pair with; match "
                             "the lists again")
        return self.scorer

    def accept(self, row: int) -> BitextResult:
        """Pair ``row`` (0-based table row) confirmed: status ``accepted``."""
        return self.reviewed(bitext_review.accept(self.matching, row, len(self.source),
                                                  len(self.target)))

    def reject(self, row: int) -> BitextResult:
        """Pair ``row`` removed: both its sentences unmatched."""
        return self.reviewed(bitext_review.reject(self.matching, row, len(self.source),
                                                  len(self.target)))

    def relink(self, src: int, tgt: int, *, release: bool = False) -> BitextResult:
        """Source line ``src`` paired with target line ``tgt`` (status ``edited``, scored as
        the matcher scores); see ``bitext_review.relink`` (``release``: take the target from
        the pair that holds it)."""
        return self.reviewed(bitext_review.relink(
            self.matching, self._scorer(), self._index(src, "source"),
            self._index(tgt, "target"), release=release))

    def candidates(self, src: int, top: int = 5) -> Table:
        """The targets scoring highest with source line ``src``: target line, score, cosine,
        the source line that holds it now (empty: unmatched), its text."""
        t, s = self.target, self.source
        found = bitext_review.candidates(self.matching, self._scorer(),
                                         self._index(src, "source"), top)
        return Table(list(CANDIDATE_HEADER), [
            [t.rows[c.tgt], None if math.isnan(c.score) else c.score, c.cosine,
             None if c.paired_with is None else s.rows[c.paired_with], t.texts[c.tgt]]
            for c in found])

    def row_of(self, src: int) -> int | None:
        """The table row of the pair holding source line ``src`` (None: unmatched)."""
        i = self._index(src, "source")
        return next((k for k, p in enumerate(self.matching.pairs) if p.src == i), None)

    @property
    def status_counts(self) -> dict[str, int]:
        """Pairs per review status."""
        return {st: sum(p.status == st for p in self.matching.pairs) for st in bitext.STATUSES}

    @property
    def unmatched(self) -> Table:
        """Sentences in no pair: side, 0-based line number, text."""
        m, s, t = self.matching, self.source, self.target
        return Table(registry.get("bitext").header("unmatched"),
                     [["source", s.rows[i], s.texts[i]] for i in m.unmatched_src]
                     + [["target", t.rows[j], t.texts[j]] for j in m.unmatched_tgt])

    @property
    def summary(self) -> str:
        m = self.matching
        mode = "one-to-one" if m.one_to_one else "each source its best target"
        threshold = "" if m.threshold is None else f" · threshold {m.threshold:g}"
        status = self.status_counts
        reviewed = (f" · reviewed: {status['accepted']} accepted, {status['edited']} edited, "
                    f"{status['auto']} not yet" if status["accepted"] or status["edited"]
                    else "")
        return (f"{len(m.pairs)} pairs from {len(self.source)} source and {len(self.target)} "
                f"target sentences · {m.method} · {mode}{threshold} · unmatched: "
                f"{len(m.unmatched_src)} source, {len(m.unmatched_tgt)} target{reviewed}")

    @property
    def metrics(self) -> str:
        """The gold evaluation in one line ("" without gold)."""
        ev = self.evaluation
        if ev is None:
            return ""
        return (f"Against {ev.n_gold} gold pairs: P@1 {ev.p_at_1:.3f} · precision "
                f"{ev.precision:.3f} · recall {ev.recall:.3f} · F1 {ev.f1:.3f}")

    def _units(self, approved_only: bool = False) -> list[textio.TranslationUnit]:
        """A TMX unit per pair: score, cosine, both 0-based line numbers and the status as
        properties (``approved_only``: the pairs a person accepted or edited)."""
        s, t = self.source, self.target
        return [textio.TranslationUnit(
            (("x-score", "" if math.isnan(p.score) else f"{p.score:.6f}"),
             ("x-cosine", f"{p.cosine:.6f}"),
             ("x-source-line", str(s.rows[p.src])), ("x-target-line", str(t.rows[p.tgt])),
             ("x-status", p.status)),
            ((self.src_langs[p.src], s.texts[p.src]), (self.tgt_langs[p.tgt], t.texts[p.tgt])))
            for p in self.matching.pairs if not (approved_only and p.status == "auto")]

    def write(self, path: str | Path, approved_only: bool = False) -> Path:
        """Writes the pairs as .tsv, .csv (``PAIR_HEADER``; also the review file) or .tmx (TMX
        1.4, a language per segment, the source's most common one in the header; with
        ``approved_only``, only the pairs a person accepted or edited)."""
        if check_suffix(path, (".tsv", ".csv", ".tmx"), "bitext") == ".tmx":
            return textio.write_tmx_units(path, self._units(approved_only),
                                          textio.majority(self.src_langs))
        return self.table.write(path)

    def export(self, folder: Path) -> list[str]:
        """Writes the app's downloads into ``folder``; returns their paths."""
        return [str(self.write(folder / f"pairs.{ext}")) for ext in ("tsv", "csv", "tmx")]


def _gold_indices(gold: list[tuple[int, int]], source: textio.Corpus, target: textio.Corpus
                  ) -> list[tuple[int, int]]:
    """Gold pairs of 0-based line numbers as indices into the read sentences."""
    src_of = {r: i for i, r in enumerate(source.rows)}
    tgt_of = {r: i for i, r in enumerate(target.rows)}
    bad = [(a, b) for a, b in gold if a not in src_of or b not in tgt_of]
    if bad:
        raise ValueError(f"Gold pair {bad[0]} points at a line without a sentence (gold uses "
                         "0-based line numbers)")
    return [(src_of[a], tgt_of[b]) for a, b in gold]


def _langs(corpus: textio.Corpus, given: str | None) -> list[str]:
    code = langid.normalise_code(given or "")
    return [code] * len(corpus) if code else langid.detect(corpus.texts, corpus.langs)


def bitext_view(encoder, source: textio.Corpus, target: textio.Corpus, method: str = "margin",
                one_to_one: bool = True, threshold: float | None = None,
                gold: list[tuple[int, int]] | None = None, k: int = 4,
                src_lang: str | None = None, tgt_lang: str | None = None,
                progress: ViewProgress | None = None) -> BitextResult:
    """Matches source to target sentences (in any order).

    Args:
        encoder: the encoder.
        source, target: the two sentence lists.
        method: "margin" or "cosine".
        one_to_one: each target used at most once (optimal matching).
        threshold: leave pairs scoring below this unmatched.
        gold: true pairs as 0-based line numbers (``textio.read_gold``).
        k: margin neighbourhood size.
        src_lang, tgt_lang: language codes of the sides (for TMX); None detects per sentence.
        progress: progress callback.

    Returns:
        The result.
    """
    gold_idx = _gold_indices(gold, source, target) if gold is not None else None
    s = embed(encoder, source, "symmetric", progress, 0.0, 0.45, "source")
    t = embed(encoder, target, "symmetric", progress, 0.45, 0.9, "target")
    stage(progress, 0.92, "Matching")
    matching = bitext.match(s.embeddings, t.embeddings, method=method, k=k,
                            one_to_one=one_to_one, threshold=threshold)
    notes = notes_for(source, s, encoder.max_length, "Source") + notes_for(
        target, t, encoder.max_length, "Target")
    evaluation = bitext.evaluate(matching, gold_idx) if gold_idx is not None else None
    scorer = bitext_review.scorer(s.embeddings, t.embeddings, method, k)
    return BitextResult(source, target, matching, _langs(source, src_lang),
                        _langs(target, tgt_lang), evaluation, notes, scorer, gold_idx)


def resume_bitext_review(result: BitextResult,
                         path: str | Path | list[bitext.Pair]) -> BitextResult:
    """The pairs of a saved review (the table ``BitextResult.write`` wrote, edited or not) in
    place of ``result``'s, for the same two lists.

    Args:
        result: The lists matched (``bitext_view``): their vectors and gold.
        path: The review .tsv/.csv; refused (ValueError naming its line, nothing changed) when
            it does not fit the lists: a line number without a sentence, a changed text, a
            sentence in two pairs. Or the pairs ``textio.read_bitext_review`` read from it.

    Returns:
        The result with the review's pairs and statuses, scores recomputed from the vectors.
    """
    m = result.matching
    pairs = (path if isinstance(path, list) else textio.read_bitext_review(
        path, result.source, result.target, one_to_one=m.one_to_one))
    scorer = result._scorer()
    scored = [replace(p, **dict(zip(("score", "cosine"), scorer.score(p.src, p.tgt))))
              for p in pairs]
    return result.reviewed(bitext_review.with_pairs(m, scored, len(result.source),
                                                    len(result.target)))
