"""Early-Exit Explorer: the router. Pages live in pages/ and only draw (pages/choice.py
and pages/common.py hold what they share and are not pages).

Start it with `python app.py` (what `make run` does; any `streamlit run` option may
follow, e.g. `python app.py --server.port 8502`). That is `streamlit run app.py` with
one difference, made in `_serve` below and nowhere else: Streamlit's legacy mode for a
folder named pages/ is switched off before the server starts. In that mode the first
request of a fresh server runs without this router: the navigation lists the raw file
names (app, choice, common, live image, ...) and a shared link opens its page alone.
`streamlit run app.py` still works, but its very first request goes through that mode.

`python app.py --allow-server-paths` lets the Add-a-model page read folders on this
machine although the server can be reached from the network (explorer/server_paths.py);
a server bound to localhost reads them without it.
"""

import os
import sys

import streamlit as st


def _serve() -> None:
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.web import cli

    from explorer.server_paths import ENV, FLAG

    PagesManager.uses_pages_directory = False  # read when the first session starts: the router serves it
    if FLAG in sys.argv:  # ours, not Streamlit's: said to the pages through the environment
        os.environ[ENV] = "1"
    sys.argv = ["streamlit", "run", __file__, *(a for a in sys.argv[1:] if a != FLAG)]
    sys.exit(cli.main())


if __name__ == "__main__" and not st.runtime.exists():  # `python app.py`, not a script run by the server
    _serve()

from explorer import setup  # noqa: E402  (light: no torch, no model)

setup.install()  # every model joins the registry before a page names one
st.set_page_config(page_title="Early-Exit Explorer", page_icon="⏩", layout="wide")
page = st.navigation([  # first, before anything slow: the navigation is the first thing drawn
    st.Page("pages/overview.py", title="Overview", icon="🏠", default=True),
    st.Page("pages/live_image.py", title="Live: image", icon="🔢"),
    st.Page("pages/live_speech.py", title="Live: speech", icon="🎙️"),
    st.Page("pages/tradeoffs.py", title="Tradeoffs", icon="⚖️"),
    st.Page("pages/noise.py", title="Noise & robustness", icon="🌫️"),
    st.Page("pages/model.py", title="Model", icon="🧱"),
    st.Page("pages/energy.py", title="Energy", icon="🔋"),
    st.Page("pages/add_model.py", title="Add a model", icon="➕"),
])
from pages.choice import remember_link  # noqa: E402  (light: no torch, no model)

remember_link()  # a shared link's settings, whichever page it opens
page.run()
