"""Held-out set (e), `test_e`: recordings of people saying digits, from two freely licensed packages.

Every other speech set is synthesized; this one is recorded. Sources (found for issue 23,
step 3; the search is summarised in docs/speech-unseen-voices.md):

- Asterisk core sound prompts, Debian `asterisk-core-sounds-en-g722` 1.6.1-1 (16 kHz
  G.722), read by Allison Smith for Digium, Inc. Copyright 2003-2010 Allison Smith,
  licensed CC BY-SA 3.0 (Debian's copyright file). Transcripts: the upstream list
  `core-sounds-en.txt` of Debian `asterisk-core-sounds-en` 1.6.1-1. Taken: the eleven
  isolated digits (`digits/0` ... `digits/9`, `digits/oh`) and every other prompt whose
  transcript says a digit word and that `label` keeps. Voice "real:asterisk-allison".
- pocketsphinx 5.1.1 sdist test data (PyPI `pocketsphinx-5.1.1.tar.gz`, `test/data/`),
  Copyright 1999-2016 Carnegie Mellon University, BSD-2-clause-style licence (the sdist's
  LICENSE). `tidigits/dhd.2934z.raw` ("two nine three four zero", asserted by its 2007
  test; voice "real:pocketsphinx-dhd") and `cards/002.wav` ... `cards/005.wav` (from
  `cards/cards.transcription`; voice "real:pocketsphinx-cards"). Left out: cards/001
  ("ten"), numbers.raw (no ground truth), goforward (no digit).

The audio stays under those licences, not the project's: assets/speech/LICENSE-test_e.md.

Labels (`label`): a numeral 1-9 is said as its digit word; the digit words (zero, oh,
one ... nine) are kept wherever they are said ("one moment" says "one"); every other word
is `<unk>`. A prompt is left out when it has the numeral 0 (said "zero" or "oh"? unknown),
a numeral of several digits, a number word the vocabulary lacks (ten, twenty, hundred ...)
or a note in parentheses instead of words ("(one second of silence)"), or when it is
longer than `MAX_SECONDS`.

Rebuild (needs the network, Debian's apt and pip; never run by the app or the tests):

    python -m explorer.data.real_speech [--out assets/speech]

It downloads the two .deb files (`apt-get download`, unpacked with `dpkg-deb -x`), the
pocketsphinx sdist (PyPI's simple index as JSON, SHA-256 checked; nothing is built) and the G.722
decoder (`pip install --target` a temporary folder, PyPI `G722` 1.2.8), all into a
temporary folder, and writes `test_e.flac` and the `test_e` entries of `manifest.json`
in the format `speech_eval.export` writes the other sets in.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from ..audio import RATE
from .speech_text import DIGIT_WORDS, WORDS, label_of

SPLIT = "test_e"
MAX_SECONDS = 15.0
ASTERISK_VERSION = "1.6.1-1"
ASTERISK_PACKAGES = ("asterisk-core-sounds-en-g722", "asterisk-core-sounds-en")  # audio, transcripts
ASTERISK_SOUNDS = "usr/share/asterisk/sounds/en_US_f_Allison"
ASTERISK_LIST = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
ASTERISK_DIGITS = tuple(f"digits/{d}" for d in (*range(10), "oh"))  # the isolated digits
ASTERISK_VOICE = "real:asterisk-allison"
POCKETSPHINX = ("pocketsphinx", "5.1.1")
POCKETSPHINX_CLIPS = (  # (file under test/data, what is said, voice)
    ("tidigits/dhd.2934z.raw", "two nine three four zero", "real:pocketsphinx-dhd"),
    ("cards/002.wav", "four queen of clubs", "real:pocketsphinx-cards"),
    ("cards/003.wav", "seven of clubs", "real:pocketsphinx-cards"),
    ("cards/004.wav", "five five", "real:pocketsphinx-cards"),
    ("cards/005.wav", "eight of spades four of clubs seven of hearts", "real:pocketsphinx-cards"),
)
G722 = "G722==1.2.8"

# Number words the vocabulary has no token for: a prompt saying one is left out.
NUMBER_WORDS = frozenset(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty "
    "sixty seventy eighty ninety hundred thousand million billion dozen niner".split())
_NUMERAL = re.compile(r"\d+(?:[.,]\d+)*")
_SYMBOLS = {"*": " star ", "#": " pound "}  # keys said as words in the prompts


def said_of(transcript: str) -> str | None:
    """What a transcript says, numerals 1-9 spelt as digit words; None where it cannot be
    labelled: a numeral 0 or of several digits, or a number word the vocabulary lacks."""
    if any(not re.fullmatch("[1-9]", m.group()) for m in _NUMERAL.finditer(transcript)):
        return None
    said = _NUMERAL.sub(lambda m: DIGIT_WORDS[int(m.group())], transcript)
    for symbol, word in _SYMBOLS.items():
        said = said.replace(symbol, word)
    said = re.sub(r"\s+", " ", said).strip()
    if NUMBER_WORDS & set(re.sub(r"[^a-z' ]", " ", said.lower()).split()):
        return None
    return said


def label(transcript: str) -> tuple[str, str] | None:
    """(said, label) of a transcript, or None where it is left out (`said_of`, or a note in
    parentheses: the upstream list describes silences that way). The label
    spells each digit word as itself and every other word as <unk>."""
    said = None if "(" in transcript else said_of(transcript)  # "(one second of silence)", "(note: ...)"
    return None if said is None else (said, label_of(said))


def says_a_digit(text: str) -> bool:
    return any(w in WORDS for w in text.split())


# ---- building the set (network; run by hand) ------------------------------------------------

def _asterisk_prompts(root: Path) -> dict[str, str]:
    """{prompt id: transcript} from the upstream list ("id: transcript" lines)."""
    prompts = {}
    for line in gzip.open(root / ASTERISK_LIST, "rt", encoding="utf-8", errors="replace"):
        if line.startswith(";") or ":" not in line:
            continue
        key, text = line.split(":", 1)
        prompts[key.strip()] = text.strip()
    return prompts


def _decode_g722(data: bytes, g722_dir: Path) -> np.ndarray:
    sys.path.insert(0, str(g722_dir))
    try:
        import G722
    finally:
        sys.path.remove(str(g722_dir))
    return np.asarray(G722.G722(RATE, 64000).decode(data), dtype=np.int16)


def _pocketsphinx_sdist(dest: Path) -> Path:
    """The sdist from PyPI's simple index (checked against its SHA-256), unpacked; no build step."""
    name, version = POCKETSPHINX
    request = urllib.request.Request(f"https://pypi.org/simple/{name}/",
                                     headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    index = json.load(urllib.request.urlopen(request, timeout=60))
    sdist = next(f for f in index["files"] if f["filename"] == f"{name}-{version}.tar.gz")
    data = urllib.request.urlopen(sdist["url"], timeout=300).read()
    if hashlib.sha256(data).hexdigest() != sdist["hashes"]["sha256"]:
        raise RuntimeError(f"{sdist['filename']}: SHA-256 does not match PyPI's")
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = [m for m in tar.getmembers() if "/test/data/" in m.name and m.isfile()]
        tar.extractall(dest, members=members, filter="data")
    return dest / f"{name}-{version}" / "test" / "data"


def _read_pcm16(path: Path) -> np.ndarray:
    import soundfile as sf

    if path.suffix == ".raw":
        return np.fromfile(path, dtype="<i2")
    pcm, rate = sf.read(path, dtype="int16")
    if rate != RATE or pcm.ndim != 1:
        raise RuntimeError(f"{path}: expected 16 kHz mono, got {rate} Hz, shape {pcm.shape}")
    return pcm


def collect(tmp: Path) -> list[dict]:
    """Every clip of the set: {"pcm" (int16, 16 kHz), "text", "said", "voice", "source"}."""
    debs = tmp / "debs"
    debs.mkdir()
    subprocess.run(["apt-get", "download", *(f"{p}={ASTERISK_VERSION}" for p in ASTERISK_PACKAGES)],
                   cwd=debs, check=True)
    root = tmp / "root"
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    g722_dir = tmp / "g722"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
                    "--target", str(g722_dir), G722], check=True)
    sounds = root / ASTERISK_SOUNDS
    clips = []
    prompts = _asterisk_prompts(root)
    sentences = sorted(k for k in prompts if not k.startswith(("digits/", "letters/", "phonetic/")))
    for key in (*ASTERISK_DIGITS, *sentences):
        audio = sounds / f"{key}.g722"
        labelled = label(prompts[key])
        if labelled is None or not audio.is_file() or not says_a_digit(labelled[1]):
            continue
        pcm = _decode_g722(audio.read_bytes(), g722_dir)
        if len(pcm) > MAX_SECONDS * RATE:
            continue
        clips.append({"pcm": pcm, "said": labelled[0], "text": labelled[1], "voice": ASTERISK_VOICE,
                      "source": f"asterisk:{key}"})
    data = _pocketsphinx_sdist(tmp / "pocketsphinx")
    for name, transcript, voice in POCKETSPHINX_CLIPS:
        said, text = label(transcript)
        clips.append({"pcm": _read_pcm16(data / name), "said": said, "text": text, "voice": voice,
                      "source": f"pocketsphinx:test/data/{name}"})
    return clips


