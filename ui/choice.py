"""The shared choice: the model, exit criterion and threshold chosen once for
all pages, and every other setting of a page, all carried in the link
(?model=image&criterion=confidence&threshold=0.8&eval=blur-3&cost=mean_macs&log=1).

The choices live in st.session_state[STORE], not in widget keys: Streamlit forgets a
widget's state once a page without that widget runs. Each widget is filled from the
store before it is drawn and writes back to it when changed. A link's value that
cannot be used is said in words, never dropped silently.

Light on purpose: the router imports this before any page runs, so it must not import
torch or load a model at import time (the Overview is drawn before either).
"""

from __future__ import annotations

import math

import streamlit as st

from explorer import criteria, zoo
from explorer.deployed import LABELS, view

STORE = "explorer.choice"  # {"model", "criterion": {model: name}, "threshold": {model: {crit: τ}}, "link", "page"}
CORE_KEYS = ("model", "criterion", "threshold")


# ---- the store and the link ------------------------------------------------------------------
def _store() -> dict:
    if STORE not in st.session_state:
        st.session_state[STORE] = {"model": None, "criterion": {}, "threshold": {}, "page": {},
                                   "link": st.query_params.to_dict(), "said": set()}
    return st.session_state[STORE]


def remember_link() -> None:
    """Read a shared link once per session (the router calls this before any page runs,
    as switching pages drops the link's parameters). A threshold that is not a number is
    said at once, whatever page the link opens; the rest when a page uses it."""
    link = _store()["link"]
    raw = link.get("threshold")
    if raw is not None:
        try:
            ok = not math.isnan(float(raw))
        except ValueError:
            ok = False
        if not ok:
            del link["threshold"]
            _say_once(f"The link's threshold “{raw}” is not a number; using the recommended one.")


def _say_once(message: str) -> None:
    said = _store()["said"]
    if message not in said:
        said.add(message)
        st.warning(message)


def _link_value(key: str):
    """The link's value for `key`, once (later runs use the store)."""
    return _store()["link"].pop(key, None)


def _write_link(**values) -> None:
    for key, value in values.items():
        text = f"{value:.10g}" if isinstance(value, float) else str(value)
        if st.query_params.get(key) != text:
            st.query_params[key] = text


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


# ---- model and criterion -----------------------------------------------------------------------
def _menu_label(name: str) -> str:
    """A model's line in the menu: its title, after its group unless built in (zoo.names lists
    built-in, then compressed, then imported models, so each group stays together)."""
    entry = zoo.get(name)
    return entry.title if entry.group == "built-in" else f"{entry.group} · {entry.title}"


def model_select(page: str, where=st) -> str:
    """The model, among those whose registry entry shows them on `page`."""
    options = zoo.names(page)
    store = _store()
    linked = _link_value("model")
    if linked is not None:
        if linked in options:
            store["model"] = linked
        else:
            why = "is not a model here" if linked not in zoo.BUILT_INS else "is not shown on this page"
            _say_once(f"The link names a model “{linked}”, which {why} (models here: {', '.join(options)}); "
                      f"showing {zoo.get(store['model'] if store['model'] in options else options[0]).title}.")
    key = "w.model"
    if store["model"] in options:
        _prefill(key, store["model"])
    elif st.session_state.get(key) not in options:
        st.session_state[key] = options[0]
    if len(options) == 1:
        name = options[0]
    else:
        name = where.selectbox("Model", options, key=key, format_func=_menu_label,
                               on_change=_sync, args=(key, ("model",)))
    store["model"] = name
    _write_link(model=name)
    return name


def criterion_select(model: str, names: list[str], where=st) -> str:
    """The exit criterion for this model (the model's recommended one at first)."""
    from explorer.thresholds import default_criterion

    store = _store()
    linked = _link_value("criterion")
    if linked is not None:
        if linked in names:
            store["criterion"][model] = linked
        else:
            _say_once(f"The link names an exit criterion “{linked}” that {model} cannot use here "
                      f"(choose one of {', '.join(names)}); showing the recommended one instead.")
    key = f"w.criterion.{model}"
    chosen = store["criterion"].get(model)
    if chosen not in names:
        best = default_criterion(model)
        chosen = best if best in names else names[0]
    _prefill(key, chosen)
    name = where.selectbox("Exit criterion", names, key=key, format_func=lambda n: f"{n}: {criteria.get(n).label}",
                           on_change=_sync, args=(key, ("criterion", model)))
    store["criterion"][model] = name
    _write_link(criterion=name)
    return name


