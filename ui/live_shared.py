"""What the two live pages share: an evaluation input opened from a link
(`?model=NAME&input=SETKEY:INDEX`), a test-set input by number, and the batch upload.
The work happens in the library (`explorer.eval_inputs`, `explorer.batch`); this only draws."""

from __future__ import annotations

import hashlib

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from explorer import batch, eval_inputs, plots, zoo
from explorer.errors import InputError
from explorer.memo import memoized
from explorer.speedup import DEFINITION
from ui import choice, common

LINKED = "From the link"
BATCH = "Batch (several files or a zip)"


@memoized("Loading the evaluation input", max_entries=64)
def evaluation_input(name: str, set_key: str, index: int) -> tuple[np.ndarray, str, str]:
    """(input as an array, truth, label) of one evaluation input; InputError in words."""
    it = eval_inputs.item(name, set_key, index)
    return it.x.numpy(), it.truth, it.label


def linked_input(name: str) -> tuple[np.ndarray, str, str] | None:
    """The input a link names (`input=SETKEY:INDEX`, for this model), or None; a link that
    names no input of this model is said in a sentence."""
    raw = st.query_params.get("input") or choice._store()["link"].get("input")
    if not raw:
        return None
    try:
        key, index = eval_inputs.parse(raw)
        return evaluation_input(name, key, index)
    except InputError as err:
        st.error(f"The link's input cannot be opened: {err}")
        return None


def input_source(name: str, crit: str, thr: float, sources: list[str], what: str, answer_label: str):
    """The input radio (a link's input first when the link names one, the batch last): (the
    source chosen, (input, truth) when it is an evaluation input from the link, else None).
    A batch is drawn here and the page stops after it."""
    linked = linked_input(name)
    options = [*sources, BATCH]
    source = st.radio("Input", [LINKED, *options] if linked else options, horizontal=True)
    if source == BATCH:
        batch_ui(name, crit, thr, what, answer_label)
        st.stop()
    if source != LINKED:
        forget_linked_input()
        return source, None
    x, truth, label = linked
    st.caption(f"Opened from the link: {label}.")
    return source, (x, truth)


def forget_linked_input() -> None:
    """Another input source was chosen: the link no longer names what is shown."""
    choice._store()["link"].pop("input", None)
    if "input" in st.query_params:
        del st.query_params["input"]


def test_input(name: str, where=st) -> tuple[np.ndarray, str, str]:
    """An input of the model's clean test set, by number."""
    n = common.test_profile(name).n
    test_split = zoo.get(name).test_split
    i = int(where.number_input(f"Test input # (0–{n - 1})", 0, n - 1, 0, key=f"w.test_input.{name}"))
    return evaluation_input(name, test_split, i)


def playable(samples: np.ndarray) -> np.ndarray:
    """A waveform for the audio player: normalised model inputs (unit variance) scaled
    down so they do not clip; recordings in [-1, 1] as they are."""
    peak = float(np.abs(samples).max()) if len(samples) else 0.0
    return samples * (0.9 / peak) if peak > 1 else samples


# ---- batch upload ---------------------------------------------------------------------------------
def batch_ui(name: str, crit: str, thr: float, what: str, answer_label: str) -> None:
    """Several files (or a zip) at once: each input's exit and answer, the exit histogram,
    the batch's measured speedup and a CSV; files that cannot be used, each in a sentence."""
    ups = st.file_uploader(f"Several {what} at once, or a zip of them (a metadata.csv with file_name,label or "
                           "file_name,transcription gives the truth; so do class-named folders or file names)",
                           accept_multiple_files=True, key=f"w.batch.{name}",
                           max_upload_size=common.MAX_UPLOAD_MB)
    if not ups:
        st.info(f"Upload several {what} (or one zip) to see where each one exits.")
        return
    files = [(u.name, u.getvalue()) for u in ups]
    key = (name, crit, float(thr), hashlib.sha256(b"".join(n.encode() + hashlib.sha256(d).digest()
                                                           for n, d in files)).hexdigest())
    stored = st.session_state.get("live.batch")
    if not stored or stored[0] != key:  # once per set of files and setting, not on every rerun
        bar = st.progress(0.0, "Reading the files…")
        try:
            stored = key, batch.run(name, files, crit, float(thr), lambda f, what: bar.progress(min(f, 1.0), what))
        finally:
            bar.empty()
        st.session_state["live.batch"] = stored
    result = stored[1]
    for fname, why in result.bad:
        st.warning(f"{fname}: {why}")
    if not result.rows:
        st.error("None of these files could be used; see why above.")
        return
    m = st.columns(3)
    m[0].metric("Answered", f"{len(result.rows)} of {len(result.rows) + len(result.bad)} files")
    m[1].metric(*result.quality_text())
    s = result.speedup
    m[2].metric("Speedup measured (ms), this batch", "noisy" if s.noisy else f"{s.realized:.2f}×", help=DEFINITION)
    st.caption(f"Real exits on all {s.inputs} inputs, {s.batch} at a time: {s.exit.text(s.inputs)} per input with "
               f"exits, {s.full.text(s.inputs)} for the plain model — {s.text()}. By MACs (ideal): {s.ideal:.2f}×.")
    changed, warned = sum(r.changed for r in result.rows), sum(bool(r.cautions) for r in result.rows)
    if warned:
        st.warning(f"{warned} of {len(result.rows)} answers come with a caution: the cautions column says why.")
    st.caption(f"Exiting early changed {changed} of {len(result.rows)} answers (against the full model's).")
    st.dataframe(result.table(answer_label), hide_index=True, column_config={
        "confidence": st.column_config.NumberColumn(format="percent"),
        "WER (%)": st.column_config.NumberColumn(format="%.1f"),
        "exit": st.column_config.NumberColumn(help="exit taken, 1 = the first"),
        "changed by exiting early": st.column_config.CheckboxColumn(
            help="the answer at the exit taken differs from the full model's"),
        "cautions": st.column_config.TextColumn(width="large")})
    counts = np.asarray(result.exit_counts, float)
    shares = counts / counts.sum()
    fig = go.Figure(go.Bar(x=list(result.exit_names), y=shares, text=plots.bar_text(shares), textposition="outside"))
    fig.update_layout(yaxis_title="share of the batch", yaxis_tickformat=".0%", yaxis_range=[0, 1.1], height=300)
    st.plotly_chart(plots.titled(fig, f"Where this batch's {len(result.rows)} inputs leave ({crit}, τ = {thr:.4g})"))
    st.download_button("Download the table (CSV)", result.csv(), file_name=f"{name}-batch.csv", mime="text/csv")
