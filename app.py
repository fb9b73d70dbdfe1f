"""Early-Exit Explorer: the router. The pages live in pages/ and only draw; what they
share lives in ui/. The pages, their titles and the frame every page draws (settings,
sidebar links) are in ui/frame.py: a folder named pages/ beside this script makes
Streamlit's first request of a fresh server run a deep-linked page without this router,
so each page draws the frame itself too (once: `framed()` tells it the router did).
The navigation is ours (st.page_link in the sidebar); Streamlit's own is hidden, here
and in .streamlit/config.toml (client.showSidebarNavigation), so no raw file name shows.

Start it with `streamlit run app.py` or `python app.py` (what `make run` does), the same
app either way; any `streamlit run` option may follow, e.g. `python app.py --server.port 8502`.

`python app.py --allow-server-paths` lets the Add-a-model page read folders on this
machine although the server can be reached from the network (explorer/server_paths.py);
a server bound to localhost reads them without it.
"""

import os
import sys
import threading

import streamlit as st


def _serve() -> None:
    from streamlit.web import cli

    from explorer.server_paths import ENV, FLAG

    if FLAG in sys.argv:  # ours, not Streamlit's: said to the pages through the environment
        os.environ[ENV] = "1"
    from explorer.setup import warm_up

    threading.Thread(target=warm_up, name="warm-up", daemon=True).start()  # first visits find it loaded
    sys.argv = ["streamlit", "run", __file__, *(a for a in sys.argv[1:] if a != FLAG)]
    sys.exit(cli.main())


if __name__ == "__main__" and not st.runtime.exists():  # `python app.py`, not a script run by the server
    _serve()

from explorer.compute import step  # noqa: E402  (light: no torch)
from ui.frame import framed, router_pages  # noqa: E402  (light: no torch, no model)

page = st.navigation(router_pages(), position="hidden")  # our own navigation is drawn by the frame
with framed(), step(f"running the page script: {page.title}"):  # frame: settings, sidebar, a shared link's
    page.run()
