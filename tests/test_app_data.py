
"""The library behind the Tradeoffs, Noise and Model pages: anatomy, noisy test sets,
recommended thresholds and the figures (no Streamlit)."""

import numpy as np
import pytest

from explorer import anatomy, built_ins, checkpoint, criteria, plots, robustness, tradeoff, zoo
from explorer.bench import BenchResult
from explorer.report import by_kind_and_level, by_level, noise_table
from explorer.shipped import load_report
from explorer.speedup import Speedup, Timing
from explorer.thresholds import default_criterion, recommended

needs_models = pytest.mark.skipif(not (checkpoint.exists(built_ins.IMAGE_CHECKPOINT) and checkpoint.exists(
    built_ins.SPEECH_CHECKPOINT)), reason="no shipped checkpoints")


@needs_models
def test_parameters_of_every_part_add_up_to_the_model():
    model = zoo.model("image")
    params = anatomy.parameter_counts(model)
    unused = sum(p.numel() for p in model.shared.parameters())  # the other view's head
    assert params.front + sum(params.stage) + params.head_total["exit"] + unused == params.total
    shared = anatomy.parameter_counts(zoo.model("image-shared"))
    assert shared.head["shared"] == [shared.head_total["shared"]] * 6  # one head, read at every exit
    prof = zoo.profile("image", "test")
    rows = anatomy.head_overhead({"per exit": (params, prof), "shared": (shared, zoo.profile("image-shared", "test"))})
    assert rows[1]["parameters"] < rows[0]["parameters"]
    parts = anatomy.parts_table(params, prof)
    table = anatomy.by_exit(parts)
    assert list(table["exit"]) == ["input"] + [f"block {k}" for k in range(1, 7)]
    assert table["backbone parameters"].sum() == params.front + sum(params.stage)
    fig = plots.cost_breakdown(parts)  # stacked bars: every part once, adding up to all MACs
    assert sorted(t.name for t in fig.data) == sorted({r["part"] for r in parts})
    assert sum(sum(t.y) for t in fig.data) == pytest.approx(sum(r["MACs"] for r in parts))


@needs_models
@pytest.mark.parametrize("name", ["image", "speech"])
def test_adaptive_exits_go_deeper_as_noise_grows(name):
    profiles = robustness.load_all(name)
    ax = robustness.axis(name)
    assert set(profiles) == {(k, lv) for k in ax.kinds for lv in ax.levels}
    crit = "confidence" if name == "image" else "ctc_entropy"
    df = robustness.table(profiles, {crit: recommended(name, crit), "static": 2})  # exit 2
    mean = robustness.mean_over_kinds(df).set_index(["criterion", "level"])["mean_exit"]
    clean, worst = str(ax.levels[0]), str(ax.levels[-1])
    assert mean[crit, worst] > mean[crit, clean] + 0.3
    assert mean["static", worst] == mean["static", clean] == 1  # exit 2: index 1; a fixed depth cannot follow noise
    shares = df[[f"exit_{j}" for j in range(6)]].sum(axis=1)
    assert shares.round(9).eq(1).all()
    fig = plots.noise_curves(df[df.criterion == crit], "mean_exit", "kind", ax.label, "mean exit")
    assert len(fig.data) == len(ax.kinds)  # one line per kind


@needs_models
def test_pages_and_predict_start_at_the_reports_recommendation():
    rep, speech = load_report("image")["recommended"], load_report("speech")["recommended"]
    assert default_criterion("image") == rep["criterion"] and default_criterion("speech") == "ctc_entropy"
    assert recommended("image", rep["criterion"]) == pytest.approx(rep["threshold"])
    assert all(recommended("speech", name) == pytest.approx(r["threshold"]) for name, r in speech.items())
    calib, test = zoo.profile("image", "val"), zoo.profile("image", "test")
    looser = tradeoff.recommend(calib, test, criteria.get("entropy"), 1.0).threshold
    assert recommended("image", "entropy", 1.0) == looser


def _bench_result(batch: int, realized: float, ideal: float) -> BenchResult:
    timed = Speedup(Timing((realized,)), Timing((1.0,)), ideal, batch, 10)
    return BenchResult("image", "entropy", 0.5, 10, 1, 0.0, timed, "accuracy", 0.99, 0.98, 1.0, 1.0)


def test_speedup_and_distribution_figures():
    fig = plots.speedup_bars([_bench_result(1, 3.0, 4.0), _bench_result(64, 5.5, 4.0)])  # 5.5 > 4: noisy
    assert [t.name for t in fig.data] == ["ideal (MACs)", "realized (measured median)"]
    assert list(fig.data[1].text) == ["3.00×", "5.50× noisy"] and fig.layout.title.text
    fig = plots.exit_distributions({"clean": [0.9, 0.1], "noisy": [0.5, 0.5]}, ["a", "b"])
    assert fig.layout.barmode == "overlay" and len(fig.data) == 2
    fig = plots.quality_per_exit([{"name": "a", "accuracy": 0.9}, {"name": "b", "accuracy": 0.99}])
    assert fig.layout.yaxis.range[1] <= 1.0


def test_per_exit_chart_marks_exits_after_the_one_taken_as_not_run():
    fig = plots.per_exit(np.array([0.5, 0.7, 0.9, 0.95]), ["a", "b", "c", "d"], 0.6, 1, "confidence")
    run, what_if = fig.data[0], fig.data[1]
    assert list(run.x) == ["a", "b"] and list(what_if.x) == ["b", "c", "d"] and what_if.line.dash == "dot"
    assert len(plots.per_exit(np.array([0.5, 0.7]), ["a", "b"], 0.6, 1, "confidence").data) == 2  # run + exit mark


def _close(got: dict, want: dict) -> bool:
    return got.keys() == want.keys() and all(
        _close(got[k], want[k]) if isinstance(want[k], dict) else got[k] == pytest.approx(want[k]) for k in want)


@needs_models
def test_the_reports_noise_figures_are_the_noise_pages_table():
    image, speech = load_report("image"), load_report("speech")
    rec = image["recommended"]
    noisy, _ = noise_table("image", {rec["criterion"]: rec["threshold"]})
    assert _close(by_kind_and_level(noisy, "mean_exit"), image["corruptions"])
    assert _close(by_kind_and_level(noisy, "full_depth"), image["corruption_accuracy"])
    noisy, mean = noise_table("speech", {n: r["threshold"] for n, r in speech["recommended"].items()})
    assert _close(by_level(mean[mean.criterion == "ctc_entropy"], "full_depth"), speech["wer_by_snr"])
    assert _close({n: by_kind_and_level(noisy[noisy.criterion == n], "mean_exit") for n in speech["recommended"]},
                  speech["mean_exit_by_snr"])


def test_depth_curve_keeps_every_noise_level_in_order():
    fig = plots.depth_curve(["clean", 20, 10, 5, 0], [0, 0, 1, 3, 5], [f"layer {k}" for k in range(1, 7)], "SNR (dB)")
    assert list(fig.data[0].x) == ["clean", "20", "10", "5", "0"] and fig.layout.xaxis.type == "category"

