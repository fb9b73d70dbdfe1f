"""Turn an uploaded photo or scan of a handwritten digit into an MNIST-style input.

MNIST digits were made by taking the ink of a scanned digit, scaling it (keeping
its aspect ratio, with anti-aliasing) to fit a 20x20 box, and pasting that into a
28x28 field so that the ink's centre of mass sits in the middle. `prepare_digit`
does the same to a user's picture, after first undoing what a phone photo adds:
EXIF rotation, the desk around a sheet of paper (explorer.paper), a light paper
background (MNIST is white ink on black), uneven lighting, faint noise and stray
specks. Pen strokes that are much thinner than MNIST's are thickened to MNIST's
typical stroke width, or the digit would come out as faint hairlines. When the
result still does not look like a handwritten digit (explorer.digit_shape), the
prepared digit carries warnings in words.

iPhone photos (HEIC/HEIF) are read through pillow-heif, AVIF through Pillow itself.
Every unusable upload (empty, not an image, too large, blank) raises InputError
with a message for the user; no other exception escapes for any bytes.
"""

from __future__ import annotations

import functools
import io
import re
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps
from scipy import ndimage

from explorer.digit_shape import unlike_a_digit
from explorer.errors import InputError
from explorer.paper import block_means, find_sheet, paper_level
from explorer.sniff import sniff

ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "HEIF", "AVIF")  # Pillow's names
ACCEPTED_EXTENSIONS = ("png", "jpg", "jpeg", "webp", "gif", "bmp", "heic", "heif", "avif")
# What an upload widget should let through: every format read, and the ones refused here with a
# message that says what to do (a browser's type filter would hide that message behind its own).
UPLOAD_TYPES = (*ACCEPTED_EXTENSIONS, "jfif", "svg", "tif", "tiff", "psd", "ico", "pdf")

DISPLAY_SIDE = 512  # longest side of DigitImage.original
WORK_SIDE = 1024  # photos are shrunk to this first: plenty for a 20 px result, and fast
FIELD = 28  # MNIST image side
BOX = 20  # MNIST digits are scaled to fit a 20x20 box ...
CENTRE = 14.0  # ... and shifted so their centre of mass is here (MNIST's mean: 13.99, 14.00)
MNIST_STROKE = 1.9  # median MNIST stroke width in pixels (ink area / half perimeter)
MIN_CONTRAST = 0.1  # ink must differ from the paper by 10% of the full grey range
NOISE_LEVEL = 0.25  # after scaling ink to [0, 1], fainter pixels are paper noise
SPECK_FRACTION = 0.05  # separate blobs with less than 5% of the ink are dust / specks

_FORMATS_TEXT = "PNG, JPEG, HEIC, WebP, GIF or BMP"
_SNIFFED_ACCEPTED = ("PNG", "JPEG", "WebP", "GIF", "BMP", "HEIC", "AVIF")  # as explorer.sniff names them
_HIGH_BIT_MODES = ("I", "I;16", "I;16L", "I;16B", "I;16N")  # 16/32-bit greyscale
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


@dataclass(frozen=True)
class DigitImage:
    """A prepared upload.

    original: the picture as the user sees it (RGB, upright, at most 512 px a side)
    mnist:    float32 [28, 28] in [0, 1], white ink on black, MNIST-style
    inverted: True if a light background was detected and the ink was flipped
    paper:    True if the digit was read from a sheet of paper found in the photo (the desk left out)
    warnings: sentences for the user when `mnist` does not look like a handwritten digit
              (a filled block, several digits, a scattered scene): the answer is then unreliable
    """

    original: Image.Image
    mnist: np.ndarray
    inverted: bool
    paper: bool = False
    warnings: tuple[str, ...] = ()


