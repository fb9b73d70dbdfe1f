"""Early-Exit Explorer: the router. Pages live in pages/ and only draw."""

import streamlit as st

st.set_page_config(page_title="Early-Exit Explorer", page_icon="⏩", layout="wide")
st.navigation([
    st.Page("pages/overview.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/live_image.py", title="Live: image", icon="🔢"),
    st.Page("pages/live_speech.py", title="Live: speech", icon="🎙️"),
    st.Page("pages/engine.py", title="Engine", icon="⚙️"),
]).run()
