"""Command line: ``python -m e5ui SUBCOMMAND``.

Parses arguments, reads the inputs, calls the view (``e5ui.views``, the same functions the app
calls), prints its summary and notes, and writes its result with ``result.write(--out)``. Errors
become one line on stderr and exit status 2.
"""

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


# -- arguments ----------------------------------------------------------------------------------
def _seconds(value: str) -> int:
    """A whole number of seconds, at least 1 (argparse names the flag when it is not)."""
    try:
        seconds = int(value)
    except ValueError:
        seconds = 0
    if seconds < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of seconds, at least 1, "
                                         f"not {value!r}")
    return seconds


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
    parser.add_argument("--cache-disk-mb", type=int, default=None, metavar="N",
                        help="disk the --cache-dir store may use; the oldest entries go first "
                        "(default 2048, or E5UI_CACHE_DISK_MB)")
    remote = parser.add_argument_group(
        "remote encoding (an OpenAI-compatible server: TEI, Infinity, vLLM; the API key comes "
        "from the E5UI_API_KEY environment variable)")
    remote.add_argument("--encoder-url", default=None, metavar="URL",
                        help="encode on this server, e.g. http://127.0.0.1:7997/v1 (then "
                        "--model, --dtype and --device do not apply)")
    remote.add_argument("--remote-prefix", default="client", choices=["client", "server"],
                        help='who adds "query: " / "passage: ": client (e5ui; for servers that '
                        "embed raw text, e.g. TEI, Infinity) or server (e5ui sends input_type)")
    remote.add_argument("--remote-model", default=None, metavar="NAME",
                        help="the served model to use when the server serves several")
    remote.add_argument("--remote-deadline", dest="remote_deadline_s", type=_seconds,
                        default=None, metavar="SECONDS",
                        help="give up on a request to the server after this long, retries and "
                        "waits included (default 60, or E5UI_REMOTE_DEADLINE_S)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens")


def _add_embed(sub) -> None:
    p = sub.add_parser("embed", help="embed texts into a .npy file")
    p.add_argument("file", help=".txt (one text per line), .csv or .tsv (with a text column)")
    p.add_argument("--kind", default="query", choices=["query", "passage", "symmetric"],
                   help='prefix: "query: " (default), "passage: ", or the symmetric prompt '
                   '(= "query: " for E5 models; the STS instruction for instruct models)')
    p.add_argument("--no-normalize", action="store_true", help="skip L2 normalisation")
    p.add_argument("--out", required=True, help="output .npy (float32, one row per text), "
                   "written chunk by chunk")
    p.add_argument("--resume", action="store_true",
                   help="continue the unfinished job recorded beside --out")
    p.add_argument("--chunk", type=int, default=1000, metavar="N",
                   help="texts per chunk: read, encoded and written together (default 1000)")
    _common(p)


def _add_similarity(sub) -> None:
    p = sub.add_parser("similarity", help="pairwise cosine similarity matrix")
    p.add_argument("file", help=".txt, .csv or .tsv")
    p.add_argument("--order", default="input", choices=["input", "language", "cluster"],
                   help="row order: as given (default), grouped by language, or clustered")
    p.add_argument("--kind", default="symmetric", choices=["symmetric", "passage"],
                   help='prompt on every text: symmetric ("query: ", default) or "passage: "')
    p.add_argument("--out", action="append", default=None,
                   help="matrix.csv / .tsv (labelled, in --order), embeddings .npy (input "
                   "order) or heatmap .html; repeat for several. With --compare: every pair "
                   ".csv / .tsv, or both heatmaps .html")
    p.add_argument("--center-languages", action="store_true",
                   help="subtract each language's mean embedding first (meaning, not language)")
    p.add_argument("--compare", default=None, metavar="MODEL",
                   help="also encode with MODEL and compare: Spearman correlation of the pair "
                   "scores, each model's calibrated scores, the pairs they disagree on most")
    _common(p)


def _add_neighbours(sub) -> None:
    p = sub.add_parser("neighbours", aliases=["neighbors"],
                       help="top-k nearest corpus texts for each query")
    p.add_argument("queries", help=".txt, .csv or .tsv")
    p.add_argument("corpus", help=".txt, .csv or .tsv")
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
    _common(p)


