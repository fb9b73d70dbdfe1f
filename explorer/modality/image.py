"""Pictures: class labels, judged by accuracy, corrupted by the project's corruptions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError
from ..quality import ACCURACY
from .base import Decoded, Listing, Modality, NoiseAxis, seed

SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
MAX_PIXELS = 40_000_000  # a folder's picture may be larger than an upload, not unboundedly
SHIFT_SEVERITY = 3  # the headline's corrupted sets: the middle severity, visible but not destroyed


class Image(Modality):
    name = "image"
    quality = ACCURACY
    live_page = "live_image"
    shared_exit = True

    # ---- files ------------------------------------------------------------------------------
    def list_files(self, root: Path) -> Listing:
        """One subfolder per class (ImageFolder), or metadata.csv with file_name,label."""
        from ..folders import read_metadata

        if (root / "metadata.csv").is_file():
            return Listing("metadata.csv", *read_metadata(root, "label"))
        files, targets = [], []
        for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
            for f in sorted(sub.rglob("*")):
                if f.is_file() and f.suffix.lower() in SUFFIXES:
                    files.append(f.relative_to(root))
                    targets.append(sub.name)
        if not files:
            loose = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES]
            hint = (f" ({len(loose)} pictures lie directly in it: move them into one subfolder per class)"
                    if loose else "")
            raise InputError(f"no labelled pictures in {root}{hint}: make one subfolder per class "
                             "(its name is the label), or a metadata.csv with file_name,label")
        return Listing("imagefolder", files, targets, [])

    def read(self, data: bytes, rate: int | None = None):
        """Bytes of a picture -> an upright RGB PIL image (the upload decoder's checks)."""
        from PIL import Image as PILImage

        from ..image_input import _decode

        try:
            arr = _decode(data, MAX_PIXELS)  # [H, W, 3] in [0, 1]
        except InputError as err:  # the upload's words, without its advice about digits and uploads
            raise InputError(str(err).split(" Please")[0]) from None
        return PILImage.fromarray(np.round(arr * 255).astype(np.uint8))

    def targets(self, names: list[str], labels: list[str] | None) -> list:
        from ..folders import match_labels

        return names if labels is None else match_labels(names, labels)

    def decode(self, data: bytes, model=None) -> Decoded:
        if model is not None:  # the checkpoint's own image processor
            picture = self.read(data)
            return Decoded(model.prepare(picture), np.asarray(picture))
        import torch

        from ..image_input import prepare_digit

        digit = prepare_digit(data)  # the built-in models read MNIST digits
        return Decoded(torch.tensor(digit.mnist)[None], digit.original, tuple(digit.warnings))  # x: [1, 28, 28]

    # ---- noise --------------------------------------------------------------------------------
    def noise_axis(self, model=None, limit: int = 0) -> NoiseAxis:
        """Corruptions at severities 1-5: of an imported model's pictures before its processor
        (`model` loads it), or of the built-in digits as they are (the first `limit`)."""
        from ..corruptions import CORRUPTIONS, MAX_SEVERITY, corrupt

        levels, label = tuple(range(MAX_SEVERITY + 1)), "corruption severity (0 = clean)"
        if model is None:
            def variant(kind: str, level) -> dict:  # severity 0: the same digits, clean, one profile for every kind
                return {"limit": limit} if not int(level) else \
                    {"corruption": kind, "severity": int(level), "limit": limit}

            def one(x, kind: str, level):  # x [1, 28, 28] in [0, 1]
                import torch

                return x if not int(level) else torch.from_numpy(corrupt(x.numpy(), kind, int(level)))

            return NoiseAxis(CORRUPTIONS, levels, label, variant,
                             f"the first {limit:,} test digits under each corruption at severities 1–5", one,
                             SHIFT_SEVERITY)

        def variant(kind: str, level) -> dict:
            return {} if not int(level) else {"corruption": kind, "severity": int(level)}

        def apply(x, kind: str, level):  # one prepared input: its picture corrupted, then prepared again
            if kind == "none" or level == "clean" or not int(level):
                return x  # the clean level
            import torch

            m = model()
            return m.prepare(self._picture(corrupted(m.picture(x), kind, int(level), seed(0, kind)))) \
                .to(torch.float32)

        return NoiseAxis(CORRUPTIONS, levels, label, variant,
                         "its test pictures under each corruption at severities 1–5 (made on first use)", apply,
                         SHIFT_SEVERITY)

    def noisy(self, raw, variant: dict, seed: int, rate: int | None = None):
        rgb = np.asarray(raw.convert("RGB"), np.float32) / 255
        return self._picture(corrupted(rgb, variant["corruption"], variant["severity"], seed))

    @staticmethod
    def _picture(rgb: np.ndarray):
        from PIL import Image as PILImage

        return PILImage.fromarray(np.round(rgb * 255).astype(np.uint8))

    # ---- imported models' exit heads ----------------------------------------------------------
    def exit_modules(self, model, manifest, view: str) -> dict:
        from torch import nn

        from ..exit_heads import Branch

        C, K = len(model.labels), model.num_exits
        branches = (nn.ModuleList(Branch(model.widths[k], C, model.branch_parts) for k in range(K - 1))
                    if manifest.exits != "final-head" else None)
        return {"branches": branches, "shared": nn.Linear(K * model.slot, C) if view == "shared" else None}

    def attach(self, model, exits: str, modules: dict, view: str):
        return model.attach("shared" if view == "shared" else exits, modules["branches"], modules["shared"])

    def train_branches(self, model, feats, targets, opts, progress):
        from ..exit_heads import train_image_branches

        return train_image_branches(model, feats, targets, opts.epochs, opts.seed, progress=progress)


def corrupted(rgb: np.ndarray, kind: str, severity: int, seed: int) -> np.ndarray:
    """[H, W, C] in [0, 1] under a corruption: every channel gets the same random draws (one
    occluded square, grey noise, black and white salt and pepper)."""
    from ..corruptions import corrupt

    return np.stack([corrupt(rgb[..., c], kind, int(severity), seed=seed) for c in range(rgb.shape[-1])], -1)


IMAGE = Image()
