"""Uploaded pictures of a handwritten digit -> MNIST-style 28x28 input."""

from __future__ import annotations

import contextlib
import io
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw

from explorer.errors import InputError
from explorer.image_input import DigitImage, mnist_to_png, prepare_digit

SEVEN = [(90, 80), (250, 80), (150, 330)]
ONE = [(170, 60), (170, 340)]


def _draw(points=SEVEN, size=(320, 400), paper=255, ink=0, width=16, mode="L") -> Image.Image:
    """A digit drawn as a pen line: dark ink on white paper unless told otherwise."""
    image = Image.new("L", size, paper)
    ImageDraw.Draw(image).line(points, fill=ink, width=width, joint="curve")
    return image.convert(mode)


def _encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _ink_box(arr: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(arr.max(axis=1) > 0)
    cols = np.flatnonzero(arr.max(axis=0) > 0)
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def _centre_of_mass(arr: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(arr.shape)
    return (arr * ys).sum() / arr.sum(), (arr * xs).sum() / arr.sum()


def _assert_mnist_like(result: DigitImage) -> None:
    arr = result.mnist
    assert arr.shape == (28, 28) and arr.dtype == np.float32
    assert arr.min() == 0.0 and arr.max() == pytest.approx(1.0)
    height, width = _ink_box(arr)
    assert max(height, width) <= 20  # fits MNIST's 20x20 box ...
    assert max(height, width) >= 19  # ... and fills it
    cy, cx = _centre_of_mass(arr)
    assert abs(cy - 14) <= 1 and abs(cx - 14) <= 1
    assert result.original.mode == "RGB" and max(result.original.size) <= 512


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP"])
def test_formats(fmt):
    result = prepare_digit(_encode(_draw(mode="RGB"), fmt))
    _assert_mnist_like(result)
    assert result.inverted  # dark ink on white paper was flipped to MNIST's white on black


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("RGBA", "PNG"), ("P", "PNG"), ("1", "PNG"), ("1", "BMP"), ("LA", "PNG"), ("CMYK", "JPEG")],
)
def test_image_modes(mode, fmt):
    _assert_mnist_like(prepare_digit(_encode(_draw(mode=mode), fmt)))


def test_16_bit_png():
    pixels = np.asarray(_draw(), dtype=np.uint16) * 257  # 0..65535
    image = Image.fromarray(pixels)
    assert image.mode.startswith("I;16")
    _assert_mnist_like(prepare_digit(_encode(image)))


@pytest.mark.parametrize("stroke", [(0, 0, 0, 255), (255, 255, 255, 255), (30, 60, 200, 255)])
def test_strokes_on_transparent_canvas(stroke):
    """Drawing apps save strokes on a transparent background, in any colour."""
    image = Image.new("RGBA", (320, 400), (0, 0, 0, 0))
    ImageDraw.Draw(image).line(SEVEN, fill=stroke, width=16, joint="curve")
    _assert_mnist_like(prepare_digit(_encode(image)))


def test_light_and_dark_backgrounds_agree():
    on_paper = prepare_digit(_encode(_draw(paper=255, ink=0)))
    on_black = prepare_digit(_encode(_draw(paper=0, ink=255)))
    assert on_paper.inverted and not on_black.inverted
    assert np.abs(on_paper.mnist - on_black.mnist).mean() < 0.02


