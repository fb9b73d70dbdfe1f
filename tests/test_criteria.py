"""Exit criteria: what each one decides, on hand-made evidence."""

from __future__ import annotations

import numpy as np
import pytest

from explorer import criteria
from explorer.criteria import CRITERIA, Evidence, first_exit

CAUSAL = [c for c in CRITERIA.values() if c.causal]
BOUNDS = [c for c in CRITERIA.values() if not c.causal]


def _exits(name: str, cols: dict, threshold, costs=None) -> np.ndarray:
    """Exit per row of `cols` under criterion `name`, as a profile decides it."""
    crit = criteria.get(name)
    n, k = next(iter(cols.values())).shape if cols else (1, len(costs))
    costs = np.zeros(k) if costs is None else np.asarray(costs, np.float64)
    return first_exit(crit.passes(crit.score(Evidence(cols, costs, n, k)), threshold))


def _random_cols(n: int, k: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    u = rng.random((n, k))
    return {"pred": rng.integers(0, 3, (n, k)).astype(np.float64), "errors": rng.integers(0, 3, (n, k)) / 2,
            "confidence": u, "entropy": 2 * (1 - u), "entropy_norm": 1 - u, "ctc_entropy": 3 * (1 - u),
            "ssl_entropy": rng.random((n, k)), "saturation": u, "margin": u, "learned": u}


# ---- patience (PABEE) -------------------------------------------------------------------------


def test_patience_counts_unchanged_predictions_in_a_row():
    pred = np.array([[1, 1, 2, 2, 2, 3]])
    crit = criteria.get("patience")
    streak = crit.score(Evidence({"pred": pred}, np.zeros(6), 1, 6))
    assert streak.tolist() == [[0, 1, 0, 1, 2, 0]]
    assert _exits("patience", {"pred": pred}, 1).tolist() == [1]  # same as the previous exit once
    assert _exits("patience", {"pred": pred}, 2).tolist() == [4]  # unchanged for two exits in a row
    assert _exits("patience", {"pred": pred}, 3).tolist() == [5]  # never: the last exit


def _pabee(row, t: int) -> int:
    """PABEE as the paper states it: a counter of consecutive unchanged predictions, reset
    when the prediction changes; exit once it reaches the patience t."""
    count = 0
    for k in range(1, len(row)):
        count = count + 1 if row[k] == row[k - 1] else 0
        if count >= t:
            return k
    return len(row) - 1


@pytest.mark.parametrize("t", [1, 2, 3, 4])
def test_patience_matches_pabee(t):
    pred = np.random.default_rng(t).integers(0, 2, (500, 7))
    assert _exits("patience", {"pred": pred}, t).tolist() == [_pabee(row, t) for row in pred]


# ---- budget, static ---------------------------------------------------------------------------


@pytest.mark.parametrize(("budget", "expected"), [
    (5, 0), (10, 0), (19.9, 0), (20, 1), (34, 1), (35, 2), (49.99, 2), (50, 3), (1e9, 3), (np.inf, 3)])
def test_budget_takes_the_deepest_exit_that_fits(budget, expected):
    costs = [10, 20, 35, 50]
    assert _exits("budget", {}, budget, costs).tolist() == [expected]  # exit 0 when nothing fits


def test_budget_per_input():
    costs = np.array([10.0, 20, 35, 50])
    budgets = np.array([[1], [20], [36], [100]])
    crit = criteria.get("budget")
    scores = np.broadcast_to(crit.score(Evidence({}, costs, 1, 4)), (4, 4))
    assert first_exit(crit.passes(scores, budgets)).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_static_truncates_every_input_at_k(k):
    cols = {"pred": np.zeros((5, 4))}
    assert _exits("static", cols, k + 1).tolist() == [k] * 5  # τ counts exits from 1, as every page does
    assert _exits("static", cols, k + 0.5).tolist() == [k] * 5  # the first exit at or past it


# ---- the bounds -------------------------------------------------------------------------------


def test_correctness_oracle_takes_the_earliest_exit_with_fewest_errors():
    errors = np.array([[1, 0, 1, 0], [1, 1, 1, 1], [3, 2, 2, 1], [2, 1, 1, 3], [0, 0, 0, 0], [3, 1, 2, 2],
                       [0.5, 0.25, 0.5, 0.5]], np.float64)  # word errors: the best exit need not be perfect
    assert _exits("oracle_correct", {"errors": errors}, 1).tolist() == [1, 0, 3, 1, 0, 1, 1]


def test_consistency_oracle_takes_the_earliest_exit_agreeing_with_the_final():
    pred = np.array([[1, 2, 2, 3, 2], [4, 4, 4, 4, 4], [1, 2, 3, 4, 5], [5, 1, 1, 1, 5]])
    assert _exits("oracle_consistent", {"pred": pred}, 1).tolist() == [1, 0, 4, 0]


@pytest.mark.parametrize("crit", BOUNDS, ids=lambda c: c.name)
def test_bounds_are_marked_non_causal_because_they_look_ahead(crit):
    cols = _random_cols(200, 5, seed=1)
    full = crit.score(Evidence(cols, np.arange(1.0, 6), 200, 5))
    changed = {c: v.copy() for c, v in cols.items()}
    for v in changed.values():
        v[:, -1] = v[:, -1] + 1 if v is not changed["pred"] else v[:, 0] + 7
    assert not np.array_equal(crit.score(Evidence(changed, np.arange(1.0, 6), 200, 5))[:, 0], full[:, 0])


# ---- first_exit, causality, lookup ----------------------------------------------------------


def test_first_exit_falls_back_to_the_last_exit():
    passes = np.array([[False, False, False], [False, True, True], [True, False, False], [False, False, True]])
    before = passes.copy()
    assert first_exit(passes).tolist() == [2, 1, 0, 2]
    assert np.array_equal(passes, before)  # the caller's array is left alone


@pytest.mark.parametrize("crit", CAUSAL, ids=lambda c: c.name)
def test_causal_scores_use_only_exits_read_so_far(crit):
    """Column k never depends on columns after k, and the engine (which has read k+1
    columns) gets the very same value as the whole-table profile."""
    n, K = 300, 6
    cols = _random_cols(n, K, seed=0)
    costs = np.cumsum(np.arange(1.0, K + 1))
    full = np.asarray(crit.score(Evidence(cols, costs, n, K)), np.float64)
    assert full.shape == (n, K)
    for k in range(K):
        seen = np.asarray(crit.score(Evidence({c: v[:, : k + 1] for c, v in cols.items()}, costs, n, k + 1)))
        np.testing.assert_array_equal(seen[:, -1], full[:, k])
        later = {c: v.copy() for c, v in cols.items()}
        rng = np.random.default_rng(k)
        for v in later.values():
            v[:, k + 1:] = rng.permutation(v[:, k + 1:], axis=0) + rng.integers(0, 2, v[:, k + 1:].shape)
        np.testing.assert_array_equal(np.asarray(crit.score(Evidence(later, costs, n, K)))[:, k], full[:, k])


@pytest.mark.parametrize("crit", list(CRITERIA.values()), ids=lambda c: c.name)
def test_every_criterion_is_complete(crit):
    assert crit.rule in criteria.RULES
    cols = _random_cols(50, 4, seed=2)
    scores = crit.score(Evidence({c: cols[c] for c in crit.reads}, np.arange(1.0, 5), 50, 4))
    grid = crit.grid(np.asarray(scores, np.float64), np.arange(1.0, 5))
    assert len(grid) >= 1 and np.isfinite(grid).all()
    assert criteria.get(crit.name) is crit


def test_continuous_grid_never_sits_on_a_score_and_covers_both_extremes():
    crit = criteria.get("confidence")
    scores = np.round(np.random.default_rng(0).random((100, 5)), 2)  # plenty of ties
    grid = crit.grid(scores, np.arange(5.0))
    inner = scores[:, :-1]
    assert not np.isin(grid, inner).any()
    assert (_all_exit(crit, scores, grid.max()) == 4).all()  # above every score: nobody leaves early
    assert (_all_exit(crit, scores, grid.min()) == 0).all()  # below every score: all leave at once


def _all_exit(crit, scores, thr):
    return first_exit(crit.passes(scores, thr))


def test_unknown_criterion_and_applicability():
    with pytest.raises(ValueError, match="unknown criterion"):
        criteria.get("nope")
    names = {c.name for c in criteria.applicable(["pred", "confidence", "entropy", "entropy_norm", "errors"])}
    assert {"confidence", "entropy", "patience", "budget", "static", "oracle_correct"} <= names
    assert not names & {"ctc_entropy", "daisy"}
    seq = {c.name for c in criteria.applicable(["pred", "ctc_entropy", "ssl_entropy", "errors"])}
    assert {"ctc_entropy", "daisy", "patience"} <= seq and "confidence" not in seq
