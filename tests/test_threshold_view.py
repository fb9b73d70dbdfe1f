"""What the browser looks up while the threshold slider moves (explorer/threshold_view.py):
at every slider position, the same figures and numbers as the decisions at that threshold."""

import json

import numpy as np
import pandas as pd
import pytest

from explorer import built_ins, checkpoint, criteria, robustness, tradeoff, zoo
from explorer import threshold_view as tv
from explorer.report import exits_table

needs_models = pytest.mark.skipif(not (checkpoint.exists(built_ins.IMAGE_CHECKPOINT) and checkpoint.exists(
    built_ins.SPEECH_CHECKPOINT)), reason="no shipped checkpoints")


def _view(name: str, c, cost: str = "mean_macs", value=None, key: str | None = None, **kw) -> tv.ThresholdView:
    """The Tradeoffs view as the page builds it: positions from the test profile, the rest
    from the evaluation set `key` (default: the test set)."""
    test = zoo.profile(name, zoo.get(name).test_split)
    s = zoo.eval_set(name, key or zoo.get(name).test_split)
    prof = zoo.profile(name, s.split, **dict(s.variant))
    return tv.tradeoff_view(prof, c, tradeoff.sweep_all(prof), cost, exits_table(prof), zoo.get(name).quality,
                            tv.positions(test, c, value), value, set_label=s.label, **kw)


def _shown_at(view: tv.ThresholdView, i: int) -> dict:
    """Every number the browser shows at position i: metric texts, moving traces' values."""
    return {"metrics": {m.label: (m.values[i], m.deltas[i] if m.deltas else None) for m in view.metrics},
            "moves": [[(m.trace, m.x[i] if m.x else None, m.y[i] if m.y else None, m.name[i] if m.name else None)
                       for m in panel.moves] for row in view.rows for panel in row]}


@needs_models
@pytest.mark.parametrize("name,crit", [("image", "confidence"), ("image", "patience"), ("speech", "ctc_entropy")])
def test_slider_positions_cover_the_criterions_range_and_hold_a_pinned_value(name, crit):
    prof, c = zoo.profile(name, zoo.get(name).test_split), criteria.get(crit)
    grid = c.grid(prof.scores(c), prof.path(c))
    pos = tv.positions(prof, c)
    assert (pos[0], pos[-1]) == (grid.min(), grid.max())  # everyone at the first exit ... no one early
    assert np.all(np.diff(pos) > 0)
    assert len(pos) == (tv.STEPS + 1 if c.grid is not criteria.CRITERIA["patience"].grid else len(grid))
    pinned = (pos[1] + pos[2]) / 2  # a recommended threshold between two steps
    assert tv.pinned(prof, c, pinned) == pinned and pinned in tv.positions(prof, c, pinned)
    assert tv.pinned(prof, c, pos[2]) is None
    assert tv.positions(prof, c, 1e9)[-1] == pos[-1]  # out of range: the nearest end
    view = _view(name, c, "mean_exit", np.inf)
    assert (view.start, view.index(np.inf), view.index(-np.inf)) == (len(pos) - 1, len(pos) - 1, 0)
    assert view.label == ("Threshold τ (exits in a row)" if crit == "patience" else "Threshold τ")  # its unit


@pytest.mark.slow
@needs_models
@pytest.mark.parametrize("name,crit,key", [("image", "entropy", None), ("image-shared", "confidence", None),
                                          ("speech", "ctc_entropy", None), ("image", "confidence", "blur-3"),
                                          ("speech", "ctc_entropy", "test_b")])
