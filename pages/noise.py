"""Noise & robustness: exit depth and quality against corruption severity (image) or
SNR (speech), from the profiles of the noisy test sets."""

import pandas as pd
import streamlit as st

from explorer import plots, robustness
from pages import common

MODELS = ["image", "speech"]


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
    ax, prof = robustness.axis(name), common.test_profile(name)
    col, words = prof.quality_name
    thr = common.threshold_slider(name, crit)
    df = robustness.table(noisy_profiles(name), {crit: thr})
    lines = pd.concat([df, robustness.mean_over_kinds(df)])  # each kind and their mean
    c1, c2 = st.columns(2)
    c1.markdown(f"**Mean exit against noise: {crit} at τ = {thr:.4g}**")
    c1.plotly_chart(plots.noise_curves(lines, "mean_exit", "kind", ax.label, "mean exit (0 = first)"))
    c2.markdown(f"**{words} against noise** (dotted: the full model)")
    c2.plotly_chart(plots.noise_curves(lines, col, "kind", ax.label, words, dashed="full_depth"))

    st.subheader("Every criterion, each at its recommended threshold")
    kinds = ["mean of all", *ax.kinds]
    kind = st.selectbox("Noise kind", kinds, key=f"w.noise_kind.{name}")
    table = every_criterion(name)
    table = robustness.mean_over_kinds(table) if kind == "mean of all" else table[table.kind == kind]
    st.caption("Thresholds: " + ", ".join(f"{c} τ = {t:.4g}" for c, t in
                                          table.groupby("criterion", sort=False).threshold.first().items())
               + ". Adaptive criteria go deeper as noise grows; budget and static truncation cannot.")
    e1, e2 = st.columns(2)
    e1.plotly_chart(plots.noise_curves(table, "mean_exit", "criterion", ax.label, "mean exit (0 = first)"))
    e2.plotly_chart(plots.noise_curves(table, col, "criterion", ax.label, words))

    st.subheader("Where inputs leave: clean against noisy")
    d1, d2 = st.columns(2)
    noisy_kind = d1.selectbox("Noise kind", ax.kinds, key=f"w.dist_kind.{name}")
    level = d2.select_slider(ax.label, [str(v) for v in ax.levels[1:]], value=str(ax.levels[-1]),
                             key=f"w.dist_level.{name}")
    rows = df[df.kind == noisy_kind].set_index("level")
    exit_cols = [f"exit_{j}" for j in range(prof.k)]
    st.plotly_chart(plots.exit_distributions({
        f"clean (mean exit {rows.loc[str(ax.levels[0]), 'mean_exit']:.2f})": rows.loc[str(ax.levels[0]), exit_cols],
        f"{noisy_kind} at {level} (mean exit {rows.loc[level, 'mean_exit']:.2f})": rows.loc[level, exit_cols],
    }, prof.meta["exit_names"]))


st.title("Noise & robustness: does exit depth follow difficulty?")
st.caption("Image: the first 2,000 test digits under each corruption at severities 1–5. Speech: the test clips "
           "(unseen voices) mixed with white, pink and babble noise at 20 to 0 dB SNR. A well-behaved early-exit "
           "model spends more layers on harder inputs.")
c1, c2 = st.columns(2)
name = common.model_select(MODELS, c1)
crit = common.criterion_select(name, common.causal_criteria(name), c2)
noisy_profiles(name)
explore(name, crit)
