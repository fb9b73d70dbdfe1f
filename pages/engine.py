"""The engine on the toy model: a tradeoff curve and one real early-exit run."""

import numpy as np
import streamlit as st
import torch

from explorer import criteria, plots, tradeoff, zoo
from explorer.engine import run_with_exits

MODEL = "toy"


@st.cache_resource(show_spinner="Training the toy model (about a minute, once)…")
def load_model():
    return zoo.model(MODEL)


@st.cache_resource(show_spinner=False)
def load_profile(split: str):
    bar = st.progress(0.0, "Profiling every exit once…")
    prof = zoo.profile(MODEL, split, lambda f, what: bar.progress(min(f, 1.0), what))
    bar.empty()
    return prof


@st.cache_data(show_spinner=False)
def sweep(criterion: str):
    return tradeoff.sweep(load_profile("test"), criteria.get(criterion))


st.title("Engine: real exits on a toy model")
st.caption("A multi-exit MLP (8 residual blocks, an exit head after each) on synthetic data: noisy "
           "copies of class prototypes, each input with its own noise level.")
model = load_model()
prof = load_profile("test")
names = [c.name for c in criteria.applicable(prof.cols) if c.causal]
crit = criteria.get(st.selectbox("Exit criterion", names, index=names.index("entropy"),
                                 format_func=lambda n: f"{n}: {criteria.get(n).label}"))
df = sweep(crit.name)
lo, hi = float(df.threshold.min()), float(df.threshold.max())
default = float(np.clip(crit.default, lo, hi)) if np.isfinite(crit.default) else hi
threshold = st.slider("Threshold τ", lo, hi, default, (hi - lo) / 200 or 1.0, format="%.4g")

point = tradeoff.evaluate(prof, crit, threshold)
point["accuracy"] = 1 - point["error_rate"]
c1, c2, c3 = st.columns(3)
c1.metric("Accuracy", f"{point['accuracy']:.1%}")
c2.metric("Mean exit", f"{point['mean_exit'] + 1:.2f} of {prof.k}")
c3.metric("MAC speedup", f"{point['mac_speedup']:.2f}×")
cost = st.radio("Cost axis", list(plots.COST_AXES), format_func=plots.COST_AXES.get, horizontal=True)
everything = tradeoff.sweep_all(prof)
st.plotly_chart(plots.tradeoff(everything, cost, point, tradeoff.pareto(everything, cost)))

st.subheader("One input, really exiting")
i = st.number_input("Test input #", 0, prof.n - 1, 0)
inputs, targets = zoo.get(MODEL).data("test")
result = run_with_exits(model, inputs[i][None], crit, threshold, prof.path(crit))
k = int(result.exit[0])
st.markdown(f"**Exit {k + 1} of {prof.k}** ({prof.meta['exit_names'][k]}): answer **{result.pred[0]}** "
            f"(true class {targets[i]}), {prof.path(crit)[k] / prof.full():.0%} of the full model's MACs, "
            f"{result.seconds * 1e3:.2f} ms.")
if crit.reads and crit.reads[0] in result.scores:
    col = crit.reads[0] if crit.reads[0] != "pred" else None
    if col:
        st.plotly_chart(plots.per_exit(result.scores[col][0][: k + 1], prof.meta["exit_names"], threshold, k, col))
with torch.no_grad():
    pass
