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


def _digit_png() -> bytes:
    import io

    from PIL import Image, ImageDraw

    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).line([(50, 40), (150, 40), (90, 170)], fill=0, width=14)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _decision(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("### Exit"))


@pytest.mark.skipif(not checkpoint.exists(zoo.IMAGE_CHECKPOINT), reason="no shipped image checkpoint")
def test_live_image_example_threshold_and_uploads():
    at = open_page("pages/live_image.py")
    assert _decision(at)  # the default example is answered at once
    at.selectbox[0].set_value("confidence").run()
    at.number_input[0].set_value(0.0).run()  # any confidence passes: the first exit
    assert _decision(at).startswith("### Exit 1 of 6")
    at.number_input[0].set_value(1.01).run()  # none can: the last exit
    assert _decision(at).startswith("### Exit 6 of 6")

    at.radio[0].set_value("Upload").run()
    assert any("upload a picture" in i.value for i in at.info)  # an empty state that says what to do
    at.file_uploader[0].upload("notes.png", b"just some text", "image/png").run()
    assert not at.exception and any("not a picture" in e.value for e in at.error)
    at.file_uploader[0].upload("seven.png", _digit_png(), "image/png").run()
    assert not at.exception and not at.error
    assert "Answer **7**" in _decision(at)


@pytest.mark.skipif(not checkpoint.exists(zoo.SPEECH_CHECKPOINT), reason="no shipped speech checkpoint")
def test_live_speech_example_noise_and_uploads():
    import io

    import soundfile as sf

    from explorer.data.examples import EXAMPLES, load_index

    at = open_page("pages/live_speech.py")
    first = _decision(at)
    assert first.startswith("### Exit") and "“" in first  # the first example is transcribed at once
    at.number_input[0].set_value(10.0).run()  # any entropy passes: the first layer
    assert _decision(at).startswith("### Exit 1 of 6")
    at.number_input[0].set_value(-1.0).run()  # none can: the last layer
    assert _decision(at).startswith("### Exit 6 of 6")

    at.radio[0].set_value("Upload").run()
    at.file_uploader[0].upload("song.wav", b"RIFF....not really", "audio/wav").run()
    assert not at.exception and at.error  # a message in the page, no traceback
    clip = load_index()["speech"][0]
    data, rate = sf.read(EXAMPLES / clip["file"])
    buf = io.BytesIO()
    sf.write(buf, data, rate, format="WAV")
    at.file_uploader[0].upload("mine.wav", buf.getvalue(), "audio/wav").run()
    assert not at.exception and not at.error
    assert f"“{clip['text']}”" in _decision(at)
