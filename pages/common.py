"""What every page shares (not a page itself): cached loaders, and the model, exit
criterion and threshold, chosen once for all pages and carried in the link
(?model=image&criterion=confidence&threshold=0.8).

The choices live in st.session_state[STORE], not in widget keys: Streamlit forgets
a widget's state once a page without that widget runs. Each widget is filled from the
store before it is drawn and writes back to it when changed.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import streamlit as st

from explorer import criteria, tradeoff, zoo
from explorer.errors import InputError
from explorer.profile import Profile
from explorer.thresholds import default_criterion, recommended


def _through_the_router() -> None:
    """Streamlit's legacy mode for a folder named pages/ runs the very first request of a
    fresh server without the router when that request is a page's address (a shared
    link): no page list, no wide layout. Switch the legacy mode off and run again, so
    app.py (st.navigation) serves that page. After that, st.navigation keeps it off."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_through_the_router()  # every page imports this module first

STORE = "explorer.choice"  # {"model": name, "criterion": {model: name}, "threshold": {model: {criterion: τ}}}
LINK_KEYS = ("model", "criterion", "threshold")


# ---- cached loaders (shared by every session; never mutated) ------------------------------
@st.cache_resource(show_spinner="Loading the model (the toy model trains once on first use, about a minute)…")
def load_model(name: str):
    return zoo.model(name)


@st.cache_resource(show_spinner=False)
def load_profile(name: str, split: str) -> Profile:
    load_model(name)
    bar = st.progress(0.0, f"Loading the {split} profile…")
    prof = zoo.profile(name, split, lambda f, what: bar.progress(min(f, 1.0), what))
    bar.empty()
    return prof


def test_profile(name: str) -> Profile:
    """The model's test profile; a model that cannot load is said in words and stops the page."""
    try:
        return load_profile(name, zoo.get(name).test_split)
    except ValueError as err:
        st.error(f"This model cannot be shown: {err}.")
        st.stop()


def calib_profile(name: str) -> Profile:
    return load_profile(name, zoo.get(name).calib_split)


@st.cache_resource(show_spinner="Sweeping every criterion over its thresholds…")
def sweep_all(name: str) -> pd.DataFrame:
    """Every criterion (bounds included) at every threshold of its grid, on the test split."""
    return tradeoff.sweep_all(test_profile(name))


@st.cache_resource(show_spinner=False)
def default_threshold_for(name: str, crit: str) -> float:
    calib_profile(name)  # built with a progress bar if missing
    return recommended(name, crit)


MAX_UPLOAD_MB = 20  # per upload on the live pages (each widget's own limit, below the server's)


def decoded(data: bytes | None, decode, what: str):
    """decode(data) for an upload, a photo or a recording, or None with the reason said
    in the page (too big, or the decoder's InputError)."""
    if data is None:
        return None
    if len(data) > MAX_UPLOAD_MB * 2**20:  # the camera and the microphone have no widget limit
        st.error(f"That file is over {MAX_UPLOAD_MB} MB; please upload a smaller {what}.")
        return None
    try:
        return decode(data)
    except InputError as err:
        st.error(str(err))
        return None


def causal_criteria(name: str, exclude=()) -> list[str]:
    return [c.name for c in criteria.applicable(test_profile(name).cols) if c.causal and c.name not in exclude]


# ---- the shared choice ---------------------------------------------------------------------
def _store() -> dict:
    if STORE not in st.session_state:
        st.session_state[STORE] = {"model": None, "criterion": {}, "threshold": {}}
        _read_link(st.session_state[STORE])
    return st.session_state[STORE]


def remember_link() -> None:
    """Read a shared link once per session (the router calls this before any page runs,
    as switching pages drops the link's parameters)."""
    _store()


def _read_link(store: dict) -> None:
    """A shared link's choice, once per session; a bad value is said in words and ignored."""
    link = {k: st.query_params.get(k) for k in LINK_KEYS}
    model, crit, thr = link["model"], link["criterion"], link["threshold"]
    if model is None:
        return
    if model not in zoo.BUILT_INS:
        st.warning(f"The link names a model “{model}” that is not built in ({', '.join(zoo.BUILT_INS)}); "
                   "showing the default instead.")
        return
    store["model"] = model
    if crit is None:
        return
    if crit not in criteria.CRITERIA or not criteria.CRITERIA[crit].causal:
        st.warning(f"The link names an exit criterion “{crit}” that does not exist; showing the default instead.")
        return
    store["criterion"][model] = crit
    try:
        value = float(thr) if thr is not None else None
    except ValueError:
        value = None
    if value is None or math.isnan(value):
        if thr is not None:
            st.warning(f"The link's threshold “{thr}” is not a number; using the recommended one.")
        return
    store["threshold"].setdefault(model, {})[crit] = value


