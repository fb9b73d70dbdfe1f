"""The built-in models: how to load each, its evaluation data and its profiles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import torch

from . import checkpoint
from .models.base import MultiExitModel
from .paths import CACHE
from .profile import Profile, Progress, cached_profile


@dataclass(frozen=True)
class BuiltIn:
    name: str
    title: str
    load: Callable[[], MultiExitModel]
    data: Callable[[str], tuple[list[torch.Tensor], list]]  # split -> (inputs, targets)
    calib_split: str = "val"  # thresholds are chosen here
    test_split: str = "test"  # and reported here, never chosen on
    profile_dir: object = CACHE / "profiles"


# ---- toy: trained on first use (seconds) and cached ------------------------------------
def _toy_config():
    from .models.toy import ToyConfig

    # stages heavy enough that a stage costs far more than the engine's per-exit
    # bookkeeping, as in a real backbone; trains in about half a minute
    return ToyConfig(width=512, hidden=2048, num_stages=8)


def _load_toy() -> MultiExitModel:
    from .models.toy import ToyConfig, ToyMLP, train_toy

    cfg = _toy_config()
    path = CACHE / "models" / f"toy-w{cfg.width}-h{cfg.hidden}-s{cfg.num_stages}-seed{cfg.seed}"
    if not checkpoint.exists(path):
        checkpoint.save(train_toy(cfg, steps=200), path)
    return checkpoint.load(ToyMLP, ToyConfig, path)


def _toy_data(split: str):
    from .models.toy import toy_data

    x, y, _ = toy_data(1000, _toy_config(), seed={"val": 11, "test": 12}[split])
    return list(x), y.tolist()


BUILT_INS = {
    m.name: m
    for m in [
        BuiltIn("toy", "Toy MLP (synthetic data)", _load_toy, _toy_data),
    ]
}


def get(name: str) -> BuiltIn:
    try:
        return BUILT_INS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; built-in models: {', '.join(BUILT_INS)}") from None


@cache
def model(name: str) -> MultiExitModel:
    return get(name).load()


def batches(model: MultiExitModel, inputs: list, targets: list, size: int):
    """(x, lengths, targets) batches in order."""
    for i in range(0, len(inputs), size):
        x, lengths = model.collate(inputs[i:i + size])
        yield x, lengths, targets[i:i + size]


def profile(name: str, split: str, progress: Progress | None = None) -> Profile:
    """The profile of a built-in model on one split: loaded if current, else built."""
    entry, m = get(name), model(name)
    inputs, targets = entry.data(split)
    return cached_profile(m, name, split, lambda: batches(m, inputs, targets, 64), entry.profile_dir,
                          total=len(inputs), progress=progress)
