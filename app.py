"""Early-Exit Explorer: the router. Pages live in pages/ and only draw (pages/common.py
holds what they share and is not a page)."""

import streamlit as st

from pages.common import remember_link

st.set_page_config(page_title="Early-Exit Explorer", page_icon="⏩", layout="wide")
remember_link()  # a shared link's model, criterion and threshold, whichever page it opens
st.navigation([
    st.Page("pages/overview.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/live_image.py", title="Live: image", icon="🔢"),
    st.Page("pages/live_speech.py", title="Live: speech", icon="🎙️"),
    st.Page("pages/tradeoffs.py", title="Tradeoffs", icon="⚖️"),
    st.Page("pages/noise.py", title="Noise & robustness", icon="🌫️"),
    st.Page("pages/model.py", title="Model", icon="🧱"),
]).run()
