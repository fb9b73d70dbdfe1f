"""`--model path/to/file.py:build`: your own PyTorch model in the multi-exit contract.

The file is Python you wrote; it is executed only because you named it on the command
line (never from a web form). `build()` returns a `MultiExitModel`; the file may also
define `data(split)` returning (inputs, targets) for the splits "calib" and "test" (and
"train" for trained exits), which profile / sweep / bench / report then use. A model
that reads a data folder defines `family` ("image" or "speech") and `prepare` (a PIL
image or a waveform -> one input) instead, and is imported with `--data DIR`.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from functools import cache
from pathlib import Path

from .models.base import MultiExitModel


def is_user_source(source: str) -> bool:
    path, _, fn = source.rpartition(":")
    return bool(fn) and path.endswith(".py")


@cache
def _module(path: str):
    p = Path(path).expanduser().resolve()
    if not p.is_file():
        raise ValueError(f"no such file: {path}")
    name = "explorer_user_" + hashlib.sha256(str(p).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, p)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as err:  # the user's code: report it in words, with its own message
        del sys.modules[name]
        raise ValueError(f"{path} failed to load: {type(err).__name__}: {err}") from err
    return module


def function(source: str, default: str = "build"):
    path, _, fn = source.rpartition(":")
    module = _module(path)
    if not hasattr(module, fn or default):
        raise ValueError(f"{path} defines no function {fn or default}()")
    return getattr(module, fn or default)


def build(source: str) -> MultiExitModel:
    model = function(source)()
    if not isinstance(model, MultiExitModel):
        raise ValueError(f"{source} returned a {type(model).__name__}, not a MultiExitModel "
                         "(see explorer/models/base.py and examples/)")
    return model.eval()


def data_function(source: str):
    """The file's data(split) function, or None."""
    path, _, _ = source.rpartition(":")
    return getattr(_module(path), "data", None)


def content_hash(source: str) -> str:
    path, _, _ = source.rpartition(":")
    return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest()
