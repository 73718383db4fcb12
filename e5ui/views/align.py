"""The align view: a document and its translation, aligned in order with merges, splits and
omissions, the path drawn over the cross-lingual similarity matrix."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from e5ui import plots, registry, textio
from e5ui.analysis import alignment, review
from e5ui.analysis.calibration import Baseline
from e5ui.segment import Document
from e5ui.views.common import Table, ViewProgress, check_suffix, stage

VIEW = registry.get("align")
ALIGN_HEADER = VIEW.header("links")
GRID_SIDE = 300  # sentences per side shown one per cell; above, blocks of them


@dataclass(eq=False)
class AlignResult:
    """An ordered alignment of two documents.

    Attributes:
        source, target: the two documents, as sentences.
        alignment: the links (0-based sentence indices, scores, types, low-confidence flags).
        grid: the source x target similarity shown under the path (blocks above
            ``GRID_SIDE`` sentences a side).
        evaluation: strict and lax precision/recall/F1 against a gold file, when given.
        notes: remarks for the user.
        gold: the gold links the evaluation used (kept so that an edit updates it).
        baseline: the model's unrelated-pair baseline, for the calibrated meaning of a link's
            cosine (None: not shown).
    """

    source: Document
    target: Document
    alignment: alignment.Alignment
    grid: alignment.SimilarityGrid
    evaluation: alignment.LinkEvaluation | None
    notes: list[str]
    gold: list[tuple[tuple[int, ...], tuple[int, ...]]] | None = None
    # The model's unrelated-pair baseline (the app sets it): the review's hover says where a
    # link's cosine falls among unrelated pairs. Kept through edits and a resumed review.
    baseline: Baseline | None = None

    def restyled(self, threshold: float | None) -> AlignResult:
        """The same alignment flagged against another threshold (no new search)."""
        return replace(self, alignment=self.alignment.with_threshold(threshold))

    @property
    def table(self) -> Table:
        """One row per link, in document order: 0-based sentence indices (comma-joined for a
        merge, empty for the side an omission lacks), score, type ("2-1": two source
        sentences, one target), the sentences (a merge's joined into one), the review status
        (auto, accepted, edited) and the link's place in the doubtful-first order
        (``doubt_rank``, 1 = most doubtful). This table is also the review file
        (``resume_review`` reads it back)."""
        rows = []
        ranks = self.doubt_ranks
        for link, rank in zip(self.alignment.links, ranks.tolist(), strict=True):
            rows.append([
                alignment.format_group(link.src) or None, alignment.format_group(link.tgt) or None,
                None if math.isnan(link.score) else float(link.score), link.type,
                self._text(self.source, link.src), self._text(self.target, link.tgt),
                link.status, rank])
        return Table(list(ALIGN_HEADER), rows)

    @cached_property
    def doubt_ranks(self):
        """Int64 (links,): each link's place in the doubtful-first order, 1 = most doubtful
        (``review.doubt_ranks``)."""
        return review.doubt_ranks(self.alignment.links)

    @property
    def doubt_order(self) -> list[int]:
        """Link positions, most doubtful first: the review's reading order (the inverse of
        ``doubt_ranks``, made once per result)."""
        return np.argsort(self.doubt_ranks).tolist()

    # -- review edits: each returns a new result (this one is unchanged); ValueError, naming
    # the link and the indices, for an edit that would not leave a valid alignment.
    def reviewed(self, links: alignment.Alignment) -> AlignResult:
        """This result with another alignment of the same documents (the evaluation redone
        against the gold links; figure, table and exports follow)."""
        review.check(links)
        evaluation = alignment.evaluate(links, self.gold) if self.gold is not None else None
        return replace(self, alignment=links, evaluation=evaluation)

    def _vectors(self, encoder) -> review.GroupVector | None:
        """The vector of joined sentences, from the encoder that aligned them (its cache holds
        every join of up to max_merge sentences); None without an encoder."""
        if encoder is None:
            return None
        docs = {"src": self.source.sentences, "tgt": self.target.sentences}

        def vector(side: str, group: tuple[int, ...]):
            text = alignment.join_texts([docs[side][i] for i in group])
            return encoder.encode([text], kind="symmetric")[0]

        return vector

    def accept(self, k: int) -> AlignResult:
        """Link ``k`` (0-based position) confirmed: status ``accepted``."""
        return self.reviewed(review.accept(self.alignment, k))

    def break_link(self, k: int) -> AlignResult:
        """Link ``k``'s sentences left without a partner (status ``edited``)."""
        return self.reviewed(review.break_link(self.alignment, k))

    def relink(self, src, tgt, encoder=None, *, release: bool = False) -> AlignResult:
        """Source sentences ``src`` linked with target sentences ``tgt`` (0-based,
        consecutive); see ``review.relink``. ``encoder``: the one that aligned the documents,
        to score a link of several sentences a side (None: its score is left empty)."""
        return self.reviewed(review.relink(self.alignment, src, tgt, self._vectors(encoder),
                                           release=release))

    def merge_next(self, k: int, encoder=None) -> AlignResult:
        """Link ``k`` joined with the next one (``encoder``: as for ``relink``)."""
        return self.reviewed(review.merge_next(self.alignment, k, self._vectors(encoder)))

    def split_link(self, k: int, src_at: int | None = None, tgt_at: int | None = None,
                   encoder=None) -> AlignResult:
        """A merged link split in two (see ``review.split_link``; ``encoder``: as for
        ``relink``)."""
        return self.reviewed(review.split_link(self.alignment, k, src_at, tgt_at,
                                               self._vectors(encoder)))

    def candidates(self, src: int, top: int = 5, encoder=None) -> list[review.Candidate]:
        """The target sentences nearest source sentence ``src``, to re-link it with; with the
        ``encoder``, runs of up to max_merge target sentences too (a split translation)."""
        return review.candidates(self.alignment, src, top, self._vectors(encoder),
                                 self.alignment.max_merge if encoder is not None else 1)

    @staticmethod
    def _text(doc: Document, group: tuple[int, ...]) -> str | None:
        return alignment.join_texts([doc.sentences[i] for i in group]) if group else None

    @property
    def low_confidence(self) -> list[int]:
        """Positions (in ``alignment.links``) of the links below the threshold."""
        return [k for k, link in enumerate(self.alignment.links) if link.low_confidence]

    @property
    def summary(self) -> str:
        a = self.alignment
        counts = " · ".join(f"{t} ×{n}" for t, n in sorted(a.type_counts().items(),
                                                          key=lambda kv: -kv[1]))
        threshold = "" if a.threshold is None else (
            f" · {len(self.low_confidence)} below the threshold {a.threshold:g}")
        status = {s: sum(x.status == s for x in a.links) for s in alignment.STATUSES}
        if status["accepted"] or status["edited"]:
            threshold += (f" · reviewed: {status['accepted']} accepted, {status['edited']} "
                          f"edited, {status['auto']} not yet")
        return (f"{a.n_src} source and {a.n_tgt} target sentences ({self.source.lang} → "
                f"{self.target.lang}) · {len(a.links)} links: {counts} · left without a "
                f"partner: {len(a.omitted_src)} source, {len(a.omitted_tgt)} target{threshold}")

    @property
    def metrics(self) -> str:
        """The gold evaluation in one line ("" without gold)."""
        ev = self.evaluation
        if ev is None:
            return ""
        return (f"Against {ev.n_gold} gold links: strict precision {ev.precision_strict:.3f} "
                f"· recall {ev.recall_strict:.3f} · F1 {ev.f1_strict:.3f}; lax precision "
                f"{ev.precision_lax:.3f} · recall {ev.recall_lax:.3f} · F1 {ev.f1_lax:.3f}")

    def _names(self, doc: Document, edges) -> list[str]:
        names = []
        for a, b in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
            if b - a == 1:
                names.append(f"{a}: {doc.sentences[a]}")
            else:
                names.append(f"sentences {a}–{b - 1}: {doc.sentences[a]} …")
        return names

    @cached_property
    def figure(self):
        grid, a = self.grid, self.alignment
        path = grid.path(a.corners())
        corners = a.corners()
        low, omitted, edited = [], [], []
        for k, link in enumerate(a.links):
            (r0, c0), (r1, c1) = grid.path(corners[k : k + 2])
            if link.status == "edited" and not link.is_omission:
                edited.append((r0, r1, c0, c1))
            if link.is_omission:
                omitted.append((r0, r1, c0, c1))
            elif link.low_confidence:
                low.append((r0, r1, c0, c1))
        title = (f"Alignment of {a.n_src} × {a.n_tgt} sentences"
                 f"{' (blocks of sentences)' if grid.aggregated else ''}")
        return plots.alignment_heatmap(
            grid.values, self._names(self.source, grid.src_edges),
            self._names(self.target, grid.tgt_edges), path, low, omitted, title,
            (f"source ({self.source.lang})", f"target ({self.target.lang})"), edited)

    def _units(self, approved_only: bool = False) -> list[textio.TranslationUnit]:
        units = []
        for link in self.alignment.pairs:
            if approved_only and link.status == "auto":
                continue
            props = (("x-score", "" if math.isnan(link.score) else f"{link.score:.6f}"),
                     ("x-type", link.type),
                     ("x-source-sentences", alignment.format_group(link.src)),
                     ("x-target-sentences", alignment.format_group(link.tgt)),
                     ("x-status", link.status))
            units.append(textio.TranslationUnit(props, (
                (self.source.lang, self._text(self.source, link.src)),
                (self.target.lang, self._text(self.target, link.tgt)))))
        return units

    def write(self, path: str | Path, approved_only: bool = False) -> Path:
        """Writes the links (.tsv / .csv: also the review file), a TMX 1.4 memory (.tmx: a
        merge is one segment, omissions are left out; with ``approved_only``, only the links
        a person accepted or edited) or the figure (.html)."""
        suffix = check_suffix(path, (".tsv", ".csv", ".tmx", ".html"), "align")
        if suffix == ".html":
            return plots.write_html(path, VIEW.figure_title, self.figure)
        if suffix == ".tmx":
            return textio.write_tmx_units(path, self._units(approved_only), self.source.lang)
        return self.table.write(path)

    def export(self, folder: Path, approved_only: bool = False) -> list[str]:
        """Writes the app's data downloads into ``folder`` (the TMX with only the accepted and
        edited links when ``approved_only``); returns their paths."""
        return [str(self.write(folder / f"alignment.{ext}", approved_only))
                for ext in ("tsv", "csv", "tmx")]

    def edited(self, edits: str | list[Edit], encoder=None) -> AlignResult:
        """The edits applied in turn, each to the result of the one before (so a link's
        position is counted after the edits above it).

        Args:
            edits: ``parse_edits`` text (one edit a line or ``;``-separated) or parsed edits.
            encoder: The encoder that aligned the documents (scores of merged links).

        Returns:
            A new result; ValueError naming the edit (its place in the list) that would not
            leave a valid alignment, and nothing applied.
        """
        edits = parse_edits(edits) if isinstance(edits, str) else list(edits)
        result = self
        for n, edit in enumerate(edits, 1):
            try:
                result = edit.apply(result, encoder)
            except ValueError as exc:
                where = f"Edit {n} ({edit.text})" if len(edits) > 1 else f"{edit.text}"
                raise ValueError(f"{where}: {exc}. Nothing was changed.") from None
        return result