def _exif_jpeg(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(image.convert("RGB"), "JPEG", exif=exif)


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_rotation_is_applied(orientation):
    """A phone stores a portrait photo as landscape pixels plus an EXIF 'rotate' tag."""
    bar = _draw(points=[(40, 150), (360, 150)], size=(400, 300))  # horizontal bar, landscape
    plain = prepare_digit(_encode(bar.convert("RGB"), "JPEG"))
    rotated = prepare_digit(_exif_jpeg(bar, orientation))
    height, width = _ink_box(plain.mnist)
    assert width > 3 * height  # no EXIF: still horizontal
    height, width = _ink_box(rotated.mnist)
    assert height > 3 * width  # EXIF orientation 6/8: upright is vertical
    assert rotated.original.height > rotated.original.width


def test_gif_uses_first_frame():
    frames = [_draw(ONE).convert("P"), _draw(SEVEN).convert("P")]
    data = _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    first = prepare_digit(_encode(frames[0], "GIF"))
    np.testing.assert_allclose(prepare_digit(data).mnist, first.mnist, atol=1e-6)


def test_phone_photo_with_uneven_light_noise_and_a_speck():
    rng = np.random.default_rng(0)
    height, width = 1200, 1600
    seven = [(700, 400), (950, 400), (780, 850)]  # small in the frame
    ink = np.asarray(_draw(seven, (width, height), width=6)) / 255
    ys, xs = np.indices((height, width))
    paper = 0.9 - 0.4 * xs / width - 0.1 * ys / height  # a shadow across the page
    gray = paper * ink + 0.12 * (1 - ink) + rng.normal(0, 0.02, ink.shape)
    gray[150:158, 150:158] = 0.1  # a speck of dirt far from the digit
    photo = Image.fromarray(np.clip(gray * 255, 0, 255).astype(np.uint8)).convert("RGB")
    result = prepare_digit(_encode(photo, "JPEG", quality=80))
    _assert_mnist_like(result)
    clean = prepare_digit(_encode(_draw(seven, (width, height), width=6)))
    assert np.abs(result.mnist - clean.mnist).mean() < 0.05


def test_thin_pen_gets_mnist_thick_strokes():
    thin = prepare_digit(_encode(_draw(width=2))).mnist
    thick = prepare_digit(_encode(_draw(width=16))).mnist
    # A hairline scaled down to 20 px would be a faint trace; MNIST strokes are ~2 px.
    assert (thin > 0.5).sum() >= 0.7 * (thick > 0.5).sum()


def test_mnist_picture_round_trips():
    """An upload that already is an MNIST-style digit comes back nearly unchanged."""
    digit = prepare_digit(_encode(_draw())).mnist
    again = prepare_digit(mnist_to_png(digit)).mnist
    assert np.abs(again - digit).mean() < 0.03


@pytest.mark.parametrize(
    "image",
    [
        Image.new("L", (200, 200), 255),
        Image.new("RGB", (200, 200), (128, 128, 128)),
        Image.new("L", (1, 1), 0),
        Image.new("RGBA", (200, 200), (0, 0, 0, 0)),
    ],
    ids=["white", "grey", "one-pixel", "transparent"],
)
def test_blank_images_are_refused(image):
    with pytest.raises(InputError, match="ink"):
        prepare_digit(_encode(image))


def test_blank_jpeg_photo_with_sensor_noise_is_refused():
    noise = np.random.default_rng(0).normal(200, 2, (300, 300))
    with pytest.raises(InputError, match="ink"):
        prepare_digit(_encode(Image.fromarray(noise.astype(np.uint8)), "JPEG"))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"Hello, this is a note about the digit seven.\n", "text"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><text>7</text></svg>', "SVG"),
        (b"\x00\x01\x02\x03" * 100, "could not be read"),
    ],
)
def test_not_an_image(data, message):
    with pytest.raises(InputError, match=message):
        prepare_digit(data)


def test_truncated_png_is_refused():
    data = _encode(_draw())
    with pytest.raises(InputError, match="could not be read"):
        prepare_digit(data[: len(data) // 2])


def test_unsupported_format_is_refused():
    with pytest.raises(InputError, match="PNG, JPEG"):
        prepare_digit(_encode(_draw(), "TIFF"))


def _png_claiming_size(width: int, height: int) -> bytes:
    """A tiny valid PNG whose header claims width x height (the pixels are never there)."""
    data = bytearray(_encode(Image.new("1", (8, 8), 1)))
    ihdr = 8 + 8  # signature, then the IHDR chunk's length and type
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13]))
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (8_000, 6_000)])
def test_huge_declared_size_is_refused_before_decoding(width, height):
    start = time.perf_counter()
    with pytest.raises(InputError, match="too large"):
        prepare_digit(_png_claiming_size(width, height))
    assert time.perf_counter() - start < 1.0  # refused from the header, nothing decoded


def test_max_pixels_is_respected():
    with pytest.raises(InputError, match="320 x 400"):
        prepare_digit(_encode(_draw()), max_pixels=100_000)


def test_damaged_files_only_raise_input_error():
    """Random damage to real files never lets another exception type escape."""
    rng = np.random.default_rng(0)
    image = _draw(size=(64, 64), points=[(32, 8), (32, 56)], width=5)
    kinds = [("L", "PNG"), ("RGB", "JPEG"), ("P", "GIF"), ("RGB", "BMP")]
    seeds = [_encode(image.convert(mode), fmt) for mode, fmt in kinds]
    for i in range(400):
        data = bytearray(seeds[i % len(seeds)])
        if i % 3 == 0:
            data = data[: rng.integers(len(data))]
        else:
            for _ in range(rng.integers(1, 6)):
                data[rng.integers(len(data))] = rng.integers(256)
        with contextlib.suppress(InputError):
            prepare_digit(bytes(data))


def test_mnist_to_png_round_trip():
    arr = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28)
    image = Image.open(io.BytesIO(mnist_to_png(arr)))
    assert image.format == "PNG" and image.mode == "L" and image.size == (28, 28)
    np.testing.assert_allclose(np.asarray(image) / 255, arr, atol=1 / 255)
    assert Image.open(io.BytesIO(mnist_to_png(arr, scale=4))).size == (112, 112)
    with pytest.raises(InputError):
        mnist_to_png(np.zeros((2, 28, 28)))
