"""Noise for speech: exact SNR, deterministic, and each noise sounds like its name."""

import numpy as np
import pytest

from explorer.errors import InputError
from explorer.noise import NOISE_TYPES, RATE, make_noise, mix_at_snr


def _speech_like(n=RATE * 2, seed=0):
    """A vowel-ish test signal with pauses: harmonics of 120 Hz, switched on and off."""
    t = np.arange(n) / RATE
    voiced = sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 15))
    gate = (np.sin(2 * np.pi * 2 * t) > -0.3).astype(float)
    return (0.3 * voiced * gate).astype(np.float32)


def snr_db(speech, noise, mix):
    """The SNR inside `mix`: find mix = a*speech + b*noise (least squares; a = b = 1
    unless the mix was scaled down), then compare the powers of the two parts."""
    parts = np.stack([speech, noise], axis=1).astype(float)
    (a, b), *_ = np.linalg.lstsq(parts, mix.astype(float), rcond=None)
    return 10 * np.log10(np.mean((a * speech.astype(float)) ** 2) / np.mean((b * noise.astype(float)) ** 2))


def _band_power(x, lo, hi):
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return spectrum[(freqs >= lo) & (freqs < hi)].sum() / spectrum.sum()


@pytest.mark.parametrize("kind", NOISE_TYPES)
@pytest.mark.parametrize("snr", [30, 20, 10, 5, 0, -5])
def test_mix_has_the_requested_snr(kind, snr):
    speech = _speech_like()
    noise = make_noise(kind, len(speech), np.random.default_rng(1))
    mix = mix_at_snr(speech, noise, snr)
    assert mix.dtype == np.float32 and mix.shape == speech.shape
    assert abs(snr_db(speech, noise, mix) - snr) < 0.1


def test_loud_mix_is_scaled_not_clipped_and_keeps_its_snr():
    speech = _speech_like() * 3.0  # peaks far above full scale
    noise = make_noise("white", len(speech), np.random.default_rng(2))
    mix = mix_at_snr(speech, noise, 0)
    assert np.max(np.abs(mix)) <= 1.0 + 1e-6
    assert abs(snr_db(speech, noise, mix) - 0) < 0.1


@pytest.mark.parametrize("kind", NOISE_TYPES)
def test_noise_is_deterministic_for_a_seed_and_has_unit_power(kind):
    a = make_noise(kind, 16000, np.random.default_rng(7))
    b = make_noise(kind, 16000, np.random.default_rng(7))
    c = make_noise(kind, 16000, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and len(a) == 16000 and np.all(np.isfinite(a))
    assert np.mean(a.astype(float) ** 2) == pytest.approx(1.0, rel=1e-3)


def test_pink_has_more_low_frequency_power_than_white():
    rng = np.random.default_rng(3)
    white, pink = make_noise("white", RATE * 4, rng), make_noise("pink", RATE * 4, rng)
    low_white, low_pink = _band_power(white, 20, 500), _band_power(pink, 20, 500)
    assert low_pink > 3 * low_white
    assert _band_power(pink, 4000, 8000) < _band_power(white, 4000, 8000) / 3


def test_babble_from_pool_uses_the_pool_and_is_deterministic():
    pool = [_speech_like(RATE // 2 + 100 * i) for i in range(8)]
    a = make_noise("babble", RATE * 3, np.random.default_rng(4), pool)
    b = make_noise("babble", RATE * 3, np.random.default_rng(4), pool)
    np.testing.assert_array_equal(a, b)
    # the pool is a 120 Hz harmonic series: the babble's energy sits on those harmonics
    assert _band_power(a, 100, 140) > 0.1
    synthetic = make_noise("babble", RATE * 3, np.random.default_rng(4))
    assert _band_power(synthetic, 100, 140) < 0.1


def _loudness_fluctuation(x, frame=320):
    """Std/mean of the power of 20 ms frames: about 0.08 for steady white noise."""
    power = (x[: len(x) // frame * frame].astype(float).reshape(-1, frame) ** 2).mean(axis=1)
    return power.std() / power.mean()


def test_synthetic_babble_rises_and_falls_like_speech():
    for seed in range(5):
        babble = make_noise("babble", RATE * 4, np.random.default_rng(seed))
        white = make_noise("white", RATE * 4, np.random.default_rng(seed))
        assert _loudness_fluctuation(babble) > 2.5 * _loudness_fluctuation(white)
        assert _band_power(babble, 100, 5000) > 0.95  # speech bands only


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown noise type"):
        make_noise("traffic", 10, np.random.default_rng(0))
    with pytest.raises(InputError, match="silent"):
        mix_at_snr(np.zeros(100), np.ones(100), 10)
    with pytest.raises(ValueError, match="lengths differ"):
        mix_at_snr(np.ones(100), np.ones(99), 10)
    assert make_noise("pink", 0, np.random.default_rng(0)).shape == (0,)