EDIT_FORMS = ("accept K", "break K", "merge K", "split K [SRC_AT TGT_AT]",
              "relink SRC TGT [release]")


@dataclass(frozen=True)
class Edit:
    """One review edit, as a reviewer or an API client writes it.

    Attributes:
        action: accept, break, merge, split or relink.
        link: The link's 0-based position (row of the table) for accept/break/merge/split.
        src, tgt: Source and target indices for relink; split points for split (one each).
        release: relink: break the links that hold one of its sentences.
        text: The edit as written (for messages).
    """

    action: str
    link: int | None = None
    src: tuple[int, ...] = ()
    tgt: tuple[int, ...] = ()
    release: bool = False
    text: str = ""

    def apply(self, result: AlignResult, encoder=None) -> AlignResult:
        """This edit on ``result`` (a new result; ValueError for an invalid one)."""
        if self.action == "accept":
            return result.accept(self.link)
        if self.action == "break":
            return result.break_link(self.link)
        if self.action == "merge":
            return result.merge_next(self.link, encoder)
        if self.action == "split":
            at = (self.src[0], self.tgt[0]) if self.src else (None, None)
            return result.split_link(self.link, *at, encoder=encoder)
        return result.relink(self.src, self.tgt, encoder, release=self.release)


def _index(word: str, what: str, line: str) -> int:
    group = alignment.parse_group(word)
    if len(group) != 1:
        raise ValueError(f"{what} is one 0-based number, got {word!r} in {line!r}")
    return group[0]


