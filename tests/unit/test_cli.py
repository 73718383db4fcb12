"""The command line's checks that come before any work: outputs that would destroy an input or
cannot be written, bad devices, bad serve settings — one line on stderr, exit status 2."""

from __future__ import annotations

import os

import pytest

from e5ui.__main__ import main


@pytest.fixture
def texts(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("text\nThe cat sleeps.\nDie Katze schläft.\n", encoding="utf-8")
    return path


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback" not in "\n".join(err)
    assert err and err[-1].startswith("e5ui: error: ")
    return err[-1]


@pytest.mark.parametrize("command", [
    ["similarity", "{in}", "--out", "{in}"],
    ["map", "{in}", "--out", "{in}"],
    ["neighbours", "{in}", "{in}", "--out", "{in}"],
    ["embed", "{in}", "--out", "{in}"],
])
def test_an_output_that_is_an_input_is_refused(texts, capsys, command):
    if command[0] == "embed":  # embed writes .npy only: the input must be called so
        npy = texts.with_suffix(".npy")
        npy.write_bytes(b"not really")
        texts = npy
    before = texts.read_bytes()
    args = [a.replace("{in}", str(texts)) for a in command]
    assert main([*args, "--model", "bundled", "-q"]) == 2
    line = one_error_line(capsys)
    assert "is the input file" in line or "must end in" in line
    assert texts.read_bytes() == before


def test_a_link_to_the_input_is_refused_too(texts, tmp_path, capsys):
    link = tmp_path / "link.csv"
    os.symlink(texts, link)
    before = texts.read_bytes()
    assert main(["similarity", str(texts), "--out", str(link), "-q"]) == 2
    assert "is the input file" in one_error_line(capsys)
    assert texts.read_bytes() == before
    source = tmp_path / "s.txt"
    source.write_text("a\n")
    assert main(["bitext", str(source), str(texts), "--out", str(source.with_suffix(".tsv")),
                 "--out", str(source.with_suffix(".tsv")), "-q"]) == 2
    assert "given twice" in one_error_line(capsys)


def test_an_output_that_cannot_be_written_fails_before_the_model_loads(texts, tmp_path, capsys,
                                                                      monkeypatch):
    import e5ui.__main__ as cli

    def no_model(args):
        raise AssertionError("the model was loaded before the output was checked")

    monkeypatch.setattr(cli, "_encoder", no_model)
    folder = tmp_path / "a-folder.csv"
    folder.mkdir()
    assert main(["similarity", str(texts), "--out", str(folder)]) == 2
    assert "is a folder" in one_error_line(capsys)
    assert main(["similarity", str(texts), "--out", str(tmp_path / "nope" / "m.csv")]) == 2
    assert "does not exist" in one_error_line(capsys)
    assert main(["similarity", str(texts), "--out", "/proc/e5ui-test.csv"]) == 2
    assert "cannot be written" in one_error_line(capsys)


@pytest.mark.parametrize("device, message", [
    ("bogus", "Unknown device 'bogus'"),
    ("cuda", "is not available"),
])
def test_a_bad_device_is_one_line(texts, capsys, device, message):
    import torch

    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert main(["similarity", str(texts), "--model", "bundled", "--device", device, "-q"]) == 2
    assert message in one_error_line(capsys)


def test_serving_beyond_loopback_needs_a_login(capsys, monkeypatch):
    monkeypatch.delenv("E5UI_AUTH", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "--auth user:password" in one_error_line(capsys)
    assert main(["serve", "--auth", "nopassword"]) == 2
    assert "user:password" in one_error_line(capsys)
    with pytest.raises(SystemExit) as bad:  # argparse's own usage error, also status 2
        main(["serve", "--max-texts", "zero"])
    assert bad.value.code == 2 and "argument --max-texts" in capsys.readouterr().err
    assert main(["serve", "--max-rows", "0"]) == 2
    assert "--max-rows must be at least 1" in one_error_line(capsys)


def test_map_clusters_and_search_columns(tmp_path, capsys, monkeypatch, private_cache):
    import csv
    import re

    import numpy as np

    import e5ui.__main__ as cli
    from tests.conftest import ASSETS, FakeEncoder

    enc = FakeEncoder()
    monkeypatch.setattr(cli, "_encoder", lambda args: enc)
    src = ASSETS / "examples/map_parallel.tsv"
    out = tmp_path / "coords.tsv"
    query = "The train to Berlin leaves at a quarter past eight from platform four."
    assert main(["map", str(src), "--method", "pca", "--clusters", "--search", query,
                 "--search-threshold", "0.9", "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    with open(out, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert list(rows[0])[-5:] == ["cluster", "cluster_label", "search_cosine",
                                  "search_percentile", "text"]
    for row in rows:
        if row["cluster"] != "-1":
            assert f"cluster {row['cluster']} (" in printed and row["cluster_label"] in printed
    best = max(rows, key=lambda r: float(r["search_cosine"]))
    matches = [line for line in printed.splitlines() if re.match(r"\s*\d+\. ", line)]
    assert matches and best["text"] in matches[0]
    cos = [float(r["search_cosine"]) for r in rows if float(r["search_percentile"]) >= 0.9]
    assert len(matches) == len(cos) and np.isclose(float(matches[0].split()[1]), max(cos),
                                                   atol=1e-3)
