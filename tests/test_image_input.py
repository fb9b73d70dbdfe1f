"""Uploaded pictures of a handwritten digit -> MNIST-style 28x28 input."""

from __future__ import annotations

import contextlib
import io
import struct
import time
import zlib

import numpy as np
import pytest
import torch
from input_corpus import HANDWRITTEN, damaged_copies, desk_photo, encode_heic, pen_stroke
from PIL import Image, ImageDraw

from explorer import built_ins, checkpoint, zoo
from explorer.digit_shape import measure, unlike_a_digit
from explorer.engine import read_all_exits
from explorer.errors import InputError
from explorer.image_input import ACCEPTED_EXTENSIONS, UPLOAD_TYPES, DigitImage, mnist_to_png, prepare_digit

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


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "AVIF"])
def test_formats(fmt):
    result = prepare_digit(_encode(_draw(mode="RGB"), fmt))
    _assert_mnist_like(result)
    assert result.inverted  # dark ink on white paper was flipped to MNIST's white on black
    assert not result.paper and not result.warnings  # a scan: all page, no desk; a plain digit


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
    assert not on_black.paper  # light strokes on black are not a sheet of paper


def test_a_light_bar_on_black_is_read_as_a_digit_not_as_a_blank_sheet():
    """A thick light '1' is bright, solid and surrounded by dark, like a sheet: it has nothing written on it,
    so the whole picture is read instead."""
    bar = _draw(points=ONE, paper=0, ink=255, width=70)
    result = prepare_digit(_encode(bar))
    assert not result.paper and not result.inverted
    height, width = _ink_box(result.mnist)
    assert height == 20 and width < 10


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
    assert not result.paper  # a shadow across one page is not a page on a desk
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
    image = _draw(size=(64, 64), points=[(32, 8), (32, 56)], width=5)
    kinds = [("L", "PNG"), ("RGB", "JPEG"), ("P", "GIF"), ("RGB", "BMP")]
    for data in damaged_copies([_encode(image.convert(mode), fmt) for mode, fmt in kinds], 400):
        with contextlib.suppress(InputError):
            prepare_digit(data)


def test_mnist_to_png_round_trip():
    arr = np.linspace(0, 1, 28 * 28, dtype=np.float32).reshape(28, 28)
    image = Image.open(io.BytesIO(mnist_to_png(arr)))
    assert image.format == "PNG" and image.mode == "L" and image.size == (28, 28)
    np.testing.assert_allclose(np.asarray(image) / 255, arr, atol=1 / 255)
    assert Image.open(io.BytesIO(mnist_to_png(arr, scale=4))).size == (112, 112)
    with pytest.raises(InputError):
        mnist_to_png(np.zeros((2, 28, 28)))


# --- photos of paper on a desk ----------------------------------------------------------

HAVE_MODEL = checkpoint.exists(built_ins.IMAGE_CHECKPOINT)
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason="no shipped image checkpoint")


def _every_exit_reads(mnist: np.ndarray) -> list[str]:
    model = zoo.model("image")
    with torch.inference_mode():
        _, answers = read_all_exits(model, torch.tensor(mnist)[None, None])
    return [model.describe(a[0].item()) for a in answers]


def _assert_digit_like(result: DigitImage) -> None:
    """Pen strokes in MNIST's box: not a block, one digit, nothing for the user to be warned about."""
    _assert_mnist_like(result)
    shape = measure(result.mnist)
    assert shape.solid < 0.2 and shape.frame_edge < 0.5 and shape.pieces <= 2, shape
    assert result.warnings == ()


def test_phone_photo_of_a_sheet_on_a_dark_desk():
    """The issue's photo: a 3000x4000 phone JPEG of a '2' on paper, a dark wooden desk around it,
    tilted, unevenly lit. The sheet, not the picture's border, is the background."""
    result = prepare_digit(_encode(desk_photo("2"), "JPEG", quality=88))
    assert result.paper and result.inverted
    _assert_digit_like(result)
    if HAVE_MODEL:
        assert _every_exit_reads(result.mnist) == ["2"] * 6


PHOTOS = {  # (digit, desk_photo options): tilts, light, pens, sheet sizes and places, both orientations
    "2-upright": ("2", {"angle": 0}),
    "2-tilted-left": ("2", {"angle": -12}),
    "2-tilted-20": ("2", {"angle": 20}),
    "2-deep-shadow": ("2", {"shade": 0.6}),
    "2-ballpoint": ("2", {"pen": 0.004}),
    "2-marker": ("2", {"pen": 0.02}),
    "2-small-sheet": ("2", {"sheet": (0.35, 0.3)}),
    "2-sheet-off-the-edge": ("2", {"sheet": (0.9, 0.8), "shift": (0.1, 0.15)}),
    "2-landscape": ("2", {"size": (1600, 1200), "sheet": (0.5, 0.7)}),
    "2-light-desk": ("2", {"desk": 0.4}),
    "2-light-desk-deep-shadow": ("2", {"desk": 0.5, "shade": 0.6}),
    "0": ("0", {}),
    "3": ("3", {"angle": -5}),
    "4": ("4", {"seed": 1}),
    "7": ("7", {"angle": 10}),
}


@pytest.mark.parametrize("digit,options", list(PHOTOS.values()), ids=list(PHOTOS))
def test_sheets_on_a_desk_become_digits_the_model_reads(digit, options):
    photo = desk_photo(digit, **({"size": (1200, 1600)} | options))
    result = prepare_digit(_encode(photo, "JPEG", quality=85))
    assert result.paper
    _assert_digit_like(result)
    if HAVE_MODEL:
        assert _every_exit_reads(result.mnist)[-1] == digit


