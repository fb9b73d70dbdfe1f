"""Every model on ONNX Runtime, as registry entries: `NAME@onnx` and `NAME@onnx-int8`.

`--runtime onnx` (bench, predict, profile) and the app's runtime choice name these views,
so every command and page runs them unchanged. A view shares its model's data, splits,
decoder, noise and report; its profiles go to the cache. Its graphs are exported on first use into
the cache, keyed by the model's fingerprint (a changed model is exported anew), the int8
ones calibrated on the model's calibration split. Not listed on any page's menu: a page
reaches a view through its runtime choice.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from . import paths, zoo

RUNTIMES = {"torch": "", "onnx": "@onnx", "onnx-int8": "@onnx-int8"}  # runtime -> suffix of the view's name
LABELS = {"torch": "PyTorch", "onnx": "ONNX Runtime", "onnx-int8": "ONNX Runtime, int8 stages"}


def view(name: str, runtime: str) -> str:
    """The name of model `name` on `runtime` (one of RUNTIMES)."""
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; runtimes: {', '.join(RUNTIMES)}")
    return name + RUNTIMES[runtime]


def split(name: str) -> tuple[str, str]:
    """(model, runtime) of a view's name; a plain name is on torch."""
    for runtime, suffix in RUNTIMES.items():
        if suffix and name.endswith(suffix):
            return name[: -len(suffix)], runtime
    return name, "torch"


def folder(name: str, int8: bool = False) -> Path:
    """Where model `name`'s export lives in the cache (its fingerprint in the folder's name)."""
    from .profile import fingerprint

    return paths.CACHE / "onnx" / f"{name}-{fingerprint(zoo.model(name))[:12]}{'-int8' if int8 else ''}"


def exported(name: str, int8: bool = False):
    """The export of model `name` in the cache, made now if missing (see `export.export`). Its
    exits.json names the model's starting criterion at that criterion's default threshold: the
    runtime itself takes both from the command or page that runs it."""
    from .criteria import get
    from .export import Exported, export
    from .thresholds import default_criterion

    out = folder(name, int8)
    if (out / "exits.json").exists():
        return Exported(out, json.loads((out / "exits.json").read_text()))
    criterion = get(default_criterion(name))
    return export(zoo.model(name), out, name, criterion.name, criterion.default,
                  calibration_batches(name) if int8 else None)


def calibration_batches(name: str, n: int = 128, batch: int = 16) -> list:
    """(x, lengths) batches of the first `n` inputs of the model's calibration split."""
    entry, model = zoo.get(name), zoo.model(name)
    inputs, targets = entry.data(entry.calib_split)
    return [(x, lengths) for x, lengths, _ in zoo.batches(model, inputs[:n], targets[:n], batch)]


def entry(name: str):
    base, runtime = split(name)
    if runtime == "torch":
        return None
    try:
        model = zoo.get(base)
    except ValueError:
        return None

    def load():
        from .onnx_runtime import OnnxModel

        return OnnxModel(exported(base, runtime == "onnx-int8").folder, like=zoo.model(base))

    return replace(model, name=name, title=f"{model.title} ({LABELS[runtime]})", load=load,
                   profile_dir=paths.CACHE / "profiles", pages=frozenset(), head_views=())


PROVIDER = zoo.Provider(lambda page: [], entry)
