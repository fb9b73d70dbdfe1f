"""Real early exit: computation really stops, and it decides exactly as the profile says.

Every test runs three schedules on the same inputs: each input alone (batch 1, a
latency page), one shrinking batch (`run_with_exits`) and the throughput stream
(`run_stream`, batch 7, survivors re-packed each stage).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from explorer import criteria, profile
from explorer.costs import measure_ms, read_heads
from explorer.engine import read_all_exits, run_full, run_stream, run_with_exits
from explorer.models.base import MultiExitModel, State
from explorer.models.toy import ToyConfig, ToySeq, ToySeqConfig, toy_data, toy_seq_data, train_toy

SCHEDULES = ("single", "batch", "stream7")
CLASS_CRITERIA = ("confidence", "entropy", "entropy_norm", "patience", "budget", "static")
SEQ_CRITERIA = ("patience", "ctc_entropy", "daisy", "budget", "static")
CASES = [("toy", c) for c in CLASS_CRITERIA] + [("toy_shared", c) for c in CLASS_CRITERIA] + [
    ("seq", c) for c in SEQ_CRITERIA]


# ---- fixtures: small models, their inputs and profiles, built once per module ----------------


def _build(model, inputs, targets, name):
    """A profile of `model` on `inputs` (ms timed briefly: only MACs matter here)."""
    x, lengths = model.collate(inputs)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(profile, "measure_ms", lambda m: measure_ms(m, min_run_time=0.001))
        return profile.build_profile(model, [(x, lengths, targets)], name, "test")


def _toy_bundle(shared: bool):
    cfg = ToyConfig(width=32, hidden=32, num_stages=6, shared_head=shared)
    model = train_toy(cfg, steps=100, batch=128)
    x, y, _ = toy_data(120, cfg, seed=7)
    inputs = list(x)
    return model, inputs, _build(model, inputs, list(y), "toy")


def _calm_seq() -> ToySeq:
    """An untrained ToySeq whose transcripts settle across layers (one CTC head shared by
    every exit, small residual updates), so patience has something to decide."""
    model = ToySeq(ToySeqConfig()).eval()
    with torch.no_grad():
        for k in range(1, model.num_exits):
            model.ctc[k].load_state_dict(model.ctc[0].state_dict())
        for down in model.down:
            down.weight.mul_(0.3)
    return model


@pytest.fixture(scope="module")
def bundles():
    seq = _calm_seq()
    frames, refs = toy_seq_data(40, seq.config, seed=3)
    return {"toy": _toy_bundle(False), "toy_shared": _toy_bundle(True),
            "seq": (seq, frames, _build(seq, frames, refs, "seq"))}


# ---- helpers ------------------------------------------------------------------------------------


def _thresholds(prof, crit, count: int = 5) -> list[float]:
    """Thresholds from the criterion's own grid, spread over it. Head scores are floats that
    batching may move by rounding, so thresholds within 1e-6 of a score are skipped."""
    scores = prof.scores(crit)
    grid = crit.grid(scores, prof.path(crit))
    if set(crit.reads) - {"pred"}:
        finite = scores[np.isfinite(scores)]
        grid = np.array([t for t in grid if np.abs(finite - t).min() > 1e-6 * max(1.0, abs(t))])
    idx = np.unique(np.linspace(0, len(grid) - 1, count).round().astype(int))
    return [float(t) for t in grid[idx]]


def _mixed_threshold(prof, crit):
    """A threshold that sends inputs to as many different exits as possible: the best
    one from the grid, or one threshold per input for the input-blind criteria."""
    if crit.name in ("budget", "static"):
        grid = crit.grid(prof.scores(crit), prof.path(crit))
        return grid[np.arange(prof.n) % len(grid)]
    return max(_thresholds(prof, crit, count=25),
               key=lambda t: (len(np.unique(prof.exits(crit, t))), -np.bincount(prof.exits(crit, t)).max()))


def _run(model, inputs, schedule, crit, thr, costs, with_scores=False):
    """(exits [N], answers [N]) of real execution under one schedule (and the scores it
    read, column -> [N, K], if asked)."""
    if schedule == "single":
        runs = []
        for i, inp in enumerate(inputs):
            x, lengths = model.collate([inp])
            runs.append(run_with_exits(model, x, crit, thr[i] if np.ndim(thr) else thr, costs, lengths))
        exits, preds = np.array([int(r.exit[0]) for r in runs]), [r.pred[0] for r in runs]
        scores = {c: np.concatenate([r.scores[c] for r in runs]) for c in runs[0].scores}
    else:
        if schedule == "batch":
            x, lengths = model.collate(inputs)
            r = run_with_exits(model, x, crit, thr, costs, lengths)
        else:
            r = run_stream(model, inputs, crit, thr, costs, batch=7)
        exits, preds, scores = r.exit, r.pred, r.scores
    return (exits, preds, scores) if with_scores else (exits, preds)


def _assert_matches_profile(prof, crit, thr, exits, preds, what):
    expected = prof.exits(crit, thr)
    bad = np.flatnonzero(exits != expected)
    assert len(bad) == 0, f"{what}: exits differ from the profile at {bad[:5]}: {exits[bad[:5]]} vs {expected[bad[:5]]}"
    wrong = [i for i in range(prof.n) if preds[i] != prof.answer(i, expected[i])]
    assert not wrong, f"{what}: answers differ from the profile's for inputs {wrong[:5]}"


class Tagged(MultiExitModel):
    """Wraps a model and records, for every stage and head call, which inputs it got.

    Each input carries its id as one extra feature (the last); the wrapper takes it off
    before the real model sees the features and puts it back after, so the wrapped model
    computes exactly what it would alone."""

    def __init__(self, base: MultiExitModel):
        super().__init__()
        self.base = base
        self.task, self.heads = base.task, base.heads
        self.num_exits, self.exit_names = base.num_exits, base.exit_names
        self.stage_calls: list[tuple[int, np.ndarray, State]] = []  # (k, ids, state given)
        self.head_calls: list[tuple[int, str, np.ndarray, State]] = []

    @staticmethod
    def tag(inputs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [torch.cat([x, torch.full((*x.shape[:-1], 1), float(i))], -1) for i, x in enumerate(inputs)]

    @staticmethod
    def _split(state: State) -> tuple[np.ndarray, State]:
        h = state.h
        ids = (h[:, 0, -1] if h.dim() == 3 else h[:, -1]).round().long().numpy()
        return ids, State(h[..., :-1], state.mask, state.memory)

    @staticmethod
    def _join(ids: np.ndarray, state: State) -> State:
        tag = torch.tensor(ids, dtype=state.h.dtype).reshape(-1, *([1] * (state.h.dim() - 1)))
        return State(torch.cat([state.h, tag.expand(*state.h.shape[:-1], 1)], -1), state.mask, state.memory)

    def embed(self, x, lengths=None):
        ids = (x[:, 0, -1] if x.dim() == 3 else x[:, -1]).round().long().numpy()
        return self._join(ids, self.base.embed(x[..., :-1], lengths))

    def stage(self, k, state):
        ids, inner = self._split(state)
        self.stage_calls.append((k, ids, inner))
        return self._join(ids, self.base.stage(k, inner))

    def head(self, k, state, name):
        ids, inner = self._split(state)
        self.head_calls.append((k, name, ids, inner))
        return self.base.head(k, inner, name)

    def collate(self, inputs):
        return self.base.collate(inputs)

    def errors(self, answer, target):
        return self.base.errors(answer, target)


# ---- exits really stop computation ----------------------------------------------------------


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize(("model_name", "crit_name"), CASES)
def test_exits_stop_computation(bundles, model_name, crit_name, schedule):
    base, inputs, prof = bundles[model_name]
    crit = criteria.get(crit_name)
    thr = _mixed_threshold(prof, crit)
    model = Tagged(base)
    exits, preds = _run(model, Tagged.tag(inputs), schedule, crit, thr, prof.path(crit))
    _assert_matches_profile(prof, crit, thr, exits, preds, schedule)
    assert len(np.unique(exits)) > 1, "the test needs inputs leaving at different exits"

    K, task = prof.k, prof.task_head
    lengths = np.array([len(x) for x in inputs])
    for k in range(K):
        calls = [(ids, st) for kk, ids, st in model.stage_calls if kk == k]
        seen = np.concatenate([ids for ids, _ in calls]) if calls else np.array([], int)
        rows = sum(st.batch_size for _, st in calls)
        alive = np.flatnonzero(exits >= k)
        assert rows == len(alive), f"stage {k} ran {rows} rows for {len(alive)} inputs still running"
        assert sorted(seen.tolist()) == alive.tolist(), f"stage {k} ran on inputs that had left (or missed some)"
        for ids, st in calls:
            if st.mask is not None:  # padding leaves with the inputs: only what the rest need
                assert st.h.shape[1] == lengths[ids].max()
                assert st.mask.sum(1).tolist() == lengths[ids].tolist()
        if schedule == "stream7":  # survivors are re-packed into full batches every stage
            sizes = [st.batch_size for _, st in calls]
            assert len(sizes) == math.ceil(len(alive) / 7) and all(s == 7 for s in sizes[:-1]), sizes

    # heads: exactly those the criterion reads at every exit up to the input's own, plus the
    # task head at its exit, each once; nothing after the exit (this is what Costs.path counts)
    got = Counter((int(i), k, name) for k, name, ids, _ in model.head_calls for i in ids)
    want = Counter()
    read = read_heads(base.heads, crit)
    for i, e in enumerate(exits):
        want.update((i, k, name) for k in range(e + 1) for name in read)
        if task not in read:
            want[(i, int(e), task)] += 1
    assert got == want, f"heads read differ: extra {got - want}, missing {want - got}"


@pytest.mark.parametrize("model_name", ["toy", "seq"])
def test_plain_model_reads_only_the_final_task_head(bundles, model_name):
    base, inputs, prof = bundles[model_name]
    model = Tagged(base)
    r = run_stream(model, Tagged.tag(inputs), None, batch=7)
    assert (r.exit == prof.k - 1).all()
    assert [p for p in r.pred] == [prof.answer(i, prof.k - 1) for i in range(prof.n)]
    for k in range(prof.k):
        assert sum(st.batch_size for kk, _, st in model.stage_calls if kk == k) == prof.n
    assert {(k, name) for k, name, _, _ in model.head_calls} == {(prof.k - 1, prof.task_head)}
    x, lengths = base.collate(inputs)
    assert run_full(base, x, lengths) == [prof.answer(i, prof.k - 1) for i in range(prof.n)]


# ---- real execution equals the profile --------------------------------------------------------


@pytest.mark.parametrize(("model_name", "crit_name"), CASES)
def test_real_execution_equals_profile(bundles, model_name, crit_name):
    model, inputs, prof = bundles[model_name]
    crit = criteria.get(crit_name)
    costs = prof.path(crit)
    thresholds = _thresholds(prof, crit)
    assert len(thresholds) >= 3
    spread = set()
    for thr in thresholds:
        spread.update(prof.exits(crit, thr).tolist())
        for schedule in SCHEDULES:
            exits, preds, scores = _run(model, inputs, schedule, crit, thr, costs, with_scores=True)
            _assert_matches_profile(prof, crit, thr, exits, preds, f"{schedule} at threshold {thr}")
            # the scores shown for a live run are the profile's up to the exit, and unread after it
            read = np.arange(prof.k)[None, :] <= exits[:, None]
            for c in set(scores) - {"pred"}:
                assert np.isnan(scores[c][~read]).all(), c
                np.testing.assert_allclose(scores[c][read], prof.cols[c][read], rtol=1e-5, atol=1e-6, err_msg=c)
    assert len(spread) > 1, "thresholds that all send every input to one exit test little"


@pytest.mark.parametrize("batch", [1, 3, 64, 1000])
@pytest.mark.parametrize(("model_name", "crit_name"), [("toy", "entropy"), ("toy_shared", "patience"),
                                                       ("seq", "ctc_entropy"), ("seq", "daisy")])
def test_any_stream_batch_size(bundles, model_name, crit_name, batch):
    model, inputs, prof = bundles[model_name]
    crit = criteria.get(crit_name)
    thr = _mixed_threshold(prof, crit)
    r = run_stream(model, inputs, crit, thr, prof.path(crit), batch=batch)
    _assert_matches_profile(prof, crit, thr, r.exit, r.pred, f"stream of {batch}")


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize(("model_name", "crit_name"),
                         [("toy", "budget"), ("toy", "confidence"), ("toy_shared", "entropy"), ("seq", "budget"),
                          ("seq", "daisy"), ("seq", "static")])
def test_per_input_thresholds(bundles, model_name, crit_name, schedule):
    """One threshold per input (e.g. each request's own energy budget) is honoured per input."""
    model, inputs, prof = bundles[model_name]
    crit = criteria.get(crit_name)
    costs = prof.path(crit)
    rng = np.random.default_rng(0)
    if crit_name == "budget":  # whole budgets, budgets between two exits, and too small ones
        thr = rng.choice(np.concatenate([costs, costs - 1, costs + 1, [costs[0] / 2]]), prof.n)
    else:
        thr = rng.choice(_thresholds(prof, crit, count=6), prof.n)
    exits, preds = _run(model, inputs, schedule, crit, thr, costs)
    _assert_matches_profile(prof, crit, thr, exits, preds, schedule)
    assert len(np.unique(exits)) > 1
    if crit_name == "budget":  # the deepest exit whose cost fits the input's own budget
        fits = costs[None, :] <= thr[:, None]
        deepest = np.where(fits.any(1), fits.shape[1] - 1 - fits[:, ::-1].argmax(1), 0)
        assert exits.tolist() == deepest.tolist()


# ---- FreeML's shared head ---------------------------------------------------------------------


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_shared_head_memory_is_zero_for_stages_not_run(bundles, schedule):
    base, inputs, prof = bundles["toy_shared"]
    crit = criteria.get("confidence")
    model = Tagged(base)
    _run(model, Tagged.tag(inputs), schedule, crit, _mixed_threshold(prof, crit), prof.path(crit))
    assert model.head_calls
    for k, _, _, st in model.head_calls:
        assert st.memory.shape[1:] == (prof.k, base.config.width)
        assert (st.memory[:, k + 1:] == 0).all(), f"the shared head at exit {k} saw features of later stages"
        assert (st.memory[:, : k + 1].abs().sum(-1) > 0).all(), f"the shared head at exit {k} misses run stages"


def test_shared_head_memory_holds_each_stage_output(bundles):
    model, inputs, _ = bundles["toy_shared"]
    state = model.embed(torch.stack(inputs[:3]))
    assert (state.memory == 0).all()
    with torch.inference_mode():
        for k in range(model.num_exits):
            state = model.stage(k, state)
            assert torch.equal(state.memory[:, k], state.h)
            assert (state.memory[:, k + 1:] == 0).all()


# ---- padding ------------------------------------------------------------------------------------


def test_state_select_trims_padding():
    mask = torch.arange(20)[None, :] < torch.tensor([5, 20, 9])[:, None]
    state = State(torch.randn(3, 20, 4) * mask[..., None], mask)
    kept = state.select(torch.tensor([0, 2]))
    assert kept.h.shape == (2, 9, 4) and kept.mask.shape == (2, 9)
    assert kept.mask.sum(1).tolist() == [5, 9]
    assert torch.equal(kept.h, state.h[[0, 2], :9])
    joined = State.cat([kept, state.select(torch.tensor([1]))])
    assert joined.h.shape == (3, 20, 4) and joined.mask.sum(1).tolist() == [5, 9, 20]


def test_state_split_makes_trimmed_batches_without_copying():
    mask = torch.arange(20)[None, :] < torch.tensor([5, 9, 20, 3, 4])[:, None]
    state = State(torch.randn(5, 20, 4) * mask[..., None], mask)
    parts = state.split(2)
    assert [p.h.shape[:2] for p in parts] == [(2, 9), (2, 20), (1, 4)]
    assert all(p.h.untyped_storage().data_ptr() == state.h.untyped_storage().data_ptr() for p in parts)
    assert torch.equal(State.cat(parts).h, state.h) and state.split(5) == [state]


def test_padding_does_not_change_answers(bundles):
    """A short utterance gets the same scores and answers alone and in a padded batch with
    longer ones, at every exit (the profile pass) and with real exits."""
    model, frames, prof = bundles["seq"]
    order = np.argsort([len(f) for f in frames])
    short, longer = int(order[0]), [int(i) for i in order[-3:]]
    assert len(frames[short]) < len(frames[longer[0]])
    alone_cols, alone_answers = read_all_exits(model, *model.collate([frames[short]]))
    batch_cols, batch_answers = read_all_exits(model, *model.collate([frames[i] for i in longer] + [frames[short]]))
    for c, v in alone_cols.items():
        np.testing.assert_allclose(batch_cols[c][-1], v[0], rtol=1e-5, atol=1e-6, err_msg=c)
    assert [a[-1] for a in batch_answers] == [a[0] for a in alone_answers]

    # with real exits: the long inputs leave first, the short one goes on alone, trimmed
    crit = criteria.get("static")
    thr = np.array([1.0, 1.0, 2.0, float(prof.k)])  # static τ counts exits from 1
    tagged = Tagged(model)
    x, lengths = tagged.collate(Tagged.tag([frames[i] for i in longer] + [frames[short]]))
    r = run_with_exits(tagged, x, crit, thr, prof.path(crit), lengths)
    assert r.exit.tolist() == [0, 0, 1, prof.k - 1]
    assert r.pred[-1] == prof.answer(short, prof.k - 1)
    for k, ids, st in tagged.stage_calls:
        if k >= 2:
            assert ids.tolist() == [3] and st.h.shape[1] == len(frames[short])


# ---- oracles are profile-only -------------------------------------------------------------------


@pytest.mark.parametrize("name", [c.name for c in criteria.CRITERIA.values() if not c.causal])
def test_engine_refuses_oracles(bundles, name):
    model, inputs, prof = bundles["toy"]
    crit = criteria.get(name)
    with pytest.raises(ValueError, match="bound"):
        run_with_exits(model, torch.stack(inputs[:4]), crit, 1.0, prof.path(crit))
    with pytest.raises(ValueError, match="bound"):
        run_stream(model, inputs[:4], crit, 1.0, prof.path(crit), batch=2)
