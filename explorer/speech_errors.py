"""Where the speech model's digit errors are: per clip, voice, voice style, exit and digit.

`analyse(model, clips, name)` runs a speech model with every exit on a set of clips and
gives one `ClipResult` per clip: who spoke it and how, its reference, the transcript at
every exit, and the digit edits of each (substitutions, deletions, insertions: the
counts the model's WER adds up, `speech_text.digit_edits`). `summarise` groups them per
exit, voice, voice part, style, speed, pitch, length and speaking rate, and counts which
digit is heard as which, dropped or invented. `load_set(name)` gives the clips of a named
set: a shipped evaluation set (val, test_a ... test_e), one mixed with noise
("test_a:white:10"), a sample of the training clips as trained on ("train": the clips
as the corpus stores them; "train_aug": each altered once by the training augmentation),
every clip the corpus plans for a split ("corpus:test_b": 1,000 instead of the shipped
200), or a split's voices saying another kind of utterance ("test_a+carrier"). Clips the
shipped sets lack are synthesized once (the TTS tools of `make speech-tools`) and cached.

`python -m explorer report speech-errors` writes it all as JSON to the cache (or --out)
and prints the tables docs/speech-unseen-voices.md is made of.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

from .audio import RATE
from .data.speech_phrases import HARD_NEGATIVES
from .data.speech_text import SENTENCES, WORDS, digit_edits
from .metrics import WordEdits, word_edits

SETS = ("train", "train_aug", "val", "test_a", "test_a:white:10", "test_a:pink:10", "test_a:babble:10",
        "test_b", "test_c", "test_d", "test_e", "corpus:test_b", "corpus:test_c", "corpus:test_d",
        "test_a+words", "test_a+carrier")
UNSEEN = ("test_b", "test_c", "test_d", "test_e")  # spoken by voices never trained on (shipped; "corpus:" + one: all)
NO_DIGIT_SETS = ("test_c", "corpus:test_c", "test_a+words")  # their error is a digit invented where none was said
TRAIN_CLIPS = 400  # clips of the training sample
RATE_BINS = (2.0, 2.5, 3.0)  # words said per second: the edges of the speaking-rate groups
_PAD_S = 0.2  # the corpus keeps 0.1 s of silence at each end of a clip


@dataclass(frozen=True)
class EvalClip:
    """One clip to analyse and what is known of it."""

    audio: np.ndarray  # float32, 16 kHz
    reference: str  # the label: digit words, <unk> for any other word
    said: str  # what is said, in words
    voice: str  # "engine:voice", e.g. "espeak:en-029+Mike"
    style: str = "plain"  # the voice style baked into a training clip (plain, female, child, whisper)
    kind: str = "digits"  # digits, carrier phrase, sentence or dictionary words
    speed: float | None = None  # factor of the voice's default speed (None: unknown)
    pitch: float | None = None


@dataclass(frozen=True)
class ClipResult:
    """A clip's transcript and digit edits at every exit (index 0: the first layer)."""

    set: str
    index: int
    voice: str
    style: str
    kind: str
    speed: float | None
    pitch: float | None
    seconds: float
    reference: str
    said: str
    words: int  # the WER's denominator: reference digits (words spoken where it has none)
    hypotheses: tuple[str, ...]
    edits: tuple[WordEdits, ...]
    ctc_entropy: tuple[float, ...]  # frame-mean entropy of the CTC head (the exit criterion's score)
    ctc_loss: tuple[float, ...]  # the training objective on this clip (per reference token)

    @property
    def engine(self) -> str:
        return self.voice.split(":", 1)[0]

    @property
    def variant(self) -> str:
        """espeak: the voice variant after '+' (m8, whisperf, ...); flite/festival: the voice."""
        name = self.voice.split(":", 1)[-1]
        return name.split("+", 1)[1] if "+" in name else name

    @property
    def accent(self) -> str:
        """espeak: the accent before '+'; flite/festival: the engine."""
        name = self.voice.split(":", 1)[-1]
        return name.split("+", 1)[0] if "+" in name else self.engine

    @property
    def rate(self) -> float:
        """Words said per second of speech."""
        return len(self.said.split()) / max(self.seconds - _PAD_S, 0.1)

    def to_json(self) -> dict:
        out = asdict(self)
        out["edits"] = [{"S": e.substitutions, "D": e.deletions, "I": e.insertions} for e in self.edits]
        return out


