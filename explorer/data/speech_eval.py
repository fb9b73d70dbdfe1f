"""The speech evaluation sets shipped in assets/speech (FLAC + JSON), and their noisy versions.

Held-out voices only: `val` (calibration: thresholds are chosen here), `test_a`
(unseen voices of the training engines), `test_b` (unseen whole voices), and, from the
same never-trained voices, `test_c` (speech without digits: words and sentences) and
`test_d` (digits inside carrier phrases, "my number is …"); and `test_e`, recordings of
people (IVR prompts and test recordings with digits, `real_speech`; its own licence,
LICENSE-test_e.md). One FLAC file per split holds its clips back to back; the manifest
gives offsets, labels, what was said and voices. Noisy versions (`noisy_version`, also
what the live page mixes) are made on the fly, deterministically, at the SNRs of the
noise experiments.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf

from .. import noise as _noise  # called through the module: tests count the noise made
from ..audio import RATE
from ..noise import NOISE_TYPES, TEST_SNRS_DB
from ..paths import ASSETS
from .speech_corpus import load_split

EVAL_DIR = ASSETS / "speech"
SIZES = {"val": 300, "test_a": 300, "test_b": 200, "test_c": 200, "test_d": 200}


def noisy_version(clip: np.ndarray, kind: str, snr_db: float, seed: int = 0,
                  babble_pool: list[np.ndarray] | None = None) -> np.ndarray:
    """`clip` mixed with noise of `kind` at `snr_db` dB SNR. Deterministic for `seed`: one
    noise sample per (seed, kind) serves every SNR, so SNRs differ only in the noise
    level. Without `babble_pool` babble is synthetic; pass clips of other utterances
    (never the clip's own) for real babble."""
    noise = _noise.make_noise(kind, len(clip), np.random.default_rng([seed, NOISE_TYPES.index(kind)]), babble_pool)
    return _noise.mix_at_snr(clip, noise, snr_db)


def noisy_versions(clip: np.ndarray, seed: int,
                   babble_pool: list[np.ndarray] | None = None) -> dict[tuple[str, int], np.ndarray]:
    """{(noise type, SNR dB): noisy clip} for every type in NOISE_TYPES and TEST_SNRS_DB
    (the clean clip itself is the fifth condition)."""
    return {(kind, snr): noisy_version(clip, kind, snr, seed, babble_pool)
            for kind in NOISE_TYPES for snr in TEST_SNRS_DB}


def export(corpus_dir: Path | None = None, out: Path = EVAL_DIR, sizes: dict = SIZES, seed: int = 0,
           splits: tuple[str, ...] | None = None) -> Path:
    """Pick `sizes` clips per split from the synthesized corpus and write them as FLAC
    (`splits`: only these, keeping the others' files and manifest entries). The shipped
    val, test_a and test_b clips were drawn by version 1 of the corpus and are kept, so
    that models are compared on the same clips; test_c and test_d come from version 2.
    Entries of other splits (test_e, recorded: `real_speech`) are kept."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {}
    for split, n in sizes.items():
        if splits and split not in splits:
            continue
        rng = np.random.default_rng([seed, list(SIZES).index(split)])
        clips = load_split(split, corpus_dir)
        chosen = sorted(rng.choice(len(clips), min(n, len(clips)), replace=False))
        audio, rows, offset = [], [], 0
        for i in chosen:
            c = clips[i]
            audio.append(c.pcm)
            rows.append({"text": c.text, "said": c.said, "voice": f"{c.engine}:{c.voice}", "offset": offset,
                         "n": len(c.pcm)})
            offset += len(c.pcm)
        sf.write(out / f"{split}.flac", np.concatenate(audio), RATE, subtype="PCM_16")
        manifest[split] = rows
    path.write_text(json.dumps(manifest))
    return out


@cache
def _split(split: str) -> tuple[tuple[np.ndarray, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    manifest = json.loads((EVAL_DIR / "manifest.json").read_text())
    if split not in manifest:
        raise ValueError(f"unknown speech split {split!r}; choose one of {', '.join(manifest)}")
    audio, _ = sf.read(EVAL_DIR / f"{split}.flac", dtype="float32")
    rows = manifest[split]
    clips = tuple(audio[r["offset"]:r["offset"] + r["n"]] for r in rows)
    return (clips, tuple(r["text"] for r in rows), tuple(r["voice"] for r in rows),
            tuple(r.get("said", r["text"]) for r in rows))


def load_eval(split: str, noise: str | None = None, snr: int | None = None):
    """(clips float32 16 kHz, labels, voices); with `noise` and `snr`, each clip mixed
    with that noise (babble from the split's other clips), the same every time."""
    clips, texts, voices, _ = _split(split)
    if noise is not None:
        clips = tuple(noisy_version(c, noise, int(snr), seed=i,
                                    babble_pool=[clips[(i + j) % len(clips)] for j in (1, 2, 3, 5)])
                      for i, c in enumerate(clips))
    return list(clips), list(texts), list(voices)


def said(split: str) -> list[str]:
    """What each clip of a shipped split says, in words (its label spells other words as <unk>)."""
    return list(_split(split)[3])