def prepare_digit(data: bytes, max_pixels: int = 40_000_000) -> DigitImage:
    """Decode an uploaded image and make it look like an MNIST digit.

    Accepts PNG, JPEG, HEIC/HEIF, AVIF, WebP, GIF (first frame) and BMP bytes. Raises
    InputError for an empty file, anything that is not a readable image, an image with
    more than `max_pixels` pixels (checked from the header, before decoding) and an
    image with no ink.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"prepare_digit expects the file's bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise InputError(f"The uploaded file is empty. Please choose a {_FORMATS_TEXT} picture.")

    rgb = _decode(data, max_pixels)
    gray = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R 601 luma
    sheet, paper = find_sheet(gray), False
    try:
        mnist, inverted = _mnist_like(sheet if sheet is not None else gray)
        paper = sheet is not None
    except InputError:
        if sheet is None:
            raise
        # Nothing written on the "sheet": it was some other bright thing (a light bar on a
        # dark ground, say). Read the whole picture instead.
        mnist, inverted = _mnist_like(gray)
    return DigitImage(original=_display_copy(rgb), mnist=mnist, inverted=inverted, paper=paper,
                      warnings=unlike_a_digit(mnist))


def _mnist_like(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Greyscale page -> (28x28 MNIST-style digit, inverted?); InputError if there is no ink."""
    ink, inverted = _extract_ink(gray)
    box = _fit_into_box(_crop_to_ink(_drop_specks(ink)))
    return _centre_in_field(box), inverted


def mnist_to_png(arr: np.ndarray, scale: int = 1) -> bytes:
    """Encode a 2-D array in [0, 1] (e.g. a 28x28 digit) as greyscale PNG bytes.

    scale > 1 enlarges each pixel into a scale x scale block (for display).
    """
    arr = np.asarray(arr, dtype=np.float32)
    if arr.ndim != 2 or arr.size == 0:
        raise InputError(f"Expected one 2-D image such as 28x28, got an array of shape {arr.shape}.")
    pixels = np.nan_to_num(np.clip(arr, 0.0, 1.0)) * 255.0
    image = Image.fromarray(np.round(pixels).astype(np.uint8))
    if scale > 1:
        image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


# --- decoding --------------------------------------------------------------------


def _decode(data: bytes, max_pixels: int) -> np.ndarray:
    """Bytes -> upright RGB float32 [H, W, 3] in [0, 1], at most WORK_SIDE a side.

    Pillow's decoders raise many exception types on malformed files (OSError,
    SyntaxError, ValueError, EOFError, struct.error, IndexError, ...), so anything
    raised while Pillow decodes is reported as an unreadable file.
    """
    _register_heif()
    try:
        with warnings.catch_warnings():
            # Pillow only *warns* about images a bit over its own pixel limit.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
            _check_size(image, max_pixels)  # Image.open read only the header so far
            image = _load_upright(image)
            return _to_rgb_array(image)
    except InputError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as err:
        # Pillow's own limit (Image.MAX_IMAGE_PIXELS, left as it is: it is process-wide)
        # fired while reading the header, before our check: its message has the size.
        found = re.search(r"\((\d+) pixels\)", str(err))
        size = f" ({int(found[1]) / 1e6:,.0f} megapixels)" if found else ""
        raise InputError(
            f"This image is too large{size} to open safely. Please shrink it to at most "
            f"{max_pixels / 1e6:.0f} megapixels and upload it again."
        ) from err
    except Exception as err:  # any decoder failure: see the docstring
        raise _unreadable(data) from err


@functools.cache
def _register_heif() -> bool:
    """Teach Pillow to open HEIC/HEIF (iPhone photos), once; without pillow-heif they are named and refused."""
    try:
        import pillow_heif
    except ImportError:
        return False
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True


def _unreadable(data: bytes) -> InputError:
    kind = sniff(data)
    if kind is not None and kind.name == "an SVG drawing":
        return InputError(
            "This file is an SVG drawing, which is not supported. Please export or screenshot it "
            f"as a {_FORMATS_TEXT} picture and upload that."
        )
    if kind is not None and kind.media == "image":
        readable = _SNIFFED_ACCEPTED if _register_heif() else tuple(n for n in _SNIFFED_ACCEPTED if n != "HEIC")
        if any(name in kind.name for name in readable):
            return InputError(
                f"This file could not be read as an image: it looks like {kind.name}, but it is damaged or "
                f"incomplete. Please upload a complete copy ({_FORMATS_TEXT})."
            )
        return InputError(
            f"This file is {kind.name}, a format this app does not read. Please save it as a "
            f"{_FORMATS_TEXT} picture and upload that."
        )
    if kind is not None:
        return InputError(
            f"This file is {kind.name}, not a picture. Please upload a photo or scan of a handwritten "
            f"digit ({_FORMATS_TEXT})."
        )
    return InputError(
        "This file could not be read as an image: it may be damaged, incomplete, or in a "
        f"format that is not supported. Please upload a {_FORMATS_TEXT} picture."
    )


