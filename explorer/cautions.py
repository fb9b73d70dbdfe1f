"""Why an early answer may be wrong, in words: one function for every modality and every
place an answer is shown (the live pages, Tradeoffs' one input, `predict`, each batch row).

It reads what every exit said and scored (the what-if pass), the exit taken and the
criterion at its threshold; nothing here knows the model or the kind of input.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import criteria

DISAGREE, UNSURE, FALLS = "Deeper exits disagree", "Even the final exit is unsure", "Confidence falls"
NEVER_SURE, EMPTY = "Never confident at any exit", "Nothing recognised"
CAUTION_STARTS = (DISAGREE, UNSURE, FALLS, NEVER_SURE, EMPTY)  # how each caution begins
LOW_FINAL_CONFIDENCE = 0.6  # below this at the last exit: the input looks unlike the training data
CONFIDENCE_FALL = 0.25  # confidence this much lower at the last exit than at the one taken: a warning


def cautions(answers: Sequence[str], scores: dict[str, np.ndarray], exit: int, criterion: str,
             threshold: float) -> list[str]:
    """The cautions of one answer: `answers` and `scores` ([K] per score column) at every
    exit, `exit` the one taken (0 = the first), under `criterion` at `threshold`.
    Empty: nothing to warn about."""
    out = []
    k, answer, final = len(answers), answers[exit], answers[-1]
    if exit < k - 1 and answer != final:
        out.append(f"{DISAGREE}: the final exit would answer “{final}”, not “{answer}”. Shallow exits are often "
                   "overconfident (the known weakness of early exit), so this early answer may well be wrong.")
    if not str(answer).strip():
        out.append(f"{EMPTY}: the answer at exit {exit + 1} is empty — the model heard nothing it knows (noise, "
                   "silence, or words outside its vocabulary).")
    crit = criteria.get(criterion)
    col = crit.score_column
    if col in scores and crit.causal and exit == k - 1 and not bool(crit.passes(scores[col][-1], threshold)):
        s = np.asarray(scores[col], np.float64)
        best = s.max() if crit.rule != "le" else s.min()
        out.append(f"{NEVER_SURE}: {col} never reaches τ = {threshold:.4g} (best {best:.3g}, at the last exit "
                   f"{s[-1]:.3g}), so the answer is the last exit's by default and may well be wrong; the input is "
                   "probably unlike what the model was trained on.")
    conf = scores.get("confidence")
    if conf is not None:
        if conf[-1] < LOW_FINAL_CONFIDENCE:
            out.append(f"{UNSURE} ({conf[-1]:.0%} confidence): the input probably looks unlike "
                       "the training data, and no exit's answer is to be trusted.")
        elif conf[exit] - conf[-1] > CONFIDENCE_FALL:
            out.append(f"{FALLS} at deeper exits ({conf[exit]:.0%} at exit {exit + 1}, "
                       f"{conf[-1]:.0%} at the last): the early confidence overstates how sure the model is.")
    return out
