import streamlit as st

st.title("Early-Exit Explorer")
st.markdown(
    "Early-exit networks put small **exit heads** after intermediate layers and stop computing "
    "as soon as an input is answered confidently: easy, clean inputs leave early, hard or noisy "
    "ones go deep. This explorer runs early-exit models **for real** (computation stops at the "
    "exit) and lets you move the exit threshold to see what it costs and what it saves."
)
st.info("The engine page runs the built-in MNIST model (and a toy network) with every exit "
        "criterion: move the threshold and watch accuracy and cost move.")
st.page_link("pages/engine.py", label="Open the engine page", icon="⚙️")
