"""The built-in models: the image model (one per training strategy, and its shared-exit
view), the speech model and the toy MLP, as registry entries. `explorer.setup` registers
them at start-up; nothing here is loaded until a model is chosen (no torch at import).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .modality import IMAGE, SPEECH, TEXT
from .paths import ASSETS, CACHE
from .quality import WER
from .zoo import BuiltIn

if TYPE_CHECKING:
    from .models.base import MultiExitModel


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


# Held-out sets beside test (a), all spoken by whole voices never trained on: (b)-(d)
# synthesized, (e) recorded people. On (c) a clip's WER counts the digits it invents per
# word spoken (it has no digit to get right).
SPEECH_EXTRA_TESTS = (("test_b", "unseen voices (test_b)"),
                      ("test_c", "no digits: words and sentences, unseen voices (test_c)"),
                      ("test_d", "digits in carrier phrases, unseen voices (test_d)"),
                      ("test_e", "recordings of people (test_e)"))


IMAGE_SUMMARY = "A 6-exit ResNet-style CNN trained here on MNIST, with per-exit heads and a FreeML shared exit."
IMAGE_VIEWS = (("one head per exit", "image"), ("one shared exit", "image-shared"))
STRATEGY_NOTES = {"two-stage": "in two stages: backbone and final exit first, then the early heads on the frozen "
                               "backbone (HuBERT-EE's recipe)",
                  "self-distilled": "jointly, its early exits also taught by the final exit's soft answers"}


# ---- text: the byte-level LM trained on Python's standard library source -----------------
TEXT_CHECKPOINT = ASSETS / "models" / "text"
TEXT_MODELS = (  # (name, strategy, checkpoint, exits in words): the two ways `train text` trains its exits
    ("text", "layerskip", TEXT_CHECKPOINT, "LayerSkip exits (its own head at every layer)"),
    ("text-calm", "calm", ASSETS / "models" / "text-calm", "CALM-style exits (a head of its own per layer)"),
)


def _text_loader(path, strategy: str):
    def load():
        from . import checkpoint
        from .models.text import ExitLM, TextConfig

        if not checkpoint.exists(path):
            raise ValueError(f"the text model is missing ({path}); train it with "
                             f"`python -m explorer train text --strategy {strategy} --out {path}`")
        return checkpoint.load(ExitLM, TextConfig, path)
    return load


def _text_profile(model, name: str, split: str):
    """Teacher-forced: every byte position of the split's fixed corpus windows (explorer.text_report)."""
    from .text_report import profile

    return profile(model, split, name=name)


def _text_data(split: str, count: int = 32, length: int = 64):
    """Prompts from the split's files (each from a line's start) and the bytes that follow them."""
    from .data.text_corpus import load

    corpus = load(split)
    prompts = corpus.prompts(count, 2 * length, seed={"val": 11, "test": 12}.get(split, 0))
    return [p[:length] for p in prompts], [p[length:] for p in prompts]


def entries() -> list[BuiltIn]:
    """Every built-in model's entry, in the order pages list them (the first is where they start)."""
    return [
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
                extra_tests=SPEECH_EXTRA_TESTS, shifted_splits=("test_b", "test_d"), start_criterion="ctc_entropy"),
        *(BuiltIn(name, f"Byte-level LM on Python source, {exits.split(' (')[0]}", _text_loader(path, strategy),
                  _text_data, summary=f"A 6-layer byte-level language model trained here on Python's standard "
                                      f"library source with {exits}: per-token exits (CALM) and self-speculative "
                                      "decoding. Its profile: every byte position of fixed corpus windows, the next "
                                      "byte read at every layer with the full model's context.",
                  input_note="per generated byte (token), after a 64-byte prompt",
                  report=name, pages=frozenset({"live_text", "tradeoffs", "model"}), profiler=_text_profile,
                  generates=True, decode=TEXT.decode, start_criterion="margin")
          for name, strategy, path, exits in TEXT_MODELS),
        BuiltIn("toy", "Toy MLP (synthetic data)", _load_toy, _toy_data,
                summary="An 8-stage MLP trained here in half a minute on synthetic clusters."),
    ]
