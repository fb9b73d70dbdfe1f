"""Issue 12 in a real browser (Debian's chromium): a tiny Hugging Face ViT imported through the
Add-a-model page of a fresh server, then chosen on Tradeoffs, then one of its test pictures
opened on the live page from a link. Its own server, on its own empty workspace, so the other
browser tests' menus stay as they were."""

import re

import pytest
from appserver import done, start, stop
from playwright.sync_api import expect


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    workspace = tmp_path_factory.mktemp("browser-ws")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_WORKSPACE", str(workspace))  # the server inherits it
        try:
            proc, url, _ = start()
        except RuntimeError as err:
            pytest.fail(str(err))
        yield url
    stop(proc)


def test_import_through_the_page_then_tradeoffs_then_a_linked_input(fresh_server, browser, imported_tiny):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.goto(fresh_server + "/add_model")
        expect(page.get_by_text("Imported models")).to_be_visible(timeout=120_000)
        done(page)
        page.get_by_label("Model: a folder written by save_pretrained, or a downloaded hub id").fill(
            str(imported_tiny["vit"]))
        page.get_by_label("Data folder: one subfolder per class, LibriSpeech-style, or metadata.csv").fill(
            str(imported_tiny["images"]))
        page.get_by_label("Name in the app").fill("browser-vit")
        page.get_by_role("button", name="Import").click()
        expect(page.get_by_text("browser-vit is imported")).to_be_visible(timeout=300_000)
        expect(page.get_by_test_id("stCode").first).to_contain_text("browser-vit is ready")  # the log

        page.goto(fresh_server + "/tradeoffs?model=browser-vit")
        expect(page.get_by_role("combobox", name="Model")).to_have_value(re.compile("browser-vit"), timeout=120_000)
        done(page, 300_000)
        expect(page.get_by_test_id("stException")).to_have_count(0)

        page.goto(fresh_server + "/live_image?model=browser-vit&input=test:1")
        expect(page.get_by_text("Opened from the link")).to_be_visible(timeout=120_000)
        expect(page.get_by_role("heading", name=re.compile(r"Exit \d of 4"))).to_be_visible(timeout=120_000)
        expect(page.get_by_text("true:")).to_be_visible()
        done(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        page.close()
