"""The benchmark's profile-only parts: the sweep timer and its synthetic profile."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explorer import bench, criteria, tradeoff


def test_sweep_ms_10k_is_a_positive_time():
    ms = bench.sweep_ms_10k()
    assert isinstance(ms, float) and math.isfinite(ms) and ms > 0


@pytest.fixture(scope="module")
def synthetic():
    return bench.synthetic_profile(n=2000, k=8, seed=1)


def test_synthetic_profile_shape(synthetic):
    assert (synthetic.n, synthetic.k) == (2000, 8)
    assert {c.name for c in criteria.applicable(synthetic.cols)} == set(criteria.CRITERIA)
    full = bench.synthetic_profile()
    assert (full.n, full.k) == (10_000, 8)


@pytest.mark.parametrize("crit", list(criteria.CRITERIA.values()), ids=lambda c: c.name)
def test_synthetic_profile_works_with_every_criterion(synthetic, crit):
    df = tradeoff.sweep(synthetic, crit)
    assert len(df) >= 1 and np.isfinite(df[["error_rate", "mean_macs", "mac_speedup"]].to_numpy()).all()
    np.testing.assert_allclose(df[[f"exit_{j}" for j in range(synthetic.k)]].sum(axis=1), 1.0)
    exits = synthetic.exits(crit, crit.default)
    assert exits.shape == (synthetic.n,) and exits.min() >= 0 and exits.max() < synthetic.k
    row = tradeoff.evaluate(synthetic, crit, crit.default)
    assert row.mean_exit == pytest.approx(exits.mean())
    assert row.mac_speedup == pytest.approx(synthetic.full() / synthetic.path(crit)[exits].mean())
