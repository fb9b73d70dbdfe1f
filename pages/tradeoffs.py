"""Tradeoffs: every criterion's quality against cost, the threshold and where it is
recommended, and one test input really exiting at it."""

import streamlit as st

from explorer import criteria, plots, tradeoff, zoo
from explorer import threshold_view as threshold_views
from explorer.engine import run_with_exits
from explorer.report import exits_table
from explorer.threshold_view import ThresholdView
from explorer.thresholds import default_eps_pt
from pages import common
from pages.components.threshold_explorer import threshold_explorer

MODELS = ["image", "image-shared", "speech", "toy"]


@st.cache_resource(show_spinner="Loading the test inputs…")
def test_inputs(name: str):
    return zoo.get(name).data(zoo.get(name).test_split)


@st.cache_resource(show_spinner=False)
def sweep_csv(name: str) -> bytes:
    return common.sweep_all(name).to_csv(index=False).encode()


@st.cache_resource(show_spinner=False)
def per_exit_rows(name: str) -> list[dict]:
    return exits_table(common.test_profile(name))


@st.cache_resource(show_spinner="Finding the recommended thresholds on the calibration split…")
def recommendations(name: str, crit: str, eps_pt: float, delta: float):
    calib, test, c = common.calib_profile(name), common.test_profile(name), criteria.get(crit)
    return tradeoff.recommend(calib, test, c, eps_pt), tradeoff.recommend_ltt(calib, test, c, eps_pt / 100, delta)


def recommendation_ui(name: str, crit: str, col: str, words: str) -> None:
    st.subheader("Recommended threshold")
    unit = "accuracy points lost" if col == "accuracy" else "WER points added"
    e1, e2 = st.columns(2)
    eps = e1.number_input(f"Target ε ({unit} at most, vs the full model)", 0.0, 100.0,
                          default_eps_pt(name), 0.05, format="%.2f", key=f"w.eps.{name}")
    delta = e2.number_input("Confidence δ (the LTT guarantee fails with probability at most δ)", 0.01, 0.5, 0.1,
                            0.01, key=f"w.delta.{name}")
    rec, ltt = recommendations(name, crit, float(eps), float(delta))
    calib_n = common.calib_profile(name).n

    def on_test(r) -> str:
        q = r.test["error_rate"]
        q = 1 - q if col == "accuracy" else q
        return (f"on the test split: {words} {q:.2%} ({r.test['drop_pt']:.2f} {unit}), "
                f"{r.test['mac_speedup']:.2f}× fewer MACs, mean exit {r.test['mean_exit'] + 1:.2f}")

    r1, r2 = st.columns(2)
    r1.markdown(f"**Empirical: τ = {rec.threshold:.4g}** — the cheapest threshold within ε on the "
                f"{calib_n} calibration inputs ({rec.calibration['drop_pt']:.2f} {unit} there); {on_test(rec)}.")
    r1.button("Apply", key="w.apply", on_click=common.set_threshold, args=(name, crit, rec.threshold),
              help="Move the threshold slider to the recommended threshold.")
    r2.markdown(f"**Learn-then-Test: τ = {ltt.threshold:.4g}** — with probability ≥ {1 - delta:.0%}, the early "
                f"answer differs from the full model's on at most {eps:.2f}% of inputs "
                f"({ltt.calibration['disagreement']:.2%} on calibration); {on_test(ltt)}.")
    r2.button("Apply the LTT threshold", key="w.apply_ltt", on_click=common.set_threshold,
              args=(name, crit, ltt.threshold))


def one_input_ui(name: str, crit: str, thr: float) -> None:
    st.subheader("One test input, really exiting")
    prof, model, c = common.test_profile(name), common.load_model(name), criteria.get(crit)
    i = int(st.number_input("Test input #", 0, prof.n - 1, 0, key=f"w.input.{name}"))
    inputs, targets = test_inputs(name)
    x, lengths = model.collate([inputs[i]])
    result = run_with_exits(model, x, c, thr, prof.path(c), lengths)
    k = int(result.exit[0])
    st.markdown(f"**Exit {k + 1} of {prof.k}** ({prof.meta['exit_names'][k]}): answer "
                f"**{model.describe(result.pred[0])}** (true {targets[i]}), "
                f"{prof.path(c)[k] / prof.full():.0%} of the full model's MACs, {result.seconds * 1e3:.2f} ms.")
    score_col = c.score_column
    if score_col:
        st.plotly_chart(plots.per_exit(result.scores[score_col][0][: k + 1], prof.meta["exit_names"],
                                       thr, k, score_col))


@st.cache_resource(show_spinner=False, max_entries=64)
def threshold_view(name: str, crit: str, cost: str, pinned: float | None) -> ThresholdView:
    """Everything the threshold moves, at every slider position (and at `pinned`, a
    threshold between two of them); the browser looks it up while the slider moves."""
    prof = common.test_profile(name)
    return threshold_views.tradeoff_view(prof, criteria.get(crit), common.sweep_all(name), cost, per_exit_rows(name),
                                         pinned)


@st.fragment
def explore(name: str, crit: str) -> None:
    """Everything that only the threshold and the cost axis move: re-runs alone, and only
    when the slider is let go (the browser moves the figures meanwhile)."""
    prof = common.test_profile(name)
    col, words = prof.quality_name
    cost = st.radio("Cost axis", list(plots.COST_AXES), index=1, format_func=plots.COST_AXES.get,
                    horizontal=True, key="w.cost")
    c = criteria.get(crit)
    thr = threshold_explorer(
        lambda t: threshold_view(name, crit, cost, threshold_views.pinned(prof, c, t)),
        common.current_threshold(name, crit), key=f"w.explorer.{name}.{crit}")
    common._chosen(name, crit, thr)  # the shared choice and the link hold the threshold shown
    recommendation_ui(name, crit, col, words)
    one_input_ui(name, crit, thr)


st.title("Tradeoffs: what each criterion and threshold costs and saves")
c1, c2 = st.columns(2)
name = common.model_select(MODELS, c1)
crit = common.criterion_select(name, common.causal_criteria(name), c2)
common.sweep_all(name)
st.download_button("Download the sweep as CSV (every criterion × threshold on the test split)",
                   sweep_csv(name), f"sweep-{name}.csv", "text/csv", on_click="ignore")
explore(name, crit)
