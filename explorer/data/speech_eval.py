"""The compact speech evaluation set shipped in assets/speech (FLAC + JSON).

Held-out voices only: `val` (calibration: thresholds are chosen here), `test_a`
(unseen voices of the training engines) and `test_b` (unseen whole voices). One FLAC
file per split holds its clips back to back; the manifest gives offsets, texts and
voices. Noisy versions are made on the fly, deterministically, at the SNRs of the
noise experiments.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import soundfile as sf

from ..paths import ASSETS
from .speech_corpus import RATE, load_split, noisy_versions

EVAL_DIR = ASSETS / "speech"
SIZES = {"val": 300, "test_a": 300, "test_b": 200}


def export(corpus_dir: Path | None = None, out: Path = EVAL_DIR, sizes: dict = SIZES, seed: int = 0) -> Path:
    """Pick `sizes` clips per split from the synthesized corpus and write them as FLAC."""
    out.mkdir(parents=True, exist_ok=True)
    manifest = {}
    rng = np.random.default_rng(seed)
    for split, n in sizes.items():
        clips = load_split(split, corpus_dir)
        chosen = sorted(rng.choice(len(clips), min(n, len(clips)), replace=False))
        audio, rows, offset = [], [], 0
        for i in chosen:
            c = clips[i]
            audio.append(c.pcm)
            rows.append({"text": c.text, "voice": f"{c.engine}:{c.voice}", "offset": offset, "n": len(c.pcm)})
            offset += len(c.pcm)
        sf.write(out / f"{split}.flac", np.concatenate(audio), RATE, subtype="PCM_16")
        manifest[split] = rows
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


@cache
def _split(split: str) -> tuple[tuple[np.ndarray, ...], tuple[str, ...], tuple[str, ...]]:
    manifest = json.loads((EVAL_DIR / "manifest.json").read_text())
    if split not in manifest:
        raise ValueError(f"unknown speech split {split!r}; choose one of {', '.join(manifest)}")
    audio, _ = sf.read(EVAL_DIR / f"{split}.flac", dtype="float32")
    rows = manifest[split]
    clips = tuple(audio[r["offset"]:r["offset"] + r["n"]] for r in rows)
    return clips, tuple(r["text"] for r in rows), tuple(r["voice"] for r in rows)


def load_eval(split: str, noise: str | None = None, snr: int | None = None):
    """(clips float32 16 kHz, texts, voices); with `noise` and `snr`, each clip mixed
    with that noise (babble from the split's other clips), the same every time."""
    clips, texts, voices = _split(split)
    if noise is not None:
        clips = tuple(noisy_versions(c, seed=i, babble_pool=[clips[(i + j) % len(clips)] for j in (1, 2, 3, 5)])
                      [(noise, int(snr))] for i, c in enumerate(clips))
    return list(clips), list(texts), list(voices)
