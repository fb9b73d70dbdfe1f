"""Live: text — continue a prompt byte by byte, each byte leaving at its own layer (CALM), or
drafted by the first layers and verified by the rest (LayerSkip), against the full model."""

import streamlit as st

from ui.frame import LOADING, page_frame

page_frame()
st.title("Live: text")  # drawn first: see ui.frame.LOADING
with st.spinner(LOADING):
    import numpy as np

    from explorer import criteria, zoo
    from explorer.compute import slot, step
    from explorer.generate import generate, speculate, token_criteria
    from explorer.memo import memoized
    from explorer.shipped import load_report
    from explorer.text_summary import ways
    from ui import choice, common, text_view

MODES = ("Per-token exits (CALM)", "Self-speculative decoding (LayerSkip)", "The full model")
CRITERIA = ("confidence", "margin", "entropy", "saturation", "learned", "patience")
EXAMPLE = "    def __repr__(self):\n        return "


@memoized(max_entries=16)
def score_range(name: str, crit: str) -> tuple[float, float]:
    """Where the criterion's scores lie at the early exits, on a few windows of the model's
    calibration texts (the built-in's validation corpus, an import's calibration split)."""
    from explorer.text_report import score_range as scores

    entry = zoo.get(name)
    inputs, _ = entry.data(entry.calib_split)
    return scores(zoo.model(name), inputs, criteria.get(crit))


@memoized(max_entries=64)
def full_run(name: str, prompt: str, n: int):
    """The full model's continuation: the comparison every mode and threshold shares. Run
    twice, the second timed: the first pays one-time costs that would flatter every mode's
    speed against it."""
    model = zoo.model(name)
    with slot(), step("generating text with the full model"):  # a bounded share of the cores
        generate(model, [model.encode(prompt)], n)
        return generate(model, [model.encode(prompt)], n)


@memoized(max_entries=64)
def run(name: str, prompt: str, n: int, mode: str, crit: str, thr: float, draft_layers: int, draft_len: int):
    if mode == MODES[2]:
        return full_run(name, prompt, n)
    model = zoo.model(name)
    ids = model.encode(prompt)
    with slot(), step("generating text with exits"):
        if mode == MODES[0]:
            return generate(model, [ids], n, criteria.get(crit), thr)
        return speculate(model, ids, n, draft_layers, draft_len)


name = choice.model_select("live_text")
entry = zoo.get(name)
st.caption(entry.summary)
try:
    model = common.load_model(name)
except ValueError as err:  # no trained model here yet: say how to make one
    st.info(str(err))
    st.stop()
L = model.num_exits
unit = "bytes" if model.vocab_size == 256 else "tokens"  # the built-in model reads bytes; an import, its tokens
rep = load_report(entry.report) if entry.report else None
calibrated = {c: row["threshold"] for c, row in (rep or {}).get("criteria", {}).items() if row.get("certified")}

prompt = st.text_area("Prompt", EXAMPLE, height=90, help=f"The text to continue ({unit})")
c1, c2, c3 = st.columns([2, 2, 1])
mode = c1.radio("How to generate", MODES, key="text.mode")
n = c3.number_input(f"{unit.capitalize()} to generate", 8, 160, 64, step=8)
crit, thr, draft_layers, draft_len = "confidence", 0.9, 1, 4
if mode == MODES[0]:
    offered = [c for c in CRITERIA if c in token_criteria(model)]  # learned: where the model has the classifier
    crit = c2.selectbox("Exit criterion", offered, format_func=lambda c: criteria.get(c).label, key="text.crit")
    if crit == "patience":
        thr = float(c2.slider("Threshold τ (exits in a row)", 1, L - 1, int(calibrated.get(crit, 2))))
    else:
        try:
            lo, hi = score_range(name, crit)
        except ValueError:  # too little calibration text for a window: the criterion's own range
            lo, hi = 0.0, 1.0
        start = float(np.clip(calibrated.get(crit, criteria.get(crit).default), lo, hi))  # the report's, if any
        thr = c2.slider(f"Threshold τ ({criteria.get(crit).label})", lo, hi, start, (hi - lo) / 200, format="%.3f")
