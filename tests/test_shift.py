"""Issue 26 item 2: the recommended threshold on the clean test set and on every held-out
shifted set, in `report --json`, on the Overview and where Tradeoffs offers the threshold;
and item 3: Learn-then-Test says when nothing can be certified, with that outcome's figures."""

import numpy as np
import pytest
from conftest import needs_image, needs_speech
from test_app import _explorer, _said
from test_tradeoff import _graded_profile

from explorer import criteria, shift, tradeoff, zoo
from explorer.shipped import headline, load_report
from explorer.thresholds import default_eps_pt, recommended


@needs_speech
def test_the_shifted_sets_are_the_held_out_ones_with_a_quality():
    keys = [s.key for s in shift.shift_sets("speech")]
    assert keys == ["test_a", "test_b", "test_d", "white-10", "pink-10", "babble-10"]  # not test_c: no digits


@needs_image
def test_each_shifted_set_is_judged_at_the_clean_threshold_and_offers_its_own():
    thr, eps = recommended("image", "confidence"), default_eps_pt("image")
    s = shift.at_threshold("image", "confidence", thr, eps)
    assert [r.key for r in s.sets] == ["test", *(f"{k}-3" for k in zoo.get("image").noise.kinds)]
    crit = criteria.get("confidence")
    for row in s.sets:
        es = zoo.eval_set("image", row.key)
        prof = zoo.profile("image", es.split, **dict(es.variant))
        m = tradeoff.evaluate(prof, crit, thr)
        assert row.drop_pt == pytest.approx(m.drop_pt) and row.mean_exit_number == pytest.approx(m.mean_exit + 1)
        assert row.at_threshold == pytest.approx(1 - m.error_rate) and row.inputs == prof.n
        if row.own_threshold is not None:  # the same ε chosen on this set keeps within it there
            assert tradeoff.evaluate(prof, crit, row.own_threshold).drop_pt <= eps + 1e-9
    assert s.over_eps == tuple(r for r in s.shifted if r.drop_pt > eps + 1e-9)
    assert s.over_eps, "the shipped image model loses more than ε under some corruption"
    assert all(r.label in s.warning() for r in s.over_eps)
    assert s.worst.at_threshold == min(r.at_threshold for r in s.shifted) and s.worst.label in s.worst_sentence()


@needs_image
@needs_speech
def test_the_shipped_reports_carry_the_shift_figures_the_profiles_give():
    for name in ("image", "speech"):
        rec = load_report(name)["recommended"]
        for crit, r in ([(rec["criterion"], rec)] if "criterion" in rec else rec.items()):
            shipped = shift.Shift.from_json(r["shift"])
            assert shipped == shift.at_threshold(name, crit, r["threshold"], default_eps_pt(name))
            assert shipped.clean.mac_speedup == pytest.approx(r["mac_speedup"])  # the headline's own figure
        assert headline(name).shift.shifted


@needs_image
@needs_speech
def test_the_overview_shows_each_model_under_shift_and_names_the_worst_set(open_page):
    at = open_page()
    tables = [t.value for t in at.table]
    shown = {label for t in tables for label in t["set"]}
    assert {"unseen voices (test_b)", "white, SNR 10", "blur, corruption severity 3"} <= shown
    said = _said(at)
    for name in zoo.names("overview"):
        s = headline(name).shift
        assert f"Worst under shift: {s.worst.label}" in said
        assert f"{s.worst.at_threshold:.2%}" in said


@pytest.mark.slow
@needs_speech
def test_tradeoffs_says_where_the_clean_threshold_loses_more_than_eps_and_applies_that_sets_own(open_page):
    at = open_page("tradeoffs", model="speech")
    s = shift.at_threshold("speech", "ctc_entropy", recommended("speech", "ctc_entropy"), default_eps_pt("speech"))
    assert "was chosen on clean calibration data" in " ".join(w.value for w in at.warning)
    assert any("unseen voices (test_b)" in list(d.value.get("set", [])) for d in at.dataframe)
    row = s.over_eps[0]
    at.button(key=f"w.apply_shift.{row.key}").click().run()
    assert not at.exception and _explorer(at)["value"] == pytest.approx(row.own_threshold)
    assert f"Worst under shift: {s.worst.label}" in _said(at)


def test_ltt_on_eight_calibration_inputs_certifies_nothing_and_reports_the_full_model():
    """The issue's import with 8 calibration files: no τ beyond the scores, the full model's figures."""
    calib, test = _graded_profile(8, seed=1, k=4), _graded_profile(400, seed=2, k=4)
    for name in ("confidence", "entropy"):
        ltt = tradeoff.recommend_ltt(calib, test, criteria.get(name), eps=0.01, delta=0.1)
        assert not ltt.certified and np.isinf(ltt.threshold)
        every_head = test.path(criteria.get(name))[-1]  # all the way down, reading each exit on the way
        assert ltt.test.mean_exit == test.k - 1 and ltt.test.mac_speedup == pytest.approx(test.full() / every_head)
        assert ltt.test.drop_pt == pytest.approx(0.0) and ltt.test.disagreement == 0
