"""The app under hostile-but-fair use, through its API on loopback (a deterministic fake encoder,
so this is about the server, not the model): limits enforced on the server side, downloads that
do not pile up, error messages without server paths, and an app that still answers correctly
after all of it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FakeEncoder
from tests.integration.conftest import rows, small_app

pytestmark = pytest.mark.integration


def folder_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app with small limits, a fake encoder and its own temp folders."""
    root = tmp_path_factory.mktemp("app")
    with small_app(root, FakeEncoder(), max_texts=50, max_side=60, max_map_texts=60,
                   max_chars=300, max_upload_mb=1, max_rows=20, export_mb=64) as (client, store):
        yield client, store, root


def test_limits_hold_on_the_server_side(served):
    from gradio_client.exceptions import AppError

    client, _, _ = served
    with pytest.raises(AppError, match="at most 50"):
        client.predict("\n".join(f"t{i}" for i in range(51)), api_name="/similarity")
    with pytest.raises(AppError, match="at most 60"):
        client.predict("q", "\n".join(f"c{i}" for i in range(61)), api_name="/neighbours")
    table, summary, notes, files, *_ = client.predict(
        "\n".join(f"q{i}" for i in range(10)), "\n".join(f"c{i}" for i in range(30)), None,
        None, 5, api_name="/neighbours")
    assert len(table["data"]) == 20 and "first 20 of 50 rows" in notes
    assert len(Path(files[0]).read_text().splitlines()) == 51  # the download has them all
    text = client.predict("x" * 5000, "y", api_name="/pair_score")
    assert "only the first 300 were used" in text


def test_an_upload_over_the_size_limit_is_refused_by_the_server(served):
    import httpx

    client, _, root = served
    body = b"a line of text\n" * 100_000  # 1.5 MB against a 1 MB limit
    # Straight to the upload route, as a script would (gradio_client checks the size itself).
    reply = httpx.post(f"{client.src.rstrip('/')}/gradio_api/upload",
                       files={"files": ("big.txt", body, "text/plain")}, timeout=60)
    assert reply.status_code == 413
    assert "maximum allowed size" in reply.text
    assert "raise the limit with --max-upload-mb (or E5UI_MAX_UPLOAD_MB)" in reply.text
    assert "/tmp" not in reply.text and str(root) not in reply.text
    small = httpx.post(f"{client.src.rstrip('/')}/gradio_api/upload",
                       files={"files": ("small.txt", b"fine\n", "text/plain")}, timeout=60)
    assert small.status_code == 200


def test_downloads_do_not_pile_up_over_200_requests(served):
    client, store, root = served
    gradio_dir = Path(__import__("gradio").utils.get_upload_folder())
    sizes = []
    # Growth, not the folder's size: other apps and earlier tests on this machine share it.
    start = folder_bytes(gradio_dir)
    for i in range(200):
        texts = "\n".join(f"request {i} text {j}" for j in range(8))
        client.predict(texts, api_name="/similarity")
        if i in (19, 199):
            sizes.append(store.usage())
    # One session keeps only its latest similarity downloads: the same bytes give or take
    # the digits of the request number.
    assert sizes[1] <= sizes[0] * 1.05, sizes
    assert sizes[1] < 64 * 2**20
    assert folder_bytes(gradio_dir) - start < 16 * 2**20


def test_after_everything_a_normal_request_is_answered_right(served):
    client, _, _ = served
    hostile = ["=cmd|' /C calc'!A0", "![x](http://example.invalid/b.png)", "\u200b\u200d",
               "<script>alert(1)</script>", '"quoted', "tab\there"]
    client.predict("\n".join(hostile), api_name="/similarity")
    fig, summary, notes, table, files, *_ = client.predict(
        "The cat sleeps.\nDie Katze schläft.\nStocks fell.", api_name="/similarity")
    fake = FakeEncoder()
    emb = fake.encode(["The cat sleeps.", "Die Katze schläft.", "Stocks fell."],
                      kind="symmetric")
    sims = emb @ emb.T
    best = max((sims[i, j], i, j) for i in range(3) for j in range(i + 1, 3))
    top = rows(table)[0]
    assert (top["index_a"], top["index_b"]) == (best[1], best[2])
    assert float(top["cosine"]) == pytest.approx(best[0], abs=1e-4)
    npy = next(f for f in files if f.endswith(".npy"))
    np.testing.assert_allclose(np.load(npy), emb, atol=1e-6)
