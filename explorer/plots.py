"""Plotly figure builders: pure functions of data, testable without a browser."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .criteria import CRITERIA
from .tradeoff import pareto

# One set of colours for every figure, on screen and in every download: a figure carries it
# (layout.colorway), so no template (Streamlit's, whose colours are placeholders its
# frontend fills in, or plotly's) can turn its curves black in an exported file.
PALETTE = ["#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880", "#ff97ff",
           "#fecb52"]

# A horizontal legend at the foot of the figure, below the axis title: the figure's margin
# grows to hold it (placed in the plot's own units, it overlapped the axis title of a short chart)
LEGEND_BELOW = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "x": 0}

COST_AXES = {
    "mean_exit": "mean exit (1 = first)",
    "mean_macs": "mean MACs per input",
    "mean_ms": "mean ms per input (sum of per-part timings, batch 1)",
}


def _quality(table) -> tuple[str, str]:
    """(column, axis title) of a sweep table or a row that holds accuracy or WER."""
    return ("accuracy", "accuracy") if "accuracy" in table else ("wer", "WER")


def as_shown(values, column: str):
    """A column's values as people read them: exits counted from 1."""
    return values + 1 if column == "mean_exit" else values


def bar_text(shares) -> list[str]:
    """The label on each bar of shares (never "-0.0%": a sweep's share of none can be -1e-17)."""
    return [f"{max(v, 0.0) + 0.0:.1%}" for v in shares]  # + 0.0: -0.0 becomes 0.0


def titled(fig: go.Figure, title: str) -> go.Figure:
    """Every figure carries its title (exported PNGs need their context) and its colours."""
    fig.update_layout(title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}})
    fig.update_layout(margin={"t": 50}, colorway=PALETTE)
    return fig


def same_curves(df: pd.DataFrame, cost: str, first: str | None = None) -> dict[str, str]:
    """Criteria whose whole curve lies exactly under an earlier one's: {hidden: shown}
    (`first`: the criterion looked at first, so it is never the one hidden)."""
    col, _ = _quality(df)
    seen: dict[tuple, str] = {}
    out = {}
    groups = sorted(df.groupby("criterion", sort=False), key=lambda g: g[0] != first)
    for crit, part in groups:
        key = tuple(sorted(zip(part[cost].round(9), part[col].round(9), strict=True)))
        if key in seen:
            out[crit] = seen[key]
        else:
            seen[key] = crit
    return out


KNEE_SHARE = 0.05  # the knee: where the best curve comes within this share of its quality span of its best


def knee(df: pd.DataFrame, cost: str) -> tuple[float, float] | None:
    """The costs (lowest, highest) where the causal criteria differ: from the cheapest point to a
    little past the cost at which the best of them (the Pareto front) comes within KNEE_SHARE
    of its best quality; beyond it the curves run flat. None where that is most of the range."""
    front = pareto(df, cost)
    if len(front) < 2:
        return None
    err = front["error_rate"].to_numpy()
    near = err <= err.min() + KNEE_SHARE * (err.max() - err.min())
    lo, hi, top = float(df[cost].min()), float(front[cost].to_numpy()[near.argmax()]), float(df[cost].max())
    hi = min(top, lo + 1.5 * (hi - lo))  # room after the knee to see the curves level off
    return None if hi - lo >= 0.8 * (top - lo) or hi <= lo else (lo, hi)