@torch.inference_mode()
def analyse(model, clips: list[EvalClip], name: str, batch: int = 16,
            progress: Callable[[float, str], None] | None = None) -> list[ClipResult]:
    """Every exit's transcript, digit edits, CTC entropy and CTC loss on each clip, read
    the way the profile reads them (engine.read_all_exits); clips of similar length are
    batched (a clip gives the same answer alone and padded)."""
    from .engine import read_all_exits
    from .train.speech import ctc_loss

    order = np.argsort([len(c.audio) for c in clips], kind="stable")
    out: list[ClipResult | None] = [None] * len(clips)
    for start in range(0, len(clips), batch):
        idx = order[start:start + batch]
        x, lengths = model.collate([torch.from_numpy(np.ascontiguousarray(clips[i].audio, np.float32)) for i in idx])
        logits: list[torch.Tensor] = []
        cols, answers = read_all_exits(model, x, lengths, task_logits=logits)
        mask = model.embed(x, lengths).mask
        for b, i in enumerate(idx):
            c = clips[i]
            hyps = tuple(model.describe(answers[k][b]) for k in range(model.num_exits))
            edits, words = zip(*(digit_edits(h, c.reference) for h in hyps), strict=True)
            T = int(mask[b].sum())
            loss = tuple(float(ctc_loss(lg[b:b + 1, :T], mask[b:b + 1, :T], [c.reference])) for lg in logits)
            out[i] = ClipResult(name, int(i), c.voice, c.style, c.kind, c.speed, c.pitch,
                                round(len(c.audio) / RATE, 3), c.reference, c.said, words[0], hyps, edits,
                                tuple(round(float(v), 5) for v in cols["ctc_entropy"][b]),
                                tuple(round(v, 5) for v in loss))
        if progress:
            progress(min(1.0, (start + batch) / len(clips)), name)
    return out  # type: ignore[return-value]


# --- Tallies -------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Digit edits of a group of clips at one exit."""

    clips: int = 0
    words: int = 0
    substitutions: int = 0
    deletions: int = 0
    insertions: int = 0
    wrong_clips: int = 0  # clips with at least one error
    digit_clips: int = 0  # clips whose transcript holds a digit (on set c: an invented one)
    ctc_loss: float = 0.0  # summed over clips
    digit_as_unknown: int = 0  # digits heard as another word (aligning the whole transcript, <unk> included)
    unknown_as_digit: int = 0  # other words heard as a digit

    def add(self, r: ClipResult, k: int = -1) -> Tally:
        e = r.edits[k]
        swaps = [(a in WORDS, b in WORDS) for a, b in word_edits(r.hypotheses[k], r.reference).substituted]
        self.digit_as_unknown += swaps.count((True, False))
        self.unknown_as_digit += swaps.count((False, True))
        self.clips += 1
        self.words += r.words
        self.substitutions += e.substitutions
        self.deletions += e.deletions
        self.insertions += e.insertions
        self.wrong_clips += e.errors > 0
        self.digit_clips += any(w in WORDS for w in r.hypotheses[k].split())
        self.ctc_loss += r.ctc_loss[k]
        return self

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        return self.errors / max(self.words, 1)

    def row(self) -> dict:
        n = max(self.errors, 1)
        return {"clips": self.clips, "words": self.words, "wer": round(self.wer, 4),
                "S": self.substitutions, "D": self.deletions, "I": self.insertions,
                "S_share": round(self.substitutions / n, 3), "D_share": round(self.deletions / n, 3),
                "I_share": round(self.insertions / n, 3),
                "wrong_clips": round(self.wrong_clips / max(self.clips, 1), 4),
                "digit_clips": round(self.digit_clips / max(self.clips, 1), 4),
                "digit_as_unknown": self.digit_as_unknown, "unknown_as_digit": self.unknown_as_digit,
                "ctc_loss": round(self.ctc_loss / max(self.clips, 1), 4)}


