"""The app in a real browser: Debian's chromium driven by Playwright against
`streamlit run app.py` on 127.0.0.1. Takes one screenshot per page: into a temporary
folder, or with SCREENSHOTS=assets/screenshots (`make screenshots`) the ones the README shows."""

import os
import tempfile
from pathlib import Path

import pytest
from appserver import CHROMIUM, ROOT, settle, start, stop
from playwright.sync_api import expect
from threshold_probe import explorer_frame, slider

SHOTS = ROOT / os.environ.get("SCREENSHOTS", Path(tempfile.gettempdir()) / "early-exit-explorer-screenshots")

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                reason="chromium missing (make test installs it)")


def no_exception(page) -> None:
    assert not page.locator("[data-testid='stException']").count()


def visit(page, url: str, ready: str):
    """Open `url`, wait for the element `ready` (a Playwright selector) and for the
    script to finish; return that element."""
    page.goto(url)
    element = page.locator(ready).first
    element.wait_for(timeout=90_000)
    settle(page)
    return element


def shoot(page, name: str, height: int = 1000) -> None:
    """Screenshot the whole page from the top: Streamlit scrolls inside its main pane,
    so the window is made as tall as the page for the shot."""
    page.mouse.move(0, 0)  # no tooltip in the picture
    page.set_viewport_size({"width": 1280, "height": height})
    page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
    page.wait_for_timeout(800)  # charts re-lay out to the new size
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size({"width": 1280, "height": 1000})


def test_overview(server, page):
    visit(page, server, "h1:has-text('Early-Exit Explorer')")
    no_exception(page)
    shoot(page, "overview")


def test_tradeoffs_keyboard_threshold_moves_the_decision_and_metrics(server, page):
    decision = visit(page, server + "/tradeoffs", "p:has-text('of 6 (')")
    accuracy = explorer_frame(page).locator("[data-testid='metric'] .value").first
    slider(page).focus()
    page.keyboard.press("End")  # max softmax >= the largest threshold: no one leaves early
    expect(decision).to_contain_text("Exit 6 of 6", timeout=60_000)  # once the keys rest
    full = accuracy.inner_text()
    assert "threshold=" in page.url  # the choice is in the link
    slider(page).focus()
    page.keyboard.press("Home")  # the smallest: everyone leaves at the first exit
    expect(decision).to_contain_text("Exit 1 of 6", timeout=60_000)
    assert accuracy.inner_text() != full
    page.get_by_role("button", name="Apply", exact=True).click()  # back to the recommended threshold
    settle(page)
    no_exception(page)
    shoot(page, "tradeoffs", 2450)


def test_noise_page_draws_depth_against_noise(server, page):
    visit(page, server + "/noise", "text=Every criterion, each at its recommended threshold")
    frame = explorer_frame(page)
    expect(frame.locator("text=Mean exit against noise")).to_be_visible()
    assert page.locator("[data-testid='stPlotlyChart']").count() + frame.locator(".js-plotly-plot").count() >= 5
    no_exception(page)
    shoot(page, "noise", 1950)


def test_model_page_runs_the_benchmark(server, page):
    visit(page, server + "/model", "text=Architecture: every stage and head")
    inputs = page.get_by_label("Inputs", exact=True)
    inputs.fill("100")
    inputs.press("Enter")
    settle(page)
    page.get_by_role("button", name="Run the benchmark").click()
    page.get_by_text("Batch 64: realized speedup").wait_for(timeout=120_000)
    settle(page)
    no_exception(page)
    shoot(page, "model", 2250)


def test_a_shared_link_sets_criterion_and_threshold_on_every_page(server, page):
    visit(page, server + "/live_image?model=image&criterion=entropy&threshold=0.3", "text=Answer")
    assert page.get_by_label("Threshold τ", exact=True).input_value() == "0.3000"
    page.get_by_role("link", name="Tradeoffs").click()  # the same session, another page
    page.locator("p", has_text="of 6 (").first.wait_for(timeout=90_000)
    settle(page)
    expect(slider(page)).to_have_attribute("aria-valuetext", "0.3", timeout=60_000)
    assert "criterion=entropy" in page.url
    no_exception(page)


def test_a_shared_link_as_the_first_request_of_a_fresh_server_gets_the_whole_app(page):
    """Streamlit's legacy pages/ mode would run the linked page alone, without the router."""
    proc, url, _ = start()
    try:
        visit(page, url + "/tradeoffs?model=image&criterion=entropy&threshold=0.3", "p:has-text('of 6 (')")
        nav = page.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Noise & robustness" in nav and "common" not in nav and "threshold_explorer" not in nav, nav
        expect(slider(page)).to_have_attribute("aria-valuetext", "0.3", timeout=60_000)
        no_exception(page)
    finally:
        stop(proc)


def test_live_image_page_answers_the_example(server, page):
    visit(page, server + "/live_image", "text=Answer")
    assert page.get_by_text("the 28×28 input the model saw").count()
    no_exception(page)
    shoot(page, "live_image", 1500)


def test_live_speech_page_transcribes_the_example(server, page):
    visit(page, server + "/live_speech", "h3:has-text('Exit')")
    assert page.locator("audio").count()  # the clip can be played back
    no_exception(page)
    shoot(page, "live_speech", 1900)


def test_live_speech_page_transcribes_an_uploaded_wav(server, page):
    import soundfile as sf

    from explorer.audio import to_wav_bytes

    clip = ROOT / "assets" / "examples" / "speech-test_a-2.flac"  # "four five two three", a held-out voice
    wav = to_wav_bytes(sf.read(clip, dtype="float32")[0])
    visit(page, server + "/live_speech", "h3:has-text('Exit')")
    page.get_by_text("Upload", exact=True).click()
    settle(page)
    page.locator("input[type=file]").set_input_files({"name": "my digits.wav", "mimeType": "audio/wav",
                                                      "buffer": wav})
    settle(page)
    no_exception(page)
    assert "four five two three" in page.locator("h3:has-text('Exit')").first.inner_text()

