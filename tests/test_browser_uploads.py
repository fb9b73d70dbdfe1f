"""Uploads in a real browser (Debian's chromium, Playwright): a bad file gets its message, and
a file whose name is HTML with script in it is shown as plain text, never run."""

import os
from pathlib import Path

import pytest
from appserver import CHROMIUM, settle
from input_corpus import BY_ID, GOOD_IMAGE, HTML_NAME

from explorer import checkpoint, zoo

pytestmark = [
    pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                       reason="chromium missing (make test installs it)"),
    pytest.mark.skipif(not checkpoint.exists(zoo.IMAGE_CHECKPOINT), reason="no shipped image checkpoint"),
]


@pytest.fixture(scope="module")
def image_page(server, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(server + "/live_image")
    page.get_by_text("Answer").first.wait_for(timeout=90_000)
    settle(page)
    page.get_by_text("Upload", exact=True).click()
    settle(page)
    yield page
    page.close()


def _upload(page, name: str, data: bytes, mime: str) -> None:
    page.locator("input[type=file]").set_input_files({"name": name, "mimeType": mime, "buffer": data})
    settle(page)
    assert not page.locator("[data-testid='stException']").count()


def test_bad_upload_shows_its_message_then_a_good_one_is_answered(image_page):
    svg = BY_ID["svg"]
    _upload(image_page, svg.name, svg.data, svg.mime)
    assert "SVG drawing, which is not supported" in image_page.locator("[data-testid='stAlert']").first.inner_text()
    _upload(image_page, "seven.png", GOOD_IMAGE(), "image/png")
    assert not image_page.locator("[data-testid='stAlert']").count()
    assert "Answer 7" in image_page.locator("[data-testid='stMarkdownContainer']", has_text="Answer").first.inner_text()


def test_a_file_name_with_html_and_script_is_only_text(image_page):
    image_page.evaluate("window.pwned = undefined")
    _upload(image_page, HTML_NAME, GOOD_IMAGE(), "image/png")
    assert "Answer 7" in image_page.locator("[data-testid='stMarkdownContainer']", has_text="Answer").first.inner_text()
    assert image_page.evaluate("window.pwned") is None  # neither the script nor the onerror handler ran
    assert not image_page.locator("img[src='x'], [onerror]").count()  # no element was made from the name
    chip = image_page.locator("[data-testid='stFileChipName']")  # the uploader's file chip: the name as text
    assert chip.get_attribute("title") == HTML_NAME and chip.inner_text().startswith("<img")
