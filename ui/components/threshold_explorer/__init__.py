"""The threshold slider and everything it moves, drawn in the browser: a Streamlit custom
component (frontend/index.html, with the plotly package's own Plotly.js, served offline).

While the slider moves, the browser looks the metrics and figures up in the page's
`ThresholdView` (explorer/threshold_view.py): no round trip, nothing runs on the server.
The server hears the threshold once the hand lets go (or the keys rest) and the page
returns it to the shared choice, the link and whatever needs the model.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import plotly
import streamlit as st
import streamlit.components.v1 as components

from explorer.threshold_view import ThresholdView

FRONTEND = Path(__file__).parent / "frontend"
PLOTLY_JS = Path(plotly.__file__).parent / "package_data"  # plotly.min.js, as the plotly package ships it


def _components():
    """Registered on every call: the runtime that serves them may be newer than this module
    (AppTest starts one per test)."""
    return (components.declare_component("threshold_explorer", path=str(FRONTEND)),
            components.declare_component("plotly_js", path=str(PLOTLY_JS)))


def threshold_explorer(view_at: Callable[[float], ThresholdView], value: float, key: str) -> float:
    """Draw the slider and what it moves; return the threshold the figures show.

    view_at(τ): the page's view with τ among the slider's positions. value: the shared
    choice. key: one per model and criterion. The threshold returned is the one the user
    last let go of in the browser (new since the last run), else `value`, as the nearest
    slider position (a value out of range: the nearest end).

    The arguments sent to the browser change only when the view does (another cost axis)
    or when the server moves the threshold (Apply, a link, another page): after a release
    they stay as they were (the view keeps the position it was drawn with), so Streamlit
    sends a reference to them, not the view again.
    """
    explorer, plotly_js = _components()
    report = st.session_state.get(key)  # {"value", "seq"}: the browser's last release
    report = report if isinstance(report, dict) else None
    seen, pushed_key = f"{key}.seen", f"{key}.pushed"
    if report and report["seq"] != st.session_state.get(seen):  # a new release
        st.session_state[seen] = report["seq"]
        value = float(report["value"])
    pushed = st.session_state.get(pushed_key)  # {"value", "nonce", "after"}: what the browser was last told
    # what the browser shows: its own release since then, else what it was told
    shows = report["value"] if report and (pushed is None or report["seq"] != pushed["after"]) else (
        pushed["value"] if pushed else None)
    view = view_at(pushed["value"]) if pushed and shows == value else None  # the view the browser has
    if view is None or value not in view.thresholds:
        view = view_at(value)
        value = view.thresholds[view.index(value)]
        if pushed is None or shows != value or pushed["value"] != value:
            pushed = {"value": value, "nonce": (pushed or {"nonce": 0})["nonce"] + 1,
                      "after": report["seq"] if report else None}
            st.session_state[pushed_key] = pushed
    explorer(view=view.payload, value=pushed["value"], nonce=pushed["nonce"],
             plotly=f"../{plotly_js.name}/plotly.min.js", key=key, default=None)
    return value


def picked(key: str) -> dict | None:
    """The browser's last click on a figure's point or bar, once (None after it was read):
    {"panel": "curve" or "exits", "model", "criterion", "point", "threshold"}."""
    report = st.session_state.get(key)
    if not isinstance(report, dict) or not isinstance(report.get("pick"), dict):
        return None
    read = f"{key}.picked"
    if st.session_state.get(read) == report["seq"]:
        return None
    st.session_state[read] = report["seq"]
    return report["pick"]
