"""The example inputs shipped in assets/examples (one click to try in the app).

Speech: clips of held-out voices from the evaluation set, plus one mixed with babble
at 5 dB SNR, one sentence with digits in it (set d), one without any digit (set c) and a
real recording of a person (set e: pocketsphinx's test clip "two nine three four zero",
BSD-2-style licence, assets/speech/LICENSE-test_e.md).
Images: the first MNIST test digits, enlarged 4x as PNG.
`python -m explorer.data.examples` writes them (and index.json) again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from ..audio import RATE
from ..paths import ASSETS

EXAMPLES = ASSETS / "examples"


def export(out: Path = EXAMPLES) -> dict:
    from ..image_input import mnist_to_png
    from ..noise import make_noise, mix_at_snr
    from .mnist import load_mnist
    from .speech_eval import load_eval, said

    out.mkdir(parents=True, exist_ok=True)
    index: dict[str, list] = {"speech": [], "image": []}
    for split, picks in (("test_a", (0, 1, 2)), ("test_b", (0, 1))):
        clips, texts, voices = load_eval(split)
        for i in picks:
            name = f"speech-{split}-{i}.flac"
            sf.write(out / name, clips[i], RATE, subtype="PCM_16")
            index["speech"].append({"file": name, "text": texts[i], "voice": voices[i], "note": "held-out voice"})
    for split, pick, note in (("test_d", 0, "digits in a sentence, unseen voice"),
                              ("test_c", 0, "no digits at all, unseen voice")):
        clips, texts, voices = load_eval(split)
        name = f"speech-{split}-{pick}.flac"
        sf.write(out / name, clips[pick], RATE, subtype="PCM_16")
        index["speech"].append({"file": name, "text": texts[pick], "said": said(split)[pick], "voice": voices[pick],
                                "note": note})
    clips, texts, voices = load_eval("test_e")
    pick = voices.index("real:pocketsphinx-dhd")
    name = "speech-test_e-dhd.flac"
    sf.write(out / name, clips[pick], RATE, subtype="PCM_16")
    index["speech"].append({"file": name, "text": texts[pick], "said": said("test_e")[pick], "voice": voices[pick],
                            "note": "a real recording (pocketsphinx test data, BSD)"})
    clips, texts, voices = load_eval("test_a")
    babble = make_noise("babble", len(clips[0]), np.random.default_rng(1), [clips[3], clips[4], clips[5]])
    name = "speech-test_a-0-babble-5dB.flac"
    sf.write(out / name, mix_at_snr(clips[0], babble, 5), RATE, subtype="PCM_16")
    index["speech"].append({"file": name, "text": texts[0], "voice": voices[0], "note": "babble at 5 dB SNR"})
    x, y = load_mnist("test")
    for i in range(5):
        name = f"digit-{i}-label{y[i]}.png"
        (out / name).write_bytes(mnist_to_png(x[i], scale=4))
        index["image"].append({"file": name, "label": int(y[i])})
    (out / "index.json").write_text(json.dumps(index, indent=1))
    return index


def load_index() -> dict:
    path = EXAMPLES / "index.json"
    return json.loads(path.read_text()) if path.exists() else {"speech": [], "image": []}


@dataclass(frozen=True)
class SpeechExample:
    """One shipped clip, as index.json lists it."""

    file: str  # in EXAMPLES
    text: str  # the label: digit words, <unk> for any other word
    voice: str
    note: str  # why it is there (a held-out voice, babble at 5 dB SNR, ...)
    said: str  # what the clip says, word for word (the label, unless it has words beyond the digits)


def speech_examples() -> list[SpeechExample]:
    return [SpeechExample(**{"said": e["text"], **e}) for e in load_index()["speech"]]


if __name__ == "__main__":
    print(json.dumps(export(), indent=1))