def tally(results: Iterable[ClipResult], k: int = -1) -> Tally:
    t = Tally()
    for r in results:
        t.add(r, k)
    return t


def group(results: Iterable[ClipResult], key: Callable[[ClipResult], object], k: int = -1) -> dict[str, dict]:
    """{group: Tally.row()} at exit `k`, groups in sorted order."""
    out: dict[object, Tally] = {}
    for r in results:
        out.setdefault(key(r), Tally()).add(r, k)
    return {str(g): t.row() for g, t in sorted(out.items(), key=lambda kv: str(kv[0]))}


def _length(r: ClipResult) -> str:
    """Words said: 1, 2, 3, 4-5 or 6+."""
    n = len(r.said.split())
    return str(n) if n <= 3 else ("4-5" if n <= 5 else "6+")


def _rate(r: ClipResult) -> str:
    """Words said per second, in the groups RATE_BINS bound ("2.0-2.5", "3.0+")."""
    edges = (0.0,) + RATE_BINS
    i = int(np.searchsorted(RATE_BINS, r.rate, side="right"))
    return f"{edges[i]:.1f}+" if i == len(RATE_BINS) else f"{edges[i]:.1f}-{edges[i + 1]:.1f}"


def confusions(results: Iterable[ClipResult], k: int = -1) -> dict:
    """Which digit is heard as which, dropped or invented, and per reference digit the
    share of its occurrences lost (deleted) or heard wrong (substituted)."""
    subs, dels, ins, said = Counter(), Counter(), Counter(), Counter()
    for r in results:
        e = r.edits[k]
        subs.update(f"{a} -> {b}" for a, b in e.substituted)
        dels.update(e.deleted)
        ins.update(e.inserted)
        said.update(w for w in r.reference.split() if w in WORDS)
    by_digit = {w: {"said": n, "deleted": round(dels[w] / n, 4),
                    "substituted": round(sum(c for p, c in subs.items() if p.split(" -> ")[0] == w) / n, 4)}
                for w, n in sorted(said.items())}
    return {"substituted": dict(subs.most_common()), "deleted": dict(dels.most_common()),
            "inserted": dict(ins.most_common()), "by_digit": by_digit}


def top_edits_by_voice(results: Iterable[ClipResult], k: int = -1, top: int = 3) -> dict[str, dict[str, int]]:
    """Per voice, its most frequent edits at exit `k` ("four -> five", "- three": deleted,
    "+ eight": inserted): a new voice's errors are often its own."""
    out: dict[str, Counter] = {}
    for r in results:
        e = r.edits[k]
        c = out.setdefault(r.voice, Counter())
        c.update([f"{a} -> {b}" for a, b in e.substituted] + [f"- {a}" for a in e.deleted]
                 + [f"+ {a}" for a in e.inserted])
    return {v: dict(c.most_common(top)) for v, c in sorted(out.items())}


def persistence(results: list[ClipResult]) -> dict:
    """Do deeper layers fix the first layer's errors, and are wrong answers less sure?
    `wrong_final_wrong_at_1`: of the clips wrong at the last exit, the share already wrong
    at the first; `fixed_after_1`: of the clips wrong at the first exit, the share right at
    the last; the mean CTC entropy at the last exit of right and of wrong clips."""
    wrong1 = [r.edits[0].errors > 0 for r in results]
    wrong = [r.edits[-1].errors > 0 for r in results]
    ent = np.array([r.ctc_entropy[-1] for r in results])
    w = np.array(wrong, bool)
    return {"wrong_final_wrong_at_1": round(float(np.mean([a for a, b in zip(wrong1, wrong, strict=True) if b]))
                                            if any(wrong) else 0.0, 4),
            "fixed_after_1": round(float(np.mean([not b for a, b in zip(wrong1, wrong, strict=True) if a]))
                                   if any(wrong1) else 0.0, 4),
            "entropy_right": round(float(ent[~w].mean()), 5) if (~w).any() else None,
            "entropy_wrong": round(float(ent[w].mean()), 5) if w.any() else None}


