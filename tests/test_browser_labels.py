"""No label cut short (issue 26, item 8): every page at 1280 and 1920 px wide in chromium, with
no widget label, button, page link, menu value or tab text cut with an ellipsis (the text is
wider than its box: scrollWidth > clientWidth where the box hides the rest; any element whose
text ends in a CSS ellipsis counts), no label cut by hand ("…" at its end), and no table wider
than its box (columns hidden behind a sideways scroll). A screenshot of each page at each width
goes to the test's tmp dir.

Each page is loaded once, on the session's one server and browser: checked at 1280 px, then
the same window widened to 1920 px (Streamlit lays out again in the browser; nothing re-runs)."""

import pytest
from appserver import done
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LONG = 180_000  # ms: a first visit loads torch and a model on a busy machine
# Each page, and text it draws last (the page is whole once it shows)
PAGES = {"": "The model part by part", "tradeoffs": "One input of this evaluation set, really exiting",
         "noise": "Every criterion, each at its recommended threshold", "model": "Run the benchmark",
         "energy": "Outcome of every arriving input", "live_image": "Class probabilities at every exit",
         "live_speech": "Layers after the exit were never computed", "add_model": "Imported models",
         "tradeoffs?model=speech": "One input of this evaluation set, really exiting",
         "tradeoffs?vs=image-shared,image-distill,speech": "Recommended thresholds, side by side",
         "noise?model=speech": "The other held-out sets"}

# Text a person reads as a label: widget labels, buttons (downloads too), page links, the value a
# menu shows (its input box), tabs, metric labels, radio and toggle options.
LABELS = ", ".join([
    "[data-testid='stWidgetLabel'] *", "button p", "[data-testid='stPageLink-NavLink'] span",
    "[data-testid='stSelectbox'] input", "[data-testid='stMultiSelect'] span", "[data-baseweb='select'] span",
    "[role='tab'] p", "[data-testid='stMetricLabel'] *", "[data-testid='stMarkdownContainer'] p",
    "[data-testid='stRadio'] label *", "[data-testid='stCheckbox'] label *", "[data-testid='stDownloadButton'] *",
])

CUT = """(selector) => {
  const out = [];
  const labels = new Set(document.querySelectorAll(selector));
  for (const el of document.querySelectorAll("body *")) {
    const style = getComputedStyle(el), label = labels.has(el);
    if (!label && style.textOverflow !== "ellipsis") continue;  // any text cut with "…", and labels cut at all
    const text = (el.tagName === "INPUT" ? el.value : el.innerText || el.textContent || "").trim();
    if (!text || !el.offsetParent) continue;  // hidden: a closed menu, another tab
    const hides = style.textOverflow === "ellipsis" || ["hidden", "clip"].includes(style.overflowX);
    const sizes = "  [" + el.scrollWidth + " > " + el.clientWidth + "]";
    if (hides && el.scrollWidth > el.clientWidth + 1) out.push(text + sizes);
    else if (/(…|\\.\\.\\.)$/.test(text) && el.closest("button, [data-testid='stPageLink-NavLink']")) out.push(text);
  }
  for (const table of document.querySelectorAll("[data-testid='stTable'], [data-testid='stTable'] *")) {
    const style = getComputedStyle(table);  // a table wider than its box: columns hidden behind a sideways scroll
    if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX) && table.scrollWidth > table.clientWidth + 1)
      out.push("table " + table.innerText.split("\\n")[0] + " [" + table.scrollWidth + " > " + table.clientWidth + "]");
  }
  return [...new Set(out)];
}"""


WIDTHS = (1280, 1920)


def _cut_at(page, width: int, shot) -> list[str]:
    """The labels cut at `width` px, and a screenshot of the whole page there at `shot`."""
    page.set_viewport_size({"width": width, "height": 1100})
    expect(page.get_by_test_id("stMain")).to_be_visible()
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")  # laid out
    cut = page.evaluate(CUT, LABELS)
    # the whole page in the shot: Streamlit scrolls inside its main pane, so the window is made
    # as tall as the page (the width, and so the layout checked, stays)
    tall = page.evaluate("document.querySelector('[data-testid=\"stMain\"]')?.scrollHeight || 1100")
    page.set_viewport_size({"width": width, "height": min(int(tall), 8000)})
    page.mouse.move(0, 0)
    page.screenshot(path=str(shot))
    return cut


@pytest.mark.parametrize("path", list(PAGES))
def test_no_label_is_cut_short(server, browser, tmp_path, path):
    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 1100})
    try:
        page.goto(f"{server}/{path}")
        expect(page.get_by_text(PAGES[path]).first).to_be_visible(timeout=LONG)
        done(page, LONG)
        expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=LONG)
        name = "".join(c if c.isalnum() else "-" for c in path or "overview")
        cut = {w: _cut_at(page, w, tmp_path / f"{name}-{w}.png") for w in WIDTHS}
        print(f"{path or 'overview'}: screenshots in {tmp_path}")
        assert not any(cut.values()), f"cut short on /{path}: {cut}"
    finally:
        page.close()


OVERLAPS = """() => {
  const out = [];
  const box = (el) => el && el.getBoundingClientRect();
  const meet = (a, b) => a && b && a.width && b.width && a.left < b.right && b.left < a.right && a.top < b.bottom
                         && b.top < a.bottom;
  for (const plot of document.querySelectorAll(".js-plotly-plot")) {
    const title = (plot.querySelector(".gtitle") || {}).textContent || "";
    const legend = box(plot.querySelector(".legend")), axis = box(plot.querySelector(".g-xtitle"));
    if (meet(legend, axis)) out.push(title + ": legend on the axis title");
    for (const t of plot.querySelectorAll("text.bartext")) {  // plotly shrinks a label by scaling it
      const r = t.getBoundingClientRect(), size = Math.min(r.width, r.height);  // upright or turned
      if (t.textContent && size < 10) { out.push(title + ": bar label " + size.toFixed(1) + " px high"); break; }
    }
  }
  return out;
}"""


def test_compares_figures_keep_their_legends_off_the_axis_titles_and_bar_labels_readable(server, browser, tmp_path):
    """Compare's noise chart had its axis title under its legend, and bar labels too small to read."""
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    try:
        page.goto(f"{server}/tradeoffs?vs=image-shared,image-distill,image-two-stage")
        frame = page.frame_locator("iframe[title*='threshold_explorer']")
        expect(frame.locator(".gtitle", has_text="Mean exit against noise")).to_be_visible(timeout=LONG)
        expect(frame.locator("text.bartext").first).to_be_attached(timeout=LONG)
        done(page, LONG)
        page.locator("iframe[title*='threshold_explorer']").screenshot(path=str(tmp_path / "compare-figures.png"))
        bad = page.frame(url=lambda u: "threshold_explorer" in u).evaluate(OVERLAPS)
        assert not bad, bad
    finally:
        page.close()
