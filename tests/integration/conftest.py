"""The app on the bundled model, served once for every integration test that talks to it."""

from __future__ import annotations

import socket

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def upload(path):
    from gradio_client import handle_file

    return handle_file(str(path))


def rows(table: dict) -> list[dict]:
    """A gradio Dataframe value as a list of {column: value}."""
    return [dict(zip(table["headers"], r)) for r in table["data"]]


@pytest.fixture(scope="session")
def app_client(bundled_encoder):
    """A gradio_client Client of the app serving the bundled model (float32) on loopback."""
    from gradio_client import Client

    from e5ui import ui
    from e5ui.loader import Settings

    settings = Settings(model="bundled", port=free_port())
    demo = ui.build_demo(encoder=bundled_encoder, settings=settings)
    ui.launch(demo, settings, prevent_thread_lock=True, quiet=True)
    try:
        yield Client(f"http://127.0.0.1:{settings.port}/", verbose=False)
    finally:
        demo.close()
