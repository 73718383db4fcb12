"""How the app runs: the flags of ``python app.py`` / ``e5ui serve``, its limits, and who may do
what. Every limit has a flag and an environment variable (``E5UI_MAX_TEXTS`` ...); the README's
"Limits and safety" table lists them.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, fields

from e5ui import models

# The models the model panel offers when the operator names none (loopback only).
MODEL_CHOICES = ["small", "base", "large", "large-instruct", "bundled", "bundled-enpt"]
REMOTE = "remote"  # the model name of the --encoder-url server
AUTH_ENV = "E5UI_AUTH"  # "user:password"; read from the environment, never logged


@dataclass(frozen=True)
class Limits:
    """What one request may ask of the server. The app enforces these on the server side of
    every endpoint, so a raw API call cannot bypass what the page enforces.

    Attributes:
        max_texts: texts per request in the one-list views (similarity, explain) and
            queries of the neighbours view.
        max_side: texts per side in bitext (and sentences per side in align).
        max_map_texts: texts on the map (and what its explore endpoints read) and in the
            neighbours corpus: the views that stay linear in the number of texts, so they take
            a real dataset rather than a sample.
        max_chars: characters of one text; longer texts are cut (with a note): the model reads
            at most 512 tokens, a few thousand characters, so nothing it would read is lost.
        max_upload_mb: size of one uploaded file (refused by the server above it).
        max_rows: rows of a table shown on the page (the downloads hold every row).
        export_age_s: downloads older than this are deleted.
        export_mb: disk the downloads of all sessions may use; the oldest sessions' go first.
        cache_disk_mb: disk the embedding cache's store (``--cache-dir``) may use; the
            oldest entries go first.
        remote_deadline_s: seconds one request to the ``--encoder-url`` server may take, its
            retries and waits included (``--remote-deadline``).
    """

    max_texts: int = 5000
    max_side: int = 20000
    max_map_texts: int = 100000
    max_chars: int = 20000
    max_upload_mb: int = 50
    max_rows: int = 1000
    export_age_s: int = 3600
    export_mb: int = 1024
    cache_disk_mb: int = 2048
    remote_deadline_s: int = 60

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **given: int | None) -> Limits:
        """Limits from keyword arguments (flags), else ``E5UI_<NAME>`` variables, else defaults.

        Raises:
            ValueError: for a value that is not a positive whole number.
        """
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = given.get(f.name)
            source = f"--{f.name.replace('_', '-')}"
            if raw is None and f"E5UI_{f.name.upper()}" in env:
                raw, source = env[f"E5UI_{f.name.upper()}"], f"E5UI_{f.name.upper()}"
            if raw is None:
                continue
            try:
                value = int(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{source} must be a whole number, got {raw!r}") from None
            if value < 1:
                raise ValueError(f"{source} must be at least 1, got {value}")
            values[f.name] = value
        return cls(**values)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """"user:password" -> (user, password); None stays None.

    Raises:
        ValueError: without a colon, or with an empty user or password.
    """
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError("--auth (or E5UI_AUTH) must look like user:password")
    return user, password


@dataclass
class Settings:
    """How the app runs (flags of ``python app.py``).

    Attributes:
        model: the model to load at start.
        device, dtype, backend, cache_dir, fallback: as for ``Encoder``.
        host, port, share: where to serve; anything but loopback (or a share link) is
            "exposed".
        auth: (user, password) every visitor must give; required when exposed unless
            ``insecure`` says otherwise. Never shown or logged.
        insecure: serve an exposed app without a login (the operator said so).
        models: the models visitors may switch to; None means every registry model on
            loopback and none (switching off) when exposed.
        limits: what one request may ask.
        encoder_url: an OpenAI-compatible ``/v1`` base to encode on (the model "remote").
        remote_prefix: who adds the E5 prefix on that server: "client" (e5ui) or "server".
        remote_model: the served model to use when the server serves several.
    """

    model: str = models.DEFAULT_MODEL
    device: str | None = None
    dtype: str = "auto"
    backend: str | None = None
    cache_dir: str | None = None
    fallback: bool = True
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    auth: tuple[str, str] | None = field(default=None, repr=False)
    insecure: bool = False
    models: list[str] | None = None
    limits: Limits = field(default_factory=Limits)
    encoder_url: str | None = field(default=None, repr=False)  # may carry credentials
    remote_prefix: str = "client"
    remote_model: str | None = None

    @property
    def exposed(self) -> bool:
        """Reachable from other machines: a non-loopback host or a public share link."""
        return self.share or not is_loopback(self.host)

    @property
    def switchable(self) -> list[str]:
        """The models the panel lets visitors load (empty: switching is off); "remote" is the
        ``encoder_url`` server, offered first when there is one."""
        if self.models is not None:
            names = list(self.models)
        else:
            names = [] if self.exposed else list(MODEL_CHOICES)
        if self.encoder_url and names and REMOTE not in names:
            names.insert(0, REMOTE)
        return names

    def check(self) -> None:
        """Refuses an exposed app without a login unless the operator said ``insecure``.

        Raises:
            ValueError: with what to do instead.
        """
        if self.exposed and self.auth is None and not self.insecure:
            where = "a public share link" if self.share else f"host {self.host}"
            raise ValueError(
                f"Serving on {where} lets anyone who can reach it use this app: give a login "
                f"with --auth user:password (or {AUTH_ENV}=user:password), or pass "
                "--insecure-no-auth to serve without one")
        for name in self.models or []:
            models.resolve(name)  # raises for an empty name
        if REMOTE in (self.models or []) + [self.model] and not self.encoder_url:
            raise ValueError("The model 'remote' needs --encoder-url")
