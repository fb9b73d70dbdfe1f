"""`python app.py` (the app as `make run` starts it) or `streamlit run app.py` on 127.0.0.1 and Debian's chromium,
for the browser tests and the app timing benchmark (benchmarks/bench_app.py)."""

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from ui.frame import TITLES

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The two ways to start the app: ours (`make run`) and the one every Streamlit user types.
LAUNCHES = {"python app.py": [sys.executable, "app.py"],
            "streamlit run app.py": [sys.executable, "-m", "streamlit", "run", "app.py"]}


def start(timeout: float = 60, launch: str = "python app.py") -> tuple[subprocess.Popen, str, float]:
    """Start the app as `launch` (a key of LAUNCHES) says; return (process, url, seconds until
    /_stcore/health said ok). Raises RuntimeError with the server's output if it does not come up."""
    port = free_port()
    begin = time.perf_counter()
    log = tempfile.TemporaryFile()  # a file, not a pipe: a pipe nobody reads would stall the server
    proc = subprocess.Popen([*LAUNCHES[launch], "--server.port", str(port),
                             "--server.address", "127.0.0.1", "--server.headless", "true",
                             "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    while time.perf_counter() - begin < timeout:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return proc, url, time.perf_counter() - begin
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("streamlit did not come up: " + output(proc)[-2000:])


def output(proc: subprocess.Popen) -> str:
    """What the server printed so far."""
    proc.log.seek(0)
    return proc.log.read().decode(errors="replace")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


# Every list of navigation links the page ever showed, recorded from the first paint on
# (an init script runs before Streamlit's own code, so nothing is missed between polls): the
# links of the sidebar (the app's own, st.page_link) and of any navigation Streamlit draws.
NAV_LINKS = '[data-testid="stSidebar"] a, [data-testid="stSidebarNav"] a, [data-testid^="stTopNav"] a'
NAV_WATCH = """
window.__nav = [];
new MutationObserver(() => {
  const items = [...document.querySelectorAll('NAV_LINKS')]
    .map(a => a.innerText.trim().split('\\n').pop().trim()).filter(Boolean);
  const key = JSON.stringify(items);
  if (items.length && window.__nav[window.__nav.length - 1] !== key) window.__nav.push(key);
}).observe(document, {subtree: true, childList: true, characterData: true});
""".replace("NAV_LINKS", NAV_LINKS)
PAGE_TITLES = TITLES  # the app's page titles, written once (ui/frame.py)


def first_paint(browser, url: str, title: str = "Early-Exit Explorer", timeout_s: float = 60,
                keep: bool = False) -> dict:
    """Open `url` in a new page and wait for the h1 `title` and the sidebar's links: {"seconds": from
    the request to the drawn title, "navs": every navigation list shown meanwhile (lists of link
    texts)}, and "page" (still open, the caller closes it) if `keep`."""
    import json

    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    try:
        page.add_init_script(NAV_WATCH)
        begin = time.perf_counter()
        page.goto(url)
        expect(page.locator("h1", has_text=title)).to_be_visible(timeout=timeout_s * 1000)
        seconds = time.perf_counter() - begin
        expect(page.get_by_test_id("stSidebar")).to_contain_text(PAGE_TITLES[-1])
        seen = {"seconds": seconds, "navs": [json.loads(n) for n in page.evaluate("window.__nav")]}
    except BaseException:
        page.close()
        raise
    if keep:
        return {**seen, "page": page}
    page.close()
    return seen


def done(page, timeout_ms: float = 120_000) -> None:
    """The script run is over (no 'Running…' status) and raised nothing."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout_ms)
    expect(page.get_by_test_id("stException")).to_have_count(0)


def import_through_page(page, url: str, source, data, name: str, timeout_ms: float = 300_000) -> None:
    """Fill the Add-a-model form, press Import and wait until the model is imported."""
    from playwright.sync_api import expect

    page.goto(url + "/add_model")
    expect(page.get_by_text("Imported models")).to_be_visible(timeout=120_000)
    done(page)
    page.get_by_label("Model: a folder written by save_pretrained, or a downloaded hub id").fill(str(source))
    page.get_by_label("Data folder: one subfolder per class, LibriSpeech-style, or metadata.csv").fill(str(data))
    page.get_by_label("Name in the app").fill(name)
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text(f"{name} is imported")).to_be_visible(timeout=timeout_ms)
