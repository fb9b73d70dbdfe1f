"""Overview: what the explorer is and each headline model's figures, from the shipped
reports only (no torch, no model: this page is drawn whole at once, title first)."""

import streamlit as st

from explorer import imported, zoo
from explorer.shipped import headline
from explorer.speedup import DEFINITION
from ui import metric
from ui.frame import page_frame

page_frame()  # the app's frame, also when Streamlit runs this page without the router

LIVE = {"live_image": ("pages/live_image.py", "Try a digit"), "live_speech": ("pages/live_speech.py",
                                                                            "Try a recording")}

st.title("Early-Exit Explorer")
st.markdown(
    "Early-exit networks put small **exit heads** after intermediate layers and stop computing "
    "as soon as an input is answered confidently: easy, clean inputs leave early, hard or noisy "
    "ones go deep. This explorer runs early-exit models **for real** (computation stops at the "
    "exit) and lets you move the exit threshold to see what it costs and what it saves."
)


def card(name: str) -> None:
    """One model's card: its full-depth quality and the measured speedup at its
    recommended threshold, as its shipped report gives them."""
    entry, fig = zoo.get(name), headline(name)
    st.subheader(entry.title)
    st.caption(entry.summary)
    if fig:
        q = entry.quality
        st.metric(f"{q.label}, full depth (test set)", f"{fig.full_quality:.2%}")
        st.metric("Speedup measured (ms), batch 1, recommended τ",
                  "noisy" if fig.noisy else f"{fig.measured_speedup_b1:.2f}×",
                  **metric.delta(q.change_pt(fig.drop_pt), f"{q.label} points", q.higher_is_better),
                  help=f"Criterion {fig.criterion} at its recommended threshold. {DEFINITION} By MACs (ideal) here: "
                       f"{fig.ideal_speedup:.2f}×." +
                       (f" Not shown: {fig.noisy}." if fig.noisy else ""))
        if fig.shift and fig.shift.shifted:
            shift_card(fig.shift)
    for page in sorted(entry.pages & set(LIVE)):
        st.page_link(LIVE[page][0], label=LIVE[page][1], icon="➡️")


def shift_card(s) -> None:
    """The recommended threshold on the clean test set and every held-out shifted set."""
    st.markdown(f"**Under distribution shift** (τ = {s.threshold:.4g}, chosen on clean data): {s.columns()}.")
    st.table(s.rows())  # every column in view: headers wrap in a half-width card
    st.markdown(s.worst_sentence())
    if s.over_eps:
        st.caption(f"Exiting early costs more than ε = {s.eps_pt:g} ({s.q.change_unit}) on "
                   f"{len(s.over_eps)} of {len(s.shifted)} shifted sets; Tradeoffs offers a threshold for each.")


cols = st.columns(len(zoo.names("overview")))
for col, name in zip(cols, zoo.names("overview"), strict=True):
    with col:
        card(name)
mine = [n for n in imported.names() if headline(n)]  # each with its report in the workspace
if mine:
    st.subheader("Imported models")
    for i, name in enumerate(mine):
        if i % 2 == 0:
            cols = st.columns(2)
        with cols[i % 2]:
            card(name)
st.divider()
# one under the other: each link whole, at any width (three columns cut them at 1280 px)
st.page_link("pages/tradeoffs.py", label="Every criterion's accuracy–cost curve and the recommended threshold",
             icon="⚖️")
st.page_link("pages/noise.py", label="How exit depth follows noise and corruptions", icon="🌫️")
st.page_link("pages/model.py", label="The model part by part, and the real-exit benchmark", icon="🧱")
