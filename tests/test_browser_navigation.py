"""The navigation of a fresh server in chromium, started both ways a user starts it: only the
pages' titles, never a raw file name (app, choice, common, live shared, ...), from the first
paint of the first visit on, whether that visit opens the app or a deep link. Every list of
navigation links the page ever shows is recorded from before Streamlit's own code runs
(appserver.NAV_WATCH), so a flash between two draws counts.

Why a deep link too: a folder named pages/ beside app.py makes Streamlit run a fresh server's
first request for /add_model (say) without the router, under a navigation of raw file names;
the page must still come with the whole frame (ui/frame.py) and no raw name."""

import json
import os
from pathlib import Path

import pytest
from appserver import CHROMIUM, LAUNCHES, PAGE_TITLES, first_paint, start, stop
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                 reason="chromium missing (make test installs it)")]

RAW_NAMES = {"app", "choice", "common", "live shared", "live_shared", "live image", "live_image", "live speech",
             "add model", "add_model", "overview", "tradeoffs", "noise", "model", "energy", "frame"}


def _only_titles(navs: list[list[str]]) -> None:
    assert navs, "no navigation drawn"
    assert all(set(nav) <= set(PAGE_TITLES) for nav in navs), navs  # titles only, each list, from the first paint
    assert not RAW_NAMES & {item for nav in navs for item in nav}, navs  # (case-sensitive: "Model" is a title)
    assert navs[-1] == list(PAGE_TITLES), navs


@pytest.mark.parametrize("launch", LAUNCHES)
def test_a_fresh_server_shows_only_page_titles_and_the_overview_soon(browser, launch):
    """Issues 16 and 22: every list the navigation ever shows holds page titles only, it ends
    with all of them, the Overview is drawn within 10 s."""
    proc, url, _ = start(launch=launch)
    try:
        seen = first_paint(browser, url, timeout_s=10)
    finally:
        stop(proc)
    print(f"{launch}: request -> drawn Overview: {seen['seconds']:.2f} s")
    _only_titles(seen["navs"])


@pytest.mark.parametrize("launch", LAUNCHES)
def test_a_deep_link_as_a_fresh_servers_first_request_gets_the_whole_frame(browser, launch):
    """Issue 22: /add_model first (Streamlit's pages mode runs it without the router): page titles
    only, all of them, the current page marked, the wide layout, the page itself; and on from there
    through the sidebar (Energy, then the Overview), titles only all along."""
    proc, url, _ = start(launch=launch)
    try:
        seen = first_paint(browser, url + "/add_model", title="Add a model", keep=True)
        page = seen["page"]
        try:
            expect(page.get_by_text("Imported models")).to_be_visible(timeout=120_000)
            links = page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink")
            expect(links).to_have_count(len(PAGE_TITLES))
            looks = links.evaluate_all("ls => ls.map(a => getComputedStyle(a).backgroundColor)")
            current = looks[PAGE_TITLES.index("Add a model")]
            assert looks.count(current) == 1, looks  # the current page's link, and only it, is marked
            width = page.get_by_test_id("stMainBlockContainer").bounding_box()["width"]
            assert width > 900, width  # layout="wide" (centered is 736 px)
            links.filter(has_text="Energy").click()  # on in the same session: the frame's links lead on
            expect(page.locator("h1", has_text="Energy")).to_be_visible(timeout=120_000)
            links.filter(has_text="Overview").click()
            expect(page.locator("h1", has_text="Early-Exit Explorer")).to_be_visible(timeout=120_000)
            expect(links).to_have_count(len(PAGE_TITLES))
            navs = [json.loads(n) for n in page.evaluate("window.__nav")]
        finally:
            page.close()
    finally:
        stop(proc)
    _only_titles(navs)
