"""Profiles: persistence, fingerprints and the cache, and what each exit costs."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch

from explorer import criteria, profile, tradeoff
from explorer.costs import Costs, count_macs, measure_ms
from explorer.models.toy import ToyConfig, ToyMLP, ToySeq, ToySeqConfig, toy_data, toy_seq_data
from explorer.profile import Profile, build_profile, cached_profile, fingerprint, profile_path

CFG = ToyConfig(width=32, hidden=32, num_stages=6)


@pytest.fixture(scope="module")
def toy(toy_model):
    assert toy_model.config == CFG
    return toy_model


@pytest.fixture(scope="module")
def toy_batches():
    x, y, _ = toy_data(90, CFG, seed=4)
    return [(x[i:i + 32], None, list(y[i:i + 32])) for i in range(0, 90, 32)]  # uneven last batch


@pytest.fixture(scope="module")
def toy_profile(toy, toy_batches):
    return build_profile(toy, toy_batches, "toy", "test")  # real timings, once


@pytest.fixture(scope="module")
def seq_profile():
    model = ToySeq(ToySeqConfig()).eval()
    frames, refs = toy_seq_data(30, model.config, seed=2)
    batches = [(*model.collate(frames[i:i + 8]), refs[i:i + 8]) for i in range(0, 30, 8)]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(profile, "measure_ms", lambda m: measure_ms(m, min_run_time=0.001))
        return build_profile(model, batches, "seq", "test")


def _assert_same(a: Profile, b: Profile):
    assert a.meta == b.meta
    assert a.cols.keys() == b.cols.keys()
    for c in a.cols:
        assert a.cols[c].dtype == b.cols[c].dtype, c
        np.testing.assert_array_equal(a.cols[c], b.cols[c], err_msg=c)
    np.testing.assert_array_equal(a.ref_len, b.ref_len)
    assert a.macs.to_dict() == b.macs.to_dict() and a.ms.to_dict() == b.ms.to_dict()
    assert a.answers == b.answers
    assert [type(x) for x in a.answers] == [type(x) for x in b.answers]


# ---- what a profile holds ------------------------------------------------------------------


def test_profile_contents(toy_profile, seq_profile, toy, toy_batches):
    assert (toy_profile.n, toy_profile.k) == (90, 6)
    assert set(toy_profile.cols) == {"pred", "errors", "confidence", "entropy", "entropy_norm"}
    assert all(v.shape == (90, 6) for v in toy_profile.cols.values())
    assert toy_profile.meta.fingerprint == fingerprint(toy)
    assert (toy_profile.ms.stage > 0).all() and (toy_profile.ms.head["exit"] > 0).all()
    assert set(seq_profile.cols) == {"pred", "errors", "ctc_entropy", "ssl_entropy"}
    assert all(isinstance(a, tuple) for a in seq_profile.answers)
    assert (seq_profile.ref_len == 3).all()  # three words in every reference
    # the answers at every exit are the model's own, read straight from a fresh pass
    x = torch.cat([b[0] for b in toy_batches])
    with torch.inference_mode():
        state = toy.embed(x)
        for k in range(toy.num_exits):
            state = toy.stage(k, state)
            pred = toy.head(k, state, "exit").argmax(-1).numpy()
            assert [toy_profile.answer(i, k) for i in range(90)] == pred.tolist()


# ---- persistence ----------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["toy", "seq"])
def test_save_load_round_trip(toy_profile, seq_profile, which, tmp_path):
    prof = toy_profile if which == "toy" else seq_profile
    path = prof.save(tmp_path / "sub" / "p.npz")
    assert path.exists() and not list(tmp_path.glob("sub/*.tmp*"))
    with np.load(path, allow_pickle=False) as z:  # plain arrays only: nothing to unpickle
        assert all(z[name].dtype != object for name in z.files)
    loaded = Profile.load(path)
    _assert_same(prof, loaded)
    for name in ("confidence", "patience", "budget", "ctc_entropy", "daisy", "oracle_correct"):
        crit = criteria.get(name)
        if crit in criteria.applicable(prof.cols):
            pd.testing.assert_frame_equal(tradeoff.sweep(prof, crit), tradeoff.sweep(loaded, crit))


# ---- fingerprints and the cache ------------------------------------------------------------


def test_fingerprint_sees_every_weight(toy):
    fp = fingerprint(toy)
    assert fp == fingerprint(copy.deepcopy(toy))
    for name in ["embedding.weight", "blocks.3.fc2.bias", "exits.5.1.weight", "blocks.0.norm.weight"]:
        changed = copy.deepcopy(toy)
        with torch.no_grad():
            changed.get_parameter(name).view(-1)[0] += 1e-3
        assert fingerprint(changed) != fp, name
    other = ToyMLP(ToyConfig(width=32, hidden=32, num_stages=6, seed=1))
    assert fingerprint(other) != fp


def test_cached_profile_rebuilds_for_a_changed_model(toy, toy_batches, tmp_path, monkeypatch):
    monkeypatch.setattr(profile, "measure_ms", count_macs)  # fast and deterministic
    built = []

    def batches():
        built.append(1)
        return toy_batches

    first = cached_profile(toy, "toy", "test", batches, tmp_path)
    again = cached_profile(toy, "toy", "test", batches, tmp_path)
    assert len(built) == 1  # served from disk the second time
    _assert_same(first, again)

    changed = copy.deepcopy(toy)
    with torch.no_grad():
        changed.exits[0][1].weight[0, 0] += 5.0  # one weight of the first exit's classifier
    fresh = cached_profile(changed, "toy", "test", batches, tmp_path)
    assert len(built) == 2  # rebuilt, not the stale profile
    assert fresh.meta.fingerprint == fingerprint(changed) != first.meta.fingerprint
    assert not np.array_equal(fresh.cols["confidence"][:, 0], first.cols["confidence"][:, 0])
    np.testing.assert_array_equal(fresh.cols["confidence"][:, 1:], first.cols["confidence"][:, 1:])

    # both stay cached side by side
    _assert_same(cached_profile(toy, "toy", "test", batches, tmp_path), first)
    assert len(built) == 2


def test_cached_profile_never_serves_a_file_with_another_fingerprint(toy, toy_batches, toy_profile, tmp_path,
                                                                   monkeypatch):
    monkeypatch.setattr(profile, "measure_ms", count_macs)
    changed = copy.deepcopy(toy)
    with torch.no_grad():
        changed.blocks[2].fc1.weight[0, 0] += 1.0
    # a stale profile (of the original model) sitting where the changed model's would go
    toy_profile.save(profile_path(tmp_path, "toy", "test", fingerprint(changed)))
    prof = cached_profile(changed, "toy", "test", lambda: toy_batches, tmp_path)
    assert prof.meta.fingerprint == fingerprint(changed)
    assert Profile.load(profile_path(tmp_path, "toy", "test", fingerprint(changed))).meta.fingerprint == \
        fingerprint(changed)


def test_new_profiles_of_a_shipped_model_go_to_the_cache_unless_shipping(toy, toy_batches, tmp_path, monkeypatch):
    """A built-in model's missing profile (a noisy set built on demand, say) is written to the
    cache, never into assets/profiles; `profile --ship` writes it there; the cache's copy
    is read before the shipped one."""
    from explorer import paths

    shipped, cache = tmp_path / "assets", tmp_path / "cache"
    monkeypatch.setattr(paths, "ASSETS", shipped)
    monkeypatch.setattr(paths, "CACHE", cache)
    monkeypatch.setattr(profile, "measure_ms", count_macs)
    where = shipped / "profiles"
    cached_profile(toy, "toy", "test", lambda: toy_batches, where)
    assert not where.exists() and len(list((cache / "profiles").glob("toy-test-*.npz"))) == 1
    profile.ship_profiles()
    try:
        cached_profile(toy, "toy", "val", lambda: toy_batches, where)
    finally:
        profile.ship_profiles(False)
    assert len(list(where.glob("toy-val-*.npz"))) == 1
    fp = fingerprint(toy)
    assert profile_path(where, "toy", "val", fp) == where / next(where.glob("toy-val-*.npz")).name
    assert profile_path(where, "toy", "test", fp).parent == cache / "profiles"


# ---- costs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("shared", [False, True])
def test_toy_macs_are_the_analytic_count(shared):
    c = ToyConfig(in_dim=12, width=16, hidden=24, num_stages=5, num_classes=7, shared_head=shared)
    macs = count_macs(ToyMLP(c))
    assert macs.front == c.in_dim * c.width
    np.testing.assert_array_equal(macs.stage, np.full(5, 2 * c.width * c.hidden))  # fc1 + fc2, norms aside
    head = c.num_stages * c.width * c.num_classes if shared else c.width * c.num_classes
    np.testing.assert_array_equal(macs.head["exit"], np.full(5, head))


def test_seq_macs_are_the_analytic_count():
    c = ToySeqConfig(feat_dim=8, width=16, num_stages=3, vocab=6, clusters=5)
    macs = count_macs(ToySeq(c))
    T, W = 20, c.width  # the example input: one utterance of 20 frames
    assert macs.front == T * c.feat_dim * W
    np.testing.assert_array_equal(macs.stage, np.full(3, T * (2 * W * W + W * 2 * W + 2 * W * W)))
    np.testing.assert_array_equal(macs.head["ctc"], np.full(3, T * W * c.vocab))
    np.testing.assert_array_equal(macs.head["ssl"], np.full(3, T * W * c.clusters))


def test_path_counts_heads_read_on_the_way_and_the_answer_at_the_exit():
    costs = Costs(5.0, np.array([10.0, 20, 30]), {"task": np.array([1.0, 2, 3]), "aux": np.array([100.0, 200, 300])})
    np.testing.assert_array_equal(costs.path(["task"], "task"), 5 + np.cumsum([11, 22, 33]))
    np.testing.assert_array_equal(costs.path([], "task"), 5 + np.cumsum([10, 20, 30]) + [1, 2, 3])
    np.testing.assert_array_equal(costs.path(["aux"], "task"), 5 + np.cumsum([110, 220, 330]) + [1, 2, 3])
    np.testing.assert_array_equal(costs.path(["task", "aux"], "task"), 5 + np.cumsum([111, 222, 333]))
    assert costs.full("task") == 5 + 60 + 3
    assert Costs.from_dict(costs.to_dict()).to_dict() == costs.to_dict()


def test_profile_paths_per_criterion(toy_profile, seq_profile):
    m = toy_profile.macs
    with_head = m.front + np.cumsum(m.stage + m.head["exit"])
    answer_only = m.front + np.cumsum(m.stage) + m.head["exit"]
    for name in ("confidence", "entropy", "entropy_norm", "patience"):
        np.testing.assert_array_equal(toy_profile.path(criteria.get(name)), with_head)
    for name in ("budget", "static"):  # they read no head: only the answer at the exit
        np.testing.assert_array_equal(toy_profile.path(criteria.get(name)), answer_only)
    assert toy_profile.full() == m.front + m.stage.sum() + m.head["exit"][-1]

    s = seq_profile.macs
    stages = s.front + np.cumsum(s.stage)
    np.testing.assert_array_equal(seq_profile.path(criteria.get("ctc_entropy")), stages + np.cumsum(s.head["ctc"]))
    np.testing.assert_array_equal(seq_profile.path(criteria.get("patience")), stages + np.cumsum(s.head["ctc"]))
    np.testing.assert_array_equal(seq_profile.path(criteria.get("daisy")),
                                  stages + np.cumsum(s.head["ssl"]) + s.head["ctc"])
    for name in ("budget", "static"):
        np.testing.assert_array_equal(seq_profile.path(criteria.get(name)), stages + s.head["ctc"])


@pytest.mark.parametrize("which", ["toy", "seq"])
def test_budget_is_measured_on_its_own_path(toy_profile, seq_profile, which):
    """A budget of exactly the cost of exit k reaches exit k; one MAC less does not. The
    cost counts no head the budget criterion never reads."""
    prof = toy_profile if which == "toy" else seq_profile
    crit = criteria.get("budget")
    path = prof.path(crit)
    assert (np.diff(path) > 0).all()
    for k, cost in enumerate(path):
        assert (prof.exits(crit, cost) == k).all()
        assert (prof.exits(crit, cost - 1) == max(k - 1, 0)).all()
    reading = prof.path(criteria.get("entropy" if which == "toy" else "daisy"))
    assert (path[1:] < reading[1:]).all()  # reading a head on the way costs more
