"""Memory as a cost next to MACs and milliseconds: counted where counting is exact,
measured where it is not.

- Weights: the bytes of every tensor in the model's checkpoint (int8 weights count one
  byte each, plus their scales), split by where they are used: the front end and stages
  ("backbone"), each head, and "unused" for tensors inference never reads (e.g. the
  other view's head, a training-only embedding). Which module belongs where is found by
  running one input through the contract (embed, stages, heads) with forward hooks, so
  it works on any nn.Module-based MultiExitModel.
- Checkpoint: the size on disk of its safetensors file + JSON config, as the explorer
  saves it (written to a temporary folder and measured).
- Peak memory of one batch-1 inference up to each exit, measured two ways:
  * torch's CPU allocator, exact: with the profiler's memory recording on, every
    allocation and free torch makes (activations, im2col and other kernel workspaces,
    int8 copies of activations) is an event with its size; the running sum's maximum
    over one inference is its peak. Python's tracemalloc does not see these.
  * the process's resident memory (`rss=True`): in a fresh subprocess, with glibc told
    to map allocations of 4 KiB or more on their own (so freed memory leaves at once),
    the peak resident size (VmHWM, reset through /proc/self/clear_refs before each run)
    minus the resident size before the run. Coarse: Linux updates a process's resident counters in batches
    of up to 64 pages per thread, so growth under ~256 KiB can read as 0 and the spread
    is about that size; it does include what torch's allocator cannot see (glibc's own
    bookkeeping, Python objects).
  The engine runs the inference with the static criterion (a real exit: later stages
  never run); repeated, median and spread (max - min) kept. Weights are resident before
  the run, so both figures are what one inference adds on top of the weights.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from .models.base import MultiExitModel


@dataclass
class Memory:
    model: str
    weights: dict[str, int]  # part -> bytes: "backbone", one entry per head name, "unused"
    weights_to_exit: list[int]  # [K] bytes of weights read by an inference leaving at exit k
    checkpoint_bytes: int  # safetensors + JSON on disk
    peak_bytes: list[float]  # [K] torch allocator's peak of one batch-1 inference leaving at exit k (median)
    peak_spread: list[float]  # [K] max - min over the repeats
    repeats: int
    rss_peak_bytes: list[float] | None = None  # [K] resident growth in a fresh process (median), if measured
    rss_spread: list[float] | None = None

    @property
    def weights_total(self) -> int:
        return sum(self.weights.values())

    def to_dict(self) -> dict:
        return asdict(self)


def _state_bytes(state: dict) -> dict[str, int]:
    return {k: v.numel() * v.element_size() for k, v in state.items()}


@torch.inference_mode()
def _module_roles(model: MultiExitModel) -> dict[str, tuple[str, int]]:
    """module name -> (role, exit) of its first call at batch 1: ("front", -1),
    ("stage", k) or (head name, k)."""
    names = {id(m): n for n, m in model.named_modules()}
    roles: dict[str, tuple[str, int]] = {}
    now: list = [("front", -1)]

    def seen(module, args) -> None:  # returns None: the inputs are left as they are
        roles.setdefault(names[id(module)], now[0])

    hooks = [m.register_forward_pre_hook(seen) for m in model.modules() if m is not model]
    try:
        x, lengths = model.example_input()
        state = model.embed(x, lengths)
        for k in range(model.num_exits):
            now[0] = ("stage", k)
            state = model.stage(k, state)
            for name in model.heads:
                now[0] = (name, k)
                model.head(k, state, name)
    finally:
        for h in hooks:
            h.remove()
    return roles


def _owner(key: str, roles: dict) -> tuple[str, int] | None:
    """The role of the deepest called module holding tensor `key` (None: never called)."""
    parts = key.split(".")[:-1]
    for i in range(len(parts), 0, -1):
        role = roles.get(".".join(parts[:i]))
        if role is not None:
            return role
    return None


def weight_bytes(model: MultiExitModel) -> tuple[dict[str, int], list[int]]:
    """(bytes per part, bytes read up to each exit) of the model's checkpoint tensors."""
    roles = _module_roles(model)
    parts: dict[str, int] = {"backbone": 0, **{h: 0 for h in model.heads}, "unused": 0}
    K = model.num_exits
    front, stage = 0, np.zeros(K, np.int64)
    head = {h: np.zeros(K, np.int64) for h in model.heads}
    for key, n in _state_bytes(model.state_dict()).items():
        role = _owner(key, roles)
        if role is None:
            parts["unused"] += n
        elif role[0] in ("front", "stage"):
            parts["backbone"] += n
            if role[0] == "front":
                front += n
            else:
                stage[role[1]] += n
        else:
            parts[role[0]] += n
            head[role[0]][role[1]] += n
    # leaving at exit k reads the front end, stages 0..k and the task head's weights
    # first used at exits 0..k (a shared head's weights are all used at exit 0)
    task = head[model.task_head]
    upto = [int(front + stage[: k + 1].sum() + task[: k + 1].sum()) for k in range(K)]
    return parts, upto


