"""``align SOURCE TARGET --out pairs.tsv|pairs.csv|pairs.tmx``: a document and its translation
aligned in order."""

from __future__ import annotations

import sys

from e5ui.cli.common import (
    CliError,
    EncoderFactory,
    add_columns,
    check_outs,
    columns,
    run_view,
    say,
)

HELP = "align a document with its translation, in order"


def add_arguments(p) -> None:
    p.add_argument("source", help="the document (.txt or .md; blank lines separate paragraphs), "
                   "or a .csv, .tsv, .jsonl or .parquet file read one unit per row of its text "
                   "column, not split")
    p.add_argument("target", help="its translation")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--split", dest="mode", action="store_const", const="split",
                     help="split both into sentences (default)")
    how.add_argument("--lines", dest="mode", action="store_const", const="lines",
                     help="both are one sentence per line already")
    p.set_defaults(mode="split")
    p.add_argument("--max-merge", type=int, default=4, metavar="N",
                   help="most sentences on one side of a link (default 4)")
    p.add_argument("--threshold", type=float, default=0.15,
                   help="flag links scoring below this (default 0.15)")
    p.add_argument("--gold", default=None,
                   help="TSV of true links (src_indices, tgt_indices): print strict and lax "
                   "precision, recall, F1")
    p.add_argument("--src-lang", default=None, help="language code of SOURCE (default: detect)")
    p.add_argument("--tgt-lang", default=None, help="language code of TARGET (default: detect)")
    p.add_argument("--review", default=None, metavar="REVIEW.tsv",
                   help="a saved review (the .tsv/.csv this command or the app wrote, with its "
                   "status column, edited or not): checked against SOURCE and TARGET, then "
                   "its links are written to --out instead of a new alignment's")
    p.add_argument("--approved-only", action="store_true",
                   help="TMX: only the links a person accepted or edited (status column)")
    p.add_argument("--out", action="append", default=None,
                   help="links .tsv / .csv, a TMX 1.4 memory .tmx, or the figure .html; repeat "
                   "for several")
    add_columns(p)


def run(args, encoder: EncoderFactory) -> int:
    from e5ui import segment, textio, views

    if args.max_merge < 1:
        raise CliError("--max-merge must be at least 1")
    inputs = (args.source, args.target, *([args.gold] if args.gold else []),
              *([args.review] if args.review else []))
    outs = check_outs(args.out, (".tsv", ".csv", ".tmx", ".html"), inputs)
    src_lang = segment.check_lang(args.src_lang, "--src-lang")
    tgt_lang = segment.check_lang(args.tgt_lang, "--tgt-lang")
    given = columns(args)
    source = segment.read_document(args.source, src_lang, args.mode, **given)
    target = segment.read_document(args.target, tgt_lang, args.mode, **given)
    segment.check_pair(source, target)
    gold = (textio.read_links(args.gold, n_src=len(source), n_tgt=len(target)) if args.gold
            else None)
    # A review that does not fit the documents is refused before the model loads.
    reviewed = (textio.read_review(args.review, source.sentences, target.sentences)
                if args.review else None)
    enc = encoder(args)
    result = run_view(args, views.align_view, enc, source, target, args.max_merge,
                      args.threshold, gold)
    if reviewed is not None:
        result = views.resume_review(result, reviewed)
    print(result.summary)
    if result.metrics:
        print(result.metrics)
    for note in result.notes:
        say("note", note)
    links = len(result.alignment.links)
    for out in outs:
        result.write(out, approved_only=args.approved_only)
        what = (f"{sum(x.status != 'auto' for x in result.alignment.pairs)} accepted or edited "
                f"links" if args.approved_only and out.suffix.lower() == ".tmx"
                else f"{links} links")
        print(f"e5ui: wrote {out} ({what})", file=sys.stderr)
    return 0
