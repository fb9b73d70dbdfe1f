"""The README's picture of an imported model compared with itself: the ViT that `make
byom-demo` trains on MNIST, imported with trained exits and with final-head exits, overlaid
on Tradeoffs. Not a test (it needs the demo's workspace, minutes to make):

    .venv/bin/python scripts/shoot_demo.py DEMO_DIR/workspace [assets/screenshots]
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # appserver, test_browser, threshold_probe
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # explorer

import test_browser  # noqa: E402
from appserver import ARGS, CHROMIUM, done, start, stop  # noqa: E402
from playwright.sync_api import expect, sync_playwright  # noqa: E402
from threshold_probe import explorer_frame  # noqa: E402


def main(workspace: str, out: str = "assets/screenshots") -> None:
    os.environ["EXPLORER_WORKSPACE"] = str(Path(workspace).resolve())  # the server inherits it
    os.environ["SCREENSHOTS"] = out
    test_browser.SHOTS = Path(out).resolve()
    proc, url, _ = start(timeout=120)
    try:
        with sync_playwright() as p:
            page = p.chromium.launch(executable_path=CHROMIUM, args=ARGS).new_page(
                viewport={"width": 1280, "height": 1000})
            page.goto(url + "/tradeoffs?model=demo-vit-trained&criterion=confidence&vs=demo-vit-final-head")
            explorer_frame(page)
            done(page, 600_000)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            test_browser.shoot(page, "imported_compare", height=2600)
    finally:
        stop(proc)


if __name__ == "__main__":
    main(*sys.argv[1:])
