"""The shipped reports (assets/reports/NAME.json): read by the app and `predict`
without importing the report generator or the benchmark (which import torch and
time things). `python -m explorer report` writes new ones elsewhere unless asked."""

from __future__ import annotations

import json

from .paths import ASSETS

REPORTS = ASSETS / "reports"


def load_report(name: str) -> dict | None:
    """The shipped report `name`, or None if there is none."""
    path = REPORTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None
