"""Comparing models, drilling down to the inputs, links that carry every setting, figure
downloads, and the one cache layer behind the pages (issue 12; issue 11's cache layer)."""

import json
from dataclasses import replace
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from conftest import needs_image, needs_speech, quick_profile
from streamlit.testing.v1 import AppTest

from explorer import built_ins, cached, criteria, drilldown, figure_export, memo, tradeoff, zoo
from explorer import threshold_view as tv


def explorer(at) -> dict:
    return json.loads(at.get("component_instance")[0].proto.json_args)


def click(at, **pick) -> AppTest:
    """What the browser sends when a figure's point or bar is clicked at the threshold shown."""
    element = at.get("component_instance")[0]
    key = element.proto.id.split("-", 2)[2]
    value = explorer(at)["value"]
    at.session_state[key] = {"value": value, "seq": f"click-{json.dumps(pick)}", "pick": {"threshold": value, **pick}}
    return at.run()


def shown_inputs(at) -> list[tuple[int, int, str]]:
    """(index, exit counted from 1, answer) of every input the drill-down shows."""
    out = []
    for m in at.markdown:
        if m.value.startswith("**#"):
            head = m.value.split(" · ")
            out.append((int(head[0].strip("*#")), int(head[1].split(":")[0].split()[-1]),
                        head[1].split("**")[1]))
    return out


# ---- the cache layer ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy_profile(toy_model):
    from explorer.models.toy import toy_data

    x, y, _ = toy_data(200, toy_model.config, seed=5)
    return quick_profile(toy_model, [(x, None, y)], "toy-small")


def test_a_second_call_does_not_recompute_and_a_changed_profile_does(toy_profile, monkeypatch):
    calls = []
    real = tradeoff.sweep_all
    monkeypatch.setattr(tradeoff, "sweep_all", lambda prof: calls.append(1) or real(prof))
    cached.sweep_all.clear()
    heard = []
    first = cached.sweep_all(toy_profile, progress=lambda f, what: heard.append(what))
    again = cached.sweep_all(toy_profile, progress=lambda f, what: heard.append(what))
    assert len(calls) == 1 and again is first
    assert heard == ["Sweeping every criterion over its thresholds"]  # a progress bar only when there is work
    errors = toy_profile.cols["errors"].copy()
    errors[:, 0] = 1 - errors[:, 0]  # another model's answers at the first exit
    changed = replace(toy_profile, cols={**toy_profile.cols, "errors": errors})
    other = cached.sweep_all(changed)
    assert len(calls) == 2 and not other.equals(first)
    same_content = replace(toy_profile, cols=dict(toy_profile.cols))  # a new object, the same numbers
    assert cached.sweep_all(same_content) is first and len(calls) == 2


def test_views_are_kept_by_their_arguments(toy_profile, monkeypatch):
    calls = []
    real = tv.tradeoff_view
    monkeypatch.setattr(tv, "tradeoff_view", lambda *a, **k: calls.append(1) or real(*a, **k))
    cached.tradeoff_view.clear()
    q = zoo.get("toy").quality
    args = (toy_profile, toy_profile, "entropy", "mean_macs", True, None, q, "test", None, 0.1)
    assert cached.tradeoff_view(*args) is cached.tradeoff_view(*args) and len(calls) == 1
    cached.tradeoff_view(*args[:3], "mean_ms", *args[4:])  # another cost axis: another view
    assert len(calls) == 2


def test_a_function_defined_again_by_a_page_run_keeps_its_cache():
    calls = []

    def page_run():  # a page script defines its functions anew on every run
        @memo.memoized()
        def decode(data: bytes) -> int:
            calls.append(data)
            return len(data)

        return decode

    upload = bytes(range(256)) * 8
    assert page_run()(upload) == page_run()(bytes(upload)) == 2048 and len(calls) == 1


