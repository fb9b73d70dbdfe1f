"""Predict on files: `python -m explorer predict --model MODEL FILE... --json`.

One JSON object per file: the exit really taken (computation stopped there), the
answer, the milliseconds the real early-exit run took, and every exit's answer and
scores (and class probabilities) from a separate all-exits pass, for display. A file
that cannot be used gives {"file": ..., "error": "..."} instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import criteria, zoo
from .engine import read_all_exits, run_with_exits
from .errors import InputError
from .thresholds import default_criterion, recommended

MAX_FILE_BYTES = 50 * 2**20


def read_file(path: str) -> bytes:
    """The file's bytes (at most MAX_FILE_BYTES); InputError if it cannot be read."""
    p = Path(path)
    try:
        if not p.is_file():
            raise InputError(f"no such file: {path}")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"the file is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
        with p.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # a file that grows meanwhile is still bounded
    except OSError as err:  # no permission, a broken disk, a name the system refuses
        raise InputError(f"could not read {path}: {err.strerror or err}") from err
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"the file is over {MAX_FILE_BYTES // 2**20} MB, the limit")
    return data


def predict_input(model_name: str, x, criterion_name: str, threshold: float) -> dict:
    """Run one decoded input with real exits and describe every exit."""
    model = zoo.model(model_name)
    crit = criteria.get(criterion_name)
    prof = zoo.profile(model_name, zoo.get(model_name).test_split)  # for the cost of each exit
    prof_costs = prof.path(crit)
    xb, lengths = model.collate([x])
    result = run_with_exits(model, xb, crit, threshold, prof_costs, lengths)
    logits: list = []
    cols, answers = read_all_exits(model, xb, lengths, logits)
    k = int(result.exit[0])
    per_exit = []
    for j in range(model.num_exits):
        row = {"exit": j, "name": model.exit_names[j], "prediction": model.describe(_plain(answers[j][0]))}
        row.update({c: float(v[0, j]) for c, v in cols.items()})
        if model.task == "class":  # the class probabilities, for the heatmap
            row["probabilities"] = logits[j][0].double().softmax(-1).tolist()
        per_exit.append(row)
    return {"criterion": crit.name, "threshold": threshold, "exit": k, "exits_total": model.num_exits,
            "prediction": model.describe(result.pred[0]), "ms": result.seconds * 1e3,
            "mac_share": float(prof_costs[k] / prof.full()),
            "per_exit": per_exit}


def logmel(model_name: str, samples: np.ndarray) -> np.ndarray:
    """[frames, mels]: a speech model's front-end features of one clip (its spectrogram)."""
    import torch

    with torch.inference_mode():
        feats, _ = zoo.model(model_name).features(torch.from_numpy(samples)[None], torch.tensor([len(samples)]))
    return feats[0].numpy()


def _plain(a):
    return a.item() if isinstance(a, np.generic) else a


def predict_file(model_name: str, path: str, criterion_name: str | None, threshold: float | None) -> dict:
    entry = zoo.get(model_name)
    if entry.decode is None:
        raise InputError(f"model {model_name} takes no files")
    crit = criterion_name or default_criterion(model_name)
    threshold = recommended(model_name, crit) if threshold is None else threshold
    x = entry.decode(read_file(path)).x
    return {"file": path, **predict_input(model_name, x, crit, threshold)}
