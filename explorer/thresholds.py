"""Where the built-in models start: the recommended criterion (the model's report says
which) and each criterion's recommended threshold, chosen on the calibration split with
the reports' ε (never on the test split). The pages and `predict` both start here."""

from __future__ import annotations

from functools import cache

from . import criteria, tradeoff, zoo
from .report import EPS_PT, load_report


def default_eps_pt(model_name: str) -> float:
    """The ε the model's report chose its thresholds with."""
    return EPS_PT[zoo.model(model_name).task]


@cache
def recommended(model_name: str, criterion_name: str, eps_pt: float | None = None) -> float:
    """The cheapest threshold of this criterion whose quality stays within `eps_pt`
    points of the full model on the calibration split."""
    entry = zoo.get(model_name)
    calib, test = zoo.profile(model_name, entry.calib_split), zoo.profile(model_name, entry.test_split)
    eps = default_eps_pt(model_name) if eps_pt is None else eps_pt
    return tradeoff.recommend(calib, test, criteria.get(criterion_name), eps).threshold


def default_criterion(model_name: str) -> str:
    """The criterion to start with: the report's recommended one (else entropy, or CTC
    entropy for speech)."""
    entry = zoo.get(model_name)
    rec = (load_report(entry.report) or {}).get("recommended") if entry.report else None
    if rec:  # one best criterion (image), or one entry per criterion with the model's own first (speech)
        return rec["criterion"] if "criterion" in rec else next(iter(rec))
    return "entropy" if zoo.model(model_name).task == "class" else "ctc_entropy"