def summarise(results: list[ClipResult]) -> dict:
    """A set's figures: per exit, per voice and voice part, style, kind, speed, pitch,
    length and speaking rate (at the last exit), the confusions and `persistence`."""
    K = len(results[0].hypotheses)
    return {
        "clips": len(results),
        "exits": [tally(results, k).row() for k in range(K)],
        "by_voice": group(results, lambda r: r.voice),
        "by_engine": group(results, lambda r: r.engine),
        "by_accent": group(results, lambda r: r.accent),
        "by_variant": group(results, lambda r: r.variant),
        "by_style": group(results, lambda r: r.style),
        "by_kind": group(results, lambda r: r.kind),
        "by_speed": group(results, lambda r: "unknown" if r.speed is None else f"{r.speed:.2f}"),
        "by_pitch": group(results, lambda r: "unknown" if r.pitch is None else f"{r.pitch:.2f}"),
        "by_length": group(results, _length),
        "by_rate": group(results, _rate),
        "confusions": confusions(results),
        "top_edits_by_voice": top_edits_by_voice(results),
        "persistence": persistence(results),
    }


# --- The sets ------------------------------------------------------------------------------------


@cache
def _plan():
    from .data.speech_corpus import make_plan
    from .data.speech_voices import DEFAULT_SIZES

    return tuple(make_plan(DEFAULT_SIZES))


def _kind(split: str, kind: str, said: str) -> str:
    """digits; carrier phrase ("carrier: my number is"); sentence or dictionary words."""
    if kind == "carrier":
        return "carrier: " + said.split(" ")[0] + (" ..." if split != "train" else "")
    if kind == "words":
        if said in SENTENCES:
            return "sentence"
        if split != "train":  # the held-out sets say version 2's words: sentences or dictionary words
            return "dictionary words"
        return "near digits" if set(said.split()) & set(HARD_NEGATIVES) else "grammar or dictionary words"
    return kind


def _eval_clips(split: str, noise: str | None = None, snr: int | None = None) -> list[EvalClip]:
    """A shipped set, with each clip's speed, pitch and kind from the corpus plan where what
    is said and the voice name planned utterances of one speed and pitch (the manifest keeps
    neither)."""
    from .data.speech_eval import load_eval, said

    clips, texts, voices = load_eval(split, noise, snr)
    spoken = said(split)
    planned: dict[tuple[str, str], list] = {}
    for s in _plan():
        if s.split == split:
            planned.setdefault((s.said, f"{s.engine}:{s.voice}"), []).append(s)
    out = []
    for audio, text, voice, words in zip(clips, texts, voices, spoken, strict=True):
        specs = planned.get((words, voice), [])
        same = len({(s.speed, s.pitch) for s in specs}) == 1
        spec = specs[0] if specs else None
        # a clip the plan lacks (test_e: recordings of people) is digits, or digits among other words
        kind = _kind(split, spec.kind, words) if spec else ("digits" if "<unk>" not in text.split()
                                                            else "digits among other words")
        out.append(EvalClip(audio, text, words, voice, "plain", kind, spec.speed if same else None,
                            spec.pitch if same else None))
    return out


def _to_clips(specs, audio: dict[str, np.ndarray], split: str) -> list[EvalClip]:
    return [EvalClip(audio[s.id].astype(np.float32) / 32768.0, s.text, s.said, f"{s.engine}:{s.voice}",
                     s.style or "plain", _kind(split, s.kind, s.said), s.speed, s.pitch) for s in specs]


