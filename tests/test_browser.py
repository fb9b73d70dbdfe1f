"""The app in a real browser: Debian's chromium driven by Playwright against the app as
`make run` starts it, on 127.0.0.1. Every wait is for content the page should show
(Playwright's expect), never a fixed sleep. Takes one screenshot per page: into a
temporary folder, or with SCREENSHOTS=assets/screenshots (`make screenshots`) the ones
the README and docs/app.md show."""

import os
import re
import tempfile
from pathlib import Path

import pytest
from appserver import LAUNCHES, PAGE_TITLES, ROOT, done, start, stop
from conftest import needs_image, needs_speech
from playwright.sync_api import expect
from threshold_probe import explorer_frame, slider

SHOTS = ROOT / os.environ.get("SCREENSHOTS", Path(tempfile.gettempdir()) / "early-exit-explorer-screenshots")
LONG = 120_000  # ms: the first visit of a page loads torch and the model on a busy machine

pytestmark = pytest.mark.browser


def visit(page, url: str, ready: str, text: str = ""):
    """Open `url` and wait until the element `ready` (a Playwright selector) shows `text`."""
    page.goto(url)
    element = page.locator(ready).first
    expect(element).to_contain_text(text, timeout=LONG)
    done(page)
    return element


def shoot(page, name: str, height: int = 1000) -> None:
    """Screenshot the whole page from the top (only with SCREENSHOTS set): Streamlit scrolls
    inside its main pane, so the window is made as tall as the page for the shot."""
    if "SCREENSHOTS" not in os.environ:
        return
    page.mouse.move(0, 0)  # no tooltip in the picture
    page.set_viewport_size({"width": 1280, "height": height})
    page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollTo(0, 0)")
    page.wait_for_timeout(800)  # charts re-lay out to the new size (pictures only, never a check)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size({"width": 1280, "height": 1000})


def test_overview(server, page):
    visit(page, server, "h1", "Early-Exit Explorer")
    expect(page.get_by_test_id("stMetricValue").first).to_contain_text("%")
    shoot(page, "overview")


@needs_image
def test_tradeoffs_keyboard_threshold_moves_the_decision_and_metrics(server, page):
    decision = visit(page, server + "/tradeoffs", "p:has-text('of 6 (')", "Exit")
    frame = page.frame_locator("iframe[title*='threshold_explorer']")
    mean_exit = frame.locator("[data-testid='metric']", has_text="Mean exit").locator(".value")
    explorer_frame(page)
    slider(page).focus()
    page.keyboard.press("End")  # max softmax >= the largest threshold: no one leaves early
    expect(mean_exit).to_contain_text("6.00 of 6")  # in the browser at once
    expect(decision).to_contain_text("Exit 6 of 6", timeout=LONG)  # on the server once the keys rest
    expect(page).to_have_url(re.compile("^(?=.*threshold=)(?=.*eval=)(?=.*cost=)(?=.*log=)"))  # every setting
    slider(page).focus()
    page.keyboard.press("Home")  # the smallest: everyone leaves at the first exit
    expect(mean_exit).to_contain_text("1.00 of 6")
    expect(decision).to_contain_text("Exit 1 of 6", timeout=LONG)
    page.get_by_role("button", name="Apply", exact=True).click()  # back to the recommended threshold
    expect(mean_exit).not_to_contain_text("1.00 of 6", timeout=LONG)
    done(page)
    shoot(page, "tradeoffs", 2600)


@needs_image
def test_noise_page_draws_depth_against_noise(server, page):
    visit(page, server + "/noise", "h1", "Noise & robustness")
    frame = page.frame_locator("iframe[title*='threshold_explorer']")
    expect(frame.locator(".gtitle", has_text="Mean exit against noise")).to_be_visible(timeout=LONG)
    expect(frame.locator(".js-plotly-plot")).to_have_count(3, timeout=LONG)  # the threshold moves these ...
    expect(page.get_by_test_id("stPlotlyChart")).to_have_count(2, timeout=LONG)  # ... not every criterion's
    done(page)
    shoot(page, "noise", 2000)


