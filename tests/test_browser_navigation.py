"""The navigation of a fresh server in chromium, started both ways a user starts it: only the
pages' titles, never a raw file name (app, choice, common, live shared, ...), from the first
paint of the first visit on. Every navigation list the page ever shows is recorded from
before Streamlit's own code runs (appserver.NAV_WATCH), so a flash between two draws counts."""

import os
from pathlib import Path

import pytest
from appserver import CHROMIUM, LAUNCHES, PAGE_TITLES, ROOT, first_paint, start, stop

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                 reason="chromium missing (make test installs it)")]


@pytest.mark.parametrize("launch", LAUNCHES)
def test_a_fresh_server_shows_only_page_titles_and_the_overview_soon(browser, launch):
    """Issues 16 and 22: every list the navigation ever shows holds page titles only (never `app`,
    `choice`, `common`, `live shared`, ...), it ends with all of them, the Overview is drawn within 10 s."""
    assert not (ROOT / "pages").exists(), ("a folder named pages/ beside app.py (even one left with only "
                                            "__pycache__ in it) switches on Streamlit's legacy pages mode: remove it")
    proc, url, _ = start(launch=launch)
    try:
        seen = first_paint(browser, url, timeout_s=10)
    finally:
        stop(proc)
    print(f"{launch}: request -> drawn Overview: {seen['seconds']:.2f} s")
    assert all(set(nav) <= set(PAGE_TITLES) for nav in seen["navs"]), seen["navs"]
    assert seen["navs"][-1] == list(PAGE_TITLES), seen["navs"]