def test_keys_say_what_changed():
    keep = []
    assert memo.key(np.arange(3), keep) == memo.key(np.arange(3), keep) != memo.key(np.arange(4), keep)
    assert memo.key(criteria.get("entropy"), keep) == ("criterion", "entropy")
    assert memo.key(zoo.get("toy").quality, keep) == memo.key(replace(zoo.get("toy").quality), keep)
    assert memo.key(b"x" * 5000, keep)[0] == "bytes"  # an upload is kept as its hash
    assert not keep  # none of these is kept by identity


# ---- compare -----------------------------------------------------------------------------------------
@needs_image
def test_comparing_two_models_draws_both_curves_and_their_thresholds_side_by_side(open_page):
    at = open_page("tradeoffs", model="image", vs="image-shared")
    view = explorer(at)["view"]
    curves = [t for t in view["rows"][0][0]["figure"]["data"] if t.get("meta")]
    assert [t["name"] for t in curves] == [zoo.get("image").title, zoo.get("image-shared").title]
    assert all(len(t["x"]) > 10 for t in curves)
    assert len(view["rows"][0][0]["moves"]) == 2  # one marker per model moves with the threshold
    bars = view["rows"][1][0]["figure"]["data"]
    assert [b["name"] for b in bars] == [t["name"] for t in curves]
    assert [m["label"] for m in view["metrics"]] == [t["name"] for t in curves]
    table = at.dataframe[0].value
    assert list(table["model"]) == [t["name"] for t in curves]
    assert "τ (empirical)" in table and "τ (Learn-then-Test)" in table
    depth = view["rows"][1][1]["figure"]
    assert "Mean exit against noise" in depth["layout"]["title"]["text"]
    assert [t["name"] for t in depth["data"]] == [zoo.get("image").title]  # the shared view has no noisy sets
    assert "No noisy test sets: " + zoo.get("image-shared").title in view["rows"][1][1]["caption"]


@pytest.mark.slow
@needs_image
@pytest.mark.parametrize("page", ["tradeoffs", "noise", "model"])
def test_the_image_model_s_training_strategies_side_by_side(open_page, page):
    """Joint, two-stage and self-distilled training of one network: one tradeoff chart, one
    exit-depth-against-noise chart, their recommended thresholds in one table; and each
    strategy's own Noise and Model pages."""
    names = [name for _, name, _ in built_ins.IMAGE_STRATEGIES]
    if page != "tradeoffs":
        at = open_page(page, model=names[1])
        assert at.selectbox(key="w.model").value == names[1] and not at.error
        return
    at = open_page("tradeoffs", model=names[0], vs=",".join(names[1:]))
    view = explorer(at)["view"]
    titles = [zoo.get(n).title for n in names]
    assert [t["name"] for t in view["rows"][0][0]["figure"]["data"] if t.get("meta")] == titles
    assert [t["name"] for t in view["rows"][1][1]["figure"]["data"]] == titles  # mean exit against noise
    assert list(at.dataframe[0].value["model"]) == titles


