"""What the training split of the speech corpus says besides digit strings (corpus version 3):
a seeded grammar of everyday sentences, words that sound close to a digit word (hard
negatives), and many carrier phrases around digits. Word lists only, shipped here: nothing
is downloaded.

Only training draws from this module. The held-out sets keep version 2's draws
(`speech_text`): set (c)'s sentences are the odd-numbered `speech_text.SENTENCES`, and
`speech_text` rejects every training utterance that says one of them (docs/speech-unseen-voices.md,
"Levers prepared").

How words near digits are labelled (the model knows the digit words and `<unk>`):

- A word that sounds *like* a digit word but is another word (`NEAR_DIGITS`: "line",
  "right", "no", "done", "heaven", "hive", "sticks" ...) is `<unk>`: the model must learn
  that only the digit word itself is a digit.
- A word that sounds *the same* as a digit word, in some accent of the corpus, is never
  said in training (`SAME_AS_A_DIGIT`: "won", "ate", "too", "for", "owe"; "tree" and "free",
  which is how some accents, Caribbean English among them, say "three"; "fife", "sicks"):
  no label could be right for it.
- Number words that are not digit words ("ten", "seventy", "hundred", "dozen", "eleven")
  are never said either (`NUMBER_WORDS`): the vocabulary has no label for them. `<unk>`
  would teach the model that "seven" inside "seventy" is not a digit, and "seven zero"
  would be a guess at what a user means.
"""

from __future__ import annotations

import numpy as np

# --- Words near digit words -------------------------------------------------------------------

# Near-rhymes and one-sound-away words of each digit word: said in training, labelled <unk>.
NEAR_DIGITS = {
    "zero": ("hero", "heroes", "zebra", "mirror", "sierra", "zeal", "serious", "cereal", "zealous", "zipper"),
    "oh": ("no", "so", "know", "low", "show", "slow", "though", "toe", "row", "grow", "snow", "bow",
           "dough", "road", "old", "own", "home", "hole", "boat", "yellow"),
    "one": ("done", "none", "gun", "fun", "sun", "run", "ton", "son", "bun", "once", "want", "wander", "when",
            "win", "wonder"),
    "two": ("shoe", "blue", "who", "do", "new", "few", "true", "glue", "zoo", "you", "chew", "crew", "tool",
            "tune", "tooth", "through", "tomb"),
    "three": ("see", "sea", "me", "key", "knee", "agree", "tea", "thee", "threat", "thrill", "thread", "street",
              "degree", "throat", "thirst"),
    "four": ("door", "more", "floor", "pour", "core", "war", "shore", "store", "score", "sore", "bore", "tour",
             "fort", "fall", "form", "fork", "far", "foam"),
    "five": ("hive", "dive", "drive", "alive", "live", "arrive", "wife", "knife", "fire", "life", "thrive",
             "file", "fight", "hide"),
    "six": ("sticks", "fix", "mix", "kicks", "picks", "tricks", "bricks", "sick", "sit", "socks", "sacks",
            "sucks", "sip", "silk", "seeks"),
    "seven": ("heaven", "sever", "several", "kevin", "devon", "leaven", "level", "seldom", "given",
              "oven", "session"),
    "eight": ("right", "late", "gate", "hate", "freight", "wait", "weight", "plate", "date", "straight", "bait",
              "fate", "state", "ace", "aim", "ape", "lent", "bent", "went", "take"),
    "nine": ("line", "mine", "fine", "wine", "pine", "dine", "sign", "shine", "vine", "spine", "twine", "night",
             "nile", "dime"),
}
HARD_NEGATIVES = tuple(w for words in NEAR_DIGITS.values() for w in words)

# Never said in training: the same sound as a digit word (in some accent), or a number word.
SAME_AS_A_DIGIT = frozenset({
    "o", "oh", "owe", "ow", "won", "wan", "to", "too", "tu", "for", "fore", "fro", "ate", "nein", "sicks", "sics",
    "tree", "free", "fife", "sax", "sex", "seventh", "eighth", "nought", "naught", "nil", "oh's",
})
NUMBER_WORDS = frozenset({
    "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
    "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million",
    "billion", "dozen", "teen", "first", "third", "fourth", "fifth", "sixth", "ninth", "tenth", "once",
    "twice", "double", "triple", "half", "quarter", "point",
})
# "once" is a number word too ("once" = one time) but it is a near-rhyme of "one" that
# people say without meaning a number: it stays a hard negative.
NUMBER_WORDS = NUMBER_WORDS - {"once"}

