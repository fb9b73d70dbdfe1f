"""Anytime inference under harvested power (FreeML's batteryless setting), from a profile.

A simulated harvester charges a storage capacitor; inputs arrive at a fixed period and
each gets, as its budget, the energy stored when it arrives. With early exit the budget
criterion (criteria.py "budget", the very rule the engine runs) takes the deepest exit
whose cost fits; an input that cannot afford even the first exit is missed. The plain
model runs only when the whole network fits and misses the input otherwise. Spending
drains the capacitor, so each input's budget depends on the inputs before it: the
simulation is a loop over arrivals, each one a lookup in the profile (no inference),
so it is instant and deterministic for a seed.

Settings stated, not hidden: energy per MAC (default 1 nJ, a microcontroller-class
figure: FreeML's MSP430-class devices spend nanojoules per multiply-accumulate), the
capacitor's size, the input period. Inference is taken as instantaneous next to the
input period, and only MACs cost energy.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .criteria import first_exit, get
from .profile import Profile

SHAPES = ("steady", "solar", "intermittent")


@dataclass
class TraceConfig:
    shape: str = "intermittent"  # one of SHAPES
    seconds: float = 600.0  # length of the run
    mean_mw: float = 2.0  # average harvested power (mW) over the run
    dt: float = 0.1  # resolution of the trace (s)
    # steady: a constant source with a little ripple
    ripple: float = 0.05  # relative standard deviation of the ripple
    # solar: half a sine over the run (morning to evening), dimmed by passing clouds
    clouds_per_min: float = 1.0
    cloud_seconds: float = 20.0  # mean duration of a cloud
    cloud_depth: float = 0.8  # share of the light a cloud takes away
    # intermittent RF: short bursts of power from a transmitter, nothing in between
    bursts_per_min: float = 6.0
    burst_seconds: float = 2.0
    seed: int = 0


@dataclass(frozen=True)
class Knob:
    """A setting people can move: its field, words and range (pages draw sliders from it)."""

    field: str
    label: str
    low: float
    high: float
    step: float


# the parameters of each trace shape, beyond the mean power, length and seed every shape has
SHAPE_KNOBS: dict[str, list[Knob]] = {
    "steady": [Knob("ripple", "ripple (relative std)", 0.0, 0.5, 0.01)],
    "solar": [Knob("clouds_per_min", "clouds per minute", 0.0, 6.0, 0.1),
              Knob("cloud_seconds", "mean cloud length (s)", 1.0, 120.0, 1.0),
              Knob("cloud_depth", "light a cloud takes away", 0.0, 1.0, 0.05)],
    "intermittent": [Knob("bursts_per_min", "RF bursts per minute", 0.5, 30.0, 0.5),
                     Knob("burst_seconds", "mean burst length (s)", 0.2, 20.0, 0.2)],
}


@dataclass
class EnergySettings:
    nj_per_mac: float = 1.0  # energy of one multiply-accumulate (nJ)
    capacitor_mj: float = 25.0  # storage: energy beyond this is lost
    period_s: float = 5.0  # an input arrives every period_s seconds
    start_mj: float = 0.0  # stored energy at t = 0


@dataclass
class Trace:
    t: np.ndarray  # [T] seconds
    power_mw: np.ndarray  # [T] harvested power
    config: TraceConfig


@dataclass
class PolicyRun:
    name: str  # "early exit (budget)" or "full model only"
    exit: np.ndarray  # [n] exit taken, -1 where the input was missed
    correct: np.ndarray  # [n] bool: answered and right (no errors)
    budget_macs: np.ndarray  # [n] what the stored energy could pay for at arrival
    stored_mj: np.ndarray  # [T] energy in the capacitor over the trace

    @property
    def answered(self) -> int:
        return int((self.exit >= 0).sum())

    @property
    def n_correct(self) -> int:
        return int(self.correct.sum())

    @property
    def accuracy(self) -> float:
        """Right answers over all arrivals: a missed input counts as wrong."""
        return self.n_correct / len(self.exit) if len(self.exit) else 0.0


@dataclass(frozen=True)
class EnergySummary:
    """An energy run in figures (`python -m explorer energy` prints these keys)."""

    arrivals: int
    early_answered: int
    early_correct: int
    early_accuracy: float  # right answers over all arrivals
    full_answered: int
    full_correct: int
    full_accuracy: float
    mean_exit_answered: float  # of the inputs early exit answered, 1 = the first exit (0 when none)
    nj_per_mac: float
    mean_mw: float
    shape: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class EnergyRun:
    trace: Trace
    settings: EnergySettings
    arrivals: np.ndarray  # [n] arrival times (s)
    inputs: np.ndarray  # [n] index of each arriving input in the profile
    costs_macs: np.ndarray  # [K] cumulative MACs of leaving at each exit (budget criterion's path)
    full_macs: float  # the plain model
    early: PolicyRun
    full: PolicyRun

    @property
    def summary(self) -> EnergySummary:
        e, f = self.early, self.full
        return EnergySummary(
            len(self.arrivals), e.answered, e.n_correct, e.accuracy, f.answered, f.n_correct, f.accuracy,
            float(e.exit[e.exit >= 0].mean() + 1) if e.answered else 0.0,
            self.settings.nj_per_mac, self.trace.config.mean_mw, self.trace.config.shape)


def power_trace(cfg: TraceConfig) -> Trace:
    """A harvested-power trace of `cfg.shape`, scaled to `cfg.mean_mw` on average."""
    if cfg.shape not in SHAPES:
        raise ValueError(f"unknown power trace {cfg.shape!r}; choose one of {', '.join(SHAPES)}")
    if cfg.seconds <= 0 or cfg.dt <= 0 or cfg.mean_mw < 0:
        raise ValueError("the trace needs a positive length and resolution and a mean power of at least 0")
    rng = np.random.default_rng(cfg.seed)
    t = np.arange(0.0, cfg.seconds, cfg.dt)
    if cfg.shape == "steady":
        p = np.clip(1 + cfg.ripple * rng.standard_normal(len(t)), 0, None)
    elif cfg.shape == "solar":
        p = np.sin(np.pi * (t + cfg.dt / 2) / cfg.seconds)
        p *= 1 - cfg.cloud_depth * _episodes(rng, t, cfg.clouds_per_min, cfg.cloud_seconds)
    else:
        p = _episodes(rng, t, cfg.bursts_per_min, cfg.burst_seconds)
    mean = p.mean()
    return Trace(t, p * (cfg.mean_mw / mean) if mean > 0 else p, cfg)


def _episodes(rng, t: np.ndarray, per_min: float, mean_seconds: float) -> np.ndarray:
    """[T] 1 inside randomly timed episodes (Poisson starts, exponential lengths), else 0."""
    on = np.zeros(len(t))
    if per_min <= 0 or len(t) == 0:
        return on
    span = t[-1] + (t[1] - t[0] if len(t) > 1 else 1.0)
    n = rng.poisson(per_min * span / 60)
    starts = rng.uniform(0, span, n)
    lengths = rng.exponential(mean_seconds, n)
    for s, d in zip(starts, lengths, strict=True):
        on[(t >= s) & (t < s + d)] = 1.0
    return on


def _policy(name: str, prof: Profile, trace: Trace, s: EnergySettings, arrivals, inputs, decide) -> PolicyRun:
    """Charge the capacitor along the trace; at each arrival `decide(budget_macs)` returns
    the exit (or -1) and the capacitor pays that exit's cost."""
    dt = trace.config.dt
    mj_per_mac = s.nj_per_mac * 1e-6
    cap = s.capacitor_mj
    stored, level = np.empty(len(trace.t)), min(s.start_mj, cap)
    steps = np.searchsorted(trace.t, arrivals, side="right")  # arrival j comes after trace step steps[j]-1
    exits, budgets = np.full(len(arrivals), -1), np.zeros(len(arrivals))
    j = 0
    for i, p in enumerate(trace.power_mw):
        level = min(cap, level + p * dt)  # mW x s = mJ
        while j < len(arrivals) and steps[j] == i + 1:
            budgets[j] = level / mj_per_mac
            exits[j] = decide(budgets[j])
            if exits[j] >= 0:
                level -= decide.costs[exits[j]] * mj_per_mac
            j += 1
        stored[i] = level
    err = prof.cols["errors"][inputs, np.maximum(exits, 0)]
    return PolicyRun(name, exits, (exits >= 0) & (err == 0), budgets, stored)


