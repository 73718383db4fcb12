"""The app's boundary, through its API on loopback (a deterministic fake encoder, so this is
about the server): file inputs read only what the requesting client uploaded (never another
session's downloads, never a server path), every route but the login page needs the login
under --auth, and every parameter of every endpoint that does not fit is refused with a
sentence naming it."""

from __future__ import annotations

import json
import re
import shutil
import uuid
from pathlib import Path

import pytest

from tests.conftest import ASSETS, FakeEncoder
from tests.integration.conftest import free_port, rows, upload

pytestmark = pytest.mark.integration

SECRETS = ["Alpha's salary is 91,000.", "Beta moves to Lisbon in May.",
           "Gamma's password hint: the cat's name."]
FILE = {"meta": {"_type": "gradio.FileData"}}


def fd(path) -> dict:
    """A file parameter as the API takes it, naming a server path (no upload)."""
    return {"path": str(path), **FILE}


def call(base: str, api: str, data: list) -> tuple[str, object]:
    """One request straight to the queue's HTTP API, as a script on another machine would
    send it (gradio_client would upload a local path itself): ("complete", outputs) or
    ("error", message)."""
    import httpx

    reply = httpx.post(f"{base}gradio_api/call/{api}", json={"data": data}, timeout=60)
    assert reply.status_code == 200, reply.text
    event_id = reply.json()["event_id"]
    with httpx.stream("GET", f"{base}gradio_api/call/{api}/{event_id}", timeout=120) as stream:
        text = "".join(stream.iter_text())
    kind, payload = re.findall(r"^event: (\w+)\ndata: (.*)$", text, re.M)[-1]
    value = json.loads(payload)
    return kind, (value or {}).get("error") if kind == "error" else value