def _synthesized(specs, name: str) -> dict[str, np.ndarray]:
    """int16 audio of planned utterances, synthesized once and kept in the cache as `name`."""
    from .data.speech_corpus import synthesize
    from .paths import CACHE

    plan = hashlib.sha256(json.dumps([(s.id, s.spoken, s.engine, s.voice, s.speed, s.pitch, s.style)
                                      for s in specs]).encode()).hexdigest()[:10]
    keep = CACHE / "speech" / f"errors-{name}-{plan}.npz"  # a new corpus plan never reads old audio
    if keep.exists():
        audio = dict(np.load(keep))
        if all(s.id in audio for s in specs):
            return audio
    audio = synthesize(specs, workers=1)
    keep.parent.mkdir(parents=True, exist_ok=True)
    np.savez(keep, **audio)
    return audio


def planned(split: str, n: int = 0, seed: int = 0, corpus_dir: Path | None = None) -> list[EvalClip]:
    """`n` clips (0: all) of a split of the corpus plan, drawn at random: read from the built
    corpus if it is there, else synthesized (the engines are deterministic, so for "train"
    these are clips the model was trained on) and kept in the cache."""
    from .data.speech_corpus import default_corpus_dir, load_split

    specs = [s for s in _plan() if s.split == split]
    chosen = (sorted(np.random.default_rng([seed, 23]).choice(len(specs), n, replace=False))
              if 0 < n < len(specs) else list(range(len(specs))))
    chosen_specs = [specs[i] for i in chosen]
    folder = Path(corpus_dir) if corpus_dir else default_corpus_dir()
    if (folder / "corpus.json").exists():
        stored = load_split(split, folder)
        audio = {s.id: np.asarray(stored[i].pcm) for s, i in zip(chosen_specs, chosen, strict=True)}
    else:
        audio = _synthesized(chosen_specs, f"{split}-{len(chosen)}-seed{seed}")
    return _to_clips(chosen_specs, audio, split)


def retold(split: str, kind: str, n: int = 500, seed: int = 0) -> list[EvalClip]:
    """The first `n` planned utterances of `split` (its voices, speeds and pitches), each
    saying a new utterance of `kind` instead (speech_text.KINDS; sentences of set c's,
    never trained on): does a kind of speech fail on these voices too, or only on new ones?"""
    from dataclasses import replace

    from .data.speech_text import KINDS, random_utterance

    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")
    rng = np.random.default_rng([seed, 23, KINDS.index(kind)])
    specs = []
    for s in [s for s in _plan() if s.split == split][:n]:
        text, spoken, said = random_utterance(kind, rng, held_out=True)
        specs.append(replace(s, id=f"{s.id}-{kind}", text=text, said=said, spoken=spoken, kind=kind))
    return _to_clips(specs, _synthesized(specs, f"{split}+{kind}-{n}-seed{seed}"), split)


def augmented(clips: list[EvalClip], seed: int = 0) -> list[EvalClip]:
    """Each clip altered once by the training augmentation (speed, voice warp, room, noise,
    channel, gain; babble from the other clips), as a training batch alters 60% of its clips,
    with the noise mix training uses now (`SpeechTrainConfig`'s babble settings; the shipped
    model was trained with version 2's mix: a third babble, 5-30 dB)."""
    from dataclasses import replace

    from .data.speech_augment import augment
    from .train.speech import SpeechTrainConfig

    babble = SpeechTrainConfig().babble_mix()
    pool = [c.audio for c in clips[:200]]
    out = []
    for i, c in enumerate(clips):
        others = [p for j, p in enumerate(pool) if j != i][:50]
        out.append(replace(c, audio=augment(c.audio, np.random.default_rng([seed, i]), others, **babble)))
    return out


