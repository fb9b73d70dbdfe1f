"""Sweeps, Pareto fronts and recommendations, checked against the plain decisions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import quick_profile
from scipy.stats import binom

from explorer import tradeoff
from explorer.costs import Costs
from explorer.criteria import CRITERIA, applicable
from explorer.models.toy import ToySeq, ToySeqConfig, toy_data, toy_seq_data
from explorer.profile import Profile, ProfileMeta
from explorer.readout import KIND_COLUMNS

ALL = list(CRITERIA.values())
CLASS_CAUSAL = [c for c in ALL if c.causal and set(c.reads) <= set(KIND_COLUMNS["class"])]  # a class head serves them
METRICS = ("error_rate", "mean_exit", "mean_macs", "mean_ms", "mac_speedup", "ms_speedup")


def _random_profile(n: int = 300, k: int = 5, seed: int = 0, task: str = "class") -> Profile:
    """Scores on a 0.1 grid (many ties), some unread (NaN), uneven costs, word errors."""
    rng = np.random.default_rng(seed)
    q = rng.integers(0, 11, (n, k)) / 10

    def holes(v):
        v = v.astype(np.float64)
        v[rng.random(v.shape) < 0.1] = np.nan
        return v

    ref_len = rng.integers(1, 6, n).astype(np.float64) if task == "ctc" else np.ones(n)
    errors = np.minimum(rng.integers(0, 3, (n, k)), ref_len[:, None]) if task == "ctc" else (q < 0.4).astype(float)
    cols = {"pred": rng.integers(0, 3, (n, k)), "errors": errors.astype(np.float64),
            "confidence": holes(q), "entropy": holes(1 - q), "entropy_norm": holes(np.round(1 - q, 1)),
            "ctc_entropy": holes(2 * q), "ssl_entropy": holes(q[:, ::-1]), "saturation": holes(q), "learned": holes(q),
            "margin": holes(q)}
    heads = {"exit": "class"} if task == "class" else {"ctc": "ctc", "ssl": "cluster"}
    macs = Costs(3.0, rng.integers(1, 5, k).astype(np.float64), {h: rng.integers(0, 3, k) / 2 for h in heads})
    ms = Costs(0.5, rng.random(k) + 0.1, {h: rng.random(k) / 10 for h in heads})
    meta = ProfileMeta("random", "random", "", task, heads, [str(j) for j in range(k)])
    return Profile(meta, cols, ref_len, macs, ms, list(range(3)))


def _graded_profile(n: int, seed: int, k: int = 6) -> Profile:
    """A classifier whose deeper exits are right more often and whose confidence tracks
    it, so that every eps and delta asks for a different threshold."""
    rng = np.random.default_rng(seed)
    depth = (np.arange(k) + 1) / k
    difficulty = rng.random((n, 1))
    margin = depth[None, :] - difficulty + 0.15 * rng.normal(size=(n, k))
    right = margin > 0
    pred = np.where(right, 0, rng.integers(1, 4, (n, k)))
    conf = 1 / (1 + np.exp(-4 * margin))
    cols = {"pred": pred, "errors": (~right).astype(np.float64), "confidence": conf,
            "entropy": 1 - conf, "entropy_norm": (1 - conf) / 2}
    macs = Costs(1.0, np.full(k, 10.0), {"exit": np.ones(k)})
    meta = ProfileMeta("graded", str(seed), "", "class", {"exit": "class"}, [str(j) for j in range(k)])
    return Profile(meta, cols, np.ones(n), macs, macs, list(range(4)))


@pytest.fixture(scope="module")
def graded():
    return _graded_profile(1500, seed=21), _graded_profile(1000, seed=22)


def _brute(prof: Profile, crit, thresholds) -> dict[str, np.ndarray]:
    """Every threshold on its own, straight from Profile.exits."""
    rows = [tradeoff.evaluate(prof, crit, t) for t in thresholds]
    out = {m: np.array([getattr(r, m) for r in rows]) for m in METRICS}
    hist = np.array([np.bincount(prof.exits(crit, t), minlength=prof.k) / prof.n for t in thresholds])
    for j in range(prof.k):
        out[f"exit_{j}"] = hist[:, j]
    return out


def _assert_sweep_is_brute(prof, crit, thresholds):
    df = tradeoff.sweep(prof, crit, thresholds)
    assert len(df) == len(thresholds)
    np.testing.assert_array_equal(df["threshold"].to_numpy(), np.asarray(thresholds, np.float64))  # NaN == NaN
    for col, want in _brute(prof, crit, thresholds).items():
        np.testing.assert_allclose(df[col].to_numpy(), want, rtol=1e-9, atol=1e-12, err_msg=f"{crit.name}: {col}")


def _hard_thresholds(prof, crit, rng) -> np.ndarray:
    """The criterion's grid plus thresholds exactly on score values (ties), repeats,
    infinities, values beyond every score and a NaN (passes nothing), in no particular order."""
    scores = prof.scores(crit)
    finite = np.unique(scores[np.isfinite(scores)])
    t = np.concatenate([crit.grid(scores, prof.path(crit)), finite, finite[:3], prof.path(crit),
                        [-np.inf, np.inf, -1e9, 1e9, 0.0, 0.5, np.nan]])
    return rng.permutation(t)


# ---- the fast sweep equals brute force ------------------------------------------------------


@pytest.mark.parametrize("task", ["class", "ctc"])
@pytest.mark.parametrize("crit", ALL, ids=lambda c: c.name)
def test_sweep_equals_brute_force_on_random_profiles(crit, task):
    for seed in range(3):
        prof = _random_profile(seed=seed, task=task)
        _assert_sweep_is_brute(prof, crit, _hard_thresholds(prof, crit, np.random.default_rng(seed)))


@pytest.mark.parametrize("crit", ALL, ids=lambda c: c.name)
def test_sweep_default_grid_equals_brute_force(crit):
    prof = _random_profile(seed=5)
    df = tradeoff.sweep(prof, crit)
    _assert_sweep_is_brute(prof, crit, df["threshold"].to_numpy())
    hist = df[[f"exit_{j}" for j in range(prof.k)]].to_numpy()
    np.testing.assert_allclose(hist.sum(1), 1.0)


@pytest.fixture(scope="module")
def text_profile():
    """A tiny random text model's teacher-forced profile (the columns of saturation, margin and,
    with CALM's classifier, learned)."""
    import torch

    from explorer.models.text import ExitLM, TextConfig
    from explorer.text_report import profile

    torch.manual_seed(0)
    model = ExitLM(TextConfig(layers=3, width=16, heads=2, context=32, classifier=True)).eval()
    return profile(model, "val", windows=2)