# ---- the threshold: one widget ---------------------------------------------------------------
def _linked_threshold(model: str, crit: str) -> None:
    raw = _link_value("threshold")
    if raw is None:
        return
    _store()["threshold"].setdefault(model, {})[crit] = float(raw)  # a number: remember_link checked


def current_threshold(model: str, crit: str) -> float:
    """The threshold chosen for this model and criterion, else its recommended one."""
    from ui import common

    chosen = _store()["threshold"].get(model, {}).get(crit)
    return float(common.default_threshold_for(model, crit) if chosen is None else chosen)


def threshold_widget(model: str, crit: str, where=st, style: str = "slider") -> float:
    """The shared threshold τ of this model and criterion: a slider over the criterion's
    grid (style "slider"), or a number box that takes any value ("number"). A value
    outside the grid (from a link or typed) is said in words, and what it does."""
    from explorer import tradeoff
    from ui import common

    _linked_threshold(model, crit)
    label = tradeoff.threshold_label(crit)
    thr = current_threshold(model, crit)
    if style == "slider":
        lo, hi, step = common.threshold_range(model, crit)
        if not lo <= thr <= hi:
            _say_once(f"τ = {thr:.4g} is outside the range of {crit}'s thresholds here ({lo:.4g}–{hi:.4g}); the "
                      f"slider shows the nearest end, {min(max(thr, lo), hi):.4g}.")
        key = f"w.slider.{model}.{crit}"
        _prefill(key, min(max(thr, lo), hi))
        thr = where.slider(label, lo, hi, step=step, key=key, format="%.4g", on_change=_sync,
                           args=(key, ("threshold", model, crit)),
                           help=f"{criteria.get(crit).label}; starts at the threshold recommended on the calibration "
                                "split. Arrow keys move it one step.")
    else:
        key = f"w.number.{model}.{crit}"
        _prefill(key, thr)
        thr = where.number_input(label, key=key, format="%.4f", on_change=_sync,
                                 args=(key, ("threshold", model, crit)),
                                 help="Starts at the threshold recommended on the calibration split for this "
                                      "criterion; change it to see the exit move. Every page shares it.")
    thr = float(thr)
    _store()["threshold"].setdefault(model, {})[crit] = thr
    _write_link(threshold=thr)
    effect = tradeoff.threshold_effect(common.test_profile(model), criteria.get(crit), thr)
    if effect:
        where.caption(effect)
    return thr


def threshold_explorer(model: str, crit: str, view_at) -> float:
    """The shared threshold τ of this model and criterion as a slider that moves its figures
    and metrics in the browser (ui/components/threshold_explorer), with no round trip:
    view_at(τ) is the page's `ThresholdView` holding τ among its positions. The server hears
    the threshold the hand lets go of; it goes to the store and the link like any widget's.
    A value outside the slider's range (from a link) is said in words, and what it does."""
    from ui import common
    from ui.components.threshold_explorer import threshold_explorer as component

    _linked_threshold(model, crit)
    thr = current_threshold(model, crit)
    lo, hi, _ = common.threshold_range(model, crit)
    if not lo <= thr <= hi:
        _say_once(f"τ = {thr:.4g} is outside the range of {crit}'s thresholds here ({lo:.4g}–{hi:.4g}); the "
                  f"slider shows the nearest end, {min(max(thr, lo), hi):.4g}.")
    thr = float(component(view_at, thr, key=explorer_key(model, crit)))
    _store()["threshold"].setdefault(model, {})[crit] = thr
    _write_link(threshold=thr)
    return thr


def explorer_key(model: str, crit: str) -> str:
    """The widget key of the threshold explorer of this model and criterion."""
    return f"w.explorer.{model}.{crit}"


def set_threshold(model: str, crit: str, value: float) -> None:
    """For an "Apply" button's on_click: move the shared threshold (and its widgets)."""
    _store()["threshold"].setdefault(model, {})[crit] = float(value)
    for kind in ("slider", "number"):
        st.session_state.pop(f"w.{kind}.{model}.{crit}", None)


