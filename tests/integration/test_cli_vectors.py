"""Bring your own vectors with the bundled models, as a user runs it: map.parquet records the
model that made it and is mapped again from its own vectors; another model refuses them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT
from tests.integration.test_cli_analysis import EX, read_table, run

pytestmark = pytest.mark.integration


def test_a_map_parquet_is_mapped_again_and_refused_by_another_model(tmp_path):
    parquet, first, again = tmp_path / "map.parquet", tmp_path / "a.csv", tmp_path / "b.csv"
    proc = run("map", EX / "map_parallel.tsv", "--method", "pca", "--out", parquet, "--out",
               first)
    assert proc.returncode == 0, proc.stderr
    meta = json.loads(pq.read_schema(parquet).metadata[b"e5ui"])
    assert meta["prompt"] == "query: " and meta["kind"] == "symmetric"
    assert meta["dim"] == 384 and meta["normalized"] and not meta["centered"]
    assert "multilingual-e5-small" in meta["model"]
    proc = run("map", parquet, "--method", "pca", "--out", again)
    assert proc.returncode == 0, proc.stderr
    assert "using the 'embedding' column of map.parquet" in proc.stderr
    a, b = read_table(first, ","), read_table(again, ",")
    assert [(r["x"], r["y"]) for r in a] == [(r["x"], r["y"]) for r in b]

    other = subprocess.run([sys.executable, "-m", "e5ui", "similarity", str(parquet),
                            "--model", "bundled-enpt", "-q"], cwd=ROOT,
                           env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True,
                           text=True, timeout=600)
    assert other.returncode == 2 and "Traceback" not in other.stderr
    line = other.stderr.strip().splitlines()[-1]
    assert "was made by" in line and meta["model"] in line and "--other-vectors" in line
