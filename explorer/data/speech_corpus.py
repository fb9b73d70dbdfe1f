"""The speech corpus: the plan (who says what, how), synthesis with Debian's TTS engines,
and the built corpus on disk.

What is said and its labels: `speech_text`; who says it: `speech_voices` (the voice
table and its splits); voice styles and training augmentation: `speech_augment`; the
shipped evaluation sets and their noisy versions: `speech_eval`.

Clips are stored clean (a voice style is part of the clip), as int16 in one array per
split plus a JSON-lines manifest, at 16 kHz.

Build: `python -m explorer synth speech [--train N] ...`, needs the Debian packages in
`DEBIAN_PACKAGES` (`make speech-tools`).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from .. import paths
from ..audio import RATE
from ..errors import InputError
from .speech_augment import apply_style, style_pitch
from .speech_text import WORD_LIST_PACKAGE, dictionary_words, random_utterance
from .speech_voices import (
    DEFAULT_SIZES,
    ENGINE_SHARES,
    ENGINES,
    ESPEAK_ACCENTS,
    ESPEAK_TEST_B_VARIANTS,
    ESPEAK_TRAIN_VARIANTS,
    FESTIVAL_VOICES,
    FLITE_VOICES,
    KIND_SHARES,
    SPLITS,
    STYLE_SHARES,
    voice_table,
)

CORPUS_VERSION = 3  # 2: unknown words, carrier phrases, voice styles, sets (c) and (d)
# 3: training only (the held-out splits draw what version 2 drew): more voices and voice styles,
# a sentence grammar, words near digit words, more carrier phrases, more "oh"
DEBIAN_PACKAGES = ("espeak-ng", "flite", "festival", "festvox-kallpc16k", "festvox-kdlpc16k",
                   "festvox-us-slt-hts", "sox", WORD_LIST_PACKAGE)
_FIX_HINT = "run `make speech-tools` (apt-get install " + " ".join(DEBIAN_PACKAGES) + ")"
_ESPEAK_WPM = 175  # espeak-ng's default speed (words/min)
_ESPEAK_AMPLITUDE = 50  # half of the default: some variants clip at full amplitude


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
    text: str  # the label, e.g. "<unk> <unk> five oh two": digit words, UNKNOWN for any other word
    said: str  # what is said, e.g. "call me at five oh two"
    kind: str  # speech_text.KINDS
    style: str  # speech_augment.STYLES ("": the engine's own voice)


@dataclass(frozen=True)
class UtteranceSpec(Clip):
    """Everything needed to synthesize one utterance (no audio yet)."""

    spoken: str  # what the engine reads: what is said, maybe with a comma for a pause


@dataclass(frozen=True)
class Utterance(Clip):
    """A synthesized clip. `samples` is float32 at 16 kHz; `pcm` is how it is stored."""

    pcm: np.ndarray  # int16

    @property
    def samples(self) -> np.ndarray:
        return np.asarray(self.pcm, np.float32) / 32768.0


def make_plan(sizes: dict[str, int], seed: int = 0) -> list[UtteranceSpec]:
    """The utterances of every split: deterministic for `sizes` and `seed`.

    Splits that only say digits in plain voices (val, test_a, test_b) draw exactly
    what version 1 of the corpus drew, so their clips are the same."""
    table = voice_table()
    plan = []
    for split_index, split in enumerate(SPLITS):
        n = int(sizes.get(split, 0))
        rng = np.random.default_rng([seed, split_index])
        engines = _engine_sequence(ENGINE_SHARES[split], n, rng)
        kinds = KIND_SHARES[split]
        for i, engine in enumerate(engines):
            voices = [v for v in table if v.split == split and v.engine == engine]
            voice = voices[int(rng.integers(len(voices)))]
            speed = float(rng.choice(voice.speeds))
            pitch = float(rng.choice(voice.pitches))
            kind = _draw(kinds, rng) if len(kinds) > 1 else next(iter(kinds))
            style = _draw(STYLE_SHARES[engine], rng) if split == "train" else ""
            text, spoken, said = random_utterance(kind, rng, held_out=split != "train")
            pitch = round(pitch * style_pitch(style, rng), 4)  # the engine raises (or lowers) the pitch
            plan.append(UtteranceSpec(f"{split}-{i:05d}", split, engine, voice.name, voice.speaker,
                                      speed, pitch, text, said, kind, style, spoken))
    return plan


def _draw(shares: dict[str, float], rng: np.random.Generator) -> str:
    keys = list(shares)
    return keys[int(rng.choice(len(keys), p=np.array([shares[k] for k in keys]) / sum(shares.values())))]


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
    try:
        dictionary_words()
    except InputError:
        missing.append(f"the word list ({WORD_LIST_PACKAGE})")
    if missing:
        raise InputError(f"Missing text-to-speech voices: {', '.join(missing)}: {_FIX_HINT}.")


def _missing_espeak_voices() -> list[str]:
    languages = {line.split()[1] for line in _run(["espeak-ng", "--voices=en"]).splitlines()[1:] if line.split()}
    missing = [a for a in ESPEAK_ACCENTS if a not in languages]
    # espeak-ng quietly ignores an unknown variant, so look for the variant files themselves.
    variant_dir = espeak_variant_dir()
    variants = ESPEAK_TRAIN_VARIANTS + ESPEAK_TEST_B_VARIANTS
    return missing + [f"variant {v}" for v in variants if not (variant_dir / v).is_file()]


def espeak_variant_dir() -> Path:
    """espeak-ng's folder of voice variants (a guess when espeak-ng is not installed)."""
    data_dir = None
    if shutil.which("espeak-ng"):
        data_dir = re.search(r"Data at:\s*(\S+)", _run(["espeak-ng", "--version"]))
    return Path(data_dir.group(1) if data_dir else "/usr/share/espeak-ng-data") / "voices" / "!v"


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


def _to_stored(x: np.ndarray, rate: int, spec: UtteranceSpec) -> np.ndarray:
    """Engine output to the stored form: 16 kHz, in the clip's voice style, silence trimmed
    to 0.1 s, peak 0.9, int16.

    Engines differ in level and in how much silence they add; neither says anything
    about the words, and trimming saves a good part of the disk space.
    """
    x = np.asarray(x, np.float32)
    if x.ndim > 1:
        x = x.mean(axis=1)
    if rate != RATE:
        x = soxr.resample(x, rate, RATE, "HQ")
    if spec.style:
        x = apply_style(x, spec.style, np.random.default_rng(zlib.crc32(spec.id.encode())))
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
            return [(s.id, _to_stored(x, rate, s)) for s, (x, rate) in zip(specs, outputs, strict=True)]
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


def synthesize(specs: Sequence[UtteranceSpec], workers: int = 1, progress: bool = False) -> dict[str, np.ndarray]:
    """{id: int16 samples at 16 kHz} of some planned utterances, as the corpus stores them,
    without building a corpus (e.g. a sample of the training clips); needs the tools."""
    check_speech_tools()
    return _synthesize(list(specs), workers, progress)


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
    names = {f.name for f in fields(Clip)}
    return [Utterance(**{k: v for k, v in r.items() if k in names},
                      pcm=pcm[r["offset"]: r["offset"] + r["n_samples"]]) for r in rows]
