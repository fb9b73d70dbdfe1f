"""Live: speech — a recording, an upload, an example, a test clip or a link's clip, really
exiting layer by layer; or a batch of them. Each piece of work happens once per input:
decoding, the noise mix, the analysis at a threshold; the timing and the exit at each SNR
(one batched real run, no what-if pass) only when asked. The decoder, the noise and the
vocabulary come from the model's registry entry and its own tokenizer, so built-in and
imported models look alike."""


import streamlit as st

from ui.frame import LOADING, page_frame

page_frame()  # the app's frame, also when Streamlit runs this page without the router
st.title("Live: speech")  # drawn first: see ui.frame.LOADING
with st.spinner(LOADING):
    import numpy as np
    import pandas as pd
    import torch

    from explorer import criteria, plots, robustness, zoo
    from explorer.audio import FORMATS_HINT, to_wav_bytes
    from explorer.data.examples import EXAMPLES, speech_examples
    from explorer.memo import memoized
    from explorer.modality.speech import MAX_SECONDS
    from explorer.predict import is_right, logmel, predict_input
    from ui import choice, common, live_shared, live_timing


@memoized(max_entries=64)
def decode_upload(name: str, data: bytes) -> tuple[np.ndarray, tuple[str, ...]]:
    d = zoo.get(name).decode(data)
    return d.x.numpy(), d.warnings


@memoized("Mixing in the noise", max_entries=64)
def noisy(name: str, samples: np.ndarray, kind: str, snr) -> np.ndarray:
    """The clip under one of the model's noisy-set conditions (the entry says how)."""
    if snr == "clean":
        return samples
    return np.asarray(zoo.get(name).noise.apply(torch.from_numpy(samples), kind, snr), np.float32)


@memoized("Running the model", max_entries=256)
def analyse(name: str, samples: np.ndarray, crit: str, thr: float):
    return predict_input(name, torch.from_numpy(samples), crit, thr, timed=False)  # timed when asked (live_timing)


@memoized(max_entries=64)
def spectrogram(name: str, samples: np.ndarray) -> np.ndarray:
    return logmel(name, samples)


name = choice.model_select("live_speech")
st.caption(zoo.get(name).summary)
c1, c2, c3 = st.columns([2, 2, 1])  # shared with every page (and the link)
crit = choice.criterion_select(name, common.causal_criteria(name, exclude=("budget",)), c1)
thr = choice.threshold_widget(name, crit, c2, style="number")
runtime = choice.runtime_select(name, c3)

source, linked = live_shared.input_source(name, crit, thr, ["Example", "Test set", "Upload", "Record"],
                                          "recordings", "transcript")
given, truth = linked or (None, None)  # given: an evaluation input, already the model's input
data = said = None  # said: the words spoken, where they differ from the label
if source == "Test set":
    given, truth, _ = live_shared.test_input(name)
elif source == "Upload":
    # any file type goes to the decoder, which names what it got and says what to do
    up = st.file_uploader(f"{FORMATS_HINT}, up to {common.MAX_UPLOAD_MB} MB (only the first "
                          f"{MAX_SECONDS} s are used)", max_upload_size=common.MAX_UPLOAD_MB)
    data = up.getvalue() if up else None
elif source == "Record":
    rec = st.audio_input("Say a few digits, e.g. a phone number (other words show as <unk>)")
    data = rec.getvalue() if rec else None
elif source != live_shared.LINKED:
    pick = st.selectbox("Example", speech_examples(), format_func=lambda e: f"“{e.said}” — {e.voice} ({e.note})")
    data = (EXAMPLES / pick.file).read_bytes() if pick else None
    truth = pick.text if pick else None
    said = pick.said if pick else None

audio = (given, ()) if given is not None else common.decoded(data, lambda b: decode_upload(name, b), "recording")
if audio is None:
    st.info("Pick an example, upload a recording or record yourself saying some digits.")
    st.stop()
samples, warnings = audio

ax = robustness.axis(name)
n1, n2 = st.columns(2)
kind = choice.linked_select("Noise", list(ax.kinds), "noise", where=n1)
snr = choice.linked_select(ax.label, list(ax.levels), "snr", ax.levels[0], n2, widget="select_slider")
heard = noisy(name, samples, kind, snr)
rate = common.load_model(name).rate
st.audio(to_wav_bytes(live_shared.playable(heard), rate), format="audio/wav")

p = analyse(runtime, heard, crit, float(thr))
k = p.exit
st.markdown(f"### Exit {p.exit_number} of {p.exits_total}: “{p.answer}”\n"
            + (f"{p.heard}\n\n" if p.heard else "")
            + (f"Reference: “{truth}”{f' (said: “{said}”)' if said and said != truth else ''} — "
               f"{common.mark(p.answer, truth, is_right(p, truth))}.\n\n" if truth else "")
            + f"{p.mac_share:.0%} of the full model's MACs.")
live_timing.timing_ui(name, heard, crit, thr)
common.cautions(p, warnings)
table = pd.DataFrame({"layer": p.exit_names, "transcript": p.answers,
                      **{c: p.scores[c] for c in ("ctc_entropy", "ssl_entropy") if c in p.scores},
                      "real run": ["◀ exit" if j == k else "not run (what-if)" if j > k else "run"
                                   for j in range(p.exits_total)]})
st.dataframe(table, hide_index=True)
st.caption("Layers after the exit were never computed by the real run; a separate pass shows what they would say.")
own = criteria.get(crit).score_column
score, line = (own, thr) if own else ("ctc_entropy", None)  # no score of its own: show CTC entropy, no line
st.plotly_chart(plots.per_exit(p.scores[score], list(p.exit_names), line, k, score))
w1, w2 = st.columns(2)
w1.plotly_chart(plots.waveform(heard, rate))
w2.plotly_chart(plots.spectrogram(spectrogram(name, heard), 0.01))
live_timing.depth_ui(name, lambda s: noisy(name, samples, kind, s), crit, thr, list(ax.levels),
                     list(p.exit_names), f"{kind} noise SNR (dB)")
