"""The app's pages render and respond, under Streamlit's AppTest (through the router)."""

import json
from pathlib import Path

import pytest
from input_corpus import GOOD_IMAGE
from streamlit.testing.v1 import AppTest

from explorer import checkpoint, zoo
from explorer.thresholds import recommended

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


needs_image = pytest.mark.skipif(not checkpoint.exists(zoo.IMAGE_CHECKPOINT), reason="no shipped image checkpoint")
needs_speech = pytest.mark.skipif(not checkpoint.exists(zoo.SPEECH_CHECKPOINT), reason="no shipped speech checkpoint")


def _explorer(at) -> dict:
    """What the threshold explorer draws in the browser: {view, value, nonce}."""
    return json.loads(at.get("component_instance")[0].proto.json_args)


def _release(at, value: float) -> AppTest:
    """What the browser sends when the slider is let go at `value`."""
    key = at.get("component_instance")[0].proto.id.split("-", 2)[2]  # $$ID-<hash>-<key>
    at.session_state[key] = {"value": value, "seq": f"test-{value}"}
    return at.run()


def _shown(view: dict, value: float) -> tuple[dict, tuple]:
    """The metrics and the current-threshold marker the browser shows at `value`."""
    i = view["thresholds"].index(value)
    marker = view["rows"][0][0]["moves"][0]
    return {m["label"]: m["values"][i] for m in view["metrics"]}, (marker["x"][i], marker["y"][i])


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@needs_image
def test_tradeoffs_threshold_moves_the_marker_the_metrics_and_the_exit():
    at = open_page("pages/tradeoffs.py")

    def decision():
        return next(m.value for m in at.markdown if m.value.startswith("**Exit"))

    assert at.selectbox[1].value == "confidence"  # the model's recommended criterion and threshold
    view = _explorer(at)["view"]
    assert _explorer(at)["value"] == pytest.approx(recommended("image", "confidence"))
    assert decision()
    lo, hi = view["thresholds"][0], view["thresholds"][-1]
    _release(at, hi)  # max softmax >= more than 1: no one leaves early
    assert not at.exception
    assert decision().startswith("**Exit 6 of 6")
    assert at.query_params["threshold"] == f"{hi:.10g}"  # the link holds the released threshold
    late_metrics, late = _shown(view, hi)
    assert late_metrics["Mean exit"] == "6.00 of 6"
    _release(at, lo)  # everyone leaves at the first exit
    assert decision().startswith("**Exit 1 of 6")
    early_metrics, early = _shown(view, lo)
    assert early_metrics["Mean exit"] == "1.00 of 6"
    assert early[0] < late[0] and early[1] != late[1]  # cheaper and a different accuracy
    assert at.query_params["threshold"] == f"{lo:.10g}"  # the link follows the slider
    assert _explorer(at)["view"]["id"] == view["id"]  # releasing never sends the view again


@needs_image
@needs_speech
def test_tradeoffs_explorer_for_the_other_built_in_models():
    at = open_page("pages/tradeoffs.py")
    for name, quality in [("image-shared", "Accuracy (test)"), ("speech", "WER (test)")]:
        at.selectbox[0].set_value(name).run()
        view = _explorer(at)["view"]
        assert not at.exception and view["metrics"][0]["label"] == quality
        assert view["metrics"][0]["delta_good"] == ("up" if quality.startswith("Acc") else "down")
        ends = {_shown(view, view["thresholds"][i])[0]["Mean exit"]: i for i in (0, -1)}
        assert set(ends) == {"1.00 of 6", "6.00 of 6"}  # everyone at the first exit ... no one early
        assert view["metrics"][0]["deltas"][ends["6.00 of 6"]] in ("+0.00 points", "-0.00 points")
        _release(at, view["thresholds"][ends["6.00 of 6"]])
        assert not at.exception and at.query_params["model"] == name
        assert next(m.value for m in at.markdown if m.value.startswith("**Exit")).startswith("**Exit 6 of 6")


