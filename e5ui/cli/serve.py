"""``serve``: the web app (the same as ``python app.py``)."""

from __future__ import annotations

from dataclasses import fields

from e5ui.cli.common import EncoderFactory

HELP = "run the web app (same as python app.py)"
# Every subcommand has --cache-disk-mb and --remote-deadline already.
_SHARED_LIMITS = ("cache_disk_mb", "remote_deadline_s")


def add_arguments(p) -> None:
    from e5ui.settings import AUTH_ENV, Limits

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
        if f.name in _SHARED_LIMITS:
            continue
        limits.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, type=int, default=None,
                            metavar="N", help=f"default {f.default}")


def run(args, encoder: EncoderFactory) -> int:
    """Builds the app from the flags and serves it (the app builds its own encoder)."""
    import os

    from e5ui import ui
    from e5ui.settings import AUTH_ENV, REMOTE, Limits, Settings, parse_auth

    limits = Limits.from_env(**{f.name: getattr(args, f.name) for f in fields(Limits)})
    names = [m.strip() for m in args.models.split(",") if m.strip()] if args.models else None
    settings = Settings(
        model=REMOTE if args.encoder_url else args.model, device=args.device, dtype=args.dtype,
        backend=args.backend, cache_dir=args.cache_dir, fallback=not args.no_fallback,
        host=args.host, port=args.port,
        share=args.share, auth=parse_auth(args.auth or os.environ.get(AUTH_ENV)),
        insecure=args.insecure_no_auth, models=names, limits=limits,
        encoder_url=args.encoder_url, remote_prefix=args.remote_prefix,
        remote_model=args.remote_model,
    )
    settings.check()  # before anything starts: an exposed app needs a login
    demo = ui.build_demo(settings=settings)
    ui.launch(demo, settings)
    return 0
