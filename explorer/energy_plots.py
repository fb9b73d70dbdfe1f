"""Figures of an energy simulation (energy.py): the trace and the stored energy, the exit
each input reached over time, and how many inputs each policy answered right."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from . import plots
from .energy import EnergyRun


def trace_figure(run: EnergyRun) -> go.Figure:
    """Harvested power (top) and the energy stored under each policy (bottom)."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("harvested power", "energy stored"))
    t = run.trace.t
    fig.add_trace(go.Scatter(x=t, y=run.trace.power_mw, name="power (mW)", line={"width": 1},
                             fill="tozeroy"), row=1, col=1)
    for pol in (run.early, run.full):
        fig.add_trace(go.Scatter(x=t, y=pol.stored_mj, name=f"stored, {pol.name} (mJ)", line={"width": 1}),
                      row=2, col=1)
    mj = run.settings.nj_per_mac * 1e-6
    fig.add_hline(y=run.full_macs * mj, line_dash="dot", annotation_text="full model", row=2, col=1)
    fig.add_hline(y=run.costs_macs[0] * mj, line_dash="dot", annotation_text="first exit", row=2, col=1)
    fig.update_yaxes(title_text="mW", row=1, col=1)
    fig.update_yaxes(title_text="mJ", row=2, col=1)
    fig.update_xaxes(title_text="time (s)", row=2, col=1)
    fig.update_layout(height=420, margin={"t": 30, "b": 10}, legend=plots.LEGEND_BELOW)
    return fig


def exits_figure(run: EnergyRun, exit_names: list[str]) -> go.Figure:
    """The exit each arriving input reached (early exit) or the full model's answer;
    0 on the axis is a missed input; hollow markers are wrong answers."""
    fig = go.Figure()
    for pol, symbol in ((run.early, "circle"), (run.full, "diamond")):
        depth = pol.exit + 1  # 0: missed
        fig.add_trace(go.Scatter(
            x=run.arrivals, y=depth, mode="markers", name=pol.name,
            marker={"symbol": [symbol if c or d == 0 else f"{symbol}-open" for c, d in zip(pol.correct, depth,
                                                                                           strict=True)],
                    "size": 8}))
    fig.update_yaxes(tickvals=list(range(len(exit_names) + 1)), ticktext=["missed", *exit_names], title="exit reached")
    fig.update_xaxes(title="arrival time (s)")
    fig.update_layout(height=340, margin={"t": 10, "b": 10}, legend=plots.LEGEND_BELOW)
    return fig


def outcome_figure(run: EnergyRun) -> go.Figure:
    """Inputs answered right, answered wrong and missed, per policy."""
    names = [run.early.name, run.full.name]
    right = np.array([run.early.n_correct, run.full.n_correct])
    answered = np.array([run.early.answered, run.full.answered])
    n = len(run.arrivals)
    fig = go.Figure([go.Bar(name="right", x=names, y=right),
                     go.Bar(name="wrong", x=names, y=answered - right),
                     go.Bar(name="missed (no energy)", x=names, y=n - answered)])
    fig.update_layout(barmode="stack", height=340, yaxis_title=f"inputs (of {n})", margin={"t": 10, "b": 10})
    return fig
