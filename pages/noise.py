"""Noise & robustness: exit depth and quality against each noise or corruption level,
from the profiles of the model's noisy test sets (its registry entry says which)."""

import pandas as pd
import streamlit as st

from explorer import plots, robustness, zoo
from pages import choice, common


@st.cache_resource(show_spinner=False)
def noisy_profiles(name: str):
    bar = st.progress(0.0, "Loading the noisy test sets…")
    out = robustness.load_all(name, lambda f, what: bar.progress(min(f, 1.0), what))
    bar.empty()
    return out


@st.cache_resource(show_spinner="Every criterion at its recommended threshold…")
def every_criterion(name: str):
    """Each causal criterion at its own recommended threshold (calibration split)."""
    return robustness.table(noisy_profiles(name), {c: common.default_threshold_for(name, c)
                                                  for c in common.causal_criteria(name)})


@st.fragment
def explore(name: str, crit: str) -> None:
    """Everything the threshold and the noise pickers move: re-runs alone."""
    ax, prof, q = robustness.axis(name), common.test_profile(name), zoo.get(name).quality
    thr = choice.threshold_widget(name, crit)
    df = robustness.table(noisy_profiles(name), {crit: thr})
    lines = pd.concat([df, robustness.mean_over_kinds(df)])  # each kind and their mean
    c1, c2 = st.columns(2)
    c1.plotly_chart(plots.noise_curves(lines, "mean_exit", "kind", ax.label, "mean exit",
                                       title=f"Mean exit against noise: {crit} at τ = {thr:.4g}"))
    c2.plotly_chart(plots.noise_curves(lines, q.column, "kind", ax.label, q.label, dashed="full_depth",
                                       title=f"{q.label} against noise, early exit and the full model"))

    st.subheader("Every criterion, each at its recommended threshold")
    kind = choice.linked_select("Noise kind", ["mean of all", *ax.kinds], "noise")
    table = every_criterion(name)
    table = robustness.mean_over_kinds(table) if kind == "mean of all" else table[table.kind == kind]
    st.caption("Thresholds: " + ", ".join(f"{c} τ = {t:.4g}" for c, t in
                                          table.groupby("criterion", sort=False).threshold.first().items())
               + ". Adaptive criteria go deeper as noise grows; budget and static truncation cannot.")
    e1, e2 = st.columns(2)
    e1.plotly_chart(plots.noise_curves(table, "mean_exit", "criterion", ax.label, "mean exit",
                                       title=f"Mean exit against noise ({kind}), every criterion"))
    e2.plotly_chart(plots.noise_curves(table, q.column, "criterion", ax.label, q.label,
                                       title=f"{q.label} against noise ({kind}), every criterion"))

    st.subheader("Where inputs leave: clean against noisy")
    d1, d2 = st.columns(2)
    noisy_kind = choice.linked_select("Noise kind to compare", list(ax.kinds), "dist_kind", where=d1)
    level = choice.linked_select(ax.label, [str(v) for v in ax.levels[1:]], "level", str(ax.levels[-1]), d2,
                                 widget="select_slider")
    rows = df[df.kind == noisy_kind].set_index("level")
    clean = str(ax.levels[0])
    exit_cols = [f"exit_{j}" for j in range(prof.k)]
    st.plotly_chart(plots.exit_distributions({
        f"clean (mean exit {rows.loc[clean, 'mean_exit'] + 1:.2f})": rows.loc[clean, exit_cols],
        f"{noisy_kind} at {level} (mean exit {rows.loc[level, 'mean_exit'] + 1:.2f})": rows.loc[level, exit_cols],
    }, prof.meta["exit_names"]))
    st.caption("Exits are counted from 1 (exit 1 is the first).")


st.title("Noise & robustness: does exit depth follow difficulty?")
c1, c2 = st.columns(2)
name = choice.model_select("noise", c1)
st.caption(f"{zoo.get(name).title}: {robustness.axis(name).note}. A well-behaved early-exit model spends more "
           "layers on harder inputs.")
crit = choice.criterion_select(name, common.causal_criteria(name), c2)
noisy_profiles(name)
explore(name, crit)
