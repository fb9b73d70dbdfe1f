"""Does a prepared 28x28 input look like a handwritten digit? Sentences for when it does not.

The image model was trained on MNIST: one pen-drawn digit, white strokes on black,
filling a 20-pixel box. Shown anything else - a bright page, a block, two digits, a
cloud of fragments - it still answers, often with high confidence at the first exit.
`unlike_a_digit` measures a few plain properties of the input and says, in words,
when they fall outside what MNIST's own digits show. Each limit lies beyond (or at
the very edge of) what MNIST's training digits reach: the warnings fire for 13 of
the 50,000 training digits, none of the 10,000 validation digits and 7 of the 10,000
test digits (tests/test_image_input.py holds the test set to <= 0.3%). Shape does not
catch everything: a photo of a scene can come out as plausible strokes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

INK = 0.5  # a pixel at least this bright is ink
LIT = 0.2  # ... and one at least this bright is lit (a dim block under uneven light is still a block)
MIN_SOLID = 0.3  # share of lit pixels 3+ px deep inside lit ones: strokes are 2-4 px wide (MNIST max 0.25)
MIN_FRAME_EDGE = 0.7  # ink along (nearly) all of every side of the box: the outline of a page or a screen
MIN_FRAME_ASPECT = 0.4  # ... in a box that is not a thin upright "1" (which fills its narrow box)
MIN_WIDE = 2.6  # box width / height: MNIST's widest digits reach 2.5
MIN_PART = 0.2  # a separate mark with at least 20% of the ink counts as a part (of a second digit, say)
MIN_PIECE = 0.1  # a separate mark with less than 10% of the ink is a speck
MAX_PIECES = 3  # MNIST digits are at most 3 separate marks (a broken stroke or two)
MAX_INK = 0.35  # mean brightness: MNIST's heaviest digit is 0.34


@dataclass(frozen=True)
class DigitShape:
    """Plain measures of a 28x28 input (white ink on black)."""

    solid: float  # share of lit pixels at least 3 px inside the lit area (7x7 all lit): a block, not strokes
    frame_edge: float  # the least-inked side of the ink's bounding box: share of its pixels that are ink
    aspect: float  # the box's width / height
    pieces: int  # separate marks (8-connected), specks left out
    side_by_side: bool  # two big separate marks next to each other, not one above the other
    ink: float  # mean brightness of the whole field


def measure(field: np.ndarray) -> DigitShape | None:
    """The shape measures of a 28x28 input in [0, 1]; None for an empty field."""

    field = np.asarray(field, dtype=np.float32)
    ink = field >= INK
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        return None
    box = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    lit = field >= LIT
    deep = ndimage.binary_erosion(lit, structure=np.ones((7, 7)))
    labels, count = ndimage.label(field > 0.3, structure=np.ones((3, 3)))
    mass = np.bincount(labels.ravel(), weights=field.ravel())[1:]
    parts = [_columns(labels == k + 1) for k in range(count) if mass[k] >= MIN_PART * mass.sum()]
    return DigitShape(
        solid=float(deep.sum() / lit.sum()),
        frame_edge=float(min(box[0].mean(), box[-1].mean(), box[:, 0].mean(), box[:, -1].mean())),
        aspect=box.shape[1] / box.shape[0],
        pieces=int((mass >= MIN_PIECE * mass.sum()).sum()),
        side_by_side=any(a[1] < b[0] or b[1] < a[0] for i, a in enumerate(parts) for b in parts[i + 1 :]),
        ink=float(field.mean()),
    )


def unlike_a_digit(field: np.ndarray) -> tuple[str, ...]:
    """Sentences for a person, one per way the input differs from a handwritten digit; () if it looks like one."""
    shape = measure(field)
    if shape is None:
        return ()
    found = []
    if shape.solid >= MIN_SOLID or (shape.frame_edge >= MIN_FRAME_EDGE and shape.aspect >= MIN_FRAME_ASPECT):
        found.append(
            "The 28×28 input the model sees is a filled or outlined block, not pen strokes: the picture probably "
            "shows a page, a screen or an object rather than one digit on a plain background. Crop the photo to "
            "the digit, or photograph it on plain paper.")
    if shape.side_by_side or shape.aspect >= MIN_WIDE:
        found.append(
            "The 28×28 input holds marks side by side"
            + (f", {shape.aspect:.1f} times as wide as tall" if shape.aspect >= MIN_WIDE else "")
            + ": it may be more than one digit. The model reads a single digit; upload one digit at a time.")
    elif shape.pieces > MAX_PIECES:
        found.append(
            f"The 28×28 input is {shape.pieces} separate marks, not one pen-drawn digit: the picture may show "
            "a scene, several digits or dirt. Upload a photo of one digit on plain paper.")
    if shape.ink > MAX_INK and not found:
        found.append(
            f"The 28×28 input is mostly ink ({shape.ink:.0%} of it is lit, MNIST's digits at most 34%): it does "
            "not look like a pen-drawn digit. Upload a photo of one digit on plain paper.")
    return tuple(found)


def _columns(mask: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(cols[-1])
