"""The app's pages render and respond, under Streamlit's AppTest (through the router). One
test per thing a user would notice; the numbered items of issue 11 are named."""

import base64
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_image, needs_speech
from input_corpus import GOOD_IMAGE
from streamlit.testing.v1 import AppTest

from explorer import zoo
from explorer.shipped import headline
from explorer.thresholds import recommended
from ui.frame import PAGES, TITLES

APP = Path(__file__).resolve().parent.parent / "app.py"
README = Path(__file__).resolve().parent.parent / "README.md"
BENCHMARKS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"  # every measured figure


def _figures(at) -> list[dict]:
    """Every figure of the page: its charts and those the threshold explorer draws."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")] + _explorer_figures(at)


def _values(v) -> list:
    """A trace's x or y as a list (plotly may store numbers as a base64 typed array)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v or [])


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


def _explorer_figures(at) -> list[dict]:
    """The figures the threshold explorer draws in the browser (none on a page without it)."""
    if not at.get("component_instance"):
        return []
    return [panel["figure"] for row in _explorer(at)["view"]["rows"] for panel in row]


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _said(at) -> str:
    return " ".join(e.value for kind in ("warning", "info", "caption", "markdown", "error") for e in at.get(kind))


def _sidebar_links(at: AppTest) -> list[str]:
    return [e.proto.label for e in at.sidebar.get("page_link")]


def test_every_page_draws_the_frame_once_whoever_runs_it(open_page):
    """Issue 22: the sidebar's links, the page titles of ui/frame.py, once: through the router (which
    draws the frame and the page which skips it) and when Streamlit runs the page alone, as its pages
    mode does on a fresh server's first request for a deep link (AppTest runs a switched page so)."""
    at = open_page()
    assert _sidebar_links(at) == list(TITLES)
    files = (Path(__file__).resolve().parent.parent / "pages").glob("*.py")
    assert {p.path for p in PAGES} == {f"pages/{f.name}" for f in files}
    at.switch_page("pages/energy.py").run()
    assert not at.exception, at.exception
    assert _sidebar_links(at) == list(TITLES)


# In a fresh interpreter (the tests' own has torch loaded): each page, switched to as a visitor
# does, records whether torch is loaded when it draws its title, and stops there.
_TITLE_PROBE = """
import sys
import streamlit
from streamlit.testing.v1 import AppTest

class Drawn(Exception):
    pass

def title(body, *args, **kwargs):
    print(f"{body!r}: torch loaded {'torch' in sys.modules}", flush=True)
    raise Drawn

at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.run()
streamlit.title = title
for page in sys.argv[2:]:
    at.switch_page(page).run()
    assert len(at.exception) == 1 and "in title" in at.exception[0].stack_trace[-1], (page, at.exception)
"""


