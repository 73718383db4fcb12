"""``neighbours QUERIES CORPUS``: each query's nearest corpus texts (``--compare-bm25``: and
BM25's beside them)."""

from __future__ import annotations

import argparse

from e5ui.cli import common
from e5ui.cli.common import CliError, EncoderFactory

HELP = "top-k nearest corpus texts for each query"


def add_arguments(p) -> None:
    p.add_argument("queries", help=common.INPUT_HELP)
    p.add_argument("corpus", help=common.INPUT_HELP)
    common.add_columns(p)
    p.add_argument("-k", type=int, default=5, help="neighbours per query (default 5)")
    p.add_argument("--cross-lingual", action="store_true",
                   help="only neighbours in a language other than the query's")
    p.add_argument("--margin", action="store_true",
                   help="re-rank by ratio margin (Artetxe & Schwenk 2019), which demotes hubs")
    p.add_argument("--symmetric", action="store_true",
                   help='both sides are the same kind of text ("query: " on both); default is '
                   'retrieval: "query: " queries, "passage: " corpus')
    # The flag --symmetric replaced; "--corpus-kind query" still means --symmetric.
    p.add_argument("--corpus-kind", choices=["query", "passage"], default=None,
                   help=argparse.SUPPRESS)
    p.add_argument("--compare-bm25", action="store_true",
                   help="also search with BM25 (keyword search): its neighbours beside E5's, "
                   "their overlap, and with shared 'id' columns MRR@10 and Recall@k of both")
    p.add_argument("--out", action="append", default=None,
                   help="write the table as .tsv or .csv")
    common.add_vector_flags(p, ("--corpus-embeddings", "the corpus texts' vectors (.npy or "
                                ".parquet)"),
                            ("--query-embeddings", "the queries' vectors (.npy or .parquet)"))


def run(args, encoder: EncoderFactory) -> int:
    from e5ui import views

    if args.k < 1:
        raise CliError("-k must be at least 1")
    outs = common.check_outs(args.out, (".tsv", ".csv"), (args.queries, args.corpus))
    queries = common.read(args.queries, "queries", args)
    corpus = common.read(args.corpus, "corpus", args)
    symmetric = args.symmetric or args.corpus_kind == "query"
    enc = common.with_vectors(args, encoder(args), corpus, args.corpus, args.corpus_embeddings,
                              "symmetric" if symmetric else "passage", "corpus")
    enc = common.with_vectors(args, enc, queries, args.queries, args.query_embeddings,
                              "symmetric" if symmetric else "query", "queries")
    result = common.run_view(args, views.neighbours_view, enc, queries, corpus, args.k,
                             args.cross_lingual, args.margin, symmetric,
                             compare_bm25=args.compare_bm25)
    if not outs:
        for row in common.records(result.table):
            bm25 = "" if row.get("bm25_index") is None else f"  | BM25 -> {row['bm25_index']}"
            print(f"{row['query_index']:>4} #{row['rank']} -> {row['corpus_index']:<5} "
                  f"{row['cosine']:.4f}  pct {views.fmt_pct(row['percentile']):>6}  "
                  f"{row['query_lang']}->{row['corpus_lang']} {row['hub']:3} "
                  f"{common.short(row['neighbour'])}{bm25}")
    print(result.summary)
    if result.keyword is not None:
        print(result.keyword.summary)
    return common.finish(result, outs, f"{len(result.table)} rows")
