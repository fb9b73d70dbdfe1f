"""The shipped reports (assets/reports/NAME.json): read by the app and `predict`
without importing the report generator or the benchmark (which import torch and
time things). `python -m explorer report` writes new ones elsewhere unless asked."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .paths import ASSETS
from .shift import Shift

REPORTS = ASSETS / "reports"


def load_report(name: str) -> dict | None:
    """The shipped report `name`, or None if there is none."""
    return read_report(REPORTS / f"{name}.json")


def read_report(path) -> dict | None:
    """The report at `path`, or None if there is none."""
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else None


@dataclass(frozen=True)
class Headline:
    """A model's figures on the Overview and in the README, from its shipped report."""

    criterion: str  # the recommended criterion they are for
    full_quality: float  # accuracy or WER of the full model on the test split
    drop_pt: float  # error-rate points the recommended threshold adds
    ideal_speedup: float  # MACs (see explorer.speedup)
    measured_speedup_b1: float  # wall clock at batch 1 (see explorer.speedup)
    noisy: str  # why the measured figure cannot be trusted ("" if it can)
    shift: Shift | None = None  # the recommended threshold on the clean test set and each shifted set


def headline(name: str) -> Headline | None:
    """The headline figures of model `name` (its registry entry names its report)."""
    from . import zoo

    entry = zoo.get(name)
    rep = load_report(entry.report) if entry.report else read_report(entry.report_file) if entry.report_file else None
    if not rep or "recommended" not in rep:  # none, or a text model's (thresholds per criterion, no headline)
        return None
    rec = rep["recommended"]
    if "criterion" not in rec:  # one recommendation per criterion (speech): the model's starting one
        crit = entry.start_criterion or next(iter(rec))
        rec = {"criterion": crit, **rec[crit]}
    return Headline(rec["criterion"], rep.get("final_accuracy", rep.get("final_wer")),
                    rec.get("accuracy_drop_pt", rec.get("wer_increase_pt")),
                    rec.get("ideal_speedup", rec.get("ideal_speedup_b1")), rec["measured_speedup_b1"],
                    rec.get("noisy_b1", ""), Shift.from_json(rec["shift"]) if "shift" in rec else None)
