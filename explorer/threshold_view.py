"""Everything a threshold moves on a page, at every position of the threshold slider,
for the browser to look up while the slider moves.

The pages draw the threshold slider and what it moves in the browser
(pages/components/threshold_explorer), so a move costs no round trip to the server.
The numbers come from here, from the library's one sweep (`tradeoff.sweep`, at every
slider position at once, O(N·K + T)) and the library's figure builders (`plots`): a
`ThresholdView` holds the metrics as shown and, per figure, the values of the traces that
move, one per position. The browser only looks rows up; it computes nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import plots, robustness, tradeoff
from .criteria import Criterion
from .profile import Profile

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
    lo, hi, step = slider_range(profile, criterion)
    pos = lo + step * np.arange(round((hi - lo) / step) + 1)
    pos[-1] = hi
    if value is not None and np.isfinite(value):
        pos = np.union1d(pos, [min(max(float(value), lo), hi)])
    return pos


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


@dataclass(frozen=True)
class Move:
    """One trace of a figure that the threshold moves: its x, y (and name) per position."""
    trace: int
    x: list | None = None
    y: list | None = None
    name: list[str] | None = None


@dataclass(frozen=True)
class Panel:
    figure: dict  # plotly's JSON of the figure at the first position shown
    moves: list[Move] = field(default_factory=list)
    title: str = ""  # markdown-ish (**bold**), TAU replaced by the threshold shown
    caption: str = ""


@dataclass(frozen=True)
class ThresholdView:
    thresholds: list[float]  # the slider's positions, ascending
    labels: list[str]  # each as shown
    metrics: list[Metric]
    rows: list[list[Panel]]  # figures, row by row (side by side within a row)
    start: int = 0  # the position the figures are drawn at
    label: str = "Threshold τ"
    help: str = ""

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
    takes, and a bar's base), so the browser can move a point without moving an axis."""
    for axis in ("x", "y") if moves else ():
        layout_axis = getattr(fig.layout, f"{axis}axis")
        if layout_axis.type == "category" or layout_axis.range is not None:
            continue
        values = [v for m in moves if getattr(m, axis) is not None for v in _numbers(getattr(m, axis))]
        values += [v for t in fig.data if getattr(t, axis, None) is not None for v in _numbers(getattr(t, axis))]
        if axis == "y" and any(t.type == "bar" for t in fig.data):
            values.append(0.0)
        if values:
            lo, hi = min(values), max(values)
            pad = 0.05 * ((hi - lo) or abs(hi) or 1.0)
            layout_axis.range = [lo - pad, hi + pad]
    out = json.loads(fig.to_json())
    out["layout"].pop("template", None)
    return out


def _trace(fig: go.Figure, name: str) -> int:
    return next(i for i, t in enumerate(fig.data) if t.name == name)


def _start(pos: np.ndarray, value: float | None) -> int:
    return int(np.argmin(np.abs(pos - np.clip(value, pos[0], pos[-1])))) if value is not None else 0


def _label(t: float) -> str:
    return f"{t:.4g}"


def tradeoff_view(profile: Profile, criterion: Criterion, everything: pd.DataFrame, cost: str,
                  per_exit: list[dict], value: float | None = None) -> ThresholdView:
    """The Tradeoffs page's threshold: the metrics (quality and its change, mean exit, MAC
    and measured-ms speedups), the current-threshold marker on the tradeoff figure and
    where inputs leave, at every slider position; each exit's own quality beside them.
    `everything`: `tradeoff.sweep_all` of the profile (the curves)."""
    pos = positions(profile, criterion, value)
    rows = tradeoff.sweep(profile, criterion, pos)
    col, words = profile.quality_name
    at = _start(pos, value)
    start = rows.iloc[at].to_dict()
    accuracy = col == "accuracy"
    change = -rows["drop_pt"] if accuracy else rows["drop_pt"]
    metrics = [
        Metric(f"{words} (test)", [f"{q:.2%}" for q in rows[col]], [f"{c:+.2f} points" for c in change],
               "up" if accuracy else "down", "Against the full model."),
        Metric("Mean exit", [f"{e + 1:.2f} of {profile.k}" for e in rows["mean_exit"]]),
        Metric("MAC speedup", [f"{s:.2f}×" for s in rows["mac_speedup"]]),
        Metric("Measured-ms speedup", [f"{s:.2f}×" for s in rows["ms_speedup"]]),
    ]
    fig = plots.tradeoff(everything, cost, start, tradeoff.pareto(everything, cost))
    names = profile.meta["exit_names"]
    exit_cols = [f"exit_{j}" for j in range(profile.k)]
    hist = plots.exit_histogram(start, names)
    marker = [Move(_trace(fig, "current threshold"), x=_r(rows[cost]), y=_r(rows[col]))]
    bars = [Move(0, y=_r(rows[exit_cols].to_numpy()))]
    return ThresholdView(
        [float(t) for t in pos], [_label(t) for t in pos], metrics,
        [[Panel(_figure(fig, marker), marker,
                caption="Lines: each criterion over its thresholds. Stars: the oracles (earliest correct exit, "
                        "earliest exit agreeing with the full model) — bounds no causal rule can beat. Static "
                        "truncation is the baseline; dashed: the Pareto front of the causal criteria. ✕: the "
                        "current threshold.")],
         [Panel(_figure(hist, bars), bars, f"**Where inputs leave at τ = {TAU}**"),
          Panel(_figure(plots.quality_per_exit(per_exit)), title=f"**{words} of each exit alone**")]], at,
        help=f"{criterion.label}; starts at the threshold recommended on the calibration split. Arrow keys "
             "move it one step, Home and End to the ends.")


