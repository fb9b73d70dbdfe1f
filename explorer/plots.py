"""Plotly figure builders: pure functions of data, testable without a browser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .criteria import CRITERIA

COST_AXES = {
    "mean_exit": "mean exit (0 = first)",
    "mean_macs": "mean MACs per input",
    "mean_ms": "mean ms per input (measured, batch 1)",
}


def _quality(df: pd.DataFrame) -> tuple[str, str]:
    return ("accuracy", "accuracy") if "accuracy" in df else ("wer", "WER")


def tradeoff(df: pd.DataFrame, cost: str = "mean_macs", current: dict | None = None,
             front: pd.DataFrame | None = None) -> go.Figure:
    """Quality against cost, one curve per criterion; bounds as markers, the Pareto
    front dashed, and the current threshold as a big marker."""
    col, name = _quality(df)
    fig = go.Figure()
    for crit, part in df.groupby("criterion", sort=False):
        c = CRITERIA[crit]
        part = part.sort_values(cost)
        fig.add_trace(go.Scatter(
            x=part[cost], y=part[col], name=c.label,
            mode="lines+markers" if c.causal else "markers",
            marker={"size": 6 if c.causal else 12, "symbol": "circle" if c.causal else "star"},
            customdata=part["threshold"],
            hovertemplate=f"τ=%{{customdata:.4g}}<br>{name}=%{{y:.4f}}<extra>{crit}</extra>"))
    if front is not None and len(front):
        fig.add_trace(go.Scatter(x=front[cost], y=front[col], name="Pareto front", mode="lines",
                                 line={"dash": "dash", "color": "black"}))
    if current:
        fig.add_trace(go.Scatter(x=[current[cost]], y=[current[col]], name="current threshold", mode="markers",
                                 marker={"size": 18, "symbol": "x", "color": "crimson"}))
    fig.update_layout(xaxis_title=COST_AXES.get(cost, cost), yaxis_title=name, height=460,
                      legend={"orientation": "h", "y": -0.25}, margin={"t": 30})
    return fig


def per_exit(scores: np.ndarray, exit_names: list[str], threshold: float | None, taken: int,
             score_label: str) -> go.Figure:
    """One input's score at each exit it reached, the threshold line and the exit taken."""
    k = np.arange(len(scores))
    fig = go.Figure(go.Scatter(x=[exit_names[i] for i in k], y=scores, mode="lines+markers", name=score_label))
    if threshold is not None and np.isfinite(threshold):
        fig.add_hline(y=threshold, line_dash="dash", annotation_text=f"threshold {threshold:.3g}")
    fig.add_trace(go.Scatter(x=[exit_names[taken]], y=[scores[taken]], mode="markers", name="exit taken",
                             marker={"size": 16, "color": "crimson", "symbol": "diamond"}))
    fig.update_layout(yaxis_title=score_label, height=320, margin={"t": 30}, showlegend=False)
    return fig


def exit_histogram(row: pd.Series, exit_names: list[str]) -> go.Figure:
    """Share of inputs leaving at each exit, for one sweep row."""
    shares = [row[f"exit_{j}"] for j in range(len(exit_names))]
    fig = go.Figure(go.Bar(x=exit_names, y=shares))
    fig.update_layout(yaxis_title="share of inputs", yaxis_tickformat=".0%", height=280, margin={"t": 30})
    return fig


def exit_heatmap(probs: np.ndarray, exit_names: list[str], taken: int) -> go.Figure:
    """Class probabilities at every exit (rows) with the exit taken outlined."""
    fig = go.Figure(go.Heatmap(z=probs, x=[str(c) for c in range(probs.shape[1])], y=exit_names,
                               colorscale="Blues", zmin=0, zmax=1, colorbar={"title": "p"}))
    fig.add_shape(type="rect", x0=-0.5, x1=probs.shape[1] - 0.5, y0=taken - 0.5, y1=taken + 0.5,
                  line={"color": "crimson", "width": 3})
    fig.update_layout(xaxis_title="class", yaxis_autorange="reversed", height=300, margin={"t": 30})
    return fig


def depth_curve(levels: list, exits: list[int], exit_names: list[str], xlabel: str) -> go.Figure:
    """Exit taken by one input as a corruption or noise level grows."""
    fig = go.Figure(go.Scatter(x=levels, y=[e + 1 for e in exits], mode="lines+markers"))
    fig.update_layout(xaxis_title=xlabel, yaxis_title="exit taken", yaxis_range=[0.5, len(exit_names) + 0.5],
                      yaxis_dtick=1, height=280, margin={"t": 30})
    return fig


def waveform(samples: np.ndarray, rate: int) -> go.Figure:
    """The clip's waveform (decimated for drawing)."""
    step = max(1, len(samples) // 4000)
    t = np.arange(0, len(samples), step) / rate
    fig = go.Figure(go.Scatter(x=t, y=samples[::step], mode="lines", line={"width": 1}))
    fig.update_layout(xaxis_title="seconds", yaxis_title="amplitude", height=200, margin={"t": 20})
    return fig


def spectrogram(logmel: np.ndarray, hop_seconds: float) -> go.Figure:
    """Log-mel spectrogram [frames, mels] as the model's front end computes it."""
    fig = go.Figure(go.Heatmap(z=logmel.T, x=np.arange(logmel.shape[0]) * hop_seconds, colorscale="Viridis",
                               showscale=False))
    fig.update_layout(xaxis_title="seconds", yaxis_title="mel band", height=220, margin={"t": 20})
    return fig
