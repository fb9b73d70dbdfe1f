"""Start-up: every source of models joins the registry (explorer.zoo), from above.

The registry sits at the bottom and imports none of them; `install()` is the one place
that knows them all. The command line, the app, the tests and each Ray worker call it
once, before anything names a model.
"""

from __future__ import annotations

import threading

from . import built_ins, deployed, imported, user_model, variants, zoo

_LOCK = threading.Lock()  # two first sessions of the app may start at once
_installed = False  # the app's script runs again on every rerun: install once


def install() -> None:
    """Register the built-in models, then the providers of compressed variants (in the
    cache), imported models (in the workspace), `file.py:build` models and every model's
    ONNX Runtime views (`NAME@onnx`). Idempotent."""
    global _installed
    with _LOCK:
        if _installed:
            return
        for entry in built_ins.entries():
            zoo.register(entry)
        for provider in (variants.PROVIDER, imported.provider(_load_imported), user_model.PROVIDER,
                         deployed.PROVIDER):
            zoo.provide(provider)
        _installed = True


def _load_imported(name: str, where):
    """An imported model with its heads: the workspace loads it (torch, transformers), so it
    is imported only when such a model is chosen."""
    from .workspace import load_imported

    return load_imported(name, where)
