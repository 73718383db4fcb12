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
        print(
            f"e5ui: warning: {corpus.source} line {corpus.rows[t.index] + 1}: {t.tokens} tokens, "
            f"truncated to {max_tokens}",
            file=sys.stderr,
        )
    if len(result.truncated) > 20:
        print(f"e5ui: warning: ... {len(result.truncated) - 20} more truncated inputs",
              file=sys.stderr)


def cmd_embed(args) -> int:
    from e5ui import textio

    corpus = textio.require_texts(textio.read_texts(args.file))
    for note in corpus.notes():
        print(f"e5ui: note: {note}", file=sys.stderr)
    out = Path(args.out)
    if out.suffix.lower() != ".npy":
        raise CliError(f"--out must end in .npy, got {out.name}")
    enc = _encoder(args)
    progress, close = _progress_bar(args, "encoding")
    try:
        result = enc.encode_detailed(
            corpus.texts, kind=args.kind, normalize=not args.no_normalize, progress=progress
        )
    finally:
        close()
    _report_truncation(corpus, result, enc.max_length)
    textio.write_npy(out, result.embeddings)
    info = enc.describe()
    print(
        f"e5ui: wrote {out} ({result.embeddings.shape[0]} x {result.embeddings.shape[1]}, "
        f"{info['model']} via {info['source']}, {info['dtype']})",
        file=sys.stderr,
    )
    return 0


COMMANDS = {"embed": cmd_embed}


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
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the weights-loading bar, not download bars
            hf_logging.set_verbosity_error()
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
