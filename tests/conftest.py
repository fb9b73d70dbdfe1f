"""Shared test settings, and the app server and browser the browser tests share."""

import os

import pytest

# Sleep rather than spin while waiting for other threads: when tests share the two
# cores with a server or a training run, spinning threads slow everyone down badly.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

# Tests use tiny models: one thread is as fast, and leaves the other core free.
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def server():
    """`streamlit run app.py` on 127.0.0.1 for the whole session; yields its URL."""
    from appserver import start, stop

    try:
        proc, url, _ = start()
    except RuntimeError as err:
        pytest.fail(str(err))
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (never `playwright install`)."""
    from appserver import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(server, browser):
    """One chromium tab (1280×1000) for a test module, on the shared server."""
    pg = browser.new_page(viewport={"width": 1280, "height": 1000})
    yield pg
    pg.close()