def write(clips: list[dict], out: Path) -> Path:
    """test_e.flac (the clips back to back, 16-bit) and the manifest's test_e rows, as
    speech_eval.export writes the other sets; the other splits' entries are kept."""
    import soundfile as sf

    path = out / "manifest.json"
    manifest = json.loads(path.read_text()) if path.exists() else {}
    rows, offset = [], 0
    for c in clips:
        rows.append({"text": c["text"], "said": c["said"], "voice": c["voice"], "source": c["source"],
                     "offset": offset, "n": len(c["pcm"])})
        offset += len(c["pcm"])
    sf.write(out / f"{SPLIT}.flac", np.concatenate([c["pcm"] for c in clips]), RATE, subtype="PCM_16")
    manifest[SPLIT] = rows
    path.write_text(json.dumps(manifest))
    return out / f"{SPLIT}.flac"


def main(argv: list[str] | None = None) -> None:
    from .speech_eval import EVAL_DIR

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, default=EVAL_DIR)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        clips = collect(Path(tmp))
    flac = write(clips, args.out)
    seconds = sum(len(c["pcm"]) for c in clips) / RATE
    print(f"{flac}: {len(clips)} clips, {seconds:.1f} s, {flac.stat().st_size} bytes")


if __name__ == "__main__":
    main()
