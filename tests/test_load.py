"""A shared server (issue 27): model work is bounded and shared, and the live pages do only
what was asked (an answer per upload; timing and the exit-against-noise curve on request)."""

import threading
import time

import numpy as np
import pytest
import torch
from conftest import needs_image, needs_speech
from input_corpus import GOOD_IMAGE

from explorer import compute, predict, zoo
from explorer.errors import InputError


def _at_once(fn, n: int = 8) -> list:
    """fn() in n threads started together; their results."""
    out, gate = [None] * n, threading.Barrier(n)

    def run(i):
        gate.wait()
        out[i] = fn()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return out


def test_eight_requests_at_once_compute_at_most_slots_at_a_time_and_nested_work_does_not_wait():
    running, most, lock = [0], [0], threading.Lock()

    def request():
        with compute.slot():
            with compute.slot():  # a library call inside another: no second queue, no deadlock
                with lock:
                    running[0] += 1
                    most[0] = max(most[0], running[0])
                time.sleep(0.05)
                threads = torch.get_num_threads()
                with lock:
                    running[0] -= 1
        return threads

    assert set(_at_once(request)) == {compute.THREADS}  # each request computes with the bounded threads
    assert most[0] == compute.SLOTS and compute.waiting() == 0


def test_eight_sessions_asking_for_a_model_at_once_load_it_once():
    from dataclasses import replace

    loads = []

    def load():
        loads.append(1)
        time.sleep(0.2)  # long enough for every other session to ask meanwhile
        return object()

    entry = zoo.register(replace(zoo.get("toy"), name="toy-load-once", load=load))
    try:
        models = _at_once(lambda: zoo.model(entry.name))
        assert len(loads) == 1 and all(m is models[0] for m in models)
    finally:
        del zoo.BUILT_INS[entry.name]
        zoo.forget(entry.name)


@needs_image
def test_the_exit_at_every_corruption_level_in_one_batched_pass_is_each_input_s_own_exit():
    entry = zoo.get("image")
    x = zoo.get("image").data("test")[0][3]
    levels = [entry.noise.apply(x, "gaussian_noise", s) if s else x for s in (0, 1, 3, 5)]
    alone = [predict.exit_taken("image", v, "confidence", 0.99) for v in levels]
    assert predict.exits_taken("image", levels, "confidence", 0.99) == alone