def tradeoff(df: pd.DataFrame, cost: str = "mean_macs", current: dict | None = None,
             front: pd.DataFrame | None = None, log_x: bool = False, title: str = "",
             current_ci: tuple[float, float] | None = None, chosen: str | None = None,
             zoom: bool = False) -> go.Figure:
    """Quality against cost, one curve per criterion (each its own colour, whatever is
    shown); bounds as markers, the Pareto front dashed, and the current threshold as a big
    marker (with its bootstrap interval, if given). The `chosen` criterion is drawn last,
    thicker, so it is on top and a click on it lands on it. A curve lying exactly under
    another says so in its key. `zoom`: the axes show the knee (`knee`), not every point."""
    col, name = _quality(df)
    hidden = same_curves(df, cost, chosen)
    colour = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(CRITERIA)}
    fig = go.Figure()
    groups = dict(list(df.groupby("criterion", sort=False)))

    def curve(crit: str) -> None:
        c, top, part = CRITERIA[crit], crit == chosen, groups[crit].sort_values(cost)
        label = c.label + (f" (same curve as {CRITERIA[hidden[crit]].label}, drawn under it)" if crit in hidden else "")
        fig.add_trace(go.Scatter(
            x=as_shown(part[cost], cost), y=part[col], name=label + (" — chosen" if top else ""),
            mode="lines+markers" if c.causal else "markers",
            marker={"size": (9 if top else 6) if c.causal else 12, "symbol": "circle" if c.causal else "star",
                    "color": colour[crit]},
            line={"color": colour[crit], "width": 4 if top else 1.5}, meta={"criterion": crit},
            customdata=part["threshold"],
            hovertemplate=f"τ=%{{customdata:.4g}}<br>{name}=%{{y:.2%}}<extra>{crit}</extra>"))

    for crit in groups:
        if crit != chosen:
            curve(crit)
    if front is not None and len(front):
        fig.add_trace(go.Scatter(x=as_shown(front[cost], cost), y=front[col], name="Pareto front", mode="lines",
                                 line={"dash": "dash", "color": "black"}, hoverinfo="skip"))
    if chosen in groups:  # over the front and every other curve: a click on it lands on it
        curve(chosen)
    if current:
        error_y = None
        if current_ci:
            lo, hi = sorted(current_ci)
            error_y = {"type": "data", "symmetric": False, "array": [hi - current[col]],
                       "arrayminus": [current[col] - lo], "color": "crimson"}
        fig.add_trace(go.Scatter(x=[as_shown(current[cost], cost)], y=[current[col]], error_y=error_y,
                                 name="current threshold" + (" (95% bootstrap interval)" if current_ci else ""),
                                 mode="markers", marker={"size": 18, "symbol": "x", "color": "crimson"},
                                 hoverinfo="skip"))
    xtitle = COST_AXES.get(cost, cost) + (" — log scale" if log_x else "")
    span = knee(df, cost) if zoom else None
    if span:
        lo, hi = as_shown(np.array(span), cost)
        inside = df[df[cost] <= span[1]][col]  # the bounds too: how far from them the curves are
        ylo, yhi = float(inside.min()), float(inside.max())
        pad = 0.06 * ((yhi - ylo) or 0.01)
        xr = [np.log10(lo) - 0.02, np.log10(hi) + 0.02] if log_x else [lo - 0.02 * (hi - lo), hi + 0.02 * (hi - lo)]
        fig.update_layout(xaxis_range=xr, yaxis_range=[ylo - pad, yhi + pad])
        xtitle += " — zoomed to the knee"
    fig.update_layout(xaxis_title=xtitle, yaxis_title=name,
                      yaxis_tickformat=".1%", height=500, legend=LEGEND_BELOW)
    if log_x:
        fig.update_xaxes(type="log")
    return titled(fig, title or f"{name} against {COST_AXES.get(cost, cost)}, every criterion")


def per_exit(scores: np.ndarray, exit_names: list[str], threshold: float | None, taken: int,
             score_label: str) -> go.Figure:
    """One input's score at each exit, the threshold line and the exit taken. Exits after
    the one taken (the real run never computed them; a separate pass did, for comparison)
    are drawn grey and dotted."""
    names = [exit_names[i] for i in range(len(scores))]
    fig = go.Figure(go.Scatter(x=names[: taken + 1], y=scores[: taken + 1], mode="lines+markers", name=score_label))
    if len(scores) > taken + 1:
        fig.add_trace(go.Scatter(x=names[taken:], y=scores[taken:], mode="lines+markers", name="not run (what-if)",
                                 line={"dash": "dot", "color": "lightgrey"}, marker={"color": "lightgrey"}))
    if threshold is not None and np.isfinite(threshold):
        fig.add_hline(y=threshold, line_dash="dash", annotation_text=f"threshold {threshold:.3g}")
    fig.add_trace(go.Scatter(x=[exit_names[taken]], y=[scores[taken]], mode="markers", name="exit taken",
                             marker={"size": 16, "color": "crimson", "symbol": "diamond"}))
    fig.update_layout(yaxis_title=score_label, height=340, showlegend=True,
                      legend=LEGEND_BELOW)
    return titled(fig, f"{score_label} at each exit (exit taken: {exit_names[taken]})")


def exit_histogram(row: pd.Series, exit_names: list[str], title: str = "") -> go.Figure:
    """Share of inputs leaving at each exit, for one sweep row."""
    shares = [row[f"exit_{j}"] for j in range(len(exit_names))]
    fig = go.Figure(go.Bar(x=exit_names, y=shares, text=bar_text(shares), textposition="outside"))
    fig.update_layout(yaxis_title="share of inputs", yaxis_tickformat=".0%", yaxis_range=[0, 1.1], height=300)
    return titled(fig, title or f"Where inputs leave at τ = {row['threshold']:.4g}")


