"""Noise & robustness: exit depth and quality against corruption severity (image) or
SNR (speech), from the profiles of the noisy test sets."""

import streamlit as st

from explorer import criteria, plots, robustness
from explorer import threshold_view as threshold_views
from explorer.threshold_view import ThresholdView
from pages import common
from pages.components.threshold_explorer import threshold_explorer

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


@st.cache_resource(show_spinner="Every noisy test set at every threshold…", max_entries=16)
def noise_table(name: str, crit: str, pinned: float | None):
    c = criteria.get(crit)
    return threshold_views.noise_table(noisy_profiles(name), c, threshold_views.positions(common.test_profile(name),
                                                                                          c, pinned))


@st.cache_resource(show_spinner=False, max_entries=32)
def threshold_view(name: str, crit: str, kind: str, level: str, pinned: float | None) -> ThresholdView:
    """Everything the threshold moves, at every slider position (and at `pinned`, a
    threshold between two of them); the browser looks it up while the slider moves."""
    return threshold_views.noise_view(noise_table(name, crit, pinned), robustness.axis(name),
                                      common.test_profile(name), criteria.get(crit), kind, level, pinned)


@st.fragment
def explore(name: str, crit: str) -> None:
    """Everything the threshold and the noise pickers move: re-runs alone, and only when the
    slider is let go (the browser moves the figures meanwhile)."""
    ax, prof, c = robustness.axis(name), common.test_profile(name), criteria.get(crit)
    col, words = prof.quality_name
    d1, d2 = st.columns(2)  # which noisy set "where inputs leave" compares with the clean one
    noisy_kind = d1.selectbox("Noise kind (where inputs leave)", ax.kinds, key=f"w.dist_kind.{name}")
    level = d2.select_slider(ax.label, [str(v) for v in ax.levels[1:]], value=str(ax.levels[-1]),
                             key=f"w.dist_level.{name}")
    thr = threshold_explorer(
        lambda t: threshold_view(name, crit, noisy_kind, level, threshold_views.pinned(prof, c, t)),
        common.current_threshold(name, crit), key=f"w.explorer.{name}.{crit}")
    common._chosen(name, crit, thr)  # the shared choice and the link hold the threshold shown

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


st.title("Noise & robustness: does exit depth follow difficulty?")
st.caption("Image: the first 2,000 test digits under each corruption at severities 1–5. Speech: the test clips "
           "(unseen voices) mixed with white, pink and babble noise at 20 to 0 dB SNR. A well-behaved early-exit "
           "model spends more layers on harder inputs.")
c1, c2 = st.columns(2)
name = common.model_select(MODELS, c1)
crit = common.criterion_select(name, common.causal_criteria(name), c2)
noisy_profiles(name)
explore(name, crit)
