"""Exit criteria: one definition each, used by the profile sweep and the live engine.

A criterion turns the evidence read so far into a score per exit and exits at the
first exit whose score passes its rule against a threshold (the last exit if none
does). `score` must be causal: column k may only use exits <= k, so the engine can
call the very same function on what it has read so far and take the last column.
Bounds (the oracles) are not causal: they need labels or the final exit, and are
only drawn from profiles.

Adding a criterion is one `Criterion(...)` entry in CRITERIA below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RULES: dict[str, Callable] = {
    "ge": np.greater_equal,  # exit when score >= threshold (confidence-like)
    "le": np.less_equal,  # exit when score <= threshold (entropy-like)
    "gt": np.greater,  # exit when score > threshold (budget: next exit would not fit)
}


@dataclass
class Evidence:
    """What a criterion sees: score columns [n, k] for the exits read so far.

    costs: cumulative MACs up to each of the K exits on this criterion's path (for
    the budget criterion). In the engine k grows exit by exit; in a profile k = K.
    """

    cols: dict[str, np.ndarray]
    costs: np.ndarray
    n: int
    k: int


@dataclass(frozen=True)
class Criterion:
    name: str
    label: str  # shown in plots and menus
    reads: tuple[str, ...]  # score columns it needs (see readout.KIND_COLUMNS)
    rule: str  # key of RULES
    score: Callable[[Evidence], np.ndarray]  # -> [n, k]
    grid: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (scores [N, K], costs [K]) -> thresholds
    causal: bool = True  # False: a bound, needs labels or the final exit
    needs_costs: bool = False  # reads Evidence.costs (the engine must be given them)
    default: float = 0.0  # a sensible first threshold for the sliders
    source: str = ""  # where it comes from

    @property
    def score_column(self) -> str | None:
        """The head score this criterion compares with its threshold (None: it thresholds
        something else, e.g. a streak of predictions, an exit index or a cost)."""
        return next((c for c in self.reads if c not in ("pred", "errors")), None)

    def passes(self, score: np.ndarray, threshold) -> np.ndarray:
        return RULES[self.rule](score, threshold)


def first_exit(passes: np.ndarray) -> np.ndarray:
    """[N, K] bools -> [N] index of the first passing exit (the last exit if none)."""
    passes = passes.copy()
    passes[:, -1] = True
    return passes.argmax(1)


# ---- score functions (causal unless said) -------------------------------------


def _column(name: str) -> Callable[[Evidence], np.ndarray]:
    return lambda ev: ev.cols[name]


def _streak(ev: Evidence) -> np.ndarray:
    """PABEE patience: how many exits in a row the prediction has stayed the same."""
    pred = ev.cols["pred"]
    streak = np.zeros(pred.shape, np.float64)
    for k in range(1, pred.shape[1]):
        streak[:, k] = np.where(pred[:, k] == pred[:, k - 1], streak[:, k - 1] + 1, 0)
    return streak


def _exit_number(ev: Evidence) -> np.ndarray:
    """Each exit's number as people count it (1 = first): static truncation's τ = 3 is exit 3."""
    return np.arange(1, ev.k + 1, dtype=np.float64)[None].repeat(ev.n, 0)  # not broadcast_to: 10x its cost at n = 1


def _next_cost(ev: Evidence) -> np.ndarray:
    """Cost of going one exit further (inf after the last): exit once it would not fit."""
    nxt = np.append(ev.costs[1:], np.inf)[: ev.k]
    return nxt[None].repeat(ev.n, 0)


def _earliest_best(ev: Evidence) -> np.ndarray:
    """Correctness oracle: 1 where this exit makes as few errors as any exit."""
    err = ev.cols["errors"]
    return (err <= err.min(1, keepdims=True)).astype(np.float64)


def _agrees_with_final(ev: Evidence) -> np.ndarray:
    """Consistency oracle: 1 where this exit's prediction equals the final one."""
    pred = ev.cols["pred"]
    return (pred == pred[:, -1:]).astype(np.float64)


# ---- threshold grids --------------------------------------------------------------


