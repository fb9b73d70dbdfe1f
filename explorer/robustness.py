"""Exit depth and quality against input noise, from profiles of noisy test sets.

Image: each corruption in `corruptions.CORRUPTIONS` at severities 0..5 on the first
2,000 test digits. Speech: white, pink and babble noise at 20, 10, 5 and 0 dB SNR on
the test_a clips (and the clean clips). The profiles ship in assets/profiles; a model
whose profiles are missing builds them once (minutes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import criteria, zoo
from .corruptions import CORRUPTIONS, MAX_SEVERITY
from .noise import NOISE_TYPES
from .profile import Profile, Progress

IMAGE_LIMIT = 2000  # corrupted test digits per profile (the report's figure)


@dataclass(frozen=True)
class NoiseAxis:
    kinds: tuple[str, ...]  # corruption or noise types
    levels: tuple  # from clean to the worst
    label: str  # the level axis, for plots


AXES = {
    "image": NoiseAxis(CORRUPTIONS, tuple(range(MAX_SEVERITY + 1)), "corruption severity (0 = clean)"),
    "speech": NoiseAxis(NOISE_TYPES, ("clean", 20, 10, 5, 0), "SNR (dB)"),
}


def axis(model_name: str) -> NoiseAxis:
    try:
        return AXES[model_name]
    except KeyError:
        raise ValueError(f"no noisy test sets for model {model_name!r}; choose one of {', '.join(AXES)}") from None


def variant(model_name: str, kind: str, level) -> Profile:
    """The profile of one noisy test set (level 0 / "clean": the same inputs, clean, one
    profile shared by every kind)."""
    if model_name == "image":
        if not int(level):
            return zoo.profile("image", "test", limit=IMAGE_LIMIT)
        return zoo.profile("image", "test", corruption=kind, severity=int(level), limit=IMAGE_LIMIT)
    if level == "clean":
        return zoo.profile(model_name, zoo.get(model_name).test_split)
    return zoo.profile(model_name, zoo.get(model_name).test_split, noise=kind, snr=int(level))


def load_all(model_name: str, progress: Progress | None = None) -> dict[tuple[str, object], Profile]:
    """Every noisy test set of the model, keyed by (kind, level)."""
    ax = axis(model_name)
    keys = [(kind, level) for kind in ax.kinds for level in ax.levels]
    out = {}
    for i, (kind, level) in enumerate(keys):
        if progress:
            progress(i / len(keys), f"loading {kind} at {level}")
        out[kind, level] = variant(model_name, kind, level)
    if progress:
        progress(1.0, "noisy test sets ready")
    return out


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
