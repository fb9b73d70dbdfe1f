"""Models side by side: any models of the registry (built-in ones, views of one backbone
such as per-exit against shared heads, compressed variants, imported models) under one
criterion and one threshold, each judged on its own evaluation set. The figures are
`threshold_view.compare_view`'s; here: what one compared model brings, the cost axes
that compare models of different sizes, and the table of recommended thresholds.

The memory axis adds the measured bytes of `explorer.memory`: what a device must hold to
serve a threshold (every weight, and the working peak of the deepest exit reached), so a
compressed variant's curve shows when compressing beats exiting earlier (FreeML's other
half), and when the two add up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import plots
from .memory import Memory
from .profile import Profile
from .quality import Quality
from .tradeoff import Recommendation
from .zoo import NoiseAxis

LTT_EPS, LTT_DELTA = 0.01, 0.1  # the table's Learn-then-Test: at most 1% of answers changed, with δ = 0.1
COSTS = {
    **plots.COST_AXES,
    "mac_share": "share of the model's own full MACs",
    "memory_kb": "device memory: all weights + the working peak of the deepest exit reached (KB)",
}


@dataclass(frozen=True)
class Compared:
    """One model of a comparison: its profile on the evaluation set it is judged on, its
    test profile (the slider's range), and its noisy test sets if it has them."""

    name: str
    title: str
    prof: Profile
    test: Profile
    quality: Quality
    set_label: str
    noisy: dict | None = None  # (kind, level) -> Profile
    axis: NoiseAxis | None = None
    memory: Memory | None = None  # for the memory axis


def with_cost(df: pd.DataFrame, m: Compared) -> pd.DataFrame:
    """A sweep of `m.prof` with the comparison's own cost columns: the share of the model's
    full MACs and, with measured memory, the bytes a device must hold (KB)."""
    df = df.assign(mac_share=df["mean_macs"] / m.prof.full("macs"))
    if m.memory is not None:
        shares = df[[f"exit_{j}" for j in range(m.prof.k)]].to_numpy()
        deepest = np.array([np.flatnonzero(row > 1e-12).max() if (row > 1e-12).any() else m.prof.k - 1
                            for row in shares])  # the deepest exit any input reached
        df["memory_kb"] = (m.memory.weights_total + np.asarray(m.memory.peak_bytes)[deepest]) / 1024
    return df


def recommended_table(rows: list[tuple[Compared, Recommendation, Recommendation]]) -> pd.DataFrame:
    """The recommended thresholds side by side: per model, the empirical and the
    Learn-then-Test threshold (chosen on its calibration split) and what each gives on its
    test split."""
    out = []
    for m, rec, ltt in rows:
        q = m.quality
        out.append({
            "model": m.title, "criterion": rec.criterion,
            "τ (empirical)": rec.threshold,
            "quality on test (empirical)": f"{q.label} {q.from_error(rec.test.error_rate):.2%}",
            "change (points)": round(q.change_pt(rec.test.drop_pt), 2),
            "mean exit (1 = first)": round(rec.test.mean_exit + 1, 2),
            "fewer MACs": f"{rec.test.mac_speedup:.2f}×",
            "τ (Learn-then-Test)": ltt.threshold if ltt.certified else None,
            "fewer MACs (LTT)": f"{ltt.test.mac_speedup:.2f}×" if ltt.certified else "nothing certified",
        })
    return pd.DataFrame(out)