@needs_image
def test_timing_says_in_a_sentence_when_the_machine_is_too_busy(monkeypatch):
    x = zoo.get("image").data("test")[0][0]
    monkeypatch.setattr(compute.os, "getloadavg", lambda: (9.0 * compute.CORES, 0.0, 0.0))
    with pytest.raises(InputError, match=r"Not timed: the machine's load is .* Try again"):
        predict.time_input("image", x, "confidence", 0.9)
    monkeypatch.setattr(compute.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    speedup, _ = predict.time_input("image", x, "confidence", 0.9)
    assert len(speedup.full.runs_ms) >= 3 and speedup.ideal >= 1


@needs_image
def test_an_upload_is_answered_untimed_and_timed_once_on_request_for_every_session(open_page, monkeypatch):
    from explorer import speedup

    timed = []
    real = speedup.time_calls
    monkeypatch.setattr(predict, "time_calls", lambda *a, **k: timed.append(1) or real(*a, **k))
    monkeypatch.setattr(compute.os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    picture = GOOD_IMAGE()
    at = open_page("live_image")
    at.radio[0].set_value("Upload").run()
    at.file_uploader[0].upload("seven.png", picture, "image/png").run()
    assert "Answer **7**" in next(m.value for m in at.markdown if m.value.startswith("### Exit"))
    assert not timed and any("Not timed yet" in c.value for c in at.caption)  # the answer did not wait for it
    at.button(key="w.live.time").click().run()
    assert len(timed) == 1 and any(c.value.startswith("Timed at") for c in at.caption)
    other = open_page("live_image")  # another session, the same picture: the timing is shown, not redone
    other.radio[0].set_value("Upload").run()
    other.file_uploader[0].upload("mine.png", picture, "image/png").run()
    assert len(timed) == 1 and any(c.value.startswith("Timed at") for c in other.caption)


@needs_speech
def test_the_exit_against_snr_is_drawn_on_request_from_one_batched_pass(open_page, monkeypatch):
    passes = []
    real = predict.exits_taken
    monkeypatch.setattr(predict, "exits_taken", lambda name, xs, *a: passes.append(len(xs)) or real(name, xs, *a))
    at = open_page("live_speech")
    figures = len(at.get("plotly_chart"))
    assert not passes  # the answer alone: no pass at every SNR
    at.toggle(key="w.live.depth").set_value(True).run()
    assert passes == [len(zoo.get("speech").noise.levels)]  # every level in one pass
    assert len(at.get("plotly_chart")) == figures + 1


@pytest.mark.slow
@needs_image
def test_the_benchmark_s_promise_comes_from_a_measurement_and_learns_from_the_last_run(monkeypatch):
    from explorer import bench

    monkeypatch.setattr(bench, "_LAST", {})  # no earlier run in this process (other tests bench the image model)
    first = bench.estimate("image", "confidence", 0.9, 1, 30)
    assert "the plain model timed now on 8 inputs at batch 1" in first.basis and "× 30 inputs × 6 runs" in first.basis
    begin = time.perf_counter()
    bench.bench("image", "confidence", 0.9, 1, limit=30)
    took = time.perf_counter() - begin
    again = bench.estimate("image", "confidence", 0.9, 1, 30)
    assert "the last run here" in again.basis
    assert again.seconds == pytest.approx(took, rel=0.25)  # the next promise is the time a run really takes here
    assert np.isfinite(first.seconds) and first.seconds > 0


@pytest.mark.slow
@needs_image
def test_after_the_server_s_warm_up_a_first_visit_finds_its_model_profiles_and_sweeps_ready(open_page):
    from explorer import cached, setup

    setup.warm_up()
    test = zoo.profile("image", "test")
    assert zoo.loaded("image", "test") and zoo.loaded("image", "val")
    assert cached.sweep_all.has(test)
    # Tradeoffs as a first visit opens it: its chart, recommendations and τ under shift are ready
    made = [cached.tradeoff_view, cached.intervals, cached.recommendations, cached.shift_at]
    before = [fn.stats.misses for fn in made]
    at = open_page("tradeoffs")
    assert not at.exception
    assert [fn.stats.misses for fn in made] == before, [fn.what for fn in made]


@needs_image
def test_the_step_log_says_how_long_the_server_took_to_draw_each_live_answer(open_page, monkeypatch, tmp_path):
    """`make load` tells the server's part of a wait from the browser's by these lines."""
    import json

    log = tmp_path / "steps.jsonl"
    monkeypatch.setenv(compute.LOG_ENV, str(log))
    begin = time.perf_counter()
    at = open_page("live_image")
    at.radio[0].set_value("Upload").run()
    at.file_uploader[0].upload("seven.png", GOOD_IMAGE(), "image/png").run()
    wall = time.perf_counter() - begin
    answered = [e["s"] for e in map(json.loads, log.read_text().splitlines()) if e["step"] == compute.ANSWERED]
    assert len(answered) == 2  # the example the page opens with, then the upload; not the run that showed Upload
    assert all(0 < s < wall for s in answered)


@needs_image
def test_tradeoffs_writes_the_sweep_csv_only_when_it_is_downloaded(open_page):
    """A first visit draws its figures without writing a CSV nobody asked for; the button is there."""
    from explorer import cached

    cached.sweep_csv.clear()
    at = open_page("tradeoffs", model="image")
    assert any(b.proto.label.startswith("Download the sweep as CSV") for b in at.get("download_button"))
    assert not cached.sweep_csv.has(zoo.profile("image", zoo.get("image").test_split))
