"""Live: image — a digit from an upload, the camera or the test set, really exiting."""

import numpy as np
import streamlit as st
import torch

from explorer import criteria, plots, robustness
from explorer.corruptions import CORRUPTIONS, corrupt
from explorer.data.mnist import load_mnist
from explorer.image_input import ACCEPTED_EXTENSIONS, prepare_digit
from explorer.predict import predict_input
from pages import common

MODEL = "image"
SEVERITIES = robustness.axis(MODEL).levels


@st.cache_data(show_spinner=False, max_entries=64)
def digit_from_bytes(data: bytes):
    d = prepare_digit(data)
    return d.original, d.mnist


@st.cache_data(show_spinner=False)
def example(i: int) -> np.ndarray:
    x, _ = load_mnist("test")
    return np.array(x[i])


@st.cache_data(show_spinner=False, max_entries=256)
def run(x: np.ndarray, crit: str, thr: float) -> dict:
    return predict_input(MODEL, torch.tensor(x)[None], crit, thr)


def with_corruption(x: np.ndarray, kind: str, severity: int) -> np.ndarray:
    return corrupt(x[None], kind, severity)[0] if kind != "none" and severity else x


st.title("Live: image")
c1, c2 = st.columns(2)  # shared with every page (and the link)
crit = common.criterion_select(MODEL, common.causal_criteria(MODEL, exclude=("budget",)), c1)
thr = common.threshold_number(MODEL, crit, c2)

source = st.radio("Input", ["Example from the test set", "Upload", "Camera"], horizontal=True)
x, shown = None, None
if source == "Upload":
    # SVG is let through so that the page can say how to convert it.
    up = st.file_uploader("A photo or scan of one handwritten digit (PNG, JPEG, WebP, GIF or BMP, "
                          f"up to {common.MAX_UPLOAD_MB} MB)",
                          type=[*ACCEPTED_EXTENSIONS, "svg"], max_upload_size=common.MAX_UPLOAD_MB)
    data = up.getvalue() if up else None
elif source == "Camera":
    shot = st.camera_input("Hold a digit written on paper up to the camera")
    data = shot.getvalue() if shot else None
else:
    data = None
    x = example(int(st.number_input("Test image #", 0, 9999, 0)))
digit = common.decoded(data, digit_from_bytes, "picture")
if digit is not None:
    shown, x = digit
if x is None:
    st.info("Pick an example, upload a picture of a digit, or take a photo to see where the model exits.")
    st.stop()

kind = st.selectbox("Corruption", ["none", *CORRUPTIONS])
severity = st.slider("Severity", SEVERITIES[0], SEVERITIES[-1], 0, disabled=kind == "none")
seen = with_corruption(x, kind, severity)

out = run(seen, crit, thr)
k = out["exit"]
cols = st.columns(3 if shown is not None else 2)
if shown is not None:
    cols[0].image(shown, caption="your picture", width=200)
cols[-2].image(np.kron(seen, np.ones((8, 8))), caption="the 28×28 input the model saw", width=200, clamp=True)
cols[-1].markdown(
    f"### Exit {k + 1} of {out['exits_total']}\n"
    f"Answer **{out['prediction']}** with confidence {out['per_exit'][k]['confidence']:.1%}, "
    f"{out['mac_share']:.0%} of the full model's MACs, {out['ms']:.1f} ms "
    f"(the full depth takes about {common.test_profile(MODEL).full('ms'):.1f} ms here).")
names_k = [r["name"] for r in out["per_exit"]]
own = criteria.get(crit).score_column
shown_scores = ("confidence", "entropy_norm" if own == "entropy_norm" else "entropy")
for col, score in zip(st.columns(2), shown_scores, strict=True):
    line = thr if score == own else None  # only the criterion's own score gets the threshold line
    col.plotly_chart(plots.per_exit(np.array([r[score] for r in out["per_exit"]]), names_k, line, k, score))
st.plotly_chart(plots.exit_heatmap(np.array([r["probabilities"] for r in out["per_exit"]]), names_k, k))
if kind != "none":
    exits = [run(with_corruption(x, kind, s), crit, thr)["exit"] for s in SEVERITIES]
    st.plotly_chart(plots.depth_curve(list(SEVERITIES), exits, names_k, f"{kind} severity"))
