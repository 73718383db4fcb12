"""Gradio's refusal of an upload over ``--max-upload-mb`` ("File exceeds maximum allowed size")
names the size but not how to raise it: ``UploadLimitNote`` adds the flag and its variable to
that one answer (status 413 of the upload route), so a script's author or the operator reading
it knows what to change. A 400-MB Parquet file of 100,000 texts with their vectors needs it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOTE = (b". The server's operator can raise the limit with --max-upload-mb (or "
        b"E5UI_MAX_UPLOAD_MB).")


class UploadLimitNote:
    """ASGI middleware: the upload route's 413 answer with ``NOTE`` appended."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.rstrip("/").endswith("/upload"):
            await self.app(scope, receive, send)
            return
        held: list[Message] = []  # a 413's start, then its body's parts until the last

        async def noted(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 413:
                held.append(message)  # sent with the body, whose length changes
                return
            if not held or message["type"] != "http.response.body":
                await send(message)
                return
            held.append(message)
            if message.get("more_body"):
                return
            start, *parts = held
            body = b"".join(part.get("body", b"") for part in parts).rstrip(b". ") + NOTE
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            await send({**start, "headers": [*headers,
                                             (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, noted)