def load_set(name: str, train_clips: int = TRAIN_CLIPS, seed: int = 0) -> list[EvalClip]:
    """The clips of a set named as in `SETS`: a shipped split, "split:noise:snr", "train" or
    "train_aug" (`train_clips` training clips), or "corpus:split" (every clip the corpus
    plans for the split: 1,000 for the test splits, five times the shipped sets), or
    "split+kind" (`retold`: the split's voices saying another kind of utterance)."""
    if name == "train":
        return planned("train", train_clips, seed)
    if name == "train_aug":
        return augmented(planned("train", train_clips, seed), seed)
    if name.startswith("corpus:"):
        return planned(name.split(":", 1)[1], 0, seed)
    if "+" in name:  # e.g. test_a+carrier
        split, kind = name.split("+", 1)
        return retold(split, kind, seed=seed)
    split, *noisy = name.split(":")
    if noisy and len(noisy) != 2:
        raise ValueError(f"a noisy set is named split:noise:snr (e.g. test_a:white:10), not {name!r}")
    return _eval_clips(split, noisy[0], int(noisy[1])) if noisy else _eval_clips(split)


def report(model, sets: Iterable[str] = SETS, train_clips: int = TRAIN_CLIPS, seed: int = 0,
           progress: Callable[[float, str], None] | None = None, model_name: str = "speech") -> dict:
    """Every set's summary and per-clip records (JSON-ready)."""
    sets = list(sets)
    summaries, records = {}, []
    for i, name in enumerate(sets):
        def step(frac: float, what: str, i=i) -> None:
            if progress:
                progress((i + frac) / len(sets), what)
        results = analyse(model, load_set(name, train_clips, seed), name, progress=step)
        summaries[name] = summarise(results)
        records += [r.to_json() for r in results]
    return {"model": model_name, "sets": summaries, "clips": records,
            "train_clips": train_clips, "seed": seed,
            "command": "python -m explorer report speech-errors" + (f" --sets {','.join(sets)}"
                                                                     if sets != list(SETS) else "")}


# --- For people ----------------------------------------------------------------------------------


_GROUP_NAMES = {"by_length": "words said", "by_rate": "words said per second"}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _measure(name: str) -> str:
    return "digit share" if name in NO_DIGIT_SETS else "WER"


def _value(name: str, row: dict) -> str:
    return _pct(row["digit_clips"] if name in NO_DIGIT_SETS else row["wer"])


