"""The reference baseline: embedded once per model, kept for the process, stored on disk and read
back after a restart; damaged or unwritable storage never stops the app."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from sklearn.metrics.pairwise import cosine_similarity

from e5ui import baselines
from tests.conftest import FakeEncoder


@pytest.fixture(autouse=True)
def fresh_memo(monkeypatch):
    monkeypatch.setattr(baselines, "_memo", {})


def test_reference_set_gives_all_pairs_of_unrelated_texts(tmp_path):
    enc = FakeEncoder()
    base = baselines.reference_baseline(enc, tmp_path)
    assert enc.kinds == ["symmetric"]
    texts = baselines.reference_texts()
    assert len(texts) == base.n_texts == 336
    sim = cosine_similarity(enc.encode(texts, kind="symmetric"))
    np.testing.assert_allclose(base.cosines, np.sort(sim[np.triu_indices(336, k=1)]), atol=1e-6)


def test_memo_then_disk_then_recompute_when_damaged(tmp_path, caplog):
    enc = FakeEncoder()
    first = baselines.reference_baseline(enc, tmp_path)
    assert enc.calls == 1
    assert baselines.reference_baseline(enc, tmp_path) is first  # same process: memo
    (stored,) = tmp_path.glob("*.json")
    assert json.loads(stored.read_text())["n_texts"] == 336

    baselines._memo.clear()  # a restart: read back from disk, no encoding
    again = baselines.reference_baseline(enc, tmp_path)
    assert enc.calls == 1
    np.testing.assert_array_equal(again.cosines, first.cosines)

    baselines._memo.clear()
    stored.write_text("{not json")
    with caplog.at_level(logging.WARNING, logger="e5ui.baselines"):
        redone = baselines.reference_baseline(enc, tmp_path)
    assert enc.calls == 2 and "unreadable baseline" in caplog.text
    np.testing.assert_array_equal(redone.cosines, first.cosines)
    assert json.loads(stored.read_text())["n_texts"] == 336  # rewritten whole


def test_each_model_gets_its_own_baseline(tmp_path):
    a = baselines.reference_baseline(FakeEncoder(model="fake/a"), tmp_path)
    b = baselines.reference_baseline(FakeEncoder(model="fake/b", dim=8), tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 2
    assert not np.array_equal(a.cosines, b.cosines)


def test_an_unwritable_folder_still_gives_a_baseline(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING, logger="e5ui.baselines"):
        base = baselines.reference_baseline(FakeEncoder(), blocker / "baselines")
    assert base.n_texts == 336 and "Could not store the baseline" in caplog.text
