"""Uploads in a real browser (Debian's chromium, Playwright): a bad file gets its message, and
a file whose name is HTML with script in it is shown as plain text, never run."""


import pytest
from input_corpus import BY_ID, GOOD_IMAGE, HTML_NAME
from playwright.sync_api import expect

from explorer import built_ins, checkpoint

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not checkpoint.exists(built_ins.IMAGE_CHECKPOINT), reason="no shipped image checkpoint"),
]


@pytest.fixture(scope="module")
def image_page(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(server + "/live_image")
    expect(page.get_by_text("Answer").first).to_be_visible(timeout=120_000)
    page.get_by_text("Upload", exact=True).click()
    expect(page.locator("input[type=file]")).to_have_count(1, timeout=120_000)
    yield page
    page.close()


def _upload(page, name: str, data: bytes, mime: str, expect_text: str) -> None:
    """Upload a file and wait until the page shows `expect_text` (in an alert or the answer).
    The page must not show that text before (callers upload something else in between)."""
    page.locator("input[type=file]").set_input_files({"name": name, "mimeType": mime, "buffer": data})
    expect(page.get_by_test_id("stFileChipName")).to_have_attribute("title", name, timeout=120_000)
    shown = page.locator("[data-testid='stAlert'], [data-testid='stMarkdownContainer']", has_text=expect_text)
    expect(shown.first).to_be_visible(timeout=120_000)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=120_000)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def test_bad_upload_shows_its_message_then_a_good_one_is_answered(image_page):
    svg = BY_ID["svg"]
    _upload(image_page, svg.name, svg.data, svg.mime, "SVG drawing, which is not supported")
    _upload(image_page, "seven.png", GOOD_IMAGE(), "image/png", "Answer 7")
    expect(image_page.get_by_text("SVG drawing")).to_have_count(0)


def test_a_file_name_with_html_and_script_is_only_text(image_page):
    svg = BY_ID["svg"]
    _upload(image_page, svg.name, svg.data, svg.mime, "SVG drawing")  # no answer on the page now
    image_page.evaluate("window.pwned = undefined")
    _upload(image_page, HTML_NAME, GOOD_IMAGE(), "image/png", "Answer 7")
    assert image_page.evaluate("window.pwned") is None  # neither the script nor the onerror handler ran
    assert not image_page.locator("img[src='x'], [onerror]").count()  # no element was made from the name
    chip = image_page.locator("[data-testid='stFileChipName']")  # the uploader's file chip: the name as text
    assert chip.get_attribute("title") == HTML_NAME and chip.inner_text().startswith("<img")
