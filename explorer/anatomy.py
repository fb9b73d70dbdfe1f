"""A model's anatomy: parameters, MACs and measured ms of its front end, each stage
and each head, and what a shared exit head saves over one head per exit.

Parameters are counted from the modules each part really calls (found with forward
hooks on a copy of the model, so a cached model shared by other threads is never
touched); MACs and ms come from the model's profile.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pandas as pd
import torch

from .memo import memoized
from .models.base import MultiExitModel
from .profile import Profile


def _own_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False))


@dataclass(frozen=True)
class ParameterCounts:
    """Parameters each part of a model calls at batch 1."""

    front: int  # the front end
    stage: list[int]  # [K] each stage
    head: dict[str, list[int]]  # head name -> [K] parameters read at each exit
    head_total: dict[str, int]  # head name -> distinct parameters over every exit (a shared head counts once)
    total: int  # every parameter of the model, training-only ones included


@memoized("Counting parameters", max_entries=32)  # keyed by the model object
@torch.inference_mode()
def parameter_counts(model: MultiExitModel) -> ParameterCounts:
    work = copy.deepcopy(model).eval()
    called: dict[int, torch.nn.Module] = {}

    def seen(mod, _args) -> None:  # a pre-hook returning something would replace the inputs
        called[id(mod)] = mod

    hooks = [m.register_forward_pre_hook(seen) for m in work.modules() if _own_params(m)]
    by_head: dict[str, dict[int, torch.nn.Module]] = {name: {} for name in work.heads}

    def count(thunk):
        called.clear()
        out = thunk()
        return out, sum(_own_params(m) for m in called.values())

    try:
        x, lengths = work.example_input()
        state, front = count(lambda: work.embed(x, lengths))
        stage, head = [], {name: [] for name in work.heads}
        for k in range(work.num_exits):
            state, n = count(lambda k=k, s=state: work.stage(k, s))
            stage.append(n)
            for name in work.heads:
                _, n = count(lambda k=k, s=state, name=name: work.head(k, s, name))
                head[name].append(n)
                by_head[name].update(called)
    finally:
        for h in hooks:
            h.remove()
    return ParameterCounts(front, stage, head,
                           {name: sum(_own_params(m) for m in mods.values()) for name, mods in by_head.items()},
                           sum(p.numel() for p in model.parameters()))


def parts_table(params: ParameterCounts, prof: Profile) -> list[dict]:
    """One row per part (front end, each stage, each head at each exit): parameters,
    MACs and measured ms at batch 1, in the order the engine runs them."""
    names = prof.meta.exit_names
    rows = [{"exit": "input", "part": "front end", "parameters": params.front,
             "MACs": prof.macs.front, "ms": prof.ms.front}]
    for k, where in enumerate(names):
        rows.append({"exit": where, "part": "stage", "parameters": params.stage[k],
                     "MACs": float(prof.macs.stage[k]), "ms": float(prof.ms.stage[k])})
        for name, kind in prof.meta.heads.items():
            rows.append({"exit": where, "part": f"{name} head ({kind})", "parameters": params.head[name][k],
                         "MACs": float(prof.macs.head[name][k]), "ms": float(prof.ms.head[name][k])})
    return rows


def head_overhead(heads: dict[str, tuple[ParameterCounts, Profile]]) -> list[dict]:
    """Per-exit heads against a shared exit head (FreeML): `heads` maps a label to
    (parameter counts, profile) of one view of the same backbone. One row per view:
    the head's parameters, its cost per read and if read at every exit (as the
    confidence criteria do), that cost as a share of the backbone, and accuracy."""
    rows = []
    for label, (params, prof) in heads.items():
        task = prof.task_head
        backbone = prof.macs.front + float(prof.macs.stage.sum())
        every = float(prof.macs.head[task].sum())
        quality = [prof.quality(prof.exit_error(k)) for k in range(prof.k)]
        rows.append({
            "head": label,
            "parameters": params.head_total[task],
            "MACs per read": every / prof.k,
            "MACs read at every exit": every,
            "share of backbone MACs": every / backbone,
            "ms per read (measured)": float(prof.ms.head[task].mean()),
            "accuracy, first exit": quality[0],
            "accuracy, last exit": quality[-1],
        })
    return rows


def by_exit(rows: list[dict]) -> pd.DataFrame:
    """`parts_table` rows as one row per exit point: the backbone part (front end or
    stage) and each head side by side, parameters, MACs and ms of each."""
    df = pd.DataFrame(rows)
    df["part"] = df["part"].replace({"front end": "backbone", "stage": "backbone"}).str.replace(r" \(.*\)", "",
                                                                                                 regex=True)
    parts = list(dict.fromkeys(df["part"]))
    wide = df.pivot(index="exit", columns="part", values=["parameters", "MACs", "ms"])
    wide = wide.reindex(list(dict.fromkeys(df["exit"])))
    wide.columns = [f"{part} {measure}" for measure, part in wide.columns]
    return wide[[f"{p} {m}" for p in parts for m in ("parameters", "MACs", "ms")]].reset_index()