# --- The sentence grammar ---------------------------------------------------------------------

NOUNS = (
    "window", "table", "chair", "garden", "car", "lamp", "kitten", "box", "bag", "cup", "glass", "bottle",
    "bread", "milk", "water", "letter", "paper", "picture", "house", "bed", "shirt", "coat", "hat", "ticket",
    "train", "plane", "bike", "horse", "dog", "cat", "bird", "fish", "apple", "lemon", "cake", "soup",
    "rice", "salt", "sugar", "cheese", "butter", "towel", "pillow", "blanket", "clock", "watch", "wallet",
    "camera", "guitar", "violin", "river", "bridge", "village", "city", "market", "shop", "office", "school",
    "church", "park", "beach", "hill", "mountain", "forest", "island", "jacket", "basket", "candle", "carpet",
    "bucket", "hammer", "ladder", "pencil", "mirror", "engine", "desk", "map", "garage", "parcel",
    "umbrella", "sandwich", "kettle", "carrot", "pepper", "cabinet", "balloon", "rabbit", "monkey", "tiger",
    "captain", "doctor", "teacher", "baker", "neighbour", "lady", "farmer", "singer", "driver", "nurse",
)
ADJECTIVES = (
    "red", "yellow", "black", "white", "brown", "purple", "big", "small", "little", "long", "short", "warm",
    "cold", "hot", "clean", "dirty", "quiet", "loud", "dark", "bright", "soft", "hard", "heavy", "empty",
    "full", "closed", "broken", "ready", "busy", "lovely", "strange", "simple", "funny", "sharp", "sweet",
    "fresh", "wet", "dry", "tall", "young", "pretty", "ugly", "cheap", "rich", "calm", "brave", "lazy",
    "careful", "famous", "hungry", "tired", "angry", "gentle", "clever", "modern", "plain", "shiny", "wooden",
)
VERBS = (  # (base, past)
    ("open", "opened"), ("close", "closed"), ("wash", "washed"), ("move", "moved"), ("paint", "painted"),
    ("lose", "lost"), ("sell", "sold"), ("buy", "bought"), ("check", "checked"), ("drop", "dropped"),
    ("carry", "carried"), ("clean", "cleaned"), ("lock", "locked"), ("fix", "fixed"), ("push", "pushed"),
    ("pull", "pulled"), ("hold", "held"), ("cover", "covered"), ("fill", "filled"), ("keep", "kept"),
    ("borrow", "borrowed"), ("visit", "visited"), ("watch", "watched"), ("draw", "drew"), ("catch", "caught"),
    ("follow", "followed"), ("hide", "hid"), ("leave", "left"), ("send", "sent"), ("cook", "cooked"),
)
PRONOUNS = ("I", "we", "they", "she", "he", "you")
PLACES = (
    "in the garden", "at the office", "by the river", "on the table", "under the bed", "behind the house",
    "near the bridge", "at school", "in the park", "on the train", "at the market", "in the village",
    "upstairs", "downstairs", "outside", "inside", "over there", "at the beach",
)
WHEN = ("today", "yesterday", "tomorrow", "this evening", "last week", "every day", "on sunday",
        "in the summer", "after lunch", "before dinner", "right now", "at night")
NAMES = ("anna", "peter", "maria", "james", "sophie", "daniel", "lucy", "oscar", "emma", "hugo", "julia",
         "martin", "clara", "victor", "nina", "thomas")