@pytest.mark.parametrize("crit", ALL, ids=lambda c: c.name)
def test_sweep_equals_brute_force_on_toys(toy_profile, seq_profile, text_profile, crit):
    tried = 0
    for prof in (toy_profile, seq_profile, text_profile):
        if crit.name in {c.name for c in applicable(prof.cols)}:
            _assert_sweep_is_brute(prof, crit, _hard_thresholds(prof, crit, np.random.default_rng(1)))
            _assert_sweep_is_brute(prof, crit, crit.grid(prof.scores(crit), prof.path(crit)))
            tried += 1
    assert tried


@pytest.mark.parametrize("crit", ALL, ids=lambda c: c.name)
def test_sweep_10k_by_8_over_200_thresholds(crit):
    prof = _random_profile(10_000, 8, seed=3)
    scores = prof.scores(crit)
    thresholds = np.linspace(np.nanmin(scores), scores[np.isfinite(scores)].max(), 200)
    _assert_sweep_is_brute(prof, crit, thresholds)


@pytest.mark.parametrize("crit", [c for c in ALL if set(c.reads) - {"pred", "errors"}], ids=lambda c: c.name)
def test_unread_scores_never_pass_and_the_last_exit_always_does(crit):
    prof = _random_profile(seed=2)
    for c in crit.reads:
        prof.cols[c] = np.full_like(prof.cols[c], np.nan, dtype=np.float64)
    thresholds = np.array([-np.inf, -1.0, 0.0, 0.5, 1.0, np.inf])
    df = tradeoff.sweep(prof, crit, thresholds)
    np.testing.assert_allclose(df[f"exit_{prof.k - 1}"], 1.0)
    np.testing.assert_allclose(df["mean_exit"], prof.k - 1)
    np.testing.assert_allclose(df["mean_macs"], prof.path(crit)[-1])


