"""What the speech corpus says, and how it is labelled: the one vocabulary of the speech model.

The model knows eleven words — the digits zero, oh (for 0), one … nine — and one
token for every other word, `UNKNOWN`. Utterances are of three kinds:

- "digits": a string of 1-7 digit words, as people read out phone numbers and codes;
- "carrier": digits inside the phrases people put around numbers ("my number is …",
  "call me at …", "the code is …", "extension …");
- "words": speech without any digit: random words of Debian's `wamerican` list, or a
  short everyday sentence.

The label (`text`) spells digits as digit words and every other word as `UNKNOWN`;
`said` is what the engine reads (for people, in the shipped transcripts).

Training and the held-out sets draw differently (corpus version 3). The held-out splits
(`held_out=True`) draw exactly what version 2 drew. Training says far more: the digit 0 more
often, and read as "oh" more often (`TRAIN_ZERO_SHARE`, `TRAIN_OH_SHARE`); carrier phrases
from `speech_phrases.CARRIER_FRAMES` as well as `CARRIERS`, with shorter digit strings; and,
without digits, a seeded grammar, words near digit words labelled `UNKNOWN`
(`speech_phrases.NEAR_DIGITS`), dictionary words and the even-numbered `SENTENCES`. No
training utterance says one of set (c)'s sentences (`says_held_out_sentence`).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..metrics import WordEdits, word_edits
from . import speech_phrases as phrases

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
WORDS = ("zero", "oh") + DIGIT_WORDS[1:]  # the spoken vocabulary: 0 is read as "zero" or as "oh"
UNKNOWN = "<unk>"  # one token per word outside WORDS
VOCABULARY = WORDS + (UNKNOWN,)  # every label token
MAX_WORDS = 7
KINDS = ("digits", "carrier", "words")

WORD_LIST = Path("/usr/share/dict/words")  # Debian's wamerican
WORD_LIST_PACKAGE = "wamerican"

# Words that sound like a digit word (or are one) must never be labelled unknown, and
# words that contain one ("someone", "often", "network") would teach the model to hear
# digits inside other words: neither is used as an unknown word.
_SOUNDS_LIKE_A_DIGIT = {"o", "oh", "owe", "ow", "zero", "won", "to", "too", "tu", "for", "fore", "fro", "ate",
                        "eighty", "nein", "sicks", "sics", "sax", "sex", "tree", "free", "fife", "hive", "heaven",
                        "seventh", "ten", "teen", "twenty", "thirty", "forty", "fifty", "sixty", "seventy",
                        "ninety", "hundred", "thousand", "million", "nil", "nought", "naught", "dozen"}
_DIGIT_INSIDE = re.compile("one|two|three|four|five|six|seven|eight|nine|zero|won|ate|too|for")

# Phrases around numbers: (before, after) the digits. The digits are never read with
# "to" or "for" nearby, which sound like digits themselves.
CARRIERS = (
    ("my number is", ""), ("call me at", ""), ("the code is", ""), ("extension", ""),
    ("extension", "please"), ("my number is", "thanks"), ("the code is", "okay"), ("call me at", "tonight"),
    ("dial", ""), ("the pin is", ""), ("room", ""), ("flight", "is boarding"), ("my account is", ""),
    ("order number", ""), ("please call", "now"), ("the password is", "remember it"),
)

# Short everyday sentences without digit words. Even indices are spoken in training,
# odd ones only by the held-out voices of set (c), so (c) holds sentences never trained on.
SENTENCES = (
    "hello", "good morning", "thank you very much", "yes please", "no thanks", "how are you",
    "front center", "rear left", "see you later", "what time is it", "I am not sure",
    "can you hear me", "please wait a moment", "the weather is nice", "where is the station",
    "hello world", "turn left here", "I would like a coffee", "open the door", "stop", "good night",
    "that sounds great", "let me think", "the meeting starts soon", "excuse me", "never mind",
    "queen of hearts", "play some music", "call my mother", "what is your name", "I love this song",
    "it is raining again", "the bus is late", "shall we go", "red green blue", "happy birthday",
    "are you there", "nice to meet you", "the kitchen is clean", "bring me the book", "yes", "no",
    "maybe later", "hurry up", "speak slowly please", "I cannot find my keys", "the lights are off",
    "how much is it", "goodbye", "well done", "this is a test", "rear right", "front left",
)


@cache
def dictionary_words() -> tuple[str, ...]:
    """Plain lower-case words of the word list (2-10 letters), without digit-like words."""
    if not WORD_LIST.is_file():
        raise InputError(f"The word list {WORD_LIST} is missing: install Debian's {WORD_LIST_PACKAGE} "
                         f"(`make speech-tools`).")
    words = {w for w in WORD_LIST.read_text(errors="replace").split()
             if w.isascii() and w.isalpha() and w.islower() and 2 <= len(w) <= 10}
    return tuple(sorted(w for w in words if w not in _SOUNDS_LIKE_A_DIGIT and not _DIGIT_INSIDE.search(w)))


def label_of(said: str) -> str:
    """The label of what is said: digit words stay, every other word becomes UNKNOWN."""
    words = re.sub(r"[^a-z' ]", " ", said.lower()).split()
    return " ".join(w if w in WORDS else UNKNOWN for w in words)


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


def random_carrier(rng: np.random.Generator) -> str:
    """What is said: digits inside a phrase ("call me at five five five, two oh one")."""
    _, digits = random_digits(rng)
    before, after = CARRIERS[int(rng.integers(len(CARRIERS)))]
    return " ".join(p for p in (before, digits, after) if p)


def random_words(rng: np.random.Generator, held_out: bool) -> str:
    """What is said: no digit at all. Half the time 1-4 dictionary words, else a sentence
    (training: the even-numbered ones; `held_out`: the odd-numbered, never trained on)."""
    if rng.random() < 0.5:
        words = dictionary_words()
        return " ".join(words[int(i)] for i in rng.integers(0, len(words), int(rng.integers(1, 5))))
    pool = SENTENCES[1::2] if held_out else SENTENCES[0::2]
    return pool[int(rng.integers(len(pool)))]


def random_utterance(kind: str, rng: np.random.Generator, held_out: bool = False) -> tuple[str, str, str]:
    """(label, what the engine reads, what is said) for one utterance of `kind`.

    `held_out`: as version 2 of the corpus drew it (the held-out splits); else as training
    draws it now (`training_utterance`)."""
    if not held_out:
        return training_utterance(kind, rng)
    if kind == "digits":
        text, spoken = random_digits(rng)
        return text, spoken, text
    said = random_carrier(rng) if kind == "carrier" else random_words(rng, held_out)
    return label_of(said), said, said.replace(",", "")


# --- Training draws (corpus version 3) ---------------------------------------------------------

TRAIN_ZERO_SHARE = 0.14  # share of training digits that are 0 (held-out sets: 1 in 10)
TRAIN_OH_SHARE = 0.6  # share of those read as "oh" (held-out sets: half): "oh" ~8% of digits, not 5%
# Training digit-string lengths 1-7: carrier phrases get shorter ones (a phrase with one or
# two digits is the hardest case of set (d)'s kind).
TRAIN_LENGTHS = {"digits": (0.12, 0.12, 0.15, 0.15, 0.15, 0.15, 0.16),
                 "carrier": (0.22, 0.16, 0.16, 0.14, 0.11, 0.1, 0.11)}
# What training says without digits: shares of the grammar, words near digit words,
# dictionary words and the even-numbered SENTENCES.
TRAIN_WORDS_SHARES = {"grammar": 0.35, "near digits": 0.3, "dictionary": 0.25, "sentences": 0.1}


def training_digits(rng: np.random.Generator, lengths: tuple[float, ...] = TRAIN_LENGTHS["digits"]
                    ) -> tuple[str, str]:
    """(text, spoken) for a string of 1-7 digit words as training says them: 0 more often,
    and read as "oh" more often than in the held-out sets; a pause after the third word of
    half the longer strings."""
    n = int(rng.choice(MAX_WORDS, p=np.asarray(lengths) / sum(lengths))) + 1
    words = []
    for _ in range(n):
        if rng.random() < TRAIN_ZERO_SHARE:
            words.append("oh" if rng.random() < TRAIN_OH_SHARE else "zero")
        else:
            words.append(DIGIT_WORDS[int(rng.integers(1, 10))])
    text = " ".join(words)
    if n >= 5 and rng.random() < 0.5:
        return text, " ".join(words[:3]) + ", " + " ".join(words[3:])
    return text, text


def training_carrier(rng: np.random.Generator) -> str:
    """What is said: digits inside a phrase, a third of the time one of set (d)'s frames
    (`CARRIERS`), else one of `speech_phrases.CARRIER_FRAMES` (digits at the start, in the
    middle, at the end, or twice)."""
    if rng.random() < 1 / 3:
        _, digits = training_digits(rng, TRAIN_LENGTHS["carrier"])
        before, after = CARRIERS[int(rng.integers(len(CARRIERS)))]
        return " ".join(p for p in (before, digits, after) if p)
    frame = phrases.CARRIER_FRAMES[int(rng.integers(len(phrases.CARRIER_FRAMES)))]
    groups = [training_digits(rng, TRAIN_LENGTHS["carrier"])[1] for _ in range(frame.count("{}"))]
    return frame.format(*groups)


def training_words(rng: np.random.Generator) -> str:
    """What is said without any digit, in training (never one of set (c)'s sentences)."""
    while True:
        source = _draw_key(TRAIN_WORDS_SHARES, rng)
        if source == "grammar":
            said = phrases.grammar_sentence(rng)
        elif source == "near digits":
            said = phrases.hard_negative_clip(rng)
        elif source == "dictionary":
            words = training_dictionary_words()
            said = " ".join(words[int(i)] for i in rng.integers(0, len(words), int(rng.integers(1, 5))))
        else:
            said = SENTENCES[0::2][int(rng.integers(len(SENTENCES[0::2])))]
        if not says_held_out_sentence(said):
            return said


@cache
def training_dictionary_words() -> tuple[str, ...]:
    """`dictionary_words` less the words training never says (`speech_phrases.SAME_AS_A_DIGIT`,
    `speech_phrases.NUMBER_WORDS`: "wan", "eleven", "twelve" ...)."""
    never = phrases.SAME_AS_A_DIGIT | phrases.NUMBER_WORDS
    return tuple(w for w in dictionary_words() if w not in never)


def training_utterance(kind: str, rng: np.random.Generator) -> tuple[str, str, str]:
    """(label, what the engine reads, what is said) for one training utterance of `kind`."""
    if kind == "digits":
        text, spoken = training_digits(rng)
        return text, spoken, text
    said = training_carrier(rng) if kind == "carrier" else training_words(rng)
    return label_of(said), said, said.replace(",", "")


def says_held_out_sentence(said: str) -> bool:
    """Whether `said` is one of set (c)'s sentences (the odd-numbered SENTENCES) or holds one
    of its sentences of two or more words."""
    words = " " + " ".join(said.lower().replace(",", "").split()) + " "
    return any(words.strip() == s or (" " in s and f" {s} " in words) for s in _held_out_sentences())


@cache
def _held_out_sentences() -> tuple[str, ...]:
    return tuple(s.lower() for s in SENTENCES[1::2])


def _draw_key(shares: dict[str, float], rng: np.random.Generator) -> str:
    keys = list(shares)
    return keys[int(rng.choice(len(keys), p=np.array([shares[k] for k in keys]) / sum(shares.values())))]


def digits_of(transcript: str) -> str:
    """Only the digit words of a transcript ("<unk> <unk> five oh two" -> "five oh two")."""
    return " ".join(w for w in transcript.split() if w in WORDS)


def digit_edits(hypothesis: str, reference: str) -> tuple[WordEdits, int]:
    """(edits, words) of the speech model: the digits missed (deletions), invented
    (insertions) or wrong (substitutions), against the reference's digits; unknown-word
    tokens are not counted either way. Speech without a digit counts its words, so there
    every invented digit is an error per word spoken."""
    ref = digits_of(reference)
    edits = word_edits(digits_of(hypothesis), ref)
    return edits, edits.words if ref else len(reference.split())


def digit_errors(hypothesis: str, reference: str) -> tuple[int, int]:
    """(errors, words) of the speech model (`digit_edits`, counted)."""
    edits, n = digit_edits(hypothesis, reference)
    return edits.errors, n


NO_DIGITS = "no digits heard: the model only knows zero, oh, one … nine"


def heard_note(transcript: str) -> str:
    """What the speech model heard, in words: its digits, or plainly that there were none."""
    digits = digits_of(transcript)
    unknown = sum(w == UNKNOWN for w in transcript.split())
    other = f" ({unknown} other word{'s' if unknown != 1 else ''} shown as {UNKNOWN})" if unknown else ""
    return (f"Digits heard: {digits}{other}." if digits else NO_DIGITS[0].upper() + NO_DIGITS[1:] + other + ".")
