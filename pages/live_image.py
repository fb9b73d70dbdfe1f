"""Live: image — a digit from an upload, the camera or the test set, really exiting."""


import numpy as np
import streamlit as st
import torch

from explorer import criteria, plots, robustness, zoo
from explorer.corruptions import corrupt
from explorer.data.mnist import load_mnist
from explorer.memo import memoized
from explorer.predict import exit_taken, predict_input
from pages import choice, common


@memoized(max_entries=64)
def decode_upload(name: str, data: bytes):
    """The entry's decoder: (picture shown, 28×28 input, warnings)."""
    d = zoo.get(name).decode(data)
    return d.shown, d.x.numpy()[0], d.warnings


@memoized(max_entries=64)
def example(i: int) -> tuple[np.ndarray, int]:
    x, y = load_mnist("test")
    return np.array(x[i]), int(y[i])


@memoized(max_entries=256)
def run(name: str, x: np.ndarray, crit: str, thr: float):
    return predict_input(name, torch.tensor(x)[None], crit, thr)


@memoized(max_entries=1024)
def exit_at(name: str, x: np.ndarray, crit: str, thr: float, kind: str, severity: int) -> int:
    return exit_taken(name, torch.tensor(with_corruption(name, x, kind, severity))[None], crit, thr)


def with_corruption(name: str, x: np.ndarray, kind: str, severity: int) -> np.ndarray:
    """The input under one of the model's noisy-set corruptions (none at severity 0)."""
    return x if kind == "none" or not severity else corrupt(x[None], kind, severity)[0]


st.title("Live: image")
name = choice.model_select("live_image")
c1, c2 = st.columns(2)  # shared with every page (and the link)
crit = choice.criterion_select(name, common.causal_criteria(name, exclude=("budget",)), c1)
thr = choice.threshold_widget(name, crit, c2, style="number")

source = st.radio("Input", ["Example from the test set", "Upload", "Camera"], horizontal=True)
x, shown, truth, warnings = None, None, None, ()
if source == "Upload":
    # any file type goes to the decoder, which names what it got and says what to do
    up = st.file_uploader(f"A photo or scan of one handwritten digit (PNG, JPEG, HEIC, WebP, GIF or BMP, up to "
                          f"{common.MAX_UPLOAD_MB} MB)", max_upload_size=common.MAX_UPLOAD_MB)
    data = up.getvalue() if up else None
elif source == "Camera":
    shot = st.camera_input("Hold a digit written on paper up to the camera")
    data = shot.getvalue() if shot else None
else:
    data = None
    x, truth = example(int(st.number_input("Test image #", 0, 9999, 0)))
digit = common.decoded(data, lambda b: decode_upload(name, b), "picture")
if digit is not None:
    shown, x, warnings = digit
if x is None:
    st.info("Pick an example, upload a picture of a digit, or take a photo to see where the model exits.")
    st.stop()

ax = robustness.axis(name)
k1, k2 = st.columns(2)
kind = choice.linked_select("Corruption", ["none", *ax.kinds], "corruption", where=k1)
severity = choice.linked_select("Severity", [int(v) for v in ax.levels], "severity", int(ax.levels[0]), k2,
                                widget="select_slider", disabled=kind == "none")
seen = with_corruption(name, x, kind, severity)

p = run(name, seen, crit, thr)
k = p.exit
cols = st.columns(3 if shown is not None else 2)
if shown is not None:
    cols[0].image(shown, caption="your picture", width=200)
cols[-2].image(np.kron(seen, np.ones((8, 8))), caption="the 28×28 input the model saw", width=200, clamp=True)
cols[-1].markdown(
    f"### Exit {p.exit_number} of {p.exits_total}\n"
    f"Answer {common.answer_line(p.answer, truth)} with confidence {p.confidence():.1%}, "
    f"{p.mac_share:.0%} of the full model's MACs.\n\n{p.timing_text()}")
common.cautions(p, warnings)
own = criteria.get(crit).score_column
shown_scores = ("confidence", "entropy_norm" if own == "entropy_norm" else "entropy")
for col, score in zip(st.columns(2), shown_scores, strict=True):
    line = thr if score == own else None  # only the criterion's own score gets the threshold line
    col.plotly_chart(plots.per_exit(p.scores[score], list(p.exit_names), line, k, score))
st.plotly_chart(plots.exit_heatmap(p.probabilities, list(p.exit_names), k))
if kind != "none":
    exits = [exit_at(name, x, crit, thr, kind, int(s)) for s in ax.levels]
    st.plotly_chart(plots.depth_curve(list(ax.levels), exits, list(p.exit_names), f"{kind} severity"))
