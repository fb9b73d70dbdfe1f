"""The threshold slider on Tradeoffs in chromium: keys and a drag move the marker, the
metrics and the exit histogram in the browser, each equal to the library at the threshold
shown; the server hears the released threshold (the link, the shared choice, one test input
really exiting)."""

import re

import numpy as np
import pytest
from appserver import done
from playwright.sync_api import expect
from threshold_probe import SHOWN, STATE, explorer_frame, slider

from explorer import criteria, tradeoff, zoo

pytestmark = pytest.mark.browser


QUALITY = f"Accuracy ({zoo.eval_set('image', 'test').label})"


def expected(prof, crit: str, thr: float) -> dict:
    """What the page must show at `thr`, from the plain decisions (not the sweep)."""
    c = criteria.get(crit)
    exits = prof.exits(c, thr)
    point = tradeoff.evaluate(prof, c, thr)
    accuracy = prof.quality(point.error_rate)
    drop = 100 * (point.error_rate - prof.exit_error(-1))
    return {"metrics": {QUALITY: f"{accuracy:.2%}", "Mean exit": f"{exits.mean() + 1:.2f} of {prof.k}",
                        "Speedup by MACs (ideal)": f"{point.mac_speedup:.2f}×"},
            "change": f"{-drop:+.2f} points", "marker": (point.mean_macs, accuracy),
            "interval": sorted(1 - e for e in tradeoff.bootstrap_ci(prof, exits)),
            "shares": np.bincount(exits, minlength=prof.k) / prof.n}


def check_shown(frame, prof, crit: str) -> dict:
    """Everything the explorer shows equals the library at the threshold it shows."""
    state = frame.evaluate(STATE)
    thr = state["threshold"]
    want = expected(prof, crit, thr)
    assert state["label"] == state["valuetext"] == f"{thr:.4g}"  # the value shown is the one the figures show
    shown = {k: v[0] for k, v in state["metrics"].items()}
    assert shown.pop("Speedup measured (ms)")  # in words: measured at this threshold, or where to measure it
    assert shown == want["metrics"]
    assert state["metrics"][QUALITY][1].endswith(want["change"])
    (marker,), (bars,) = state["drawn"][0], state["drawn"][1]
    assert marker["x"][0] == pytest.approx(want["marker"][0], abs=1.5 * marker["xtol"])  # within a pixel and a half
    assert marker["y"][0] == pytest.approx(want["marker"][1], abs=1.5 * marker["tol"])
    assert bars["y"] == pytest.approx(want["shares"], abs=1.5 * bars["tol"])
    assert bars["labels"] == [f"{v:.1%}" for v in want["shares"]]  # the labels on the bars move too
    lo, hi = want["interval"]
    assert marker["error"] == pytest.approx([hi, lo], abs=1.5 * marker["tol"])  # the interval bar around the marker
    assert f"interval of Accuracy {lo:.2%}–{hi:.2%}" in state["notes"]
    assert state["titles"][1] == f"Where inputs leave at τ = {thr:.4g}"  # the figure's own title
    return state


def check_settled(page, frame, prof, crit: str) -> None:
    """Once the pointer enters the figures (to read hover labels), Plotly's own data is at the
    threshold shown."""
    figures = page.frame_locator("iframe[title*='threshold_explorer']").locator(".figure")
    figures.nth(0).hover()
    figures.nth(1).hover()
    frame.wait_for_function("() => plots.every((p) => !p.dirty)", timeout=30_000)
    state = frame.evaluate(STATE)
    want = expected(prof, crit, state["threshold"])
    (marker,), (bars,) = state["plotly"][0], state["plotly"][1]
    assert (marker["x"][0], marker["y"][0]) == pytest.approx(want["marker"], rel=1e-5)
    lo, hi = want["interval"]
    assert [marker["error"][0][0], marker["error"][1][0]] == pytest.approx([hi - want["marker"][1],
                                                                            want["marker"][1] - lo], abs=1e-5)
    assert bars["y"] == pytest.approx(want["shares"], abs=1e-6)
    assert bars["text"] == [f"{v:.1%}" for v in want["shares"]]