def _check_size(image: Image.Image, max_pixels: int) -> None:
    width, height = image.size
    if width * height > max_pixels:
        raise InputError(
            f"This image is too large ({width} x {height} pixels, "
            f"{width * height / 1e6:.0f} megapixels). Please shrink it to at most "
            f"{max_pixels / 1e6:.0f} megapixels and upload it again."
        )


def _load_upright(image: Image.Image) -> Image.Image:
    """Decode the first frame, applying the EXIF orientation a phone camera records."""
    if image.format in ("JPEG", "MPO"):
        image.draft(None, (WORK_SIDE, WORK_SIDE))  # JPEG can decode at 1/2..1/8 size: faster
    image.load()
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a broken EXIF block should not lose the picture
        return image


def _to_rgb_array(image: Image.Image) -> np.ndarray:
    """Any Pillow mode -> RGB float32 [H, W, 3] in [0, 1], shrunk to WORK_SIDE."""
    if image.mode in _HIGH_BIT_MODES:
        gray = np.asarray(image, dtype=np.float32)
        gray = np.clip(gray / 65535.0, 0.0, 1.0)  # 16-bit PNG values run 0..65535
        shrunk = _shrink(Image.fromarray(gray))
        return np.repeat(np.asarray(shrunk, dtype=np.float32)[..., None], 3, axis=2)

    has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    # Convert before resizing: Pillow resizes 1-bit and palette images by nearest
    # neighbour, which would drop thin strokes.
    image = _shrink(image.convert("RGBA" if has_alpha else "RGB"))
    pixels = np.asarray(image, dtype=np.float32) / 255.0
    if has_alpha:
        return _composite(pixels[..., :3], pixels[..., 3:])
    return pixels


def _shrink(image: Image.Image) -> Image.Image:
    image.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.BOX)
    return image


