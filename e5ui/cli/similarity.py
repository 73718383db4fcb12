"""``similarity FILE``: the cosine matrix, the most similar pairs; ``--compare MODEL``: the same
texts through a second model."""

from __future__ import annotations

import argparse
from pathlib import Path

from e5ui.cli.common import (
    INPUT_HELP,
    CliError,
    EncoderFactory,
    add_center_flag,
    add_columns,
    add_vector_flags,
    check_outs,
    finish,
    read,
    records,
    run_view,
    short,
    with_vectors,
)

HELP = "pairwise cosine similarity matrix"
DISAGREEMENTS = 10  # pairs printed from --compare's "ranked most differently"


def add_arguments(p) -> None:
    p.add_argument("file", help=INPUT_HELP)
    add_columns(p)
    p.add_argument("--order", default="input", choices=["input", "language", "cluster"],
                   help="row order: as given (default), grouped by language, or clustered")
    p.add_argument("--kind", default="symmetric", choices=["symmetric", "passage"],
                   help='prompt on every text: symmetric ("query: ", default) or "passage: "')
    p.add_argument("--out", action="append", default=None,
                   help="matrix.csv / .tsv (labelled, in --order), embeddings .npy (input "
                   "order) or heatmap .html; repeat for several. With --compare: every pair "
                   ".csv / .tsv, or both heatmaps .html")
    add_center_flag(p)
    add_vector_flags(p, ("--embeddings", "the texts' vectors (.npy or .parquet)"))
    p.add_argument("--compare", default=None, metavar="MODEL",
                   help="also encode with MODEL and compare: Spearman correlation of the pair "
                   "scores, each model's calibrated scores, the pairs they disagree on most")


def run(args, encoder: EncoderFactory) -> int:
    from e5ui import views

    allowed = (".csv", ".tsv", ".html") if args.compare else (".csv", ".tsv", ".npy", ".html")
    outs = check_outs(args.out, allowed, (args.file,))
    corpus = read(args.file, "input", args)
    enc = encoder(args)
    if args.compare:
        if args.embeddings:
            raise CliError("--compare encodes the texts with two models; it does not take "
                           "--embeddings")
        return _compare_models(args, encoder, enc, corpus, outs)
    enc = with_vectors(args, enc, corpus, args.file, args.embeddings, args.kind, "input")
    result = run_view(args, views.similarity_view, enc, corpus, args.order, args.kind,
                      center=args.center_languages)
    b = result.baseline
    if b.calibrated:
        print(f"{result.n} texts; unrelated-pair baseline of {enc.model_id}: median "
              f"{b.median:.3f} (5-95%: {b.p5:.3f}-{b.p95:.3f})")
    else:
        print(f"{result.n} texts; calibration off (vectors of {enc.model_id})")
    if result.top.rows:
        print("most similar pairs:  cosine  percentile  rescaled")
        for row in records(result.top):
            print(f"  {row['label_a']} ~ {row['label_b']}  {row['cosine']:.4f}  "
                  f"{views.fmt_pct(row['percentile']):>10}  {_rescaled(row['rescaled'])}  "
                  f"{short(row['text_a'], 30)} | {short(row['text_b'], 30)}")
    return finish(result, outs, f"{result.n} x {result.n}, {args.order} order")


def _rescaled(value: float) -> str:
    """A rescaled score, 8 wide; "–" when calibration is off (NaN)."""
    return f"{value:8.3f}" if value == value else f"{'–':>8}"


def _compare_models(args, encoder: EncoderFactory, enc, corpus, outs: list[Path]) -> int:
    """similarity --compare MODEL: the same texts through a second model."""
    from e5ui import views

    second = encoder(argparse.Namespace(**{**vars(args), "model": args.compare,
                                           "encoder_url": None}))
    result = run_view(args, views.compare_models_view, enc, second, corpus, args.order,
                      args.kind, args.center_languages)
    print(result.summary)
    print("pairs ranked most differently:  cosine (rank) model 1 | model 2")
    for row in list(records(result.table))[:DISAGREEMENTS]:
        print(f"  {row['label_a']} ~ {row['label_b']}  {row['cosine_1']:.4f} ({row['rank_1']})"
              f"  |  {row['cosine_2']:.4f} ({row['rank_2']})  "
              f"{short(row['text_a'], 28)} | {short(row['text_b'], 28)}")
    return finish(result, outs, f"{result.agreement.n_pairs} pairs")
