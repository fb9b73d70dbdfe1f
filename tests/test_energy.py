"""Anytime inference under harvested power: traces, determinism, and budget decisions
that are exactly the engine's budget criterion."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from explorer import criteria, energy
from explorer.costs import count_macs
from explorer.engine import run_with_exits
from explorer.models.toy import toy_data
from explorer.profile import build_profile


@pytest.fixture(scope="module")
def toy_case(toy_model):
    x, y, _ = toy_data(300, toy_model.config, seed=21)
    batches = [(x[i:i + 100], None, y[i:i + 100].tolist()) for i in range(0, 300, 100)]
    macs = count_macs(toy_model)
    prof = build_profile(toy_model, batches, "toy", "test", costs=(macs, macs))
    return toy_model, x, prof


def _settings(prof, mean_mw: float = 1.0, period_s: float = 5.0) -> energy.EnergySettings:
    """Energy per MAC chosen so the full model costs what the harvester brings in one
    input period on average: sometimes there is enough, often not."""
    return energy.EnergySettings(nj_per_mac=1e6 * mean_mw * period_s / prof.full("macs"),
                                 capacitor_mj=2 * mean_mw * period_s, period_s=period_s)


@pytest.mark.parametrize("shape", energy.SHAPES)
def test_traces_have_their_mean_power_and_shape(shape):
    tr = energy.power_trace(energy.TraceConfig(shape=shape, mean_mw=3.0, seconds=300, seed=1))
    assert tr.power_mw.mean() == pytest.approx(3.0)
    assert (tr.power_mw >= 0).all() and len(tr.t) == 3000
    dark = (tr.power_mw < 1e-9).mean()
    if shape == "intermittent":
        assert dark > 0.5  # bursts, nothing in between
    else:
        assert dark < 0.05


def test_simulation_is_deterministic_for_a_seed(toy_case):
    _, _, prof = toy_case
    cfg = energy.TraceConfig(shape="intermittent", seconds=400, mean_mw=1.0, seed=3)
    a = energy.simulate(prof, energy.power_trace(cfg), _settings(prof))
    b = energy.simulate(prof, energy.power_trace(cfg), _settings(prof))
    c = energy.simulate(prof, energy.power_trace(replace(cfg, seed=4)), _settings(prof))
    for run_a, run_b in ((a.early, b.early), (a.full, b.full)):
        np.testing.assert_array_equal(run_a.exit, run_b.exit)
        np.testing.assert_array_equal(run_a.budget_macs, run_b.budget_macs)
    assert a.summary == b.summary
    assert not np.array_equal(a.trace.power_mw, c.trace.power_mw)


@pytest.mark.parametrize("shape", energy.SHAPES)
def test_budget_decisions_are_the_engines(toy_case, shape):
    """Each answered input, run by the engine with the budget criterion and the budget it
    had on arrival, leaves at the exit the simulation charged for."""
    model, x, prof = toy_case
    cfg = energy.TraceConfig(shape=shape, seconds=500, mean_mw=1.0, seed=5)
    run = energy.simulate(prof, energy.power_trace(cfg), _settings(prof))
    answered = run.early.exit >= 0
    assert 0 < answered.sum()
    crit = criteria.get("budget")
    idx = run.inputs[answered]
    real = run_with_exits(model, x[idx], crit, run.early.budget_macs[answered], prof.path(crit))
    np.testing.assert_array_equal(real.exit, run.early.exit[answered])
    assert len(set(run.early.exit[answered].tolist())) > 1, "budgets should differ enough to reach several exits"
    # the missed ones could not pay for the first exit
    assert (run.early.budget_macs[~answered] < run.costs_macs[0]).all()


def test_energy_is_conserved_and_capped(toy_case):
    _, _, prof = toy_case
    s = _settings(prof)
    tr = energy.power_trace(energy.TraceConfig(shape="solar", seconds=300, mean_mw=1.0, seed=2))
    run = energy.simulate(prof, tr, s)
    for pol in (run.early, run.full):
        assert (pol.stored_mj >= -1e-9).all() and (pol.stored_mj <= s.capacitor_mj + 1e-9).all()
        spent = sum(run.costs_macs[k] if pol is run.early else run.full_macs for k in pol.exit[pol.exit >= 0])
        harvested = (tr.power_mw * tr.config.dt).sum()
        assert spent * s.nj_per_mac * 1e-6 <= harvested + 1e-6


def test_early_exit_answers_more_inputs_right_on_the_intermittent_trace(toy_case):
    _, _, prof = toy_case
    tr = energy.power_trace(energy.TraceConfig(shape="intermittent", seconds=600, mean_mw=1.0, seed=0))
    run = energy.simulate(prof, tr, _settings(prof))
    assert run.early.answered > run.full.answered
    assert run.early.n_correct > run.full.n_correct
    assert run.summary.early_correct == run.early.n_correct


def test_bad_settings_are_said_in_words(toy_case):
    _, _, prof = toy_case
    with pytest.raises(ValueError, match="unknown power trace 'lunar'"):
        energy.power_trace(energy.TraceConfig(shape="lunar"))
    tr = energy.power_trace(energy.TraceConfig(seconds=10))
    with pytest.raises(ValueError, match="must be positive"):
        energy.simulate(prof, tr, energy.EnergySettings(nj_per_mac=0))


def test_a_profile_lookup_not_inference(toy_case, monkeypatch):
    """The simulation never runs the model: sliders stay instant."""
    _, _, prof = toy_case
    monkeypatch.setattr(torch.nn.Module, "__call__", lambda *a, **k: pytest.fail("the model ran"))
    energy.simulate(prof, energy.power_trace(energy.TraceConfig(seconds=100)), _settings(prof))


def test_energy_page_shows_both_policies_and_moves_with_the_trace(open_page):
    at = open_page("energy")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["answered right, early exit"].endswith("/ 120")
    assert len(at.get("plotly_chart")) == 3
    at.selectbox(key="w.energy.shape").set_value("steady").run()
    assert not at.exception
    steady = {m.label: m.value for m in at.metric}
    assert steady["answered right, early exit"] != metrics["answered right, early exit"]
    assert [s.label for s in at.slider][-1] == "ripple (relative std)"
