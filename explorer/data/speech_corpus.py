"""Connected-digit speech corpus, synthesized offline with Debian's TTS engines.

Utterances are digit strings of 1-7 words over the vocabulary zero, oh, one ... nine,
the way people read out phone numbers and codes. They are spoken by espeak-ng
(English accents x voice variants), flite (kal16, kal, awb, rms, slt) and festival
(kal_diphone, ked_diphone, cmu_us_slt_arctic_hts) at several speeds and pitches, and
stored at 16 kHz.

Splits (see `voice_table()`; the assignment is written out below):

- train: most espeak accent+variant combinations, the training flite/festival voices,
  the training speeds and pitches.
- val and test_a: espeak accent+variant combinations never used in training (each
  accent and each variant is heard in training, never together), and the training
  flite/festival voices, all at speeds and pitches never used in training.
- test_b: whole voices never used in training: espeak accents and variants that are
  never trained on, flite slt, festival ked and festival slt (the same speaker as
  flite slt, so it must stay out of training too).

Clips are stored clean, as int16 in one array per split plus a JSON-lines manifest:
`augment()` (speed, voice warping, channel colouring, reverberation, noise, gain) is
meant to be applied by the trainer, freshly for every epoch. `noisy_versions()`
makes the noisy test sets (each noise type at 20, 10, 5 and 0 dB SNR).

Build: `python -m explorer synth speech [--train N] ...` (see `synth_main`), needs
the Debian packages in `DEBIAN_PACKAGES` (`make speech-tools`).
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from explorer import paths
from explorer.audio import RATE
from explorer.errors import InputError
from explorer.noise import NOISE_TYPES, make_noise, mix_at_snr

SPLITS = ("train", "val", "test_a", "test_b")
DEFAULT_SIZES = {"train": 20_000, "val": 1_000, "test_a": 1_000, "test_b": 1_000}
CORPUS_VERSION = 1
DEBIAN_PACKAGES = ("espeak-ng", "flite", "festival", "festvox-kallpc16k", "festvox-kdlpc16k",
                   "festvox-us-slt-hts", "sox")
_FIX_HINT = "run `make speech-tools` (apt-get install " + " ".join(DEBIAN_PACKAGES) + ")"

# --- What is said ---------------------------------------------------------------------------

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
VOCABULARY = ("zero", "oh") + DIGIT_WORDS[1:]  # 0 is read as "zero" or as "oh"
MAX_WORDS = 7

# --- Who says it: the voice table -------------------------------------------------------------
# espeak-ng: a voice is an English accent (`espeak-ng --voices=en`) plus a variant
# (`espeak-ng --voices=variant`), e.g. "en-gb-scotland+f3". Accents never trained on:
ESPEAK_ACCENTS = {
    "en-us": "train",
    "en": "train",  # British English; `-v en-gb+f2` would quietly ignore the variant
    "en-gb-x-rp": "train",  # received pronunciation
    "en-gb-scotland": "train",
    "en-gb-x-gbclan": "train",  # Lancaster
    "en-us-nyc": "train",
    "en-029": "test_b",  # Caribbean
    "en-gb-x-gbcwmd": "test_b",  # West Midlands
}
ESPEAK_TRAIN_VARIANTS = (
    "m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "croak", "whisper",
    "klatt", "klatt2", "klatt3", "klatt5", "klatt6", "Alex", "Alicia", "Andrea", "Andy", "Annie",
    "Denis", "Diogo", "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario",
    "Michael", "Nguyen", "Storm", "adam", "antonio", "aunty", "belinda", "benjamin", "boris",
    "caleb", "david", "ed", "edward", "gustave", "john", "linda", "marcelo", "max", "michel",
    "miguel", "norbert", "pablo", "paul", "pedro", "quincy", "rob", "robert", "sandro", "shelby",
    "steph", "travis", "victor", "zac",
)
ESPEAK_TEST_B_VARIANTS = ("m8", "f5", "whisperf", "klatt4", "grandma", "grandpa", "Mike", "anika")
# Left out on purpose: near-copies of variants above (iven2-4, edward2, steph2/3, AnxiousAndy),
# robots and effects (robosoft*, RicishayMax*, UniRobot, anikaRobot, announcer, Demonic, Tweaky,
# "Mr serious", kaukovalta), fast (changes speed only) and iven (clips even at half amplitude).

# Accent+variant combinations held out of training, for val and test_a. Every accent and
# every variant here is also in training, with other partners.
ESPEAK_HELD_OUT = {
    # accent:          (val variants,                  test_a variants)
    "en-us": (("m2", "f3", "klatt2"), ("m5", "f1", "croak")),
    "en": (("m4", "f2", "Annie"), ("m7", "f4", "whisper")),
    "en-gb-x-rp": (("m1", "linda", "klatt3"), ("m6", "belinda", "Gene")),
    "en-gb-scotland": (("m3", "aunty", "Denis"), ("m2", "steph", "klatt")),
    "en-gb-x-gbclan": (("m6", "f1", "max"), ("m3", "Andrea", "travis")),
    "en-us-nyc": (("m7", "f4", "robert"), ("m4", "f3", "klatt6")),
}

# flite and festival have few voices, so a voice is either a training voice (also used in
# val and test_a, but only at their unseen speeds and pitches) or a test_b voice.
# `speaker` is the recorded person: two voices from one speaker always share a split.
# `f0` is the voice's mean pitch in Hz, which we scale to change pitch (None: the engine
# ignores pitch settings for this voice, so only its speed varies).
FLITE_VOICES = {
    # voice:  (split,    speaker, f0)
    "kal16": ("train", "kal", 95),
    "kal": ("train", "kal", 95),  # 8 kHz diphones: telephone-band sound
    "awb": ("train", "awb", 132),  # Scottish English
    "rms": ("train", "rms", None),
    "slt": ("test_b", "slt", 172),
}
FESTIVAL_VOICES = {
    # voice:                  (split,    speaker, (f0 mean, f0 std) or None)
    "kal_diphone": ("train", "kal", (105, 14)),
    "ked_diphone": ("test_b", "ked", (105, 15)),
    "cmu_us_slt_arctic_hts": ("test_b", "slt", None),
}

# Speed and pitch as factors of the voice's default (1.0). val and test_a use values
# never used in training (between and beyond the training ones); test_b uses the
# training values, so that only the voice is new.
SPEEDS = {
    "train": (0.80, 0.90, 1.00, 1.10, 1.20),
    "val": (0.85, 1.15),
    "test_a": (0.75, 0.95, 1.05, 1.25),
    "test_b": (0.80, 0.90, 1.00, 1.10, 1.20),
}
PITCHES = {
    "train": (0.80, 0.90, 1.00, 1.12, 1.25),
    "val": (0.85, 1.18),
    "test_a": (0.75, 0.95, 1.06, 1.32),
    "test_b": (0.80, 0.90, 1.00, 1.12, 1.25),
}
# Share of each engine's utterances per split (voices are drawn uniformly within an engine).
ENGINE_SHARES = {
    "train": {"espeak": 0.6, "flite": 0.3, "festival": 0.1},
    "val": {"espeak": 0.6, "flite": 0.3, "festival": 0.1},
    "test_a": {"espeak": 0.6, "flite": 0.3, "festival": 0.1},
    "test_b": {"espeak": 0.5, "flite": 0.25, "festival": 0.25},
}
ENGINES = ("espeak", "flite", "festival")
_ESPEAK_WPM = 175  # espeak-ng's default speed (words/min)
_ESPEAK_AMPLITUDE = 50  # half of the default: some variants clip at full amplitude


@dataclass(frozen=True)
class Voice:
    """One voice of the table and the speeds/pitches it is used with in one split."""

    split: str
    engine: str
    name: str  # espeak "accent+variant", or the flite/festival voice name
    speaker: str  # espeak: the accent+variant; flite/festival: the recorded person
    speeds: tuple[float, ...]
    pitches: tuple[float, ...]


def voice_table() -> list[Voice]:
    """Every (split, voice) pair of the corpus, expanded from the tables above."""
    rows = []
    held_out = {(a, v): split for a, (val, test_a) in ESPEAK_HELD_OUT.items()
                for split, variants in (("val", val), ("test_a", test_a)) for v in variants}
    for accent, accent_split in ESPEAK_ACCENTS.items():
        variants = ESPEAK_TRAIN_VARIANTS if accent_split == "train" else ESPEAK_TEST_B_VARIANTS
        for variant in variants:
            split = held_out.get((accent, variant), accent_split)
            name = f"{accent}+{variant}"
            rows.append(Voice(split, "espeak", name, name, SPEEDS[split], PITCHES[split]))
    for engine, table in (("flite", FLITE_VOICES), ("festival", FESTIVAL_VOICES)):
        for name, (voice_split, speaker, f0) in table.items():
            for split in (("train", "val", "test_a") if voice_split == "train" else ("test_b",)):
                pitches = PITCHES[split] if f0 is not None else (1.0,)
                rows.append(Voice(split, engine, name, speaker, SPEEDS[split], pitches))
    return rows


def format_voice_table() -> str:
    """The voice table as readable text (`synth speech --list-voices`)."""
    lines = []
    for split in SPLITS:
        voices = [v for v in voice_table() if v.split == split]
        lines.append(f"{split}: {len(voices)} voices; speeds {SPEEDS[split]}, pitches {PITCHES[split]}")
        for engine in ENGINES:
            of_engine = [v for v in voices if v.engine == engine]
            names = [v.name + ("" if len(v.pitches) > 1 else " (fixed pitch)") for v in of_engine]
            if engine == "espeak" and split == "train":  # too many to list one by one
                accents = [a for a, s in ESPEAK_ACCENTS.items() if s == "train"]
                names = [f"accents {' '.join(accents)} x variants {' '.join(ESPEAK_TRAIN_VARIANTS)}, "
                         "except the val and test_a combinations"]
            lines.append(f"  {engine} ({len(of_engine)}): {', '.join(names)}")
    return "\n".join(lines)


# --- The plan: which utterance, by which voice, how -------------------------------------------


@dataclass(frozen=True)
class Clip:
    """Who says what, and how: the fields a plan and a synthesized clip share."""

    id: str
    split: str
    engine: str
    voice: str
    speaker: str
    speed: float
    pitch: float
    text: str  # the words, e.g. "five oh two"; this is the label


@dataclass(frozen=True)
class UtteranceSpec(Clip):
    """Everything needed to synthesize one utterance (no audio yet)."""

    spoken: str  # what the engine reads: the text, maybe with a comma for a pause


@dataclass(frozen=True)
class Utterance(Clip):
    """A synthesized clip. `samples` is float32 at 16 kHz; `pcm` is how it is stored."""

    pcm: np.ndarray  # int16

    @property
    def samples(self) -> np.ndarray:
        return np.asarray(self.pcm, np.float32) / 32768.0


def random_digits(rng: np.random.Generator) -> tuple[str, str]:
    """(text, spoken) for a random string of 1-7 digit words.

    Half of the longer strings are read in two groups, with a pause after the
    third word, as people read out phone numbers ("five five five, two oh one nine").
    """
    n = int(rng.integers(1, MAX_WORDS + 1))
    words = []
    for d in rng.integers(0, 10, n):
        words.append(("zero", "oh")[int(rng.integers(2))] if d == 0 else DIGIT_WORDS[d])
    text = " ".join(words)
    if n >= 5 and rng.random() < 0.5:
        return text, " ".join(words[:3]) + ", " + " ".join(words[3:])
    return text, text


def make_plan(sizes: dict[str, int], seed: int = 0) -> list[UtteranceSpec]:
    """The utterances of every split: deterministic for `sizes` and `seed`."""
    table = voice_table()
    plan = []
    for split_index, split in enumerate(SPLITS):
        n = int(sizes.get(split, 0))
        rng = np.random.default_rng([seed, split_index])
        engines = _engine_sequence(ENGINE_SHARES[split], n, rng)
        for i, engine in enumerate(engines):
            voices = [v for v in table if v.split == split and v.engine == engine]
            voice = voices[int(rng.integers(len(voices)))]
            speed = float(rng.choice(voice.speeds))
            pitch = float(rng.choice(voice.pitches))
            text, spoken = random_digits(rng)
            plan.append(UtteranceSpec(f"{split}-{i:05d}", split, engine, voice.name, voice.speaker,
                                      speed, pitch, text, spoken))
    return plan


def _engine_sequence(shares: dict[str, float], n: int, rng: np.random.Generator) -> list[str]:
    """`n` engine names in random order, in the given proportions (largest remainder)."""
    exact = {e: shares[e] * n for e in ENGINES}
    counts = {e: int(exact[e]) for e in ENGINES}
    for e in sorted(ENGINES, key=lambda e: exact[e] - counts[e], reverse=True)[: n - sum(counts.values())]:
        counts[e] += 1
    seq = [e for e in ENGINES for _ in range(counts[e])]
    return [seq[i] for i in rng.permutation(n)]


# --- Checking the tools ------------------------------------------------------------------------


def check_speech_tools() -> None:
    """Raise InputError (saying what to install) unless every engine and voice is available."""
    missing = [p for p in ("espeak-ng", "flite", "festival") if shutil.which(p) is None]
    if missing:
        raise InputError(f"The text-to-speech programs {', '.join(missing)} are not installed: {_FIX_HINT}.")
    missing = [f"espeak-ng voice {v}" for v in _missing_espeak_voices()]
    flite_voices = set(_run(["flite", "-lv"]).split(":", 1)[-1].split())
    missing += [f"flite voice {v}" for v in FLITE_VOICES if v not in flite_voices]
    festival_voices = set(_run(["festival", "--batch", "(print (voice.list))"]).strip("()\n ").split())
    missing += [f"festival voice {v}" for v in FESTIVAL_VOICES if v not in festival_voices]
    if missing:
        raise InputError(f"Missing text-to-speech voices: {', '.join(missing)}: {_FIX_HINT}.")


def _missing_espeak_voices() -> list[str]:
    languages = {line.split()[1] for line in _run(["espeak-ng", "--voices=en"]).splitlines()[1:] if line.split()}
    missing = [a for a in ESPEAK_ACCENTS if a not in languages]
    # espeak-ng quietly ignores an unknown variant, so look for the variant files themselves.
    data_dir = re.search(r"Data at:\s*(\S+)", _run(["espeak-ng", "--version"]))
    variant_dir = Path(data_dir.group(1) if data_dir else "/usr/share/espeak-ng-data") / "voices" / "!v"
    variants = ESPEAK_TRAIN_VARIANTS + ESPEAK_TEST_B_VARIANTS
    return missing + [f"variant {v}" for v in variants if not (variant_dir / v).is_file()]


def tool_versions() -> dict[str, str]:
    """One line of each engine's version output (recorded with the corpus)."""
    def version(cmd: list[str], pattern: str) -> str:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)  # flite --version exits 1
        found = re.search(pattern, done.stdout + done.stderr)
        return found.group(0).strip() if found else "unknown"

    return {"espeak-ng": version(["espeak-ng", "--version"], r"eSpeak NG text-to-speech: \S+"),
            "flite": version(["flite", "--version"], r"flite-\S+"),
            "festival": version(["festival", "--version"], r"Festival Speech Synthesis System: \S+")}


