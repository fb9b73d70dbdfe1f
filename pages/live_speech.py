"""Live: speech — a recording, an upload or an example, really exiting layer by layer."""

import numpy as np
import pandas as pd
import streamlit as st
import torch

from explorer import criteria, plots, robustness
from explorer.audio import RATE, load_audio, to_wav_bytes
from explorer.data.examples import EXAMPLES, load_index
from explorer.noise import make_noise, mix_at_snr
from explorer.predict import logmel, predict_input
from pages import common

MODEL = "speech"
MAX_SECONDS = 60  # longer recordings: only the first minute is used
NOISE = robustness.axis(MODEL)  # the noise kinds and SNRs of the Noise & robustness page


@st.cache_data(show_spinner=False, max_entries=64)
def decode(data: bytes) -> tuple[np.ndarray, bool, bool]:
    audio = load_audio(data, max_seconds=MAX_SECONDS, trim=True)
    return audio.samples, audio.trimmed, audio.clipped


@st.cache_data(show_spinner=False, max_entries=256)
def analyse(samples: np.ndarray, crit: str, thr: float) -> dict:
    return predict_input(MODEL, torch.from_numpy(samples), crit, thr)


@st.cache_data(show_spinner=False, max_entries=64)
def spectrogram(samples: np.ndarray) -> np.ndarray:
    return logmel(MODEL, samples)


def noisy(samples: np.ndarray, kind: str, snr) -> np.ndarray:
    if snr == "clean":
        return samples
    noise = make_noise(kind, len(samples), np.random.default_rng(0))
    return mix_at_snr(samples, noise, float(snr))


st.title("Live: speech")
st.caption("A small HuBERT-style encoder for spoken digits (zero, oh, one … nine), trained here on "
           "synthesized voices. CTC exit branches after every layer (HuBERT-EE) and DAISY's "
           "self-supervised cluster heads.")
c1, c2 = st.columns(2)  # shared with every page (and the link)
crit = common.criterion_select(MODEL, common.causal_criteria(MODEL, exclude=("budget",)), c1)
thr = common.threshold_number(MODEL, crit, c2)

source = st.radio("Input", ["Example", "Upload", "Record"], horizontal=True)
data = None
if source == "Upload":
    up = st.file_uploader(f"WAV, FLAC, OGG or MP3, up to {common.MAX_UPLOAD_MB} MB (only the first {MAX_SECONDS} s "
                          "are used)", type=["wav", "flac", "ogg", "mp3"], max_upload_size=common.MAX_UPLOAD_MB)
    data = up.getvalue() if up else None
elif source == "Record":
    rec = st.audio_input("Say a few digits, e.g. a phone number")
    data = rec.getvalue() if rec else None
else:
    examples = load_index()["speech"]
    pick = st.selectbox("Example", examples, format_func=lambda e: f"“{e['text']}” — {e['voice']} ({e['note']})")
    data = (EXAMPLES / pick["file"]).read_bytes() if pick else None

audio = common.decoded(data, decode, "recording")
samples = None
if audio is not None:
    samples, trimmed, clipped = audio
    if trimmed:
        st.warning(f"The recording is longer than {MAX_SECONDS} s: only its first {MAX_SECONDS} s are used.")
    if clipped:
        st.warning("The recording is clipped (recorded too loud, so the peaks are cut off); "
                   "the transcript may be less reliable. Record a little further from the microphone.")
if samples is None:
    st.info("Pick an example, upload a recording or record yourself saying some digits.")
    st.stop()

n1, n2 = st.columns(2)
kind = n1.selectbox("Noise", NOISE.kinds)
snr = n2.select_slider("SNR (dB)", NOISE.levels, value="clean")
heard = noisy(samples, kind, snr)
st.audio(to_wav_bytes(heard), format="audio/wav")

out = analyse(heard, crit, float(thr))
k, K = out["exit"], out["exits_total"]
st.markdown(f"### Exit {k + 1} of {K}: “{out['prediction']}”\n"
            f"{out['mac_share']:.0%} of the full model's MACs, {out['ms']:.1f} ms "
            f"(the full depth takes about {common.test_profile(MODEL).full('ms'):.1f} ms for a 2 s clip here).")
table = pd.DataFrame([{"layer": r["name"], "transcript": r["prediction"], "CTC entropy": r["ctc_entropy"],
                       "DAISY entropy": r["ssl_entropy"],
                       "real run": "◀ exit" if r["exit"] == k else "not run (what-if)" if r["exit"] > k else "run"}
                      for r in out["per_exit"]])
st.dataframe(table, hide_index=True)
st.caption("Layers after the exit were never computed by the real run; a separate pass shows what they would say.")
own = criteria.get(crit).score_column
score, line = (own, thr) if own else ("ctc_entropy", None)  # no score of its own: show CTC entropy, no line
st.plotly_chart(plots.per_exit(np.array([r[score] for r in out["per_exit"]]), [r["name"] for r in out["per_exit"]],
                               line, k, score))
w1, w2 = st.columns(2)
w1.plotly_chart(plots.waveform(heard, RATE))
w2.plotly_chart(plots.spectrogram(spectrogram(heard), 0.01))
exits = [analyse(noisy(samples, kind, s), crit, float(thr))["exit"] for s in NOISE.levels]
st.plotly_chart(plots.depth_curve(list(NOISE.levels), exits, [r["name"] for r in out["per_exit"]],
                                  f"{kind} noise SNR (dB)"))