def parse_edits(text: str) -> list[Edit]:
    """Review edits from text: one a line (or ``;``-separated), each one of ``EDIT_FORMS``:
    ``accept 3`` (link 3, 0-based row), ``break 3``, ``merge 3`` (with link 4), ``split 3``
    (the best split) or ``split 3 1 0``, ``relink 5 6,7`` (source 5 with targets 6 and 7;
    ``release`` at the end breaks the links holding them first). Blank parts are skipped.

    Returns:
        The edits; ValueError quoting the first one that is not of these forms.
    """
    edits = []
    for part in (p.strip() for p in (text or "").replace(";", "\n").splitlines()):
        if not part:
            continue
        words = part.split()
        action = words[0].lower()
        args = words[1:]
        if action in ("accept", "break", "merge", "split"):
            if not args or len(args) not in ((1, 3) if action == "split" else (1,)):
                raise ValueError(f"{part!r} is not an edit. Write one of: "
                                 f"{', '.join(EDIT_FORMS)}")
            k = _index(args[0], "A link", part)
            at = [_index(w, "A split point", part) for w in args[1:]]
            edits.append(Edit(action, k, tuple(at[:1]), tuple(at[1:]), text=part))
        elif action == "relink":
            release = bool(args) and args[-1].lower() == "release"
            args = args[:-1] if release else args
            if len(args) != 2:
                raise ValueError(f"{part!r}: relink takes the source and the target "
                                 "sentences, e.g. relink 5 6,7")
            src, tgt = (alignment.parse_group(w) for w in args)
            edits.append(Edit("relink", None, src, tgt, release, part))
        else:
            raise ValueError(f"Unknown edit {words[0]!r} in {part!r}. Must be one of: "
                             f"{', '.join(EDIT_FORMS)}")
    return edits


