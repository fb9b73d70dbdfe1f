"""Real early exit: run stage by stage and stop computing for each input once its
criterion passes. After every exit point the samples that left are dropped from the
batch (with their padding), so nothing is ever computed for a sample after its exit.

Two schedules share one loop (`_run`):
- `run_with_exits`: one batch that shrinks as samples leave (latency; batch 1).
- `run_stream`: many inputs, `batch` at a time, stage by stage; after each stage the
  survivors of all batches are decided on together and packed into full batches
  again, so a stage never runs on a few stragglers while its weights could serve a
  full batch, and the per-exit bookkeeping (heads, decision, dropping the leavers)
  happens once per stage, not once per batch (throughput).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from .costs import read_heads
from .criteria import Criterion, Evidence
from .models.base import MultiExitModel, State
from .readout import KIND_COLUMNS, Interner, read_head, read_pred


@dataclass
class ExitResult:
    exit: np.ndarray  # [N] exit index taken by each sample
    pred: list  # [N] the answer: a class id, or a transcript as a token tuple
    scores: dict[str, np.ndarray]  # column -> [N, K], NaN where not read (after the exit)
    seconds: float  # wall clock of the whole call


class _Decider:
    """Reads the criterion's heads for the samples still running at exit k and says who leaves."""

    def __init__(self, model: MultiExitModel, n: int, criterion: Criterion | None, threshold, costs):
        if criterion is not None and not criterion.causal:
            raise ValueError(f"{criterion.name} is a bound that needs labels or the final exit; "
                             "it can only be read from a profile")
        if criterion is not None and criterion.needs_costs and costs is None:
            raise ValueError(f"{criterion.name} needs the cost of each exit: pass costs=profile.path(criterion)")
        self.model, self.criterion, K = model, criterion, model.num_exits
        self.heads = read_heads(model.heads, criterion) if criterion else []
        self.tau = np.full(n, threshold, np.float64)  # one per sample (a number is copied to each)
        self.costs = np.zeros(K) if costs is None else np.asarray(costs, np.float64)
        cols = {c for h in self.heads for c in KIND_COLUMNS[model.heads[h]]}
        self.history = {c: np.full((n, K), np.nan) for c in cols}
        self.exit = np.full(n, K - 1)
        self.pred: list = [None] * n
        self.intern = Interner()

    def __call__(self, k: int, ids: np.ndarray, state: State) -> tuple[np.ndarray, State]:
        """Decide for the samples `ids` (in `state`) after stage k; return those that go on."""
        model, crit, last = self.model, self.criterion, k == self.model.num_exits - 1
        reads: dict = {}
        for name in self.heads:
            reads.update(read_head(model.heads[name], model.head(k, state, name), state.mask, model.ctc_silent))
        answers = reads.get("pred")
        if answers is not None:
            reads["pred"] = self.intern(answers)
        for c, v in reads.items():
            self.history[c][ids, k] = v

        if last or crit is None:
            leaving = np.full(len(ids), last)
        else:
            ev = Evidence({c: self.history[c][ids, : k + 1] for c in crit.reads}, self.costs, len(ids), k + 1)
            leaving = crit.passes(crit.score(ev)[:, -1], self.tau[ids])
        if not leaving.any():
            return ids, state

        idx = leaving.nonzero()[0]  # the ndarray methods: a batch of one pays each call's overhead
        if answers is None:  # the criterion did not read the answer: read it for the leavers only
            sub = state if len(idx) == len(ids) else state.select(torch.from_numpy(idx))
            answers = read_pred(model.heads[model.task_head], model.head(k, sub, model.task_head), sub.mask,
                                model.ctc_silent)
        else:
            answers = [answers[i] for i in idx]
        for i, a in zip(ids[idx], answers, strict=False):
            self.pred[i] = a.item() if isinstance(a, np.generic) else a
        self.exit[ids[idx]] = k
        stay = (~leaving).nonzero()[0]
        if len(stay) == 0:
            return stay, state
        return ids[stay], state.select(torch.from_numpy(stay))


@torch.inference_mode()
def _run(model: MultiExitModel, states: list[State], batch: int, criterion, threshold, costs):
    """states: the embedded inputs in batches of at most `batch`, in input order."""
    start, K = time.perf_counter(), model.num_exits
    ids = np.arange(sum(s.batch_size for s in states))
    decide = _Decider(model, len(ids), criterion, threshold, costs)
    for k in range(K):
        states = [model.stage(k, s) for s in states]  # the heavy part, `batch` rows at a time
        if criterion is None and k < K - 1:
            continue  # the plain model reads nothing before its last stage
        ids, state = decide(k, ids, State.cat(states))
        if not len(ids):
            break
        states = state.split(batch)
    return ExitResult(decide.exit, decide.pred, decide.history, time.perf_counter() - start)


def run_with_exits(model: MultiExitModel, x: torch.Tensor, criterion: Criterion, threshold,
                   costs: np.ndarray | None = None, lengths: torch.Tensor | None = None) -> ExitResult:
    """Run one batch `x` [B, ...] with real exits.

    threshold: a number, or one per sample (e.g. a per-input energy budget).
    costs: [K] cumulative MACs on this criterion's path (needed by the budget criterion).
    """
    with torch.inference_mode():
        state = model.embed(x, lengths)
    return _run(model, [state], x.shape[0], criterion, threshold, costs)


def run_stream(model: MultiExitModel, inputs: list[torch.Tensor], criterion: Criterion | None,
               threshold=None, costs: np.ndarray | None = None, batch: int = 64) -> ExitResult:
    """Run many inputs, `batch` at a time, with real exits (criterion None: the plain
    model, every stage and only the final task head)."""
    start = time.perf_counter()
    with torch.inference_mode():
        states = [model.embed(*model.collate(inputs[i:i + batch])) for i in range(0, len(inputs), batch)]
    out = _run(model, states, batch, criterion, threshold, costs)
    out.seconds = time.perf_counter() - start
    return out


@torch.inference_mode()
def run_full(model: MultiExitModel, x: torch.Tensor, lengths: torch.Tensor | None = None) -> list:
    """The plain model on one batch: every stage, only the final task head."""
    state = model.embed(x, lengths)
    for k in range(model.num_exits):
        state = model.stage(k, state)
    logits = model.head(model.num_exits - 1, state, model.task_head)
    out = read_pred(model.heads[model.task_head], logits, state.mask, model.ctc_silent)
    return [p.item() if isinstance(p, np.generic) else p for p in out]


@torch.inference_mode()
def read_all_exits(model: MultiExitModel, x: torch.Tensor, lengths: torch.Tensor | None = None,
                   task_logits: list | None = None):
    """Profile pass: every stage and every head, no exits. Returns (columns, answers):
    columns: name -> [B, K] scores, answers: per exit, the B raw predictions.
    task_logits: if given, the task head's logits at each exit are appended to it."""
    state = model.embed(x, lengths)
    K, B = model.num_exits, x.shape[0]
    cols: dict[str, np.ndarray] = {}
    answers = []
    for k in range(K):
        state = model.stage(k, state)
        for name, kind in model.heads.items():
            logits = model.head(k, state, name)
            out = read_head(kind, logits, state.mask, model.ctc_silent)
            if name == model.task_head and task_logits is not None:
                task_logits.append(logits)
            if name != model.task_head:
                out.pop("pred", None)
            else:
                answers.append(out.pop("pred"))
            for c, v in out.items():
                cols.setdefault(c, np.full((B, K), np.nan))[:, k] = v
    return cols, answers
