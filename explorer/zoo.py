"""The model registry: every fact about a model lives in its entry, so that pages,
`predict`, reports and benchmarks never branch on a model's name. It sits at the bottom:
it imports nothing that adds models to it.

An entry (`BuiltIn`) says how to load the model and its evaluation data, which split
chooses thresholds and which reports them, its noisy / hard evaluation sets (`noise`,
`extra_tests`), how an uploaded file becomes one input (`decode`, shared by the live
pages and `predict`), what to say about its inputs, which quality it is judged by
(accuracy or WER, see `quality`) and which pages show it (`pages`).

Models join it from above, at start-up (`explorer.setup.install`, called by the CLI, the
app, the tests and each Ray worker): the built-in entries with `register(entry)`, and `provide(provider)`
for models found when asked (compressed variants in the cache, imported models in the
workspace, `file.py:build`). From then on every page that an entry's `pages` names lists
it, and `get(name)` finds it. `names(page)` lists the models a page offers, in
registration order.

A model that changes under its name (re-imported, rebuilt, replaced) is announced with
`forget(name)`: every cache keyed by a model name subscribes with `on_forget(callback)`,
so nobody clears another module's cache by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .compute import step
from .modality import Decoded, NoiseAxis  # noqa: F401  (an entry's parts: the modality objects define them)
from .paths import CACHE
from .quality import ACCURACY, Quality

if TYPE_CHECKING:  # torch is imported only when a model or its data is used

    from .models.base import MultiExitModel
    from .profile import Profile, Progress

# The pages an entry can name (the app's page files without ".py"; "overview": a headline card).
PAGES = ("overview", "live_image", "live_speech", "live_text", "tradeoffs", "noise", "model", "energy")


@dataclass(frozen=True)
class EvalSet:
    """One evaluation set of a model: a split and the data function's keyword arguments."""

    key: str  # for links: "test", "test_b", "blur-3", "babble-5"
    label: str  # for people
    split: str
    variant: tuple = ()  # (keyword, value) pairs, in the order the profile names them


@dataclass(frozen=True)
class BuiltIn:
    name: str
    title: str
    load: Callable[[], MultiExitModel]
    data: Callable[..., tuple[list, list]]  # (split, **variant) -> (inputs, targets)
    calib_split: str = "val"  # thresholds are chosen here
    test_split: str = "test"  # and reported here, never chosen on
    profile_dir: object = CACHE / "profiles"
    decode: Callable[[bytes], Decoded] | None = None  # an uploaded file -> one input (page and `predict`)
    report: str = ""  # name of its report in assets/reports (recommended thresholds etc.)
    report_file: str = ""  # or a report elsewhere, read for the Overview's figures (an imported model's workspace)
    quality: Quality = ACCURACY
    summary: str = ""  # one or two sentences on what the model is (Overview, page captions)
    input_note: str = ""  # what its per-input figures assume ("for a 2 s clip")
    pages: frozenset = frozenset({"tradeoffs", "model", "energy"})
    noise: NoiseAxis | None = None
    extra_tests: tuple[tuple[str, str], ...] = ()  # other held-out splits: (split, label)
    shifted_splits: tuple[str, ...] = ()  # of those, the ones the headline reports shift on (a quality is defined)
    head_views: tuple[tuple[str, str], ...] = ()  # (label, model name): views of one backbone to compare
    start_criterion: str = ""  # where pages start; "" = the report's recommended one
    group: str = "built-in"  # how model menus group it: "built-in", "compressed", "imported"
    profiled: bool = True  # profiles, sweeps and thresholds exist for it (an imported text model: it only generates)
    profiler: Callable[..., Profile] | None = None  # (model, name, split) -> its profile, for a model outside the
    # multi-exit contract (text: every byte position of fixed corpus windows); None: the engine's pass over `data`
    generates: bool = False  # a language model (Live: text): outside the multi-exit engine, so no input is rerun
    # on its own and its profile's rows are token positions, not inputs of `data`; compress does not serve it


