"""Command line: ``python -m e5ui SUBCOMMAND`` (parses arguments, calls the modules)."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from e5ui import models

logger = logging.getLogger("e5ui")


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=models.DEFAULT_MODEL,
        help="small | base | large | large-instruct | bundled, a hub id or a local directory "
        f"(default: {models.DEFAULT_MODEL}; falls back to bundled when unavailable)",
    )
    parser.add_argument("--no-fallback", action="store_true",
                        help="fail instead of falling back to the bundled model")
    parser.add_argument("--dtype", default="auto",
                        choices=["auto", "float32", "bfloat16", "float16"])
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best)")
    parser.add_argument("--cache-dir", default=None,
                        help="keep embeddings on disk here so reruns do not re-encode")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser for all subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m e5ui",
        description="Explore multilingual-e5 embeddings from the command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    embed = sub.add_parser("embed", help="embed texts into a .npy file")
    embed.add_argument("file", help=".txt (one text per line), .csv or .tsv (with a text column)")
    embed.add_argument("--kind", default="query", choices=["query", "passage"],
                       help='prefix: "query: " (default; also for symmetric tasks) or "passage: "')
    embed.add_argument("--no-normalize", action="store_true", help="skip L2 normalisation")
    embed.add_argument("--out", required=True, help="output .npy (float32, one row per text)")
    _common(embed)

    sim = sub.add_parser("similarity", help="pairwise cosine similarity matrix")
    sim.add_argument("file", help=".txt, .csv or .tsv")
    sim.add_argument("--order", default="input", choices=["input", "language", "cluster"],
                     help="row order: as given, grouped by language, or clustered")
    sim.add_argument("--out", default=None, help="write the matrix as .csv or .tsv")
    _common(sim)

    nb = sub.add_parser("neighbours", aliases=["neighbors"],
                        help="top-k nearest corpus texts for each query")
    nb.add_argument("queries", help=".txt, .csv or .tsv")
    nb.add_argument("corpus", help=".txt, .csv or .tsv")
    nb.add_argument("-k", type=int, default=5, help="neighbours per query (default 5)")
    nb.add_argument("--cross-lingual", action="store_true",
                    help="only neighbours in a language other than the query's")
    nb.add_argument("--margin", action="store_true",
                    help="re-rank by ratio margin (Artetxe & Schwenk 2019), which demotes hubs")
    nb.add_argument("--query-kind", default="query", choices=["query", "passage"])
    nb.add_argument("--corpus-kind", default="passage", choices=["query", "passage"],
                    help='"passage" for retrieval (default), "query" for symmetric search')
    nb.add_argument("--out", default=None, help="write the table as .tsv or .csv")
    _common(nb)

    bt = sub.add_parser("bitext", help="pair up sentences of two languages")
    bt.add_argument("source", help="source sentences (.txt one per line, or .csv/.tsv)")
    bt.add_argument("target", help="target sentences")
    bt.add_argument("--method", default="margin", choices=["margin", "cosine"])
    bt.add_argument("--no-one-to-one", action="store_true",
                    help="let several sources take the same target (plain nearest neighbour)")
    bt.add_argument("--threshold", type=float, default=None,
                    help="leave pairs scoring below this unmatched (for mining noisy data)")
    bt.add_argument("-k", type=int, default=4, help="margin neighbourhood size (default 4)")
    bt.add_argument("--gold", default=None,
                    help="TSV of true pairs (src_index, tgt_index): print P@1, precision, "
                    "recall, F1")
    bt.add_argument("--src-lang", default=None, help="language code of SOURCE for TMX")
    bt.add_argument("--tgt-lang", default=None, help="language code of TARGET for TMX")
    bt.add_argument("--out", default=None, help="pairs.tsv, pairs.csv or pairs.tmx")
    _common(bt)

    pj = sub.add_parser("project", help="2-D / 3-D map of the texts (UMAP or PCA)")
    pj.add_argument("file", help=".txt, .csv or .tsv")
    pj.add_argument("--method", default="umap", choices=["umap", "pca"])
    pj.add_argument("--dim", type=int, default=2, choices=[2, 3])
    pj.add_argument("--seed", type=int, default=42)
    pj.add_argument("--neighbors", type=int, default=15, help="UMAP n_neighbors")
    pj.add_argument("--out", required=True, help="coords.csv or coords.tsv")
    _common(pj)

    sv = sub.add_parser("serve", help="run the web app (same as python app.py)")
    sv.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=7860)
    sv.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    _common(sv)
    return parser


def _progress_bar(args, desc: str):
    """Returns a progress(done, total) callback drawing a tqdm bar on stderr, and a closer."""
    if args.quiet:
        return None, lambda: None
    from tqdm import tqdm

    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=desc, unit="text", file=sys.stderr, leave=False)
        bar.n = done
        bar.refresh()

    return progress, lambda: bar.close() if bar is not None else None


def _encoder(args):
    from e5ui.encoder import Encoder, FallbackWarning, ModelUnavailableError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FallbackWarning)
        try:
            enc = Encoder(
                args.model,
                device=args.device,
                dtype=args.dtype,
                cache=True,
                cache_dir=args.cache_dir,
                fallback=not args.no_fallback,
            )
        except ModelUnavailableError as exc:
            raise CliError(f"{exc} (drop --no-fallback to use the bundled model)") from None
    for w in caught:
        if issubclass(w.category, FallbackWarning):
            print(f"e5ui: warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return enc


def _report_truncation(corpus, result, max_tokens: int) -> None:
    for t in result.truncated[:20]:
        print(f"e5ui: warning: {corpus.source} {corpus.where(t.index)}: {t.tokens} tokens, "
              f"truncated to {max_tokens}", file=sys.stderr)
    if len(result.truncated) > 20:
        print(f"e5ui: warning: ... {len(result.truncated) - 20} more truncated inputs",
              file=sys.stderr)


def cmd_embed(args) -> int:
    from e5ui import textio

    corpus = _read(args.file, "input")
    out = _check_out(args.out, (".npy",))
    enc = _encoder(args)
    emb = _embed(enc, corpus, args, args.kind, normalize=not args.no_normalize)
    textio.write_npy(out, emb)
    info = enc.describe()
    print(f"e5ui: wrote {out} ({emb.shape[0]} x {emb.shape[1]}, {info['model']} via "
          f"{info['source']}, {info['dtype']})", file=sys.stderr)
    return 0


def _read(path: str, what: str):
    from e5ui import textio

    corpus = textio.require_texts(textio.read_texts(path), what)
    for note in corpus.notes():
        print(f"e5ui: note: {note}", file=sys.stderr)
    return corpus


def _embed(enc, corpus, args, kind: str = "query", desc: str = "encoding",
           normalize: bool = True):
    progress, close = _progress_bar(args, desc)
    try:
        result = enc.encode_detailed(corpus.texts, kind=kind, normalize=normalize,
                                     progress=progress)
    finally:
        close()
    _report_truncation(corpus, result, enc.max_length)
    return result.embeddings


def _check_out(path: str | None, allowed: tuple[str, ...]) -> Path | None:
    if path is None:
        return None
    out = Path(path)
    if out.suffix.lower() not in allowed:
        raise CliError(f"--out must end in {' or '.join(allowed)}, got {out.name}")
    if not out.parent.exists():
        raise CliError(f"--out: the folder {out.parent} does not exist")
    return out


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_similarity(args) -> int:
    from e5ui import langid, similarity, textio

    corpus = _read(args.file, "input")
    out = _check_out(args.out, (".csv", ".tsv"))
    enc = _encoder(args)
    emb = _embed(enc, corpus, args)
    langs = langid.detect(corpus.texts, corpus.langs) if args.order == "language" else None
    order = similarity.heatmap_order(emb, args.order, langs)
    sim = similarity.cosine_matrix(emb[order])
    names = corpus.names()
    labels = [names[i] for i in order]
    n = len(order)
    if out is not None:
        textio.write_matrix(out, sim, labels)
        print(f"e5ui: wrote {out} ({n} x {n}, {args.order} order)", file=sys.stderr)
    baseline = similarity.reference_baseline(enc)
    if n > 1:
        top_i, top_j, top_cos = similarity.top_pairs(sim, 10)
        cal = similarity.calibrate(top_cos, baseline)
        print(f"{n} texts; unrelated-pair baseline of {enc.model_id}: median "
              f"{baseline.median:.3f} (5-95%: {baseline.p5:.3f}-{baseline.p95:.3f})")
        print("most similar pairs:  cosine  percentile  rescaled")
        for i, j, c, p, r in zip(top_i, top_j, top_cos, cal.percentile, cal.rescaled):
            print(f"  {labels[i]:>4} ~ {labels[j]:<4} {c:.4f}  {p:10.1%}  {r:8.3f}  "
                  f"{_short(corpus.texts[order[i]], 30)} | {_short(corpus.texts[order[j]], 30)}")
    return 0


def cmd_neighbours(args) -> int:
    from e5ui import langid, neighbours, similarity, textio

    if args.k < 1:
        raise CliError("-k must be at least 1")
    queries = _read(args.queries, "queries")
    corpus = _read(args.corpus, "corpus")
    out = _check_out(args.out, (".tsv", ".csv"))
    enc = _encoder(args)
    q = _embed(enc, queries, args, args.query_kind, "queries")
    c = _embed(enc, corpus, args, args.corpus_kind, "corpus")
    qlang = langid.detect(queries.texts, queries.langs)
    clang = langid.detect(corpus.texts, corpus.langs)
    baseline = similarity.reference_baseline(enc)
    found = neighbours.search(q, c, args.k, margin=args.margin, cross_lingual=args.cross_lingual,
                              query_langs=qlang, corpus_langs=clang, baseline=baseline)
    nb, cal = found.neighbours, found.calibrated
    rows = [
        [queries.rows[qi], rank + 1, corpus.rows[ci], f"{nb.scores[qi, rank]:.6f}",
         f"{found.cosines[qi, rank]:.6f}", f"{cal.percentile[qi, rank]:.4f}",
         f"{cal.rescaled[qi, rank]:.4f}", qlang[qi], clang[ci],
         "hub" if ci in found.hubs else "", queries.texts[qi], corpus.texts[ci]]
        for qi, rank, ci in found.entries()
    ]
    header = ["query_index", "rank", "corpus_index", "score", "cosine", "percentile",
              "rescaled", "query_lang", "corpus_lang", "hub", "query", "text"]
    if out is not None:
        textio.write_rows(out, header, rows)
        print(f"e5ui: wrote {out} ({len(rows)} rows)", file=sys.stderr)
    else:
        for r in rows:
            print(f"{r[0] + 1:>4} #{r[1]} -> {r[2] + 1:<5} {r[4]}  pct {float(r[5]):6.1%}  "
                  f"{r[7]}->{r[8]} {r[9]:3} {_short(r[11])}")
    if found.hubs:
        print(f"e5ui: note: {len(found.hubs)} hub(s) appear in many neighbour lists "
              f"(skewness {found.hubness.skewness:.2f}); --margin demotes them", file=sys.stderr)
    return 0


def cmd_bitext(args) -> int:
    from e5ui import bitext, langid, textio

    source = _read(args.source, "source")
    target = _read(args.target, "target")
    out = _check_out(args.out, (".tsv", ".csv", ".tmx"))
    gold = textio.read_gold(args.gold) if args.gold else None
    enc = _encoder(args)
    s = _embed(enc, source, args, "query", "source")
    t = _embed(enc, target, args, "query", "target")
    result = bitext.match(s, t, method=args.method, k=args.k,
                          one_to_one=not args.no_one_to_one, threshold=args.threshold)
    print(f"matched {len(result.pairs)} pairs of {len(source)} source and {len(target)} target "
          f"sentences ({args.method}, {'one-to-one' if result.one_to_one else 'many-to-one'}"
          f"{'' if args.threshold is None else f', threshold {args.threshold}'}); unmatched: "
          f"{len(result.unmatched_src)} source, {len(result.unmatched_tgt)} target")
    if out is not None:
        src_langs = tgt_langs = None
        if out.suffix.lower() == ".tmx":
            src_langs = ([args.src_lang] * len(source) if args.src_lang
                         else langid.detect(source.texts, source.langs))
            tgt_langs = ([args.tgt_lang] * len(target) if args.tgt_lang
                         else langid.detect(target.texts, target.langs))
        textio.write_pairs(out, result, source, target, src_langs, tgt_langs)
        print(f"e5ui: wrote {out}", file=sys.stderr)
    if gold is not None:
        src_of = {r: i for i, r in enumerate(source.rows)}
        tgt_of = {r: i for i, r in enumerate(target.rows)}
        missing = [(a, b) for a, b in gold if a not in src_of or b not in tgt_of]
        if missing:
            raise CliError(f"gold pair {missing[0]} points at a line that holds no sentence")
        ev = bitext.evaluate(result, [(src_of[a], tgt_of[b]) for a, b in gold])
        print(f"against {ev.n_gold} gold pairs: P@1 {ev.p_at_1:.3f}  precision "
              f"{ev.precision:.3f}  recall {ev.recall:.3f}  F1 {ev.f1:.3f}")
    return 0


def cmd_project(args) -> int:
    from e5ui import langid, projection, textio

    corpus = _read(args.file, "input")
    out = _check_out(args.out, (".csv", ".tsv"))
    projection.configure_numba_cache()
    enc = _encoder(args)
    emb = _embed(enc, corpus, args)
    proj = projection.project(emb, method=args.method, dim=args.dim, seed=args.seed,
                              n_neighbors=args.neighbors)
    langs = langid.detect(corpus.texts, corpus.langs)
    axes = ["x", "y", "z"][: args.dim]
    rows = [[corpus.rows[i], *(f"{v:.6f}" for v in proj.coords[i]), langs[i],
             corpus.labels[i] if corpus.labels else "", corpus.texts[i]]
            for i in range(len(corpus))]
    textio.write_rows(out, ["index", *axes, "lang", "label", "text"], rows)
    if proj.note:
        print(f"e5ui: note: {proj.note}", file=sys.stderr)
    kept = "n/a" if proj.preservation is None else f"{proj.preservation:.1%}"
    print(f"e5ui: wrote {out} ({proj.method.upper()}, {args.dim}-D); neighbour preservation "
          f"(10-NN recall): {kept}", file=sys.stderr)
    return 0


def cmd_serve(args) -> int:
    from e5ui import service, ui

    settings = service.Settings(
        model=args.model, device=args.device, dtype=args.dtype, cache_dir=args.cache_dir,
        fallback=not args.no_fallback, host=args.host, port=args.port, share=args.share,
    )
    demo = ui.build_demo(settings=settings)
    ui.launch(demo, settings)
    return 0


COMMANDS = {
    "serve": cmd_serve,
    "embed": cmd_embed,
    "similarity": cmd_similarity,
    "neighbours": cmd_neighbours,
    "neighbors": cmd_neighbours,
    "bitext": cmd_bitext,
    "project": cmd_project,
}


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="e5ui: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "verbose", False):
        try:
            from huggingface_hub.utils import enable_progress_bars
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the weights-loading bar ...
            hf_logging.set_verbosity_error()
            if not getattr(args, "quiet", False):
                enable_progress_bars()  # ... but model downloads keep theirs, on stderr
        except ImportError:  # pragma: no cover
            pass
    try:
        return COMMANDS[args.command](args)
    except (CliError, ValueError, OSError) as exc:
        print(f"e5ui: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("e5ui: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
