"""One object per kind of input (a modality): IMAGE, SPEECH and TEXT. Each owns decoding an
upload, a labelled folder's layout, the noise axis, the quality measure and what an import
trains for it (see base.Modality); code that works for any input asks the model's modality
instead of branching on its family."""

from __future__ import annotations

from .base import Decoded, Listing, Modality, NoiseAxis
from .image import IMAGE
from .speech import SPEECH
from .text import TEXT

__all__ = ["IMAGE", "SPEECH", "TEXT", "Decoded", "Listing", "Modality", "NoiseAxis", "of"]
BY_NAME = {m.name: m for m in (IMAGE, SPEECH, TEXT)}


def of(name: str) -> Modality:
    """The modality a model's `family` (or an import's manifest) names."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"no modality {name!r}; known: {', '.join(BY_NAME)}") from None
