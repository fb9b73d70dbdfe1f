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


def warm_up() -> None:
    """What a first visit needs, loaded before anyone asks (the app server calls it in a
    thread at start-up): torch and the page libraries, and for the model each page starts
    with its test and calibration profiles, a test input, its sweeps and default recommended
    thresholds, and the Model page's memory figures. A visitor who comes meanwhile waits on
    the same loads (the registry's and explorer.memo's locks), never for a second copy."""
    from . import compare, eval_inputs
    from .compute import step
    from .thresholds import default_criterion, default_eps_pt, recommended

    with step("warming up: imports"):
        from . import cached, plots  # noqa: F401  (the pages' libraries: torch, pandas, plotly)
    install()
    firsts = dict.fromkeys(names[0] for page in zoo.PAGES if (names := zoo.names(page)))
    measured = zoo.names("model")[:1]  # the Model page measures its first model's memory on a first visit
    for name in firsts:
        entry = zoo.get(name)
        if entry.group != "built-in":
            continue  # an imported model loads transformers: only when someone opens it
        if not entry.profiled:  # a text model: its page needs the model only
            try:
                zoo.model(name)
            except (OSError, ValueError):
                pass
            continue
        try:
            for split in (entry.test_split, entry.calib_split):
                zoo.profile(name, split)
            if not entry.generates:
                with step(f"warming up: the test set of {name}"):
                    eval_inputs.item(name, entry.test_split, 0)  # the live pages start on a test input
            with step(f"warming up: the sweeps of {name}"):
                test = zoo.profile(name, entry.test_split)
                cached.sweep_all(test)  # Tradeoffs' and Noise's figures and verdict start from these
                cached.exits_rows(test)
                cached.verdict(test)
            crit, eps = default_criterion(name), default_eps_pt(name)
            with step(f"warming up: the recommended thresholds of {name}"):  # Tradeoffs' defaults (compare's)
                rec, _ = cached.recommendations(zoo.profile(name, entry.calib_split), test, crit, eps,
                                                compare.LTT_EPS, compare.LTT_DELTA)
            with step(f"warming up: Tradeoffs' first view of {name}"):  # its chart, and τ under shift
                cached.tradeoff_view_of(name, test, test, crit, zoo.eval_sets(name)[0].key, cached.DEFAULT_COST,
                                        cached.DEFAULT_LOG_X, cached.DEFAULT_ZOOM, recommended(name, crit))
                cached.shift_at(name, crit, float(rec.threshold), eps)
            if name in measured:
                cached.measured_memory(name, zoo.model(name))
        except (OSError, ValueError):  # a model that cannot load says so when a page opens it
            continue
