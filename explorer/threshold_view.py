"""Everything a threshold moves on a page, at every position of the threshold slider,
for the browser to look up while the slider moves.

The pages draw the threshold slider and what it moves in the browser
(ui/components/threshold_explorer), so a move costs no round trip to the server.
The numbers come from here, from the library's one sweep (`tradeoff.sweep`, at every
slider position at once, O(N·K + T)) and the library's figure builders (`plots`): a
`ThresholdView` holds the metrics as shown and, per figure, the values of the traces that
move, one per position. The browser only looks rows up; it computes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import plots, robustness, tradeoff
from .criteria import Criterion
from .profile import Profile
from .quality import Quality
from .speedup import DEFINITION

STEPS = 200  # slider steps across a criterion's range (exit counts step by one)
TAU = "{tau}"  # in a title: replaced by the threshold as shown


def _grid(profile: Profile, criterion: Criterion) -> np.ndarray:
    return np.asarray(criterion.grid(profile.scores(criterion), profile.path(criterion)), np.float64)


def slider_range(profile: Profile, criterion: Criterion) -> tuple[float, float, float]:
    """(lowest, highest, step) of the threshold slider: the criterion's threshold grid on
    this profile (its ends mean "everyone leaves at the first exit" and "no one leaves
    early"), in STEPS equal steps, or in steps of one where the grid counts exits."""
    grid = _grid(profile, criterion)
    lo, hi = float(grid.min()), float(grid.max())
    if hi <= lo:
        hi = lo + 1.0
    steps = np.diff(np.sort(grid))
    return lo, hi, 1.0 if len(steps) and np.allclose(steps, 1.0) else (hi - lo) / STEPS


def positions(profile: Profile, criterion: Criterion, value: float | None = None) -> np.ndarray:
    """The slider's positions, ascending; `value` (a link's or a recommended threshold,
    clipped to the range) is one of them even where it falls between two steps."""
    return union_positions([profile], criterion, value)


def pinned(profile: Profile, criterion: Criterion, value: float) -> float | None:
    """`value` where it falls between the plain positions (a view needs it as an extra one),
    else None: one view (and one cache entry) serves every plain position."""
    return None if np.isin(value, positions(profile, criterion)) else value


def _r(values) -> list:
    """Six significant digits: what a figure can show, at a third of JSON's size."""
    return [_r(v) for v in values] if np.ndim(values) else float(f"{float(values):.6g}")


@dataclass(frozen=True)
class Metric:
    label: str
    values: list[str]  # as shown, one per position
    deltas: list[str] | None = None  # the change against the full model, one per position
    delta_good: str = "up"  # "up": a rise is good (green); "down": a fall is
    help: str = ""
    small: bool = False  # a sentence rather than a figure


@dataclass(frozen=True)
class Move:
    """One trace of a figure that the threshold moves, per position: its x, y, name, bar
    labels (text) and error bar ([above, below] the point)."""
    trace: int
    x: list | None = None
    y: list | None = None
    name: list[str] | None = None
    text: list[list[str]] | None = None
    error: list[list[float]] | None = None


@dataclass(frozen=True)
class Panel:
    figure: dict  # plotly's JSON of the figure at the first position shown; TAU in its title: the threshold shown
    moves: list[Move] = field(default_factory=list)
    caption: str = ""
    pick: str = ""  # what a click on it selects: "curve" (a threshold of a curve), "exits" (an exit's bar)
    top: int | None = None  # the trace a click takes where its point lies over another's (the chosen criterion)


@dataclass(frozen=True)
class ThresholdView:
    thresholds: list[float]  # the slider's positions, ascending
    labels: list[str]  # each as shown
    metrics: list[Metric]
    rows: list[list[Panel]]  # figures, row by row (side by side within a row)
    start: int = 0  # the position the figures are drawn at
    label: str = "Threshold τ"
    help: str = ""
    notes: list[str] | None = None  # a sentence under the metrics, one per position

    def index(self, value: float) -> int:
        """The position shown for `value`: itself, or the nearest one (±inf: an end)."""
        t = np.asarray(self.thresholds)
        return int(np.argmin(np.abs(t - np.clip(value, t[0], t[-1]))))

    @cached_property
    def payload(self) -> dict:
        """What the browser gets (once per view), with an id that changes when anything in it does."""
        out = asdict(self)
        out["id"] = hashlib.sha1(json.dumps(out, sort_keys=True).encode()).hexdigest()[:16]
        return out


def _numbers(values) -> list[float]:
    """Every finite number in a (nested) list or array; text (categories) is skipped."""
    flat = pd.to_numeric(pd.Series(np.ravel(np.asarray(values, dtype=object)), dtype=object), errors="coerce")
    return [float(v) for v in flat if np.isfinite(v)]


def _figure(fig: go.Figure, moves: list[Move] = ()) -> dict:
    """Plotly's JSON without the template (the browser styles it like Streamlit's charts).
    Where traces move, the axes keep one range for every position (all the values a trace
    takes, its error bars, and a bar's base), so the browser can move a point without
    moving an axis."""
    for axis in ("x", "y") if moves else ():
        layout_axis = getattr(fig.layout, f"{axis}axis")
        if layout_axis.type == "category" or layout_axis.range is not None:
            continue
        values = [v for m in moves if getattr(m, axis) is not None for v in _numbers(getattr(m, axis))]
        values += [v for t in fig.data if getattr(t, axis, None) is not None for v in _numbers(getattr(t, axis))]
        if axis == "y":
            values += [y + above for m in moves if m.error for y, (above, _) in zip(m.y, m.error, strict=True)]
            values += [y - below for m in moves if m.error for y, (_, below) in zip(m.y, m.error, strict=True)]
            if any(t.type == "bar" for t in fig.data):
                values.append(0.0)
        log = layout_axis.type == "log"
        values = np.log10([v for v in values if v > 0]) if log else values  # a log axis' range is in decades
        if len(values):
            lo, hi = min(values), max(values)
            pad = 0.05 * ((hi - lo) or abs(hi) or 1.0)
            layout_axis.range = [lo - pad, hi + pad]
    out = json.loads(fig.to_json())
    out["layout"].pop("template", None)
    return out


def _trace(fig: go.Figure, name: str) -> int:
    """The index of the trace named `name` (or `name` with a note in brackets after it)."""
    return next(i for i, t in enumerate(fig.data) if t.name == name or t.name.startswith(f"{name} ("))


def _start(pos: np.ndarray, value: float | None) -> int:
    return int(np.argmin(np.abs(pos - np.clip(value, pos[0], pos[-1])))) if value is not None else 0


def _label(t: float) -> str:
    return f"{t:.4g}"


def _help(criterion: Criterion) -> str:
    return (f"{criterion.label}; starts at the threshold recommended on the calibration split. Arrow keys move it "
            "one step, Home and End to the ends.")


def _exit_columns(k: int) -> list[str]:
    return [f"exit_{j}" for j in range(k)]


def measured_note(headline, default_thr: float, crit: str, thr: float) -> str:
    """The measured speedup at τ in words: the shipped report's (`headline`) where it was
    measured, at the recommended threshold `default_thr` of its criterion."""
    if headline and headline.criterion == crit and np.isclose(thr, default_thr):
        return (f"Measured at this threshold (shipped report, batch 1): "
                f"{'noisy — ' + headline.noisy if headline.noisy else f'{headline.measured_speedup_b1:.2f}×'}.")
    return "Not measured at this threshold: the Model page times it (Run the benchmark)."


def quality_intervals(profile: Profile, criterion: Criterion, quality: Quality, pos: np.ndarray) -> np.ndarray:
    """The 95% bootstrap interval of the quality at each position: [positions, (low, high)]."""
    return np.array([sorted(quality.from_error(e) for e in tradeoff.bootstrap_ci(profile, profile.exits(criterion, t)))
                     for t in pos]).reshape(-1, 2)


def tradeoff_view(profile: Profile, criterion: Criterion, everything: pd.DataFrame, cost: str,
                  per_exit: list[dict], quality: Quality, pos: np.ndarray, value: float | None = None,
                  log_x: bool = False, set_label: str = "test",
                  measured: Callable[[float], str] | None = None, ci: np.ndarray | None = None,
                  zoom: bool = False) -> ThresholdView:
    """The Tradeoffs page's threshold on one evaluation set (`profile`, and `everything`:
    `tradeoff.sweep_all` of it): the metrics (quality, its change and bootstrap interval,
    mean exit, ideal speedup, and `measured(τ)`: the measured speedup in words), the
    current-threshold marker with its interval on the tradeoff figure, and where inputs
    leave, at every slider position `pos`; each exit's own quality beside them. `ci`:
    `quality_intervals` at `pos`, if the caller keeps them (they do not change with the axis).
    The criterion's curve is drawn on top; `zoom`: the axes show the knee (`plots.knee`)."""
    pos = np.asarray(pos, np.float64)
    rows = tradeoff.sweep(profile, criterion, pos)
    at = _start(pos, value)
    ci = quality_intervals(profile, criterion, quality, pos) if ci is None else ci
    q = rows[quality.column].to_numpy()
    metrics = [
        Metric(f"{quality.label} ({set_label})", [f"{v:.2%}" for v in q],
               [f"{quality.change_pt(d):+.2f} points" for d in rows["drop_pt"]],
               "up" if quality.higher_is_better else "down", "Against the full model on the same inputs."),
        Metric("Mean exit", [f"{e + 1:.2f} of {profile.k}" for e in rows["mean_exit"]], help="Exits counted from 1."),
        Metric("Speedup by MACs (ideal)", [f"{s:.2f}×" for s in rows["mac_speedup"]], help=DEFINITION),
    ]
    if measured is not None:
        metrics.append(Metric("Speedup measured (ms)", [measured(t) for t in pos], help=DEFINITION, small=True))
    effects = [tradeoff.threshold_effect(profile, criterion, t) for t in pos]
    notes = [f"{effect} At τ = {_label(t)}: 95% bootstrap interval of {quality.label} {lo:.2%}–{hi:.2%} "
             f"({profile.n:,} inputs).".strip() for t, effect, (lo, hi) in zip(pos, effects, ci, strict=True)]
    start = rows.iloc[at].to_dict()
    fig = plots.tradeoff(everything, cost, start, tradeoff.pareto(everything, cost), log_x, current_ci=tuple(ci[at]),
                         chosen=criterion.name, zoom=zoom)
    names = list(profile.meta.exit_names)
    shares = rows[_exit_columns(profile.k)].to_numpy()
    hist = plots.exit_histogram(start, names, title=f"Where inputs leave at τ = {TAU}")
    marker = [Move(_trace(fig, "current threshold"), x=_r(plots.as_shown(rows[cost], cost)), y=_r(q),
                   error=_r(np.stack([ci[:, 1] - q, q - ci[:, 0]], 1)))]
    bars = [Move(0, y=_r(shares), text=[plots.bar_text(s) for s in shares])]
    for trace in fig.data:  # a click on a criterion's curve: its inputs, of this model
        if trace.meta:
            trace.meta = {**trace.meta, "model": profile.meta.model}
    hist.data[0].meta = {"model": profile.meta.model}
    chosen = next((i for i, t in enumerate(fig.data) if (t.meta or {}).get("criterion") == criterion.name), None)
    return ThresholdView(
        [float(t) for t in pos], [_label(t) for t in pos], metrics,
        [[Panel(_figure(fig, marker), marker,
                caption="Lines: each criterion over its thresholds. Stars: the oracles (earliest correct exit, "
                        "earliest exit agreeing with the full model) — bounds no causal rule can beat. Static "
                        "truncation is the baseline; dashed: the Pareto front of the causal criteria. ✕: the "
                        "current threshold, with its 95% bootstrap interval. Click a point of a curve: the inputs "
                        "behind it (thick: the chosen criterion, on top).", pick="curve", top=chosen)],
         [Panel(_figure(hist, bars), bars, "Click a bar: the inputs that leave there.", "exits"),
          Panel(_figure(plots.quality_per_exit(per_exit)))]], at,
        label=tradeoff.threshold_label(criterion.name), help=_help(criterion), notes=notes)


def noise_table(profiles: dict[tuple[str, object], Profile], criterion: Criterion, thresholds: np.ndarray,
                quality: Quality) -> pd.DataFrame:
    """`robustness.table` at every threshold at once (column "t": the threshold's index),
    from the sweep of each noisy test set."""
    parts = []
    for (kind, level), prof in profiles.items():
        df = tradeoff.sweep(prof, criterion, thresholds)
        part = df[["criterion", "threshold", "mean_exit", "mean_macs", quality.column]
                  + _exit_columns(prof.k)].assign(
            t=np.arange(len(thresholds)), kind=kind, level=str(level),
            full_depth=quality.from_error(prof.exit_error(-1)))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def noise_view(df: pd.DataFrame, axis: robustness.NoiseAxis, test: Profile, criterion: Criterion, kind: str,
               level: str, quality: Quality, value: float | None = None) -> ThresholdView:
    """The Noise page's threshold: mean exit and quality against noise (each kind and their
    mean), and where inputs leave, clean against `kind` at `level`, at every position.
    df: `noise_table` at the slider's `positions(test, criterion, value)`."""
    pos = df.groupby("t").threshold.first().to_numpy()
    lines = pd.concat([df, robustness.mean_over_kinds(df, ("criterion", "t", "level"))], ignore_index=True)
    at = _start(pos, value)
    levels = [str(v) for v in axis.levels]
    series = {key: part.set_index(["t", "level"]) for key, part in lines.groupby("kind", sort=False)}

    def curves(y: str, ylabel: str, title: str, dashed: str | None) -> Panel:
        fig = plots.noise_curves(lines[lines.t == at], y, "kind", axis.label, ylabel, dashed=dashed, title=title)
        moves = [Move(_trace(fig, key), y=_r(plots.as_shown(part[y].unstack("level")[levels].to_numpy(), y)))
                 for key, part in series.items()]
        return Panel(_figure(fig, moves), moves)

    clean = df[df.level == levels[0]].groupby("t").first()  # every kind shares the clean set
    noisy = df[(df.kind == kind) & (df.level == str(level))].set_index("t")
    exit_cols = _exit_columns(test.k)

    def legend(rows: pd.DataFrame, what: str) -> list[str]:
        return [f"{what} (mean exit {e:.2f})" for e in plots.as_shown(rows["mean_exit"], "mean_exit")]

    first = {legend(clean, "clean")[at]: clean.loc[at, exit_cols], legend(noisy, f"{kind} at {level}")[at]:
             noisy.loc[at, exit_cols]}
    dist = plots.exit_distributions(first, test.meta.exit_names)
    bars = [Move(0, y=_r(clean[exit_cols].to_numpy()), name=legend(clean, "clean")),
            Move(1, y=_r(noisy[exit_cols].to_numpy()), name=legend(noisy, f"{kind} at {level}"))]
    return ThresholdView(
        [float(t) for t in pos], [_label(t) for t in pos], [],
        [[curves("mean_exit", "mean exit", f"Mean exit against noise: {criterion.name} at τ = {TAU}", None),
          curves(quality.column, quality.label, f"{quality.label} against noise, early exit and the full model",
                 "full_depth")],
         [Panel(_figure(dist, bars), bars, "Exits are counted from 1 (exit 1 is the first).")]],
        at, label=tradeoff.threshold_label(criterion.name), help=_help(criterion))


# ---- several models on one chart ---------------------------------------------------------------
def union_positions(tests: list[Profile], criterion: Criterion, value: float | None = None) -> np.ndarray:
    """One slider over several models: from the lowest to the highest end of the criterion's
    ranges on their test profiles, in STEPS steps (steps of one where every grid counts
    exits); `value` among them as in `positions`."""
    ranges = [slider_range(p, criterion) for p in tests]
    lo, hi = min(r[0] for r in ranges), max(r[1] for r in ranges)
    step = 1.0 if all(r[2] == 1.0 for r in ranges) else (hi - lo) / STEPS
    pos = lo + step * np.arange(round((hi - lo) / step) + 1)
    pos[-1] = hi
    if value is not None and np.isfinite(value):
        pos = np.union1d(pos, [min(max(float(value), lo), hi)])
    return pos


PALETTE = plots.PALETTE


def compare_view(models: list, criterion: Criterion, cost: str, log_x: bool, pos: np.ndarray,
                 value: float | None = None, cost_label: str = "") -> ThresholdView:
    """Several models (`compare.Compared`: each judged on its own evaluation set) under one
    criterion and one threshold: each model's curve over its own thresholds with its marker
    at τ, where each model's inputs leave at τ, and each model's mean exit against noise at
    τ (models with noisy test sets), at every slider position `pos`."""
    from . import compare

    pos = np.asarray(pos, np.float64)
    at = _start(pos, value)
    quality = models[0].quality
    same_quality = all(m.quality == quality for m in models)
    markers, metrics, bars = [], [], []
    hist = go.Figure()
    tradeoff_fig = go.Figure()
    for i, m in enumerate(models):
        colour = PALETTE[i % len(PALETTE)]
        rows = compare.with_cost(tradeoff.sweep(m.prof, criterion, pos), m)
        curve = compare.with_cost(tradeoff.sweep(m.prof, criterion), m).sort_values(cost)
        meta = {"model": m.name, "criterion": criterion.name}
        tradeoff_fig.add_trace(go.Scatter(
            x=_r(plots.as_shown(curve[cost], cost)), y=_r(curve[m.quality.column]), name=m.title,
            mode="lines+markers", marker={"size": 5, "color": colour}, line={"color": colour},
            customdata=_r(curve["threshold"]), meta=meta,
            hovertemplate=f"τ=%{{customdata:.4g}}<br>{m.quality.label}=%{{y:.2%}}<extra>{m.name}</extra>"))
        q = rows[m.quality.column].to_numpy()
        metrics.append(Metric(
            m.title, [f"{m.quality.label} {v:.2%} ({m.quality.change_pt(d):+.2f} pt), mean exit {e + 1:.2f} of "
                      f"{m.prof.k}, {s:.2f}× fewer MACs" for v, d, e, s in
                      zip(q, rows["drop_pt"], rows["mean_exit"], rows["mac_speedup"], strict=True)],
            help=f"On {m.set_label}, against the full model on the same inputs.", small=True))
        shares = rows[_exit_columns(m.prof.k)].to_numpy()
        exit_labels = [f"exit {j + 1}" for j in range(m.prof.k)]
        hist.add_trace(go.Bar(x=exit_labels, y=_r(shares[at]), name=m.title, marker_color=colour, meta=meta,
                              text=plots.bar_text(shares[at]), textposition="outside", textangle=-90,
                              cliponaxis=False))
        bars.append((i, shares))
        markers.append((i, rows, q, colour, m))
    for _, rows, q, colour, m in markers:
        tradeoff_fig.add_trace(go.Scatter(
            x=[_r(plots.as_shown(rows[cost], cost))[at]], y=[_r(q)[at]], name=f"{m.title} at τ", mode="markers",
            marker={"size": 16, "symbol": "x", "color": colour}, showlegend=False, hoverinfo="skip"))
    n = len(models)
    moves = [Move(n + i, x=_r(plots.as_shown(rows[cost], cost)), y=_r(q)) for i, rows, q, _, _ in markers]
    ylabel = quality.label if same_quality else "quality (accuracy or WER)"
    tradeoff_fig.update_layout(xaxis_title=(cost_label or plots.COST_AXES.get(cost, cost))
                               + (" — log scale" if log_x else ""), yaxis_title=ylabel, yaxis_tickformat=".1%",
                               height=480, legend=plots.LEGEND_BELOW)
    if log_x:
        tradeoff_fig.update_xaxes(type="log")
    plots.titled(tradeoff_fig, f"{ylabel} against {(cost_label or plots.COST_AXES.get(cost, cost)).split(' (')[0]}: "
                               f"{criterion.label}, each model at τ = {TAU}")
    # bar labels upright and at a readable size however narrow the bars (plotly shrinks them to fit)
    hist.update_layout(barmode="group", yaxis_title="share of inputs", yaxis_tickformat=".0%", yaxis_range=[0, 1.3],
                       uniformtext={"minsize": 11, "mode": "show"},
                       height=340, legend=plots.LEGEND_BELOW)
    plots.titled(hist, f"Where each model's inputs leave at τ = {TAU}")
    bar_moves = [Move(i, y=_r(s), text=[plots.bar_text(r) for r in s]) for i, s in bars]
    second = [Panel(_figure(hist, bar_moves), bar_moves, "Click a bar: the inputs that leave there.", "exits")]
    noisy = [m for m in models if m.noisy]
    if noisy:
        depth_fig, depth_moves = go.Figure(), []
        for i, m in enumerate(models):
            if not m.noisy:
                continue
            table = noise_table(m.noisy, criterion, pos, m.quality)
            mean = robustness.mean_over_kinds(table, ("criterion", "t", "level"))
            levels = [str(v) for v in m.axis.levels]
            y = plots.as_shown(mean.set_index(["t", "level"])["mean_exit"].unstack("level")[levels].to_numpy(),
                               "mean_exit")
            depth_fig.add_trace(go.Scatter(x=levels, y=_r(y[at]), name=m.title, mode="lines+markers",
                                           line={"color": PALETTE[i % len(PALETTE)]}))
            depth_moves.append(Move(len(depth_fig.data) - 1, y=_r(y)))
        axes = {m.axis.label for m in noisy}
        depth_fig.update_layout(xaxis_title=axes.pop() if len(axes) == 1 else "noise level (each model's own)",
                                xaxis_type="category", yaxis_title="mean exit (1 = first)", height=340,
                                legend=plots.LEGEND_BELOW)
        plots.titled(depth_fig, f"Mean exit against noise at τ = {TAU}")
        without = [m.title for m in models if not m.noisy]
        second.append(Panel(_figure(depth_fig, depth_moves), depth_moves,
                            "Mean over the noise kinds. Deeper under noise: the model spends its depth where "
                            "inputs are hard."
                            + (f" No noisy test sets: {', '.join(without)}." if without else "")))
    return ThresholdView(
        [float(t) for t in pos], [_label(t) for t in pos], metrics,
        [[Panel(_figure(tradeoff_fig, moves), moves,
                "Each model's curve over its own thresholds on its own evaluation set; ✕: each model at the "
                "threshold shown. Click a point: the inputs behind it.", "curve")], second],
        at, label=tradeoff.threshold_label(criterion.name), help=_help(criterion))


def figure_at(view: ThresholdView, panel: Panel, i: int) -> dict:
    """A panel's figure as the browser shows it at position i (its moving traces there, τ
    in its title): what a downloaded figure must show."""
    fig = json.loads(json.dumps(panel.figure))
    title = fig.get("layout", {}).get("title")
    if title and "text" in title:
        title["text"] = title["text"].replace(TAU, view.labels[i])
    for m in panel.moves:
        trace = fig["data"][m.trace]
        for attr in ("x", "y", "text"):
            values = getattr(m, attr)
            if values is not None:
                trace[attr] = values[i] if isinstance(values[i], list) else [values[i]]
        if m.name is not None:
            trace["name"] = m.name[i]
        if m.error is not None:
            trace.setdefault("error_y", {}).update(array=[m.error[i][0]], arrayminus=[m.error[i][1]])
    return fig
