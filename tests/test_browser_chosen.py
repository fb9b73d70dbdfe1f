"""In chromium: on Tradeoffs the chosen criterion's curve is on top, so a click on one of its
points opens that criterion's inputs, even where another criterion's point lies under it
(issue 26, item 7: a click on "confidence" opened entropy / log C's drill-down)."""

import re

import pytest
from appserver import done
from playwright.sync_api import expect
from test_browser_compare import click_on
from threshold_probe import explorer_frame

pytestmark = pytest.mark.browser

CHOSEN = """(div) => div.data.findIndex((t) => t.meta && t.meta.criterion === "confidence")"""


@pytest.mark.parametrize("point", [0, 3])  # 0: the cheapest point, which every causal curve shares
def test_a_click_on_the_chosen_curve_opens_its_own_inputs(server, browser, point):
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    try:
        page.goto(server + "/tradeoffs?model=image&criterion=confidence")
        explorer_frame(page)
        done(page)
        figure = page.frame_locator("iframe[title*='threshold_explorer']").locator(".js-plotly-plot").first
        index = figure.evaluate(CHOSEN)
        assert index == figure.evaluate("(div) => div.data.length") - 2  # under the ✕ marker only
        curve = figure.locator("g.trace.scatter").nth(index).locator("path.point")
        click_on(page, curve.nth(point))
        heading = page.locator("p", has_text="MNIST ResNet, one head per exit")
        expect(heading).to_contain_text("max softmax ≥ τ at τ =", timeout=120_000)
        expect(page).to_have_url(re.compile(r"pick=image(%2C|,)confidence(%2C|,)"))
    finally:
        page.close()
