"""The fidelity report's maths against scipy and sklearn, and the record's one line."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist
from scipy.stats import percentileofscore
from sklearn.neighbors import NearestNeighbors

from e5ui.analysis import fidelity
from e5ui.encoding.fidelity import Fidelity


def noisy(n=60, d=24, scale=0.05, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.normal(size=(n, d))
    return ref, ref + scale * rng.normal(size=(n, d))


def test_row_cosines_match_scipy():
    ref, cand = noisy()
    expected = 1 - np.diag(cdist(ref, cand, metric="cosine"))
    np.testing.assert_allclose(fidelity.row_cosines(ref, cand), expected, atol=1e-12)


@pytest.mark.parametrize("scale", [0.0, 0.05, 0.5])
def test_top_k_overlap_matches_sklearn_neighbours(scale):
    ref, cand = noisy(scale=scale, seed=3)
    k = 10
    shares = []
    for i in range(len(ref)):
        sets = []
        for emb in (ref, cand):
            nn = NearestNeighbors(n_neighbors=k + 1, metric="cosine").fit(emb)
            idx = nn.kneighbors(emb[i : i + 1], return_distance=False)[0]
            sets.append(set(idx.tolist()) - {i})
        shares.append(len(sets[0] & sets[1]) / k)
    assert fidelity.top_k_overlap(ref, cand, k) == pytest.approx(np.mean(shares))
    if scale == 0.0:
        assert fidelity.top_k_overlap(ref, cand, k) == 1.0


def test_percentile_shift_matches_scipy_percentileofscore():
    ref, cand = noisy(n=30, scale=0.3, seed=5)
    iu = np.triu_indices(30, k=1)
    shifts = []
    ranks = []
    for emb in (ref, cand):
        unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
        cos = (unit @ unit.T)[iu].astype(np.float32)
        ranks.append(np.array([percentileofscore(cos, c, kind="weak") for c in cos]))
    shifts = np.abs(ranks[0] - ranks[1])
    assert fidelity.max_percentile_shift(ref, cand) == pytest.approx(shifts.max(), abs=1e-6)
    assert fidelity.max_percentile_shift(ref, ref) == 0.0


def test_agreement_and_the_faithful_thresholds():
    ref, _ = noisy()
    same = fidelity.agreement(ref, ref)
    assert same.min_cos == pytest.approx(1.0) and same.top10_overlap == 1.0 and same.faithful
    far = fidelity.agreement(*noisy(scale=0.5))
    assert far.min_cos < fidelity.FAITHFUL_MIN_COS and not far.faithful
    with pytest.raises(ValueError, match="same"):
        fidelity.agreement(ref, ref[:5])
    with pytest.raises(ValueError, match="n > 0"):
        fidelity.agreement(ref[:0], ref[:0])


def test_faithful_needs_both_thresholds():
    close = fidelity.Agreement(336, 0.9996, 0.9998, 0.96, 1.0)
    assert not close.faithful  # neighbours moved too much
    assert fidelity.Agreement(336, 0.9996, 0.9998, 0.97, 1.0).faithful
    assert not fidelity.Agreement(336, 0.9994, 0.9998, 0.99, 1.0).faithful


def test_the_line_says_speed_and_cost_and_survives_json():
    record = Fidelity("openvino", "int8", fidelity.Agreement(336, 0.99612, 0.998, 0.953, 3.2),
                      seconds=1.0, float32_seconds=2.9, torch_seconds=1.7, cpu="test CPU")
    line = record.line()
    assert line.startswith("openvino int8: 1.7× torch bfloat16's speed here (2.9× float32's)")
    assert "cosine to float32 ≥ 0.9961" in line and "95% of top-10 neighbours" in line
    assert "≤ 3.2 points" in line and "336 texts" in line
    assert record.short() == "1.7× torch bf16 · cos ≥ 0.9961 · top-10 95%"
    back = Fidelity.from_dict(record.to_dict())
    assert back == record and record.to_dict()["faithful"] is False
    own = Fidelity("torch", "bfloat16", fidelity.Agreement(336, 1, 1, 1, 0), 1.0, 1.8, 1.0, "c")
    assert own.line().startswith("torch bfloat16: 1.8× torch float32's speed here;")