def test_a_blank_sheet_on_a_desk_is_flagged_as_a_block():
    result = prepare_digit(_encode(desk_photo(None, size=(1200, 1600)), "JPEG"))
    assert not result.paper  # nothing written on the sheet: the whole picture is read ...
    assert len(result.warnings) == 1 and "block" in result.warnings[0]  # ... and it is no digit


# --- does the prepared input look like a digit? -------------------------------------------


def _field(draw) -> np.ndarray:
    image = Image.new("L", (28, 28), 0)
    draw(ImageDraw.Draw(image))
    return np.asarray(image, dtype=np.float32) / 255


def test_a_page_with_a_digit_on_it_is_flagged():
    """What the app used to show for a photo of paper on a desk: a white rectangle with a dark '2'."""
    def page(d):
        d.rectangle((6, 4, 21, 23), fill=235)
        d.line([(10, 9), (16, 9), (16, 13), (10, 19), (17, 19)], fill=60, width=2)

    warnings = unlike_a_digit(_field(page))
    assert len(warnings) == 1 and "filled or outlined block" in warnings[0]
    outline = unlike_a_digit(_field(lambda d: d.rectangle((6, 4, 21, 23), outline=255, width=2)))
    assert len(outline) == 1 and "block" in outline[0]


def test_two_digits_side_by_side_are_flagged():
    image = Image.new("L", (560, 300), 255)
    draw = ImageDraw.Draw(image)
    for digit, left in (("4", 60), ("7", 320)):
        for stroke in HANDWRITTEN[digit]:
            draw.line(pen_stroke([(left + x * 1.6, 40 + y * 1.6) for x, y in stroke]), fill=0, width=14, joint="curve")
    warnings = prepare_digit(_encode(image)).warnings
    assert len(warnings) == 1 and "more than one digit" in warnings[0]


def test_scattered_marks_and_heavy_ink_are_flagged():
    rng = np.random.default_rng(0)
    specks = np.zeros((28, 28), np.float32)
    for y, x in rng.integers(4, 22, (6, 2)):
        specks[y : y + 2, x : x + 2] = 1.0
    specks[4:24:6, 4:24:6] = 1.0  # a grid of separate marks
    assert any("separate marks" in w for w in unlike_a_digit(specks))
    mesh = np.zeros((28, 28), np.float32)  # a fine mesh: half the field lit, no solid part, one piece
    mesh[4:26, 2:26:2] = 1.0
    mesh[4:26:2, 2:26] = 1.0
    assert [w for w in unlike_a_digit(mesh) if "mostly ink" in w]


def test_mnist_digits_are_rarely_flagged():
    """The warnings are for inputs unlike MNIST: on MNIST's own test digits they stay quiet."""
    from explorer.data.mnist import load_mnist

    images, _ = load_mnist("test")
    flagged = sum(bool(unlike_a_digit(x)) for x in images)
    assert flagged <= 0.003 * len(images), flagged
    assert unlike_a_digit(np.zeros((28, 28), np.float32)) == ()


@needs_model
@pytest.mark.parametrize("size", [28, 280])
def test_light_digits_on_black_are_not_taken_for_a_sheet_of_paper(size):
    """MNIST-style pictures (a light digit on black, as exported or scaled up): the sheet search must not
    take a digit's strokes ("0", "8", "9": loops that fill in) for paper, and the model must still read them."""
    from explorer.data.mnist import load_mnist

    images, labels = load_mnist("test")
    model, right, sheets = zoo.model("image"), 0, 0
    for x, y in zip(images[:100], labels[:100], strict=True):
        png = io.BytesIO()
        Image.fromarray((x * 255).astype(np.uint8)).resize((size, size), Image.BILINEAR).save(png, format="PNG")
        digit = prepare_digit(png.getvalue())
        sheets += digit.paper
        _, answers = read_all_exits(model, torch.tensor(digit.mnist)[None, None])
        right += int(answers[-1][0]) == y
    assert right >= 99 and sheets <= (0 if size == 28 else 10), (right, sheets)


# --- iPhone photos (HEIC) and the upload filter --------------------------------------------


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L"])
def test_heic_photos_decode(mode):
    result = prepare_digit(encode_heic(_draw(mode=mode), quality=90))
    _assert_mnist_like(result)
    assert result.inverted


def test_heic_photo_of_a_sheet_on_a_desk():
    result = prepare_digit(encode_heic(desk_photo("2", size=(600, 800)), quality=80))
    assert result.paper
    _assert_digit_like(result)
    if HAVE_MODEL:
        assert _every_exit_reads(result.mnist)[-1] == "2"


def test_damaged_heic_only_raises_input_error():
    valid = encode_heic(_draw(size=(64, 64), points=[(32, 8), (32, 56)], width=5), quality=80)
    for data in damaged_copies([valid], 60):
        with contextlib.suppress(InputError):
            prepare_digit(data)


def test_upload_types_cover_every_format_read_and_every_one_explained():
    assert set(ACCEPTED_EXTENSIONS) <= set(UPLOAD_TYPES)
    assert {"heic", "heif", "svg", "tif", "tiff"} <= set(UPLOAD_TYPES)
    assert all(t == t.lower() and not t.startswith(".") for t in UPLOAD_TYPES)
