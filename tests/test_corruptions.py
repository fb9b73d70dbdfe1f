"""Graded image corruptions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image, ImageDraw

from explorer.corruptions import CORRUPTIONS, corrupt
from explorer.errors import InputError


def _digits() -> np.ndarray:
    """A small batch of MNIST-like strokes: white on black, 28x28."""
    strokes = [
        [(8, 6), (20, 6), (12, 22)],  # a 7
        [(14, 4), (14, 23)],  # a 1
        [(8, 6), (20, 6), (20, 14), (8, 14), (8, 22), (20, 22)],  # a 2-ish zigzag
        [(9, 5), (19, 5), (19, 23), (9, 23), (9, 5)],  # a 0-ish box
    ]
    images = []
    for points in strokes:
        image = Image.new("L", (28, 28), 0)
        ImageDraw.Draw(image).line(points, fill=255, width=3)
        images.append(np.asarray(image, dtype=np.float32) / 255)
    return np.stack(images)


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_severity_zero_is_identity(kind):
    images = _digits()
    out = corrupt(images, kind, 0)
    np.testing.assert_array_equal(out, images)
    assert out.dtype == np.float32


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_change_grows_with_severity(kind):
    images = _digits()
    change = [np.abs(corrupt(images, kind, s, seed=3) - images).mean() for s in range(6)]
    assert all(a < b for a, b in itertools.pairwise(change)), change


@pytest.mark.parametrize("kind", CORRUPTIONS)
@pytest.mark.parametrize("shape", [(28, 28), (2, 3, 28, 28)])
def test_output_shape_dtype_range(kind, shape):
    images = np.broadcast_to(_digits()[0], shape)
    before = images.copy()
    out = corrupt(images, kind, 5, seed=1)
    assert out.shape == shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    np.testing.assert_array_equal(images, before)  # the input is left alone


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_deterministic_per_seed(kind):
    images = _digits()
    np.testing.assert_array_equal(corrupt(images, kind, 3, seed=7), corrupt(images, kind, 3, seed=7))


@pytest.mark.parametrize("kind", ["gaussian_noise", "occlusion", "salt_pepper"])
def test_random_kinds_change_with_seed(kind):
    images = _digits()
    assert not np.array_equal(corrupt(images, kind, 3, seed=1), corrupt(images, kind, 3, seed=2))


def test_severity_five_keeps_the_digit_recognisable():
    """Even at the top severity the corrupted 7 is still nearer the clean 7 than the 1."""
    images = _digits()
    seven, one = images[0], images[1]
    for kind in CORRUPTIONS:
        noisy = corrupt(seven, kind, 5, seed=0).ravel()
        similarity_to_seven = np.corrcoef(noisy, seven.ravel())[0, 1]
        similarity_to_one = np.corrcoef(noisy, one.ravel())[0, 1]
        assert similarity_to_seven > similarity_to_one, kind


@pytest.mark.parametrize(
    ("kind", "severity"),
    [("fog", 1), ("blur", 6), ("blur", -1), ("blur", 2.5), ("blur", True), ("blur", "3")],
)
def test_bad_arguments_raise_input_error(kind, severity):
    with pytest.raises(InputError):
        corrupt(_digits(), kind, severity)


def test_non_image_array_is_refused():
    with pytest.raises(InputError, match="shape"):
        corrupt(np.zeros(5), "blur", 1)
