"""What the app's pages show, computed once per distinct input and kept (explorer.memo):
sweeps, tables, threshold views, recommendations, comparisons, evaluation inputs.

Every function takes the profiles themselves (keyed by content), so a changed model or
profile recomputes and the same one never does; `progress=` (a page's progress bar) hears
when there is work. Pages only lay out what these return.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import criteria, robustness, shift, tradeoff, zoo
from . import threshold_view as views
from .memo import memoized
from .profile import Profile
from .quality import Quality
from .shipped import Headline, headline
from .thresholds import recommended
from .zoo import NoiseAxis

NoisyProfiles = dict  # (kind, level) -> Profile, as robustness.load_all gives them


# ---- the threshold slider ---------------------------------------------------------------------------
@memoized("The threshold slider's positions", max_entries=256)
def slider_positions(tests: tuple, crit: str) -> np.ndarray:
    """The slider's plain positions over these models' test profiles (one model: its own)."""
    return views.union_positions(list(tests), criteria.get(crit))


def pinned(tests: tuple, crit: str, value: float) -> float | None:
    """`value` where it falls between the slider's plain positions (a view needs it as an
    extra one), else None: one view serves every plain position."""
    return None if np.isin(value, slider_positions(tests, crit)) else value


@memoized("The threshold slider's range", max_entries=256)
def slider_range(test: Profile, crit: str) -> tuple[float, float, float]:
    return views.slider_range(test, criteria.get(crit))


# ---- one evaluation set -----------------------------------------------------------------------
@memoized("Sweeping every criterion over its thresholds")
def sweep_all(prof: Profile) -> pd.DataFrame:
    """Every criterion (bounds included) at every threshold of its grid."""
    return tradeoff.sweep_all(prof)


@memoized("Judging the threshold on the shifted sets")
def shift_at(name: str, crit: str, thr: float, eps_pt: float, progress=None) -> shift.Shift:
    """`thr` (chosen on clean calibration data) on the clean test set and every shifted set."""
    return shift.at_threshold(name, crit, thr, eps_pt, progress)


@memoized("Writing the sweep as CSV")
def sweep_csv(prof: Profile) -> bytes:
    return tradeoff.for_people(sweep_all(prof)).to_csv(index=False).encode()


@memoized("Reading every exit on its own")
def exits_rows(prof: Profile) -> list[dict]:
    from .report import exits_table

    return exits_table(prof)


@memoized("Comparing adaptive depth with fixed cuts")
def verdict(prof: Profile) -> str:
    return tradeoff.adaptive_verdict(sweep_all(prof), prof)


@memoized("Finding the recommended thresholds on the calibration split", max_entries=128)
def recommendations(calib: Profile, test: Profile, crit: str, eps_pt: float, eps_ltt: float, delta: float
                    ) -> tuple[tradeoff.Recommendation, tradeoff.Recommendation]:
    """(empirical, Learn-then-Test) recommendations of one criterion."""
    c = criteria.get(crit)
    return tradeoff.recommend(calib, test, c, eps_pt), tradeoff.recommend_ltt(calib, test, c, eps_ltt, delta)


@memoized("Bootstrap intervals at every threshold", max_entries=32)
def intervals(prof: Profile, crit: str, quality: Quality, pos: np.ndarray) -> np.ndarray:
    return views.quality_intervals(prof, criteria.get(crit), quality, pos)


@memoized("Every threshold of this criterion on this evaluation set", max_entries=64)
def tradeoff_view(prof: Profile, test: Profile, crit: str, cost: str, log_x: bool, pinned: float | None,
                  quality: Quality, set_label: str, headline: Headline | None, default_thr: float,
                  zoom: bool = False) -> views.ThresholdView:
    """The Tradeoffs page's threshold view on one evaluation set (`prof`); the slider's
    positions come from the test profile (plus `pinned`, a threshold between two)."""
    c = criteria.get(crit)
    pos = views.positions(test, c, pinned)
    return views.tradeoff_view(prof, c, sweep_all(prof), cost, exits_rows(prof), quality, pos, pinned, log_x,
                               set_label, lambda t: views.measured_note(headline, default_thr, crit, t),
                               intervals(prof, crit, quality, pos), zoom)


# Tradeoffs' axes as a first visit opens them: the page's widgets start here, and the server's
# warm-up makes this view before anyone asks (explorer.setup.warm_up).
DEFAULT_COST, DEFAULT_LOG_X, DEFAULT_ZOOM = "mean_macs", True, True


def tradeoff_view_of(name: str, prof: Profile, test: Profile, crit: str, key: str, cost: str, log_x: bool,
                     zoom: bool, thr: float, progress=None) -> views.ThresholdView:
    """Tradeoffs' threshold view of model `name` on its evaluation set `key` (whose profile is
    `prof`; `test`: its test profile) at the threshold `thr`."""
    return tradeoff_view(prof, test, crit, cost, log_x, pinned((test,), crit, thr), zoo.get(name).quality,
                         zoo.eval_set(name, key).label, headline(name), recommended(name, crit), zoom,
                         progress=progress)


@memoized("Loading the evaluation inputs", max_entries=16)
def eval_inputs(name: str, split: str, variant: tuple, test: Profile) -> tuple[list, list]:
    """(inputs, targets) of one evaluation set of a model, from its entry's data function
    (`test`, its test profile, stands for the model's version: a re-imported model reloads)."""
    from . import zoo

    return zoo.get(name).data(split, **dict(variant))


# ---- the noisy test sets -------------------------------------------------------------------------
@memoized("Every criterion at its recommended threshold", max_entries=16)
def every_criterion(profiles: NoisyProfiles, thresholds: dict[str, float]) -> pd.DataFrame:
    return robustness.table(profiles, thresholds)


@memoized("Every noisy test set at every threshold", max_entries=16)
def noise_table(profiles: NoisyProfiles, crit: str, pos: np.ndarray, quality: Quality) -> pd.DataFrame:
    return views.noise_table(profiles, criteria.get(crit), pos, quality)


@memoized("Every noisy test set at every threshold", max_entries=32)
def noise_view(profiles: NoisyProfiles, axis: NoiseAxis, test: Profile, crit: str, kind: str, level: str,
               quality: Quality, pinned: float | None) -> views.ThresholdView:
    """The Noise page's threshold view (positions from the test profile, plus `pinned`)."""
    c = criteria.get(crit)
    table = noise_table(profiles, crit, views.positions(test, c, pinned), quality)
    return views.noise_view(table, axis, test, c, kind, level, quality, pinned)


# ---- a model itself ------------------------------------------------------------------------------
@memoized("Measuring memory: one batch-1 inference per exit, 5 times each", max_entries=16)
def measured_memory(name: str, model):
    """explorer.memory's figures of a loaded model (keyed by the model object)."""
    from . import memory

    return memory.measure(name, model)


# ---- several models ------------------------------------------------------------------------------
@memoized("Every threshold of every compared model", max_entries=32)
def compare_view(models: tuple, crit: str, cost: str, log_x: bool, pinned: float | None) -> views.ThresholdView:
    """`threshold_view.compare_view` of `compare.Compared` models, on one slider over all of
    their ranges (plus `pinned`, a threshold between two positions)."""
    from .compare import COSTS

    c = criteria.get(crit)
    pos = views.union_positions([m.test for m in models], c, pinned)
    return views.compare_view(list(models), c, cost, log_x, pos, pinned, COSTS[cost])