def test_every_page_draws_its_title_before_the_explorer_loads_torch():
    """Issue 26, item 9: a first visit shows the page's title (and a spinner saying what loads)
    at once; torch, the models and their profiles load after it."""
    import subprocess
    import sys

    pages = [p.path for p in PAGES]
    run = subprocess.run([sys.executable, "-c", _TITLE_PROBE, str(APP), *pages], cwd=APP.parent,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    said = [line for line in run.stdout.splitlines() if "torch loaded" in line]  # (Streamlit logs the stops)
    assert len(said) == len(pages), said
    assert all(line.endswith("torch loaded False") for line in said), said


@needs_image
@needs_speech
def test_overview_shows_the_one_measured_speedup_that_the_readme_states(open_page):
    """Item 2: one measured speedup, the same in the README and on the Overview."""
    at = open_page()
    assert "Early-Exit Explorer" in at.title[0].value
    shown = [m.value for m in at.metric if "speedup" in m.label.lower()]
    for name, value in zip(zoo.names("overview"), shown, strict=True):
        figure = f"{headline(name).measured_speedup_b1:.2f}×"
        assert value == figure and figure in README.read_text() and figure in BENCHMARKS.read_text(), (name, value)


@pytest.mark.slow
@needs_image
def test_tradeoffs_threshold_moves_the_marker_the_metrics_and_the_exit(open_page):
    at = open_page("tradeoffs")

    def decision():
        return next(m.value for m in at.markdown if m.value.startswith("**Exit"))

    assert at.selectbox(key="w.criterion.image").value == "confidence"  # the recommended criterion and threshold
    view = _explorer(at)["view"]
    assert _explorer(at)["value"] == pytest.approx(recommended("image", "confidence"))
    assert "Measured-ms speedup" not in _shown(view, view["thresholds"][0])[0]  # item 2: one measured speedup
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


@pytest.mark.slow
@needs_image
@needs_speech
def test_tradeoffs_explorer_for_the_other_built_in_models(open_page):
    at = open_page("tradeoffs")
    for name, quality in [("image-shared", "Accuracy (clean test set (test))"),
                          ("speech", "WER (clean test set (test_a))")]:
        at.selectbox(key="w.model").set_value(name).run()
        view = _explorer(at)["view"]
        assert not at.exception and view["metrics"][0]["label"] == quality
        assert view["metrics"][0]["delta_good"] == ("up" if quality.startswith("Acc") else "down")
        ends = {_shown(view, view["thresholds"][i])[0]["Mean exit"]: i for i in (0, -1)}
        assert set(ends) == {"1.00 of 6", "6.00 of 6"}  # everyone at the first exit ... no one early
        assert view["metrics"][0]["deltas"][ends["6.00 of 6"]] in ("+0.00 points", "-0.00 points")
        _release(at, view["thresholds"][ends["6.00 of 6"]])
        assert not at.exception and at.query_params["model"] == name
        assert next(m.value for m in at.markdown if m.value.startswith("**Exit")).startswith("**Exit 6 of 6")


@pytest.mark.slow
@needs_image
def test_tradeoffs_apply_sets_the_recommended_threshold(open_page):
    at = open_page("tradeoffs")
    at.selectbox(key="w.criterion.image").set_value("entropy").run()
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


@pytest.mark.slow
@needs_image
def test_tradeoffs_offers_hard_sets_a_log_axis_intervals_and_says_when_adaptive_depth_buys_nothing(open_page):
    """Item 3, with the figures and metrics the threshold moves in the browser."""
    at = open_page("tradeoffs")
    view = _explorer(at)["view"]
    fig = view["rows"][0][0]["figure"]
    assert fig["layout"]["xaxis"]["type"] == "log"
    current = next(t for t in fig["data"] if t["name"].startswith("current threshold"))
    assert current["error_y"]["array"][0] > 0  # a bootstrap interval around the current point ...
    assert all(above >= 0 and below >= 0 for above, below in view["rows"][0][0]["moves"][0]["error"])  # ... moving
    assert all("95% bootstrap interval" in note for note in view["notes"])
    at.toggle(key="w.page.log").set_value(False).run()
    assert _explorer(at)["view"]["rows"][0][0]["figure"]["layout"]["xaxis"].get("type") != "log"
    assert at.query_params["log"] == "0"
    clean = view["metrics"]
    at.selectbox(key="w.page.eval").set_value("blur-5").run()
    assert not at.exception and at.query_params["eval"] == "blur-5"
    blur = _explorer(at)["view"]["metrics"]
    assert "blur" in blur[0]["label"] and blur != clean  # the sweep of the chosen set, in the browser
    at.selectbox(key="w.model").set_value("speech").run()
    at.selectbox(key="w.page.eval").set_value("test_a").run()
    assert "adaptive depth buys nothing" in _said(at)


@needs_speech
def test_ltt_is_explained_with_the_smallest_certifiable_eps_and_two_labelled_eps(open_page):
    """Item 4: 300 calibration clips cannot certify ε below 0.76% at δ = 0.1."""
    at = open_page("tradeoffs", model="speech")
    labels = [n.label for n in at.number_input]
    assert any("ε for the empirical choice" in label for label in labels)
    assert any("ε for Learn-then-Test: share of inputs" in label for label in labels)
    at.number_input(key="w.eps_ltt.speech").set_value(0.1).run()
    said = _said(at)
    assert "smallest ε that can be certified at this δ is 0.76%" in said
    # issue 26 item 3: the outcome in words and in figures that agree with them, no τ beyond the scores
    [ltt] = [m.value for m in at.markdown if "Learn-then-Test" in m.value]
    assert "no threshold can be certified** on 300 calibration inputs at ε = 0.10%, δ = 0.1" in ltt
    assert "every input runs to the last exit" in ltt and "mean exit 6.00 of 6" in ltt
    assert "τ =" not in ltt and "the same as the full model's" in ltt
    assert not [b for b in at.button if b.key == "w.apply_ltt"]  # nothing to apply
    assert "ε = 0.10% and δ = 0.1 mean: with probability at least 90%" in said  # what ε and δ mean, beside them


@needs_image
def test_exits_are_counted_from_one_everywhere(open_page):
    """Item 5."""
    at = open_page("noise")
    for fig in _figures(at):
        title = fig["layout"].get("yaxis", {}).get("title", {}).get("text", "")
        if "exit" in title:
            assert "1 = first" in title
            assert min(v for t in fig["data"] for v in _values(t.get("y")) if v is not None) >= 1


@pytest.mark.slow
@needs_image
@needs_speech
def test_noise_page_draws_every_figure_for_both_models(open_page):
    at = open_page("noise")

    def figures():  # in the page, and in the browser's threshold explorer
        return len(at.get("plotly_chart")) + len(_explorer_figures(at))

    assert figures() == 5
    _release(at, _explorer(at)["view"]["thresholds"][0])
    kinds = at.selectbox(key="w.page.dist_kind")
    kinds.set_value(kinds.options[-1]).run()  # another noise kind for "where inputs leave"
    assert not at.exception and at.query_params["dist_kind"] == "salt_pepper"
    assert "salt_pepper at" in _explorer(at)["view"]["rows"][1][0]["moves"][1]["name"][0]
    at.selectbox(key="w.model").set_value("speech").run()
    assert not at.exception and figures() == 5
    assert at.selectbox(key="w.criterion.speech").value == "ctc_entropy"


@pytest.mark.slow
@needs_image
@needs_speech
def test_every_chart_has_a_title_and_the_live_charts_a_key(open_page):
    """Item 6 (the threshold explorer's figures too)."""
    for page, link in (("tradeoffs", {}), ("noise", {}), ("live_image", {}), ("live_speech", {})):
        at = open_page(page, **link)
        figures = _figures(at)
        assert figures and all(f["layout"].get("title", {}).get("text") for f in figures), page
        if page == "live_image":
            heat = next(f for f in figures if f["data"][0]["type"] == "heatmap")
            assert heat["layout"]["xaxis"]["tickvals"] == [str(c) for c in range(10)]
            per_exit = next(f for f in figures if any(t.get("name") == "exit taken" for t in f["data"]))
            assert per_exit["layout"]["showlegend"] is True


@needs_image
def test_links_say_what_they_cannot_do(open_page):
    """Item 9."""
    at = open_page("tradeoffs", model="image", criterion="confidence", threshold="5")
    assert "outside the range" in _said(at) and "nearest end" in _said(at)
    at = open_page("live_image", model="image", criterion="confidence", threshold="1.5")
    assert "no input leaves before the last exit" in _said(at)
    at = open_page("noise", model="toy")
    assert "is not shown on this page" in _said(at)
    at = open_page(model="image", criterion="entropy", threshold="lots")
    assert "not a number" in _said(at)
    at = open_page("tradeoffs", model="image", eval="fog-9")
    assert "evaluation set “fog-9” is not one of the choices" in _said(at)


@needs_image
def test_a_link_sets_the_choice_for_every_page(open_page):
    at = open_page(model="image", criterion="entropy", threshold="0.3")
    at.switch_page("pages/live_image.py").run()
    assert (at.selectbox(key="w.criterion.image").value, at.number_input[0].value) == ("entropy", 0.3)
    at.number_input[0].set_value(0.5).run()  # chosen on one page ...
    at.switch_page("pages/tradeoffs.py").run()
    assert (at.selectbox(key="w.criterion.image").value, _explorer(at)["value"]) == ("entropy", 0.5)  # ... holds
    released = _explorer(at)["view"]["thresholds"][40]
    _release(at, released)  # let go in the browser on this page ...
    at.switch_page("pages/noise.py").run()
    assert _explorer(at)["value"] == released  # ... holds on the next
    at.switch_page("pages/live_image.py").run()
    assert at.number_input[0].value == pytest.approx(released)


@pytest.mark.slow
@needs_image
def test_model_page_architecture_and_benchmark(open_page):
    at = open_page("model")
    assert _metrics(at)["Parameters"] == f"{sum(p.numel() for p in zoo.model('image').parameters()):,}"
    assert any("shared exit" in h.value for h in at.subheader)
    m = _metrics(at)  # memory, measured: weights, file on disk, peak of one inference
    assert m["Weights (every part)"].endswith("KB") and m["Checkpoint on disk"].endswith("KB")
    assert "the exit heads take 2.8" in _said(at)  # FreeML: 43,580 vs 15,370 parameters, as bytes
    assert any(f["layout"]["title"]["text"] == "Memory of one inference leaving at each exit" for f in _figures(at))
    at.number_input(key="w.limit.image").set_value(8).run()
    at.button(key="w.bench").click().run()
    assert not at.exception
    shown = _metrics(at)
    assert {"Batch 1: speedup measured (ms)", "Batch 64: speedup measured (ms)"} <= set(shown)
    for label in ("Batch 1: speedup measured (ms)", "Batch 64: speedup measured (ms)"):  # a figure, or "noisy" and why
        assert shown[label].endswith("×") or (shown[label] == "noisy" and "Noisy measurement" in _said(at))


def _decision(at) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("### Exit"))


