"""Noisy variants of an imported model's test split, built on demand: the project's noise
types (white, pink, babble) at 20, 10, 5 and 0 dB SNR mixed into its test clips, or the
project's image corruptions at severities 1-5 applied to its test pictures.

The noise goes in before the checkpoint's own processor (`preparer`), as it would reach a
microphone or a camera: the processor then normalises the noisy waveform or picture as it
does any input. Each file gets its own seed (its position in the split), so a noisy set is
the same on every run. `apply` puts one already prepared input (an upload on a live page)
under the same condition: it undoes the processor's normalisation, adds the noise and
prepares the result again.
"""

from __future__ import annotations

import zlib

import numpy as np


def axis(name: str, task: str):
    """The NoiseAxis of an imported model of `task` ("ctc": speech noise; else image corruptions)."""
    from .zoo import NoiseAxis

    def one(x, kind: str, level):
        return apply(name, x, kind, level)

    if task == "ctc":
        from .noise import NOISE_TYPES, TEST_SNRS_DB

        def variant(kind: str, level) -> dict:
            return {} if level == "clean" else {"noise": kind, "snr": int(level)}

        return NoiseAxis(NOISE_TYPES, ("clean", *TEST_SNRS_DB), "SNR (dB)", variant,
                         "its test clips mixed with white, pink and babble noise at 20 to 0 dB SNR (made on first use)",
                         apply=one)
    from .corruptions import CORRUPTIONS, MAX_SEVERITY

    def variant(kind: str, level) -> dict:
        return {} if not int(level) else {"corruption": kind, "severity": int(level)}

    return NoiseAxis(CORRUPTIONS, tuple(range(MAX_SEVERITY + 1)), "corruption severity (0 = clean)", variant,
                     "its test pictures under each corruption at severities 1–5 (made on first use)", apply=one)


def _seed(i: int, kind: str) -> int:
    return zlib.crc32(f"{kind}:{i}".encode())


def noisy_waveform(samples: np.ndarray, kind: str, snr: float, seed: int, rate: int = 16_000) -> np.ndarray:
    """One clip with `kind` noise mixed in at `snr` dB (the noise is made at 16 kHz and
    resampled to the model's rate when that differs)."""
    from .noise import make_noise, mix_at_snr

    n = len(samples) if rate == 16_000 else int(round(len(samples) * 16_000 / rate))
    noise = make_noise(kind, n, np.random.default_rng(seed))
    if rate != 16_000:
        import soxr

        noise = soxr.resample(noise, 16_000, rate).astype(np.float32)[: len(samples)]
        noise = np.pad(noise, (0, len(samples) - len(noise)))
    return mix_at_snr(np.asarray(samples, np.float32), noise, float(snr)).astype(np.float32)


def corrupted_picture(rgb: np.ndarray, kind: str, severity: int, seed: int) -> np.ndarray:
    """[H, W, C] in [0, 1] under a corruption: every channel gets the same random draws (one
    occluded square, grey noise, black and white salt and pepper)."""
    from .corruptions import corrupt

    return np.stack([corrupt(rgb[..., c], kind, int(severity), seed=seed) for c in range(rgb.shape[-1])], -1)


def preparer(model, variant: dict):
    """`prepare` for folders.load_part: the model's own, after the variant's noise."""
    if not variant:
        return model.prepare
    count = iter(range(1 << 62))
    if "noise" in variant:
        kind, snr = variant["noise"], variant["snr"]
        rate = getattr(model, "rate", 16_000)
        return lambda samples: model.prepare(noisy_waveform(samples, kind, snr, _seed(next(count), kind), rate))
    kind, severity = variant["corruption"], variant["severity"]

    def prepare(picture):
        from PIL import Image

        rgb = np.asarray(picture.convert("RGB"), np.float32) / 255
        out = corrupted_picture(rgb, kind, severity, _seed(next(count), kind))
        return model.prepare(Image.fromarray(np.round(out * 255).astype(np.uint8)))
    return prepare


def apply(name: str, x, kind: str, level):
    """One prepared input of imported model `name` under (kind, level) (the clean level: as is)."""
    import torch

    from . import zoo

    model = zoo.model(name)
    if kind == "none" or level == "clean" or (model.family == "image" and not int(level)):
        return x  # the clean level
    if model.family == "speech":
        return model.prepare(noisy_waveform(x.numpy(), kind, float(level), _seed(0, kind), model.rate))
    from .eval_inputs import picture

    rgb = picture(model, x)
    out = corrupted_picture(rgb, kind, int(level), _seed(0, kind))
    from PIL import Image

    return model.prepare(Image.fromarray(np.round(out * 255).astype(np.uint8))).to(torch.float32)