def _add_map(sub) -> None:
    p = sub.add_parser("map", aliases=["project"], help="2-D / 3-D map of the texts (UMAP or PCA)")
    p.add_argument("file", help=".txt, .csv or .tsv")
    p.add_argument("--method", default="umap", choices=["umap", "pca"])
    p.add_argument("--dim", type=int, default=2, choices=[2, 3])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--neighbors", type=int, default=15, help="UMAP n_neighbors")
    p.add_argument("--out", action="append", default=None,
                   help="coords.csv / coords.tsv, map.html, or map.parquet (for Apple's "
                   "Embedding Atlas: embedding-atlas map.parquet --text text --x x --y y); "
                   "repeat for several")
    p.add_argument("--center-languages", action="store_true",
                   help="subtract each language's mean embedding first (meaning, not language)")
    p.add_argument("--projector", default=None, metavar="DIR",
                   help="also write vectors.tsv and metadata.tsv for the TensorFlow Embedding "
                   "Projector into this folder")
    _common(p)


def _add_bitext(sub) -> None:
    p = sub.add_parser("bitext", help="pair up sentences of two languages")
    p.add_argument("source", help="source sentences (.txt one per line, or .csv/.tsv)")
    p.add_argument("target", help="target sentences")
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
    _common(p)


def _add_align(sub) -> None:
    p = sub.add_parser("align", help="align a document with its translation, in order")
    p.add_argument("source", help="the document (.txt or .md; blank lines separate paragraphs)")
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
    p.add_argument("--out", action="append", default=None,
                   help="links .tsv / .csv, a TMX 1.4 memory .tmx, or the figure .html; repeat "
                   "for several")
    _common(p)


def _add_explain(sub) -> None:
    p = sub.add_parser("explain", help="where your pair scores fall among unrelated pairs")
    p.add_argument("file", nargs="?", default=None,
                   help=".txt, .csv or .tsv (optional: without it, the model's baseline alone)")
    p.add_argument("--out", action="append", default=None, help="the histogram as .html")
    _common(p)


def _add_serve(sub) -> None:
    from dataclasses import fields

    from e5ui.settings import AUTH_ENV, Limits

    p = sub.add_parser("serve", help="run the web app (same as python app.py)")
    p.add_argument("--host", default="127.0.0.1",
                   help="interface to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--auth", default=None, metavar="USER:PASSWORD",
                   help=f"require this login (or set {AUTH_ENV}=user:password, which keeps it "
                   "out of the process list); needed to serve beyond this machine")
    p.add_argument("--insecure-no-auth", action="store_true",
                   help="serve beyond this machine without a login")
    p.add_argument("--models", default=None, metavar="NAME,NAME",
                   help="the models visitors may switch to (default: all on 127.0.0.1, none "
                   "when serving beyond this machine)")
    limits = p.add_argument_group("limits (also E5UI_MAX_TEXTS, ... in the environment)")
    for f in fields(Limits):
        if f.name in ("cache_disk_mb", "remote_deadline_s"):
            continue  # every subcommand has --cache-disk-mb and --remote-deadline
        limits.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=int, default=None,
                            metavar="N", help=f"default {f.default}")
    _common(p)


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser for all subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m e5ui",
        description="Explore multilingual-e5 embeddings from the command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (_add_embed, _add_similarity, _add_neighbours, _add_map, _add_bitext,
                _add_align, _add_explain, _add_serve):
        add(sub)
    return parser


# -- shared steps -------------------------------------------------------------------------------
def _say(kind: str, message: str) -> None:
    print(f"e5ui: {kind}: {message}", file=sys.stderr)


def _progress(args):
    """A views.Progress drawing one tqdm bar on stderr (None with -q), and its closer."""
    if args.quiet:
        return None, lambda: None
    from tqdm import tqdm

    bar = None

    def progress(fraction: float, what: str) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=100, file=sys.stderr, leave=False, bar_format="{desc} {bar} "
                       "{percentage:3.0f}%")
        bar.set_description_str(what, refresh=False)
        bar.n = round(100 * fraction)
        bar.refresh()

    return progress, lambda: bar.close() if bar is not None else None


