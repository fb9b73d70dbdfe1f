"""Where the built-in models start: the recommended criterion (the model's report says
which) and each criterion's recommended threshold, chosen on the calibration split with
the reports' ε (never on the test split). The pages and `predict` both start here."""

from __future__ import annotations

from functools import cache

from . import criteria, tradeoff, zoo
from .report import load_report

DEFAULT_EPS_PT = {"class": 0.2, "ctc": 0.3}  # accuracy points lost / WER points added, as in the reports


def default_eps_pt(model_name: str) -> float:
    return DEFAULT_EPS_PT.get(zoo.model(model_name).task, 0.2)


@cache
def recommended(model_name: str, criterion_name: str, eps_pt: float | None = None) -> float:
    """The cheapest threshold of this criterion whose quality stays within `eps_pt`
    points of the full model on the calibration split."""
    entry = zoo.get(model_name)
    calib, test = zoo.profile(model_name, entry.calib_split), zoo.profile(model_name, entry.test_split)
    eps = default_eps_pt(model_name) if eps_pt is None else eps_pt
    return tradeoff.recommend(calib, test, criteria.get(criterion_name), eps).threshold


def default_choice(model_name: str) -> tuple[str, float]:
    """(criterion, threshold) to start with: the report's recommended criterion (else
    entropy, or CTC entropy for speech) at its recommended threshold."""
    entry = zoo.get(model_name)
    rec = (load_report(entry.report) or {}).get("recommended") if entry.report else None
    if rec:  # one best criterion (image), or one entry per criterion with the model's own first (speech)
        crit = rec["criterion"] if "criterion" in rec else next(iter(rec))
    else:
        crit = "entropy" if zoo.model(model_name).task == "class" else "ctc_entropy"
    return crit, recommended(model_name, crit)

