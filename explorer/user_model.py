"""`--model path/to/file.py:build`: your own PyTorch model in the multi-exit contract.

The file is Python you wrote; it is executed only because you named it on the command
line (never from a web form). `build()` returns a `MultiExitModel`; the file may also
define `data(split)` returning (inputs, targets) for the splits "calib" and "test" (and
"train" for trained exits), which profile / sweep / bench / report then use. A model
that reads a data folder defines `family` ("image" or "speech") and `prepare` (a PIL
image or a waveform -> one input) instead, and is imported with `--data DIR`.
This module is the registry's provider of such models (`PROVIDER`, installed by
`explorer.setup`): light, torch only once a model is built.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from . import zoo
from .paths import CACHE

if TYPE_CHECKING:
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
    from .models.base import MultiExitModel

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


def entry(source: str) -> zoo.BuiltIn | None:
    """The registry entry of `file.py:build` (of any other name: None)."""
    if not is_user_source(source):
        return None
    data = data_function(source)

    def no_data(split):
        raise ValueError(f"{source} defines no data(split); import it with a data folder: "
                         f"python -m explorer import {source} --data DIR --name NAME")

    return zoo.BuiltIn(source, f"your model {source}", lambda: build(source), data or no_data,
                       calib_split="calib", test_split="test",  # keyed by the file's content: an edit rebuilds
                       profile_dir=CACHE / "profiles" / "user" / content_hash(source)[:12])


PROVIDER = zoo.Provider(lambda page: [], entry)  # named on the command line, never listed on a page
