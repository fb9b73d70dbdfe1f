"""Who speaks the speech corpus: the voice table of every split.

espeak-ng voices are an English accent plus a variant; flite and festival have a few
recorded voices each. Splits (written out below, see `voice_table()`):

- train: most espeak accent+variant combinations, the training flite/festival voices,
  the training speeds and pitches; some clips of them in a voice style (`STYLE_SHARES`:
  warped toward female and child ranges, or whispered).
- val and test_a: espeak accent+variant combinations never used in training (each
  accent and each variant is heard in training, never together), and the training
  flite/festival voices, all at speeds and pitches never used in training.
- test_b, test_c, test_d: whole voices never used in training: espeak accents and
  variants that are never trained on, flite slt, festival ked and festival slt (the same
  speaker as flite slt, so it must stay out of training too). test_b says digits,
  test_c words without digits, test_d digits inside carrier phrases.

mbrola voices would add speakers, but Debian ships them only in non-free (not installable
here); flite's other voice (awb_time) only speaks clock times.
"""

from __future__ import annotations

from dataclasses import dataclass

SPLITS = ("train", "val", "test_a", "test_b", "test_c", "test_d")
DEFAULT_SIZES = {"train": 30_000, "val": 1_000, "test_a": 1_000, "test_b": 1_000, "test_c": 1_000, "test_d": 1_000}
UNSEEN_VOICE_SPLITS = ("test_b", "test_c", "test_d")  # spoken by voices never trained on
# What each split says (speech_text.KINDS), as shares of its utterances.
# Training (version 3): more carrier phrases and more speech without digits than version 2's
# 0.6 / 0.2 / 0.2 (docs/speech-unseen-voices.md, levers 2 and 3).
KIND_SHARES = {"train": {"digits": 0.45, "carrier": 0.3, "words": 0.25},
               "val": {"digits": 1.0}, "test_a": {"digits": 1.0}, "test_b": {"digits": 1.0},
               "test_c": {"words": 1.0}, "test_d": {"carrier": 1.0}}
# Voice styles (speech_augment.STYLES) of training clips, by engine: flite and festival
# offer only male training voices, so they get more of the warped ones. Version 3 adds
# whispered and breathy female voices (the never-heard whispered female voice is set (b)'s
# worst), breathy voices, and a random per-clip warp of pitch, formants and tempo.
STYLE_SHARES = {"espeak": {"": 0.62, "female": 0.06, "child": 0.08, "whisper": 0.06, "whisper_female": 0.07,
                           "breathy": 0.04, "breathy_female": 0.03, "warp": 0.04},
                "flite": {"": 0.3, "female": 0.18, "child": 0.12, "whisper": 0.1, "whisper_female": 0.1,
                          "breathy": 0.05, "breathy_female": 0.07, "warp": 0.08},
                "festival": {"": 0.3, "female": 0.18, "child": 0.12, "whisper": 0.1, "whisper_female": 0.1,
                             "breathy": 0.05, "breathy_female": 0.07, "warp": 0.08}}

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
    "edward2", "steph2", "steph3", "AnxiousAndy",  # near-copies of the above: more of the same kind
)
# Version 3 trains on every other variant that shares nothing with a held-out one (below):
# effects and robots (an echo, a shifted formant, a buzzy source) and iven's quieter copies.
ESPEAK_TRAIN_VARIANTS_V3 = ("Demonic", "Mr serious", "Tweaky", "kaukovalta", "RicishayMax", "RicishayMax2",
                            "RicishayMax3", "robosoft7", "robosoft8", "iven2", "iven3", "iven4")
ESPEAK_TRAIN_VARIANTS += ESPEAK_TRAIN_VARIANTS_V3
ESPEAK_TEST_B_VARIANTS = ("m8", "f5", "whisperf", "klatt4", "grandma", "grandpa", "Mike", "anika")
ESPEAK_LEFT_OUT = ("anikaRobot", "UniRobot", "announcer", "robosoft", "robosoft2", "robosoft3", "robosoft4",
                   "robosoft5", "robosoft6", "fast", "iven")
