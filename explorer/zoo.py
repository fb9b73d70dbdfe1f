"""The model registry: every fact about a model lives in its entry, so that pages,
`predict`, reports and benchmarks never branch on a model's name.

An entry (`BuiltIn`) says how to load the model and its evaluation data, which split
chooses thresholds and which reports them, its noisy / hard evaluation sets (`noise`,
`extra_tests`), how an uploaded file becomes one input (`decode`, shared by the live
pages and `predict`), what to say about its inputs, which quality it is judged by
(accuracy or WER, see `quality`) and which pages show it (`pages`).

Other code adds models with `register(entry)` (an imported Hugging Face model, a
compressed variant of a built-in one): from then on every page that the entry's
`pages` names lists it, and `get(name)` finds it. `names(page)` lists the models a
page offers, in registration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from .modality import IMAGE, SPEECH, Decoded, NoiseAxis  # noqa: F401  (Decoded: the registry's record too)
from .paths import ASSETS, CACHE
from .quality import ACCURACY, WER, Quality

if TYPE_CHECKING:  # torch is imported only when a model or its data is used

    from .models.base import MultiExitModel
    from .profile import Profile, Progress

# The pages an entry can name (the app's page files without ".py"; "overview": a headline card).
PAGES = ("overview", "live_image", "live_speech", "tradeoffs", "noise", "model", "energy")


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
    quality: Quality = ACCURACY
    summary: str = ""  # one or two sentences on what the model is (Overview, page captions)
    input_note: str = ""  # what its per-input figures assume ("for a 2 s clip")
    pages: frozenset = frozenset({"tradeoffs", "model", "energy"})
    noise: NoiseAxis | None = None
    extra_tests: tuple[tuple[str, str], ...] = ()  # other held-out splits: (split, label)
    head_views: tuple[tuple[str, str], ...] = ()  # (label, model name): views of one backbone to compare
    start_criterion: str = ""  # where pages start; "" = the report's recommended one
    group: str = "built-in"  # how model menus group it: "built-in", "compressed", "imported"


# ---- toy: trained on first use (seconds) and cached ------------------------------------
def _toy_config():
    from .models.toy import ToyConfig

    # stages heavy enough that a stage costs far more than the engine's per-exit
    # bookkeeping, as in a real backbone; trains in about half a minute
    return ToyConfig(width=512, hidden=2048, num_stages=8)


def _load_toy() -> MultiExitModel:
    from . import checkpoint
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


# ---- image: the shipped MNIST checkpoints (one per training strategy), two views of each ---
IMAGE_CHECKPOINT = ASSETS / "models" / "image"  # joint training: the model every page starts with
# The same network trained the other ways RESEARCH.md compares (`train image --strategy S
# --out assets/models/image-S`): backbone first, then early heads; and joint with self-distillation.
IMAGE_STRATEGIES = (("joint", "image", IMAGE_CHECKPOINT),
                    ("two-stage", "image-two-stage", ASSETS / "models" / "image-two-stage"),
                    ("self-distilled", "image-distill", ASSETS / "models" / "image-distill"))


def _image_loader(head: str, path: Path = IMAGE_CHECKPOINT, strategy: str = "joint"):
    def load() -> MultiExitModel:
        from . import checkpoint
        from .models.image import ImageConfig, MnistResNet

        if not checkpoint.exists(path):
            raise ValueError(f"the {strategy} image model is missing ({path}); train it with "
                             f"`python -m explorer train image --strategy {strategy} --out {path}`")
        return checkpoint.load(MnistResNet, ImageConfig, path, head=head)

    return load


def _mnist_data(split: str, corruption: str | None = None, severity: int = 0, limit: int = 0):
    import torch

    from .corruptions import corrupt
    from .data.mnist import load_mnist

    x, y = load_mnist(split)
    if limit:
        x, y = x[:limit], y[:limit]
    if corruption and severity:
        x = corrupt(x, corruption, severity, seed=severity)
    return list(torch.tensor(x)[:, None]), y.tolist()


IMAGE_LIMIT = 2000  # corrupted test digits per noisy profile (the report's figure)


# ---- speech: the shipped checkpoint and compact held-out-voice evaluation set -------------
SPEECH_CHECKPOINT = ASSETS / "models" / "speech"


def _load_speech() -> MultiExitModel:
    from . import checkpoint
    from .models.speech import SpeechConfig, SpeechEncoder

    if not checkpoint.exists(SPEECH_CHECKPOINT):
        raise ValueError(f"the speech model is missing ({SPEECH_CHECKPOINT}); "
                         "train it with `python -m explorer train speech`")
    return checkpoint.load(SpeechEncoder, SpeechConfig, SPEECH_CHECKPOINT)


def _speech_data(split: str, noise: str | None = None, snr: int | None = None, limit: int = 0):
    import torch

    from .data.speech_eval import load_eval

    clips, texts, _ = load_eval(split, noise, snr)
    if limit:
        clips, texts = clips[:limit], texts[:limit]
    return [torch.from_numpy(c) for c in clips], texts


# Held-out sets beside test (a), all spoken by whole voices never trained on. On (c) a
# clip's WER counts the digits it invents per word spoken (it has no digit to get right).
SPEECH_EXTRA_TESTS = (("test_b", "unseen voices (test_b)"),
                      ("test_c", "no digits: words and sentences, unseen voices (test_c)"),
                      ("test_d", "digits in carrier phrases, unseen voices (test_d)"))

IMAGE_SUMMARY = "A 6-exit ResNet-style CNN trained here on MNIST, with per-exit heads and a FreeML shared exit."
IMAGE_VIEWS = (("one head per exit", "image"), ("one shared exit", "image-shared"))
STRATEGY_NOTES = {"two-stage": "in two stages: backbone and final exit first, then the early heads on the frozen "
                               "backbone (HuBERT-EE's recipe)",
                  "self-distilled": "jointly, its early exits also taught by the final exit's soft answers"}
BUILT_INS: dict[str, BuiltIn] = {}  # the registry: name -> entry, in registration order


def register(entry: BuiltIn) -> BuiltIn:
    """Add (or replace) a model in the registry; returns the entry."""
    unknown = set(entry.pages) - set(PAGES)
    if unknown:
        raise ValueError(f"entry {entry.name!r} names unknown pages {sorted(unknown)}; pages: {', '.join(PAGES)}")
    if "noise" in entry.pages and entry.noise is None:
        raise ValueError(f"entry {entry.name!r} is on the noise page but has no noisy test sets")
    BUILT_INS[entry.name] = entry
    for key in [k for k in _PROFILES if k[0] == entry.name]:  # a replaced entry's profiles are stale
        del _PROFILES[key]
    return entry


def names(page: str | None = None) -> list[str]:
    """The registered models, or those shown on `page` (one of PAGES), in registration
    order (a page starts with the first)."""
    from . import imported

    entries = [*BUILT_INS.values(), *(_made_here(n) for n in _made_here_names())]
    return [e.name for e in entries if page is None or page in e.pages] + \
        [n for n in imported.names(page) if n not in BUILT_INS]  # from their manifests: no torch


def _made_here_names() -> list[str]:
    """Models made on this machine (compressed variants in the cache), found afresh on
    every call from their small JSON files: no torch, nothing stale."""
    from . import variants

    return [n for n in variants.names() if n not in BUILT_INS]


def _made_here(name: str) -> BuiltIn | None:
    from . import variants

    return variants.entry(name)


def get(name: str) -> BuiltIn:
    if name in BUILT_INS:
        return BUILT_INS[name]
    if (made := _made_here(name)) is not None:
        return made
    from . import imported  # imported models: from their manifests, nothing loaded yet

    if (entry := imported.entry(name)) is not None:
        return entry
    from .workspace import lookup  # imported models and `file.py:build` (the one hook into the workspace)

    if (entry := lookup(name)) is not None:
        return entry
    raise ValueError(f"unknown model {name!r}; built-in models: {', '.join(BUILT_INS)} "
                     "(imported ones: `python -m explorer models`)")


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


_PROFILES: dict[tuple[str, str], Profile] = {}


def _builtins() -> None:
    for entry in [
        BuiltIn("image", "MNIST ResNet, one head per exit, joint training", _image_loader("exit"), _mnist_data,
                profile_dir=ASSETS / "profiles", decode=IMAGE.decode, report="image", summary=IMAGE_SUMMARY,
                pages=frozenset({"overview", "live_image", "tradeoffs", "noise", "model", "energy"}),
                noise=IMAGE.noise_axis(limit=IMAGE_LIMIT),
                head_views=IMAGE_VIEWS),
        BuiltIn("image-shared", "MNIST ResNet, FreeML shared exit", _image_loader("shared"), _mnist_data,
                profile_dir=ASSETS / "profiles", decode=IMAGE.decode, report="image", summary=IMAGE_SUMMARY,
                head_views=IMAGE_VIEWS),
        *(BuiltIn(name, f"MNIST ResNet, {strategy} training", _image_loader("exit", path, strategy),
                  _mnist_data, profile_dir=ASSETS / "profiles", noise=IMAGE.noise_axis(limit=IMAGE_LIMIT),
                  pages=frozenset({"tradeoffs", "noise", "model", "energy"}),
                  summary=f"The image model's network trained {STRATEGY_NOTES[strategy]}.")
          for strategy, name, path in IMAGE_STRATEGIES[1:]),
        BuiltIn("speech", "Digits ASR, HuBERT-style encoder with CTC and DAISY exits", _load_speech, _speech_data,
                test_split="test_a", profile_dir=ASSETS / "profiles", decode=SPEECH.decode, report="speech",
                quality=WER, input_note="for a 2 s clip",
                summary="A 6-layer HuBERT-style encoder trained here on synthesized voices: CTC exit branches "
                        "(HuBERT-EE) and self-supervised DAISY exits.",
                pages=frozenset({"overview", "live_speech", "tradeoffs", "noise", "model", "energy"}),
                noise=SPEECH.noise_axis(),
                extra_tests=SPEECH_EXTRA_TESTS, start_criterion="ctc_entropy"),
        BuiltIn("toy", "Toy MLP (synthetic data)", _load_toy, _toy_data,
                summary="An 8-stage MLP trained here in half a minute on synthetic clusters."),
    ]:
        register(entry)


@cache
def model(name: str) -> MultiExitModel:
    return get(name).load()


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
    """The profile of a built-in model on one split (`variant`: e.g. corruption and
    severity, passed to its data function): loaded if current, else built. Kept in
    memory once loaded (a model's weights never change while the process runs)."""
    dataset = _dataset(split, variant)
    if (name, dataset) not in _PROFILES:
        _PROFILES[name, dataset] = _load_or_build(name, split, dataset, progress, variant)
    return _PROFILES[name, dataset]


def _load_or_build(name: str, split: str, dataset: str, progress, variant: dict) -> Profile:
    entry, m = get(name), model(name)

    def make_batches():
        inputs, targets = entry.data(split, **variant)
        return batches(m, inputs, targets, 64)

    costs = None
    if variant:  # same model, other data (noise, corruptions): reuse the clean split's measured costs
        clean = profile(name, split)
        costs = clean.macs, clean.ms
    from .profile import cached_profile

    return cached_profile(m, name, dataset, make_batches, entry.profile_dir, progress, costs)


_builtins()
