import streamlit as st

from explorer.report import load_report
from pages import common  # noqa: F401  (every page goes through the router)

st.title("Early-Exit Explorer")
st.markdown(
    "Early-exit networks put small **exit heads** after intermediate layers and stop computing "
    "as soon as an input is answered confidently: easy, clean inputs leave early, hard or noisy "
    "ones go deep. This explorer runs early-exit models **for real** (computation stops at the "
    "exit) and lets you move the exit threshold to see what it costs and what it saves."
)

image, speech = load_report("image"), load_report("speech")
c1, c2 = st.columns(2)
with c1:
    st.subheader("🔢 Digits (MNIST)")
    st.caption("A 6-exit ResNet-style CNN trained here on MNIST, with per-exit heads and a FreeML shared exit.")
    if image:
        rec = image["recommended"]
        st.metric("Accuracy, full depth (test)", f"{image['final_accuracy']:.2%}")
        st.metric(f"Measured speedup at the recommended threshold ({rec['criterion']})",
                  f"{rec['measured_speedup_b1']:.2f}×", f"{-rec['accuracy_drop_pt']:.2f} accuracy points",
                  delta_color="off")
    st.page_link("pages/live_image.py", label="Try a digit", icon="➡️")
with c2:
    st.subheader("🎙️ Spoken digits")
    st.caption("A 6-layer HuBERT-style encoder trained here on synthesized voices: CTC exit branches "
               "(HuBERT-EE) and self-supervised DAISY exits.")
    if speech:
        rec = speech["recommended"]["ctc_entropy"]
        st.metric("WER, full depth (unseen voices of the training engines)", f"{speech['final_wer']:.2%}")
        st.metric("Measured speedup at the recommended CTC-entropy threshold",
                  f"{rec['measured_speedup_b1']:.2f}×", f"+{rec['wer_increase_pt']:.2f} WER points",
                  delta_color="off")
    st.page_link("pages/live_speech.py", label="Try a recording", icon="➡️")
st.divider()
l1, l2, l3 = st.columns(3)
l1.page_link("pages/tradeoffs.py", label="Every criterion's accuracy–cost curve and the recommended threshold",
             icon="⚖️")
l2.page_link("pages/noise.py", label="How exit depth follows noise and corruptions", icon="🌫️")
l3.page_link("pages/model.py", label="The model part by part, and the real-exit benchmark", icon="🧱")
