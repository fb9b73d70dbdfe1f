"""The app's pages render and respond, under Streamlit's AppTest (through the router)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer import checkpoint, zoo

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_page(page: str | None = None, timeout: int = 60) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def test_overview_renders():
    at = open_page()
    assert "Early-Exit Explorer" in at.title[0].value


@pytest.mark.skipif(not checkpoint.exists(zoo.IMAGE_CHECKPOINT), reason="no shipped image checkpoint")
def test_engine_page_threshold_moves_the_exit():
    at = open_page("pages/engine.py")

    def decision():
        return next(m.value for m in at.markdown if m.value.startswith("**Exit"))

    assert decision()  # a decision is shown from the start
    slider = at.slider[0]
    slider.set_value(slider.max).run()  # entropy <= max: everything leaves at the first exit
    assert not at.exception
    assert decision().startswith("**Exit 1 of 6")
    slider.set_value(slider.min).run()  # nothing is that confident: the last exit
    assert decision().startswith("**Exit 6 of 6")
