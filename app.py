"""Early-Exit Explorer: the router. The pages live in app_pages/ and only draw; what they
share lives in ui/. No folder here is named pages/: beside the script Streamlit runs, that
name switches on its legacy multipage mode, in which a fresh server's first request lists
every file in it by its raw name (app, choice, common, ...) before this router runs.

Start it with `streamlit run app.py` or `python app.py` (what `make run` does), the same
app either way; any `streamlit run` option may follow, e.g. `python app.py --server.port 8502`.

`python app.py --allow-server-paths` lets the Add-a-model page read folders on this
machine although the server can be reached from the network (explorer/server_paths.py);
a server bound to localhost reads them without it.
"""

import os
import sys

import streamlit as st


def _serve() -> None:
    from streamlit.web import cli

    from explorer.server_paths import ENV, FLAG

    if FLAG in sys.argv:  # ours, not Streamlit's: said to the pages through the environment
        os.environ[ENV] = "1"
    sys.argv = ["streamlit", "run", __file__, *(a for a in sys.argv[1:] if a != FLAG)]
    sys.exit(cli.main())


if __name__ == "__main__" and not st.runtime.exists():  # `python app.py`, not a script run by the server
    _serve()

st.set_page_config(page_title="Early-Exit Explorer", page_icon="⏩", layout="wide")
page = st.navigation([  # first, before anything slow: the navigation is the first thing drawn
    st.Page("app_pages/overview.py", title="Overview", icon="🏠", default=True),
    st.Page("app_pages/live_image.py", title="Live: image", icon="🔢"),
    st.Page("app_pages/live_speech.py", title="Live: speech", icon="🎙️"),
    st.Page("app_pages/tradeoffs.py", title="Tradeoffs", icon="⚖️"),
    st.Page("app_pages/noise.py", title="Noise & robustness", icon="🌫️"),
    st.Page("app_pages/model.py", title="Model", icon="🧱"),
    st.Page("app_pages/energy.py", title="Energy", icon="🔋"),
    st.Page("app_pages/add_model.py", title="Add a model", icon="➕"),
])
from ui.choice import remember_link  # noqa: E402  (light: no torch, no model)

remember_link()  # a shared link's settings, whichever page it opens
page.run()
