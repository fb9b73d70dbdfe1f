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
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..metrics import WordEdits, word_edits

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
    """(label, what the engine reads, what is said) for one utterance of `kind`."""
    if kind == "digits":
        text, spoken = random_digits(rng)
        return text, spoken, text
    said = random_carrier(rng) if kind == "carrier" else random_words(rng, held_out)
    return label_of(said), said, said.replace(",", "")


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