@needs_image
def test_energy_page_counts_inputs_answered_under_a_harvested_power_trace(server, page):
    visit(page, server + "/energy", "h1", "Energy: anytime inference under harvested power")
    expect(page.get_by_test_id("stMetricLabel").first).to_contain_text("answered right, early exit", timeout=LONG)
    expect(page.get_by_test_id("stMetricValue").first).to_contain_text(" / ", timeout=LONG)
    expect(page.locator("[data-testid=stException]")).to_have_count(0)
    shoot(page, "energy", 1500)


@needs_image
def test_model_page_runs_the_benchmark(server, page):
    visit(page, server + "/model", "h3:has-text('Architecture')", "Architecture: every stage and head")
    inputs = page.get_by_label("Inputs", exact=True)
    inputs.fill("50")
    inputs.press("Enter")
    expect(page.get_by_text("Press “Run the benchmark”")).to_be_visible(timeout=LONG)
    page.get_by_role("button", name="Run the benchmark").click()
    expect(page.get_by_text("Batch 64: speedup measured (ms)")).to_be_visible(timeout=240_000)
    done(page)
    shoot(page, "model", 2300)


@needs_image
def test_a_shared_link_sets_every_setting_on_every_page(server, page):
    visit(page, server + "/live_image?model=image&criterion=entropy&threshold=0.3", "h3", "Exit")
    expect(page.get_by_label("Threshold τ", exact=True)).to_have_value("0.3000")
    page.get_by_role("link", name="Tradeoffs").click()  # the same session, another page
    expect(page.locator("p", has_text="of 6 (").first).to_contain_text("Exit", timeout=LONG)
    expect(slider(page)).to_have_attribute("aria-valuetext", "0.3", timeout=LONG)
    expect(page).to_have_url(re.compile("criterion=entropy"))
    done(page)


@needs_image
@pytest.mark.parametrize("launch", LAUNCHES)
def test_a_shared_link_as_the_first_request_of_a_fresh_server_gets_the_whole_app(browser, launch):
    proc, url, _ = start(launch=launch)
    pg = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        visit(pg, url + "/tradeoffs?model=image&criterion=entropy&threshold=0.3&eval=blur-5&log=0",
              "p:has-text('of 6 (')", "Exit")
        nav = pg.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink")  # the app's own navigation
        expect(nav).to_have_text([re.compile(re.escape(t) + "$") for t in PAGE_TITLES])  # titles only, all
        expect(pg.get_by_test_id("stSidebarNav")).to_have_count(0)  # Streamlit's (file names) never drawn
        assert pg.get_by_test_id("stMainBlockContainer").bounding_box()["width"] > 900  # layout="wide"
        frame = pg.frame_locator("iframe[title*='threshold_explorer']")
        expect(frame.locator("#tau")).to_have_attribute("aria-valuetext", "0.3", timeout=LONG)
        expect(frame.locator("[data-testid='metric'] .label").first).to_contain_text("blur")  # the link's set
    finally:
        pg.close()
        stop(proc)


@needs_image
def test_live_image_page_answers_the_example_with_its_true_label(server, page):
    visit(page, server + "/live_image", "h3", "Exit")
    expect(page.locator("[data-testid='stMarkdownContainer']", has_text="Answer").first).to_contain_text("true: 7")
    expect(page.get_by_text("the 28×28 input the model saw")).to_be_visible()
    shoot(page, "live_image", 1600)


@needs_speech
def test_live_speech_page_transcribes_the_example_and_an_uploaded_wav(server, page):
    import soundfile as sf

    from explorer.audio import to_wav_bytes

    visit(page, server + "/live_speech", "h3", "Exit")
    expect(page.locator("audio")).to_have_count(1)  # the clip can be played back
    expect(page.get_by_text("Reference:")).to_be_visible()
    shoot(page, "live_speech", 2000)
    clip = ROOT / "assets" / "examples" / "speech-test_a-2.flac"  # "four five two three", a held-out voice
    wav = to_wav_bytes(sf.read(clip, dtype="float32")[0])
    page.get_by_text("Upload", exact=True).click()
    expect(page.locator("input[type=file]")).to_have_count(1, timeout=LONG)
    page.locator("input[type=file]").set_input_files({"name": "my digits.wav", "mimeType": "audio/wav",
                                                      "buffer": wav})
    expect(page.locator("h3", has_text="Exit").first).to_contain_text("four five two three", timeout=LONG)
    done(page)
