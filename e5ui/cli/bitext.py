"""``bitext SOURCE TARGET --out pairs.tsv|pairs.csv|pairs.tmx``: sentences of two languages
paired up."""

from __future__ import annotations

from e5ui.cli.common import (
    INPUT_HELP,
    EncoderFactory,
    add_columns,
    check_outs,
    finish,
    read,
    run_view,
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
    p.add_argument("--out", action="append", default=None,
                   help="pairs.tsv, pairs.csv or pairs.tmx; repeat for several")


def run(args, encoder: EncoderFactory) -> int:
    from e5ui import textio, views

    inputs = (args.source, args.target, *([args.gold] if args.gold else []))
    outs = check_outs(args.out, (".tsv", ".csv", ".tmx"), inputs)
    source = read(args.source, "source", args)
    target = read(args.target, "target", args)
    gold = textio.read_gold(args.gold, source=source, target=target) if args.gold else None
    enc = encoder(args)
    result = run_view(args, views.bitext_view, enc, source, target, args.method,
                      not args.no_one_to_one, args.threshold, gold, args.k,
                      args.src_lang, args.tgt_lang)
    print(result.summary)
    if result.metrics:
        print(result.metrics)
    return finish(result, outs)
