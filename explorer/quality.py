"""What "quality" means for a model: accuracy for classifiers, word error rate (WER) for
speech, agreement with the full model's tokens for text generation. One definition of its
column, label, direction and the ε a recommended threshold may cost, used by sweeps, plots, pages and reports alike."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Quality:
    column: str  # the column of sweep and noise tables ("accuracy", "wer")
    label: str  # what people read ("Accuracy", "WER")
    higher_is_better: bool
    change_unit: str  # what one point of `drop_pt` means in words
    eps_pt: float  # the loss (points) a recommended threshold may cost, by default

    def from_error(self, error_rate):
        """An error rate as this quality (accuracy = 1 - error rate; WER is the error rate)."""
        return 1 - error_rate if self.higher_is_better else error_rate

    def change_pt(self, drop_pt: float) -> float:
        """`drop_pt` (error-rate points above the full model) as a signed change of this
        quality: accuracy falls (negative), WER rises (positive)."""
        return -drop_pt if self.higher_is_better else drop_pt

    def against_full(self, drop_pt: float, full: float) -> str:
        """How the quality at a threshold compares with the full model's, in words that read
        right whichever way it went ("0.20 points lower than the full model's 99.59%")."""
        change = self.change_pt(drop_pt)
        if abs(change) < 0.005:
            return f"the same as the full model's {full:.2%}"
        return f"{abs(change):.2f} points {'higher' if change > 0 else 'lower'} than the full model's {full:.2%}"


ACCURACY = Quality("accuracy", "Accuracy", True, "accuracy points lost", 0.2)
WER = Quality("wer", "WER", False, "WER points added", 0.3)
# Text: the share of tokens an early exit gives as the full model would (its own next-token
# "accuracy" is against the full model, not a label); eps as CALM's calibration (5% of tokens).
AGREEMENT = Quality("agreement", "Same tokens as the full model", True, "points of agreement with the full model lost",
                    5.0)
BY_TASK = {"class": ACCURACY, "ctc": WER, "generate": AGREEMENT}  # a model's task (MultiExitModel.task) -> its quality


def of(task: str) -> Quality:
    try:
        return BY_TASK[task]
    except KeyError:
        raise ValueError(f"no quality measure for task {task!r}; known: {', '.join(BY_TASK)}") from None
