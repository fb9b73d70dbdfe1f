"""One numbering and one unit per quantity, everywhere a person reads it (issue 26, items 6
and 8): exits counted from 1, speedups labelled by their unit, quality in percent, and no
delta that is not a real change."""

import io
import json
import re

import numpy as np
import pandas as pd
import pytest
from conftest import needs_image, needs_speech

from explorer import cached, criteria, plots, robustness, tradeoff, zoo
from ui import metric

PAGES = ["overview", "tradeoffs", "noise", "model", "energy", "live_image", "live_speech", "add_model"]


def missing_unit(label: str, value: str) -> str:
    """What a metric's label and value fail to say about its unit ("" when nothing)."""
    text = f"{label} {value}"
    if "×" in value and not re.search(r"by MACs|measured \(ms\)|fewer MACs", text):
        return "a speedup not labelled by MACs or measured (ms)"
    if "%" in value and not re.search(r"accuracy|WER|share|right", text, re.I):
        return "a percentage without what it is a percentage of"
    if re.fullmatch(r"[\d,]*\.\d+", value.strip()) and not re.search(r"\bms\b|MACs|KB|mJ|exit", text):
        return "a decimal number without a unit"
    return ""


def shown_metrics(at) -> list[tuple[str, str]]:
    """Every metric a page shows: Streamlit's, and the threshold explorer's at the position drawn."""
    out = [(m.label, str(m.value)) for m in at.metric]
    for element in at.get("component_instance"):
        args = json.loads(element.proto.json_args)
        view = args.get("view")
        if view:
            out += [(m["label"], m["values"][view["start"]]) for m in view["metrics"]]
    return out


def test_the_unit_check_catches_what_the_issue_found():
    assert missing_unit("Measured speedup", "5.42×")  # Live, before
    assert missing_unit("Batch 1: realized speedup", "5.00×")  # the Model page, before
    assert not missing_unit("Speedup by MACs (ideal)", "5.19×")
    assert not missing_unit("Speedup measured (ms), this batch", "5.42×")
    assert missing_unit("Peak", "0.35")
    assert not missing_unit("ms, full model (batch 1)", "0.35")


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES)
def test_no_metric_on_any_page_lacks_its_unit(open_page, page):
    at = open_page(page)
    shown = shown_metrics(at)
    bad = {label: (value, why) for label, value in shown if (why := missing_unit(label, value))}
    assert not bad, bad
    if page == "tradeoffs":
        labels = [label for label, _ in shown]
        assert "Speedup by MACs (ideal)" in labels and "Speedup measured (ms)" in labels


@needs_image
def test_the_sweep_csv_counts_exits_from_1_as_the_page_does():
    """The sweep CSV's mean_exit was 0-based: 0.05 where the page shows 1.05."""
    prof = zoo.profile("image", zoo.get("image").test_split)
    csv = pd.read_csv(io.BytesIO(cached.sweep_csv(prof)))
    inner = cached.sweep_all(prof)
    assert np.allclose(csv["mean_exit"], inner["mean_exit"] + 1)
    assert csv["mean_exit"].min() >= 1 and csv["mean_exit"].max() <= prof.k
    assert [f"exit_{j}" for j in range(1, prof.k + 1)] == [c for c in csv.columns if c.startswith("exit_")]
    first = csv[(csv.criterion == "static") & (csv.threshold == 1)]
    assert first["exit_1"].iloc[0] == 1.0 and first["mean_exit"].iloc[0] == 1.0  # static τ = 1: exit 1


@needs_image
@pytest.mark.parametrize("tau", [1, 2, 3])
def test_static_tau_is_the_exit_it_is_plotted_at(tau):
    """The Noise page listed "static τ = 2" but plotted it at mean exit 3."""
    profiles = robustness.load_all("image")
    df = robustness.table(profiles, {"static": tau})
    shown = plots.as_shown(df["mean_exit"], "mean_exit")
    assert (shown == tau).all()
    prof = zoo.profile("image", zoo.get("image").test_split)
    assert (prof.exits(criteria.get("static"), tau) == tau - 1).all()  # index tau - 1: exit tau
    assert tradeoff.threshold_label("static") == "Threshold τ (the exit, 1 = first)"


@pytest.mark.slow
@needs_speech
def test_the_noise_page_lists_static_at_the_exit_it_plots_and_wer_in_percent(open_page):
    at = open_page("noise", model="speech")
    caption = next(c.value for c in at.caption if "Thresholds:" in c.value)
    tau = float(re.search(r"static τ = ([\d.]+)", caption).group(1))
    table = next(d.value for d in at.dataframe if "set" in d.value.columns)
    static = table[table.criterion == "static"]
    assert (static["mean exit (1 = first)"] == tau).all()
    full = static["WER, full model (%)"].iloc[0]
    prof = zoo.profile("speech", zoo.get("speech").test_split)
    assert full == pytest.approx(100 * prof.quality(prof.exit_error(-1)), abs=0.005)  # 1.46, not 0.0146
    assert all(c.endswith("(%)") for c in table.columns if "WER" in c)


def test_a_delta_is_a_real_change_or_none():
    """'↑ ± 0.0 KB' and '↑ first exit 3.73 mJ' were deltas that meant nothing."""
    assert metric.delta(0.001, "points") == {"delta": None}
    assert metric.delta(0, "inputs", digits=0) == {"delta": None}
    assert metric.delta(-0.5, "accuracy points") == {"delta": "-0.50 accuracy points", "delta_color": "normal"}
    assert metric.delta(0.5, "WER points", higher_is_better=False)["delta_color"] == "inverse"


@pytest.mark.slow
@pytest.mark.parametrize("page", ["overview", "model", "energy"])
def test_every_delta_shown_is_signed_and_coloured_by_better_or_worse(open_page, page):
    at = open_page(page)
    for m in at.metric:
        delta = m.proto.delta
        if delta:
            assert re.match(r"[+-]\d", delta), (m.label, delta)  # a signed change, not a note
            assert not re.match(r"[+-]0(\.0*)?( |$)", delta), (m.label, delta)  # not "+0.00"
            assert m.proto.color != m.proto.GRAY, (m.label, delta)  # its colour says better or worse


@pytest.mark.slow
@needs_image
def test_the_freeml_table_shows_every_header_whole(open_page):
    """The Model page's FreeML table was a data grid that cut its headers ("accurac")."""
    at = open_page("model")
    table = next(t for t in at.table if "accuracy, first exit" in t.value.columns)
    assert {"accuracy, first exit", "accuracy, last exit", "share of backbone MACs"} <= set(table.value.columns)
    assert not [d for d in at.dataframe if "accuracy, first exit" in d.value.columns]
