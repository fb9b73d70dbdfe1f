"""The inputs behind a point of a chart: a threshold of a criterion's curve, or an exit's
bar at a threshold. Read from the profile's per-sample rows (the exit each input takes,
its answer there and at the last exit, right or wrong, its score); the inputs themselves
come from the model's data function, in the same order (index = position in the set)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .criteria import Criterion
from .profile import Profile

SHOWS = {
    "changed": "answer changed by leaving early",
    "wrong": "wrong at the exit",
    "right": "right at the exit",
    "all": "every input",
}


@dataclass(frozen=True)
class Pick:
    """What was clicked: a curve's point (`exit` None: every input at that threshold) or
    an exit's bar (the inputs leaving at `exit`, 0-based)."""

    model: str
    criterion: str
    threshold: float
    exit: int | None = None

    def link(self) -> str:
        """As the page's link carries it."""
        return ",".join([self.model, self.criterion, f"{self.threshold:.10g}",
                         "" if self.exit is None else str(self.exit)])

    @classmethod
    def from_link(cls, text: str) -> Pick:
        """ValueError (in words) when the text is not a pick."""
        parts = text.rsplit(",", 3)
        if len(parts) != 4:
            raise ValueError(f"“{text}” is not a selection (model,criterion,threshold,exit)")
        model, crit, thr, exit_ = parts
        try:
            return cls(model, crit, float(thr), int(exit_) if exit_ else None)
        except ValueError:
            raise ValueError(f"“{text}” has a threshold or an exit that is not a number") from None


@dataclass(frozen=True)
class Behind:
    """One input behind the point, as a page shows it (exits counted from 0 here)."""

    index: int  # its position in the evaluation set
    exit: int
    answer: str  # at the exit taken
    final: str  # at the last exit
    truth: str
    right: bool  # no error at the exit taken
    score: float | None  # the criterion's score at the exit taken (None: it has none)


def select(prof: Profile, criterion: Criterion, threshold: float, exit: int | None = None,
           show: str = "all") -> np.ndarray:
    """Indices of the inputs behind the point: those leaving at `exit` (any exit if None)
    at `threshold`, filtered by `show` (a key of SHOWS)."""
    exits = prof.exits(criterion, threshold)
    keep = np.ones(prof.n, bool) if exit is None else exits == exit
    rows = np.arange(prof.n)
    wrong = prof.cols["errors"][rows, exits] > 0
    if show == "changed":
        keep &= prof.cols["pred"][rows, exits] != prof.cols["pred"][:, -1]
    elif show == "wrong":
        keep &= wrong
    elif show == "right":
        keep &= ~wrong
    elif show != "all":
        raise ValueError(f"unknown selection {show!r}; choose one of {', '.join(SHOWS)}")
    return np.flatnonzero(keep)


def rows(prof: Profile, criterion: Criterion, threshold: float, indices, describe: Callable,
         targets: list) -> list[Behind]:
    """The inputs at `indices`, each with its exit, answers, truth and score.
    describe: the model's answer in words; targets: the set's labels or transcripts."""
    exits = prof.exits(criterion, threshold)
    col = criterion.score_column
    scores = prof.cols.get(col) if col else None
    out = []
    for i in np.asarray(indices, int):
        k = int(exits[i])
        t = targets[i]
        out.append(Behind(int(i), k, describe(prof.answer(i, k)), describe(prof.answer(i, prof.k - 1)),
                          t if isinstance(t, str) else describe(t), bool(prof.cols["errors"][i, k] == 0),
                          None if scores is None else float(scores[i, k])))
    return out


def media(x) -> tuple[str, np.ndarray]:
    """("audio", samples) for a 1-D input, else ("image", H×W or H×W×3 in 0–1) to show."""
    a = np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, np.float32)
    if a.ndim == 1:
        return "audio", a
    if a.ndim == 3 and a.shape[0] in (1, 3) and a.shape[-1] not in (1, 3):  # channels first
        a = np.moveaxis(a, 0, -1)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    lo, hi = float(a.min()), float(a.max())
    return "image", (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
