"""The app in a real browser: Debian's chromium driven by Playwright against
`streamlit run app.py` on 127.0.0.1. Saves the screenshots the README shows."""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "assets" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="chromium missing (make test installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("streamlit did not come up: " + proc.stdout.read().decode(errors="replace")[-2000:])
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 1000})
        yield pg
        browser.close()


def settle(page) -> None:
    """Wait until the app's script has finished running (no 'Running…' status)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(300)


def test_overview_then_engine_threshold_moves_the_decision(server, page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(server)
    page.get_by_text("Early-Exit Explorer").first.wait_for(timeout=60_000)
    settle(page)
    assert not page.locator("[data-testid='stException']").count()
    page.screenshot(path=str(SHOTS / "overview.png"), full_page=True)

    page.goto(server + "/engine")
    decision = page.locator("p", has_text="of 6 (").first
    decision.wait_for(timeout=90_000)
    settle(page)
    slider = page.get_by_role("slider").first
    slider.focus()
    page.keyboard.press("End")  # the largest entropy threshold: everything leaves at exit 1
    settle(page)
    assert decision.inner_text().startswith("Exit 1 of 6")
    page.keyboard.press("Home")  # the smallest: nothing is that sure, all go to the end
    settle(page)
    assert decision.inner_text().startswith("Exit 6 of 6")
    assert not page.locator("[data-testid='stException']").count()
    page.screenshot(path=str(SHOTS / "engine.png"), full_page=True)


def test_live_image_page_answers_the_example(server, page):
    page.goto(server + "/live_image")
    page.get_by_text("Answer").first.wait_for(timeout=90_000)
    settle(page)
    assert page.get_by_text("the 28×28 input the model saw").count()
    assert not page.locator("[data-testid='stException']").count()
    page.screenshot(path=str(SHOTS / "live_image.png"), full_page=True)


def test_live_speech_page_transcribes_the_example(server, page):
    page.goto(server + "/live_speech")
    page.locator("h3", has_text="Exit").first.wait_for(timeout=90_000)
    settle(page)
    assert page.locator("audio").count()  # the clip can be played back
    assert not page.locator("[data-testid='stException']").count()
    page.screenshot(path=str(SHOTS / "live_speech.png"), full_page=True)