@needs_image
def test_the_compare_command_gives_the_page_s_table_per_exit_quality_and_depth_under_noise(capsys):
    from explorer.__main__ import main

    assert main(["compare", "image", "image-shared", "--criterion", "entropy", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    image, shared = out["models"]
    test = zoo.profile("image", "test")
    assert image["accuracy"] == [round(1 - test.exit_error(k), 4) for k in range(test.k)]
    eps = zoo.get("image").quality.eps_pt
    rec = tradeoff.recommend(zoo.profile("image", "val"), test, criteria.get("entropy"), eps)
    assert image["recommended"]["τ (empirical)"] == pytest.approx(rec.threshold)
    assert image["recommended"]["model"] == zoo.get("image").title
    depth = list(image["mean_exit_by_noise"].values())  # clean, then severities 1..5: deeper under noise
    assert len(depth) == 6 and depth[-1] > depth[0] and "mean_exit_by_noise" not in shared


@pytest.mark.slow
@needs_image
def test_three_models_at_one_threshold_each_marker_on_its_own_curve(open_page):
    at = open_page("tradeoffs", model="image", vs="image-shared,toy", criterion="entropy")
    view = explorer(at)["view"]
    fig = view["rows"][0][0]["figure"]
    assert len([t for t in fig["data"] if t.get("meta")]) == 3
    i = len(view["thresholds"]) // 2
    for j, move in enumerate(view["rows"][0][0]["moves"]):
        name = fig["data"][j]["meta"]["model"]
        prof = zoo.profile(name, zoo.get(name).test_split)
        exits = prof.exits(criteria.get("entropy"), view["thresholds"][i])
        assert move["y"][i] == pytest.approx(1 - prof.error_rate(exits), abs=1e-5)


# ---- drill-down ----------------------------------------------------------------------------------------
@needs_image
def test_a_bar_of_the_exit_histogram_shows_the_inputs_leaving_there(open_page):
    at = open_page("tradeoffs", model="image")
    thr = explorer(at)["value"]
    at = click(at, panel="exits", model="image", criterion=None, point=1)
    assert not at.exception
    prof, c = zoo.profile("image", "test"), criteria.get("confidence")
    behind = np.flatnonzero(prof.exits(c, thr) == 1)
    shown = shown_inputs(at)
    assert [i for i, _, _ in shown] == behind[:len(shown)].tolist() and len(shown) == min(24, len(behind))
    assert all(k == 2 for _, k, _ in shown)
    assert [a for i, _, a in shown] == [str(prof.answer(i, 1)) for i, _, _ in shown]
    assert f"{len(behind)} of {prof.n} inputs" in " ".join(m.value for m in at.markdown)
    assert len(at.get("image")) == len(shown)  # a thumbnail each
    link = next(m.value for m in at.markdown if m.value.startswith("[Open on the live page]"))
    url = urlparse(link[link.index("(") + 1:-1])
    assert url.path == "live_image" and parse_qs(url.query) == {"model": ["image"], "input": [f"test:{shown[0][0]}"]}
    assert at.query_params["pick"] == f"image,confidence,{thr:.10g},1"
    at.button(key="w.unpick").click().run()
    assert not shown_inputs(at) and "pick" not in at.query_params


@needs_speech
def test_the_clips_behind_a_bar_play_with_their_transcripts(open_page):
    at = open_page("tradeoffs", model="speech")
    thr = explorer(at)["value"]
    at = click(at, panel="exits", model="speech", criterion=None, point=0)
    prof = zoo.profile("speech", "test_a")
    behind = np.flatnonzero(prof.exits(criteria.get("ctc_entropy"), thr) == 0)[:24]
    shown = shown_inputs(at)
    assert [i for i, _, _ in shown] == behind.tolist() and len(at.get("audio")) == len(shown) > 0
    _, targets = zoo.get("speech").data("test_a")
    assert all(f"true: {targets[i]}" in m.value for (i, _, _), m in
               zip(shown, [m for m in at.markdown if m.value.startswith("**#")], strict=True))


@needs_image
def test_a_point_of_a_curve_shows_the_inputs_whose_answer_changed(open_page):
    at = open_page("tradeoffs", model="image", vs="image-shared")
    at = click(at, panel="curve", model="image-shared", criterion="entropy", point=3, threshold=0.5)
    assert not at.exception
    prof, c = zoo.profile("image-shared", "test"), criteria.get("entropy")
    exits = prof.exits(c, 0.5)
    changed = np.flatnonzero(prof.cols["pred"][np.arange(prof.n), exits] != prof.cols["pred"][:, -1])
    shown = shown_inputs(at)
    assert [i for i, _, _ in shown] == changed[:24].tolist()
    assert [k for _, k, _ in shown] == (exits[changed[:24]] + 1).tolist()
    at.radio(key="w.page.show").set_value("wrong").run()
    wrong = drilldown.select(prof, c, 0.5, None, "wrong")
    assert [i for i, _, _ in shown_inputs(at)] == wrong[:24].tolist()
    assert at.query_params["show"] == "wrong"


# ---- links and figure files ----------------------------------------------------------------------------
@needs_image
def test_the_link_restores_every_setting_of_the_tradeoffs_page(open_page):
    link = {"model": "image", "criterion": "entropy", "threshold": "0.25", "eval": "blur-3", "cost": "mean_ms",
            "log": "0", "vs": "image-shared", "pick": "image-shared,entropy,0.25,1", "show": "right"}
    at = open_page("tradeoffs", **link)
    assert at.selectbox(key="w.model").value == "image"
    assert at.selectbox(key="w.criterion.image").value == "entropy"
    assert at.selectbox(key="w.page.eval").value == "blur-3"
    assert at.radio(key="w.page.cost").value == "mean_ms"
    assert at.toggle(key="w.page.log").value is False
    assert at.multiselect(key="w.page.vs").value == ["image-shared"]
    assert at.radio(key="w.page.show").value == "right"
    assert explorer(at)["value"] == pytest.approx(0.25)
    assert all(at.query_params[k] == v for k, v in link.items()), dict(at.query_params)
    assert "leaving at exit 2 of 6" in " ".join(m.value for m in at.markdown)
    right = drilldown.select(zoo.profile("image-shared", "test"), criteria.get("entropy"), 0.25, 1, "right")
    assert [i for i, _, _ in shown_inputs(at)] == right[:24].tolist() and len(right) > 24


@needs_image
def test_a_link_that_names_unknown_models_or_a_bad_selection_says_so(open_page):
    at = open_page("tradeoffs", model="image", vs="image-shared,nope", pick="image,entropy,lots,")
    said = " ".join(w.value for w in at.warning)
    assert "“nope”" in said and "left out" in said
    assert "has a threshold or an exit that is not a number" in said
    assert at.multiselect(key="w.page.vs").value == ["image-shared"]


@needs_image
def test_the_link_restores_every_setting_of_the_noise_page(open_page):
    link = {"model": "image", "criterion": "entropy", "dist_kind": "blur", "level": "3", "noise": "contrast"}
    at = open_page("noise", **link)
    assert at.selectbox(key="w.page.dist_kind").value == "blur"
    assert at.select_slider(key="w.page.level").value == "3"
    assert at.selectbox(key="w.page.noise").value == "contrast"
    assert all(at.query_params[k] == v for k, v in link.items()), dict(at.query_params)


@pytest.mark.slow
@needs_image
def test_every_figure_downloads_as_a_titled_file(open_page, monkeypatch):
    at = open_page("tradeoffs", model="image")
    names = [b.proto.label for b in at.get("download_button")]
    assert any("Where inputs leave at τ" in n for n in names)
    view = tv.ThresholdView(**{k: v for k, v in explorer(at)["view"].items() if k != "id"})
    view = replace(view, rows=[[tv.Panel(**{**p, "moves": [tv.Move(**m) for m in p["moves"]]}) for p in row]
                               for row in view.rows])
    i = view.index(explorer(at)["value"])
    fig = tv.figure_at(view, view.rows[1][0], i)
    title = fig["layout"]["title"]["text"]
    assert title == f"Where inputs leave at τ = {view.labels[i]}"
    assert fig["data"][0]["y"] == view.rows[1][0].moves[0].y[i]  # the bars as shown at τ
    html = figure_export.export(fig, "html")
    assert html.fmt == "html" and f"<title>{title}</title>".encode() in html.data
    if figure_export.can_draw():  # kaleido and a chromium: the real PNG and SVG
        svg = figure_export.export(fig, "svg")
        assert svg.fmt == "svg" and b"Where inputs leave at" in svg.data
        png = figure_export.export(fig, "png")
        assert png.fmt == "png" and png.data[:8] == b"\x89PNG\r\n\x1a\n"
    import plotly.graph_objects as go

    monkeypatch.setattr(go.Figure, "to_image", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("no browser")))
    fallback = figure_export.export(fig, "png")
    assert fallback.fmt == "html" and "no browser" in fallback.note
    assert f"<title>{title}</title>".encode() in fallback.data
    name = figure_export.file_name(title, "png")
    assert name.startswith("where-inputs-leave-at-") and name.endswith(".png")
