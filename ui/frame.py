"""The app's frame: its pages (written once, here), the page settings and the sidebar's
navigation, drawn the same whoever runs a page.

Two runners run a page, both public Streamlit:
- the router, app.py: `st.navigation(router_pages(), position="hidden")`, then the page
  inside `framed()`, which draws the frame first (before any slow import of the page);
- Streamlit's pages mode: a folder named pages/ beside app.py makes a fresh server's first
  request run the page it asks for (e.g. /tradeoffs) alone, without app.py, under a
  navigation of raw file names that `.streamlit/config.toml` hides
  (`client.showSidebarNavigation = false`).
So every page calls `page_frame()`: it draws the frame when the router has not already.

The navigation the user sees is ours: one `st.page_link` per page in the sidebar (icon and
title; Streamlit marks the current page). Light on purpose: no torch, no model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from explorer import setup
from ui.choice import remember_link

# A page draws its title first, then imports the explorer under this spinner: on the first
# visit after the server started those imports load torch, the models and their profiles
# (seconds, longer while others compute), and the page says so instead of staying blank.
LOADING = "Loading the explorer (torch, the models and their profiles)…"

APP_TITLE = "Early-Exit Explorer"
APP_ICON = "⏩"


@dataclass(frozen=True)
class AppPage:
    path: str  # relative to app.py
    title: str
    icon: str
    default: bool = False


PAGES = (
    AppPage("pages/overview.py", "Overview", "🏠", default=True),
    AppPage("pages/live_image.py", "Live: image", "🔢"),
    AppPage("pages/live_speech.py", "Live: speech", "🎙️"),
    AppPage("pages/live_text.py", "Live: text", "✍️"),
    AppPage("pages/tradeoffs.py", "Tradeoffs", "⚖️"),
    AppPage("pages/noise.py", "Noise & robustness", "🌫️"),
    AppPage("pages/model.py", "Model", "🧱"),
    AppPage("pages/energy.py", "Energy", "🔋"),
    AppPage("pages/add_model.py", "Add a model", "➕"),
)
TITLES = tuple(p.title for p in PAGES)


def router_pages() -> list:
    """The pages as st.navigation takes them."""
    return [st.Page(p.path, title=p.title, icon=p.icon, default=p.default) for p in PAGES]


_run = threading.local()  # a session's script runs one at a time, on its own thread


def _draw() -> None:
    _run.began = time.perf_counter()  # every run draws the frame first: the run's start
    setup.install()  # every model joins the registry before a page (or a shared link) names one
    st.set_page_config(page_title=APP_TITLE, page_icon=APP_ICON, layout="wide")
    for p in PAGES:
        st.sidebar.page_link(p.path, label=p.title, icon=p.icon)
    remember_link()  # a shared link's settings, whichever page it opens


def run_seconds() -> float:
    """Seconds since this script run began (since the frame was drawn): the server's part of
    what a user waits for, without the browser's (`make load` logs it where an answer is drawn)."""
    return time.perf_counter() - getattr(_run, "began", time.perf_counter())


def page_frame() -> None:
    """The frame, unless the router drew it in this run already (idempotent)."""
    if not getattr(_run, "framed", False):
        _draw()


@contextmanager
def framed() -> Iterator[None]:
    """The router's: the frame now, and `page_frame()` does nothing inside."""
    _draw()
    _run.framed = True
    try:
        yield
    finally:
        _run.framed = False