def _encoder(args):
    """The encoder the arguments name (``--encoder-url``: the server's), built as the app builds
    its own; a fallback to the bundled model is one warning line on stderr."""
    from e5ui.encoding import FallbackWarning, ModelUnavailableError, build_encoder
    from e5ui.settings import REMOTE, Limits, Settings

    limits = Limits.from_env(cache_disk_mb=args.cache_disk_mb,
                             remote_deadline_s=args.remote_deadline_s)
    settings = Settings(model=REMOTE if args.encoder_url else args.model, device=args.device,
                        dtype=args.dtype, cache_dir=args.cache_dir,
                        fallback=not args.no_fallback, limits=limits,
                        encoder_url=args.encoder_url, remote_prefix=args.remote_prefix,
                        remote_model=args.remote_model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FallbackWarning)
        try:
            enc = build_encoder(settings.model, settings)
        except ModelUnavailableError as exc:
            raise CliError(f"{exc} (drop --no-fallback to use the bundled model)") from None
    for w in caught:
        if issubclass(w.category, FallbackWarning):
            _say("warning", str(w.message))
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return enc


def _read(path: str, what: str):
    from e5ui import textio

    return textio.require_texts(textio.read_texts(path), what)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _check_out(path: str | None, allowed: tuple[str, ...], inputs: tuple[str, ...] = ()
               ) -> Path | None:
    """Checks an output file before any work: its type, that it is none of the inputs (also
    through a link), and that it can be written."""
    if path is None:
        return None
    out = Path(path)
    if out.suffix.lower() not in allowed:
        raise CliError(f"--out must end in {' or '.join(allowed)}, got {out.name}")
    if not out.parent.exists():
        raise CliError(f"--out: the folder {out.parent} does not exist")
    for given in inputs:
        if _same_file(out, Path(given)):
            raise CliError(f"--out {out} is the input file {given}: writing it would destroy "
                           "the input; choose another name")
    if out.is_dir():
        raise CliError(f"--out {out} is a folder, not a file")
    existed = out.exists()
    try:
        with out.open("ab"):  # the real test: can this process write there? (changes nothing)
            pass
    except OSError as exc:
        raise CliError(f"--out {out} cannot be written: {exc.strerror or exc}") from None
    if not existed:
        out.unlink(missing_ok=True)
    return out


def _check_outs(paths: list[str] | None, allowed: tuple[str, ...],
                inputs: tuple[str, ...] = ()) -> list[Path]:
    """Checks every --out of a view before any work (see ``_check_out``)."""
    outs = [_check_out(p, allowed, inputs) for p in paths or []]
    for i, out in enumerate(outs):
        if any(_same_file(out, other) or out == other for other in outs[:i]):
            raise CliError(f"--out {out} is given twice")
    return outs


def _run_view(args, view, *view_args, **view_kwargs):
    """Calls a view with a progress bar on stderr."""
    progress, close = _progress(args)
    try:
        return view(*view_args, progress=progress, **view_kwargs)
    finally:
        close()


