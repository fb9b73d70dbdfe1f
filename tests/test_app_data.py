
"""The library behind the Tradeoffs, Noise and Model pages: anatomy, noisy test sets,
recommended thresholds and the figures (no Streamlit)."""

import numpy as np
import pytest

from explorer import anatomy, checkpoint, criteria, plots, robustness, tradeoff, zoo
from explorer.report import load_report
from explorer.thresholds import default_choice, recommended

needs_models = pytest.mark.skipif(not (checkpoint.exists(zoo.IMAGE_CHECKPOINT) and checkpoint.exists(
    zoo.SPEECH_CHECKPOINT)), reason="no shipped checkpoints")


@needs_models
def test_parameters_of_every_part_add_up_to_the_model():
    model = zoo.model("image")
    params = anatomy.parameter_counts(model)
    unused = sum(p.numel() for p in model.shared.parameters())  # the other view's head
    assert params["front"] + sum(params["stage"]) + params["head_total"]["exit"] + unused == params["total"]
    shared = anatomy.parameter_counts(zoo.model("image-shared"))
    assert shared["head"]["shared"] == [shared["head_total"]["shared"]] * 6  # one head, read at every exit
    rows = anatomy.head_overhead({"per exit": (params, zoo.profile("image", "test")),
                                  "shared": (shared, zoo.profile("image-shared", "test"))})
    assert rows[1]["parameters"] < rows[0]["parameters"]
    table = anatomy.by_exit(anatomy.parts_table(params, zoo.profile("image", "test")))
    assert list(table["exit"]) == ["input"] + [f"block {k}" for k in range(1, 7)]
    assert table["backbone parameters"].sum() == params["front"] + sum(params["stage"])
    assert plots.cost_breakdown(anatomy.parts_table(params, zoo.profile("image", "test"))).data


@needs_models
@pytest.mark.parametrize("name", ["image", "speech"])
def test_adaptive_exits_go_deeper_as_noise_grows(name):
    profiles = robustness.load_all(name)
    ax = robustness.axis(name)
    assert set(profiles) == {(k, lv) for k in ax.kinds for lv in ax.levels}
    crit = "confidence" if name == "image" else "ctc_entropy"
    df = robustness.table(profiles, {crit: recommended(name, crit), "static": 2})
    mean = robustness.mean_over_kinds(df).set_index(["criterion", "level"])["mean_exit"]
    clean, worst = str(ax.levels[0]), str(ax.levels[-1])
    assert mean[crit, worst] > mean[crit, clean] + 0.3
    assert mean["static", worst] == mean["static", clean] == 2  # a fixed depth cannot follow noise
    shares = df[[f"exit_{j}" for j in range(6)]].sum(axis=1)
    assert shares.round(9).eq(1).all()
    fig = plots.noise_curves(df[df.criterion == crit], "mean_exit", "kind", ax.label, "mean exit")
    assert len(fig.data) == len(ax.kinds)  # one line per kind


@needs_models
def test_recommended_threshold_matches_the_report():
    from explorer.report import load_report

    rep = load_report("image")["recommended"]
    assert recommended("image", rep["criterion"]) == pytest.approx(rep["threshold"])
    calib, test = zoo.profile("image", "val"), zoo.profile("image", "test")
    looser = tradeoff.recommend(calib, test, criteria.get("entropy"), 1.0).threshold
    assert recommended("image", "entropy", 1.0) == looser


def test_speedup_and_distribution_figures():
    fig = plots.speedup_bars([{"batch": 1, "ideal_speedup": 4.0, "realized_speedup": 3.0},
                              {"batch": 64, "ideal_speedup": 4.0, "realized_speedup": 2.5}])
    assert [t.name for t in fig.data] == ["ideal (MACs)", "realized (measured)"]
    fig = plots.exit_distributions({"clean": [0.9, 0.1], "noisy": [0.5, 0.5]}, ["a", "b"])
    assert fig.layout.barmode == "overlay" and len(fig.data) == 2
    fig = plots.quality_per_exit([{"name": "a", "accuracy": 0.9}, {"name": "b", "accuracy": 0.99}])
    assert fig.layout.yaxis.range[1] <= 1.0


def test_per_exit_chart_marks_exits_after_the_one_taken_as_not_run():
    fig = plots.per_exit(np.array([0.5, 0.7, 0.9, 0.95]), ["a", "b", "c", "d"], 0.6, 1, "confidence")
    run, what_if = fig.data[0], fig.data[1]
    assert list(run.x) == ["a", "b"] and list(what_if.x) == ["b", "c", "d"] and what_if.line.dash == "dot"
    assert len(plots.per_exit(np.array([0.5, 0.7]), ["a", "b"], 0.6, 1, "confidence").data) == 2  # run + exit mark


@needs_models
def test_pages_and_predict_start_at_the_reports_recommendation():
    image, speech = load_report("image")["recommended"], load_report("speech")["recommended"]
    assert default_choice("image") == (image["criterion"], image["threshold"])
    assert default_choice("speech") == ("ctc_entropy", speech["ctc_entropy"]["threshold"])
    assert recommended("speech", "daisy") == speech["daisy"]["threshold"]

