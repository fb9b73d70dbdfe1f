"""Add the `shift` figures (explorer.shift) to the shipped reports, assets/reports/*.json,
without measuring anything again: every existing value stays as it is, each recommended
threshold gains the figures of the clean test set and every shifted set, recomputed from
the shipped profiles. Run once after a report without them was shipped:

    .venv/bin/python scripts/add_shift_to_reports.py
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # explorer

from explorer import setup, zoo  # noqa: E402
from explorer.report import add_shift  # noqa: E402
from explorer.shipped import REPORTS  # noqa: E402


def main() -> None:
    setup.install()
    for name in ("image", "speech"):
        path = REPORTS / f"{name}.json"
        report = json.loads(path.read_text())
        path.write_text(json.dumps(add_shift(name, report, zoo.get(name).quality.eps_pt), indent=1))
        print(f"{path}: shift figures added")


if __name__ == "__main__":
    main()