@needs_image
def test_live_image_warns_when_deeper_exits_disagree_and_shows_the_true_label(open_page):
    """Item 1."""
    prof = zoo.profile("image", "test")
    i = int((prof.cols["pred"][:, 0] != prof.cols["pred"][:, -1]).nonzero()[0][0])
    at = open_page("live_image", model="image", criterion="confidence", threshold="0")
    at.number_input[1].set_value(i).run()  # the test digit
    assert _decision(at).startswith("### Exit 1 of 6")
    assert "true:" in _decision(at) and ("✓ right" in _decision(at) or "✗ wrong" in _decision(at))
    assert any("Deeper exits disagree" in w.value and "overconfident" in w.value for w in at.warning)
    at.number_input[0].set_value(1.01).run()  # none can pass: the last exit, no disagreement left
    assert _decision(at).startswith("### Exit 6 of 6") and not any("Deeper" in w.value for w in at.warning)


@needs_image
def test_live_image_uploads_go_to_the_decoder(open_page):
    at = open_page("live_image")
    at.radio[0].set_value("Upload").run()
    assert any("upload a picture" in i.value for i in at.info)  # an empty state that says what to do
    at.file_uploader[0].upload("notes.png", b"just some text", "image/png").run()
    assert not at.exception and any("not a picture" in e.value for e in at.error)
    at.file_uploader[0].upload("seven.png", GOOD_IMAGE(), "image/png").run()
    assert not at.exception and not at.error
    assert "Answer **7**" in _decision(at)


