"""Issue 26, item 9: a first visit never shows an empty page. On a fresh server, every page opened
at once in its own tab (each a first visit, all competing for the import of torch and the
models, as on a busy machine) draws its title before its first figure, table or image, and
soon; a spinner says what is loading meanwhile (content: a figure, table, image, metric or
message). The times are printed (from the request, as
the browser's clock says)."""

import os
from pathlib import Path

import pytest
from appserver import CHROMIUM, start, stop
from playwright.sync_api import expect

from ui.frame import LOADING, PAGES

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"),
                                 reason="chromium missing (make test installs it)")]

TITLE_S = 30  # generous: 8 first visits at once on 2 busy cores; alone it is about a second
CONTENT = ('[data-testid="stPlotlyChart"], [data-testid="stIFrame"], [data-testid="stCustomComponentV1"], '
           '[data-testid="stDataFrame"], [data-testid="stTable"], [data-testid="stImage"], '
           '[data-testid="stMetric"], [data-testid="stAudio"], [data-testid^="stAlert"]')
# When (ms from the request) the page first showed an h1, the loading spinner, and content.
WATCH = """
window.__seen = {};
new MutationObserver(() => {
  const s = window.__seen, now = performance.now();
  if (s.title === undefined && document.querySelector('h1')) s.title = now;
  if (s.loading === undefined && document.body.innerText.includes(LOADING)) s.loading = now;
  if (s.content === undefined && document.querySelector(CONTENT)) s.content = now;
}).observe(document, {subtree: true, childList: true, characterData: true});
""".replace("LOADING", repr(LOADING)).replace("CONTENT", repr(CONTENT))


def test_every_page_s_first_visit_draws_its_title_before_anything_slow(browser):
    proc, url, _ = start()
    tabs = {}
    try:
        for p in PAGES:  # every first visit at once
            tab = browser.new_page(viewport={"width": 1280, "height": 1000})
            tab.add_init_script(WATCH)
            tab.goto(url + "/" + ("" if p.default else Path(p.path).stem), wait_until="commit")
            tabs[p] = tab
        seen = {}
        for p, tab in tabs.items():
            title = "Early-Exit Explorer" if p.default else p.title
            expect(tab.locator("h1").first).to_contain_text(title, timeout=180_000)
            expect(tab.locator(CONTENT).first).to_be_attached(timeout=300_000)
            seen[p.title] = tab.evaluate("window.__seen")
    finally:
        for tab in tabs.values():
            tab.close()
        stop(proc)
    for page, s in seen.items():
        loading = f", loading said at {s['loading'] / 1e3:.1f} s" if "loading" in s else ""
        print(f"{page}: title {s['title'] / 1e3:.1f} s, first content {s['content'] / 1e3:.1f} s{loading}")
    for page, s in seen.items():
        assert s["title"] <= s["content"], (page, s)  # the skeleton first, never an empty page meanwhile
        assert s["title"] < TITLE_S * 1e3, (page, s)
