"""Background noise for speech: white, pink and babble, mixed at an exact SNR.

All noise is returned with unit power (mean square 1), float32, so that
`mix_at_snr` alone decides the level. Everything is deterministic given the
`numpy.random.Generator` passed in.

The signal-to-noise ratio is measured over the whole clip:
``SNR = 10 log10(mean(speech**2) / mean(noise**2))`` (pauses included), which is
how noisy test sets are usually defined.
"""

from __future__ import annotations

import numpy as np

from explorer.audio import RATE
from explorer.errors import InputError

NOISE_TYPES = ("white", "pink", "babble")
TEST_SNRS_DB = (20, 10, 5, 0)  # the noisy test sets: every noise type at each of these SNRs

# Pink noise: power falls as 1/f. Below this frequency we keep the spectrum flat,
# otherwise long clips would be dominated by inaudible rumble near 0 Hz.
_PINK_FLOOR_HZ = 20.0
# Synthetic babble: frequency bands (Hz) that carry speech energy, each amplitude
# modulated separately, and the syllable rate of the modulation.
_BABBLE_BANDS_HZ = ((100, 500), (500, 1200), (1200, 2500), (2500, 5000))
_SYLLABLES_PER_S = (3.0, 6.0)


def make_noise(kind: str, n: int, rng: np.random.Generator,
               babble_pool: list[np.ndarray] | None = None) -> np.ndarray:
    """`n` samples (16 kHz) of noise of one of `NOISE_TYPES`, with unit power.

    - white: independent Gaussian samples (flat spectrum).
    - pink: white noise shaped to a 1/f power spectrum (more power at low frequencies).
    - babble: several people talking at once. With a `babble_pool` (clips of other
      utterances; the caller leaves out the clip being corrupted), 3 to 6 of them
      are looped or cropped to `n` samples from random start points, brought to the
      same level and summed. Without a pool, a speech-like stand-in is synthesized:
      3 to 6 "talkers", each pink noise split into speech bands whose loudness
      rises and falls at a syllable rate (3-6 Hz) with pauses - it has the spectrum
      and rhythm of distant chatter but no words.
    """
    if kind not in NOISE_TYPES:
        raise ValueError(f"unknown noise type {kind!r}; choose one of {', '.join(NOISE_TYPES)}")
    n = int(n)
    if n <= 0:
        return np.zeros(0, np.float32)
    fast_n = 1 << (n - 1).bit_length()  # FFTs of odd lengths can be 100x slower: make it a power of 2
    if kind == "white":
        noise = rng.standard_normal(n)
    elif kind == "pink":
        noise = _pink(fast_n, rng)[:n]
    elif babble_pool:
        noise = _babble_from_pool(n, rng, babble_pool)
    else:
        noise = _synthetic_babble(fast_n, rng)[:n]
    return _unit_power(noise)


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Speech plus noise scaled so that the mix has exactly `snr_db` dB SNR.

    The SNR is relative to the speech's mean power over the whole clip. If the sum
    would go beyond +-1 (clipping), speech and noise are scaled down together, so
    the SNR stays exact. `noise` must be as long as `speech`.
    """
    speech = np.asarray(speech, np.float64)
    noise = np.asarray(noise, np.float64)
    if speech.shape != noise.shape:
        raise ValueError(f"speech and noise lengths differ: {speech.shape} vs {noise.shape}")
    p_speech, p_noise = power(speech), power(noise)
    if not p_speech > 0:
        raise InputError("Cannot add noise at a given signal-to-noise ratio: the recording is silent.")
    if not p_noise > 0:
        raise ValueError("the noise is all zeros")
    gain = np.sqrt(p_speech / (p_noise * 10.0 ** (snr_db / 10.0)))
    mix = speech + gain * noise
    peak = np.max(np.abs(mix))
    if peak > 1.0:  # scale both parts together: no clipping, same SNR
        mix /= peak
    return mix.astype(np.float32)


def power(x: np.ndarray) -> float:
    """Mean square of a clip (0 for an empty one), in float64."""
    x = np.asarray(x)
    return float(np.mean(np.square(x, dtype=np.float64))) if x.size else 0.0


def _unit_power(x: np.ndarray) -> np.ndarray:
    p = power(x)
    return (x / np.sqrt(p) if p > 0 else x).astype(np.float32)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    """White noise whose amplitude spectrum is divided by sqrt(f): 1/f power."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / RATE)
    spectrum /= np.sqrt(np.maximum(freqs, _PINK_FLOOR_HZ))
    spectrum[0] = 0.0  # no DC offset
    return np.fft.irfft(spectrum, n)


def _bands(x: np.ndarray) -> list[np.ndarray]:
    """`x` split into the speech bands of `_BABBLE_BANDS_HZ` (brick-wall FFT filters)."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1.0 / RATE)
    return [np.fft.irfft(np.where((freqs >= lo) & (freqs < hi), spectrum, 0.0), len(x))
            for lo, hi in _BABBLE_BANDS_HZ]


def _syllable_envelope(n: int, rng: np.random.Generator) -> np.ndarray:
    """A loudness curve that rises and falls like syllables, with some pauses.

    Random levels at the syllable rate, joined by straight lines; negative levels
    become silence, so roughly a third of the time this talker pauses.
    """
    rate = rng.uniform(*_SYLLABLES_PER_S)
    n_points = int(n / RATE * rate) + 2
    levels = rng.uniform(-0.5, 1.0, n_points)
    env = np.interp(np.arange(n), np.linspace(0, n, n_points), levels)
    return np.maximum(env, 0.0) ** 1.5


def _synthetic_babble(n: int, rng: np.random.Generator) -> np.ndarray:
    """Speech-like babble without a pool: band-wise modulated pink noise talkers."""
    total = np.zeros(n)
    for _ in range(rng.integers(3, 7)):  # 3-6 talkers
        talker = sum(band * _syllable_envelope(n, rng) for band in _bands(_pink(n, rng)))
        total += _unit_power(talker)
    return total


def _babble_from_pool(n: int, rng: np.random.Generator, pool: list[np.ndarray]) -> np.ndarray:
    """Sum of 3-6 clips from `pool`, each looped/cropped to `n` from a random start."""
    usable = [i for i, clip in enumerate(pool) if np.size(clip) > 0 and power(np.asarray(clip)) > 0]
    if not usable:
        return _synthetic_babble(n, rng)
    k = int(rng.integers(3, 7))
    chosen = rng.choice(usable, size=k, replace=len(usable) < k)
    total = np.zeros(n)
    for i in chosen:
        clip = np.asarray(pool[i], np.float64).ravel()
        start = int(rng.integers(len(clip)))
        looped = np.resize(np.roll(clip, -start), n)  # np.resize repeats the clip as needed
        total += _unit_power(looped)
    return total
