"""The engine on a built-in model: tradeoff curves and one real early-exit run."""

import streamlit as st

from explorer import criteria, plots, tradeoff, zoo
from explorer.engine import run_with_exits


@st.cache_resource(show_spinner="Loading the model…")
def load_model(name: str):
    return zoo.model(name)


@st.cache_resource(show_spinner=False)
def load_profile(name: str, split: str):
    bar = st.progress(0.0, "Profiling every exit once…")
    prof = zoo.profile(name, split, lambda f, what: bar.progress(min(f, 1.0), what))
    bar.empty()
    return prof


@st.cache_resource(show_spinner=False)
def test_inputs(name: str):
    return zoo.get(name).data("test")


@st.cache_data(show_spinner=False)
def sweep_all(name: str):
    return tradeoff.sweep_all(load_profile(name, "test"))


st.title("Engine: real exits, every criterion")
name = st.selectbox("Model", ["image", "image-shared", "toy"], format_func=lambda n: zoo.get(n).title)
if name == "toy":
    st.caption("The toy model trains once on first use (about a minute).")
model = load_model(name)
prof = load_profile(name, "test")
names = [c.name for c in criteria.applicable(prof.cols) if c.causal]
crit = criteria.get(st.selectbox("Exit criterion", names, index=names.index("entropy"),
                                 format_func=lambda n: f"{n}: {criteria.get(n).label}"))
everything = sweep_all(name)
grid = everything[everything.criterion == crit.name].threshold
lo, hi = float(grid.min()), float(grid.max())
default = min(max(crit.default, lo), hi)
threshold = st.slider("Threshold τ", lo, hi, default, (hi - lo) / 200 or 1.0, format="%.4g")

point = tradeoff.evaluate(prof, crit, threshold)
point["accuracy"] = 1 - point["error_rate"]
c1, c2, c3 = st.columns(3)
c1.metric("Accuracy (test)", f"{point['accuracy']:.2%}")
c2.metric("Mean exit", f"{point['mean_exit'] + 1:.2f} of {prof.k}")
c3.metric("MAC speedup", f"{point['mac_speedup']:.2f}×")
cost = st.radio("Cost axis", list(plots.COST_AXES), format_func=plots.COST_AXES.get, horizontal=True)
st.plotly_chart(plots.tradeoff(everything, cost, point, tradeoff.pareto(everything, cost)))

st.subheader("One test input, really exiting")
i = st.number_input("Test input #", 0, prof.n - 1, 0)
inputs, targets = test_inputs(name)
result = run_with_exits(model, inputs[i][None], crit, threshold, prof.path(crit))
k = int(result.exit[0])
st.markdown(f"**Exit {k + 1} of {prof.k}** ({prof.meta['exit_names'][k]}): answer **{result.pred[0]}** "
            f"(true {targets[i]}), {prof.path(crit)[k] / prof.full():.0%} of the full model's MACs, "
            f"{result.seconds * 1e3:.2f} ms.")
score_col = next((c for c in crit.reads if c != "pred"), None)
if score_col:
    st.plotly_chart(plots.per_exit(result.scores[score_col][0][: k + 1], prof.meta["exit_names"],
                                   threshold, k, score_col))
