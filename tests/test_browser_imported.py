"""Issue 12 in a real browser (Debian's chromium): a tiny Hugging Face ViT imported through the
Add-a-model page of a fresh server, then chosen on Tradeoffs, then one of its test pictures
opened on the live page from a link. Its own server, on its own empty workspace, so the other
browser tests' menus stay as they were."""

import re

import pytest
from appserver import done, import_through_page
from conftest import served
from playwright.sync_api import expect


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_WORKSPACE", str(tmp_path_factory.mktemp("browser-ws")))  # the server inherits it
        yield from served()


def test_import_through_the_page_then_tradeoffs_then_a_linked_input(fresh_server, browser, imported_tiny):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        import_through_page(page, fresh_server, imported_tiny["vit"], imported_tiny["images"], "browser-vit")
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
