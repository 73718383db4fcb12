"""``map FILE --out coords.csv|map.html|map.parquet`` (old name ``project``): the texts on a
2-D or 3-D UMAP or PCA map."""

from __future__ import annotations

import sys
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
    progress_bar,
    read,
    records,
    with_vectors,
)

HELP = "2-D / 3-D map of the texts (UMAP or PCA)"


def add_arguments(p) -> None:
    p.add_argument("file", help=INPUT_HELP)
    add_columns(p)
    p.add_argument("--method", default="umap", choices=["umap", "pca"])
    p.add_argument("--dim", type=int, default=2, choices=[2, 3])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--neighbors", type=int, default=15, help="UMAP n_neighbors")
    p.add_argument("--out", action="append", default=None,
                   help="coords.csv / coords.tsv, map.html, or map.parquet (for Apple's "
                   "Embedding Atlas: embedding-atlas map.parquet --text text --x x --y y); "
                   "repeat for several")
    add_center_flag(p)
    p.add_argument("--clusters", action="store_true",
                   help="find clusters (HDBSCAN on the map) and name them in every language: "
                   "adds cluster and cluster_label columns and prints the names")
    p.add_argument("--search", default=None, metavar="QUERY",
                   help="search the texts by meaning: adds search_cosine and search_percentile "
                   "columns and prints the matches, best first")
    p.add_argument("--other-languages", action="store_true",
                   help="with --search: list only texts in another language than the query's "
                   "(its translations, not its own language's lines)")
    p.add_argument("--search-threshold", type=float, default=0.99, metavar="P",
                   help="percentile of unrelated pairs a match reaches (default 0.99)")
    p.add_argument("--projector", default=None, metavar="DIR",
                   help="also write vectors.tsv and metadata.tsv for the TensorFlow Embedding "
                   "Projector into this folder")
    add_vector_flags(p, ("--embeddings", "the texts' vectors (.npy or .parquet)"))


def run(args, encoder: EncoderFactory) -> int:
    from e5ui import baselines, runtime, views

    outs = check_outs(args.out, (".csv", ".tsv", ".html", ".parquet"), (args.file,))
    if not outs and not args.projector:
        raise CliError("map needs --out FILE (coords.csv, map.html, map.parquet) or "
                       "--projector DIR")
    if args.projector and not Path(args.projector).is_dir():
        raise CliError(f"--projector: the folder {args.projector} does not exist")
    corpus = read(args.file, "input", args)
    runtime.configure_numba_cache()
    enc = with_vectors(args, encoder(args), corpus, args.file, args.embeddings, "symmetric",
                       "input")
    progress, close = progress_bar(args)
    try:
        data = views.map_data(enc, corpus, progress, center=args.center_languages)
    finally:
        close()
    result = views.map_view(data, args.method, args.dim, seed=args.seed,
                            n_neighbors=args.neighbors, clusters=args.clusters)
    print(result.summary)
    if args.clusters:
        _print_clusters(result)
    if args.search is not None:
        if not 0 <= args.search_threshold <= 1:
            raise CliError("--search-threshold must be between 0 and 1")
        found = views.map_search(result, args.search, enc, args.search_threshold,
                                 other_languages=args.other_languages)
        result = found.map
        print(found.summary)
        for line in records(found.table):
            print(f"{line['rank']:>3}. {line['cosine']:.3f} "
                  f"({views.fmt_pct(line['percentile'])})  "
                  f"[{line['index']}] {line['text']}")
    if args.projector:
        for path in result.write_projector(args.projector):
            print(f"e5ui: wrote {path}", file=sys.stderr)
    what = f"{result.projection.method.upper()}, {args.dim}-D"
    pages = [out for out in outs if out.suffix.lower() == ".html"]
    code = finish(result, [out for out in outs if out not in pages], what)
    if pages:
        # The page lists each neighbour's percentile among the model's unrelated pairs.
        baseline = baselines.reference_baseline(enc)
        for out in pages:
            result.write(out, baseline=baseline)
            print(f"e5ui: wrote {out} ({what}; click a point for its neighbours)",
                  file=sys.stderr)
    return code


def _print_clusters(result) -> None:
    """Each cluster's name and size, largest first."""
    named = result.named_clusters
    sizes = {c: int((named.labels == c).sum()) for c in named.names}
    for c in sorted(sizes, key=lambda c: (-sizes[c], c)):
        print(f"cluster {c} ({sizes[c]} texts): {named.names[c]}")
