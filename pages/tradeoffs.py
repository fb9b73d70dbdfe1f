"""Tradeoffs: every criterion's quality against cost on a chosen evaluation set (clean,
unseen voices, each noise or corruption level), the threshold and where it is
recommended, and one input of that set really exiting at it."""

import numpy as np
import streamlit as st

from explorer import compare, criteria, plots, tradeoff, variants, zoo
from explorer import threshold_view as threshold_views
from explorer.predict import is_right, predict_input
from explorer.report import exits_table
from explorer.shipped import headline
from explorer.threshold_view import ThresholdView
from explorer.thresholds import default_eps_pt
from pages import choice, common


@st.cache_resource(show_spinner="Loading the evaluation inputs…")
def eval_inputs(name: str, key: str):
    s = zoo.eval_set(name, key)
    return zoo.get(name).data(s.split, **dict(s.variant))


@st.cache_resource(show_spinner=False)
def sweep_csv(name: str, key: str) -> bytes:
    return common.sweep_all(name, key).to_csv(index=False).encode()


@st.cache_resource(show_spinner=False)
def per_exit_rows(name: str, key: str) -> list[dict]:
    return exits_table(common.eval_profile(name, key))


@st.cache_resource(show_spinner=False)
def verdict(name: str, key: str) -> str:
    return tradeoff.adaptive_verdict(common.sweep_all(name, key), common.eval_profile(name, key))


@st.cache_resource(show_spinner="Finding the recommended thresholds on the calibration split…")
def recommendations(name: str, crit: str, eps_pt: float, eps_ltt: float, delta: float):
    calib, test, c = common.calib_profile(name), common.test_profile(name), criteria.get(crit)
    return tradeoff.recommend(calib, test, c, eps_pt), tradeoff.recommend_ltt(calib, test, c, eps_ltt, delta)


def recommendation_ui(name: str, crit: str) -> None:
    st.subheader("Recommended threshold")
    q, calib_n = zoo.get(name).quality, common.calib_profile(name).n
    e1, e2, e3 = st.columns(3)
    eps = e1.number_input(f"ε for the empirical choice: {q.change_unit} at most", 0.0, 100.0,
                          default_eps_pt(name), 0.05, format="%.2f", key=f"w.eps.{name}",
                          help="Quality points against the full model, on the calibration split.")
    eps_ltt = e2.number_input("ε for Learn-then-Test: share of inputs whose answer changes (%)", 0.0, 100.0,
                              1.0, 0.1, format="%.2f", key=f"w.eps_ltt.{name}",
                              help="A share of inputs, not quality points: the early answer may differ from the "
                                   "full model's on at most this share of new inputs.")
    delta = e3.number_input("δ: the LTT guarantee may fail with probability at most δ", 0.01, 0.5, 0.1,
                            0.01, key=f"w.delta.{name}")
    rec, ltt = recommendations(name, crit, float(eps), float(eps_ltt) / 100, float(delta))

    def on_test(r) -> str:
        return (f"on the test split: {q.label} {q.from_error(r.test['error_rate']):.2%} "
                f"({r.test['drop_pt']:.2f} {q.change_unit}), {r.test['mac_speedup']:.2f}× fewer MACs, "
                f"mean exit {r.test['mean_exit'] + 1:.2f} (1 = first)")

    r1, r2 = st.columns(2)
    r1.markdown(f"**Empirical: τ = {rec.threshold:.4g}** — the cheapest threshold within ε = {eps:.2f} "
                f"{q.change_unit} on the {calib_n} calibration inputs ({rec.calibration['drop_pt']:.2f} there); "
                f"{on_test(rec)}. No guarantee on new inputs.")
    r1.button("Apply", key="w.apply", on_click=choice.set_threshold, args=(name, crit, rec.threshold),
              help="Move the threshold to the recommended threshold.")
    smallest = tradeoff.smallest_certifiable_eps(calib_n, float(delta))
    certified = ltt.certified
    r2.markdown(
        f"**Learn-then-Test: τ = {ltt.threshold:.4g}**"
        + (" (never exit early)" if not certified else "")
        + f" — LTT tests thresholds from the safest down and keeps those for which, with probability ≥ "
        f"{1 - delta:.0%} over the draw of the calibration set, the early answer differs from the full model's on "
        f"at most ε = {eps_ltt:.2f}% of new inputs ({ltt.calibration['disagreement']:.2%} on calibration); "
        f"{on_test(ltt)}.")
    r2.caption(f"With {calib_n} calibration inputs and δ = {delta:g}, the smallest ε any threshold can be certified "
               f"at is {smallest:.2%} (and only with no disagreement at all); "
               + ("a smaller ε certifies nothing, so every input runs to the last exit."
                  if not certified else "this ε is above it."))
    r2.button("Apply the LTT threshold", key="w.apply_ltt", on_click=choice.set_threshold,
              args=(name, crit, ltt.threshold))


def one_input_ui(name: str, crit: str, thr: float, key: str) -> None:
    st.subheader("One input of this evaluation set, really exiting")
    prof = common.eval_profile(name, key)
    i = int(st.number_input("Input #", 0, prof.n - 1, 0, key=f"w.input.{name}"))
    inputs, targets = eval_inputs(name, key)
    p = predict_input(name, inputs[i], crit, thr, timed=False)  # a slider move stays fast
    st.markdown(f"**Exit {p.exit_number} of {p.exits_total}** ({p.exit_names[p.exit]}): answer "
                f"{common.answer_line(p.answer, str(targets[i]), is_right(p, targets[i]))}, "
                f"{p.mac_share:.0%} of the full model's MACs. {p.timing_text()}")
    common.cautions(p)
    score_col = criteria.get(crit).score_column
    if score_col:
        st.plotly_chart(plots.per_exit(p.scores[score_col], list(p.exit_names), thr, p.exit, score_col))