@needs_speech
def test_live_speech_example_reference_noise_and_uploads(open_page):
    import soundfile as sf

    from explorer.audio import to_wav_bytes
    from explorer.data.examples import EXAMPLES, load_index

    at = open_page("live_speech")
    first = _decision(at)
    assert first.startswith("### Exit") and "Reference: “" in first  # the example's reference beside the answer
    at.number_input[0].set_value(10.0).run()  # any entropy passes: the first layer
    assert _decision(at).startswith("### Exit 1 of 6")
    at.radio[0].set_value("Upload").run()
    at.file_uploader[0].upload("song.wav", b"RIFF....not really", "audio/wav").run()
    assert not at.exception and at.error  # a message in the page, no traceback
    clip = load_index()["speech"][2]  # "four five two three": right even at the first layer, where τ = 10 leaves
    wav = to_wav_bytes(sf.read(EXAMPLES / clip["file"], dtype="float32")[0])
    at.file_uploader[0].upload("mine.wav", wav, "audio/wav").run()
    assert not at.exception and not at.error
    assert f"“{clip['text']}”" in _decision(at)


@needs_speech
def test_live_speech_says_which_digits_it_heard_and_when_it_heard_none(open_page):
    from explorer.data.examples import speech_examples

    at = open_page("live_speech")
    examples = speech_examples()
    pick = next(s for s in at.selectbox if s.label == "Example")
    without = next(e for e in examples if e.text.split().count("<unk>") == len(e.text.split()))
    pick.set_value(without).run()
    assert "No digits heard: the model only knows zero, oh, one" in _decision(at)
    assert f"said: “{without.said}”" in _decision(at)
    within = next(e for e in examples if e.said != e.text and e is not without)
    next(s for s in at.selectbox if s.label == "Example").set_value(within).run()
    assert "Digits heard: " in _decision(at)
    table = at.dataframe[0].value
    assert any("<unk>" in t.split() for t in table["transcript"])  # unknown words show as a visible token