def _run(cmd: list[str], timeout: float = 60) -> str:
    """stdout of a command; stderr is kept for the error message if it fails."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return done.stdout


# --- Synthesis (runs in worker processes) ------------------------------------------------------


def _espeak_pitch(factor: float) -> int:
    """espeak-ng's -p setting (0-99, default 50) for a pitch factor.

    -p is not proportional to pitch: measured over several voices, each 10 steps
    raise the pitch by about 10%, so -p = 50 + 10 log(factor) / log(1.1).
    """
    return int(np.clip(round(50 + 10 * np.log(factor) / np.log(1.1)), 0, 99))


def _synth_espeak(spec: UtteranceSpec, _tmp: Path) -> tuple[np.ndarray, int]:
    cmd = ["espeak-ng", "-v", spec.voice, "-a", str(_ESPEAK_AMPLITUDE),
           "-s", str(round(_ESPEAK_WPM * spec.speed)), "-p", str(_espeak_pitch(spec.pitch)),
           "--stdout", spec.spoken]
    done = subprocess.run(cmd, capture_output=True, timeout=60, check=True)
    x, rate = sf.read(io.BytesIO(done.stdout), dtype="float32")
    return x, rate


def _synth_flite(spec: UtteranceSpec, tmp: Path) -> tuple[np.ndarray, int]:
    path = tmp / f"{spec.id}.wav"
    cmd = ["flite", "-voice", spec.voice, "--setf", f"duration_stretch={1.0 / spec.speed:.4f}"]
    f0 = FLITE_VOICES[spec.voice][2]
    if f0 is not None and spec.pitch != 1.0:
        cmd += ["--setf", f"int_f0_target_mean={f0 * spec.pitch:.1f}"]
    subprocess.run(cmd + ["-t", spec.spoken, "-o", str(path)], capture_output=True, timeout=60, check=True)
    x, rate = sf.read(path, dtype="float32")
    return x, rate


def _festival_lines(spec: UtteranceSpec, path: Path) -> list[str]:
    """Scheme for one utterance: select the voice, set speed and pitch, save a WAV."""
    f0 = FESTIVAL_VOICES[spec.voice][2]
    lines = [f"(voice_{spec.voice})"]
    if f0 is None:  # an HTS voice: its engine takes a speed factor and ignores our pitch
        lines.append(f"(set! hts_engine_params (append hts_engine_params '((\"-r\" {spec.speed:.4f}))))")
    else:
        lines.append(f"(Parameter.set 'Duration_Stretch {1.0 / spec.speed:.4f})")
        lines.append(f"(set! int_lr_params '((target_f0_mean {f0[0] * spec.pitch:.1f}) "
                     f"(target_f0_std {f0[1] * spec.pitch:.1f}) (model_f0_mean 170) (model_f0_std 34)))")
    lines.append(f'(utt.save.wave (utt.synth (Utterance Text "{spec.spoken}")) "{path}" \'riff)')
    return lines


def _synth_festival_batch(specs: Sequence[UtteranceSpec], tmp: Path) -> list[tuple[np.ndarray, int]]:
    """Many utterances in one festival run: starting festival costs more than one utterance."""
    script = tmp / "batch.scm"
    script.write_text("\n".join(line for s in specs for line in _festival_lines(s, tmp / f"{s.id}.wav")) + "\n")
    subprocess.run(["festival", "-b", str(script)], capture_output=True, timeout=600, check=True)
    return [sf.read(tmp / f"{s.id}.wav", dtype="float32") for s in specs]


def _to_stored(x: np.ndarray, rate: int) -> np.ndarray:
    """Engine output to the stored form: 16 kHz, silence trimmed to 0.1 s, peak 0.9, int16.

    Engines differ in level and in how much silence they add; neither says anything
    about the words, and trimming saves a good part of the disk space.
    """
    x = np.asarray(x, np.float32)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != RATE:
        x = soxr.resample(x, rate, RATE, "HQ")
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    if not peak > 0:
        raise RuntimeError("the engine produced silence")
    loud = np.flatnonzero(np.abs(x) > 0.01 * peak)
    pad = RATE // 10
    x = x[max(0, loud[0] - pad): loud[-1] + pad]
    return np.round(x * (0.9 / peak) * 32767).astype(np.int16)


def synthesize_batch(specs: Sequence[UtteranceSpec]) -> list[tuple[str, np.ndarray]]:
    """[(id, int16 samples)] for utterances of one engine (worker entry point)."""
    with tempfile.TemporaryDirectory(prefix="speech-synth-") as tmp:
        tmp = Path(tmp)
        try:
            if specs[0].engine == "festival":
                outputs = _synth_festival_batch(specs, tmp)
            else:
                synth = _synth_espeak if specs[0].engine == "espeak" else _synth_flite
                outputs = [synth(s, tmp) for s in specs]
            return [(s.id, _to_stored(x, rate)) for s, (x, rate) in zip(specs, outputs, strict=True)]
        except (subprocess.SubprocessError, OSError, RuntimeError, sf.LibsndfileError) as err:
            detail = getattr(err, "stderr", b"") or b""
            raise RuntimeError(f"synthesis failed for {specs[0].engine} voice {specs[0].voice} "
                               f"({specs[0].id}...): {err} {detail.decode(errors='replace')[-300:]}") from None


def _batches(plan: Iterable[UtteranceSpec], size: int = 25) -> list[list[UtteranceSpec]]:
    """Chunks of `size` utterances of one engine, sorted by voice (festival runs once per chunk
    and loads each voice once)."""
    ordered = sorted(plan, key=lambda s: (s.engine, s.voice, s.id))
    batches: list[list[UtteranceSpec]] = []
    for spec in ordered:
        if not batches or len(batches[-1]) == size or batches[-1][0].engine != spec.engine:
            batches.append([])
        batches[-1].append(spec)
    return batches


# --- Building and loading the corpus -----------------------------------------------------------


def corpus_id(sizes: dict[str, int], seed: int) -> str:
    """A readable name that changes whenever the content would."""
    counts = "-".join(str(int(sizes.get(s, 0))) for s in SPLITS)
    return f"digits-v{CORPUS_VERSION}-seed{seed}-{counts}"


def default_corpus_dir(sizes: dict[str, int] | None = None, seed: int = 0) -> Path:
    """`CACHE/speech/<corpus-id>` (by default the full-size corpus, seed 0)."""
    return paths.CACHE / "speech" / corpus_id(sizes or DEFAULT_SIZES, seed)


def build_corpus(sizes: dict[str, int], seed: int = 0, out: Path | None = None, workers: int = 2,
                 force: bool = False, progress: bool = True) -> Path:
    """Synthesize the corpus into `out` (default: `default_corpus_dir`) and return it.

    Does nothing if it is already there (unless `force`). Writes to a temporary
    folder first, so an interrupted build never looks finished.
    """
    out = Path(out) if out is not None else default_corpus_dir(sizes, seed)
    if (out / "corpus.json").exists() and not force:
        return out
    check_speech_tools()
    plan = make_plan(sizes, seed)
    started = time.perf_counter()
    audio = _synthesize(plan, workers, progress)
    seconds = time.perf_counter() - started
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    _write(partial, plan, audio, {"version": CORPUS_VERSION, "seed": seed, "sizes": sizes,
                                  "build_seconds": round(seconds, 1), "workers": workers,
                                  "tools": tool_versions()})
    if out.exists():
        shutil.rmtree(out)
    partial.rename(out)
    return out


def _synthesize(plan: list[UtteranceSpec], workers: int, progress: bool) -> dict[str, np.ndarray]:
    """Run every batch, in `workers` processes (1: in this process)."""
    batches = _batches(plan)
    audio: dict[str, np.ndarray] = {}
    with tqdm(total=len(plan), unit="utt", desc="synthesizing speech", disable=not progress,
              file=sys.stderr) as bar:
        if workers <= 1:
            results: Iterable = map(synthesize_batch, batches)
            pool = None
        else:  # spawn: safe even when the parent has threads (torch) running
            pool = multiprocessing.get_context("spawn").Pool(workers)
            results = pool.imap_unordered(synthesize_batch, batches)
        try:
            for done in results:
                audio.update(done)
                bar.update(len(done))
        finally:
            if pool is not None:
                pool.terminate()
    return audio


def _write(folder: Path, plan: list[UtteranceSpec], audio: dict[str, np.ndarray], info: dict) -> None:
    """One int16 array per split (`<split>.npy`), `manifest.jsonl` and `corpus.json`."""
    rows, summary = [], {}
    for split in SPLITS:
        specs = [s for s in plan if s.split == split]
        clips = [audio[s.id] for s in specs]
        offsets = np.cumsum([0] + [len(c) for c in clips])
        np.save(folder / f"{split}.npy", np.concatenate(clips) if clips else np.zeros(0, np.int16))
        for spec, clip, offset in zip(specs, clips, offsets, strict=False):
            row = asdict(spec)
            del row["spoken"]
            rows.append(row | {"offset": int(offset), "n_samples": len(clip)})
        summary[split] = {"utterances": len(specs), "hours": round(float(offsets[-1]) / RATE / 3600, 3),
                          "voices": len({s.voice for s in specs})}
    with open(folder / "manifest.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    (folder / "corpus.json").write_text(json.dumps(info | {"splits": summary}, indent=1) + "\n")


def load_split(split: str, corpus_dir: Path | str | None = None) -> list[Utterance]:
    """The utterances of one split, in order. Fast: the audio is memory-mapped, not copied."""
    if split not in SPLITS:
        raise InputError(f"Unknown split {split!r}; choose one of {', '.join(SPLITS)}.")
    folder = Path(corpus_dir) if corpus_dir is not None else default_corpus_dir()
    if not (folder / "corpus.json").exists():
        raise InputError(f"The speech corpus has not been built in {folder}: "
                         "run `python -m explorer synth speech` first.")
    pcm = np.load(folder / f"{split}.npy", mmap_mode="r")
    with open(folder / "manifest.jsonl") as f:
        rows = [r for r in map(json.loads, f) if r["split"] == split]
    return [Utterance(r["id"], split, r["engine"], r["voice"], r["speaker"], r["speed"], r["pitch"], r["text"],
                      pcm[r["offset"]: r["offset"] + r["n_samples"]]) for r in rows]


# --- Augmentation (applied by the trainer, fresh every epoch) ----------------------------------


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
    return (wet * np.sqrt(_power(x) / max(_power(wet), 1e-12))).astype(np.float32)


def augment(samples: np.ndarray, rng: np.random.Generator,
            babble_pool: list[np.ndarray] | None = None) -> np.ndarray:
    """A randomly altered copy of a clean 16 kHz clip, for one training epoch.

    Pure: the same `rng` state gives the same result. Each step is applied with some
    probability, so some clips stay close to clean:

    - speed (p=0.5): 0.9-1.1x by resampling (length changes by at most +-10%);
    - voice warp (p=0.5): pitch and formants x0.88-1.14, duration kept (`warp_voice`);
    - reverberation (p=0.3): a random synthetic room (`reverberate`);
    - noise (p=0.7): white, pink or babble (from `babble_pool`: clips of other
      utterances, else synthetic babble) at 5-30 dB SNR;
    - channel colouring (p=0.5): random EQ, sometimes a telephone band (`colour`);
    - gain: -15 to +5 dB, scaled back if it would clip.
    """
    x = np.asarray(samples, np.float32)
    if rng.random() < 0.5:
        x = change_speed(x, rng.uniform(0.9, 1.1))
    if rng.random() < 0.5:
        x = warp_voice(x, rng.uniform(0.88, 1.14))
    if rng.random() < 0.3:
        x = reverberate(x, rng)
    if rng.random() < 0.7 and _power(x) > 0:
        kind = NOISE_TYPES[int(rng.integers(len(NOISE_TYPES)))]
        x = mix_at_snr(x, make_noise(kind, len(x), rng, babble_pool), rng.uniform(5, 30))
    if rng.random() < 0.5:
        x = colour(x, rng)
    x = x * 10 ** (rng.uniform(-15, 5) / 20)
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return (x / peak if peak > 1 else x).astype(np.float32)


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0


def _fast_len(n: int) -> int:
    """The next power of two: FFTs of other lengths (large prime factors) can be 100x slower."""
    return 1 << max(n - 1, 0).bit_length()


# --- Noisy test sets -----------------------------------------------------------------------------

TEST_SNRS_DB = (20, 10, 5, 0)


def noisy_versions(clip: np.ndarray, seed: int,
                   babble_pool: list[np.ndarray] | None = None) -> dict[tuple[str, int], np.ndarray]:
    """{(noise type, SNR dB): noisy clip} for every type in NOISE_TYPES and TEST_SNRS_DB.

    Deterministic for `seed` (use e.g. the clip's index). One noise sample per type is
    used at all four SNRs, so results across SNRs differ only in the noise level. The
    clean clip itself is the fifth condition. Without `babble_pool` babble is synthetic;
    pass clips of other utterances (never the clip's own) for real babble.
    """
    out = {}
    for i, kind in enumerate(NOISE_TYPES):
        noise = make_noise(kind, len(clip), np.random.default_rng([seed, i]), babble_pool)
        for snr in TEST_SNRS_DB:
            out[(kind, snr)] = mix_at_snr(clip, noise, snr)
    return out


# --- Command line -----------------------------------------------------------------------------


def synth_main(argv: Sequence[str] | None = None) -> int:
    """`python -m explorer synth speech`: build the corpus, print a JSON summary."""
    parser = argparse.ArgumentParser(prog="python -m explorer synth speech",
                                     description="Synthesize the connected-digit speech corpus.")
    parser.add_argument("--train", type=int, default=DEFAULT_SIZES["train"], help="training utterances")
    parser.add_argument("--val", type=int, default=DEFAULT_SIZES["val"])
    parser.add_argument("--test-a", type=int, default=DEFAULT_SIZES["test_a"])
    parser.add_argument("--test-b", type=int, default=DEFAULT_SIZES["test_b"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="synthesis processes")
    parser.add_argument("--out", help="corpus folder (default: $EXPLORER_CACHE/speech/<corpus-id>)")
    parser.add_argument("--force", action="store_true", help="rebuild even if it exists")
    parser.add_argument("--list-voices", action="store_true", help="print the voice table and exit")
    args = parser.parse_args(argv)
    if args.list_voices:
        print(format_voice_table())
        return 0
    sizes = {"train": args.train, "val": args.val, "test_a": args.test_a, "test_b": args.test_b}
    if any(n < 0 for n in sizes.values()) or args.workers < 1:
        print("error: sizes must be 0 or more and --workers at least 1", file=sys.stderr)
        return 2
    try:
        out = build_corpus(sizes, args.seed, Path(args.out) if args.out else None, args.workers, args.force)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    info = json.loads((out / "corpus.json").read_text())
    print(json.dumps({"corpus": str(out), "build_seconds": info["build_seconds"], "splits": info["splits"]}))
    return 0


if __name__ == "__main__":
    sys.exit(synth_main())
