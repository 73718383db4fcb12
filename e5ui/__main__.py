"""Command line: ``python -m e5ui SUBCOMMAND``.

Parses arguments and dispatches: a subcommand per view of ``e5ui.registry``, plus ``embed`` and
``serve``; each lives in ``e5ui.cli`` (its arguments, reading the inputs, calling the view — the
same function the app calls —, printing, ``result.write(--out)``). Errors become one line on
stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from e5ui import registry
from e5ui.cli.common import CliError, add_common
from e5ui.cli.common import say as _say

logger = logging.getLogger("e5ui")


# -- the subcommands ---------------------------------------------------------------------------
def _commands() -> list[tuple[str, tuple[str, ...], object]]:
    """(subcommand, its aliases, its module) in --help's order: embed, a subcommand per view of
    the registry (in its order), serve."""
    from e5ui.cli import embed, serve

    return [("embed", (), embed),
            *[(view.subcommand, view.subcommand_aliases, view.cli())
              for view in registry.views() if view.command is not None],
            ("serve", (), serve)]


def build_parser() -> argparse.ArgumentParser:
    """Returns the argument parser for all subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m e5ui",
        description="Explore multilingual-e5 embeddings from the command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, aliases, module in _commands():
        p = sub.add_parser(name, aliases=list(aliases), help=module.HELP)
        module.add_arguments(p)
        add_common(p)
        p.set_defaults(run=module.run)
    return parser


def _encoder(args):
    """The encoder the arguments name (``--encoder-url``: the server's), built as the app builds
    its own; a fallback to the bundled model is one warning line on stderr."""
    from e5ui.encoding import FallbackWarning, ModelUnavailableError, build_encoder
    from e5ui.settings import REMOTE, Limits, Settings

    limits = Limits.from_env(cache_disk_mb=args.cache_disk_mb,
                             remote_deadline_s=args.remote_deadline_s)
    settings = Settings(model=REMOTE if args.encoder_url else args.model, device=args.device,
                        dtype=args.dtype, backend=args.backend, cache_dir=args.cache_dir,
                        fallback=not args.no_fallback, limits=limits,
                        encoder_url=args.encoder_url, remote_prefix=args.remote_prefix,
                        remote_model=args.remote_model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", FallbackWarning)
        try:
            enc = build_encoder(settings.model, settings, progress=None if args.quiet else (
                lambda step: print(f"e5ui: once: {step}", file=sys.stderr, flush=True)))
        except ModelUnavailableError as exc:
            raise CliError(f"{exc} (drop --no-fallback to use the bundled model)") from None
    for w in caught:
        if issubclass(w.category, FallbackWarning):
            _say("warning", str(w.message))
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    fidelity = getattr(enc, "fidelity", None)
    if fidelity is not None:  # what a setting other than float32 costs, in one line
        _say("note", fidelity.line())
    return enc


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
        # _encoder is looked up when called, so a test can replace it on this module.
        return args.run(args, lambda a: _encoder(a))
    except (CliError, ValueError, OSError) as exc:
        _say("error", str(exc))
        return 2
    except KeyboardInterrupt:
        print("e5ui: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