def _continuous(scores: np.ndarray, costs: np.ndarray, size: int = 200) -> np.ndarray:
    """Thresholds between distinct score values (never on one: no ties at the edge),
    plus one below and one above them all, so both extremes are on every curve."""
    u = np.unique(scores[:, :-1][np.isfinite(scores[:, :-1])])
    if len(u) == 0:
        return np.array([0.0])
    pad = max(1e-6, 1e-3 * (u[-1] - u[0]))
    if len(u) > size:
        idx = np.unique(np.linspace(0, len(u) - 2, size - 2).astype(int))
        mids = (u[idx] + u[idx + 1]) / 2
    else:
        mids = (u[:-1] + u[1:]) / 2
    return np.concatenate([[u[0] - pad], mids, [u[-1] + pad]])


def _exit_numbers(scores: np.ndarray, costs: np.ndarray) -> np.ndarray:
    return np.arange(1, scores.shape[1] + 1, dtype=np.float64)


def _patience_grid(scores: np.ndarray, costs: np.ndarray) -> np.ndarray:
    return np.arange(1, max(2, scores.shape[1]), dtype=np.float64)


def _costs_grid(scores: np.ndarray, costs: np.ndarray) -> np.ndarray:
    return np.asarray(costs, np.float64)


def _one(scores: np.ndarray, costs: np.ndarray) -> np.ndarray:
    return np.array([1.0])


CRITERIA: dict[str, Criterion] = {
    c.name: c
    for c in [
        Criterion("confidence", "max softmax ≥ τ", ("confidence",), "ge", _column("confidence"),
                  _continuous, default=0.9, source="Shallow-Deep Networks"),
        Criterion("entropy", "entropy ≤ τ", ("entropy",), "le", _column("entropy"),
                  _continuous, default=0.2, source="BranchyNet / DeeBERT"),
        Criterion("entropy_norm", "entropy / log C ≤ τ", ("entropy_norm",), "le",
                  _column("entropy_norm"), _continuous, default=0.1, source="FastBERT"),
        Criterion("patience", "same prediction t exits in a row", ("pred",), "ge", _streak,
                  _patience_grid, default=2, source="PABEE"),
        Criterion("ctc_entropy", "frame-mean CTC entropy ≤ τ", ("ctc_entropy",), "le",
                  _column("ctc_entropy"), _continuous, default=0.1, source="HuBERT-EE"),
        Criterion("daisy", "frame-mean SSL cluster entropy ≤ τ", ("ssl_entropy",), "le",
                  _column("ssl_entropy"), _continuous, default=2.0, source="DAISY"),
        Criterion("budget", "deepest exit within a MAC budget", (), "gt", _next_cost,
                  _costs_grid, default=float("inf"), needs_costs=True, source="FreeML (anytime)"),
        Criterion("static", "every input leaves at exit k", (), "ge", _exit_number,
                  _exit_numbers, default=1, source="static truncation"),
        Criterion("oracle_correct", "oracle: earliest correct exit", ("errors",), "ge",
                  _earliest_best, _one, causal=False, default=1, source="bound"),
        Criterion("oracle_consistent", "oracle: earliest exit agreeing with the final",
                  ("pred",), "ge", _agrees_with_final, _one, causal=False, default=1,
                  source="bound"),
        # text generation (explorer.generate): last, so the other criteria keep their colours
        Criterion("margin", "softmax margin: top-1 − top-2 probability ≥ τ", ("margin",), "ge",
                  _column("margin"), _continuous, default=0.5, source="CALM (softmax margin)"),
        Criterion("learned", "learned classifier: P(same token as the last exit) ≥ τ", ("learned",), "ge",
                  _column("learned"), _continuous, default=0.9, source="CALM (learned classifier)"),
        Criterion("saturation", "hidden-state change: cos(h before, h after) ≥ τ", ("saturation",), "ge",
                  _column("saturation"), _continuous, default=0.95, source="CALM (state saturation)"),
    ]
}


def applicable(columns) -> list[Criterion]:
    """The criteria a model's profile (or head set) has the columns for."""
    return [c for c in CRITERIA.values() if set(c.reads) <= set(columns)]


def get(name: str) -> Criterion:
    try:
        return CRITERIA[name]
    except KeyError:
        raise ValueError(f"unknown criterion {name!r}; choose one of {', '.join(CRITERIA)}") from None
