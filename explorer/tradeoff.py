"""Tradeoffs over a profile: threshold sweeps, Pareto fronts, recommendations.

Everything here reads a Profile; no model runs. A sweep of one criterion over T
thresholds costs O(N·K + T) after one sort, whatever T is (see `_sweep_exits`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from .criteria import CRITERIA, Criterion, applicable
from .profile import Profile


def _sweep_exits(scores: np.ndarray, rule: str, thresholds: np.ndarray):
    """For every threshold at once: how many samples reach each exit.

    Returns (order, m): thresholds re-ordered so that passing is monotone ("a sample
    passes exit k at every threshold index t >= a[n, k]"), and m [N, K-1] with
    m[n, j] = the first threshold index at which sample n exits at or before j.
    A sample's exit at threshold index t is then #{j : m[n, j] > t}.
    """
    T = len(thresholds)
    # a NaN threshold passes nothing (as in Profile.exits): sort it as the strictest one,
    # not last, which would misplace it and every other threshold's row
    thresholds = np.where(np.isnan(thresholds), -np.inf if rule == "le" else np.inf, thresholds)
    asc = np.sort(thresholds)
    if rule == "le":  # score <= tau passes: thresholds ascending, a = #{tau < s}
        order = np.argsort(thresholds, kind="stable")
        a = np.searchsorted(asc, scores, side="left")
    else:  # ge / gt pass for small tau: thresholds descending, a = #{tau > s} (ge), #{tau >= s} (gt)
        order = np.argsort(-thresholds, kind="stable")
        a = T - np.searchsorted(asc, scores, side="right" if rule == "ge" else "left")
    a = np.where(np.isnan(scores), T, a)  # an unread score never passes
    m = np.minimum.accumulate(a, axis=1)[:, :-1]  # the last exit always passes
    return order, m


def _tail_sums(m: np.ndarray, weights: np.ndarray, T: int) -> np.ndarray:
    """[T] for each threshold index t: sum of weights[n, j] over m[n, j] > t."""
    acc = np.bincount(m.ravel(), weights=weights.ravel(), minlength=T + 1)
    return acc.sum() - np.cumsum(acc)[:T]


def sweep(profile: Profile, criterion: Criterion, thresholds=None) -> pd.DataFrame:
    """One row per threshold: quality, mean exit, cost, speedup and exit histogram."""
    scores = profile.scores(criterion)
    macs, ms = profile.path(criterion, "macs"), profile.path(criterion, "ms")
    if thresholds is None:
        thresholds = criterion.grid(scores, macs)
    thresholds = np.asarray(thresholds, np.float64)
    T, N, K = len(thresholds), profile.n, profile.k
    order, m = _sweep_exits(scores, criterion.rule, thresholds)

    err = profile.cols["errors"]
    per_sample = {  # value at exit j, per sample; sums grow by v[:, j] - v[:, j-1]
        "errors": err,
        "exit": np.broadcast_to(np.arange(K, dtype=np.float64), (N, K)),
        "macs": np.broadcast_to(macs, (N, K)),
        "ms": np.broadcast_to(ms, (N, K)),
    }
    totals = {key: v[:, 0].sum() + _tail_sums(m, np.diff(v, axis=1), T) for key, v in per_sample.items()}
    reached = np.stack([_tail_sums(m[:, [j]], np.ones((N, 1)), T) for j in range(K - 1)], 1)  # [T, K-1]
    counts = -np.diff(np.concatenate([np.full((T, 1), N), reached, np.zeros((T, 1))], 1), axis=1)

    undo = np.empty(T, int)
    undo[order] = np.arange(T)  # back to the caller's threshold order
    error_rate = totals["errors"][undo] / profile.ref_len.sum()
    df = pd.DataFrame({
        "criterion": criterion.name,
        "threshold": thresholds,
        "error_rate": error_rate,
        "mean_exit": totals["exit"][undo] / N,
        "mean_macs": totals["macs"][undo] / N,
        "mean_ms": totals["ms"][undo] / N,
    })
    df["mac_speedup"] = profile.full("macs") / df["mean_macs"]
    df["ms_speedup"] = profile.full("ms") / df["mean_ms"]
    _add_quality(df, profile)
    for j in range(K):
        df[f"exit_{j}"] = counts[undo, j] / N
    return df


def _add_quality(df: pd.DataFrame, profile: Profile) -> None:
    """Accuracy for classifiers, WER for speech, and the change vs the final exit
    (accuracy points lost, or WER points added)."""
    df[profile.quality_name[0]] = profile.quality(df["error_rate"])
    df["drop_pt"] = 100 * (df["error_rate"] - profile.exit_error(-1))


@dataclass(frozen=True)
class ThresholdMetrics:
    """One criterion at one threshold on one split: what a recommendation reports on the
    calibration and on the test split. Reports store it as JSON with these keys."""

    criterion: str
    threshold: float
    error_rate: float  # 1 - accuracy, or WER
    mean_exit: float  # 0 = the first exit
    mean_macs: float
    mean_ms: float
    mac_speedup: float  # the full model's MACs over the mean
    ms_speedup: float
    drop_pt: float  # error-rate points added against the full model (accuracy points lost, or WER points)
    disagreement: float  # share of inputs whose answer differs from the full model's

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> ThresholdMetrics:
        return cls(**d)


def evaluate(profile: Profile, criterion: Criterion, threshold: float) -> ThresholdMetrics:
    """One criterion at one threshold, straight from the decisions (no sweep trick)."""
    exits = profile.exits(criterion, threshold)
    macs = float(profile.path(criterion, "macs")[exits].mean())
    ms = float(profile.path(criterion, "ms")[exits].mean())
    error_rate = profile.error_rate(exits)
    final = profile.cols["pred"][:, -1]
    return ThresholdMetrics(
        criterion.name, float(threshold), error_rate, float(exits.mean()), macs, ms,
        profile.full("macs") / macs, profile.full("ms") / ms, 100 * (error_rate - profile.exit_error(-1)),
        float((profile.cols["pred"][np.arange(profile.n), exits] != final).mean()))


def sweep_all(profile: Profile, names=None) -> pd.DataFrame:
    """Every applicable criterion (or those named), bounds included."""
    crits = [c for c in applicable(profile.cols) if names is None or c.name in names]
    return pd.concat([sweep(profile, c) for c in crits], ignore_index=True)


def for_people(df: pd.DataFrame) -> pd.DataFrame:
    """A sweep table as people read it (the app's and the `sweep` command's CSV): exits
    counted from 1 like every page: `mean_exit` 1 = the first exit, shares `exit_1`…`exit_K`.
    The library, and `report --json`'s fields, count exits from 0."""
    shares = {f"exit_{j}": f"exit_{j + 1}" for j in range(len(df.columns)) if f"exit_{j}" in df}
    return df.assign(mean_exit=df["mean_exit"] + 1).rename(columns=shares)


def pareto(df: pd.DataFrame, cost: str = "mean_macs", error: str = "error_rate") -> pd.DataFrame:
    """Points no other point beats on both cost and error (causal criteria only)."""
    causal = df[df["criterion"].map(lambda n: CRITERIA[n].causal)]
    pts = causal.sort_values([cost, error])
    best = np.minimum.accumulate(pts[error].to_numpy())
    keep = np.r_[True, pts[error].to_numpy()[1:] < best[:-1]]
    return pts[keep]


@dataclass(frozen=True)
class Recommendation:
    criterion: str
    threshold: float
    calibration: ThresholdMetrics  # on the calibration split
    test: ThresholdMetrics  # the same threshold, measured on the disjoint test split
    method: str  # "empirical" or "ltt"
    certified: bool = True  # False: nothing met the target; every input runs to the last exit (LTT: τ = ±inf)


def recommend(calib: Profile, test: Profile, criterion: Criterion, eps_pt: float) -> Recommendation:
    """The cheapest threshold whose error rises by at most eps_pt points (accuracy
    points or WER points) over the final exit on the calibration split."""
    df = sweep(calib, criterion)
    ok = df[df["drop_pt"] <= eps_pt + 1e-9]
    if ok.empty:  # nothing qualifies: never exit early
        thr = never_exit(criterion, df)
    else:
        thr = float(ok.sort_values(["mean_macs", "error_rate"]).iloc[0]["threshold"])
    return Recommendation(criterion.name, thr, evaluate(calib, criterion, thr), evaluate(test, criterion, thr),
                          "empirical", not ok.empty)


def fixed_sequence(grid, p_value: Callable[[float], float], delta: float) -> float | None:
    """Learn-then-Test's fixed-sequence testing: walk `grid` from the safest threshold down,
    keep each whose p-value (of "its risk exceeds the target") is at most delta, stop at the
    first that is not. The last kept threshold, or None when even the first fails."""
    chosen = None
    for thr in grid:
        if p_value(thr) > delta:  # cannot reject "risk > eps"
            break
        chosen = float(thr)
    return chosen


def hoeffding_bentkus_p(mean_loss: float, n: int, eps: float) -> float:
    """p-value of "the expected loss exceeds eps" from n independent losses in [0, 1] with
    this mean: Learn-then-Test's Hoeffding–Bentkus bound (Angelopoulos et al. 2021), as
    CALM uses for its textual-consistency risks; far tighter than plain Hoeffding for small
    losses (the relative-entropy form)."""
    from scipy.stats import binom

    if mean_loss >= eps:
        return 1.0
    r = max(mean_loss, 1e-12)
    kl = r * np.log(r / eps) + (1 - r) * np.log((1 - r) / (1 - eps))
    return float(min(np.exp(-n * kl), np.e * binom.cdf(np.ceil(n * mean_loss), n, eps)))


def recommend_ltt(calib: Profile, test: Profile, criterion: Criterion, eps: float,
                  delta: float = 0.1) -> Recommendation:
    """Learn-then-Test (as in CALM): the cheapest threshold for which we can claim,
    with probability >= 1 - delta over the calibration draw, that the early answer
    disagrees with the final exit's on at most a fraction eps of inputs — which also
    bounds the accuracy drop by eps.

    Thresholds are tested in a fixed order from the most conservative down (fixed-
    sequence testing, so no multiple-testing correction is needed), each with an exact
    binomial p-value, and testing stops at the first one not rejected."""
    from scipy.stats import binom  # here, not at the top: scipy.stats takes a second to import

    scores = calib.scores(criterion)
    grid = criterion.grid(scores, calib.path(criterion))
    grid = np.sort(grid) if criterion.rule == "le" else np.sort(grid)[::-1]  # safest first
    final = calib.cols["pred"][:, -1]
    # nothing certified: every input runs to the last exit, on the test split too (a threshold
    # just beyond the calibration scores could still let some test inputs leave early)
    def p_value(thr) -> float:  # of "the share of answers changed exceeds eps": exact binomial
        exits = calib.exits(criterion, thr)
        disagree = int((calib.cols["pred"][np.arange(calib.n), exits] != final).sum())
        return float(binom.cdf(disagree, calib.n, eps))

    chosen = fixed_sequence(grid, p_value, delta)
    certified = chosen is not None
    chosen = chosen if certified else (-np.inf if criterion.rule == "le" else np.inf)
    return Recommendation(criterion.name, chosen, evaluate(calib, criterion, chosen),
                          evaluate(test, criterion, chosen), "ltt", certified)


def never_exit(criterion: Criterion, df: pd.DataFrame) -> float:
    """The threshold that keeps every input to the final exit."""
    t = df["threshold"]
    return float(t.min() if criterion.rule == "le" else t.max())


# ---- what a threshold, a recommendation and a curve mean, in words ------------------------
THRESHOLD_UNITS = {"budget": "MACs", "static": "the exit, 1 = first", "patience": "exits in a row"}


def threshold_label(criterion: str) -> str:
    """What a threshold control of this criterion is called, with its unit where it has one."""
    unit = THRESHOLD_UNITS.get(criterion)
    return f"Threshold τ ({unit})" if unit else "Threshold τ"


def threshold_effect(profile: Profile, criterion: Criterion, thr: float) -> str:
    """A sentence when τ lies outside every score the inputs reach (so it acts as "all
    leave at the first exit" or "none leave early"), else ""."""
    if criterion.name in ("budget", "static", "patience"):
        return ""
    s = profile.scores(criterion)[:, :-1]  # the last exit always passes
    s = s[np.isfinite(s)]
    if not len(s):
        return ""
    lo, hi = float(s.min()), float(s.max())
    passes_all = thr <= lo if criterion.rule == "ge" else thr >= hi
    passes_none = thr > hi if criterion.rule == "ge" else thr < lo
    where = f"the scores of these inputs lie in {lo:.3g}–{hi:.3g}"
    if passes_none:
        return f"τ = {thr:.4g} is beyond every score ({where}): no input leaves before the last exit."
    if passes_all:
        return f"τ = {thr:.4g} passes every score ({where}): every input leaves at the first exit."
    return ""


def ltt_meaning(eps: float, delta: float) -> str:
    """What Learn-then-Test's ε and δ promise, in one sentence (ε a share of inputs)."""
    return (f"ε = {eps:.2%} and δ = {delta:g} mean: with probability at least {1 - delta:.0%} over the draw of the "
            f"calibration inputs, the early answer differs from the full model's on at most {eps:.2%} of new inputs "
            "like them.")


def smallest_certifiable_eps(n: int, delta: float) -> float:
    """The smallest ε Learn-then-Test can certify with `n` calibration inputs at level
    δ, reached only with zero disagreements: (1 - ε)^n <= δ."""
    return 1 - delta ** (1 / n)


def bootstrap_ci(profile: Profile, exits: np.ndarray, level: float = 0.95, draws: int = 2000,
                 seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of the error rate at these exits (inputs resampled with
    replacement; for WER a clip's errors and reference words move together). Inputs
    with the same (errors, words) are interchangeable, so each draw is a multinomial
    over those few kinds: the same distribution as resampling inputs, at a tiny cost."""
    rng = np.random.default_rng(seed)
    err = profile.cols["errors"][np.arange(profile.n), exits]
    pairs, counts = np.unique(err + 1j * profile.ref_len, return_counts=True)  # sorted like (errors, words) rows
    kinds = np.stack([pairs.real, pairs.imag], 1)
    draws_counts = rng.multinomial(profile.n, counts / counts.sum(), size=draws)  # [draws, kinds]
    rates = (draws_counts @ kinds[:, 0]) / np.maximum(draws_counts @ kinds[:, 1], 1)
    tail = (1 - level) / 2
    return float(np.quantile(rates, tail)), float(np.quantile(rates, 1 - tail))


def adaptive_verdict(df: pd.DataFrame, profile: Profile) -> str:
    """A plain sentence when adaptive depth buys nothing on this evaluation set: no causal
    adaptive criterion beats static truncation at the same or lower cost by more than
    the bootstrap uncertainty of the full model; or a fixed cut is as good as the full
    model. "" when adaptive depth does buy something."""
    lo, hi = bootstrap_ci(profile, np.full(profile.n, profile.k - 1))
    margin = (hi - lo) / 2
    static = df[df.criterion == "static"].sort_values("mean_macs")
    adaptive = df[df.criterion.map(lambda c: CRITERIA[c].causal and c not in ("static", "budget"))]
    if static.empty or adaptive.empty:
        return ""
    gains = []
    for _, cut in static.iterrows():
        cheaper = adaptive[adaptive.mean_macs <= cut.mean_macs * 1.0001]
        if len(cheaper):
            gains.append(cut.error_rate - cheaper.error_rate.min())
    quality = profile.quality_name[1]
    final = profile.exit_error(-1)
    early = static[static.error_rate <= final + 1e-12]
    cut_note = ""
    if len(early) and int(early.iloc[0].threshold) < profile.k - 1:
        k = int(early.iloc[0].threshold)
        cut_note = (f" A fixed cut at exit {k + 1} of {profile.k} is already as good as the full model "
                    f"({quality} {profile.quality(early.iloc[0].error_rate):.2%} against "
                    f"{profile.quality(final):.2%}).")
    if not gains or max(gains) <= margin:
        return ("On this evaluation set adaptive depth buys nothing over a fixed cut: at every cost, static "
                f"truncation is within the uncertainty (±{100 * margin:.2f} points) of the best adaptive "
                f"criterion.{cut_note}")
    return cut_note.strip()
