"""One result per view: the same request through the app's API and through the CLI gives
byte-identical files (the app serves the bundled model in float32; the CLI is told the same)."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ASSETS, ROOT
from tests.integration.conftest import upload

pytestmark = pytest.mark.integration
EX = ASSETS / "examples"


def cli(*args) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "e5ui", *map(str, args), "--model", "bundled",
                           "--dtype", "float32", "-q"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return proc


def by_name(files: list[str]) -> dict[str, bytes]:
    return {Path(f).name: Path(f).read_bytes() for f in files}


def assert_same_files(app_files: list[str], folder: Path, names: list[str]) -> None:
    app = by_name(app_files)
    assert sorted(app) == sorted(names)
    for name in names:
        mine = (folder / name).read_bytes()
        assert len(mine) > 100
        if mine != app[name]:
            pairs = zip(mine.splitlines(), app[name].splitlines())
            first = next(((i, a, b) for i, (a, b) in enumerate(pairs) if a != b), None)
            pytest.fail(f"{name} differs between the app and the CLI; first differing line "
                        f"(CLI, app): {first!r:.600}")


def common_app(encoder):
    """The app's context around an encoder, as the page's handlers get it."""
    from e5ui.holder import ModelHolder
    from e5ui.settings import Settings
    from e5ui.ui import common

    return common.App.for_tests(ModelHolder(Settings(model="bundled"), encoder=encoder))


def app_figure(encoder, tab, title: str, *args) -> bytes:
    """The figure's HTML as the app's "Save the figure" button writes it (that button is not
    part of the API): the tab's handler, then the page's figure handler on its report state."""
    from e5ui.ui import common

    app = common_app(encoder)
    outputs = tab.run(app, "", *args, progress=lambda *a, **k: None)
    if inspect.isgenerator(outputs):  # the map yields a preview first
        *_, outputs = outputs
    state = next(o for o in reversed(outputs) if isinstance(o, dict))  # the report state
    update = common.figure_file(app, state, tab.REPORT_KEY, title)
    return Path(update["value"]).read_bytes()


def test_similarity_app_and_cli_write_the_same_files(app_client, bundled_encoder, tmp_path):
    from e5ui.ui import similarity

    example = EX / "one_meaning_ten_languages.tsv"
    _fig, _summary, _notes, _table, files, *_ = app_client.predict(
        "", upload(example), "cluster", "symmetric", api_name="/similarity")
    names = ["embeddings.npy", "similarity.csv"]
    cli("similarity", example, "--order", "cluster", "--kind", "symmetric",
        *[a for n in [*names, "heatmap.html"] for a in ("--out", tmp_path / n)])
    assert_same_files(files, tmp_path, names)
    assert app_figure(bundled_encoder, similarity, "e5ui similarity heatmap", str(example),
                      "cluster", "symmetric") == (tmp_path / "heatmap.html").read_bytes()


def test_neighbours_app_and_cli_write_the_same_files(app_client, tmp_path):
    q, c = EX / "retrieval/queries.tsv", EX / "retrieval/passages.tsv"
    _table, _summary, _notes, files, *_ = app_client.predict(
        "", "", upload(q), upload(c), 3, True, True, False, api_name="/neighbours")
    cli("neighbours", q, c, "-k", "3", "--cross-lingual", "--margin", "--out",
        tmp_path / "neighbours.tsv")
    assert_same_files(files, tmp_path, ["neighbours.tsv"])


def test_map_app_and_cli_write_the_same_files(app_client, bundled_encoder, tmp_path):
    from e5ui.ui import map as map_tab

    example = EX / "map_parallel.tsv"
    _fig, _summary, _notes, files, *_ = app_client.predict(
        "", upload(example), "umap", 2, api_name="/map")
    cli("map", example, "--method", "umap", "--dim", "2", "--out", tmp_path / "coords.csv",
        "--out", tmp_path / "map.html", "--out", tmp_path / "map.parquet", "--projector",
        tmp_path)
    assert_same_files(files, tmp_path, ["coords.csv", "map.parquet", "vectors.tsv",
                                        "metadata.tsv"])
    # The map's button writes the page that explores offline, from the tab's map.
    app = common_app(bundled_encoder)
    *_, outputs = map_tab.run(app, "", str(example), "umap", 2, progress=lambda *a, **k: None)
    update = map_tab.figure_page(app, outputs[4], progress=lambda *a, **k: None)
    assert Path(update["value"]).read_bytes() == (tmp_path / "map.html").read_bytes()


def test_bitext_app_and_cli_write_the_same_files(app_client, tmp_path):
    s, t = EX / "bitext/source.txt", EX / "bitext/target.txt"
    _pairs, _unmatched, _summary, _metrics, _notes, files, *_ = app_client.predict(
        "", "", upload(s), upload(t), "margin", True, None, None, api_name="/bitext")
    names = ["pairs.tsv", "pairs.csv", "pairs.tmx"]
    cli("bitext", s, t, *[a for n in names for a in ("--out", tmp_path / n)])
    assert_same_files(files, tmp_path, names)