def test_tradeoff_view_at_every_position_is_the_decisions_at_that_threshold(name, crit, key):
    """On the chosen evaluation set: the metrics, their bootstrap interval, the marker (with
    its interval bar) and the histogram equal the plain decisions at each threshold."""
    test, c, q = zoo.profile(name, zoo.get(name).test_split), criteria.get(crit), zoo.get(name).quality
    s = zoo.eval_set(name, key or zoo.get(name).test_split)
    prof = zoo.profile(name, s.split, **dict(s.variant))
    pinned = float(np.mean(tv.positions(test, c)[10:12]))
    view = _view(name, c, "mean_macs", pinned, key, measured=lambda t: f"measured at {t:.4g}")
    assert view.thresholds[view.start] == pinned  # drawn at the threshold it was asked for
    col, words = q.column, q.label
    marker_fig = view.rows[0][0].figure
    assert marker_fig["data"][view.rows[0][0].moves[0].trace]["name"].startswith("current threshold")
    for i in [0, 7, view.start, len(view.thresholds) // 2, len(view.thresholds) - 1]:
        thr = view.thresholds[i]
        exits = prof.exits(c, thr)  # the plain decisions, not the sweep
        point = tradeoff.evaluate(prof, c, thr)
        quality = prof.quality(point.error_rate)
        change = 100 * (point.error_rate - prof.exit_error(-1)) * (-1 if col == "accuracy" else 1)
        shown = _shown_at(view, i)
        assert shown["metrics"] == {
            f"{words} ({s.label})": (f"{quality:.2%}", f"{change:+.2f} points"),
            "Mean exit": (f"{exits.mean() + 1:.2f} of {prof.k}", None),
            "Speedup by MACs (ideal)": (f"{point.mac_speedup:.2f}×", None),
            "Speedup measured (ms)": (f"measured at {thr:.4g}", None)}
        (_, x, y, _), = shown["moves"][0]
        assert (x, y) == pytest.approx((point.mean_macs, quality), rel=1e-5)
        lo, hi = sorted(q.from_error(e) for e in tradeoff.bootstrap_ci(prof, exits))
        assert f"95% bootstrap interval of {words} {lo:.2%}–{hi:.2%}" in view.notes[i]
        assert view.rows[0][0].moves[0].error[i] == pytest.approx([hi - quality, quality - lo], abs=1e-5)
        (_, _, bars, _), = shown["moves"][1]
        assert bars == pytest.approx(np.bincount(exits, minlength=prof.k) / prof.n, abs=1e-6)
        assert view.labels[i] == f"{thr:.4g}"
    assert shown["moves"][2] == []  # each exit's own quality does not depend on the threshold
    x_range = marker_fig["layout"]["xaxis"]["range"]  # one range for every position: the axis never jumps
    assert x_range[0] <= min(view.rows[0][0].moves[0].x) and max(view.rows[0][0].moves[0].x) <= x_range[1]


@needs_models
@pytest.mark.parametrize("name", ["image", "speech"])
def test_noise_view_at_every_position_is_the_noise_table_at_that_threshold(name):
    profiles, ax, prof = robustness.load_all(name), robustness.axis(name), zoo.profile(name, zoo.get(name).test_split)
    c = criteria.get("entropy" if name == "image" else "ctc_entropy")
    pos = tv.positions(prof, c)
    kind, level = ax.kinds[1], str(ax.levels[2])
    q = zoo.get(name).quality
    view = tv.noise_view(tv.noise_table(profiles, c, pos, q), ax, prof, c, kind, level, q)
    col = q.column
    for i in [0, 50, len(pos) - 1]:
        table = robustness.table(profiles, {c.name: pos[i]})  # the page's table before: one threshold
        lines = pd.concat([table, robustness.mean_over_kinds(table)])
        for panel, y in zip(view.rows[0], ["mean_exit", col], strict=True):
            for m in panel.moves:
                trace = panel.figure["data"][m.trace]["name"]
                shown = lines[lines.kind == trace][y] + (y == "mean_exit")  # exits counted from 1
                assert m.y[i] == pytest.approx(shown.tolist(), abs=1e-5), (trace, y)
        clean, noisy = (table[(table.kind == kind) & (table.level == lv)].iloc[0] for lv in (str(ax.levels[0]), level))
        (_, _, y0, name0), (_, _, y1, name1) = _shown_at(view, i)["moves"][2]
        exit_cols = [f"exit_{j}" for j in range(prof.k)]
        assert y0 == pytest.approx(clean[exit_cols].tolist(), abs=1e-6)
        assert y1 == pytest.approx(noisy[exit_cols].tolist(), abs=1e-6)
        assert name1 == f"{kind} at {level} (mean exit {noisy['mean_exit'] + 1:.2f})" and name0.startswith("clean")


@pytest.mark.slow
@needs_models
def test_the_payload_is_json_and_changes_only_with_the_view():
    c = criteria.get("confidence")

    def payload(cost="mean_macs", value=None, key=None, log_x=False):
        return _view("image", c, cost, value, key, log_x=log_x).payload

    first = payload()
    assert json.loads(json.dumps(first)) == first
    assert payload()["id"] == first["id"]
    assert payload("mean_ms")["id"] != first["id"]
    assert payload(value=0.5123)["id"] != first["id"]
    assert payload(key="blur-3")["id"] != first["id"]
    log = payload(log_x=True)["rows"][0][0]["figure"]["layout"]["xaxis"]
    assert log["type"] == "log" and log["range"][1] < 10  # a log axis' range is in decades
    assert "template" not in first["rows"][0][0]["figure"]["layout"]
