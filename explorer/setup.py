"""Start-up: every source of models joins the registry (explorer.zoo), from above.

The registry sits at the bottom and imports none of them; `install()` is the one place
that knows them all. The command line, the app, the tests and each Ray worker call it
once, before anything names a model.
"""

from __future__ import annotations

import threading

from . import built_ins, imported, user_model, variants, zoo

_LOCK = threading.Lock()
_INSTALLED = []  # [True] once installed: the app's script runs again on every rerun


def install() -> None:
    """Register the built-in models, then the providers of compressed variants (in the
    cache), imported models (in the workspace) and `file.py:build` models. Idempotent."""
    with _LOCK:
        if _INSTALLED:
            return
        for entry in built_ins.entries():
            zoo.register(entry)
        for provider in (variants.PROVIDER, imported.provider(_load_imported), user_model.PROVIDER):
            zoo.provide(provider)
        _INSTALLED.append(True)


def _load_imported(name: str, where):
    """An imported model with its heads: the workspace loads it (torch, transformers), so it
    is imported only when such a model is chosen."""
    from .workspace import load_imported

    return load_imported(name, where)
