"""Energy: anytime inference on a batteryless device. A harvested-power trace charges a
capacitor; each input's budget is the energy stored when it arrives, and the budget
criterion decides how deep it goes. Computed from the model's profile: instant."""

import streamlit as st

from ui.frame import LOADING, page_frame

page_frame()  # the app's frame, also when Streamlit runs this page without the router

st.title("Energy: anytime inference under harvested power")  # drawn first: see ui.frame.LOADING
st.caption("FreeML's batteryless setting. Inputs arrive at a fixed period; each may spend the energy stored when "
           "it arrives. Early exit takes the deepest exit that fits (the budget criterion); the plain model runs "
           "only when the whole network fits and misses the input otherwise. Only MACs cost energy; inference is "
           "instantaneous next to the input period.")
with st.spinner(LOADING):
    from explorer import energy, energy_plots
    from ui import choice, common, metric

name = choice.model_select("energy")
prof = common.test_profile(name)

c1, c2, c3 = st.columns(3)
shape = c1.selectbox("Power trace", energy.SHAPES, index=energy.SHAPES.index("intermittent"), key="w.energy.shape")
mean_mw = c1.slider("mean harvested power (mW)", 0.1, 20.0, 2.0, 0.1, key="w.energy.mean")
seconds = c1.slider("length of the run (s)", 60, 3600, 600, 60, key="w.energy.seconds")
nj = c2.slider("energy per MAC (nJ)", 0.05, 10.0, 1.0, 0.05, key="w.energy.nj")
cap = c2.slider("capacitor (mJ)", 1.0, 200.0, 25.0, 1.0, key="w.energy.cap")
period = c2.slider("seconds between inputs", 0.5, 60.0, 5.0, 0.5, key="w.energy.period")
knobs = {k.field: c3.slider(k.label, k.low, k.high, float(getattr(energy.TraceConfig(), k.field)), k.step,
                            key=f"w.energy.{k.field}") for k in energy.SHAPE_KNOBS[shape]}
seed = c3.number_input("seed", 0, 10_000, 0, key="w.energy.seed")

try:
    trace = energy.power_trace(energy.TraceConfig(shape=shape, seconds=seconds, mean_mw=mean_mw, seed=int(seed),
                                                  **knobs))
    run = energy.simulate(prof, trace, energy.EnergySettings(nj_per_mac=nj, capacitor_mj=cap, period_s=period))
except ValueError as err:
    st.error(str(err))
    st.stop()

s = run.summary
m1, m2, m3 = st.columns(3)
m1.metric("answered right, early exit", f"{s.early_correct} / {s.arrivals}",
          **metric.delta(s.early_correct - s.full_correct, "inputs vs the full model", digits=0))
m2.metric("answered right, full model only", f"{s.full_correct} / {s.arrivals}")
m3.metric("energy per input: full model / first exit",
          f"{run.full_macs * nj * 1e-6:.2f} / {run.costs_macs[0] * nj * 1e-6:.2f} mJ")
st.plotly_chart(energy_plots.trace_figure(run))
e1, e2 = st.columns([2, 1])
e1.markdown("**Exit reached by each input over time**")
e1.plotly_chart(energy_plots.exits_figure(run, prof.meta.exit_names))
e2.markdown("**Outcome of every arriving input**")
e2.plotly_chart(energy_plots.outcome_figure(run))