# ---- any other setting of a page, in the link too ------------------------------------------------
def linked_select(label: str, options: list, key: str, default=None, where=st, widget: str = "selectbox",
                  format_func=str, **kwargs):
    """A page setting that the link carries as `key`: a selectbox, radio or select_slider
    over `options` (compared as text in the link)."""
    store = _store()["page"]
    texts = [str(o) for o in options]
    linked = _link_value(key)
    if linked is not None:
        if linked in texts:
            store[key] = options[texts.index(linked)]
        else:
            _say_once(f"The link's {label.lower()} “{linked}” is not one of the choices here; showing "
                      f"“{format_func(store.get(key, default if default is not None else options[0]))}”.")
    value = store.get(key, default if default is not None else options[0])
    if value not in options:
        value = options[0]
    wkey = f"w.page.{key}"
    _prefill(wkey, value)
    value = getattr(where, widget)(label, options, key=wkey, format_func=format_func, on_change=_sync,
                                   args=(wkey, ("page", key)), **kwargs)
    store[key] = value
    _write_link(**{key: value})
    return value


def runtime_select(name: str, where=st) -> str:
    """What runs model `name` beside the threshold: PyTorch, or its ONNX Runtime export with
    the exits kept (exported on first use). Returns the name of the model on that runtime
    (explorer.deployed); the link carries it as `runtime`."""
    runtime = linked_select("Runtime", ["torch", "onnx"], "runtime", "torch", where, format_func=LABELS.get,
                            help="ONNX Runtime runs the model exported with `python -m explorer export`: "
                                 "the same exits and answers, often faster.")
    return view(name, runtime)


def linked_toggle(label: str, key: str, default: bool = False, where=st, **kwargs) -> bool:
    """A yes/no page setting that the link carries as `key` (1 or 0)."""
    store = _store()["page"]
    linked = _link_value(key)
    if linked is not None:
        if linked in ("0", "1"):
            store[key] = linked == "1"
        else:
            _say_once(f"The link's “{key}={linked}” is neither 0 nor 1; ignored.")
    wkey = f"w.page.{key}"
    _prefill(wkey, bool(store.get(key, default)))
    value = where.toggle(label, key=wkey, on_change=_sync, args=(wkey, ("page", key)), **kwargs)
    store[key] = value
    _write_link(**{key: int(value)})
    return value


def linked_multiselect(label: str, options: list[str], key: str, default=(), where=st, format_func=str,
                       **kwargs) -> list[str]:
    """A multiselect the link carries as `key` (names joined by commas); a linked name that
    is not among the options is said in words and left out."""
    store = _store()["page"]
    linked = _link_value(key)
    if linked is not None:
        names = [n for n in linked.split(",") if n]
        unknown = [n for n in names if n not in options]
        if unknown:
            _say_once(f"The link's {label.lower()} names {', '.join(f'“{n}”' for n in unknown)}, not among the "
                      f"choices here ({', '.join(options) or 'none'}); left out.")
        store[key] = [n for n in names if n in options]
    value = [v for v in store.get(key, list(default)) if v in options]
    wkey = f"w.page.{key}"
    _prefill(wkey, value)
    value = where.multiselect(label, options, key=wkey, format_func=format_func, on_change=_sync,
                              args=(wkey, ("page", key)), **kwargs)
    store[key] = list(value)
    if value:
        _write_link(**{key: ",".join(value)})
    elif key in st.query_params:
        del st.query_params[key]
    return list(value)


def linked_text(key: str, value: str | None = None, check=None) -> str | None:
    """A page setting that is no widget (a selection made on a chart), carried by the link
    as `key`: `value` sets it ("" clears it), None keeps it. check(text) raises ValueError
    (in words) for a linked value that cannot be used; it is said and dropped."""
    store = _store()["page"]
    linked = _link_value(key)
    if linked is not None:
        try:
            if check:
                check(linked)
            store[key] = linked
        except ValueError as err:
            _say_once(f"The link's {key} cannot be used: {err}.")
    if value is not None:
        store[key] = value
    current = store.get(key) or None
    if current:
        _write_link(**{key: current})
    elif key in st.query_params:
        del st.query_params[key]
    return current


def forget(key: str) -> None:
    """Drop a page setting (its default applies again), e.g. a filter of a new selection."""
    _store()["page"].pop(key, None)
