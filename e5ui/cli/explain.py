"""``explain [FILE]``: where the file's pair scores fall among unrelated pairs."""

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

HELP = "where your pair scores fall among unrelated pairs"


def add_arguments(p) -> None:
    p.add_argument("file", nargs="?", default=None,
                   help=f"{INPUT_HELP} (optional: without it, the model's baseline alone)")
    add_columns(p)
    p.add_argument("--out", action="append", default=None, help="the histogram as .html")


def run(args, encoder: EncoderFactory) -> int:
    from e5ui import views

    outs = check_outs(args.out, (".html",), (args.file,) if args.file else ())
    corpus = read(args.file, "input", args) if args.file else None
    enc = encoder(args)
    result = run_view(args, views.explain_view, enc, corpus)
    print(result.summary)
    return finish(result, outs)
