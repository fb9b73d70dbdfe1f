"""Recordings: transcripts, judged by word error rate, under noise at an SNR."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..audio import RATE
from ..errors import InputError
from ..quality import WER
from .base import Decoded, Listing, Modality, NoiseAxis, seed

log = logging.getLogger(__name__)
SUFFIXES = {".flac", ".wav", ".ogg", ".opus", ".mp3"}
MAX_SECONDS = 60  # longer uploads: only the first minute is used
MAX_FILE_SECONDS = 120  # a folder's recording may be longer, not unboundedly
SHIFT_SNR = 10  # the headline's noisy sets: 10 dB, a busy room, where early exits start to go wrong


class Speech(Modality):
    name = "speech"
    quality = WER
    live_page = "live_speech"
    daisy = True
    attention_exits = True

    # ---- files ------------------------------------------------------------------------------
    def list_files(self, root: Path) -> Listing:
        """A LibriSpeech-style tree (`*.trans.txt` beside the audio), or metadata.csv with
        file_name,transcription (Hugging Face audiofolder)."""
        from ..folders import read_metadata

        if (root / "metadata.csv").is_file():
            return Listing("metadata.csv", *read_metadata(root, "transcription"))
        files, targets, missing = _librispeech(root)
        if not files:
            audio = [p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES]
            hint = (f"{len(audio)} recordings but no transcripts for them" if audio else "no recordings")
            raise InputError(f"{hint} in {root}: put `*.trans.txt` files (lines `ID TRANSCRIPT`) beside "
                             "the audio as LibriSpeech does, or a metadata.csv with file_name,transcription")
        return Listing("librispeech", files, targets, missing)

    def read(self, data: bytes, rate: int | None = None) -> np.ndarray:
        """Bytes of a recording -> mono float32 at `rate` (the upload decoder's checks)."""
        from ..audio import load_audio

        return _resampled(load_audio(data, max_seconds=MAX_FILE_SECONDS).samples, rate or RATE)

    def decode(self, data: bytes, model=None) -> Decoded:
        if model is not None:  # at the model's rate, through its own feature extractor
            return Decoded(model.prepare(self.read(data, model.rate)))
        import torch

        from ..audio import load_audio

        audio = load_audio(data, max_seconds=MAX_SECONDS, trim=True)
        warnings = []
        if audio.trimmed:
            warnings.append(f"The recording is longer than {MAX_SECONDS} s: only its first {MAX_SECONDS} s are used.")
        if audio.clipped:
            warnings.append("The recording is clipped (recorded too loud, so the peaks are cut off); the transcript "
                            "may be less reliable. Record a little further from the microphone.")
        return Decoded(torch.from_numpy(audio.samples), None, tuple(warnings))

    # ---- noise --------------------------------------------------------------------------------
    def noise_axis(self, model=None, limit: int = 0) -> NoiseAxis:
        """White, pink and babble noise at 20 to 0 dB SNR: mixed into an imported model's clips
        before its feature extractor (`model` loads it), or the built-in's shipped noisy sets."""
        from ..noise import NOISE_TYPES, TEST_SNRS_DB

        def variant(kind: str, level) -> dict:
            return {} if level == "clean" else {"noise": kind, "snr": int(level)}

        levels, label = ("clean", *TEST_SNRS_DB), "SNR (dB)"
        if model is None:
            def one(x, kind: str, level):  # x [samples] at 16 kHz: the live page's one noisy clip
                import torch

                from ..data.speech_eval import noisy_version

                return x if level == "clean" else torch.from_numpy(noisy_version(x.numpy(), kind, float(level)))

            return NoiseAxis(NOISE_TYPES, levels, label, variant,
                             "the test clips mixed with white, pink and babble noise at 20 to 0 dB SNR", one, SHIFT_SNR)

        def apply(x, kind: str, level):  # one prepared clip: noise mixed in, then prepared again
            if kind == "none" or level == "clean":
                return x  # the clean level
            m = model()
            return m.prepare(noisy_waveform(x.numpy(), kind, float(level), seed(0, kind), m.rate))

        return NoiseAxis(NOISE_TYPES, levels, label, variant,
                         "its test clips mixed with white, pink and babble noise at 20 to 0 dB SNR "
                         "(made on first use)", apply, SHIFT_SNR)

    def noisy(self, raw, variant: dict, seed: int, rate: int = RATE):
        return noisy_waveform(raw, variant["noise"], variant["snr"], seed, rate)

    # ---- imported models' exit heads ----------------------------------------------------------
    def exit_modules(self, model, manifest, view: str) -> dict:
        from torch import nn

        from ..exit_heads import ctc_branch

        K, head = model.num_exits, manifest.options.get("head", "linear")
        branches = (nn.ModuleList(ctc_branch(head, model.hidden_size, model.vocab_size) for _ in range(K - 1))
                    if manifest.exits != "final-head" else None)
        ssl = (nn.ModuleList(nn.Linear(model.hidden_size, manifest.daisy["clusters"]) for _ in range(K))
               if manifest.daisy else None)
        return {"branches": branches, "ssl": ssl}

    def attach(self, model, exits: str, modules: dict, view: str):
        return model.attach(exits, modules["branches"], modules["ssl"])

    def train_branches(self, model, feats, targets, opts, progress):
        from ..exit_heads import train_ctc_branches

        return train_ctc_branches(model, feats, targets, opts.epochs, opts.seed, progress=progress, head=opts.head)


def _resampled(samples: np.ndarray, rate: int) -> np.ndarray:
    if rate == RATE:
        return samples
    import soxr

    return soxr.resample(samples, RATE, rate).astype(np.float32)


def noisy_waveform(samples: np.ndarray, kind: str, snr: float, seed: int, rate: int = RATE) -> np.ndarray:
    """One clip with `kind` noise mixed in at `snr` dB (the noise is made at the project's
    rate and resampled to the model's when that differs)."""
    from ..noise import make_noise, mix_at_snr

    n = len(samples) if rate == RATE else int(round(len(samples) * RATE / rate))
    noise = make_noise(kind, n, np.random.default_rng(seed))
    if rate != RATE:
        noise = _resampled(noise, rate)[: len(samples)]
        noise = np.pad(noise, (0, len(samples) - len(noise)))
    return mix_at_snr(np.asarray(samples, np.float32), noise, float(snr)).astype(np.float32)


def _librispeech(root: Path) -> tuple[list[Path], list[str], list[str]]:
    files, targets, missing = [], [], []
    described = set()
    for trans in sorted(root.rglob("*.trans.txt")):
        try:
            lines = trans.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            log.warning("skipped %s: %s", trans, err)
            missing.append(str(trans.relative_to(root)))
            continue
        for line in lines:
            if not line.strip():
                continue
            uid, _, text = line.strip().partition(" ")
            audio = next((trans.parent / f"{uid}{s}" for s in sorted(SUFFIXES)
                          if (trans.parent / f"{uid}{s}").is_file()), None)
            if audio is None:
                missing.append(str((trans.parent / uid).relative_to(root)))
                continue
            described.add(audio)
            files.append(audio.relative_to(root))
            targets.append(text.strip())
    for audio in sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES):
        if audio not in described:  # a recording no transcript names
            missing.append(str(audio.relative_to(root)))
    return files, targets, missing


SPEECH = Speech()