# ---- Pareto ---------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["toy", "graded"])
def test_pareto_points_are_not_dominated(toy_profile, graded, which):
    prof = toy_profile if which == "toy" else graded[0]
    df = tradeoff.sweep_all(prof)
    assert set(df["criterion"]) == {c.name for c in applicable(prof.cols)}
    front = tradeoff.pareto(df)
    causal = df[df["criterion"].map(lambda n: CRITERIA[n].causal)]
    assert len(front) >= 2 and set(front["criterion"]) <= set(causal["criterion"])
    cost, err = causal["mean_macs"].to_numpy(), causal["error_rate"].to_numpy()
    for c, e in front[["mean_macs", "error_rate"]].to_numpy():
        dominated = (cost <= c) & (err <= e) & ((cost < c) | (err < e))
        assert not dominated.any(), f"front point ({c}, {e}) is dominated"
    fc, fe = front["mean_macs"].to_numpy(), front["error_rate"].to_numpy()
    assert len(np.unique(fc)) == len(fc)  # one point per cost
    for c, e in zip(cost, err, strict=True):  # and every other point is matched or beaten by one on it
        assert ((fc <= c) & (fe <= e)).any()


# ---- recommendations ------------------------------------------------------------------------


@pytest.mark.parametrize("crit", CLASS_CAUSAL, ids=lambda c: c.name)
def test_recommend_is_the_cheapest_within_eps(graded, crit):
    calib, test = graded
    df = tradeoff.sweep(calib, crit)
    costs = []
    for eps in [0.0, 0.5, 1.0, 2.0, 5.0, 15.0, 30.0, 50.0, 100.0]:
        rec = tradeoff.recommend(calib, test, crit, eps)
        assert rec.calibration.drop_pt <= eps + 1e-9
        ok = df[df["drop_pt"] <= eps + 1e-9]
        assert rec.calibration.mean_macs == pytest.approx(ok["mean_macs"].min())
        assert rec.test == tradeoff.evaluate(test, crit, rec.threshold)
        costs.append(rec.calibration.mean_macs)
    assert costs == sorted(costs, reverse=True)  # a looser eps is never more expensive


def test_recommend_with_nothing_qualifying_never_exits_early(graded):
    calib, test = graded
    crit = CRITERIA["confidence"]
    rec = tradeoff.recommend(calib, test, crit, -1e9)
    assert (calib.exits(crit, rec.threshold) == calib.k - 1).all()


@pytest.mark.parametrize("crit", CLASS_CAUSAL, ids=lambda c: c.name)
def test_recommend_ltt(graded, crit):
    calib, test = graded
    grid = crit.grid(calib.scores(crit), calib.path(crit))
    safest_first = np.sort(grid) if crit.rule == "le" else np.sort(grid)[::-1]
    final = calib.cols["pred"][:, -1]

    def disagreements(thr):
        exits = calib.exits(crit, thr)
        return int((calib.cols["pred"][np.arange(calib.n), exits] != final).sum())

    def certified(thr, eps, delta):
        return binom.cdf(disagreements(thr), calib.n, eps) <= delta

    cost = {}
    for eps in [0.02, 0.05, 0.1, 0.3]:
        for delta in [0.01, 0.1, 0.3]:
            rec = tradeoff.recommend_ltt(calib, test, crit, eps, delta)
            assert rec.method == "ltt"
            d = rec.calibration.disagreement * calib.n
            assert d == pytest.approx(disagreements(rec.threshold))
            i = np.flatnonzero(safest_first == rec.threshold)
            if len(i):  # chosen from the grid: it and every safer threshold pass the test
                assert all(certified(t, eps, delta) for t in safest_first[: i[0] + 1])
                if i[0] + 1 < len(safest_first):  # and testing stopped at the next one
                    assert not certified(safest_first[i[0] + 1], eps, delta)
            else:  # nothing certified: the model is left as it is
                assert not certified(safest_first[0], eps, delta)
                assert (calib.exits(crit, rec.threshold) == calib.k - 1).all()
            cost[eps, delta] = rec.calibration.mean_macs
    for (eps, delta), c in cost.items():
        for (eps2, delta2), c2 in cost.items():
            if eps2 <= eps and delta2 <= delta:  # stricter never gives a cheaper threshold
                assert c2 >= c - 1e-9, (eps, delta, eps2, delta2)