@dataclass(frozen=True)
class Provider:
    """Models found when asked rather than registered one by one (compressed variants in the
    cache, imported models in the workspace, `file.py:build`), from files that may change
    while the process runs."""

    names: Callable[[str | None], list[str]]  # the models it offers on a page (None: all); light, no torch
    entry: Callable[[str], BuiltIn | None]  # a name's entry, or None when the name is not one of its models


BUILT_INS: dict[str, BuiltIn] = {}  # registered entries (the built-in models), in registration order
_PROVIDERS: list[Provider] = []  # asked in order, after the registered entries
_FORGET: list[Callable[[str], None]] = []  # what to tell when a model changes


def register(entry: BuiltIn) -> BuiltIn:
    """Add (or replace) a model in the registry; returns the entry."""
    unknown = set(entry.pages) - set(PAGES)
    if unknown:
        raise ValueError(f"entry {entry.name!r} names unknown pages {sorted(unknown)}; pages: {', '.join(PAGES)}")
    if "noise" in entry.pages and entry.noise is None:
        raise ValueError(f"entry {entry.name!r} is on the noise page but has no noisy test sets")
    BUILT_INS[entry.name] = entry
    forget(entry.name)  # a replaced entry's model and profiles are stale
    return entry


def provide(provider: Provider) -> Provider:
    """Ask `provider` for the models it finds, after the registered entries and earlier providers."""
    _PROVIDERS.append(provider)
    return provider


def names(page: str | None = None) -> list[str]:
    """The registered models, or those shown on `page` (one of PAGES), in registration
    order (a page starts with the first); then each provider's."""
    out = [e.name for e in BUILT_INS.values() if page is None or page in e.pages]
    for provider in _PROVIDERS:
        out += [n for n in provider.names(page) if n not in out and n not in BUILT_INS]
    return out


def get(name: str) -> BuiltIn:
    if name in BUILT_INS:
        return BUILT_INS[name]
    for provider in _PROVIDERS:
        if (entry := provider.entry(name)) is not None:
            return entry
    raise ValueError(f"unknown model {name!r}; built-in models: {', '.join(BUILT_INS)} "
                     "(every model: `python -m explorer models`)")


def on_forget(callback: Callable[[str], None]) -> Callable[[str], None]:
    """Call `callback(model name)` whenever a model changes under its name: how a cache keyed
    by model names learns it. Returns the callback, so it can decorate it."""
    _FORGET.append(callback)
    return callback


def forget(name: str) -> None:
    """Model `name` changed (re-imported, rebuilt, replaced): every cache drops what it kept
    about it, and the next question about it is answered afresh."""
    for callback in _FORGET:
        callback(name)


def eval_sets(name: str) -> list[EvalSet]:
    """The model's test sets: the test split, other held-out splits, then every noisy set."""
    entry = get(name)
    out = [EvalSet(entry.test_split, f"clean test set ({entry.test_split})", entry.test_split)]
    out += [EvalSet(split, label, split) for split, label in entry.extra_tests]
    if entry.noise:
        for kind in entry.noise.kinds:
            for level in entry.noise.levels[1:]:
                out.append(EvalSet(f"{kind}-{level}", f"{kind}, {entry.noise.label.split(' (')[0]} {level}",
                                   entry.test_split, tuple(entry.noise.variant(kind, level).items())))
    return out


def eval_set(name: str, key: str) -> EvalSet:
    sets = {s.key: s for s in eval_sets(name)}
    try:
        return sets[key]
    except KeyError:
        raise ValueError(f"model {name} has no evaluation set {key!r}") from None