@needs_speech
def test_tradeoffs_judges_speech_without_digits_as_the_model_counts_errors(open_page):
    """Set (c)'s first clip: no digit heard, one unknown word fewer than said: right, not wrong."""
    at = open_page("tradeoffs", model="speech", eval="test_c")
    line = next(m.value for m in at.markdown if m.value.startswith("**Exit"))
    assert "<unk>" in line and "✓ right" in line


@needs_speech
def test_tradeoffs_evaluates_speech_on_recordings_of_people(open_page):
    """Set (e) is in the evaluation-set menu and its page is read like the others."""
    at = open_page("tradeoffs", model="speech", eval="test_e")
    assert not at.exception and not at.error
    assert any("recordings of people (test_e)" in o for s in at.selectbox for o in s.options)
    assert any(m.value.startswith("**Exit") for m in at.markdown)


@needs_speech
def test_noise_page_shows_where_inputs_leave_on_the_other_held_out_sets(open_page):
    at = open_page("noise", model="speech")
    table = next(d.value for d in at.dataframe if "set" in d.value.columns)
    rows = table[table.criterion == "ctc_entropy"].set_index("set")["mean exit (1 = first)"]
    unknown = next(s for s in rows.index if "test_c" in s)
    assert rows[unknown] > rows["test set (test_a)"]  # speech without digits goes deeper than clean digits


@needs_speech
def test_live_speech_makes_the_noise_once_per_input_whatever_the_threshold(open_page, monkeypatch):
    """Item 10: moving the threshold regenerates no noise and re-runs no what-if pass."""
    from explorer import noise, predict

    made, whatif = [], []
    real_noise, real_read = noise.make_noise, predict.read_all_exits
    monkeypatch.setattr(noise, "make_noise", lambda *a, **k: made.append(a) or real_noise(*a, **k))
    monkeypatch.setattr(predict, "read_all_exits", lambda *a, **k: whatif.append(1) or real_read(*a, **k))
    at = open_page("live_speech")
    at.selectbox(key="w.page.noise").set_value("babble").run()
    at.select_slider(key="w.page.snr").set_value(5).run()
    assert at.query_params["noise"] == "babble" and at.query_params["snr"] == "5"  # the link carries them
    before = len(made)
    assert before <= len(zoo.get("speech").noise.levels) - 1  # each noisy level made at most once
    what_ifs = len(whatif)
    for tau in (0.05, 0.2, 0.3):
        at.number_input[0].set_value(tau).run()
    assert len(made) == before  # the noise is not made again
    assert len(whatif) - what_ifs <= 3  # one what-if pass per new threshold, none for the SNR curve