def markdown(rep: dict) -> str:
    """The report's tables in Markdown (on set c the figure is the share of clips given a
    digit, `oov_digit_rate`; elsewhere the digit WER)."""
    sets = rep["sets"]
    out = ["### Per set (last exit)", _table(
        ["set", "clips", "ref. words", "WER", "S", "D", "I", "clips wrong", "clips with a digit",
         "digit heard as a word", "word heard as a digit", "CTC loss"],
        [[n, s["clips"], e["words"], _pct(e["wer"]), e["S"], e["D"], e["I"], _pct(e["wrong_clips"]),
          _pct(e["digit_clips"]), e["digit_as_unknown"], e["unknown_as_digit"], e["ctc_loss"]]
         for n, s in sets.items() for e in [s["exits"][-1]]])]
    K = len(next(iter(sets.values()))["exits"])
    out += ["### Per exit layer (WER; set c: share of clips given a digit; S/D/I at the layer)", _table(
        ["set"] + [f"layer {k + 1}" for k in range(K)] + ["S/D/I at layer 1", "S/D/I at layer 6"],
        [[n] + [_value(n, e) for e in s["exits"]]
         + [f"{s['exits'][0]['S']}/{s['exits'][0]['D']}/{s['exits'][0]['I']}",
            f"{s['exits'][-1]['S']}/{s['exits'][-1]['D']}/{s['exits'][-1]['I']}"] for n, s in sets.items()])]
    out += ["### CTC loss per exit layer (mean per clip)", _table(
        ["set"] + [f"layer {k + 1}" for k in range(K)],
        [[n] + [e["ctc_loss"] for e in s["exits"]] for n, s in sets.items()])]
    out += ["### Do deeper layers fix errors; are wrong answers less sure?", _table(
        ["set", "wrong at last exit: already wrong at layer 1", "wrong at layer 1: right at last exit",
         "CTC entropy, right clips", "CTC entropy, wrong clips"],
        [[n, _pct(p["wrong_final_wrong_at_1"]), _pct(p["fixed_after_1"]), p["entropy_right"], p["entropy_wrong"]]
         for n, s in sets.items() for p in [s["persistence"]]])]
    unseen = [n for n in UNSEEN + tuple(f"corpus:{u}" for u in UNSEEN) if n in sets]
    if unseen:
        voices = sorted({v for n in unseen for v in sets[n]["by_voice"]})
        rows = []
        for v in voices:
            row = [v]
            for n in unseen:
                r = sets[n]["by_voice"].get(v)
                row += [f"{_value(n, r)} ({r['clips']})" if r else "-"]
            rows.append(row)
        out += ["### Unseen voices (clips in brackets)", _table(
            ["voice"] + [f"{n} {_measure(n)}" for n in unseen], rows)]
        parts = sorted({v for n in unseen for v in sets[n]["by_variant"]})
        out += ["### Unseen voices by voice variant (espeak: both accents together)", _table(
            ["variant"] + [f"{n} {_measure(n)}" for n in unseen],
            [[p] + [(f"{_value(n, r)} ({r['clips']})" if (r := sets[n]["by_variant"].get(p)) else "-")
                    for n in unseen] for p in parts])]
        out += ["### Unseen voices: each voice's most frequent edits (- deleted, + inserted)", _table(
            ["voice"] + unseen,
            [[v] + [", ".join(f"{e} x{c}" for e, c in sets[n]["top_edits_by_voice"].get(v, {}).items()) or "-"
                    for n in unseen] for v in voices])]
        accents = sorted({v for n in unseen for v in sets[n]["by_accent"]})
        out += ["### Unseen voices by accent / engine", _table(
            ["accent"] + [f"{n} {_measure(n)}" for n in unseen],
            [[a] + [(f"{_value(n, r)} ({r['clips']})" if (r := sets[n]["by_accent"].get(a)) else "-")
                    for n in unseen] for a in accents])]
    for n, s in sets.items():
        for what in ("by_style", "by_kind", "by_engine", "by_speed", "by_pitch", "by_length", "by_rate"):
            rows = s[what]
            if len(rows) < 2:
                continue
            out += [f"### {n}: {what.replace('_', ' ')}", _table(
                [_GROUP_NAMES.get(what, what[3:]), "clips", _measure(n), "S", "D", "I"],
                [[g, r["clips"], _value(n, r), r["S"], r["D"], r["I"]] for g, r in rows.items()])]
    rows = []
    for n, s in sets.items():
        c = s["confusions"]
        top = lambda d: ", ".join(f"{k} x{v}" for k, v in list(d.items())[:6]) or "-"  # noqa: E731
        rows.append([n, top(c["substituted"]), top(c["deleted"]), top(c["inserted"])])
    out += ["### Confusions at the last exit (most frequent first)",
            _table(["set", "substituted (said -> heard)", "deleted", "inserted"], rows)]
    digit_sets = [n for n in sets if n not in NO_DIGIT_SETS]
    digits = sorted({w for n in digit_sets for w in sets[n]["confusions"]["by_digit"]}, key=WORDS.index)
    out += ["### Per digit: share of its occurrences deleted / substituted", _table(
        ["digit"] + digit_sets,
        [[w] + [(f"{_pct(d['deleted'])} / {_pct(d['substituted'])}"
                 if (d := sets[n]["confusions"]["by_digit"].get(w)) else "-") for n in digit_sets]
         for w in digits])]
    return "\n\n".join(out) + "\n"
