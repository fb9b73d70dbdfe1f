"""A model beside its compressed variants: one tradeoff curve each on one cost axis, so
a user sees when compressing the backbone beats exiting earlier, and when the two add
up (FreeML's other half). The curves are the library's sweeps of each model's own test
profile; the memory axis adds the measured bytes of `explorer.memory`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import plots, tradeoff
from .criteria import Criterion
from .memory import Memory
from .profile import Profile

COSTS = {
    "mean_ms": "mean ms per input (measured, batch 1)",
    "mean_macs": "mean MACs per input",
    "memory_kb": "device memory: all weights + the working peak of the deepest exit reached (KB)",
}


def curves(profiles: dict[str, Profile], criterion: Criterion, memory: dict[str, Memory] | None = None
           ) -> pd.DataFrame:
    """One sweep per model (rows tagged with the model's name); with `memory`, a
    `memory_kb` column: what a device must hold to serve that threshold."""
    parts = []
    for name, prof in profiles.items():
        df = tradeoff.sweep(prof, criterion)
        df.insert(0, "model", name)
        if memory is not None:
            mem = memory[name]
            shares = df[[f"exit_{j}" for j in range(prof.k)]].to_numpy()
            deepest = np.array([np.flatnonzero(row > 0).max() for row in shares])  # the deepest exit anyone reached
            df["memory_kb"] = (mem.weights_total + np.asarray(mem.peak_bytes)[deepest]) / 1024
        parts.append(df)
    return pd.concat(parts, ignore_index=True)


def figure(df: pd.DataFrame, cost: str, titles: dict[str, str], log_x: bool = False) -> go.Figure:
    """Quality against `cost`, one curve per model; the full model of each is its curve's
    deepest point."""
    col, label = ("accuracy", "accuracy") if "accuracy" in df else ("wer", "WER")
    fig = go.Figure()
    for name, part in df.groupby("model", sort=False):
        part = part.sort_values(cost)
        fig.add_trace(go.Scatter(x=part[cost], y=part[col], name=titles.get(name, name), mode="lines+markers",
                                 marker={"size": 5}, customdata=part["threshold"],
                                 hovertemplate=f"τ=%{{customdata:.4g}}<br>{label}=%{{y:.2%}}<extra>{name}</extra>"))
    fig.update_layout(xaxis_title=COSTS[cost] + (" — log scale" if log_x else ""), yaxis_title=label,
                      yaxis_tickformat=".1%", height=460, legend={"orientation": "h", "y": -0.25})
    if log_x:
        fig.update_xaxes(type="log")
    return plots.titled(fig, f"{label} against {COSTS[cost].split(' (')[0]}: the model and its compressed variants")
