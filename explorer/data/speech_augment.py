"""Training augmentation and voice styles for the speech corpus (numpy and soxr only).

`augment` alters a clean clip afresh for every training batch (speed, voice warping,
reverberation, noise, channel colouring, gain). `female`, `child` and `whisper` are
voice styles the corpus bakes into some training clips of its male voices: vocal-tract
length and pitch warped toward female and child ranges, and whispered speech (no
voicing), which the synthesizers' own voices hardly cover.
"""

from __future__ import annotations

import numpy as np
import soxr

from ..audio import RATE
from ..noise import NOISE_TYPES, make_noise, mix_at_snr, power


def change_speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play `factor` times faster by resampling: shorter, and every frequency (pitch and
    formants) `factor` times higher - like Kaldi's speed perturbation."""
    return soxr.resample(np.asarray(x, np.float32), RATE * factor, RATE, "HQ")


def time_stretch(x: np.ndarray, rate: float, frame: int = 320, tolerance: int = 80) -> np.ndarray:
    """Change duration by 1/`rate` without changing pitch (WSOLA).

    Output frames (20 ms, 50% overlap) are copied from the input at `rate` times the
    output hop; each is shifted by up to `tolerance` samples (5 ms) to where it best
    continues the previous frame, which avoids the phasey sound of plain overlap-add.
    """
    x = np.asarray(x, np.float64)
    hop = frame // 2
    n_out = int(round(len(x) / rate))
    window = np.hanning(frame + 1)[:frame]  # periodic Hann: overlapping copies add to 1
    padded = np.pad(x, (tolerance, 2 * (frame + tolerance) + int(rate * hop)))
    out = np.zeros(n_out + frame)
    prev = 0  # where (in x) the previous frame was taken from
    for k in range(n_out // hop + 1):
        nominal = int(round(k * hop * rate))
        if k == 0:
            start = nominal
        else:  # best match for the natural continuation of the previous frame
            target = padded[tolerance + prev + hop: tolerance + prev + hop + frame]
            region = padded[nominal: nominal + frame + 2 * tolerance]
            similarity = np.correlate(region, target, "valid")
            # in silence there is nothing to match: stay on the nominal position
            start = nominal - tolerance + int(np.argmax(similarity)) if similarity.max() > 0 else nominal
        start = min(max(start, 0), len(x))
        out[k * hop: k * hop + frame] += window * padded[tolerance + start: tolerance + start + frame]
        prev = start
    return out[:n_out].astype(np.float32)


def warp_voice(x: np.ndarray, factor: float) -> np.ndarray:
    """Same duration, all frequencies x `factor`: a smaller (>1) or larger (<1) speaker.

    Speeding up by resampling scales pitch and formants (vocal tract length) together;
    stretching the result back to its old length with WSOLA restores the timing. This is
    a waveform version of vocal tract length perturbation (VTLP, Jaitly & Hinton 2013).
    """
    return time_stretch(change_speed(x, factor), 1.0 / factor)[: len(x)]


def colour(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random microphone/channel: smooth EQ of a few +-9 dB bumps on a log-frequency
    axis, and sometimes a telephone band (300-3400 Hz). Zero-phase, applied by FFT."""
    n = _fast_len(len(x))  # zero-padded to a fast FFT size
    spectrum = np.fft.rfft(x, n)
    freqs = np.maximum(np.fft.rfftfreq(n, 1.0 / RATE), 1.0)
    octaves = np.log2(freqs / 1000.0)
    gain_db = np.zeros_like(freqs)
    for _ in range(rng.integers(1, 5)):
        centre, width = rng.uniform(-2.5, 2.5), rng.uniform(0.3, 1.5)  # 180 Hz-5.7 kHz, in octaves
        gain_db += rng.uniform(-9, 9) * np.exp(-0.5 * ((octaves - centre) / width) ** 2)
    if rng.random() < 0.2:  # telephone band: steep roll-off below 300 and above 3400 Hz
        gain_db -= 40 * (np.clip(np.log2(300 / freqs), 0, 1) + np.clip(np.log2(freqs / 3400), 0, 1))
    return np.fft.irfft(spectrum * 10 ** (gain_db / 20), n)[: len(x)].astype(np.float32)


def reverberate(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random room: convolve with a synthetic impulse response (direct sound plus
    exponentially decaying noise, RT60 0.15-0.8 s), keep length and loudness."""
    rt60 = rng.uniform(0.15, 0.8)
    t = np.arange(int(rt60 * RATE)) / RATE
    tail = rng.standard_normal(len(t)) * np.exp(-6.9 * t / rt60)  # -60 dB (e^-6.9) at rt60
    # reverberant energy from 12 dB below to 3 dB above the direct sound's
    ir = 10 ** (rng.uniform(-12, 3) / 20) * tail / np.sqrt(np.sum(tail**2))
    ir[0] = 1.0
    n = _fast_len(len(x) + len(ir) - 1)
    wet = np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(ir, n), n)[: len(x)]
    return (wet * np.sqrt(power(x) / max(power(wet), 1e-12))).astype(np.float32)


def augment(samples: np.ndarray, rng: np.random.Generator,
            babble_pool: list[np.ndarray] | None = None, babble_share: float | None = None,
            babble_snr: tuple[float, float] = (5.0, 30.0)) -> np.ndarray:
    """A randomly altered copy of a clean 16 kHz clip, for one training epoch.

    Pure: the same `rng` state gives the same result. Each step is applied with some
    probability, so some clips stay close to clean:

    - speed (p=0.5): 0.9-1.1x by resampling (length changes by at most +-10%);
    - voice warp (p=0.5): pitch and formants x0.88-1.2, duration kept (`warp_voice`),
      more often up (toward female and child voices) than down;
    - reverberation (p=0.3): a random synthetic room (`reverberate`);
    - noise (p=0.7): white, pink or babble (from `babble_pool`: clips of other
      utterances, else synthetic babble) at 5-30 dB SNR. With `babble_share`, babble is
      that share of the noise (white and pink split the rest) and is mixed at `babble_snr`
      dB instead (None: the three types equally, all at 5-30 dB);
    - channel colouring (p=0.5): random EQ, sometimes a telephone band (`colour`);
    - gain: -15 to +5 dB, scaled back if it would clip.
    """
    x = np.asarray(samples, np.float32)
    if rng.random() < 0.5:
        x = change_speed(x, rng.uniform(0.9, 1.1))
    if rng.random() < 0.5:
        x = warp_voice(x, rng.uniform(0.88, 1.2))
    if rng.random() < 0.3:
        x = reverberate(x, rng)
    if rng.random() < 0.7 and power(x) > 0:
        if babble_share is None:
            kind, snr = NOISE_TYPES[int(rng.integers(len(NOISE_TYPES)))], (5.0, 30.0)
        else:
            kind = "babble" if rng.random() < babble_share else ("white", "pink")[int(rng.integers(2))]
            snr = babble_snr if kind == "babble" else (5.0, 30.0)
        x = mix_at_snr(x, make_noise(kind, len(x), rng, babble_pool), rng.uniform(*snr))
    if rng.random() < 0.5:
        x = colour(x, rng)
    x = x * 10 ** (rng.uniform(-15, 5) / 20)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return (x / peak if peak > 1 else x).astype(np.float32)


def _fast_len(n: int) -> int:
    """The next power of two: FFTs of other lengths (large prime factors) can be 100x slower."""
    return 1 << max(n - 1, 0).bit_length()


# --- Voice styles (baked into training clips by the corpus) ------------------------------------

STYLES = ("", "female", "child", "whisper",  # "": the voice as the engine makes it
          "whisper_female", "breathy", "breathy_female", "warp")  # version 3 of the corpus
# (engine pitch factor, formant/VTLP factor) of each warped style, on top of the clip's own
# pitch: a male voice at ~100 Hz becomes ~180 Hz with formants 18% higher (female), or
# ~260 Hz with formants 30% higher (child). Formants move with `warp_voice`, which also
# raises the pitch by the same factor.
STYLE_WARPS = {"female": (1.5, 1.18), "child": (2.0, 1.30)}
# Styles made of a warp and a voice quality: (warp style, "whisper" or "breathy").
COMBINED_STYLES = {"whisper_female": ("female", "whisper"), "breathy_female": ("female", "breathy"),
                   "breathy": ("", "breathy")}
WARP_PITCH = (0.8, 1.7)  # "warp": the engine's pitch x a factor drawn per clip (log-uniform) ...
WARP_FORMANTS = (0.88, 1.3)  # ... formants x another (`warp_voice`) ...
WARP_TEMPO = (0.85, 1.18)  # ... and the tempo x a third (`time_stretch`, pitch kept)
BREATHY_VOICING = (0.15, 0.5)  # "breathy": share of the voiced clip's power kept, the rest whispered


def style_pitch(style: str, rng: np.random.Generator | None = None) -> float:
    """The pitch factor the engine applies for a voice style ("warp": drawn from `rng`)."""
    if style == "warp":
        if rng is None:
            raise ValueError("the warp style draws its pitch: pass the plan's generator")
        return float(np.exp(rng.uniform(*np.log(WARP_PITCH))))
    return STYLE_WARPS.get(COMBINED_STYLES.get(style, (style,))[0], (1.0,))[0]


def whisper(x: np.ndarray, rng: np.random.Generator, order: int = 18, frame: int = 400) -> np.ndarray:
    """Whispered speech: the same vocal-tract filter (LPC per 25 ms frame) excited by
    noise instead of the voice's pulses. Same length and loudness; deterministic for `rng`."""
    from scipy.linalg import solve_toeplitz
    from scipy.signal import lfilter

    x = np.asarray(x, np.float64)
    hop = frame // 2
    window = np.hanning(frame + 1)[:frame]  # periodic Hann: halves overlap-add to 1
    padded = np.pad(x, (0, frame + (-len(x)) % hop))
    out = np.zeros_like(padded)
    for start in range(0, len(padded) - frame + 1, hop):
        seg = padded[start:start + frame] * window
        energy = float(np.dot(seg, seg))
        if energy < 1e-10:
            continue
        r = np.correlate(seg, seg, "full")[frame - 1: frame + order]
        r[0] *= 1.0 + 1e-6  # a little white-noise correction keeps the system well-conditioned
        a = np.concatenate([[1.0], -solve_toeplitz(r[:order], r[1:order + 1])])
        residual = lfilter(a, [1.0], seg)
        excitation = rng.standard_normal(frame) * np.sqrt(np.mean(residual**2))
        out[start:start + frame] += window * lfilter([1.0], a, excitation)
    out = out[: len(x)]
    return (out * np.sqrt(power(x) / max(power(out), 1e-12))).astype(np.float32)


def breathy(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A breathy voice: the clip mixed with its whispered copy (`BREATHY_VOICING` of the power
    voiced), at the clip's loudness; deterministic for `rng`."""
    x = np.asarray(x, np.float32)
    voiced = rng.uniform(*BREATHY_VOICING)
    out = np.sqrt(voiced) * x + np.sqrt(1 - voiced) * whisper(x, rng)
    return (out * np.sqrt(power(x) / max(power(out), 1e-12))).astype(np.float32)


def apply_style(x: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """A clip in a voice style (the engine already applied the style's pitch factor,
    `style_pitch`)."""
    if style in STYLE_WARPS:
        return warp_voice(x, STYLE_WARPS[style][1])
    if style == "whisper":
        return whisper(x, rng)
    if style in COMBINED_STYLES:
        warp, quality = COMBINED_STYLES[style]
        x = warp_voice(x, STYLE_WARPS[warp][1]) if warp else np.asarray(x, np.float32)
        return whisper(x, rng) if quality == "whisper" else breathy(x, rng)
    if style == "warp":
        formants, tempo = rng.uniform(*WARP_FORMANTS), rng.uniform(*WARP_TEMPO)
        return time_stretch(warp_voice(x, formants), tempo)
    if style:
        raise ValueError(f"unknown voice style {style!r}; choose one of {', '.join(map(repr, STYLES))}")
    return np.asarray(x, np.float32)