def exit_heatmap(probs: np.ndarray, exit_names: list[str], taken: int, classes: list[str] | None = None) -> go.Figure:
    """Class probabilities at every exit (rows) with the exit taken outlined (`classes`: the
    class names, default their numbers)."""
    classes = [str(c) for c in (classes if classes is not None else range(probs.shape[1]))]
    fig = go.Figure(go.Heatmap(z=probs, x=classes, y=exit_names, colorscale="Blues", zmin=0, zmax=1,
                               colorbar={"title": "p", "tickformat": ".0%"}))
    fig.add_shape(type="rect", x0=-0.5, x1=probs.shape[1] - 0.5, y0=taken - 0.5, y1=taken + 0.5,
                  line={"color": "crimson", "width": 3})
    fig.update_layout(xaxis_title="class", xaxis_type="category", xaxis_tickvals=classes, yaxis_autorange="reversed",
                      height=320)
    return titled(fig, f"Class probabilities at every exit (outlined: the exit taken, {exit_names[taken]})")


def depth_curve(levels: list, exits: list[int], exit_names: list[str], xlabel: str) -> go.Figure:
    """Exit taken by one input as a corruption or noise level grows (levels in the order
    given, e.g. "clean", 20, 10 dB: a category axis, so plotly neither sorts nor drops them)."""
    fig = go.Figure(go.Scatter(x=[str(v) for v in levels], y=[e + 1 for e in exits], mode="lines+markers"))
    fig.update_layout(xaxis_title=xlabel, xaxis_type="category", yaxis_title="exit taken (1 = first)",
                      yaxis_range=[0.5, len(exit_names) + 0.5], yaxis_dtick=1, height=300)
    return titled(fig, f"Exit this input takes as the {xlabel} changes")


def waveform(samples: np.ndarray, rate: int) -> go.Figure:
    """The clip's waveform (decimated for drawing)."""
    step = max(1, len(samples) // 4000)
    t = np.arange(0, len(samples), step) / rate
    fig = go.Figure(go.Scatter(x=t, y=samples[::step], mode="lines", line={"width": 1}))
    fig.update_layout(xaxis_title="seconds", yaxis_title="amplitude", height=230)
    return titled(fig, "Waveform (what the model hears)")


def spectrogram(logmel: np.ndarray, hop_seconds: float) -> go.Figure:
    """Log-mel spectrogram [frames, mels] as the model's front end computes it."""
    fig = go.Figure(go.Heatmap(z=logmel.T, x=np.arange(logmel.shape[0]) * hop_seconds, colorscale="Viridis",
                               colorbar={"title": "log energy"}))
    fig.update_layout(xaxis_title="seconds", yaxis_title="mel band", height=250)
    return titled(fig, "Log-mel spectrogram (the model's front-end features)")


def quality_per_exit(rows: list[dict]) -> go.Figure:
    """Accuracy (or WER) of every exit on its own: rows as `report.exits_table` gives them."""
    col, name = _quality(rows[0])
    values = [r[col] for r in rows]
    fig = go.Figure(go.Bar(x=[r["name"] for r in rows], y=values, text=[f"{v:.2%}" for v in values],
                           textposition="outside"))
    lo, hi = min(values), max(values)
    pad = max(0.01, (hi - lo) * 0.3)
    top = min(1.0, hi + pad) if col == "accuracy" else hi + pad
    base = max(0.0, lo - pad)  # a baseline just under the lowest bar, said in the title, so differences show
    fig.update_layout(yaxis_title=f"{name} if all leave here", yaxis_tickformat=".1%",
                      yaxis_range=[base, top], height=300)
    return titled(fig, f"{name} of each exit alone" + (f" (axis starts at {base:.0%})" if base > 0 else ""))


def noise_curves(df: pd.DataFrame, y: str, by: str, xlabel: str, ylabel: str,
                 dashed: str | None = None, title: str = "") -> go.Figure:
    """`y` against the noise level (column "level", in the order given), one line per
    value of `by`; `dashed`: a second column drawn dashed in the same colour (full depth)."""
    fig = go.Figure()
    for i, (key, part) in enumerate(df.groupby(by, sort=False)):
        colour = "black" if key == "mean of all" else PALETTE[i % len(PALETTE)]
        label = CRITERIA[key].label if by == "criterion" and key in CRITERIA else str(key)
        fig.add_trace(go.Scatter(x=part["level"], y=as_shown(part[y], y), mode="lines+markers", name=label,
                                 line={"color": colour, "width": 3 if key == "mean of all" else 2}))
        if dashed:
            fig.add_trace(go.Scatter(x=part["level"], y=part[dashed], mode="lines", name=f"{label}, full depth",
                                     line={"color": colour, "dash": "dot"}, showlegend=False))
    if dashed:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="dotted: the full model",
                                 line={"color": "grey", "dash": "dot"}))
    fig.update_layout(xaxis_title=xlabel, xaxis_type="category",
                      yaxis_title="mean exit (1 = first)" if y == "mean_exit" else ylabel, height=360,
                      legend=LEGEND_BELOW)
    if y in ("accuracy", "wer", "full_depth"):
        fig.update_layout(yaxis_tickformat=".1%")
    return titled(fig, title or f"{ylabel} against {xlabel}")


