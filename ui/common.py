"""What the pages share besides the choice: the model, its profiles and
sweeps, each loaded by the library (which keeps them: explorer.memo is the one cache
layer) with a progress bar while it is built, and upload decoding with its messages.
The shared choice and its widgets are in ui/choice.py."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd
import streamlit as st

from explorer import cached, criteria, zoo
from explorer.errors import InputError
from explorer.profile import Profile
from explorer.thresholds import recommended

MAX_UPLOAD_MB = 20  # per upload on the live pages (each widget's own limit, below the server's)


_LOADED: set[str] = set()  # models this process has loaded (the library keeps them)


@contextmanager
def progress_bar() -> Iterator:
    """A progress callback for the library (explorer.memo): the bar appears at the first
    report, that is only when there is work, and goes when the work is done."""
    bar = None

    def report(fraction: float, what: str) -> None:
        nonlocal bar
        text = what[:1].upper() + what[1:] + "…"
        if bar is None:
            bar = st.progress(0.0, text)
        bar.progress(min(max(float(fraction), 0.0), 1.0), text)

    try:
        yield report
    finally:
        if bar is not None:
            bar.empty()


def work(fn, *args, **kwargs):
    """fn(*args, **kwargs, progress=a progress bar): a library call, with a bar if it works."""
    with progress_bar() as report:
        return fn(*args, **kwargs, progress=report)


def load_model(name: str):
    if name in _LOADED:
        return zoo.model(name)
    with st.spinner(f"Loading {zoo.get(name).title} (the toy model trains once on first use, about a minute)…"):
        model = zoo.model(name)
    _LOADED.add(name)
    return model


def load_profile(name: str, split: str, **variant) -> Profile:
    """A profile of the model (built once with a progress bar if missing; the library
    keeps it in memory)."""
    if zoo.loaded(name, split, **variant):
        return zoo.profile(name, split, **variant)
    load_model(name)
    with progress_bar() as report:
        report(0.0, f"loading the {split} profile")
        return zoo.profile(name, split, report, **variant)


def test_profile(name: str) -> Profile:
    """The model's test profile; a model that cannot load is said in words and stops the page."""
    try:
        return load_profile(name, zoo.get(name).test_split)
    except ValueError as err:
        st.error(f"This model cannot be shown: {err}.")
        st.stop()


def calib_profile(name: str) -> Profile:
    return load_profile(name, zoo.get(name).calib_split)


def eval_profile(name: str, key: str) -> Profile:
    """The profile of one of the model's evaluation sets (zoo.eval_sets)."""
    s = zoo.eval_set(name, key)
    if s.split == zoo.get(name).test_split and not s.variant:
        return test_profile(name)
    return load_profile(name, s.split, **dict(s.variant))


def sweep_all(name: str, key: str | None = None) -> pd.DataFrame:
    """Every criterion (bounds included) at every threshold of its grid, on an evaluation
    set (default: the test split)."""
    return work(cached.sweep_all, eval_profile(name, key or zoo.get(name).test_split))


def default_threshold_for(name: str, crit: str) -> float:
    calib_profile(name)  # built with a progress bar if missing
    test_profile(name)
    return recommended(name, crit)


def threshold_range(model: str, crit: str) -> tuple[float, float, float]:
    """(lowest, highest, step) of the shared threshold's slider: the criterion's grid on the test profile."""
    return cached.slider_range(test_profile(model), crit)


def causal_criteria(name: str, exclude=()) -> list[str]:
    return [c.name for c in criteria.applicable(test_profile(name).cols) if c.causal and c.name not in exclude]


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


def mark(answer: str, truth: str, right: bool | None = None) -> str:
    """Right or wrong, in a glyph every font has (`right`: as the model counts errors,
    when the answer's text alone cannot say, e.g. a speech model's unknown words)."""
    return "✓ right" if (str(answer) == str(truth) if right is None else right) else "✗ wrong"


def answer_line(answer: str, truth: str | None, right: bool | None = None) -> str:
    """The answer with the true label beside it, marked right or wrong."""
    return f"**{answer}**" if truth is None else f"**{answer}** (true: {truth} — {mark(answer, truth, right)})"


def cautions(prediction, warnings=()) -> None:
    """The decoder's warnings and the prediction's cautions, each in its own box."""
    for text in [*warnings, *prediction.cautions()]:
        st.warning(text)


def measured_memory(name: str):
    """explorer.memory's figures of a model, measured once per loaded model."""
    return work(cached.measured_memory, name, load_model(name))


def figure_downloads(view, thr: float, where: str) -> None:
    """A titled file of each figure of the view, as shown at `thr`."""
    from explorer import figure_export
    from explorer.threshold_view import TAU, figure_at

    formats = ["png", "svg", "html"] if figure_export.can_draw() else ["html"]
    c1, c2 = st.columns([1, 4])
    fmt = c1.selectbox("Figures as", formats, key=f"w.figfmt.{where}", format_func=str.upper,
                       help="PNG and SVG are drawn by kaleido in a local Chromium; HTML is plotly's own "
                            "interactive page (works offline).")
    i = view.index(thr)
    for j, panel in enumerate(p for row in view.rows for p in row):  # one under another: every title whole
        title = figure_export.title_of(panel.figure).replace(TAU, view.labels[i])
        c2.download_button(f"⬇ {title}",
                            lambda panel=panel, fmt=fmt: figure_export.export(figure_at(view, panel, i), fmt).data,
                            figure_export.file_name(title, fmt), figure_export.FORMATS[fmt], on_click="ignore",
                            key=f"w.fig.{where}.{j}", help=f"“{title}”, as shown, as a {fmt.upper()} file.")
