"""Live: image — a picture from an upload, the camera, the test set or a link, really
exiting; or a batch of them. Every fact about the model (its decoder, its corruptions, its
class names) comes from its registry entry, so built-in and imported models look alike."""


import streamlit as st

from ui.frame import LOADING, page_frame

page_frame()  # the app's frame, also when Streamlit runs this page without the router
st.title("Live: image")  # drawn first: see ui.frame.LOADING
with st.spinner(LOADING):
    import numpy as np
    import torch

    from explorer import criteria, plots, robustness, zoo
    from explorer.memo import memoized
    from explorer.predict import predict_input
    from ui import choice, common, live_shared, live_timing


@memoized(max_entries=64)
def decode_upload(name: str, data: bytes):
    """The entry's decoder: (picture shown, the model's input, warnings)."""
    d = zoo.get(name).decode(data)
    return d.shown, d.x.numpy(), d.warnings


@memoized(max_entries=256)
def run(name: str, x: np.ndarray, crit: str, thr: float):
    return predict_input(name, torch.from_numpy(x), crit, thr, timed=False)  # timed when asked (live_timing)


@memoized(max_entries=256)
def with_corruption(name: str, x: np.ndarray, kind: str, severity: int) -> np.ndarray:
    """The input under one of the model's noisy-set corruptions (none at severity 0)."""
    if kind == "none" or not severity:
        return x
    return np.asarray(zoo.get(name).noise.apply(torch.from_numpy(x), kind, severity))


def seen_picture(name: str, x: np.ndarray) -> np.ndarray:
    """The input as the model saw it, blown up (nearest pixel) to about 200 px."""
    pic = common.load_model(name).picture(x)
    scale = max(1, 224 // max(pic.shape[:2]))
    return np.kron(pic, np.ones((scale, scale, 1)))


name = choice.model_select("live_image")
entry = zoo.get(name)
if entry.group != "built-in":
    st.caption(entry.summary)
c1, c2, c3 = st.columns([2, 2, 1])  # shared with every page (and the link)
crit = choice.criterion_select(name, common.causal_criteria(name, exclude=("budget",)), c1)
thr = choice.threshold_widget(name, crit, c2, style="number")
runtime = choice.runtime_select(name, c3)

source, linked = live_shared.input_source(name, crit, thr, ["Example from the test set", "Upload", "Camera"],
                                          "pictures", "answer")
x, truth = linked or (None, None)
shown, warnings, data = None, (), None
if source == "Upload":
    # any file type goes to the decoder, which names what it got and says what to do
    up = st.file_uploader(f"A photo or scan (PNG, JPEG, HEIC, WebP, GIF or BMP, up to "
                          f"{common.MAX_UPLOAD_MB} MB)", max_upload_size=common.MAX_UPLOAD_MB)
    data = up.getvalue() if up else None
elif source == "Camera":
    shot = st.camera_input("Hold a picture up to the camera")
    data = shot.getvalue() if shot else None
elif source != live_shared.LINKED:
    x, truth, _ = live_shared.test_input(name)
digit = common.decoded(data, lambda b: decode_upload(name, b), "picture")
if digit is not None:
    shown, x, warnings = digit
if x is None:
    st.info("Pick an example, upload a picture, take a photo or send a batch to see where the model exits.")
    st.stop()

ax = robustness.axis(name)
k1, k2 = st.columns(2)
kind = choice.linked_select("Corruption", ["none", *ax.kinds], "corruption", where=k1)
severity = choice.linked_select("Severity", [int(v) for v in ax.levels], "severity", int(ax.levels[0]), k2,
                                widget="select_slider", disabled=kind == "none")
seen = with_corruption(name, x, kind, severity)

p = run(runtime, seen, crit, thr)
k = p.exit
cols = st.columns(3 if shown is not None else 2)
if shown is not None:
    cols[0].image(shown, caption="your picture", width=200)
size = "×".join(str(s) for s in seen.shape[-2:])
cols[-2].image(seen_picture(name, seen), caption=f"the {size} input the model saw", width=200, clamp=True)
conf = p.confidence()
cols[-1].markdown(
    f"### Exit {p.exit_number} of {p.exits_total}\n"
    f"Answer {common.answer_line(p.answer, truth)}" + (f" with confidence {conf:.1%}" if conf is not None else "")
    + f", {p.mac_share:.0%} of the full model's MACs.")
with cols[-1]:
    live_timing.timing_ui(name, seen, crit, thr)
common.cautions(p, warnings)
own = criteria.get(crit).score_column
shown_scores = ("confidence", "entropy_norm" if own == "entropy_norm" else "entropy")
for col, score in zip(st.columns(2), shown_scores, strict=True):
    line = thr if score == own else None  # only the criterion's own score gets the threshold line
    col.plotly_chart(plots.per_exit(p.scores[score], list(p.exit_names), line, k, score))
if p.probabilities is not None:
    model = common.load_model(name)
    classes = [model.describe(c) for c in range(p.probabilities.shape[1])]
    st.plotly_chart(plots.exit_heatmap(p.probabilities, list(p.exit_names), k, classes))
if kind != "none":
    live_timing.depth_ui(name, lambda s: with_corruption(name, x, kind, int(s)), crit, thr, list(ax.levels),
                         list(p.exit_names), f"{kind} severity")
