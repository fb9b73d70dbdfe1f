"""Exit depth and quality against input noise, from profiles of noisy test sets.

Image: each corruption in `corruptions.CORRUPTIONS` at severities 0..5 on the first
2,000 test digits. Speech: white, pink and babble noise at 20, 10, 5 and 0 dB SNR on
the test_a clips (and the clean clips). The profiles ship in assets/profiles; a model
whose profiles are missing builds them once (minutes).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from . import criteria, zoo
from .profile import Profile, Progress

NoiseAxis = zoo.NoiseAxis


def axis(model_name: str) -> NoiseAxis:
    """The model's noisy test sets (its registry entry says which)."""
    ax = zoo.get(model_name).noise
    if ax is None:
        with_noise = [n for n, e in zoo.BUILT_INS.items() if e.noise]
        raise ValueError(f"no noisy test sets for model {model_name!r}; choose one of {', '.join(with_noise)}")
    return ax


def variant(model_name: str, kind: str, level) -> Profile:
    """The profile of one noisy test set (the clean level: the same inputs, clean, one
    profile shared by every kind)."""
    split, args = variant_args(model_name, kind, level)
    return zoo.profile(model_name, split, **args)


def variant_args(model_name: str, kind: str, level) -> tuple[str, dict]:
    """(split, data-function arguments) of one noisy test set."""
    return zoo.get(model_name).test_split, axis(model_name).variant(kind, level)


def all_variant_args(model_name: str) -> list[tuple[str, dict]]:
    """Every noisy test set the robustness figures need, each once (clean is shared)."""
    ax = axis(model_name)
    out = [variant_args(model_name, kind, level) for kind in ax.kinds for level in ax.levels]
    return [a for i, a in enumerate(out) if a not in out[:i]]


def load_all(model_name: str, progress: Progress | None = None) -> dict[tuple[str, object], Profile]:
    """Every noisy test set of the model, keyed by (kind, level). Where $EXPLORER_RAY names a
    Ray cluster (an address, auto or local), the sets not built yet are built there first."""
    ax = axis(model_name)
    if os.environ.get("EXPLORER_RAY"):
        build_on_ray(model_name, os.environ["EXPLORER_RAY"], int(os.environ.get("EXPLORER_RAY_WORKERS", "1")),
                     progress)
    keys = [(kind, level) for kind in ax.kinds for level in ax.levels]
    out = {}
    for i, (kind, level) in enumerate(keys):
        split, args = variant_args(model_name, kind, level)
        part = None
        if progress and not zoo.loaded(model_name, split, **args):  # heard only when there is work
            progress(i / len(keys), f"{kind} at {level}")

            def part(f, what, i=i, kind=kind, level=level):  # this set's share of the whole bar
                progress((i + min(f, 1.0)) / len(keys), f"{kind} at {level}: {what}")
        out[kind, level] = zoo.profile(model_name, split, part, **args)
    return out


def build_on_ray(model_name: str, address: str, workers: int = 1, progress: Progress | None = None) -> None:
    """Every noisy test set of the model not built yet, built on Ray in one pass (Ray starts
    only when one is missing) and saved where `zoo.profile` finds it."""
    from .ray_profile import DataSpec, build_all

    build_all([DataSpec.built_in(model_name, split, **args) for split, args in all_variant_args(model_name)],
              address, workers, progress=progress)


def table(profiles: dict[tuple[str, object], Profile], thresholds: dict[str, float]) -> pd.DataFrame:
    """One row per criterion (at its threshold), kind and level: mean exit, quality at
    the exits taken and at full depth, mean MACs and the share leaving at each exit."""
    rows = []
    for name, thr in thresholds.items():
        crit = criteria.get(name)
        for (kind, level), prof in profiles.items():
            exits = prof.exits(crit, thr)
            row = {"criterion": name, "threshold": float(thr), "kind": kind, "level": str(level),
                   "mean_exit": float(exits.mean()), "mean_macs": float(prof.path(crit)[exits].mean()),
                   prof.quality_name[0]: prof.quality(prof.error_rate(exits)),
                   "full_depth": prof.quality(prof.exit_error(-1))}
            shares = np.bincount(exits, minlength=prof.k) / prof.n
            row.update({f"exit_{j}": float(v) for j, v in enumerate(shares)})
            rows.append(row)
    return pd.DataFrame(rows)


def mean_over_kinds(df: pd.DataFrame, keys=("criterion", "level")) -> pd.DataFrame:
    """`table` rows averaged over the noise kinds (kind "mean of all"), level order kept;
    `keys`: what stays apart (also the threshold's index, for a table at many thresholds)."""
    out = df.groupby(list(keys), sort=False).mean(numeric_only=True).reset_index()
    out["kind"] = "mean of all"
    return out


def percent(share: float) -> float:
    """A share (accuracy, WER) as a table shows it: in percent, two decimals, like every page's 12.34%."""
    return round(100 * float(share), 2)


def held_out_table(model_name: str, thresholds: dict[str, float]) -> pd.DataFrame:
    """Each criterion (at its threshold) on the test set and every other held-out set of the
    model (its entry's `extra_tests`, e.g. speech without digits): where inputs leave and
    the quality there (in percent), beside the quality of the full model."""
    entry = zoo.get(model_name)
    sets = [(entry.test_split, f"test set ({entry.test_split})"), *entry.extra_tests]
    rows = []
    for split, label in sets:
        prof = zoo.profile(model_name, split)
        column, words = prof.quality_name
        for name, thr in thresholds.items():
            exits = prof.exits(criteria.get(name), thr)
            rows.append({"set": label, "criterion": name, "threshold": float(f"{thr:.4g}"),
                         "mean exit (1 = first)": round(float(exits.mean()) + 1, 2),
                         f"{words} at the exits (%)": percent(prof.quality(prof.error_rate(exits))),
                         f"{words}, full model (%)": percent(prof.quality(prof.exit_error(-1)))})
    return pd.DataFrame(rows)
