"""What each exit costs: MACs counted by torch and milliseconds measured here.

The cost of leaving at exit k is the front end, stages 0..k, every head the
criterion read on the way (exits 0..k), and the task head at k if the criterion
did not read it already. That one rule (`Costs.path`) is used by sweeps, the
benchmark's ideal speedup and the budget criterion alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

from .criteria import Criterion
from .models.base import MultiExitModel
from .readout import KIND_COLUMNS, read_head


@dataclass
class Costs:
    front: float  # input embedding / front end
    stage: np.ndarray  # [K] each stage alone
    head: dict[str, np.ndarray] = field(default_factory=dict)  # name -> [K] each head alone

    def path(self, read_heads, task_head: str) -> np.ndarray:
        """[K] cumulative cost of exiting at each exit, reading `read_heads` on the way."""
        read_heads = set(read_heads)
        per_exit = self.stage.astype(np.float64).copy()
        for name in read_heads:
            per_exit += self.head[name]
        cum = self.front + np.cumsum(per_exit)
        if task_head not in read_heads:  # the answer itself, only at the exit taken
            cum += self.head[task_head]
        return cum

    def full(self, task_head: str) -> float:
        """The plain model: every stage and only the final task head."""
        return float(self.front + self.stage.sum() + self.head[task_head][-1])

    def to_dict(self) -> dict:
        return {"front": float(self.front), "stage": self.stage.tolist(),
                "head": {k: v.tolist() for k, v in self.head.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> Costs:
        return cls(d["front"], np.asarray(d["stage"], np.float64),
                   {k: np.asarray(v, np.float64) for k, v in d["head"].items()})


def read_heads(heads: dict[str, str], criterion: Criterion) -> list[str]:
    """The heads (name -> kind, task head first) a criterion needs read at every exit:
    those yielding its columns. "pred" comes from the task head only."""
    task_head = next(iter(heads))
    out = []
    for name, kind in heads.items():
        cols = set(KIND_COLUMNS[kind]) & set(criterion.reads)
        if name != task_head:
            cols.discard("pred")
        if cols:
            out.append(name)
    return out


def _trace(model: MultiExitModel):
    """Yield (part, key, thunk) for the front end, each stage and each head at batch 1,
    where the thunk runs that part alone on the example input's features."""
    x, lengths = model.example_input()
    device = next(model.parameters(), x).device  # measured where the model is (CPU or GPU)
    x, lengths = x.to(device), None if lengths is None else lengths.to(device)
    state = model.embed(x, lengths)
    yield "front", None, lambda: model.embed(x, lengths)
    for k in range(model.num_exits):
        prev = state
        yield "stage", k, lambda prev=prev, k=k: model.stage(k, prev)
        state = model.stage(k, prev)
        for name, kind in model.heads.items():
            yield name, k, lambda s=state, k=k, n=name, kd=kind: read_head(kd, model.head(k, s, n), s.mask,
                                                                              model.ctc_silent)


def _fill(model: MultiExitModel, measure) -> Costs:
    K = model.num_exits
    costs = Costs(0.0, np.zeros(K), {n: np.zeros(K) for n in model.heads})
    for part, k, thunk in _trace(model):
        value = measure(thunk)
        if part == "front":
            costs.front = value
        elif part == "stage":
            costs.stage[k] = value
        else:
            costs.head[part][k] = value
    return costs


@torch.inference_mode()
def count_macs(model: MultiExitModel) -> Costs:
    """Multiply-accumulates of each part at batch 1 (FLOPs / 2, as torch counts them)."""
    if (known := model.known_macs()) is not None:
        return Costs.from_dict(known)

    def macs(thunk) -> float:
        with FlopCounterMode(display=False) as counter:
            thunk()
        return counter.get_total_flops() / 2

    return _fill(model, macs)


@torch.inference_mode()
def measure_ms(model: MultiExitModel, min_run_time: float = 0.1) -> Costs:
    """Median wall-clock milliseconds of each part at batch 1 on this machine."""

    def ms(thunk) -> float:
        timer = benchmark.Timer(stmt="thunk()", globals={"thunk": thunk},
                                num_threads=torch.get_num_threads())
        return timer.blocked_autorange(min_run_time=min_run_time).median * 1e3

    return _fill(model, ms)
