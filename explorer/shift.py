"""What distribution shift does to a recommended threshold: the threshold chosen on clean
calibration data, judged on the clean test set and on every held-out shifted set the model
has (its entry's `shifted_splits`, e.g. unseen voices, and its noisy sets at the noise
axis's `shift_level`, e.g. every corruption at severity 3 or every noise at 10 dB).

Everything comes from profiles: no model runs unless a noisy set of an imported model has
never been profiled. The records are plain (no torch, no pandas) so the Overview can read
them from a shipped report at once; reports store them with `to_json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from . import zoo
from .quality import ACCURACY, WER, Quality

_QUALITIES = {q.column: q for q in (ACCURACY, WER)}


@dataclass(frozen=True)
class ShiftedSet:
    """One evaluation set at the threshold: what it costs and saves there."""

    key: str  # the evaluation set (zoo.eval_sets), e.g. "test_b", "blur-3"
    label: str
    inputs: int
    full: float  # quality (accuracy or WER) of the full model on this set
    at_threshold: float  # quality when inputs leave at the threshold
    drop_pt: float  # error-rate points exiting early adds on this set (accuracy points lost, or WER points added)
    mean_exit_number: float  # 1 = the first exit
    mac_speedup: float  # the full model's MACs over the mean, on this set
    own_threshold: float | None = None  # the threshold the same ε picks on this set itself (None: the clean set)
    own_mac_speedup: float | None = None

    @classmethod
    def from_json(cls, d: dict) -> ShiftedSet:
        return cls(**d)


@dataclass(frozen=True)
class Shift:
    """A threshold on the clean test set (first) and on each shifted set."""

    criterion: str
    threshold: float
    eps_pt: float  # the ε the threshold was chosen with (error-rate points)
    quality: str  # "accuracy" or "wer" (quality.Quality.column)
    exits: int
    sets: tuple[ShiftedSet, ...]

    @property
    def q(self) -> Quality:
        return _QUALITIES[self.quality]

    @property
    def clean(self) -> ShiftedSet:
        return self.sets[0]

    @property
    def shifted(self) -> tuple[ShiftedSet, ...]:
        return self.sets[1:]

    @property
    def worst(self) -> ShiftedSet | None:
        """The shifted set with the worst quality at the threshold, what a user there gets (None: no shifted set)."""
        sign = -1 if self.q.higher_is_better else 1
        return max(self.shifted, key=lambda s: (sign * s.at_threshold, s.drop_pt), default=None)

    @property
    def over_eps(self) -> tuple[ShiftedSet, ...]:
        """Shifted sets on which the threshold loses more than ε against the full model there."""
        return tuple(s for s in self.shifted if s.drop_pt > self.eps_pt + 1e-9)

    def figures(self, s: ShiftedSet) -> str:
        q = self.q
        return (f"{q.label} {s.at_threshold:.2%} at τ ({q.against_full(s.drop_pt, s.full)} there), mean exit "
                f"{s.mean_exit_number:.2f} of {self.exits}, {s.mac_speedup:.2f}× fewer MACs")

    def worst_sentence(self) -> str:
        """The shifted set that hurts most, in a sentence ("" when the model has none)."""
        w = self.worst
        if w is None:
            return ""
        return (f"Worst under shift: {w.label} — {self.figures(w)}; on the clean test set, "
                f"{self.q.label} {self.clean.at_threshold:.2%} at τ.")

    def warning(self) -> str:
        """Where the clean threshold loses more than ε, in a sentence ("" where it does not)."""
        bad = self.over_eps
        if not bad:
            return ""
        return (f"τ = {self.threshold:.4g} was chosen on clean calibration data; exiting early costs more than "
                f"ε = {self.eps_pt:g} ({self.q.change_unit}) on " + "; ".join(
                    f"{s.label} ({s.drop_pt:.2f})" for s in bad)
                + ". The threshold the same ε picks on each of these sets is offered below (chosen on that set "
                  "itself, so its own figures there are optimistic).")

    def columns(self) -> str:
        """What rows()'s short column names mean, in a sentence (shown above the table)."""
        return (f"{self.q.label} at full depth and at τ, the {self.q.change_unit} exiting early costs (points), "
                f"the mean exit (of {self.exits}) and the speedup by MACs")

    def rows(self) -> list[dict]:
        """One row per set, as people read it (percent, exits from 1, speedups by MACs); short
        column names, so that the table is whole in a half-width card (`columns` says them)."""
        q = self.q
        return [{"set": s.label, f"{q.label} full": f"{s.full:.2%}", "at τ": f"{s.at_threshold:.2%}",
                 "points": f"{s.drop_pt:+.2f}", "mean exit": f"{s.mean_exit_number:.2f}",
                 "by MACs": f"{s.mac_speedup:.2f}×"} for s in self.sets]

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Shift:
        return cls(**{**d, "sets": tuple(ShiftedSet.from_json(s) for s in d["sets"])})


def shift_sets(name: str) -> list[zoo.EvalSet]:
    """The clean test set, then the held-out shifted sets the headline reports on."""
    entry, sets = zoo.get(name), zoo.eval_sets(name)
    level = entry.noise.shift_level if entry.noise else None
    noisy = {tuple(entry.noise.variant(kind, level).items()) for kind in entry.noise.kinds} if level is not None \
        else set()
    return [sets[0], *(s for s in sets[1:] if (s.split in entry.shifted_splits and not s.variant)
                       or (s.variant and s.variant in noisy))]


def at_threshold(name: str, criterion: str, threshold: float, eps_pt: float, progress=None) -> Shift:
    """`threshold` of `criterion` (chosen on clean calibration data) on every set of `shift_sets`."""
    from . import criteria, tradeoff  # here: the record above stays importable without torch

    crit, q = criteria.get(criterion), zoo.get(name).quality
    out = []
    sets = shift_sets(name)
    for i, s in enumerate(sets):
        if progress:
            progress(i / len(sets), f"judging τ on {s.label}")
        prof = zoo.profile(name, s.split, **dict(s.variant))
        m = tradeoff.evaluate(prof, crit, threshold)
        own = tradeoff.recommend(prof, prof, crit, eps_pt) if i else None
        out.append(ShiftedSet(s.key, s.label, prof.n, float(q.from_error(prof.exit_error(-1))),
                              float(q.from_error(m.error_rate)), float(m.drop_pt), m.mean_exit + 1,
                              float(m.mac_speedup), own and own.threshold,
                              own and float(own.test.mac_speedup)))
    return Shift(crit.name, float(threshold), float(eps_pt), q.column, prof.k, tuple(out))
