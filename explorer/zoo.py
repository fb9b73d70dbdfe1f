"""The built-in models: how to load each, its evaluation data and its profiles."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import torch

from . import checkpoint
from .models.base import MultiExitModel
from .paths import ASSETS, CACHE
from .profile import Profile, Progress, cached_profile


@dataclass(frozen=True)
class BuiltIn:
    name: str
    title: str
    load: Callable[[], MultiExitModel]
    data: Callable[[str], tuple[list[torch.Tensor], list]]  # split -> (inputs, targets)
    calib_split: str = "val"  # thresholds are chosen here
    test_split: str = "test"  # and reported here, never chosen on
    profile_dir: object = CACHE / "profiles"
    decode: Callable[[bytes], torch.Tensor] | None = None  # an uploaded file -> one input
    report: str = ""  # name of its report in assets/reports (recommended thresholds etc.)


# ---- toy: trained on first use (seconds) and cached ------------------------------------
def _toy_config():
    from .models.toy import ToyConfig

    # stages heavy enough that a stage costs far more than the engine's per-exit
    # bookkeeping, as in a real backbone; trains in about half a minute
    return ToyConfig(width=512, hidden=2048, num_stages=8)


def _load_toy() -> MultiExitModel:
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


# ---- image: the shipped MNIST checkpoint, two views of it -------------------------------
IMAGE_CHECKPOINT = ASSETS / "models" / "image"


def _image_loader(head: str):
    def load() -> MultiExitModel:
        from .models.image import ImageConfig, MnistResNet

        if not checkpoint.exists(IMAGE_CHECKPOINT):
            raise ValueError(f"the image model is missing ({IMAGE_CHECKPOINT}); "
                             "train it with `python -m explorer train image`")
        return checkpoint.load(MnistResNet, ImageConfig, IMAGE_CHECKPOINT, head=head)

    return load


def _mnist_data(split: str, corruption: str | None = None, severity: int = 0, limit: int = 0):
    from .corruptions import corrupt
    from .data.mnist import load_mnist

    x, y = load_mnist(split)
    if limit:
        x, y = x[:limit], y[:limit]
    if corruption and severity:
        x = corrupt(x, corruption, severity, seed=severity)
    return list(torch.tensor(x)[:, None]), y.tolist()


def _decode_digit(data: bytes) -> torch.Tensor:
    from .image_input import prepare_digit

    return torch.tensor(prepare_digit(data).mnist)[None]  # [1, 28, 28]


# ---- speech: the shipped checkpoint and compact held-out-voice evaluation set -------------
SPEECH_CHECKPOINT = ASSETS / "models" / "speech"


def _load_speech() -> MultiExitModel:
    from .models.speech import SpeechConfig, SpeechEncoder

    if not checkpoint.exists(SPEECH_CHECKPOINT):
        raise ValueError(f"the speech model is missing ({SPEECH_CHECKPOINT}); "
                         "train it with `python -m explorer train speech`")
    return checkpoint.load(SpeechEncoder, SpeechConfig, SPEECH_CHECKPOINT)


def _speech_data(split: str, noise: str | None = None, snr: int | None = None, limit: int = 0):
    from .data.speech_eval import load_eval

    clips, texts, _ = load_eval(split, noise, snr)
    if limit:
        clips, texts = clips[:limit], texts[:limit]
    return [torch.from_numpy(c) for c in clips], texts


def _decode_audio(data: bytes) -> torch.Tensor:
    from .audio import load_audio

    return torch.from_numpy(load_audio(data).samples)


BUILT_INS = {
    m.name: m
    for m in [
        BuiltIn("toy", "Toy MLP (synthetic data)", _load_toy, _toy_data),
        BuiltIn("image", "MNIST ResNet, one head per exit", _image_loader("exit"), _mnist_data,
                profile_dir=ASSETS / "profiles", decode=_decode_digit, report="image"),
        BuiltIn("image-shared", "MNIST ResNet, FreeML shared exit", _image_loader("shared"), _mnist_data,
                profile_dir=ASSETS / "profiles", decode=_decode_digit, report="image"),
        BuiltIn("speech", "Digits ASR, HuBERT-style encoder with CTC and DAISY exits", _load_speech, _speech_data,
                test_split="test_a", profile_dir=ASSETS / "profiles", decode=_decode_audio, report="speech"),
    ]
}


def get(name: str) -> BuiltIn:
    if name in BUILT_INS:
        return BUILT_INS[name]
    from .workspace import lookup  # imported models and `file.py:build` (the one hook into the workspace)

    entry = lookup(name)
    if entry is None:
        raise ValueError(f"unknown model {name!r}; built-in models: {', '.join(BUILT_INS)} "
                         "(imported ones: `python -m explorer models`)")
    return entry


@cache
def model(name: str) -> MultiExitModel:
    return get(name).load()


def batches(model: MultiExitModel, inputs: list, targets: list, size: int):
    """(x, lengths, targets) batches in order."""
    for i in range(0, len(inputs), size):
        x, lengths = model.collate(inputs[i:i + size])
        yield x, lengths, targets[i:i + size]


_PROFILES: dict[tuple[str, str], Profile] = {}


def profile(name: str, split: str, progress: Progress | None = None, **variant) -> Profile:
    """The profile of a built-in model on one split (`variant`: e.g. corruption and
    severity, passed to its data function): loaded if current, else built. Kept in
    memory once loaded (a model's weights never change while the process runs)."""
    dataset = "-".join([split] + [str(v) for v in variant.values()])
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
    return cached_profile(m, name, dataset, make_batches, entry.profile_dir, progress, costs)