def checkpoint_bytes(model: MultiExitModel) -> int:
    """Bytes on disk of the model saved as the explorer saves models (safetensors + JSON)."""
    from .compress import save_variant

    with tempfile.TemporaryDirectory() as tmp:
        path = save_variant(model, "m", {"base": None, "method": "measure"}, Path(tmp))
        return sum(p.stat().st_size for p in Path(tmp).iterdir() if p.name.startswith(path.name))


# ---- peak memory of one inference ----------------------------------------------------------
def _allocator_peak(fn) -> float:
    """Peak bytes torch's CPU allocator holds for `fn` beyond what it held before."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events()
                    if e.name() == "[memory]")
    live = np.cumsum([n for _, n in events]) if events else np.zeros(1)
    return float(max(0, live.max()))


def allocator_peaks(model: MultiExitModel, repeats: int = 5) -> tuple[list[float], list[float]]:
    """(median, spread) per exit of torch's allocator peak for one batch-1 inference that
    the engine runs with a real exit at k."""
    from .criteria import get
    from .engine import run_with_exits

    crit = get("static")  # τ = k + 1: leave at exit k + 1 (counted from 1), index k
    x, lengths = model.example_input()
    for k in range(model.num_exits):  # warm up: one-off lazy initialisation is not per inference
        run_with_exits(model, x, crit, k + 1, lengths=lengths)
    runs = np.array([[_allocator_peak(lambda k=k: run_with_exits(model, x, crit, k + 1, lengths=lengths))
                      for _ in range(repeats)] for k in range(model.num_exits)])
    return np.median(runs, 1).tolist(), (runs.max(1) - runs.min(1)).tolist()


# ---- resident memory, in a fresh process ---------------------------------------------------
# glibc maps every allocation of 4 KiB or more on its own and gives it back when freed,
# so an inference's activations show in the resident size instead of reusing heap pages
_ENV = {"MALLOC_MMAP_THRESHOLD_": "4096", "MALLOC_TRIM_THRESHOLD_": "0", "OMP_NUM_THREADS": "1",
        "OMP_WAIT_POLICY": "PASSIVE"}


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current resident size


def _rss_here(model: MultiExitModel, repeats: int) -> list[list[float]]:
    """[K][repeats] resident growth (bytes) of one batch-1 inference leaving at exit k,
    run by the engine with the static criterion (a real exit: later stages never run)."""
    import gc

    from .criteria import get
    from .engine import run_with_exits

    crit = get("static")  # τ = k + 1: leave at exit k + 1 (counted from 1), index k
    x, lengths = model.example_input()
    for k in range(model.num_exits):  # warm up: one-off lazy initialisation is not per inference
        run_with_exits(model, x, crit, k + 1, lengths=lengths)
    out = [[] for _ in range(model.num_exits)]
    for _ in range(repeats):
        for k in range(model.num_exits):
            gc.collect()
            before = _status_kb("VmRSS")
            _reset_peak()
            run_with_exits(model, x, crit, k + 1, lengths=lengths)
            out[k].append(1024.0 * (_status_kb("VmHWM") - before))
    return out


def rss_peaks(name: str, repeats: int = 7, directory: Path | None = None) -> tuple[list[float], list[float]]:
    """(median, spread) per exit of the resident growth of one batch-1 inference of model
    `name` (a registered model, or a variant saved in `directory`), in a fresh subprocess."""
    cmd = [sys.executable, "-m", "explorer.memory", name, "--repeats", str(repeats)]
    if directory is not None:
        cmd += ["--dir", str(directory)]
    env = {**os.environ, **_ENV}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise ValueError(f"measuring the memory of {name} failed: {done.stderr.strip().splitlines()[-1:]}")
    runs = np.asarray(json.loads(done.stdout.strip().splitlines()[-1]), np.float64)  # [K, repeats]
    return np.median(runs, 1).tolist(), (runs.max(1) - runs.min(1)).tolist()


def measure(name: str, model: MultiExitModel, repeats: int = 5, rss: bool = False,
            directory: Path | None = None) -> Memory:
    """Every memory figure of one model (`name` as the registry or `directory` knows it);
    rss: also the resident growth in a fresh process (slow: seconds to start one)."""
    parts, upto = weight_bytes(model)
    peak, spread = allocator_peaks(model, repeats)
    out = Memory(name, parts, upto, checkpoint_bytes(model), peak, spread, repeats)
    if rss:
        out.rss_peak_bytes, out.rss_spread = rss_peaks(name, repeats, directory)
    return out


def _child(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="peak resident memory per exit (run by memory.rss_peaks)")
    p.add_argument("name")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--dir", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)  # batch 1 on a small device: one thread, and no pool per run
    if args.dir:
        from .compress import load_variant

        model = load_variant(args.name, Path(args.dir))
    else:
        from . import zoo

        model = zoo.model(args.name)
    print(json.dumps(_rss_here(model, args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
