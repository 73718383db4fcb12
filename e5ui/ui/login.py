"""With ``--auth``, every route but the login page needs the login.

Gradio checks the login route by route, and some routes go without (FastAPI's own
``/openapi.json``, ``/gradio_api/cancel``, ``/gradio_api/reset``, ``/gradio_api/heartbeat``,
``/gradio_api/startup-events``, ...). Rather than trust every route, now and in gradio's next
release, ``LoginRequired`` turns the list around: it lets through the login page, the login and
logout routes and the static files the login page is drawn with, and answers everything else
401 unless the request carries the login cookie gradio set. Without ``--auth`` it lets
everything through.
"""

from __future__ import annotations

import inspect

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# The login page and what it is drawn with; everything else needs the login. (Gradio's launch
# calls startup-events itself, without a login, to start the app; it answers true or false.)
PUBLIC = frozenset({"/", "/login", "/login/", "/logout", "/favicon.ico", "/theme.css",
                    "/gradio_api/theme.css", "/manifest.json", "/robots.txt",
                    "/gradio_api/startup-events"})
PUBLIC_PREFIXES = ("/assets/", "/static/", "/svelte/", "/pwa_icon")


class LoginRequired:
    """ASGI middleware: a request without a valid login gets 401, except for ``PUBLIC``
    paths (and ``PUBLIC_PREFIXES``). The login is gradio's own: the ``access-token`` cookie
    its ``/login`` route set (or its ``auth_dependency``)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or _public(scope) \
                or await _logged_in(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = JSONResponse({"detail": {"error": "Not authenticated",
                                            "auth_message": "Log in on the app's page first"}},
                                status_code=401)
        await response(scope, receive, send)


def _public(scope: Scope) -> bool:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root):] or "/"
    return path in PUBLIC or path.startswith(PUBLIC_PREFIXES)


async def _logged_in(scope: Scope) -> bool:
    """True without a login to give, or with gradio's login cookie (or auth dependency)."""
    app = scope.get("app")  # the gradio App (Starlette puts itself in the scope)
    if app is None or (getattr(app, "auth", None) is None
                       and getattr(app, "auth_dependency", None) is None):
        return True
    request = Request(scope)
    if app.auth_dependency is not None:
        user = app.auth_dependency(request)
        return (await user if inspect.isawaitable(user) else user) is not None
    cookie = app.cookie_id
    token = (request.cookies.get(f"access-token-{cookie}")
             or request.cookies.get(f"access-token-unsecure-{cookie}"))
    return token is not None and token in app.tokens
