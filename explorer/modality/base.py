"""What every kind of input (a modality) says about itself, and the small records it hands
to the registry: an upload decoded into one input, and a model's noisy test sets.

A modality owns the facts that change with the input and with nothing else: how an
uploaded or listed file is decoded, how a labelled folder is laid out, its noise or
corruption axis, how its answers are judged (accuracy or WER), its live page, and which
exit heads an import can train for it. Models name theirs by `family` (the string an
import's manifest stores); `explorer.modality.of(family)` finds the object.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..quality import Quality


def seed(i: int, kind: str) -> int:
    """The noise seed of a split's i-th file under `kind`: a noisy set is the same on every run."""
    return zlib.crc32(f"{kind}:{i}".encode())


@dataclass(frozen=True)
class NoiseAxis:
    """A model's noisy test sets: each kind at each level, from clean to the worst."""

    kinds: tuple[str, ...]  # corruption or noise types
    levels: tuple  # levels[0] is clean
    label: str  # the level axis, for plots ("corruption severity (0 = clean)")
    variant: Callable[[str, Any], dict]  # (kind, level) -> the data function's keyword arguments
    note: str = ""  # what the noisy sets are, in a sentence
    apply: Callable[[Any, str, Any], Any] | None = None  # (one input, kind, level) -> it under that noise (live pages)
    shift_level: Any = None  # the level the headline reports distribution shift at (explorer.shift); None: none


@dataclass(frozen=True)
class Decoded:
    """An uploaded file as one model input, with what to show and to warn about."""

    x: Any  # torch.Tensor: one input as the model's collate takes it
    shown: Any = None  # a picture of the original upload (H×W or H×W×3), if any
    warnings: tuple[str, ...] = ()  # said above the answer (clipped recording, cut to a minute, ...)


@dataclass(frozen=True)
class Listing:
    """A labelled folder's files as its layout lists them, before any split."""

    layout: str  # "imagefolder", "metadata.csv", "librispeech"
    files: list[Path]  # relative to the folder
    targets: list[str]  # class name, or transcript
    missing: list[str]  # listed but absent, or a recording without transcript
    keys: list[str] | None = None  # what each file's split is drawn from (None: its path); a csv of rows: each row


class Modality:
    """One kind of input. Subclasses fill in every method; the instances are IMAGE, SPEECH and TEXT."""

    name: str  # the family string models and manifests carry ("image", "speech")
    quality: Quality  # how its answers are judged, and in which direction
    live_page: str  # the app page that runs one upload
    daisy: bool = False  # DAISY cluster heads (self-supervised exits) can be trained for it
    attention_exits: bool = False  # HuBERT-EE's attention CTC exit branch (--head attention)
    shared_exit: bool = False  # FreeML's one shared exit (--shared-exit)
    profiled: bool = True  # in the multi-exit contract: profiles, sweeps, noisy sets (text generates instead)
    generates: bool = False  # a language model: Live: text generates with it (registry entries' `generates`)

    def __repr__(self) -> str:
        return f"modality {self.name}"

    def refusal(self, model) -> str:
        """Why `model` cannot be imported for this modality ("": it can)."""
        return ""

    # ---- files ------------------------------------------------------------------------------
    def list_files(self, root: Path) -> Listing:
        """The labelled files of a folder; an InputError with what to fix when there are none."""
        raise NotImplementedError

    def read(self, data: bytes, rate: int | None = None):
        """A file's bytes -> the raw input a model's `prepare` takes (a PIL image, a waveform at
        `rate` samples per second; None: the modality's own rate)."""
        raise NotImplementedError

    def raw(self, root: Path, file: Path, target, rate: int | None = None):
        """One listed file as `read` gives it (`target`: its label, for layouts that hold the
        input in the listing itself)."""
        return self.read((root / file).read_bytes(), rate)

    def targets(self, names: list[str], labels: list[str] | None) -> list:
        """A folder's targets as the model scores them (as they are, by default)."""
        return names

    def scan(self, root, train_fraction: float = 0.4, calib_fraction: float = 0.3, limit: int = 0):
        """A labelled folder of this modality, split into train, calib and test (folders.scan)."""
        from ..folders import scan

        return scan(root, self, train_fraction, calib_fraction, limit)

    def decode(self, data: bytes, model=None) -> Decoded:
        """An upload as one input: through `model.prepare` (an imported model's own processor)
        when a model is given, else in the modality's own form (what the built-in models read)."""
        raise NotImplementedError

    # ---- noise --------------------------------------------------------------------------------
    def noise_axis(self, model: Callable[[], Any]) -> NoiseAxis:
        """The noisy test sets of an imported model (`model`: loads it when a live page needs it):
        the noise goes in before the checkpoint's own processor, made on first use."""
        raise NotImplementedError

    def noisy(self, raw, variant: dict, seed: int, rate: int):
        """One raw input (as `read` gives it) under a noisy set's `variant`."""
        raise NotImplementedError

    def preparer(self, model, variant: dict):
        """`prepare` for folders.load_part: the model's own, after the noisy set's `variant`
        (noise goes in before the checkpoint's processor, as it would reach a microphone or a
        camera; each file gets its own seed, its place in the split)."""
        if not variant:
            return model.prepare
        count = iter(range(1 << 62))
        kind = variant.get("noise", variant.get("corruption"))
        return lambda raw: model.prepare(self.noisy(raw, variant, seed(next(count), kind), model.rate))

    # ---- imported models' exit heads ----------------------------------------------------------
    def features(self, model, inputs: list, progress=None, spill: Path | None = None):
        """The frozen model's features of the training inputs, read once (exit_heads.Features)."""
        from ..exit_heads import extract

        return extract(model, inputs, progress=progress, spill=spill)

    def exit_modules(self, model, manifest, view: str) -> dict:
        """The (untrained) modules an import saved for `model`, to load its heads into:
        {"branches": ..., and "ssl" or "shared"}, None where the import trained none."""
        raise NotImplementedError

    def attach(self, model, exits: str, modules: dict, view: str):
        """`model` with the loaded modules answering its exits."""
        raise NotImplementedError

    def train_branches(self, model, feats, targets, opts, progress):
        """Exit branches (exits 0..K-2) trained on the frozen backbone's features; (modules, log)."""
        raise NotImplementedError