@needs_image
def test_tradeoffs_apply_sets_the_recommended_threshold():
    at = open_page("pages/tradeoffs.py")
    at.selectbox[1].set_value("entropy").run()
    _release(at, _explorer(at)["view"]["thresholds"][0])
    at.button(key="w.apply").click().run()
    assert not at.exception
    assert _explorer(at)["value"] == pytest.approx(recommended("image", "entropy"))  # ε = 0.2 points by default
    at.number_input(key="w.eps.image").set_value(1.0).run()  # a looser target: a cheaper threshold
    at.button(key="w.apply").click().run()
    shown = _explorer(at)
    assert shown["value"] == pytest.approx(recommended("image", "entropy", 1.0))
    assert shown["value"] in shown["view"]["thresholds"]  # the browser can show it exactly
    told = _explorer(at)["nonce"]
    _release(at, shown["view"]["thresholds"][-1])
    at.button(key="w.apply").click().run()  # the same recommended threshold, after a move in the browser
    assert (_explorer(at)["value"], _explorer(at)["nonce"]) == (shown["value"], told + 1)  # the browser is told again
    at.button(key="w.apply_ltt").click().run()
    assert not at.exception and "τ = " in next(m.value for m in at.markdown if "Learn-then-Test" in m.value)


@needs_image
def test_a_link_sets_the_choice_for_every_page():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(model="image", criterion="entropy", threshold="0.3")
    at.run()
    at.switch_page("pages/live_image.py").run()
    assert (at.selectbox[0].value, at.number_input[0].value) == ("entropy", 0.3)
    at.number_input[0].set_value(0.5).run()  # chosen on one page ...
    at.switch_page("pages/tradeoffs.py").run()
    assert (at.selectbox[1].value, _explorer(at)["value"]) == ("entropy", 0.5)  # ... holds on the others
    released = _explorer(at)["view"]["thresholds"][40]
    _release(at, released)  # let go in the browser on this page ...
    at.switch_page("pages/noise.py").run()
    assert (at.selectbox[1].value, _explorer(at)["value"]) == ("entropy", released)  # ... holds on the next
    at.switch_page("pages/live_image.py").run()
    assert at.number_input[0].value == pytest.approx(released)


def test_a_bad_link_is_said_in_words():
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(model="image", criterion="entropy", threshold="lots")
    at.run()
    assert not at.exception and any("not a number" in w.value for w in at.warning)


@needs_image
@needs_speech
def test_noise_page_draws_every_figure_for_both_models():
    at = open_page("pages/noise.py")

    def figures():  # in the page, and in the browser's threshold explorer
        return len(at.get("plotly_chart")) + sum(len(row) for row in _explorer(at)["view"]["rows"])

    assert figures() == 5
    _release(at, _explorer(at)["view"]["thresholds"][0])
    at.selectbox[2].set_value(at.selectbox[2].options[-1]).run()  # another noise kind for "where inputs leave"
    assert not at.exception and "salt_pepper" in _explorer(at)["view"]["rows"][1][0]["title"]
    at.selectbox[0].set_value("speech").run()
    assert not at.exception and figures() == 5
    assert at.selectbox[1].value == "ctc_entropy"


@needs_image
def test_model_page_architecture_and_benchmark():
    at = open_page("pages/model.py")
    assert _metrics(at)["Parameters"] == f"{sum(p.numel() for p in zoo.model('image').parameters()):,}"
    assert any("shared exit" in h.value for h in at.subheader)
    assert any("Run the benchmark" in i.value for i in at.info)  # says what to do
    at.number_input(key="w.limit.image").set_value(8).run()
    at.button(key="w.bench").click().run()
    assert not at.exception
    shown = _metrics(at)
    assert {"Batch 1: realized speedup", "Batch 64: realized speedup"} <= set(shown)
    assert sum("of the ideal" in m.value for m in at.markdown) == 2


def _decision(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("### Exit"))


@needs_image
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
    at.file_uploader[0].upload("seven.png", GOOD_IMAGE(), "image/png").run()
    assert not at.exception and not at.error
    assert "Answer **7**" in _decision(at)


@needs_speech
def test_live_speech_example_noise_and_uploads():
    import soundfile as sf

    from explorer.audio import to_wav_bytes
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
    wav = to_wav_bytes(sf.read(EXAMPLES / clip["file"], dtype="float32")[0])
    at.file_uploader[0].upload("mine.wav", wav, "audio/wav").run()
    assert not at.exception and not at.error
    assert f"“{clip['text']}”" in _decision(at)
