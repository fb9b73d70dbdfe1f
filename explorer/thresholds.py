"""Where a model starts: the recommended criterion (its registry entry or its shipped
report says which) and each criterion's recommended threshold, chosen on the calibration
split with the model's default ε (never on the test split). The pages and `predict` both
start here. Depends on the registry and the sweeps only, not on reports or benchmarks."""

from __future__ import annotations

from functools import cache

from . import criteria, tradeoff, zoo
from .shipped import load_report


def default_eps_pt(model_name: str) -> float:
    """The ε (quality points) the model's thresholds are recommended with."""
    return zoo.get(model_name).quality.eps_pt


@cache
def recommended(model_name: str, criterion_name: str, eps_pt: float | None = None) -> float:
    """The cheapest threshold of this criterion whose quality stays within `eps_pt`
    points of the full model on the calibration split."""
    entry = zoo.get(model_name)
    calib, test = zoo.profile(model_name, entry.calib_split), zoo.profile(model_name, entry.test_split)
    eps = default_eps_pt(model_name) if eps_pt is None else eps_pt
    return tradeoff.recommend(calib, test, criteria.get(criterion_name), eps).threshold


zoo.on_forget(lambda name: recommended.cache_clear())  # a changed model has other profiles


def default_criterion(model_name: str) -> str:
    """The criterion to start with: the entry's, else its report's recommended one, else
    the first causal criterion its quality suggests (entropy, or CTC entropy for speech)."""
    entry = zoo.get(model_name)
    if entry.start_criterion:
        return entry.start_criterion
    rec = (load_report(entry.report) or {}).get("recommended") if entry.report else None
    if rec and "criterion" in rec:
        return rec["criterion"]
    return "entropy" if entry.quality.higher_is_better else "ctc_entropy"
