"""Image corruptions of graded strength, to see exits move deeper as inputs get harder.

All work on MNIST-like float arrays [..., H, W] in [0, 1] (white ink on black;
tuned for 28x28), a whole batch at once. Severity 0 is the clean input; 1..5 get
steadily harder, and at 5 a person can still often read the digit while a model
clearly struggles. Results are float32, clipped to [0, 1], the input's shape, and
the same for the same seed.

For each kind the random draws do not depend on the severity, so for one seed a
higher severity is the same corruption made stronger (more of the same noise, a
bigger patch at the same place), not a different random picture.
"""

from __future__ import annotations

import numpy as np

from explorer.errors import InputError

CORRUPTIONS = ("gaussian_noise", "blur", "contrast", "occlusion", "salt_pepper")
MAX_SEVERITY = 5

# The parameter each severity 1..5 uses (index 0 = severity 1).
SEVERITY_PARAMETERS: dict[str, tuple[float, ...]] = {
    # standard deviation of added Gaussian noise (image range is 0..1)
    "gaussian_noise": (0.08, 0.16, 0.24, 0.32, 0.4),
    # Gaussian blur sigma in pixels (MNIST strokes are about 2 px wide)
    "blur": (0.6, 1.0, 1.4, 1.8, 2.2),
    # contrast kept: pixels move toward the image's mean, keeping this fraction
    "contrast": (0.6, 0.45, 0.3, 0.2, 0.12),
    # side of a square erased (set to black) at a random spot near the middle,
    # in pixels of a 28x28 image (scaled for other sizes)
    "occlusion": (3.0, 5.0, 7.0, 9.0, 11.0),
    # fraction of pixels replaced by pure black or white, half each
    "salt_pepper": (0.03, 0.06, 0.1, 0.15, 0.2),
}


def corrupt(images: np.ndarray, kind: str, severity: int, seed: int = 0) -> np.ndarray:
    """Return `images` ([..., H, W] in [0, 1]) corrupted by `kind` at `severity` 0..5."""
    if kind not in CORRUPTIONS:
        raise InputError(f"Unknown corruption {kind!r}: choose one of {', '.join(CORRUPTIONS)}.")
    if isinstance(severity, bool) or not isinstance(severity, int | np.integer):
        raise InputError(f"Severity must be a whole number from 0 to {MAX_SEVERITY}, got {severity!r}.")
    if not 0 <= severity <= MAX_SEVERITY:
        raise InputError(f"Severity must be from 0 to {MAX_SEVERITY}, got {severity}.")
    images = np.array(images, dtype=np.float32)  # a copy: the caller's array is never changed
    if images.ndim < 2 or images.shape[-1] == 0 or images.shape[-2] == 0:
        raise InputError(f"Expected images shaped [..., height, width], got shape {images.shape}.")
    if severity == 0:
        return images

    param = SEVERITY_PARAMETERS[kind][severity - 1]
    rng = np.random.default_rng(seed)
    out = _APPLY[kind](images, param, rng)
    return np.clip(out, 0.0, 1.0).astype(np.float32, copy=False)


def _gaussian_noise(images: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    return images + sigma * rng.standard_normal(images.shape, dtype=np.float32)


def _blur(images: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Separable Gaussian blur as two matrix products: K_h @ image @ K_w^T."""
    height, width = images.shape[-2:]
    return _blur_matrix(height, sigma) @ images @ _blur_matrix(width, sigma).T


def _blur_matrix(n: int, sigma: float) -> np.ndarray:
    """[n, n] matrix whose row i is a Gaussian centred on pixel i.

    Rows are normalised by the full kernel's sum, so ink near the edge fades as if
    the picture continued with black background (zero padding).
    """
    offsets = np.arange(n)[:, None] - np.arange(n)[None, :]
    radius = int(np.ceil(4 * sigma))
    full_sum = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2).sum()
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2) * (np.abs(offsets) <= radius)
    return (kernel / full_sum).astype(np.float32)


def _contrast(images: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    mean = images.mean(axis=(-2, -1), keepdims=True)
    return mean + keep * (images - mean)


def _occlusion(images: np.ndarray, side: float, rng: np.random.Generator) -> np.ndarray:
    """Erase a square whose centre is drawn (per image) in the middle 40% of the picture."""
    height, width = images.shape[-2:]
    batch = images.shape[:-2]
    side = side * min(height, width) / 28.0
    cy = rng.uniform(0.3, 0.7, size=batch)[..., None, None] * height
    cx = rng.uniform(0.3, 0.7, size=batch)[..., None, None] * width
    rows = np.arange(height)[:, None] + 0.5  # pixel centres
    cols = np.arange(width)[None, :] + 0.5
    inside = (np.abs(rows - cy) < side / 2) & (np.abs(cols - cx) < side / 2)
    return np.where(inside, 0.0, images)


def _salt_pepper(images: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    hit = rng.random(images.shape) < fraction  # same field every severity: the hits nest
    salt = rng.random(images.shape) < 0.5
    return np.where(hit, salt.astype(np.float32), images)


_APPLY = {
    "gaussian_noise": _gaussian_noise,
    "blur": _blur,
    "contrast": _contrast,
    "occlusion": _occlusion,
    "salt_pepper": _salt_pepper,
}
