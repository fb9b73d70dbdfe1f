"""The speed benchmark: full depth vs real exits on the same inputs, same batch size
(the measured speedup as `speedup` defines it)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from . import criteria, tradeoff, zoo
from .costs import Costs
from .engine import run_full, run_stream, run_with_exits
from .profile import Profile, ProfileMeta
from .speedup import REPEATS, WARMUP, Speedup, time_calls


@dataclass(frozen=True)
class BenchResult:
    """One benchmark: the plain model against real exits on the same inputs and batch size."""

    model: str
    criterion: str
    threshold: float
    samples: int
    threads: int  # torch threads it ran on
    mean_exit: float  # 0 = the first exit
    speedup: Speedup  # the timings, the ideal (MACs) and realized speedup, and whether it is noisy
    quality_name: str  # the quality column ("accuracy" or "wer") of the two figures below
    quality_full: float
    quality_exit: float
    profile_agreement: float  # share of inputs whose real exit equals the profile's
    sweep_ms_10k: float  # see sweep_ms_10k

    @property
    def batch(self) -> int:
        return self.speedup.batch

    @property
    def ideal_speedup(self) -> float:
        return self.speedup.ideal

    @property
    def realized_speedup(self) -> float:  # see explorer.speedup: the one definition
        return self.speedup.realized

    @property
    def realized_over_ideal(self) -> float:
        return self.speedup.realized / self.speedup.ideal

    @property
    def noisy(self) -> str:
        """Why the measurement cannot be trusted ("" if it can)."""
        return self.speedup.noisy

    @property
    def ms_per_input_full(self) -> float:
        return self.speedup.full.median / self.samples

    @property
    def ms_per_input_exit(self) -> float:
        return self.speedup.exit.median / self.samples

    def to_json(self) -> dict:
        """`bench --json`'s keys (the quality ones named after it: accuracy_full, wer_exit, ...)."""
        return {
            "model": self.model, "criterion": self.criterion, "threshold": self.threshold, "batch": self.batch,
            "samples": self.samples, "threads": self.threads, "mean_exit": self.mean_exit,
            "ideal_speedup": self.ideal_speedup, "realized_speedup": self.realized_speedup,
            "realized_over_ideal": self.realized_over_ideal, "noisy": self.noisy,
            "speedup": self.speedup.to_dict(),
            "ms_per_input_full": self.ms_per_input_full, "ms_per_input_exit": self.ms_per_input_exit,
            f"{self.quality_name}_full": self.quality_full, f"{self.quality_name}_exit": self.quality_exit,
            "profile_agreement": self.profile_agreement, "sweep_ms_10k": self.sweep_ms_10k,
        }


PROBE_INPUTS, PROBE_S, PROBE_TTL_S = 8, 0.5, 5.0  # the speed probe: its inputs, time budget, shelf life
_LAST: dict[tuple[str, int], tuple[float, int, int]] = {}  # (model, batch) -> the last run's (s, inputs, runs)
_PROBED: dict[tuple[str, int, int], tuple[float, float]] = {}  # (model, batch, inputs) -> (when, ms per input)


@dataclass(frozen=True)
class Estimate:
    """How long a benchmark will take, and from what."""

    seconds: float
    basis: str  # in words: the measurement it comes from


def ms_per_input_now(model_name: str, batch: int, n: int) -> float:
    """The plain model's ms per input on this machine now (busy cores and other sessions
    included): its first `n` test inputs at batch size `batch`, timed in up to 25 runs in about
    PROBE_S after a warm-up; the 25th percentile, as a burst of other work (a page's first visit
    loading profiles) passes while a steady load stays; re-measured after PROBE_TTL_S."""
    now = time.monotonic()
    key = model_name, batch, n
    if key in _PROBED and now - _PROBED[key][0] < PROBE_TTL_S:
        return _PROBED[key][1]
    entry, model = zoo.get(model_name), zoo.model(model_name)
    inputs, targets = entry.data(entry.test_split)
    chunks = list(zoo.batches(model, inputs[:n], targets[:n], batch))

    def plain():
        return [run_full(model, x, lengths) for x, lengths, _ in chunks]

    with torch.inference_mode():
        (timing,), _ = time_calls([plain], repeats=25, warmup=1, budget_s=PROBE_S)
    ms = timing.low / min(n, len(inputs))
    _PROBED[key] = now, ms
    return ms


