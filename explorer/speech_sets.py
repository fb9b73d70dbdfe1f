"""The speech model's held-out sets side by side, from their profiles: WER per set and
voice, how often speech without digits yields a digit (`oov_digit_rate`, set c), digit
WER inside carrier phrases (`carrier_wer`, set d), digit WER on recordings of people
(`final_wer_real`, set e, and per voice `final_wer_real_by_voice`), and each criterion's
mean exit on unknown speech against the synthesized digit sets — do inputs the model
cannot know go deeper?
"""

from __future__ import annotations

import numpy as np

from . import criteria, zoo
from .data.speech_text import digits_of
from .profile import Profile

DIGIT_SETS = ("test_a", "test_b", "test_d")  # the synthesized sets with digits to get right
UNKNOWN_SET = "test_c"  # speech without any digit
REAL_SET = "test_e"  # recordings of people (explorer.data.real_speech)
SETS = ("test_a", "test_b", "test_c", "test_d", REAL_SET)
SCORES = {"ctc_entropy": "ctc_entropy", "daisy": "ssl_entropy"}  # the criteria with a score of their own


def digit_share(model_name: str, prof: Profile, exits: np.ndarray) -> float:
    """Share of clips whose transcript at their exit holds at least one digit."""
    model = zoo.model(model_name)
    return float(np.mean([digits_of(model.describe(prof.answer(i, int(k)))) != "" for i, k in enumerate(exits)]))


def by_voice(voices: list[str], counts: np.ndarray, totals: np.ndarray) -> dict[str, float]:
    """Per voice: the sum of `counts` over the sum of `totals` of its clips (WER: errors
    over reference words; a share: 0/1 over 1 per clip)."""
    out: dict[str, list] = {}
    for v, c, t in zip(voices, counts, totals, strict=True):
        acc = out.setdefault(v, [0.0, 0.0])
        acc[0] += float(c)
        acc[1] += float(t)
    return {v: e / max(n, 1) for v, (e, n) in sorted(out.items())}


def held_out_figures(model_name: str, thresholds: dict[str, float]) -> dict:
    """Per set: final WER, WER by layer, and per criterion (at `thresholds`) mean exit
    (0 = the first layer), WER at the exits taken and the share of clips with a digit;
    by voice; the (c) against digit-set comparison with the mean scores behind it."""
    from .data.speech_eval import load_eval

    profiles = {s: zoo.profile(model_name, s) for s in SETS}
    final = profiles["test_a"].k - 1
    per_set, voices = {}, {}
    for split, prof in profiles.items():
        row = {"clips": prof.n, "final_wer": prof.exit_error(-1),
               "wer_by_layer": [prof.exit_error(k) for k in range(prof.k)],
               "digit_share_final": digit_share(model_name, prof, np.full(prof.n, final))}
        for name, thr in thresholds.items():
            exits = prof.exits(criteria.get(name), thr)
            row[name] = {"threshold": thr, "mean_exit": float(exits.mean()), "wer": prof.error_rate(exits),
                         "digit_share": digit_share(model_name, prof, exits)}
        for col in SCORES.values():
            row[f"mean_{col}_by_layer"] = prof.cols[col].mean(0).tolist()
        per_set[split] = row
        _, _, clip_voices = load_eval(split)
        if split == UNKNOWN_SET:  # no digit to get right: how often one is invented
            has_digit = [digits_of(zoo.model(model_name).describe(prof.answer(i, final))) != "" for i in range(prof.n)]
            voices[split] = by_voice(clip_voices, np.array(has_digit, float), np.ones(prof.n))
        else:
            voices[split] = by_voice(clip_voices, prof.cols["errors"][:, -1], prof.ref_len)

    unknown = per_set[UNKNOWN_SET]
    exit_on_unknown = {}
    for name in thresholds:
        digit_mean = float(np.mean([per_set[s][name]["mean_exit"] for s in DIGIT_SETS]))
        row = {"test_c": unknown[name]["mean_exit"], "digit_sets": digit_mean,
               **{s: per_set[s][name]["mean_exit"] for s in DIGIT_SETS},
               "later_on_unknown": bool(unknown[name]["mean_exit"] > digit_mean)}
        if name in SCORES:  # the score behind the decision, at the first layer
            col = SCORES[name]
            row["score_layer1_test_c"] = unknown[f"mean_{col}_by_layer"][0]
            row["score_layer1_digit_sets"] = float(np.mean([per_set[s][f"mean_{col}_by_layer"][0]
                                                            for s in DIGIT_SETS]))
            row["finding"] = _finding(name, thresholds[name], row)
        exit_on_unknown[name] = row
    return {
        "oov_digit_rate": unknown["digit_share_final"],
        "oov_digit_rate_at_exit": {name: unknown[name]["digit_share"] for name in thresholds},
        "carrier_wer": per_set["test_d"]["final_wer"],
        "final_wer_real": per_set[REAL_SET]["final_wer"],
        "final_wer_real_by_voice": voices[REAL_SET],
        "per_set": per_set,
        "by_voice": voices,
        "exit_on_unknown": exit_on_unknown,
    }


def _finding(name: str, threshold: float, row: dict) -> str:
    """One sentence: does unknown speech leave later under this criterion, and the score behind it."""
    c, d = row["score_layer1_test_c"], row["score_layer1_digit_sets"]
    head = (f"{name} (τ = {threshold:.3g}): mean exit {row['test_c'] + 1:.2f} on speech without digits against "
            f"{row['digit_sets'] + 1:.2f} on the digit sets (1 = the first layer)")
    if row["later_on_unknown"]:
        return f"{head}: unknown speech goes deeper; its first-layer score is {c:.3f} against {d:.3f}."
    if name == "ctc_entropy":
        return (f"{head}: not later. The CTC head learned <unk> as one more token, and is as sure of it as of a "
                f"digit (first-layer frame-mean entropy {c:.3f} against {d:.3f}): knowing that a word is not a "
                "digit is easy, so the early exit is right to leave.")
    return (f"{head}: not later. DAISY's cluster head reads the sound, not the words: clean speech of any kind is "
            f"equally predictable to it (first-layer entropy {c:.3f} against {d:.3f}); noise, not vocabulary, "
            "moves it.")
