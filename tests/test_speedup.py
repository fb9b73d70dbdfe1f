"""One definition of a measured speedup: medians of repeated, interleaved runs; a figure
above the ideal or with a wide spread is a noisy measurement, not a result."""

from explorer.speedup import Speedup, Timing, time_calls


def test_runs_are_warmed_up_repeated_and_interleaved():
    calls = []
    timings, last = time_calls([lambda: calls.append("a") or 1, lambda: calls.append("b") or 2], repeats=4)
    assert calls == ["a", "b"] * 5  # one warm-up, then four turns each
    assert [len(t.runs_ms) for t in timings] == [4, 4] and last == [1, 2]


def test_a_time_budget_still_keeps_three_runs():
    timings, _ = time_calls([lambda: sum(range(10_000))], repeats=50, budget_s=0.0)
    assert len(timings[0].runs_ms) == 3


def test_the_speedup_is_the_ratio_of_medians():
    sp = Speedup(Timing((10.0, 11.0, 10.0, 40.0, 10.0)), Timing((5.0, 5.0, 5.5, 5.0, 5.0)), ideal=3.0)
    assert sp.realized == 2.0 and not sp.noisy and "2.00× measured (ms) (3.00× by MACs, ideal)" in sp.text()


def test_above_the_ideal_is_flagged_as_noise_not_shown_as_a_result():
    sp = Speedup(Timing((60.0,) * 5), Timing((5.0,) * 5), ideal=5.06)  # 12×: the Model page's old figure
    assert "above the ideal" in sp.noisy and sp.text().startswith("noisy measurement")


def test_a_wide_spread_is_flagged():
    sp = Speedup(Timing((1.0, 2.0, 5.0, 9.0, 200.0)), Timing((1.0,) * 5), ideal=10.0)
    assert "varied too much" in sp.noisy