# Left out on purpose, because they share a part of a held-out variant: anikaRobot (anika's
# settings with an echo), UniRobot, announcer and robosoft3 (klatt4's synthesizer,
# `klatt 4`), robosoft1-6 (m8's formants). Also left out: fast (changes speed only; espeak-ng
# 1.51 reads it as the plain voice) and iven (clips even at half amplitude).

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
SPEEDS |= {"test_c": SPEEDS["test_b"], "test_d": SPEEDS["test_b"]}
PITCHES = {
    "train": (0.80, 0.90, 1.00, 1.12, 1.25),
    "val": (0.85, 1.18),
    "test_a": (0.75, 0.95, 1.06, 1.32),
    "test_b": (0.80, 0.90, 1.00, 1.12, 1.25),
}
PITCHES |= {"test_c": PITCHES["test_b"], "test_d": PITCHES["test_b"]}
# Share of each engine's utterances per split (voices are drawn uniformly within an engine).
ENGINE_SHARES = {
    "train": {"espeak": 0.6, "flite": 0.3, "festival": 0.1},
    "val": {"espeak": 0.6, "flite": 0.3, "festival": 0.1},
    "test_a": {"espeak": 0.6, "flite": 0.3, "festival": 0.1},
    "test_b": {"espeak": 0.5, "flite": 0.25, "festival": 0.25},
}
ENGINE_SHARES |= {"test_c": ENGINE_SHARES["test_b"], "test_d": ENGINE_SHARES["test_b"]}
ENGINES = ("espeak", "flite", "festival")


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
            name = f"{accent}+{variant}"
            for split in _splits(held_out.get((accent, variant), accent_split)):
                rows.append(Voice(split, "espeak", name, name, SPEEDS[split], PITCHES[split]))
    for engine, table in (("flite", FLITE_VOICES), ("festival", FESTIVAL_VOICES)):
        for name, (voice_split, speaker, f0) in table.items():
            for split in (("train", "val", "test_a") if voice_split == "train" else _splits(voice_split)):
                pitches = PITCHES[split] if f0 is not None else (1.0,)
                rows.append(Voice(split, engine, name, speaker, SPEEDS[split], pitches))
    return rows


def _splits(voice_split: str) -> tuple[str, ...]:
    """A never-trained whole voice speaks every unseen-voice set; other voices one split."""
    return UNSEEN_VOICE_SPLITS if voice_split == "test_b" else (voice_split,)


def format_voice_table() -> str:
    """The voice table as readable text (`synth speech --list-voices`)."""
    lines = []
    for split in SPLITS:
        voices = [v for v in voice_table() if v.split == split]
        lines.append(f"{split} ({', '.join(KIND_SHARES[split])}): {len(voices)} voices; "
                     f"speeds {SPEEDS[split]}, pitches {PITCHES[split]}")
        for engine in ENGINES:
            of_engine = [v for v in voices if v.engine == engine]
            names = [v.name + ("" if len(v.pitches) > 1 else " (fixed pitch)") for v in of_engine]
            if engine == "espeak" and split == "train":  # too many to list one by one
                accents = [a for a, s in ESPEAK_ACCENTS.items() if s == "train"]
                names = [f"accents {' '.join(accents)} x variants {' '.join(ESPEAK_TRAIN_VARIANTS)}, "
                         "except the val and test_a combinations"]
            lines.append(f"  {engine} ({len(of_engine)}): {', '.join(names)}")
    lines.append("voice styles of training clips: " + "; ".join(
        f"{engine} " + ", ".join(f"{s or 'plain'} {p:.0%}" for s, p in shares.items())
        for engine, shares in STYLE_SHARES.items()))
    return "\n".join(lines)
