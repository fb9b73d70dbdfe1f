"""Checkpoints are safetensors weights plus a JSON config: nothing is ever unpickled."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from safetensors.torch import load_file, save_file


def save(model, path: Path, extra: dict | None = None) -> Path:
    """Write `path`.safetensors and `path`.json (the model's config dataclass + extra)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path.with_suffix(".safetensors")))
    meta = {"config": asdict(model.config), **(extra or {})}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    return path


def load(model_cls, config_cls, path: Path, **overrides):
    """Rebuild a model from its config (with `overrides`) and weights; eval mode,
    gradients off."""
    path = Path(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    model = model_cls(config_cls(**{**meta["config"], **overrides}))
    model.load_state_dict(load_file(str(path.with_suffix(".safetensors"))))
    model.eval().requires_grad_(False)
    return model


def exists(path: Path) -> bool:
    path = Path(path)
    return path.with_suffix(".safetensors").exists() and path.with_suffix(".json").exists()


def to_half(path: Path) -> Path:
    """Store a checkpoint's floating-point weights in float16 (shipped models: half the
    bytes; `load` copies them back into the model's float32 parameters)."""
    from safetensors.torch import load_file

    path = Path(path).with_suffix(".safetensors")
    state = {k: v.half() if v.is_floating_point() else v for k, v in load_file(str(path)).items()}
    save_file(state, str(path))
    return path
