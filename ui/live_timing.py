"""What the live pages compute only when asked: the timing of one input (plain model
against real exits) and the exit at every noise level. On a shared server an upload's
answer comes first; extra forward passes wait for the user's click, and each input's are
computed once for every session that asks about the same input (explorer.memo)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st
import torch

from explorer import plots, predict
from explorer.compute import ANSWERED, record
from explorer.errors import InputError
from explorer.memo import memoized
from explorer.speedup import REPEATS, WARMUP
from ui.frame import run_seconds


@memoized("Timing the plain model against the real exits", max_entries=256)
def _timing(name: str, x: np.ndarray, crit: str, thr: float):
    return predict.time_input(name, torch.from_numpy(x), crit, thr)


def timing_ui(name: str, x: np.ndarray, crit: str, thr: float) -> None:
    """The measured speedup on this input once someone asked for it (shared by every session
    with the same input), else a button that asks; a busy machine is said, not timed. Drawn
    right under the answer: the run's seconds so far go to the step log."""
    record(ANSWERED, run_seconds())
    thr = float(thr)
    if not _timing.has(name, x, crit, thr):
        if not st.button("⏱ Time this input", key="w.live.time",
                         help=f"The plain model and the real exits on this input, in turns ({WARMUP} warm-up and up to "
                              f"{REPEATS} timed runs each)."):
            st.caption("Not timed yet: the answer above is one real run. Press “Time this input” for the measured "
                       "speedup on this input.")
            return
    try:
        speedup, when = _timing(name, x, crit, thr)
    except InputError as err:
        st.info(str(err))
        return
    st.caption(predict.timing_text(speedup, when))


def depth_ui(name: str, at_level: Callable[[object], np.ndarray], crit: str, thr: float, levels: list,
             exit_names: list[str], axis_label: str) -> None:
    """The exit this input takes at every noise level (`at_level(level)`: the input at that
    level): one batched pass, drawn when asked."""
    if not st.toggle(f"Show the exit at every {axis_label.split(' (')[0]} (one more pass, all levels at once)",
                     key="w.live.depth"):
        return
    with st.spinner("Running the input at every level…"):
        exits = _exits(name, [at_level(v) for v in levels], crit, float(thr))
    st.plotly_chart(plots.depth_curve(list(levels), exits, exit_names, axis_label))


@memoized("The exit at every noise level", max_entries=256)
def _exits(name: str, inputs: list, crit: str, thr: float) -> list[int]:
    return predict.exits_taken(name, [torch.from_numpy(np.asarray(x)) for x in inputs], crit, thr)