def _finish(result, outs: list[Path], what: str = "") -> int:
    """Prints the result's notes and writes every --out (the format follows the suffix)."""
    for note in result.notes:
        _say("note", note)
    for out in outs:
        result.write(out)
        print(f"e5ui: wrote {out}{f' ({what})' if what else ''}", file=sys.stderr)
    return 0


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- subcommands --------------------------------------------------------------------------------
def cmd_embed(args) -> int:
    from e5ui import embedjob

    if args.chunk < 1:
        raise CliError("--chunk must be at least 1")
    out = _check_out(args.out, (".npy",), (args.file,))
    source = Path(args.file)
    if not source.is_file():
        raise CliError(f"No such file: {source}")
    enc = _encoder(args)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="text", file=sys.stderr, desc="embedding",
                       smoothing=0.1)
        bar.update(done - bar.n)  # tqdm shows the rate and the time left

    try:
        job = embedjob.run(enc, source, out, kind=args.kind, normalize=not args.no_normalize,
                           resume=args.resume, chunk=args.chunk, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    for note in job.notes:
        _say("note", note)
    info = enc.describe()
    resumed = ""
    if job.resumed:  # the rows kept from the killed job were checked, and the user sees so
        resumed = (f", resumed after {job.resumed_from}: verified {job.resumed_from} rows in "
                   f"{job.verified_chunks} chunk(s), encoded {job.n - job.resumed_from}")
    print(f"e5ui: wrote {out} ({job.n} x {job.dim}, {info['model']} via {info['source']}, "
          f"{info['dtype']}{resumed})", file=sys.stderr)
    return 0


def cmd_similarity(args) -> int:
    from e5ui import views

    allowed = (".csv", ".tsv", ".html") if args.compare else (".csv", ".tsv", ".npy", ".html")
    outs = _check_outs(args.out, allowed, (args.file,))
    corpus = _read(args.file, "input")
    enc = _encoder(args)
    if args.compare:
        return _compare_models(args, enc, corpus, outs)
    result = _run_view(args, views.similarity_view, enc, corpus, args.order, args.kind,
                       center=args.center_languages)
    b = result.baseline
    print(f"{result.n} texts; unrelated-pair baseline of {enc.model_id}: median "
          f"{b.median:.3f} (5-95%: {b.p5:.3f}-{b.p95:.3f})")
    if result.top.rows:
        print("most similar pairs:  cosine  percentile  rescaled")
        for _, _, a, b_, cos, pct, res, text_a, text_b in result.top.rows:
            print(f"  {a} ~ {b_}  {cos:.4f}  {views.fmt_pct(pct):>10}  {res:8.3f}  "
                  f"{_short(text_a, 30)} | {_short(text_b, 30)}")
    return _finish(result, outs, f"{result.n} x {result.n}, {args.order} order")


def _compare_models(args, enc, corpus, outs: list[Path]) -> int:
    """similarity --compare MODEL: the same texts through a second model."""
    from e5ui import views

    second = _encoder(argparse.Namespace(**{**vars(args), "model": args.compare,
                                            "encoder_url": None}))
    result = _run_view(args, views.compare_models_view, enc, second, corpus, args.order,
                       args.kind, args.center_languages)
    print(result.summary)
    print("pairs ranked most differently:  cosine (rank) model 1 | model 2")
    for row in result.table.rows[:10]:
        _, _, a, b, cos1, rank1, _, cos2, rank2, _, _, text_a, text_b = row
        print(f"  {a} ~ {b}  {cos1:.4f} ({rank1})  |  {cos2:.4f} ({rank2})  "
              f"{_short(text_a, 28)} | {_short(text_b, 28)}")
    return _finish(result, outs, f"{result.agreement.n_pairs} pairs")


def cmd_neighbours(args) -> int:
    from e5ui import views

    if args.k < 1:
        raise CliError("-k must be at least 1")
    outs = _check_outs(args.out, (".tsv", ".csv"), (args.queries, args.corpus))
    queries = _read(args.queries, "queries")
    corpus = _read(args.corpus, "corpus")
    symmetric = args.symmetric or args.corpus_kind == "query"
    enc = _encoder(args)
    result = _run_view(args, views.neighbours_view, enc, queries, corpus, args.k,
                       args.cross_lingual, args.margin, symmetric,
                       compare_bm25=args.compare_bm25)
    if not outs:
        for row in result.table.rows:
            q, rank, c, cos, _, pct, _, ql, cl, hub, _, text = row[:12]
            bm25 = f"  | BM25 -> {row[12]}" if len(row) > 12 and row[12] is not None else ""
            print(f"{q:>4} #{rank} -> {c:<5} {cos:.4f}  pct {views.fmt_pct(pct):>6}  "
                  f"{ql}->{cl} {hub:3} {_short(text)}{bm25}")
    print(result.summary)
    if result.keyword is not None:
        print(result.keyword.summary)
    return _finish(result, outs, f"{len(result.table)} rows")


def cmd_map(args) -> int:
    from e5ui import runtime, views

    outs = _check_outs(args.out, (".csv", ".tsv", ".html", ".parquet"), (args.file,))
    if not outs and not args.projector:
        raise CliError("map needs --out FILE (coords.csv, map.html, map.parquet) or "
                       "--projector DIR")
    if args.projector and not Path(args.projector).is_dir():
        raise CliError(f"--projector: the folder {args.projector} does not exist")
    corpus = _read(args.file, "input")
    runtime.configure_numba_cache()
    enc = _encoder(args)
    progress, close = _progress(args)
    try:
        data = views.map_data(enc, corpus, progress, center=args.center_languages)
    finally:
        close()
    result = views.map_view(data, args.method, args.dim, seed=args.seed,
                            n_neighbors=args.neighbors)
    print(result.summary)
    if args.projector:
        for path in result.write_projector(args.projector):
            print(f"e5ui: wrote {path}", file=sys.stderr)
    return _finish(result, outs, f"{result.projection.method.upper()}, {args.dim}-D")


def cmd_bitext(args) -> int:
    from e5ui import textio, views

    inputs = (args.source, args.target, *([args.gold] if args.gold else []))
    outs = _check_outs(args.out, (".tsv", ".csv", ".tmx"), inputs)
    source = _read(args.source, "source")
    target = _read(args.target, "target")
    gold = textio.read_gold(args.gold, source=source, target=target) if args.gold else None
    enc = _encoder(args)
    result = _run_view(args, views.bitext_view, enc, source, target, args.method,
                       not args.no_one_to_one, args.threshold, gold, args.k,
                       args.src_lang, args.tgt_lang)
    print(result.summary)
    if result.metrics:
        print(result.metrics)
    return _finish(result, outs)


def cmd_align(args) -> int:
    from e5ui import segment, textio, views

    if args.max_merge < 1:
        raise CliError("--max-merge must be at least 1")
    inputs = (args.source, args.target, *([args.gold] if args.gold else []))
    outs = _check_outs(args.out, (".tsv", ".csv", ".tmx", ".html"), inputs)
    src_lang = segment.check_lang(args.src_lang, "--src-lang")
    tgt_lang = segment.check_lang(args.tgt_lang, "--tgt-lang")
    source = segment.read_document(args.source, src_lang, args.mode)
    target = segment.read_document(args.target, tgt_lang, args.mode)
    segment.check_pair(source, target)
    gold = (textio.read_links(args.gold, n_src=len(source), n_tgt=len(target)) if args.gold
            else None)
    enc = _encoder(args)
    result = _run_view(args, views.align_view, enc, source, target, args.max_merge,
                       args.threshold, gold)
    print(result.summary)
    if result.metrics:
        print(result.metrics)
    return _finish(result, outs, f"{len(result.alignment.links)} links")


def cmd_explain(args) -> int:
    from e5ui import views

    outs = _check_outs(args.out, (".html",), (args.file,) if args.file else ())
    corpus = _read(args.file, "input") if args.file else None
    enc = _encoder(args)
    result = _run_view(args, views.explain_view, enc, corpus)
    print(result.summary)
    return _finish(result, outs)


def cmd_serve(args) -> int:
    import os
    from dataclasses import fields

    from e5ui import ui
    from e5ui.settings import AUTH_ENV, REMOTE, Limits, Settings, parse_auth

    limits = Limits.from_env(**{f.name: getattr(args, f.name) for f in fields(Limits)})
    names = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    settings = Settings(
        model=REMOTE if args.encoder_url else args.model, device=args.device, dtype=args.dtype,
        cache_dir=args.cache_dir, fallback=not args.no_fallback, host=args.host, port=args.port,
        share=args.share, auth=parse_auth(args.auth or os.environ.get(AUTH_ENV)),
        insecure=args.insecure_no_auth, models=names, limits=limits,
        encoder_url=args.encoder_url, remote_prefix=args.remote_prefix,
        remote_model=args.remote_model,
    )
    settings.check()  # before anything starts: an exposed app needs a login
    demo = ui.build_demo(settings=settings)
    ui.launch(demo, settings)
    return 0


COMMANDS = {
    "serve": cmd_serve,
    "embed": cmd_embed,
    "similarity": cmd_similarity,
    "neighbours": cmd_neighbours,
    "neighbors": cmd_neighbours,
    "map": cmd_map,
    "project": cmd_map,
    "bitext": cmd_bitext,
    "align": cmd_align,
    "explain": cmd_explain,
}


def _quiet_libraries(args) -> None:
    """Hides transformers' weights-loading bar and chatter, keeps download bars on stderr."""
    if getattr(args, "verbose", False):
        return
    try:
        from huggingface_hub.utils import enable_progress_bars
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover
        return
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    if not getattr(args, "quiet", False):
        enable_progress_bars()


def main(argv: list[str] | None = None) -> int:
    """Runs the command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if getattr(args, "verbose", False) else logging.WARNING,
        format="e5ui: %(levelname)s: %(message)s",
        stream=sys.stderr,
    )
    _quiet_libraries(args)
    try:
        return COMMANDS[args.command](args)
    except (CliError, ValueError, OSError) as exc:
        _say("error", str(exc))
        return 2
    except KeyboardInterrupt:
        print("e5ui: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
