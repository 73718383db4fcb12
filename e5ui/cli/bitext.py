"""``bitext SOURCE TARGET --out pairs.tsv|pairs.csv|pairs.tmx``: sentences of two languages
paired up."""

from __future__ import annotations

import sys

from e5ui.cli.common import (
    INPUT_HELP,
    EncoderFactory,
    add_columns,
    check_outs,
    read,
    run_view,
    say,
)

HELP = "pair up sentences of two languages"


def add_arguments(p) -> None:
    p.add_argument("source", help=f"source sentences: {INPUT_HELP}")
    p.add_argument("target", help="target sentences")
    add_columns(p)
    p.add_argument("--method", default="margin", choices=["margin", "cosine"])
    p.add_argument("--no-one-to-one", action="store_true",
                   help="let several sources take the same target (plain nearest neighbour)")
    p.add_argument("--threshold", type=float, default=None,
                   help="leave pairs scoring below this unmatched (for mining noisy data)")
    p.add_argument("-k", type=int, default=4, help="margin neighbourhood size (default 4)")
    p.add_argument("--gold", default=None,
                   help="TSV of true pairs (src_index, tgt_index): print P@1, precision, "
                   "recall, F1")
    p.add_argument("--src-lang", default=None, help="language code of SOURCE for TMX")
    p.add_argument("--tgt-lang", default=None, help="language code of TARGET for TMX")
    p.add_argument("--review", default=None, metavar="REVIEW.tsv",
                   help="a saved review (the .tsv/.csv this command or the app wrote, with its "
                   "status column, edited or not): checked against SOURCE and TARGET, then "
                   "its pairs are written to --out instead of a new matching's")
    p.add_argument("--approved-only", action="store_true",
                   help="TMX: only the pairs a person accepted or edited (status column)")
    p.add_argument("--out", action="append", default=None,
                   help="pairs.tsv, pairs.csv or pairs.tmx; repeat for several")


def run(args, encoder: EncoderFactory) -> int:
    from e5ui import textio, views

    inputs = (args.source, args.target, *([args.gold] if args.gold else []),
              *([args.review] if args.review else []))
    outs = check_outs(args.out, (".tsv", ".csv", ".tmx"), inputs)
    source = read(args.source, "source", args)
    target = read(args.target, "target", args)
    gold = textio.read_gold(args.gold, source=source, target=target) if args.gold else None
    # A review that does not fit the lists is refused before the model loads.
    reviewed = (textio.read_bitext_review(args.review, source, target,
                                          one_to_one=not args.no_one_to_one)
                if args.review else None)
    enc = encoder(args)
    result = run_view(args, views.bitext_view, enc, source, target, args.method,
                      not args.no_one_to_one, args.threshold, gold, args.k,
                      args.src_lang, args.tgt_lang)
    if reviewed is not None:
        result = views.resume_bitext_review(result, reviewed)
    print(result.summary)
    if result.metrics:
        print(result.metrics)
    for note in result.notes:
        say("note", note)
    pairs = result.matching.pairs
    for out in outs:
        result.write(out, approved_only=args.approved_only)
        tmx_approved = args.approved_only and out.suffix.lower() == ".tmx"
        n = sum(p.status != "auto" for p in pairs) if tmx_approved else len(pairs)
        print(f"e5ui: wrote {out} ({n} {'accepted or edited ' if tmx_approved else ''}pairs)",
              file=sys.stderr)
    return 0
