"""The bitext view: source sentences paired with their translations, in any order."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from e5ui import langid, registry, textio
from e5ui.analysis import bitext
from e5ui.views.common import Table, ViewProgress, check_suffix, embed, notes_for, stage

# The pairs table (.tsv / .csv, DESIGN.md): 0-based line numbers into the inputs, then scores.
PAIR_HEADER = registry.get("bitext").header("pairs")


@dataclass(eq=False)
class BitextResult:
    """Source sentences paired with their translations among the target sentences.

    Attributes:
        source, target: the inputs.
        matching: the pairs and the sentences left unmatched (indices into the inputs).
        src_langs, tgt_langs: a language code per sentence (given or detected).
        evaluation: scores against a gold file, when one was given.
        notes: remarks for the user.
    """

    source: textio.Corpus
    target: textio.Corpus
    matching: bitext.Matching
    src_langs: list[str]
    tgt_langs: list[str]
    evaluation: bitext.Evaluation | None
    notes: list[str]

    @property
    def table(self) -> Table:
        """One row per pair: 0-based line numbers into the input files, score, cosine, both
        sentences."""
        s, t = self.source, self.target
        return Table(list(PAIR_HEADER), [
            [s.rows[p.src], t.rows[p.tgt], p.score, p.cosine, s.texts[p.src], t.texts[p.tgt]]
            for p in self.matching.pairs])

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
        return (f"{len(m.pairs)} pairs from {len(self.source)} source and {len(self.target)} "
                f"target sentences · {m.method} · {mode}{threshold} · unmatched: "
                f"{len(m.unmatched_src)} source, {len(m.unmatched_tgt)} target")

    @property
    def metrics(self) -> str:
        """The gold evaluation in one line ("" without gold)."""
        ev = self.evaluation
        if ev is None:
            return ""
        return (f"Against {ev.n_gold} gold pairs: P@1 {ev.p_at_1:.3f} · precision "
                f"{ev.precision:.3f} · recall {ev.recall:.3f} · F1 {ev.f1:.3f}")

    def _units(self) -> list[textio.TranslationUnit]:
        """A TMX unit per pair: score, cosine and both 0-based line numbers as properties."""
        s, t = self.source, self.target
        return [textio.TranslationUnit(
            (("x-score", f"{p.score:.6f}"), ("x-cosine", f"{p.cosine:.6f}"),
             ("x-source-line", str(s.rows[p.src])), ("x-target-line", str(t.rows[p.tgt]))),
            ((self.src_langs[p.src], s.texts[p.src]), (self.tgt_langs[p.tgt], t.texts[p.tgt])))
            for p in self.matching.pairs]

    def write(self, path: str | Path) -> Path:
        """Writes the pairs as .tsv, .csv (``PAIR_HEADER``) or .tmx (TMX 1.4, a language per
        segment, the source's most common one in the header)."""
        if check_suffix(path, (".tsv", ".csv", ".tmx"), "bitext") == ".tmx":
            return textio.write_tmx_units(path, self._units(), textio.majority(self.src_langs))
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
    return BitextResult(source, target, matching, _langs(source, src_lang),
                        _langs(target, tgt_lang), evaluation, notes)