def press(page, frame, key: str) -> None:
    before = frame.evaluate(SHOWN)
    page.keyboard.press(key)
    frame.wait_for_function(f"() => document.body.dataset.shown !== {before!r}", timeout=30_000)


def link_has(thr: float) -> re.Pattern:
    """The address bar's link holds this threshold (as the pages write it)."""
    return re.compile(r"threshold=" + re.escape(f"{thr:.10g}") + "(&|$)")


def decision(page):
    return page.locator("p", has_text=re.compile(r"^Exit \d of 6")).first


def test_keys_move_every_figure_in_the_browser_and_the_server_hears_the_rest(server, page):
    prof = zoo.profile("image", "test")
    page.goto(server + "/tradeoffs?model=image&criterion=confidence&threshold=0.9")
    frame = explorer_frame(page)
    done(page)
    assert check_shown(frame, prof, "confidence")["threshold"] == 0.9  # the link's threshold, exactly
    slider(page).focus()
    press(page, frame, "End")  # max softmax >= the largest threshold: no one leaves early
    end = check_shown(frame, prof, "confidence")
    assert end["metrics"]["Mean exit"][0] == "6.00 of 6"
    expect(decision(page)).to_contain_text("Exit 6 of 6", timeout=60_000)  # the server ran the model at rest
    expect(page).to_have_url(link_has(end["threshold"]))
    check_settled(page, frame, prof, "confidence")
    press(page, frame, "Home")  # everyone leaves at the first exit
    assert check_shown(frame, prof, "confidence")["metrics"]["Mean exit"][0] == "1.00 of 6"
    expect(decision(page)).to_contain_text("Exit 1 of 6", timeout=60_000)
    for _ in range(3):
        press(page, frame, "ArrowRight")
        state = check_shown(frame, prof, "confidence")
    assert state["index"] == 3
    check_settled(page, frame, prof, "confidence")
    expect(page).to_have_url(link_has(state["threshold"]))


def test_a_drag_moves_the_figures_and_the_released_value_is_the_shared_choice(server, page):
    prof = zoo.profile("image", "test")
    page.goto(server + "/tradeoffs?model=image&criterion=entropy&threshold=0.3")
    frame = explorer_frame(page)
    done(page)
    url = page.url
    box = slider(page).bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + 2, y)
    page.mouse.down()
    seen = set()
    for i in range(1, 41):  # across the whole range, checking as the hand moves
        page.mouse.move(box["x"] + 2 + (box["width"] - 4) * i / 40, y)
        if i % 8 == 0:
            seen.add(check_shown(frame, prof, "entropy")["index"])
    assert len(seen) == 5  # five different places, each right
    assert page.url == url  # nothing reached the server while the hand held the slider
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.up()
    released = check_shown(frame, prof, "entropy")["threshold"]
    expect(page).to_have_url(link_has(released), timeout=30_000)
    check_settled(page, frame, prof, "entropy")
    done(page)
    page.get_by_role("link", name="Live: image").click()  # the shared choice holds it on another page
    page.get_by_text("Answer").first.wait_for(timeout=90_000)
    done(page)
    expect(page.get_by_label("Threshold τ", exact=True)).to_have_value(f"{released:.4f}", timeout=30_000)
    page.get_by_role("link", name="Tradeoffs").click()  # and back: the slider is where it was let go
    expect(slider(page)).to_have_attribute("aria-valuetext", f"{released:.4g}", timeout=90_000)
    check_shown(explorer_frame(page), prof, "entropy")


def test_apply_moves_the_slider_and_the_figures_to_the_recommended_threshold(server, page):
    from explorer.thresholds import recommended

    prof = zoo.profile("image", "test")
    page.goto(server + "/tradeoffs?model=image&criterion=entropy&threshold=0.05")
    frame = explorer_frame(page)
    done(page)
    page.get_by_role("button", name="Apply", exact=True).click()
    want = recommended("image", "entropy")
    frame.wait_for_function(f"() => view.thresholds[idx] === {want!r}", timeout=60_000)
    check_shown(frame, prof, "entropy")
    check_settled(page, frame, prof, "entropy")
    expect(page).to_have_url(link_has(want), timeout=30_000)