TEMPLATES = (
    "{adj} {noun}", "the {noun}", "the {noun} is {adj}", "the {adj} {noun}", "{verb} the {noun}",
    "please {verb} the {noun}", "{pron} {past} the {noun}", "{pron} {past} the {adj} {noun} {place}",
    "where is the {noun}", "is the {noun} {adj}", "the {noun} is {place}", "{name} {past} the {noun} {when}",
    "{name} is {adj}", "did {name} {verb} the {noun}", "{verb} the {noun} {when}", "the {adj} {noun} is {place}",
    "{pron} {past} it {when}", "ask {name} about the {noun}", "{name} and {name2}", "the {noun} and the {noun2}",
    "{pron} liked the {adj} {noun}", "{name} has a {adj} {noun}", "look at the {noun}", "{verb} it {place}",
    "{hn}", "{hn} {hn2}", "the {hn}", "{hn} please", "{adj} {hn}", "{name} {hn}", "{pron} {past} the {hn}",
    "it is {hn}", "{hn} {place}", "the {noun} is {hn}",
)
# Short everyday phrases with a hard negative, as people say them.
HARD_PHRASES = (
    "turn right", "all right", "right away", "keep right", "hold the line", "stay in line", "fine thanks",
    "no way", "so long", "carry on", "it is done", "not done yet", "heaven knows", "just in case",
    "wait here", "the gate is open", "fine work", "the door is locked", "sit down", "fix it", "mix it",
    "drive safely", "more please", "sign here", "good night", "see you", "you know", "no problem",
    "why not", "shut the door", "the line is busy", "on the right", "far away", "come home", "take care",
    "run fast", "have fun", "just do it", "who is it", "see the sea", "a new shoe", "the blue door",
    "more or less", "straight ahead", "try later", "such a shame", "so so", "no no",
    "low tide", "slow down", "show me", "open wide", "right here", "pick a date", "late as usual",
    "step back", "fine wine", "slow and steady", "get more", "the store is closed", "a fine day",
    "knife and fork", "in the hive", "sticks and stones", "at the gate", "the new line", "no more",
)


def grammar_sentence(rng: np.random.Generator) -> str:
    """One sentence of the grammar, every slot filled at random (thousands of sentences)."""
    template = TEMPLATES[int(rng.integers(len(TEMPLATES)))]

    def pick(seq):
        return seq[int(rng.integers(len(seq)))]

    verb = pick(VERBS)
    slots = {"noun": pick(NOUNS), "noun2": pick(NOUNS), "adj": pick(ADJECTIVES), "verb": verb[0],
             "past": verb[1], "pron": pick(PRONOUNS), "place": pick(PLACES), "when": pick(WHEN),
             "name": pick(NAMES), "name2": pick(NAMES), "hn": pick(HARD_NEGATIVES), "hn2": pick(HARD_NEGATIVES)}
    return template.format(**slots)


def hard_negative_clip(rng: np.random.Generator) -> str:
    """A short clip (mostly 1-2 words) of words near a digit word: a phrase, or 1-3 of them."""
    if rng.random() < 0.4:
        return HARD_PHRASES[int(rng.integers(len(HARD_PHRASES)))]
    n = int(rng.choice([1, 2, 3], p=[0.5, 0.35, 0.15]))
    return " ".join(HARD_NEGATIVES[int(i)] for i in rng.integers(0, len(HARD_NEGATIVES), n))


# --- Carrier phrases --------------------------------------------------------------------------

# Digits ({}) inside phrases, at the start, in the middle or at the end. Version 2's 16
# frames (`speech_text.CARRIERS`, which set (d) uses) stay in training too; these add more.
# None says "to", "too" or "for" (digit sounds) or "o'clock".
CARRIER_FRAMES = (
    "{} is my number", "{} is the code", "{} please", "{} thanks", "{} okay", "{} and this is it",
    "press {}", "press {} now", "enter {}", "type {}", "it is {}", "the answer is {}", "the total is {}",
    "it costs {} dollars", "my zip code is {}", "my phone number is {} thank you", "gate {}", "platform {}",
    "seat {}", "bus {}", "page {}", "channel {}", "level {}", "apartment {}", "table {}", "line {}", "row {}",
    "room {} please", "I live at {} main street", "call {} now", "please dial {}", "dial {} and wait",
    "the number is {} okay", "send it by {}", "my ticket is {}", "the flight is {}", "the gate is {}",
    "we are in room {}", "my id is {}", "the serial is {}", "write down {}", "the last digits are {}",
    "the pin is {} remember", "code {} accepted", "bay {}", "locker {}", "is it {}", "did you say {}",
    "I said {}", "yes {}", "no {}", "so {}", "right {}", "fine {}", "the order is {} thanks", "try {}",
    "it was {} I think", "{} is right", "{} is fine", "{} and {}", "between {} and {}", "{} or {}",
)


def vocabulary() -> frozenset[str]:
    """Every word the grammar, the near-digit clips and the carrier frames can say (lower case)."""
    texts = [*NOUNS, *ADJECTIVES, *(w for v in VERBS for w in v), *PRONOUNS, *PLACES, *WHEN, *NAMES,
             *HARD_NEGATIVES, *HARD_PHRASES, *CARRIER_FRAMES,
             *(t.replace("{", " {").replace("}", "} ") for t in TEMPLATES)]
    return frozenset(w.lower() for t in texts for w in t.split() if "{" not in w)
