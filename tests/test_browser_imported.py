"""Issue 12 in a real browser (Debian's chromium): a tiny Hugging Face ViT imported through the
Add-a-model page of a fresh server, then chosen on Tradeoffs, a bar of where its inputs leave
clicked (the drill-down), and one of the pictures behind it opened on the live page. Its own
server, on its own empty workspace, so the other browser tests' menus stay as they were."""

import re
from urllib.parse import urljoin

import pytest
from appserver import done, import_through_page
from conftest import served
from playwright.sync_api import expect
from test_browser import shoot
from test_browser_compare import click_on
from threshold_probe import explorer_frame

pytestmark = pytest.mark.browser

@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_WORKSPACE", str(tmp_path_factory.mktemp("browser-ws")))  # the server inherits it
        yield from served()


def test_import_then_tradeoffs_then_drill_down_then_the_live_page(fresh_server, browser, imported_tiny):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        import_through_page(page, fresh_server, imported_tiny["vit"], imported_tiny["images"], "browser-vit")
        expect(page.get_by_test_id("stCode").first).to_contain_text("browser-vit is ready")  # the log
        shoot(page, "add_model", height=1800)

        page.goto(fresh_server + "/tradeoffs?model=browser-vit&criterion=confidence&threshold=0.5")
        expect(page.get_by_role("combobox", name="Model")).to_have_value(re.compile("browser-vit"), timeout=120_000)
        explorer_frame(page)
        done(page, 300_000)
        expect(page.get_by_test_id("stException")).to_have_count(0)

        figures = page.frame_locator("iframe[title*='threshold_explorer']").locator(".figure")
        bars = figures.nth(1).locator("g.trace.bars").first.locator("g.point path:visible")
        expect(bars.first).to_be_visible(timeout=60_000)
        click_on(page, bars.first)  # the first exit any input leaves at (empty bars are not drawn)
        heading = page.locator("p", has_text=re.compile(r"leaving at exit \d of 4"))
        expect(heading).to_contain_text("inputs", timeout=120_000)
        link = page.get_by_role("link", name="Open on the live page").first
        expect(link).to_have_attribute("href", re.compile(r"live_image\?model=browser-vit&input=test(%3A|:)\d+"))
        page.goto(urljoin(page.url, link.get_attribute("href")))  # as the link would, in this tab
        expect(page.get_by_text("Opened from the link")).to_be_visible(timeout=120_000)
        expect(page.get_by_role("heading", name=re.compile(r"Exit \d of 4"))).to_be_visible(timeout=120_000)
        expect(page.get_by_text("true:")).to_be_visible()
        done(page)
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        page.close()
