"""What every subcommand shares: the model and remote flags, reading inputs, checking outputs
before any work, the progress bar, printing notes and rows, writing results."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from e5ui import models
from e5ui.encoding.device import BACKENDS, DTYPES

# Builds the encoder the arguments name (``e5ui.__main__._encoder``), passed to each command.
EncoderFactory = Callable[[argparse.Namespace], Any]


class CliError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def say(kind: str, message: str) -> None:
    """One ``e5ui: kind: message`` line on stderr."""
    print(f"e5ui: {kind}: {message}", file=sys.stderr)


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


def add_common(parser: argparse.ArgumentParser) -> None:
    """The flags every subcommand takes: the model, where it runs, the cache, remote encoding,
    quiet and verbose."""
    parser.add_argument(
        "--model",
        default=models.DEFAULT_MODEL,
        help="small | base | large | large-instruct | bundled, a hub id or a local directory "
        f"(default: {models.DEFAULT_MODEL}; falls back to bundled when unavailable)",
    )
    parser.add_argument("--no-fallback", action="store_true",
                        help="fail instead of falling back to the bundled model")
    parser.add_argument("--dtype", default="auto", choices=list(DTYPES),
                        help="auto (the fastest setting that stays faithful to float32 on "
                        "this machine), float32, bfloat16, float16 (GPU), int8-weights or int8 "
                        "(OpenVINO; int8 is faster and less faithful, its cost is printed)")
    parser.add_argument("--backend", default="auto", choices=["auto", *BACKENDS],
                        help="what runs the model: torch, openvino (pip install "
                        "'e5ui[openvino]') or auto (default: e5ui decides, see --dtype)")
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


# -- inputs and outputs -------------------------------------------------------------------------
def add_center_flag(parser: argparse.ArgumentParser) -> None:
    """--center-languages, for the views that can show meaning rather than language."""
    parser.add_argument("--center-languages", action="store_true",
                        help="subtract each language's mean embedding first (meaning, not "
                        "language)")


INPUT_HELP = ".txt (one text per line), or .csv, .tsv, .jsonl, .parquet (a text column)"


def add_columns(parser: argparse.ArgumentParser) -> None:
    """--text-column, --lang-column, --label-column, --id-column: which columns of a table
    input (.csv, .tsv, .jsonl, .parquet) to read, for every subcommand that reads texts."""
    group = parser.add_argument_group("columns of a .csv, .tsv, .jsonl or .parquet input")
    group.add_argument("--text-column", default=None, metavar="NAME",
                       help="the column holding the texts (default: text)")
    for role, default in (("lang", "lang"), ("label", "label"), ("id", "id")):
        group.add_argument(f"--{role}-column", default=None, metavar="NAME",
                           help=f"the {role} column (default: {default}, read when present; a "
                           "name given must exist)")


def columns(args: argparse.Namespace) -> dict[str, str | None]:
    """The column flags as ``textio.read_texts`` keyword arguments."""
    return {f"{role}_column": getattr(args, f"{role}_column", None)
            for role in ("text", "lang", "label", "id")}


def read(path: str, what: str, args: argparse.Namespace | None = None):
    """A text file (.txt, .csv, .tsv, .jsonl, .parquet) read exactly, from the columns the
    flags name (``add_columns``); an empty one is an error naming ``what``."""
    from e5ui import textio

    given = columns(args) if args is not None else {}
    return textio.require_texts(textio.read_texts(path, **given), what)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_out(path: str | None, allowed: tuple[str, ...], inputs: tuple[str, ...] = ()
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


def check_outs(paths: list[str] | None, allowed: tuple[str, ...],
               inputs: tuple[str, ...] = ()) -> list[Path]:
    """Checks every --out of a view before any work (see ``check_out``)."""
    outs = [check_out(p, allowed, inputs) for p in paths or []]
    for i, out in enumerate(outs):
        if any(_same_file(out, other) or out == other for other in outs[:i]):
            raise CliError(f"--out {out} is given twice")
    return outs


# -- running and printing -----------------------------------------------------------------------
def progress_bar(args: argparse.Namespace):
    """A views.ViewProgress drawing one tqdm bar on stderr (None with -q), and its closer."""
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


def run_view(args: argparse.Namespace, view: Callable, *view_args, **view_kwargs):
    """Calls a view with a progress bar on stderr."""
    progress, close = progress_bar(args)
    try:
        return view(*view_args, progress=progress, **view_kwargs)
    finally:
        close()


def finish(result, outs: list[Path], what: str = "") -> int:
    """Prints the result's notes and writes every --out (the format follows the suffix)."""
    for note in result.notes:
        say("note", note)
    for out in outs:
        result.write(out)
        print(f"e5ui: wrote {out}{f' ({what})' if what else ''}", file=sys.stderr)
    return 0


def records(table) -> Iterator[dict[str, Any]]:
    """A views.Table's rows as {column name: value}: commands print cells by name, so a column
    added to a view (and its registry entry) never shifts what they print."""
    for row in table.rows:
        yield dict(zip(table.header, row, strict=True))