def _write_link(model: str, crit: str, thr: float) -> None:
    want = {"model": model, "criterion": crit, "threshold": f"{thr:.10g}"}
    if st.query_params.to_dict() != want:
        st.query_params.from_dict(want)


def _sync(widget_key: str, path: tuple) -> None:
    """on_change: copy a widget's new value into the store."""
    *parents, leaf = path
    node = _store()
    for p in parents:
        node = node.setdefault(p, {})
    node[leaf] = st.session_state[widget_key]


def _prefill(widget_key: str, value) -> None:
    """Always set, even to an equal value: the same key may belong to a widget of the
    page before, whose state Streamlit would not hand to this one."""
    st.session_state[widget_key] = value


def model_select(options: list[str], where=st) -> str:
    """The model, shared by the pages that offer a choice of models."""
    store = _store()
    key = "w.model"
    if store["model"] in options:
        _prefill(key, store["model"])
    elif st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    name = where.selectbox("Model", options, key=key, format_func=lambda n: zoo.get(n).title,
                           on_change=_sync, args=(key, ("model",)))
    store["model"] = name
    return name


def criterion_select(model: str, names: list[str], where=st) -> str:
    """The exit criterion for this model (the model's recommended one at first)."""
    store = _store()
    key = f"w.criterion.{model}"
    chosen = store["criterion"].get(model)
    if chosen not in names:
        best = default_criterion(model)
        chosen = best if best in names else names[0]
    _prefill(key, chosen)
    name = where.selectbox("Exit criterion", names, key=key, format_func=lambda n: f"{n}: {criteria.get(n).label}",
                           on_change=_sync, args=(key, ("criterion", model)))
    store["criterion"][model] = name
    return name


def current_threshold(model: str, crit: str) -> float:
    """The threshold chosen for this model and criterion, else its recommended one."""
    chosen = _store()["threshold"].get(model, {}).get(crit)
    return float(default_threshold_for(model, crit) if chosen is None else chosen)


def threshold_range(model: str, crit: str) -> tuple[float, float, float]:
    """(lowest, highest, step) of the criterion's threshold grid on the test profile."""
    grid = sweep_all(model).query("criterion == @crit").threshold
    lo, hi = float(grid.min()), float(grid.max())
    if hi <= lo:
        hi = lo + 1.0
    steps = np.diff(np.sort(grid.to_numpy()))
    return lo, hi, 1.0 if len(steps) and np.allclose(steps, 1.0) else (hi - lo) / 200  # exit counts step by one


def threshold_slider(model: str, crit: str, where=st) -> float:
    """The threshold as a slider over the criterion's grid (its ends mean "everyone
    leaves at the first exit" and "no one leaves early")."""
    lo, hi, step = threshold_range(model, crit)
    key = f"w.slider.{model}.{crit}"
    _prefill(key, min(max(current_threshold(model, crit), lo), hi))
    thr = where.slider("Threshold τ", lo, hi, step=step, key=key, format="%.4g",
                       on_change=_sync, args=(key, ("threshold", model, crit)),
                       help=f"{criteria.get(crit).label}; starts at the threshold recommended on the calibration "
                            "split. Arrow keys move it one step.")
    return _chosen(model, crit, thr)


def threshold_number(model: str, crit: str, where=st) -> float:
    """The threshold as a number (any value, also outside the grid)."""
    key = f"w.number.{model}.{crit}"
    _prefill(key, current_threshold(model, crit))
    thr = where.number_input("Threshold τ", key=key, format="%.4f", on_change=_sync,
                             args=(key, ("threshold", model, crit)),
                             help="Starts at the threshold recommended on the calibration split for this "
                                  "criterion; change it to see the exit move. Every page shares it.")
    return _chosen(model, crit, thr)


def _chosen(model: str, crit: str, thr: float) -> float:
    _store()["threshold"].setdefault(model, {})[crit] = float(thr)
    _write_link(model, crit, float(thr))
    return float(thr)


def set_threshold(model: str, crit: str, value: float) -> None:
    """For an "Apply" button's on_click: move the shared threshold (and its widgets)."""
    _store()["threshold"].setdefault(model, {})[crit] = float(value)
    for kind in ("slider", "number"):
        st.session_state.pop(f"w.{kind}.{model}.{crit}", None)
