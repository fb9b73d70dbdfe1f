"""Noise & robustness: exit depth and quality against each noise or corruption level,
from the profiles of the model's noisy test sets (its registry entry says which)."""

from __future__ import annotations

import streamlit as st

from ui.frame import LOADING, page_frame

page_frame()  # the app's frame, also when Streamlit runs this page without the router
st.title("Noise & robustness: does exit depth follow difficulty?")  # drawn first: see ui.frame.LOADING
with st.spinner(LOADING):
    from explorer import cached, plots, robustness, zoo
    from explorer.threshold_view import ThresholdView
    from ui import choice, common


def noisy_profiles(name: str):
    return common.work(robustness.load_all, name)


def every_criterion(name: str):
    """Each causal criterion at its own recommended threshold (calibration split)."""
    return common.work(cached.every_criterion, noisy_profiles(name),
                       {c: common.default_threshold_for(name, c) for c in common.causal_criteria(name)})


def threshold_view(name: str, crit: str, kind: str, level: str, thr: float) -> ThresholdView:
    """Everything the threshold moves, at every slider position (and at τ where it falls
    between two of them); the browser looks it up while the slider moves."""
    test = common.test_profile(name)
    return common.work(cached.noise_view, noisy_profiles(name), robustness.axis(name), test, crit, kind, level,
                       zoo.get(name).quality, cached.pinned((test,), crit, thr))


@st.fragment
def explore(name: str, crit: str) -> None:
    """Everything the threshold and the noise pickers move: re-runs alone, and only when the
    slider is let go (the browser moves the figures meanwhile)."""
    ax, q = robustness.axis(name), zoo.get(name).quality
    d1, d2 = st.columns(2)  # which noisy set "where inputs leave" compares with the clean one
    noisy_kind = choice.linked_select("Noise kind to compare", list(ax.kinds), "dist_kind", where=d1,
                                      help="Where inputs leave, below the curves: clean against this noise.")
    level = choice.linked_select(ax.label, [str(v) for v in ax.levels[1:]], "level", str(ax.levels[-1]), d2,
                                 widget="select_slider")
    def view_at(t: float) -> ThresholdView:
        return threshold_view(name, crit, noisy_kind, level, t)

    thr = choice.threshold_explorer(name, crit, view_at)
    common.figure_downloads(view_at(thr), thr, "noise")

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


c1, c2 = st.columns(2)
name = choice.model_select("noise", c1)
st.caption(f"{zoo.get(name).title}: {robustness.axis(name).note}. A well-behaved early-exit model spends more "
           "layers on harder inputs.")
crit = choice.criterion_select(name, common.causal_criteria(name), c2)
noisy_profiles(name)
explore(name, crit)
if zoo.get(name).extra_tests:  # other held-out sets (speech: unseen voices, no digits, carrier phrases)
    st.subheader("The other held-out sets: where inputs leave")
    st.caption("Each causal criterion at its recommended threshold. Inputs a model finds hard should go deeper.")
    st.dataframe(robustness.held_out_table(name, {c: common.default_threshold_for(name, c)
                                                  for c in common.causal_criteria(name)}), hide_index=True)