class _Budget:
    """The budget criterion on one input: the deepest exit whose cumulative cost fits
    (criteria.py's rule, as the engine applies it), or -1 when not even exit 0 fits."""

    def __init__(self, prof: Profile):
        self.crit = get("budget")
        self.costs = prof.path(self.crit)  # [K]
        self.scores = prof.scores(self.crit)[:1]  # [1, K]: the same for every input

    def __call__(self, budget: float) -> int:
        if budget < self.costs[0]:
            return -1
        return int(first_exit(self.crit.passes(self.scores, budget))[0])


class _FullOnly:
    """The plain model: every stage when the whole network fits, else nothing."""

    def __init__(self, prof: Profile):
        K = prof.k
        self.costs = np.full(K, prof.full("macs"))
        self.last = K - 1

    def __call__(self, budget: float) -> int:
        return self.last if budget >= self.costs[-1] else -1


def simulate(prof: Profile, trace: Trace, settings: EnergySettings | None = None) -> EnergyRun:
    """Both policies on the same trace and the same arriving inputs (the profile's inputs
    in a seeded random order, repeated if the run is longer than the dataset)."""
    s = settings or EnergySettings()
    if s.period_s <= 0 or s.nj_per_mac <= 0 or s.capacitor_mj <= 0:
        raise ValueError("the input period, the energy per MAC and the capacitor must be positive")
    arrivals = np.arange(s.period_s, trace.config.seconds + 1e-9, s.period_s)
    order = np.random.default_rng(trace.config.seed + 1).permutation(prof.n)
    inputs = order[np.arange(len(arrivals)) % prof.n]
    early, full = _Budget(prof), _FullOnly(prof)
    run_e = _policy("early exit (budget)", prof, trace, s, arrivals, inputs, early)
    run_f = _policy("full model only", prof, trace, s, arrivals, inputs, full)
    return EnergyRun(trace, s, arrivals, inputs, early.costs, prof.full("macs"), run_e, run_f)
