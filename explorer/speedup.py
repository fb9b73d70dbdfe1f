"""One definition of a measured speedup, used by the README, the Overview, the
Tradeoffs and Model pages, the live pages and the reports.

**Measured speedup** = the plain model's median wall-clock time ÷ the real early-exit
run's median wall-clock time, on the same inputs, at the same batch size, on the same
machine, the two timed in turns after a warm-up (so a busy moment disturbs both alike).
**Ideal speedup** = the plain model's MACs ÷ the MACs the exits really spent.

A realized speedup above the ideal (exits cannot save more than the work they skip),
or runs that vary too much, is a noisy measurement, not a result: `Speedup.noisy`
says why, and pages show that reason instead of the figure.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

WARMUP = 1  # untimed runs first (caches, lazy initialisation, the allocator)
REPEATS = 5  # timed runs of each way, taking turns
MIN_REPEATS = 3  # at least this many, even past the time budget
IDEAL_SLACK = 1.10  # realized > ideal × this: noisy
MAX_SPREAD = 0.5  # interquartile range / median above this: noisy
DEFINITION = ("Measured speedup: the plain model's median wall-clock time over the real early-exit run's, on the "
              "same inputs, batch size and machine, timed in turns after a warm-up. Ideal speedup: the plain "
              "model's MACs over the MACs the exits really spent.")


@dataclass(frozen=True)
class Timing:
    """Milliseconds of repeated runs of one thing."""

    runs_ms: tuple[float, ...]

    @property
    def median(self) -> float:
        return float(np.median(self.runs_ms))

    @property
    def low(self) -> float:  # the 25th and 75th percentiles: the spread
        return float(np.percentile(self.runs_ms, 25))

    @property
    def high(self) -> float:
        return float(np.percentile(self.runs_ms, 75))

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median."""
        return (self.high - self.low) / self.median if self.median > 0 else float("inf")

    def text(self, per: int = 1) -> str:
        """"3.21 ms (3.10–3.40, 5 runs)", per input when `per` inputs ran together."""
        return (f"{self.median / per:.3g} ms ({self.low / per:.3g}–{self.high / per:.3g}, "
                f"{len(self.runs_ms)} runs)")


def time_calls(fns: list, repeats: int = REPEATS, warmup: int = WARMUP,
               budget_s: float | None = None) -> tuple[list[Timing], list]:
    """Time each function `repeats` times after `warmup` untimed runs, taking turns;
    stop early (after MIN_REPEATS) once `budget_s` seconds are spent. Returns the
    timings and each function's last result."""
    out = [None] * len(fns)
    for _ in range(warmup):
        for i, fn in enumerate(fns):
            out[i] = fn()
    runs: list[list[float]] = [[] for _ in fns]
    begin = time.perf_counter()
    for r in range(max(repeats, 1)):
        if budget_s is not None and r >= MIN_REPEATS and time.perf_counter() - begin > budget_s:
            break
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            out[i] = fn()
            runs[i].append(1e3 * (time.perf_counter() - start))
    return [Timing(tuple(r)) for r in runs], out


@dataclass(frozen=True)
class Speedup:
    """The plain model against real exits, timed together (see the module docstring)."""

    full: Timing
    exit: Timing
    ideal: float
    batch: int = 1
    inputs: int = 1

    @property
    def realized(self) -> float:
        return self.full.median / self.exit.median if self.exit.median > 0 else float("inf")

    @property
    def noisy(self) -> str:
        """Why this measurement cannot be trusted, or "" if it can."""
        if self.realized > self.ideal * IDEAL_SLACK:
            return (f"the realized speedup ({self.realized:.2f}×) is above the ideal ({self.ideal:.2f}×), which real "
                    "exits cannot beat: the plain model's runs were slowed by something else on this machine")
        worst = max(self.full.spread, self.exit.spread)
        if worst > MAX_SPREAD:
            return (f"the runs varied too much (interquartile range {worst:.0%} of the median): the machine is busy, "
                    "measure again")
        return ""

    def text(self) -> str:
        """The figure, or the reason it is not one."""
        if self.noisy:
            return f"noisy measurement — {self.noisy}"
        return f"{self.realized:.2f}× measured (ms) ({self.ideal:.2f}× by MACs, ideal)"

    def to_dict(self) -> dict:
        return {"realized": self.realized, "ideal": self.ideal, "batch": self.batch, "inputs": self.inputs,
                "full_ms": list(self.full.runs_ms), "exit_ms": list(self.exit.runs_ms), "noisy": self.noisy}