def short(text: str, width: int = 60) -> str:
    """One line of at most ``width`` characters (an ellipsis where cut)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# -- vectors made earlier -----------------------------------------------------------------------
def add_vector_flags(parser: argparse.ArgumentParser, *flags: tuple[str, str]) -> None:
    """The flags that use vectors made earlier instead of encoding: one per side (``flags``:
    (flag, what it holds)), ``--other-vectors``, ``--ignore-embeddings`` and, for an ``.npy``
    that does not exist yet, the embed job's ``--resume`` and ``--chunk``."""
    group = parser.add_argument_group(
        "vectors made earlier (no encoding): an .npy written by 'embed --out' (with its "
        ".json) or a .parquet with an 'embedding' column (as 'map --out map.parquet' writes)")
    for flag, what in flags:
        group.add_argument(flag, default=None, metavar="FILE",
                           help=f"{what}; an .npy that does not exist yet (or holds an "
                           "unfinished job) is written first, chunk by chunk, as 'embed' does")
    group.add_argument("--other-vectors", action="store_true",
                       help="use vectors of another or an unknown model (or centered ones) "
                       "instead of refusing them: calibration is then off (no percentiles) and "
                       "nothing else can be encoded into their space")
    group.add_argument("--ignore-embeddings", action="store_true",
                       help="encode a .parquet input anew even when it has an 'embedding' "
                       "column")
    group.add_argument("--resume", action="store_true",
                       help="continue the unfinished embed job recorded beside an .npy")
    group.add_argument("--chunk", type=int, default=1000, metavar="N",
                       help="texts per chunk of such a job (default 1000)")


def text_progress(args: argparse.Namespace, desc: str = "embedding"):
    """An encode progress(done, total) drawing a tqdm bar of texts on stderr (nothing with -q),
    and its closer."""
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.quiet:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="text", file=sys.stderr, desc=desc, smoothing=0.1)
        bar.update(done - bar.n)  # tqdm shows the rate and the time left

    return progress, lambda: bar.close() if bar is not None else None


def with_vectors(args: argparse.Namespace, enc, corpus, source: str, given: str | None,
                 kind: str, what: str):
    """The encoder a view gets for ``corpus``: ``enc`` itself, or one serving the vectors of
    ``given`` (or of ``source``'s own ``embedding`` column) for its texts.

    An ``.npy`` that does not exist yet, or holds an unfinished job, is first written from
    ``source`` by the embed job (``--resume`` continues one), with ``kind``'s prompt.

    Args:
        args: the parsed flags (``add_vector_flags``).
        enc: the loaded encoder (or one already serving the other side's vectors).
        corpus: the texts read from ``source``.
        source: the input file.
        given: the vectors' file its flag names, or None.
        kind: the prompt the view reads these texts with.
        what: "input", "corpus", "queries", for messages.
    """
    from e5ui import embedjob
    from e5ui.encoding.vectors import LoadedVectors, VectorsMismatch, use_vectors
    from e5ui.textio import vectors as vectorio

    path = Path(given) if given is not None else None
    if path is None:
        column, recorded = vectorio.has_embeddings(source)
        if getattr(args, "ignore_embeddings", False) or not column:
            return enc
        if not recorded:  # another tool's vectors: encoding stays the default
            say("note", f"{Path(source).name} has an {vectorio.COLUMN!r} column that e5ui did "
                "not write, so the texts are encoded; to use its vectors, name the file with "
                "the embeddings flag (and --other-vectors if another model made them)")
            return enc
        path = Path(source)
        say("note", f"using the {vectorio.COLUMN!r} column of {path.name} for the {what} (no "
            "encoding; --ignore-embeddings encodes anew)")
    if path.suffix.lower() not in (".npy", ".parquet"):
        raise CliError(f"{path.name}: vectors are read from .npy or .parquet files")
    if path.suffix.lower() == ".npy" and (not path.exists()
                                          or embedjob.record_path(path).exists()):
        if args.chunk < 1:
            raise CliError("--chunk must be at least 1")
        if _same_file(path, Path(source)):
            raise CliError(f"{path} is the input file {source}")
        model = enc
        while isinstance(model, LoadedVectors) and model.own and model.encoder is not None:
            model = model.encoder  # the other side's vectors: the model itself encodes these
        progress, close = text_progress(args, f"embedding the {what}")
        try:
            job = embedjob.run(model, Path(source), path, kind=kind, resume=args.resume,
                               chunk=args.chunk, progress=progress, columns=columns(args))
        finally:
            close()
        for note in job.notes:
            say("note", note)
        resumed = f", resumed after {job.resumed_from}" if job.resumed else ""
        print(f"e5ui: wrote {path} ({job.n} x {job.dim}{resumed})", file=sys.stderr)
    elif path.suffix.lower() == ".npy":
        say("note", f"using {path.name} for the {what} (no encoding)")
    try:
        loaded = use_vectors(enc, corpus, path, allow_other=args.other_vectors)
    except VectorsMismatch as exc:
        raise CliError(str(exc)) from None
    if not loaded.own:
        say("warning", f"calibration off for the {what}: {loaded.reason}")
    return loaded