def test_recommend_ltt_stops_at_the_first_threshold_it_cannot_certify():
    """Fixed-sequence testing is only valid if it stops at the first failure: a cheaper
    threshold that happens to pass afterwards must not be taken."""
    prof = _graded_profile(500, seed=3, k=4)
    final = prof.cols["pred"][:, -1]
    prof.cols["pred"][:, 0] = final  # exit 0 always agrees with the final exit,
    prof.cols["pred"][:, 1:3] = final[:, None] + 1  # exits 1 and 2 never do
    rec = tradeoff.recommend_ltt(prof, prof, CRITERIA["static"], eps=0.1, delta=0.1)
    assert rec.threshold == 4 and rec.calibration.mean_exit == 3  # τ = exit 4 (counted from 1): index 3


# ---- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seq_profile():
    """A profile of an untrained sequence toy (CTC and cluster heads, padded batches)."""
    model = ToySeq(ToySeqConfig()).eval()
    frames, refs = toy_seq_data(40, model.config, seed=3)
    x, lengths = model.collate(frames)
    return quick_profile(model, [(x, lengths, refs)], "seq")


@pytest.fixture(scope="module")
def toy_profile(toy_model):
    """A profile of the shared small trained toy classifier."""
    x, y, _ = toy_data(400, toy_model.config, seed=11)
    return quick_profile(toy_model, [(x, None, list(y))], "toy")


# ---- what thresholds, recommendations and curves mean, in words -------------------------
def test_a_threshold_beyond_every_score_says_what_it_does(toy_profile):
    conf = CRITERIA["confidence"]
    assert "no input leaves before the last exit" in tradeoff.threshold_effect(toy_profile, conf, 1.5)
    assert "every input leaves at the first exit" in tradeoff.threshold_effect(toy_profile, conf, -1)
    assert tradeoff.threshold_effect(toy_profile, conf, float(np.median(toy_profile.scores(conf)[:, 0]))) == ""


def test_the_smallest_certifiable_eps_is_what_ltt_can_reach_with_zero_disagreements():
    eps = tradeoff.smallest_certifiable_eps(300, 0.1)
    assert eps == pytest.approx(0.007646, abs=1e-6)
    assert binom.cdf(0, 300, eps * 1.001) <= 0.1 < binom.cdf(0, 300, eps * 0.999)


def test_the_bootstrap_interval_holds_the_error_rate_and_narrows_with_more_inputs(toy_profile):
    exits = np.full(toy_profile.n, 0)
    lo, hi = tradeoff.bootstrap_ci(toy_profile, exits)
    assert lo <= toy_profile.error_rate(exits) <= hi and lo < hi


def test_adaptive_depth_that_buys_nothing_is_said(toy_profile):
    df = tradeoff.sweep_all(toy_profile)
    flat = df.copy()
    best = flat[flat.criterion == "static"].error_rate.min()
    flat.loc[flat.criterion != "static", "error_rate"] = best  # adaptive no better than the best fixed cut
    assert "adaptive depth buys nothing" in tradeoff.adaptive_verdict(flat, toy_profile)