def exit_distributions(shares: dict[str, list[float]], exit_names: list[str]) -> go.Figure:
    """Share of inputs leaving at each exit, several conditions overlaid (clean vs noisy)."""
    fig = go.Figure([go.Bar(x=exit_names, y=s, name=label, opacity=0.6, marker_color=PALETTE[i % len(PALETTE)])
                     for i, (label, s) in enumerate(shares.items())])
    fig.update_layout(barmode="overlay", yaxis_title="share of inputs", yaxis_tickformat=".0%", height=320,
                      legend=LEGEND_BELOW)
    return titled(fig, "Where inputs leave: clean against noisy")


def speedup_bars(results: list) -> go.Figure:
    """Ideal (MAC) against realized (wall-clock) speedup, one group per batch size (results:
    explorer.bench's BenchResults); a noisy measurement (see explorer.speedup) is drawn
    hatched and labelled so."""
    x = [f"batch {r.batch}" for r in results]
    fig = go.Figure([
        go.Bar(x=x, y=[r.ideal_speedup for r in results], name="ideal (MACs)",
               text=[f"{r.ideal_speedup:.2f}×" for r in results], textposition="outside"),
        go.Bar(x=x, y=[r.realized_speedup for r in results], name="realized (measured median)",
               text=[f"{r.realized_speedup:.2f}×" + (" noisy" if r.noisy else "") for r in results],
               marker_pattern_shape=["/" if r.noisy else "" for r in results], textposition="outside"),
    ])
    fig.add_hline(y=1, line_dash="dot", annotation_text="no speedup")
    fig.update_layout(barmode="group", yaxis_title="speedup over the full model", height=340)
    return titled(fig, "Ideal against measured speedup")


def cost_breakdown(rows: list[dict], unit: str = "MACs") -> go.Figure:
    """Stacked cost of every part (front end, stages, heads) at each exit point: rows as
    `anatomy.parts_table` gives them; unit "MACs", "ms" or "parameters"."""
    parts = list(dict.fromkeys(r["part"] for r in rows))
    where = list(dict.fromkeys(r["exit"] for r in rows))
    fig = go.Figure()
    for part in parts:
        values = {r["exit"]: r[unit] for r in rows if r["part"] == part}
        fig.add_trace(go.Bar(x=where, y=[values.get(w, 0.0) for w in where], name=part))
    fig.update_layout(barmode="stack", yaxis_title=unit, height=340, legend=LEGEND_BELOW)
    return titled(fig, f"{unit} of every part at each exit point")


def memory_per_exit(weights_to_exit: list[int], peak: list[float], spread: list[float],
                    exit_names: list[str]) -> go.Figure:
    """Bytes of weights an inference leaving at each exit reads, and the measured peak the
    allocator held for it (median, the bar's whisker: the spread over the repeats), in KB."""
    fig = go.Figure([
        go.Bar(x=exit_names, y=np.asarray(weights_to_exit) / 1024, name="weights read up to the exit"),
        go.Bar(x=exit_names, y=np.asarray(peak) / 1024, name="peak working memory (measured median)",
               error_y={"type": "data", "array": np.asarray(spread) / 2048, "visible": True}),
    ])
    fig.update_layout(barmode="group", yaxis_title="KB", xaxis_title="exit taken (batch 1)", height=340,
                      legend=LEGEND_BELOW)
    return titled(fig, "Memory of one inference leaving at each exit")