def _checked_gold(gold, source: Document, target: Document
                  ) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The gold links, refused before any encoding when one points past either document
    (``textio.read_links`` names the file's line; this guards links given in code)."""
    out = []
    for k, link in enumerate(gold):
        try:
            src, tgt = link
            src, tgt = tuple(int(i) for i in src), tuple(int(i) for i in tgt)
        except (TypeError, ValueError):
            raise ValueError("gold must be (source indices, target indices) pairs, got "
                             f"{link!r}"[:200]) from None
        for indices, doc, side in ((src, source, "source"), (tgt, target, "target")):
            for i in indices:
                if not 0 <= i < len(doc):
                    raise ValueError(f"Gold link {k + 1} points at {side} sentence {i}, but the "
                                     f"{side} has {len(doc)} sentence(s), numbered from 0")
        out.append((src, tgt))
    return out


def align_view(encoder, source: Document, target: Document,
               max_merge: int = alignment.DEFAULT_MAX_MERGE,
               threshold: float | None = alignment.DEFAULT_THRESHOLD,
               gold: list[tuple[tuple[int, ...], tuple[int, ...]]] | None = None,
               progress: ViewProgress | None = None) -> AlignResult:
    """Aligns a document with its translation, in order.

    Args:
        encoder: the encoder (every concatenation of 1..max_merge consecutive sentences is
            encoded once, with the symmetric prompt; the cache keeps them).
        source, target: the documents (``segment.split_pair`` / ``segment.read_document``).
        max_merge: most sentences on one side of a link.
        threshold: links scoring below it are flagged; None flags none.
        gold: true links as (source indices, target indices) (``textio.read_links``);
            ValueError, before any encoding, for one pointing past a document.
        progress: progress callback.

    Returns:
        The result.
    """
    from threadpoolctl import threadpool_limits

    gold = _checked_gold(gold, source, target) if gold is not None else None

    def embed(texts: list[str]):
        stage(progress, 0.05, f"Encoding {len(texts)} sentences and joined sentences")

        def tick(done: int, total: int) -> None:
            if progress is not None and total:
                progress(0.05 + 0.85 * done / total, f"Encoding: {done}/{total}")

        return encoder.encode(texts, kind="symmetric", progress=tick)

    # Small matrix products: one BLAS thread is 2-4x faster than several on a shared CPU.
    with threadpool_limits(1, "blas"):
        result = alignment.align(source.sentences, target.sentences, embed, max_merge=max_merge,
                                 src_paragraphs=source.paragraphs,
                                 tgt_paragraphs=target.paragraphs, threshold=threshold)
        stage(progress, 0.95, "Drawing")
        grid = alignment.similarity_grid(result.src_vectors, result.tgt_vectors, GRID_SIDE)
    evaluation = alignment.evaluate(result, gold) if gold is not None else None
    notes = list(source.notes) + list(target.notes) + list(result.notes)
    if grid.aggregated:
        notes.append(f"More than {GRID_SIDE} sentences a side: each cell of the picture is the "
                     "mean cosine of a block of sentences; the table has every link.")
    return AlignResult(source, target, result, grid, evaluation, notes, gold)


def resume_review(result: AlignResult,
                  path: str | Path | list[alignment.Link]) -> AlignResult:
    """The alignment of a saved review (the table ``AlignResult.write`` wrote, edited or not)
    in place of ``result``'s, for the same two documents.

    Args:
        result: The documents aligned (``align_view``): their vectors, figure and gold.
        path: The review .tsv/.csv; refused (ValueError naming its line, nothing changed) when
            it does not fit the documents: an index out of range, a different sentence count,
            a changed text, a sentence used twice, rows out of order. Or the links
            ``textio.read_review`` read from it.

    Returns:
        The result with the review's links, scores and statuses.
    """
    links = (path if isinstance(path, list)
             else textio.read_review(path, result.source.sentences, result.target.sentences))
    a = result.alignment
    # The file keeps scores, not cosines: a link the aligner also made has its cosine, a 1-1
    # link the cosine of its sentences' vectors (a group of several needs the encoder).
    known = {(x.src, x.tgt): x.cosine for x in a.links}

    def cosine(x: alignment.Link) -> float:
        if (x.src, x.tgt) in known:
            return known[(x.src, x.tgt)]
        if len(x.src) == len(x.tgt) == 1:
            return float(a.src_vectors[x.src[0]].astype("float64")
                         @ a.tgt_vectors[x.tgt[0]].astype("float64"))
        return math.nan

    flagged = [replace(x, cosine=cosine(x), low_confidence=bool(
        a.threshold is not None and not x.is_omission and not math.isnan(x.score)
        and x.score < a.threshold)) for x in links]
    ordered = review.in_document_order(flagged, a.n_src, a.n_tgt)
    return result.reviewed(replace(a, links=ordered))