def noise_table(profiles: dict[tuple[str, object], Profile], criterion: Criterion,
                thresholds: np.ndarray) -> pd.DataFrame:
    """`robustness.table` at every threshold at once (column "t": the threshold's index),
    from the sweep of each noisy test set."""
    parts = []
    for (kind, level), prof in profiles.items():
        df = tradeoff.sweep(prof, criterion, thresholds)
        col = prof.quality_name[0]
        part = df[["criterion", "threshold", "mean_exit", "mean_macs", col]
                  + [f"exit_{j}" for j in range(prof.k)]].assign(
            t=np.arange(len(thresholds)), kind=kind, level=str(level), full_depth=prof.quality(prof.exit_error(-1)))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def noise_view(df: pd.DataFrame, axis: robustness.NoiseAxis, test: Profile, criterion: Criterion, kind: str,
               level: str, value: float | None = None) -> ThresholdView:
    """The Noise page's threshold: mean exit and quality against noise (each kind and their
    mean), and where inputs leave, clean against `kind` at `level`, at every position.
    df: `noise_table` at the slider's `positions(test, criterion, value)`."""
    pos = df.groupby("t").threshold.first().to_numpy()
    lines = pd.concat([df, robustness.mean_over_kinds(df, ("criterion", "t", "level"))], ignore_index=True)
    at = _start(pos, value)
    col, words = test.quality_name
    levels = [str(v) for v in axis.levels]
    series = {key: part.set_index(["t", "level"]) for key, part in lines.groupby("kind", sort=False)}

    def curves(y: str, ylabel: str, dashed: str | None) -> Panel:
        fig = plots.noise_curves(lines[lines.t == at], y, "kind", axis.label, ylabel, dashed=dashed)
        moves = [Move(_trace(fig, key), y=_r(part[y].unstack("level")[levels].to_numpy()))
                 for key, part in series.items()]
        return Panel(_figure(fig, moves), moves)

    mean_exit, quality = curves("mean_exit", "mean exit (0 = first)", None), curves(col, words, "full_depth")
    clean = df[df.level == levels[0]].groupby("t").first()  # every kind shares the clean set
    noisy = df[(df.kind == kind) & (df.level == str(level))].set_index("t")
    exit_cols = [f"exit_{j}" for j in range(test.k)]

    def legend(rows: pd.DataFrame, what: str) -> list[str]:
        return [f"{what} (mean exit {e:.2f})" for e in rows["mean_exit"]]

    first = {legend(clean, "clean")[at]: clean.loc[at, exit_cols], legend(noisy, f"{kind} at {level}")[at]:
             noisy.loc[at, exit_cols]}
    dist = plots.exit_distributions(first, test.meta["exit_names"])
    bars = [Move(0, y=_r(clean[exit_cols].to_numpy()), name=legend(clean, "clean")),
            Move(1, y=_r(noisy[exit_cols].to_numpy()), name=legend(noisy, f"{kind} at {level}"))]
    return ThresholdView(
        [float(t) for t in pos], [_label(t) for t in pos], [],
        [[Panel(mean_exit.figure, mean_exit.moves, f"**Mean exit against noise: {criterion.name} at τ = {TAU}**"),
          Panel(quality.figure, quality.moves, f"**{words} against noise** (dotted: the full model)")],
         [Panel(_figure(dist, bars), bars, f"**Where inputs leave at τ = {TAU}: clean against {kind} at {level}**")]],
        at, help=f"{criterion.label}; starts at the threshold recommended on the calibration split. Arrow keys "
             "move it one step, Home and End to the ends.")
