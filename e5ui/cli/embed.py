"""``embed FILE --out emb.npy``: texts to a .npy file, chunk by chunk, resumable."""

from __future__ import annotations

import sys
from pathlib import Path

from e5ui.cli.common import (
    INPUT_HELP,
    CliError,
    EncoderFactory,
    add_columns,
    check_out,
    columns,
    say,
    text_progress,
)

HELP = "embed texts into a .npy file"


def add_arguments(p) -> None:
    p.add_argument("file", help=INPUT_HELP)
    add_columns(p)
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


def run(args, encoder: EncoderFactory) -> int:
    from e5ui import embedjob

    if args.chunk < 1:
        raise CliError("--chunk must be at least 1")
    out = check_out(args.out, (".npy",), (args.file,))
    source = Path(args.file)
    if not source.is_file():
        raise CliError(f"No such file: {source}")
    enc = encoder(args)
    progress, close = text_progress(args)
    try:
        job = embedjob.run(enc, source, out, kind=args.kind, normalize=not args.no_normalize,
                           resume=args.resume, chunk=args.chunk, progress=progress,
                           columns=columns(args))
    finally:
        close()
    for note in job.notes:
        say("note", note)
    info = enc.describe()
    resumed = ""
    if job.resumed:  # the rows kept from the killed job were checked, and the user sees so
        resumed = (f", resumed after {job.resumed_from}: verified {job.resumed_from} rows in "
                   f"{job.verified_chunks} chunk(s), encoded {job.n - job.resumed_from}")
    print(f"e5ui: wrote {out} ({job.n} x {job.dim}, {info['model']} via {info['source']}, "
          f"{info['dtype']}{resumed})", file=sys.stderr)
    return 0