def assert_sentence_naming(message, name: str) -> None:
    """A refusal a user can act on: words naming the parameter, no server path, no
    traceback, not gradio's "verbose error reporting" placeholder."""
    assert isinstance(message, str), message
    assert re.search(rf"(?<![\w/]){re.escape(name)}(?!\w)", message), message
    assert len(message.split()) >= 5, message
    assert "verbose error" not in message and "Traceback" not in message, message
    assert not re.search(r"/(tmp|work|root|home|proc|etc)\b", message), message


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The app as it runs for users: downloads in a folder inside gradio's upload folder
    (where gradio's own path check lets any file through), small limits, a fake encoder."""
    from gradio.utils import get_upload_folder
    from gradio_client import Client

    from e5ui import ui
    from e5ui.holder import ModelHolder
    from e5ui.settings import Limits, Settings
    from e5ui.ui.storage import ExportStore

    root = tmp_path_factory.mktemp("boundary")
    mp = pytest.MonkeyPatch()
    mp.setenv("E5UI_CACHE_DIR", str(root / "cache"))
    limits = Limits(max_texts=50, max_side=60, max_chars=300, max_upload_mb=1, max_rows=20)
    settings = Settings(model="fake", port=free_port(), limits=limits)
    exports = Path(get_upload_folder()) / f"e5ui-exports-test-{uuid.uuid4().hex[:8]}"
    store = ExportStore(exports, limits.export_age_s, limits.export_mb * 2**20)
    demo = ui.build_demo(settings=settings, holder=ModelHolder(settings, encoder=FakeEncoder()),
                         store=store)
    ui.launch(demo, settings, prevent_thread_lock=True, quiet=True)
    base = f"http://127.0.0.1:{settings.port}/"
    try:
        yield base, lambda: Client(base, verbose=False, download_files=False), root
    finally:
        demo.close()
        shutil.rmtree(exports, ignore_errors=True)
        mp.undo()


def endpoint_data(client, api: str, text: str = "one\ntwo\nthree") -> tuple[list, list]:
    """(parameters, values) of an endpoint: the defaults, texts where a value is required."""
    params = client.view_api(print_info=False, return_format="dict")["named_endpoints"][api][
        "parameters"]
    data = [p["parameter_default"] if p["parameter_has_default"] else text for p in params]
    return params, data


# -- file inputs ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def someone_elses_download(served):
    """Session A maps its private texts; the Embedding Projector's metadata.tsv it gets back
    holds them in a 'text' column (a list any view reads)."""
    _, client, _ = served
    a = client()
    _, _, _, files = a.predict("\n".join(SECRETS), None, "pca", 2, api_name="/map")
    path = next(f["path"] for f in files if f["path"].endswith("metadata.tsv"))
    assert any(s in Path(path).read_text(encoding="utf-8") for s in SECRETS)
    return path


FILE_PARAMS = [("similarity", "file"), ("similarity_compare", "file"),
               ("neighbours", "query_file"), ("neighbours", "corpus_file"), ("map", "file"),
               ("explain", "file"), ("bitext", "source_file"), ("bitext", "target_file"),
               ("bitext", "gold_file"), ("align", "gold_file")]


@pytest.mark.parametrize(("api", "param"), FILE_PARAMS)
def test_another_sessions_download_is_refused_as_an_input(served, someone_elses_download,
                                                          api, param):
    base, client, _ = served
    params, data = endpoint_data(client(), f"/{api}")
    data[[p["parameter_name"] for p in params].index(param)] = fd(someone_elses_download)
    kind, answer = call(base, api, data)
    assert kind == "error", str(answer)[:300]
    assert_sentence_naming(answer, param)
    assert "downloads cannot be read back as inputs" in answer
    assert not any(s in answer for s in SECRETS)


@pytest.mark.parametrize("where", ["upload folder", "elsewhere"])
@pytest.mark.parametrize(("api", "param", "name"), [
    ("similarity", "file", "notes.txt"), ("align", "source_file", "notes.txt"),
    ("align", "target_file", "notes.md"), ("bitext", "gold_file", "gold.tsv")])
def test_a_file_nobody_uploaded_is_refused_without_showing_its_path(served, api, param, name,
                                                                    where):
    from gradio.utils import get_upload_folder

    base, client, root = served
    # In gradio's upload folder but not written by an upload (another session's cached
    # copy, say), or anywhere else on the server.
    folder = (Path(get_upload_folder()) / f"not-an-upload-{uuid.uuid4().hex[:8]}"
              if where == "upload folder" else root / "elsewhere")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        (folder / name).write_text("src_index\ttgt_index\n0\t0\n" if name.endswith(".tsv")
                                   else "A private note.\n", encoding="utf-8")
        params, data = endpoint_data(client(), f"/{api}")
        data[[p["parameter_name"] for p in params].index(param)] = fd(folder / name)
        kind, answer = call(base, api, data)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    assert kind == "error", str(answer)[:300]
    assert_sentence_naming(answer, param)
    assert "was not uploaded to this app" in answer and name in answer


def test_a_real_upload_still_works_and_a_vanished_one_says_so(served, tmp_path):
    _, client, _ = served
    b = client()
    mine = tmp_path / "mine.txt"
    mine.write_text("The cat sleeps.\nDie Katze schläft.\nStocks fell.\n", encoding="utf-8")
    fig, summary, notes, table, files, *_ = b.predict("", upload(mine), api_name="/similarity")
    texts = {r["text_a"] for r in rows(table)} | {r["text_b"] for r in rows(table)}
    assert texts == {"The cat sleeps.", "Die Katze schläft.", "Stocks fell."}
    bitext = ASSETS / "examples" / "bitext"
    gold = b.predict(*(p.read_text(encoding="utf-8") for p in (bitext / "source.txt",
                                                              bitext / "target.txt")),
                     None, None, "margin", True, None, upload(bitext / "gold.tsv"),
                     api_name="/bitext")
    assert "gold pairs" in gold[3]  # the metrics line
    # An upload deleted since (uploads are kept export_age_s): named, not located.
    import httpx
    from gradio_client.exceptions import AppError

    gone = tmp_path / "gone.txt"
    gone.write_text("x\ny\n", encoding="utf-8")
    with gone.open("rb") as f:
        (path,) = httpx.post(f"{b.src.rstrip('/')}/gradio_api/upload",
                             files={"files": ("gone.txt", f, "text/plain")}, timeout=60).json()
    Path(path).unlink()
    with pytest.raises(AppError) as err:
        b.predict("", {"path": path}, api_name="/similarity")
    assert "(gone.txt) is no longer on the server" in str(err.value)
    assert path not in str(err.value) and "/tmp" not in str(err.value)


def test_an_example_the_page_put_in_a_file_input_is_read(served):
    """An Examples button puts a bundled gold file in a file input: gradio hands the page its
    own copy, in its upload folder, and the run that follows sends that copy's path back."""
    from gradio import processing_utils
    from gradio.utils import get_upload_folder

    base, client, _ = served
    copy = processing_utils.save_file_to_cache(ASSETS / "examples" / "bitext" / "gold.tsv",
                                               cache_dir=get_upload_folder())
    src = (ASSETS / "examples" / "bitext" / "source.txt").read_text(encoding="utf-8")
    tgt = (ASSETS / "examples" / "bitext" / "target.txt").read_text(encoding="utf-8")
    kind, answer = call(base, "bitext", [src, tgt, None, None, "margin", True, None, fd(copy)])
    assert kind == "complete", answer
    assert "gold pairs" in answer[3]


# -- the login ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def with_login():
    from e5ui import ui
    from e5ui.holder import ModelHolder
    from e5ui.settings import Settings

    settings = Settings(model="fake", port=free_port(), auth=("ada", "correct horse"))
    demo = ui.build_demo(settings=settings, holder=ModelHolder(settings, encoder=FakeEncoder()))
    ui.launch(demo, settings, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        demo.close()


CANCEL = {"session_hash": "s1", "fn_index": 0, "event_id": "e1"}
GUARDED = [("GET", "/openapi.json", None), ("POST", "/gradio_api/cancel", CANCEL),
           ("POST", "/gradio_api/reset", {"event_id": "e1"}), ("GET", "/gradio_api/info", None),
           ("GET", "/config", None), ("GET", "/gradio_api/app_id", None),
           ("GET", "/gradio_api/user", None), ("GET", "/gradio_api/token", None),
           ("POST", "/gradio_api/call/similarity", {"data": ["a\nb"]})]


def test_every_route_but_the_login_page_needs_the_login(with_login):
    import httpx

    with httpx.Client(base_url=with_login, timeout=30) as anonymous:
        for method, path, body in GUARDED:
            reply = anonymous.request(method, path, json=body)
            assert reply.status_code in (401, 403) or reply.is_redirect, (path, reply.text)
        page = anonymous.get("/")  # the login page itself, and what it is drawn with
        assert page.status_code == 200 and '"auth_required":true' in page.text.replace(" ", "")
        assert anonymous.get("/theme.css").status_code == 200
        assert anonymous.post("/login", data={"username": "ada", "password": "wrong"}
                              ).status_code == 400
    with httpx.Client(base_url=with_login, timeout=30) as user:
        assert user.post("/login", data={"username": "ada", "password": "correct horse"}
                         ).status_code == 200
        assert "paths" in user.get("/openapi.json").json()
        assert user.post("/gradio_api/cancel", json=CANCEL).json() == {"success": True}
        assert user.post("/gradio_api/reset", json={"event_id": "e1"}).json() == {"success": True}
        assert "/similarity" in user.get("/gradio_api/info").json()["named_endpoints"]


def test_a_client_with_the_login_still_uses_the_app(with_login):
    from gradio_client import Client

    client = Client(with_login + "/", auth=("ada", "correct horse"), verbose=False,
                    download_files=False)
    _, _, _, table, _ = client.predict("The cat sleeps.\nStocks fell.", api_name="/similarity")
    assert len(rows(table)) == 1


# -- parameters -----------------------------------------------------------------------------------
# (endpoint, parameter, a value of the wrong kind): every endpoint, its number parameters first.
WRONG_KIND = [
    ("neighbours", "k", "abc"), ("neighbours", "k", None), ("neighbours", "cross_lingual", "yes"),
    ("align", "max_merge", "abc"), ("align", "threshold", None), ("bitext", "threshold", "abc"),
    ("bitext", "one_to_one", 1), ("map", "dim", "abc"), ("projection", "dim", None),
    ("similarity", "center", "abc"), ("similarity_compare", "center", None),
    ("explain", "texts", 123), ("pair_score", "a", ["a list"]), ("pair_score", "b", {"x": 1}),
]


def short_id(value) -> str | None:
    """Test ids that stay readable for long values."""
    return f"{len(value)}-chars" if isinstance(value, str) and len(value) > 20 else None


@pytest.mark.parametrize(("api", "param", "value"), WRONG_KIND)
def test_a_value_of_the_wrong_kind_gets_a_sentence_naming_its_parameter(served, api, param,
                                                                         value):
    from gradio_client.exceptions import AppError

    _, client, _ = served
    c = client()
    params, data = endpoint_data(c, f"/{api}")
    names = [p["parameter_name"] for p in params]
    data[names.index(param)] = value
    with pytest.raises(AppError) as err:
        c.predict(*data, api_name=f"/{api}")
    assert_sentence_naming(str(err.value), param)


@pytest.mark.parametrize(("api", "param", "value"), [
    ("similarity", "order", "x" * 300), ("similarity", "kind", "passage; DROP"),
    ("similarity_compare", "second", "m" * 500), ("map", "method", "tsne"),
    ("map", "color_by", "x" * 300), ("map", "search", "s" * 201), ("bitext", "method", "Margin"),
    ("align", "mode", "words"), ("align", "source_lang", "x" * 300),
    ("neighbours", "k", 21), ("align", "threshold", 7), ("bitext", "threshold", 1e300),
    ("explain", "texts", "x" * (2**20 + 1)),
], ids=short_id)
def test_short_parameters_and_numbers_are_kept_within_their_limits(served, api, param, value):
    from gradio_client.exceptions import AppError

    _, client, _ = served
    c = client()
    params, data = endpoint_data(c, f"/{api}")
    data[[p["parameter_name"] for p in params].index(param)] = value
    with pytest.raises(AppError) as err:
        c.predict(*data, api_name=f"/{api}")
    assert_sentence_naming(str(err.value), param)


def test_the_map_takes_its_dimensions_as_numbers_or_digits(served):
    from gradio_client.exceptions import AppError

    _, client, _ = served
    c = client()
    params = c.view_api(print_info=False, return_format="dict")["named_endpoints"]["/map"][
        "parameters"]
    dim = next(p for p in params if p["parameter_name"] == "dim")
    assert dim["type"]["type"] == "integer" and dim["type"]["enum"] == [2, 3]
    texts = "\n".join(f"text {i}" for i in range(6))
    for value, trace in ((3, "scatter3d"), ("3", "scatter3d"), ("2", "scatter")):
        fig, _, _, _ = c.predict(texts, None, "pca", value, api_name="/map")
        assert json.loads(fig["plot"])["data"][0]["type"] == trace, value
    with pytest.raises(AppError) as err:
        c.predict(texts, None, "pca", 4, api_name="/map")
    assert_sentence_naming(str(err.value), "dim")
    assert "must be one of: 2, 3" in str(err.value)
