"""Tests for e5ui.runtime: the UMAP warm-up and where numba keeps its compiled kernels."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from e5ui import runtime
from e5ui.cache import cache_root
from e5ui.runtime import configure_numba_cache, warm_up


def test_warm_up_compiles_both_umap_paths(monkeypatch, caplog):
    calls = []

    def fake_fit(x, dim, seed, n_neighbors, min_dist, approximate=False):
        calls.append((x.shape[0], approximate))
        return np.zeros((x.shape[0], dim), np.float32)

    monkeypatch.setattr(runtime.projection, "fit_umap", fake_fit)
    thread = warm_up()
    assert thread is not None and thread.daemon
    thread.join(timeout=30)
    assert not thread.is_alive()
    # The exact-neighbour path (small inputs) and the pynndescent path (> 4,096 points).
    assert calls == [(60, False), (300, True)]

    def broken_fit(*args, **kwargs):
        raise RuntimeError("numba exploded")

    monkeypatch.setattr(runtime.projection, "fit_umap", broken_fit)
    assert warm_up(background=False) is None  # a failed warm-up is logged, never raised
    assert "UMAP warm-up failed" in caplog.text


# --- cache directories -------------------------------------------------------------------------


@pytest.fixture
def clean_cache_env(monkeypatch):
    for var in ("E5UI_CACHE_DIR", "XDG_CACHE_HOME", "NUMBA_CACHE_DIR"):
        monkeypatch.setenv(var, "")  # records the original value, restored on teardown
        monkeypatch.delenv(var)
    numba = sys.modules.get("numba")
    saved = numba.config.CACHE_DIR if numba is not None else None
    yield monkeypatch
    if numba is not None:
        numba.config.CACHE_DIR = saved


def test_cache_root_precedence(clean_cache_env, tmp_path):
    assert cache_root() == Path.home() / ".cache" / "e5ui"
    clean_cache_env.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "e5ui"
    clean_cache_env.setenv("E5UI_CACHE_DIR", str(tmp_path / "own"))
    assert cache_root() == tmp_path / "own"


def test_configure_numba_cache(clean_cache_env, tmp_path):
    clean_cache_env.setenv("E5UI_CACHE_DIR", str(tmp_path / "root"))
    path = configure_numba_cache()
    assert path == tmp_path / "root" / "numba" and path.is_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(path)
    explicit = configure_numba_cache(tmp_path / "explicit")
    assert explicit.is_dir() and os.environ["NUMBA_CACHE_DIR"] == str(explicit)
    # An existing NUMBA_CACHE_DIR (set by the user) wins over the default.
    assert configure_numba_cache() == explicit