def _composite(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Flatten transparency onto a background that contrasts with the visible content.

    A digit drawn on a transparent canvas can be dark or light strokes; putting
    white strokes on white would lose them. So: dark content goes on white, light
    content on black. A fully transparent image goes on white (and is blank).
    """
    opaque = alpha[..., 0] > 0.5
    background = 1.0
    if opaque.any() and not opaque.all():
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        background = 1.0 if float((rgb[opaque] @ weights).mean()) < 0.5 else 0.0
    return rgb * alpha + background * (1.0 - alpha)


def _display_copy(rgb: np.ndarray) -> Image.Image:
    image = Image.fromarray(np.round(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8), "RGB")
    image.thumbnail((DISPLAY_SIDE, DISPLAY_SIDE), Image.Resampling.LANCZOS)
    return image


# --- finding the ink ---------------------------------------------------------------


def _border_mask(shape: tuple[int, int]) -> np.ndarray:
    """True on a frame 5% of the short side wide (at least one pixel): the paper."""
    height, width = shape
    margin = max(1, round(0.05 * min(height, width)))
    mask = np.ones(shape, dtype=bool)
    mask[margin:-margin, margin:-margin] = False
    return mask


def _extract_ink(gray: np.ndarray) -> tuple[np.ndarray, bool]:
    """Greyscale [H, W] -> ink strength [H, W] in [0, 1] (0 = paper), and whether inverted.

    The paper is what the border shows. If the most extreme pixels are darker than
    the paper (dark ink on light paper), the image is inverted so ink is bright.
    """
    border = _border_mask(gray.shape)
    paper = float(np.median(gray[border]))
    darkest, brightest = np.quantile(gray, [0.0005, 0.9995])
    inverted = bool(paper - darkest > brightest - paper)
    if inverted:
        gray = 1.0 - gray

    ink = gray - paper_level(gray, border)  # also removes a lighting gradient
    contrast = float(np.quantile(ink, 0.9995))  # robust "ink max": ignores a few hot pixels
    if contrast < MIN_CONTRAST:
        raise _no_ink()
    ink = np.clip(ink / contrast, 0.0, 1.0)
    ink[ink < NOISE_LEVEL] = 0.0
    return ink.astype(np.float32), inverted


def _no_ink() -> InputError:
    return InputError(
        "No ink was found in this image: it looks blank or evenly coloured. Please upload "
        "a photo or scan of one handwritten digit, e.g. dark pen on white paper."
    )


def _drop_specks(ink: np.ndarray) -> np.ndarray:
    """Erase small separate blobs (dust, specks) that would stretch the digit's box.

    Ink is grouped on a coarse grid (about 64 cells a side), so pieces of one
    digit with small gaps between them still count as one blob.
    """

    height, width = ink.shape
    cell = max(1, -(-max(height, width) // 64))
    mass = block_means(ink, cell)
    labels, _ = ndimage.label(mass > 0, structure=np.ones((3, 3)))  # 8-connected
    blob_mass = np.bincount(labels.ravel(), weights=mass.ravel())
    blob_mass[0] = 0.0  # label 0 is empty paper
    keep_blob = blob_mass >= SPECK_FRACTION * blob_mass.sum()
    keep_cell = keep_blob[labels]
    keep_pixel = np.repeat(np.repeat(keep_cell, cell, axis=0), cell, axis=1)[:height, :width]
    return np.where(keep_pixel, ink, 0.0).astype(np.float32)


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    if rows.size == 0:
        raise _no_ink()
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


# --- MNIST normalisation -------------------------------------------------------------


def _fit_into_box(ink: np.ndarray) -> np.ndarray:
    """Cropped ink -> at most BOX x BOX, aspect kept, strokes about MNIST-thick.

    The strokes are measured and thickened at 4x the final size, where even a
    hairline is still visible, then the digit is scaled down with area averaging.
    """
    large = _resize_to_fit(ink, 4 * BOX)
    large = _crop_to_ink(_thicken(large / large.max(), 4 * MNIST_STROKE))
    small = _resize_to_fit(large, BOX)
    return small / small.max()


def _resize_to_fit(image: np.ndarray, side: int) -> np.ndarray:
    """Resize so the longer side is `side`, keeping the aspect ratio."""
    height, width = image.shape
    scale = side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # BOX (area average) when shrinking is the anti-aliasing MNIST has; no ringing.
    resample = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    resized = Image.fromarray(image.astype(np.float32)).resize(size, resample)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _stroke_width(ink: np.ndarray) -> float:
    """Average stroke width: ink area over half the outline length (a long thin
    stroke of width w and length L has area w*L and outline about 2*L)."""
    mask = np.pad(ink > 0.1, 1)
    edges_down = np.count_nonzero(mask[1:] != mask[:-1])
    edges_across = np.count_nonzero(mask[:, 1:] != mask[:, :-1])
    outline = edges_down + edges_across
    return 2.0 * float(ink.sum()) / max(outline, 1)


def _thicken(ink: np.ndarray, target_width: float) -> np.ndarray:
    """Redraw clearly thin strokes as solid ink about target_width wide.

    Only strokes under 70% of the target (about MNIST's 10th percentile) are
    touched, so a digit that already looks like MNIST stays as it is. A hairline
    shrunk this far is a faint grey trace, so its outline is taken as solid ink
    and dilated (3x3 maximum: each pass adds about 2 px); the final shrink to
    20 px then anti-aliases the edges as MNIST's were.
    """
    if _stroke_width(ink) >= 0.7 * target_width:
        return ink
    solid = (ink > 0.1).astype(np.float32)
    passes = max(1, round((target_width - _stroke_width(solid)) / 2.0))
    out = np.pad(solid, passes)  # room to grow without touching the edge
    height, width = out.shape
    for _ in range(passes):
        ring = np.pad(out, 1)
        shifted = [ring[dy : dy + height, dx : dx + width] for dy in range(3) for dx in range(3)]
        out = np.max(shifted, axis=0)
    return out


def _centre_in_field(box: np.ndarray) -> np.ndarray:
    """Paste into 28x28 so the centre of mass lands on (14, 14), whole pixels only."""
    height, width = box.shape
    ys, xs = np.indices(box.shape)
    mass = box.sum()
    cy, cx = (box * ys).sum() / mass, (box * xs).sum() / mass
    top = int(np.clip(round(CENTRE - cy), 0, FIELD - height))
    left = int(np.clip(round(CENTRE - cx), 0, FIELD - width))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + height, left : left + width] = box
    return field