# ---- each model loaded once, and its profiles, until it is forgotten ------------------------
# Eight sessions asking for the same model at once load it once: each name (and each profile)
# has its own lock, so the others wait for the first one's result, and other names go on.
_MODELS: dict[str, MultiExitModel] = {}
_PROFILES: dict[tuple[str, str], Profile] = {}
_LOCKS: dict[object, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock(key) -> threading.RLock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())  # re-entrant: a noisy profile reads the clean one


@on_forget
def _drop(name: str) -> None:
    _MODELS.pop(name, None)
    for key in [k for k in _PROFILES if k[0] == name]:
        del _PROFILES[key]


def model(name: str) -> MultiExitModel:
    """The model, loaded once and shared: never change it (read it under torch.inference_mode)."""
    if name not in _MODELS:
        with _lock(name):
            if name not in _MODELS:
                with step(f"loading model {name}"):
                    _MODELS[name] = get(name).load()
    return _MODELS[name]


def batches(model: MultiExitModel, inputs: list, targets: list, size: int):
    """(x, lengths, targets) batches in order."""
    for i in range(0, len(inputs), size):
        x, lengths = model.collate(inputs[i:i + size])
        yield x, lengths, targets[i:i + size]


def _dataset(split: str, variant: dict) -> str:
    return "-".join([split] + [str(v) for v in variant.values()])


def loaded(name: str, split: str, **variant) -> bool:
    """Whether `profile(name, split, **variant)` is in memory already (answers at once)."""
    return (name, _dataset(split, variant)) in _PROFILES


def profile(name: str, split: str, progress: Progress | None = None, **variant) -> Profile:
    """The profile of a model on one split (`variant`: e.g. corruption and severity,
    passed to its data function): loaded if current, else built. Kept in memory once
    loaded, until the model is forgotten."""
    dataset = _dataset(split, variant)
    if (name, dataset) not in _PROFILES:
        with _lock((name, dataset)):
            if (name, dataset) not in _PROFILES:
                with step(f"reading the {dataset} profile of {name}"):
                    _PROFILES[name, dataset] = _load_or_build(name, split, dataset, progress, variant)
    return _PROFILES[name, dataset]


def _load_or_build(name: str, split: str, dataset: str, progress, variant: dict) -> Profile:
    entry, m = get(name), model(name)

    def make_batches():
        inputs, targets = entry.data(split, **variant)
        return batches(m, inputs, targets, 64)

    from .profile import cached_profile

    if entry.profiler is not None:
        return cached_profile(m, name, dataset, None, entry.profile_dir, progress,
                              build=lambda: entry.profiler(m, name, split))
    costs = None
    if variant:  # same model, other data (noise, corruptions): reuse the clean split's measured costs
        clean = profile(name, split)
        costs = clean.macs, clean.ms
    return cached_profile(m, name, dataset, make_batches, entry.profile_dir, progress, costs)


def profile_on(name: str, split: str, device: str, progress=None, **variant) -> Profile:
    """`profile`'s pass, in this process, on `device`: the model and every batch on it,
    per-stage and per-head ms measured there at batch 1. Saved under the same file and key
    as the CPU pass (the same model and data give the same predictions; the ms say where),
    and the one `profile` gives from now on."""
    from .costs import count_macs, measure_ms
    from .device import check, measured_on
    from .profile import build_profile, fingerprint, profile_path

    check(device)
    entry = get(name)
    m = entry.load().to(device).eval()  # its own copy: the registry's stays on the CPU
    inputs, targets = entry.data(split, **variant)
    on_device = [(x.to(device), None if lengths is None else lengths.to(device), t)
                 for x, lengths, t in batches(m, inputs, targets, 64)]
    dataset = _dataset(split, variant)
    prof = build_profile(m, on_device, name, dataset, progress, (count_macs(m), measure_ms(m)))
    prof.meta = replace(prof.meta, measured_on=measured_on(device, "this process at batch 1"))
    prof.save(profile_path(entry.profile_dir, name, dataset, fingerprint(m), fresh=True))
    _PROFILES[name, dataset] = prof
    return prof
