"""Encoding on a server: ``http`` (the client: retries, deadline, reply cap, TLS, redaction),
``protocol`` (what the server speaks: requests, validation, error shapes; one entry per
protocol in ``PROTOCOLS``) and ``encoder`` (``RemoteEncoder``: the E5 rules on top)."""

from __future__ import annotations

from e5ui.encoding.remote.encoder import RemoteEncoder
from e5ui.encoding.remote.http import RemoteError, redact_url, retry_after_seconds
from e5ui.encoding.remote.protocol import PROTOCOLS

__all__ = ["PROTOCOLS", "RemoteEncoder", "RemoteError", "redact_url", "retry_after_seconds"]