def estimate(model_name: str, criterion_name: str, threshold: float, batch: int, limit: int,
             repeats: int = REPEATS) -> Estimate:
    """How long `bench(...)` will take here: as the last run of this model and batch took,
    scaled to these inputs; before any run, the plain model timed now (a short probe) × the
    inputs × the runs, plus the real exits' share of the full model's ms from the profile."""
    entry = zoo.get(model_name)
    runs = WARMUP + repeats
    total = len(entry.data(entry.test_split)[0])
    limit = min(limit or total, total)
    if (model_name, batch) in _LAST:
        took, n, r = _LAST[model_name, batch]
        return Estimate(took * limit * runs / (n * r), f"the last run here: {took:.3g} s for {n} inputs × {r} runs "
                                                        "of each way, scaled")
    from .deployed import split

    base, runtime = split(model_name)
    measured = model_name if runtime == "torch" or zoo.loaded(model_name, entry.test_split) else base
    prof = zoo.profile(measured, entry.test_split)  # the exits' share: a runtime's own profile once it is made
    exits = prof.exits(criteria.get(criterion_name), threshold)[:limit]
    share = float(prof.path(criteria.get(criterion_name), "ms")[exits].mean()) / prof.full("ms")
    n = min(limit, PROBE_INPUTS)
    ms = ms_per_input_now(measured, min(batch, n), n)
    basis = (f"the plain model timed now on {n} inputs at batch {min(batch, n)}: {ms:.3g} ms per input, × {limit} "
             f"inputs × {runs} runs, "
             f"+ {share:.0%} for the run with exits (its share of the full model's ms in the profile)")
    if measured != model_name:
        basis += f" (PyTorch's: {runtime} is exported and profiled once first, which this does not count)"
    from .compute import busy

    if why := busy():
        basis += f"; timed while {why}, so a run once that passes is quicker"
    return Estimate(ms * limit * runs * (1 + share) / 1e3, basis)


def bench(model_name: str, criterion_name: str, threshold: float | None, batch: int,
          split: str | None = None, repeats: int = 5, progress=None, limit: int = 0) -> BenchResult:
    """Time the plain model and real exits on the same inputs (the first `limit` of the
    split, 0 = all), `repeats` runs each after a warm-up (medians: `speedup`), and check
    the exits against the profile's."""
    entry = zoo.get(model_name)
    split = split or entry.test_split
    crit = criteria.get(criterion_name)
    model = zoo.model(model_name)
    prof = zoo.profile(model_name, split, progress)
    if crit.name not in {c.name for c in criteria.applicable(prof.cols)} or not crit.causal:
        raise ValueError(f"criterion {crit.name} cannot run on model {model_name}")
    threshold = crit.default if threshold is None else threshold
    began = time.perf_counter()  # (a profile built on first use is not part of the run)
    inputs, targets = entry.data(split)
    if limit:
        inputs, targets = inputs[:limit], targets[:limit]
    costs = prof.path(crit)

    if batch == 1:  # latency: each input alone, as a live page runs it
        chunks = list(zoo.batches(model, inputs, targets, 1))

        def full():
            return [p for x, lengths, _ in chunks for p in run_full(model, x, lengths)]

        def early():
            results = [run_with_exits(model, x, crit, threshold, costs, lengths) for x, lengths, _ in chunks]
            return np.concatenate([r.exit for r in results]), [p for r in results for p in r.pred]
    else:  # throughput: the same stage-by-stage schedule with and without exits

        def full():
            return run_stream(model, inputs, None, batch=batch).pred

        def early():
            r = run_stream(model, inputs, crit, threshold, costs, batch)
            return r.exit, r.pred

    (t_full, t_exit), (pred_full, (exits, pred_exit)) = time_calls([full, early], repeats)

    expected = prof.exits(crit, threshold)[: len(inputs)]
    n_ref = prof.ref_len[: len(inputs)].sum()  # the profile was built on these very inputs

    def error_rate(preds):
        return sum(model.errors(p, t)[0] for p, t in zip(preds, targets, strict=False)) / n_ref

    sp = Speedup(t_full, t_exit, float(prof.full("macs") / costs[exits].mean()), batch, len(inputs))
    result = BenchResult(model_name, crit.name, float(threshold), len(inputs), torch.get_num_threads(),
                         float(exits.mean()), sp, prof.quality_name[0], prof.quality(error_rate(pred_full)),
                         prof.quality(error_rate(pred_exit)), float((exits == expected).mean()), sweep_ms_10k())
    if split == entry.test_split:  # the next estimate: this run, all of it
        _LAST[model_name, batch] = time.perf_counter() - began, len(inputs), WARMUP + repeats
    return result


def synthetic_profile(n: int = 10_000, k: int = 8, seed: int = 0) -> Profile:
    """A profile of random numbers with every score column, for timing sweeps."""
    rng = np.random.default_rng(seed)
    u = rng.random((n, k))
    cols = {"pred": rng.integers(0, 10, (n, k)), "errors": (u > 0.9).astype(float),
            "confidence": u, "entropy": 1 - u, "entropy_norm": 1 - u,
            "ctc_entropy": 1 - u, "ssl_entropy": 2 * (1 - u), "saturation": u, "margin": u, "learned": u}
    costs = Costs(1.0, np.ones(k), {"exit": np.full(k, 0.1)})
    meta = ProfileMeta("synthetic", "random", "", "class", {"exit": "class"}, [str(j) for j in range(k)])
    return Profile(meta, cols, np.ones(n), costs, costs, list(range(10)))


def sweep_ms_10k(thresholds: int = 200) -> float:
    """Milliseconds to sweep every criterion over `thresholds` thresholds each on a
    10,000-sample x 8-exit profile (median of 5)."""
    prof = synthetic_profile()
    grids = {}
    for c in criteria.CRITERIA.values():
        s = prof.scores(c)
        grids[c.name] = np.linspace(s.min(), s[np.isfinite(s)].max(), thresholds)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        for c in criteria.CRITERIA.values():
            tradeoff.sweep(prof, c, grids[c.name])
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))
