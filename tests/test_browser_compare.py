"""In chromium: a click on a bar of where inputs leave, and on a point of a compared model's
curve, lists the inputs behind it, each with a link to the live page."""

import re
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from appserver import done
from playwright.sync_api import expect
from test_browser import shoot
from threshold_probe import explorer_frame

from explorer import built_ins, criteria, zoo

pytestmark = pytest.mark.browser


def click_on(page, locator) -> None:
    """A real click where the element is drawn (Plotly's drag layer above it takes it)."""
    locator.scroll_into_view_if_needed()
    box = locator.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)


def test_clicking_a_bar_and_a_compared_curve_lists_the_inputs_behind_them(server, page):
    page.goto(server + "/tradeoffs?model=image&criterion=confidence&threshold=0.9&vs=image-shared")
    explorer_frame(page)
    done(page)
    figures = page.frame_locator("iframe[title*='threshold_explorer']").locator(".figure")
    expect(figures).to_have_count(3)  # the tradeoff chart, where inputs leave, exit depth against noise
    bars = figures.nth(1).locator("g.trace.bars").first.locator("g.point path")  # the image model's bars
    click_on(page, bars.nth(1))  # exit 2
    heading = page.locator("p", has_text="leaving at exit 2 of 6")
    expect(heading).to_contain_text("MNIST ResNet, one head per exit", timeout=60_000)
    prof = zoo.profile("image", "test")
    behind = np.flatnonzero(prof.exits(criteria.get("confidence"), 0.9) == 1)
    expect(heading).to_contain_text(f"{len(behind)} of {prof.n} inputs")
    first = page.locator("p", has_text=re.compile(r"^#\d+ · exit 2:")).first
    expect(first).to_contain_text(f"#{behind[0]} · exit 2: {prof.answer(behind[0], 1)}")
    link = page.get_by_role("link", name="Open on the live page").first
    url = urlparse(link.get_attribute("href"))
    assert url.path.endswith("live_image")
    assert parse_qs(url.query) == {"model": ["image"], "input": [f"test:{behind[0]}"]}
    expect(page).to_have_url(re.compile(r"pick=image(%2C|,)confidence(%2C|,)0\.9(%2C|,)1"))
    shoot(page, "compare", height=2900)  # docs/app.md's picture of a comparison and its drill-down

    curve = figures.nth(0).locator("g.trace.scatter").nth(1).locator("path.point")  # the shared exit's curve
    click_on(page, curve.nth(curve.count() // 2))
    expect(page.locator("p", has_text="MNIST ResNet, FreeML shared exit")).to_contain_text(
        "answer changed by leaving early", timeout=60_000)


def test_the_training_strategies_on_one_tradeoff_chart_and_one_noise_chart(server, page):
    names = [name for _, name, _ in built_ins.IMAGE_STRATEGIES]
    titles = [zoo.get(n).title for n in names]
    page.goto(server + f"/tradeoffs?model=image&criterion=confidence&threshold=0.9&vs={names[1]},{names[2]}")
    explorer_frame(page)
    done(page)
    figures = page.frame_locator("iframe[title*='threshold_explorer']").locator(".figure")
    expect(figures).to_have_count(3)
    for title in titles:
        expect(figures.nth(0)).to_contain_text(title)  # the tradeoff chart's legend
        expect(figures.nth(2)).to_contain_text(title)  # mean exit against noise
    expect(page.get_by_text("Recommended thresholds, side by side")).to_be_visible()
    shoot(page, "strategies", height=2400)  # docs/app.md's picture of the three strategies