def measured_note(name: str, crit: str, thr: float) -> str:
    fig = headline(name)
    if fig and fig.criterion == crit and np.isclose(thr, common.default_threshold_for(name, crit)):
        return (f"Measured at this threshold (shipped report, batch 1): "
                f"{'noisy — ' + fig.noisy if fig.noisy else f'{fig.measured_speedup_b1:.2f}×'}.")
    return "Not measured at this threshold: the Model page times it (Run the benchmark)."


@st.cache_resource(show_spinner="Bootstrap intervals at every threshold…", max_entries=32)
def intervals(name: str, crit: str, key: str, pinned: float | None):
    c = criteria.get(crit)
    return threshold_views.quality_intervals(common.eval_profile(name, key), c, zoo.get(name).quality,
                                             threshold_views.positions(common.test_profile(name), c, pinned))


@st.cache_resource(show_spinner="Every threshold of this criterion on this evaluation set…", max_entries=64)
def threshold_view(name: str, crit: str, key: str, cost: str, log_x: bool, pinned: float | None) -> ThresholdView:
    """Everything the threshold moves on this evaluation set, at every slider position (and
    at `pinned`, a threshold between two of them); the browser looks it up while the slider
    moves."""
    c = criteria.get(crit)
    return threshold_views.tradeoff_view(
        common.eval_profile(name, key), c, common.sweep_all(name, key), cost, per_exit_rows(name, key),
        zoo.get(name).quality, threshold_views.positions(common.test_profile(name), c, pinned), pinned, log_x,
        zoo.eval_set(name, key).label, lambda t: measured_note(name, crit, t), intervals(name, crit, key, pinned))


@st.fragment
def explore(name: str, crit: str, key: str) -> None:
    """Everything that only the threshold and the cost axis move: re-runs alone, and only
    when the slider is let go (the browser moves the figures and metrics meanwhile)."""
    c1, c2 = st.columns([3, 1])
    cost = choice.linked_select("Cost axis", list(plots.COST_AXES), "cost", "mean_macs", c1, widget="radio",
                                format_func=plots.COST_AXES.get, horizontal=True)
    log_x = choice.linked_toggle("Log scale", "log", True, c2,
                                 help="Spread out the cheap end, where most adaptive behaviour sits; drag on the "
                                      "chart to zoom, double-click to reset.")
    test, c = common.test_profile(name), criteria.get(crit)
    thr = choice.threshold_explorer(
        name, crit, lambda t: threshold_view(name, crit, key, cost, log_x, threshold_views.pinned(test, c, t)))
    if verdict(name, key):
        st.info(verdict(name, key))
    recommendation_ui(name, crit)
    one_input_ui(name, crit, thr, key)


def variants_ui(name: str, crit: str) -> None:
    """The model beside its compressed variants (FreeML's other half)."""
    st.subheader("Compressing the backbone against exiting early")
    made = variants.of(name)
    if not made:
        st.info(f"No compressed variant of this model yet. Make one with `python -m explorer compress {name} "
                "--method int8` (or `--method prune --ratio 0.5` for the image model): it then appears here, "
                "and in every model menu.")
        return
    names = [name, *made]
    c1, c2 = st.columns([3, 1])
    cost = choice.linked_select("Cost axis ", list(compare.COSTS), "vcost", "mean_ms", c1, widget="radio",
                                format_func=compare.COSTS.get, horizontal=True)
    log_x = choice.linked_toggle("Log scale ", "vlog", True, c2)
    memory = {n: common.measured_memory(n) for n in names} if cost == "memory_kb" else None
    df = compare.curves({n: common.test_profile(n) for n in names}, criteria.get(crit), memory)
    st.plotly_chart(compare.figure(df, cost, {n: zoo.get(n).title for n in names}, log_x))
    st.caption(f"{criteria.get(crit).label}, every threshold, on each model's own clean test profile. A variant's "
               "curve left of the model's at the same height: compressing beats exiting earlier there; the "
               "variant's curve reaching further left than either: the two add up.")


st.title("Tradeoffs: what each criterion and threshold costs and saves")
c1, c2, c3 = st.columns(3)
name = choice.model_select("tradeoffs", c1)
crit = choice.criterion_select(name, common.causal_criteria(name), c2)
sets = zoo.eval_sets(name)
labels = {s.key: s.label for s in sets}
key = choice.linked_select("Evaluation set", list(labels), "eval", where=c3, format_func=labels.get,
                           help="Thresholds are always chosen on the calibration split; this picks where they "
                                "are judged: the clean test set, unseen voices, or a noise or corruption level, "
                                "where the tradeoffs are real.")
common.sweep_all(name, key)
st.download_button("Download the sweep as CSV (every criterion × threshold on this evaluation set)",
                   sweep_csv(name, key), f"sweep-{name}-{key}.csv", "text/csv", on_click="ignore")
explore(name, crit, key)
variants_ui(name, crit)