elif mode == MODES[1]:
    draft_layers = c2.slider("Draft with the first layers", 1, L - 1, max(1, L // 3))
    draft_len = c2.slider("Tokens drafted before each check", 1, 8, 4)

if not prompt:
    st.info("Type a prompt to continue.")
    st.stop()
if len(model.encode(prompt)) + n > model.context:
    st.warning(f"The prompt and {n} more {unit} exceed the model's context of {model.context} {unit}: "
               f"shorten the prompt or ask for fewer {unit}.")
    st.stop()

with st.spinner("Generating (and the full model, to compare)…"):
    full = full_run(name, prompt, int(n))
    out = run(name, prompt, int(n), mode, crit, float(thr), int(draft_layers), int(draft_len))

pieces = [model.decode([t]) for t in out.tokens[0]]
differs = [a != b for a, b in zip(out.tokens[0], full.tokens[0], strict=True)]
same = 1 - float(np.mean(differs))
m1, m2, m3, m4 = st.columns(4)
m1.metric(f"Mean exit (of {L})", f"{out.mean_exit:.2f}")
if mode == MODES[1]:
    m2.metric("Drafts accepted", f"{100 * out.accepted / max(out.drafted, 1):.0f}%")
else:
    m2.metric("Fewer layers (ideal, by layers)", f"{out.layer_speedup:.2f}×")
m3.metric(f"Same {unit} as the full model", f"{100 * same:.0f}%")
ratio = out.tokens_per_second / full.tokens_per_second
noise = mode == MODES[0] and ratio > 1.02 * out.layer_speedup  # faster than skipping those layers can make it
m4.metric("Tokens per second", f"{out.tokens_per_second:.0f}",
          delta=None if mode == MODES[2] else "against the full model: timing noise" if noise
          else f"{ratio:.2f}× the full model's",
          delta_color="off", help=f"{len(out.tokens[0])} {unit} in {1000 * out.seconds:.0f} ms; the full model: "
                                  f"{full.tokens_per_second:.0f} per second ({1000 * full.seconds:.0f} ms). One run "
                                  "each, on a shared server: a rough figure; the report's are warmed up and repeated "
                                  "(`python -m explorer report text`)")

st.subheader("The continuation")
st.markdown(text_view.legend_html(L), unsafe_allow_html=True)
st.markdown(text_view.tokens_html(pieces, out.exits[0], L, differs, prompt=prompt,
                                        scores=out.scores[0] if out.scores else None,
                                        score_name=crit), unsafe_allow_html=True)
if any(differs):
    first = differs.index(True)
    st.caption(f"Underlined: {unit} that differ from the full model's. The first difference is "
               f"{unit[:-1]} {first + 1}; after it the two texts continue from different {unit}, so later "
               "differences follow from it.")
if mode != MODES[2]:
    with st.expander("The full model's continuation"):
        st.code(full.texts(model)[0], language=None)
st.caption(f"The first {unit[:-1]} always comes from the prompt's pass through every layer. "
           + (f"A {unit[:-1]} that exits skips the later layers; their keys and values at its position are filled from "
              "its hidden state (CALM's state propagation)." if mode == MODES[0] else
              f"Self-speculative decoding always gives the full model's {unit}; it saves time by checking "
              f"several drafted {unit} in one pass." if mode == MODES[1] else ""))

st.subheader("Faster at the same quality: per-token exits against self-speculative decoding")
measured = ways(rep) if rep and "sequence_calibration" in rep else []
if not measured:
    st.caption("Not measured for this model: `python -m explorer report text --checkpoint PATH` times both ways on "
               "test prompts for a model trained here.")
else:
    seq = rep["sequence_calibration"]
    st.table(text_view.ways_table(measured).set_index("how"))
    st.caption(f"Measured by `python -m explorer report text` on {rep['prompts']} test prompts, {rep['bytes']} {unit} "
               f"each, {rep['threads']} thread(s); speedups are tokens per second over the full model's (medians "
               f"of {rep['repeats']} runs), none shown where it beat its own ideal (timing noise). Each threshold "
               f"is CALM's: Learn-then-Test over real generations of {seq['prompts']} validation prompts, so that "
               f"with probability {100 * (1 - seq['delta']):.0f}% a generation's expected 1 − ROUGE-L against the "
               f"full model's is at most {seq['eps']:.2g}. Self-speculative decoding gives exactly the full "
               "model's text.")
