"""A corpus of bad or unusual uploads, generated in memory, each with what a user should see.

Every case names the model it is given to, the file name and MIME type a browser
would send, the bytes (made on demand, cached), and the expected behaviour:

- ``cli``: a regular expression the `predict` command's ``error`` must match
  (exit status 2), or None if the file works (exit status 0);
- ``page``: the same for the message a live page shows with st.error, or None;
- ``page_warning``: a message the page shows with st.warning while still answering;
- ``answer``: the answer expected when the file works (None: not checked, e.g.
  a clip cut in the middle).

Used by tests/test_bad_inputs.py (command line and AppTest) and benchmarks/load_test.py.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image, ImageChops, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
SPEECH_CLIP = ROOT / "assets" / "examples" / "speech-test_a-2.flac"
SPEECH_TEXT = "four five two three"
NOT_AUDIO = "could not be read as audio"
NOT_IMAGE = "could not be read as an image"
PAGE_MAX_MB = 20  # the live pages' per-widget limit
HTML_NAME = "<img src=x onerror=window.pwned=1><script>window.pwned=1;[click](javascript:alert(1)) **7** <b>seven.png"


@dataclass(frozen=True)
class Case:
    id: str
    model: str  # "image" or "speech"
    name: str  # the file name a browser sends
    mime: str
    make: Callable[[], bytes]
    cli: str | None = None  # error message pattern, None: works
    page: str | None = None  # error message pattern on the live page, None: works
    page_warning: str | None = None
    answer: str | None = None

    @property
    def data(self) -> bytes:
        return _bytes(self.make)


@functools.cache
def _bytes(make: Callable[[], bytes]) -> bytes:
    return make()


# --- audio ---------------------------------------------------------------------------------


@functools.cache
def speech() -> tuple[np.ndarray, int]:
    """The base clip: a held-out voice saying 'four five two three', 16 kHz float64."""
    x, rate = sf.read(SPEECH_CLIP, dtype="float64")
    return x, rate


def encode_audio(x: np.ndarray, rate: int, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def _resampled(rate: int) -> np.ndarray:
    import soxr

    x, base = speech()
    return soxr.resample(x, base, rate, "HQ")


def _wav(subtype: str = "PCM_16", rate: int = 16_000, channels: int = 1) -> Callable[[], bytes]:
    def make() -> bytes:
        x = _resampled(rate) if rate != 16_000 else speech()[0]
        if channels > 1:  # the voice in the first two channels, quiet hiss in the others
            hiss = np.random.default_rng(0).normal(0, 1e-3, (len(x), channels))
            hiss[:, :2] = x[:, None]
            x = hiss
        return encode_audio(x, rate, "WAV", subtype)

    return make


def _float_wav(values: np.ndarray) -> Callable[[], bytes]:
    return lambda: encode_audio(values, 16_000, "WAV", "FLOAT")


def _truncated(make: Callable[[], bytes], keep: float) -> Callable[[], bytes]:
    return lambda: make()[: int(len(make()) * keep)]


def _wav_claiming_more() -> bytes:
    """A WAV whose RIFF and data chunk sizes claim ~4 GB; only the real clip follows."""
    data = bytearray(_wav()())
    data[4:8] = struct.pack("<I", 0xFFFFFFF0)
    at = data.index(b"data")
    data[at + 4 : at + 8] = struct.pack("<I", 0xFFFFFF00)
    return bytes(data)


def _clipped() -> bytes:
    x = np.clip(speech()[0] * 8, -1, 1)  # far too loud: flat tops at full scale
    return encode_audio(x, 16_000, "WAV", "PCM_16")


def _long_clip(seconds: float) -> Callable[[], bytes]:
    def make() -> bytes:
        x = speech()[0]
        reps = int(np.ceil(seconds * 16_000 / len(x)))
        return encode_audio(np.tile(x, reps)[: int(seconds * 16_000)], 16_000, "WAV", "PCM_16")

    return make


def encode_with_ffmpeg(x: np.ndarray, rate: int, container: str = "ipod", codec: str = "aac") -> bytes:
    """Mono float samples as a phone would save them: AAC in an M4A file (PyAV's bundled ffmpeg)."""
    from fractions import Fraction

    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.asarray(x, np.float32)[None], format="flt", layout="mono")
        # with a time stamp the file records the encoder's lead-in (an edit list), so it is cut on decoding
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buf.getvalue()


@functools.cache
def _m4a(rate: int = 48_000) -> bytes:
    """An iPhone Voice Memo: AAC, 48 kHz mono, in an M4A file."""
    return encode_with_ffmpeg(_resampled(rate), rate)


def _lossy(fmt: str, subtype: str) -> Callable[[], bytes]:
    return lambda: encode_audio(_resampled(24_000) if subtype == "OPUS" else speech()[0],
                                24_000 if subtype == "OPUS" else 16_000, fmt, subtype)


# --- images --------------------------------------------------------------------------------

SEVEN = [(50, 40), (150, 40), (90, 170)]


def digit_image(points=SEVEN, size=(200, 200), width=14) -> Image.Image:
    """A '7' drawn in black pen on white paper (greyscale)."""
    img = Image.new("L", size, 255)
    ImageDraw.Draw(img).line(points, fill=0, width=width, joint="curve")
    return img


def encode_image(img: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def pen_stroke(points, steps: int = 10) -> list[tuple[float, float]]:
    """A smooth pen line through the points (a Catmull-Rom spline)."""
    p = np.array(points, float)
    p = np.vstack([p[0], p, p[-1]])
    t = np.linspace(0, 1, steps, endpoint=False)[:, None]
    line = []
    for p0, p1, p2, p3 in zip(p, p[1:], p[2:], p[3:], strict=False):
        line += list(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                            + (3 * p1 - p0 - 3 * p2 + p3) * t**3))
    return [tuple(q) for q in line] + [tuple(p[-2])]


HANDWRITTEN = {  # pen strokes of each digit in a 100 x 140 box (x right, y down)
    "0": [[(50, 5), (15, 35), (10, 80), (30, 130), (70, 130), (90, 80), (85, 30), (50, 5)]],
    "2": [[(15, 40), (30, 12), (60, 5), (85, 20), (85, 50), (60, 80), (30, 110), (8, 135), (50, 132), (95, 134)]],
    "3": [[(15, 20), (50, 5), (85, 25), (70, 60), (45, 68), (80, 80), (88, 110), (55, 135), (15, 122)]],
    "4": [[(60, 5), (10, 90), (95, 90)], [(70, 50), (70, 138)]],
    "7": [[(10, 10), (90, 10), (60, 70), (40, 135)]],
}


def desk_photo(digit: str | None = "2", size=(3000, 4000), angle=6.0, pen=0.012, sheet=(0.6, 0.62),
               shift=(0.05, -0.03), shade=0.45, desk=0.16, seed=0) -> Image.Image:
    """A phone photo of a digit written on a sheet of paper lying on a dark wooden desk.

    The sheet (a `sheet` share of the picture's width and height, moved by `shift`) is
    tilted by `angle` degrees; the pen line is `pen` of the picture's height wide; the
    light falls off by `shade` towards the right (and a third of that towards the
    bottom); warm light, sensor noise. `desk`: the wood's mean grey. digit=None: a blank sheet.
    """
    rng = np.random.default_rng(seed)
    width, height = size
    sw, sh = width // 8, height // 8  # the desk's wavy grain, drawn small and enlarged
    ys, xs = np.mgrid[0:sh, 0:sw]
    grain = desk + 0.05 * np.sin(xs / 6.0 + 2.5 * np.sin(ys / 40.0)) + 0.03 * rng.standard_normal((sh, sw))
    photo = Image.merge("RGB", [Image.fromarray(np.uint8(np.clip(grain * f, 0, 1) * 255)).resize(size)
                                for f in (1.2, 0.85, 0.6)])
    pw, ph = int(width * sheet[0]), int(height * sheet[1])
    page = Image.new("L", (pw, ph), 237)
    scale = min(pw, ph) * 0.4 / 140
    left, top = pw / 2 - 50 * scale, ph / 2 - 70 * scale
    draw = ImageDraw.Draw(page)
    for stroke in HANDWRITTEN[digit] if digit else []:
        draw.line(pen_stroke([(left + x * scale, top + y * scale) for x, y in stroke]), fill=30,
                  width=max(2, round(pen * height)), joint="curve")
    mask = Image.new("L", (pw, ph), 255).rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    page = page.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    page = Image.merge("RGB", [page.point(lambda v, f=f: v * f) for f in (1.0, 0.97, 0.9)])  # warm light
    corner = ((width - page.width) // 2 + int(shift[0] * width), (height - page.height) // 2 + int(shift[1] * height))
    photo.paste(page, corner, mask)
    light = np.linspace(1.0, 1.0 - shade, 64)[None, :] - np.linspace(0, shade / 3, 64)[:, None]
    light = Image.fromarray(np.uint8(light * 255)).resize(size, Image.Resampling.BILINEAR)
    photo = ImageChops.multiply(photo, Image.merge("RGB", [light] * 3))
    noise = Image.fromarray(np.uint8(rng.normal(128, 4, (height // 2, width // 2)).clip(0, 255))).resize(size)
    return ImageChops.add(photo, Image.merge("RGB", [noise] * 3), offset=-128)


@functools.cache
def _phone_jpeg() -> bytes:
    """The issue's photo: a 3000 x 4000 phone JPEG of a '2' on paper, dark desk around it."""
    return encode_image(desk_photo("2"), "JPEG", quality=88)


def encode_heic(img: Image.Image, **options) -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return encode_image(img, "HEIF", **options)


@functools.cache
def _iphone_heic() -> bytes:
    """An iPhone photo (HEIC) of a '7' on paper on a desk, smaller than a real one to keep tests quick."""
    return encode_heic(desk_photo("7", size=(756, 1008)), quality=80)


def _png(mode: str = "L") -> Callable[[], bytes]:
    return lambda: encode_image(digit_image().convert(mode))


def _sixteen_bit_png() -> bytes:
    return encode_image(Image.fromarray(np.asarray(digit_image(), np.uint16) * 257))


def _jpeg() -> bytes:
    return encode_image(digit_image().convert("RGB"), "JPEG", quality=90)


def _animated_gif() -> bytes:
    frames = [digit_image().convert("P"), digit_image([(100, 30), (100, 170)]).convert("P")]
    return encode_image(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)


def _exif_rotated() -> bytes:
    """A '7' stored on its side, with the EXIF tag (orientation 6) that stands it up."""
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = digit_image().transpose(Image.Transpose.ROTATE_90).convert("RGB")
    return encode_image(stored, "JPEG", exif=exif, quality=90)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header says width x height (the pixels are never there)."""
    data = bytearray(encode_image(Image.new("1", (8, 8), 1)))
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def png_file(width: int, height: int, bit_depth: int, colour: int, compressed: bytes) -> bytes:
    """A PNG written by hand: any header (size, bit depth, colour type) and compressed pixel data."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", compressed) + chunk(b"IEND", b"")


def _png_bomb(side: int = 20_000) -> bytes:
    """A real, complete 1-bit PNG of side x side white pixels (~75 kB; 400 MB once decoded)."""
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    z = zlib.compressobj(9)
    return png_file(side, side, 1, 0, b"".join(z.compress(row) for _ in range(side)) + z.flush())


def damage(data: bytes, keep: float, edits: list[tuple[float, int]]) -> bytes:
    """The first `keep` fraction of `data`, with byte values written at relative positions."""
    out = bytearray(data[: int(len(data) * keep)])
    for where, value in edits:
        if out:
            out[min(int(where * len(out)), len(out) - 1)] = value
    return bytes(out)


def damaged_copies(valid: list[bytes], count: int, seed: int = 0):
    """`count` damaged copies of the files in `valid`, in turn: every third cut short, the others with 1-5 bytes
    overwritten at random places."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        data = bytearray(valid[i % len(valid)])
        if i % 3 == 0:
            data = data[: rng.integers(len(data))]
        else:
            for _ in range(rng.integers(1, 6)):
                data[rng.integers(len(data))] = rng.integers(256)
        yield bytes(data)


def _iso(brand: bytes) -> bytes:
    """The start of an MP4-family file (HEIC photo, M4A recording) of the given brand."""
    return struct.pack(">I", 24) + b"ftyp" + brand + b"\x00\x00\x00\x00" + brand + b"mp42" + bytes(400)


SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">'
       b'<path d="M50 40 H150 L90 170" stroke="black" stroke-width="14" fill="none"/></svg>')

# --- the corpus ----------------------------------------------------------------------------

_TOO_SHORT = "too short"
_DAMAGED = "damaged or incomplete"
_TOO_BIG = f"over {PAGE_MAX_MB} MB"

CORPUS: list[Case] = [
    # audio: not audio at all
    Case("audio-empty", "speech", "empty.wav", "audio/wav", lambda: b"", "empty", "empty"),
    Case("audio-text-as-wav", "speech", "notes.wav", "audio/wav",
         lambda: b"Call me back on four five two three.\n" * 20, "text file, not a recording",
         "text file, not a recording"),
    Case("audio-png-as-wav", "speech", "picture.wav", "audio/wav", _png(), "PNG picture, not a recording",
         "PNG picture, not a recording"),
    Case("audio-random-bytes", "speech", "noise.wav", "audio/wav", lambda: np.random.default_rng(1).bytes(5000),
         NOT_AUDIO, NOT_AUDIO),
    Case("m4a-header-only", "speech", "memo.wav", "audio/wav", lambda: _iso(b"M4A "), "M4A .*damaged",
         "M4A .*damaged"),
    Case("webm-header-only", "speech", "browser.ogg", "audio/ogg", lambda: b"\x1aE\xdf\xa3" + bytes(500),
         "WebM.*damaged", "WebM.*damaged"),
    # audio: damaged
    Case("wav-cut-in-header", "speech", "cut.wav", "audio/wav", lambda: _wav()()[:30], _DAMAGED, _DAMAGED),
    Case("wav-cut-in-data", "speech", "half.wav", "audio/wav", _truncated(_wav(), 0.5)),
    Case("wav-header-claims-more", "speech", "liar.wav", "audio/wav", _wav_claiming_more, answer=SPEECH_TEXT),
    Case("flac-truncated", "speech", "cut.flac", "audio/flac",
         _truncated(lambda: encode_audio(speech()[0], 16_000, "FLAC"), 0.5), _DAMAGED, _DAMAGED),
    Case("flac-cut-in-header", "speech", "head.flac", "audio/flac",
         lambda: encode_audio(speech()[0], 16_000, "FLAC")[:30], _DAMAGED, _DAMAGED),
    # audio: too little, nothing, or invalid numbers
    Case("wav-zero-samples", "speech", "nothing.wav", "audio/wav", _float_wav(np.zeros(0)), _TOO_SHORT, _TOO_SHORT),
    Case("wav-one-sample", "speech", "one.wav", "audio/wav", _float_wav(np.array([0.5])), _TOO_SHORT, _TOO_SHORT),
    Case("wav-silence", "speech", "silence.wav", "audio/wav", _float_wav(np.zeros(16_000)), "silent", "silent"),
    Case("wav-all-nan", "speech", "nan.wav", "audio/wav", _float_wav(np.full(16_000, np.nan)),
         "invalid numbers", "invalid numbers"),
    Case("wav-plus-minus-inf", "speech", "inf.wav", "audio/wav",
         _float_wav(np.where(np.arange(16_000) % 2, np.inf, -np.inf)), "invalid numbers", "invalid numbers"),
    # audio: unusual but fine
    Case("wav-clipped", "speech", "loud.wav", "audio/wav", _clipped, page_warning="clipped", answer=SPEECH_TEXT),
    Case("wav-8-bit", "speech", "u8.wav", "audio/wav", _wav("PCM_U8"), answer=SPEECH_TEXT),
    Case("wav-24-bit", "speech", "s24.wav", "audio/wav", _wav("PCM_24"), answer=SPEECH_TEXT),
    Case("wav-32-bit-float", "speech", "f32.wav", "audio/wav", _wav("FLOAT"), answer=SPEECH_TEXT),
    Case("wav-64-bit-float", "speech", "f64.wav", "audio/wav", _wav("DOUBLE"), answer=SPEECH_TEXT),
    Case("wav-8-khz", "speech", "phone.wav", "audio/wav", _wav(rate=8_000), answer=SPEECH_TEXT),
    Case("wav-96-khz", "speech", "studio.wav", "audio/wav", _wav("PCM_24", rate=96_000), answer=SPEECH_TEXT),
    Case("wav-stereo", "speech", "stereo.wav", "audio/wav", _wav(channels=2), answer=SPEECH_TEXT),
    Case("wav-6-channel", "speech", "surround.wav", "audio/wav", _wav(channels=6), answer=SPEECH_TEXT),
    # one decoder for the page and `predict`: a long clip is cut to its first minute, and said
    Case("wav-5-minutes", "speech", "long.wav", "audio/wav", _long_clip(300), None, None,
         page_warning="first 60 s"),
    Case("wav-over-page-limit", "speech", "huge.wav", "audio/wav", _long_clip(11 * 60), None, _TOO_BIG,
         page_warning="first 60 s"),
    Case("mp3", "speech", "clip.mp3", "audio/mpeg", _lossy("MP3", "MPEG_LAYER_III"), answer=SPEECH_TEXT),
    Case("ogg-vorbis", "speech", "clip.ogg", "audio/ogg", _lossy("OGG", "VORBIS"), answer=SPEECH_TEXT),
    Case("ogg-opus", "speech", "clip.opus.ogg", "audio/ogg", _lossy("OGG", "OPUS"), answer=SPEECH_TEXT),
    Case("m4a-iphone-memo", "speech", "New Recording 3.m4a", "audio/x-m4a", _m4a, answer=SPEECH_TEXT),
    Case("aac-adts", "speech", "clip.aac", "audio/aac", lambda: encode_with_ffmpeg(speech()[0], 16_000, "adts"),
         answer=SPEECH_TEXT),
    Case("m4a-truncated", "speech", "cut.m4a", "audio/x-m4a", _truncated(_m4a, 0.5), "M4A.*damaged", "M4A.*damaged"),
    # images: not an image at all
    Case("image-empty", "image", "empty.png", "image/png", lambda: b"", "empty", "empty"),
    Case("image-text-as-png", "image", "notes.png", "image/png",
         lambda: b"My digit is a seven, drawn in blue pen.\n" * 5, "text file, not a picture",
         "text file, not a picture"),
    Case("image-wav-as-png", "image", "sound.png", "image/png", _wav(), "WAV recording, not a picture",
         "WAV recording, not a picture"),
    Case("image-random-bytes", "image", "noise.png", "image/png", lambda: np.random.default_rng(2).bytes(5000),
         NOT_IMAGE, NOT_IMAGE),
    Case("svg", "image", "drawing.svg", "image/svg+xml", lambda: SVG, "SVG drawing, which is not supported",
         "SVG drawing, which is not supported"),
    Case("tiff", "image", "scan.png", "image/png", lambda: encode_image(digit_image(), "TIFF"),
         "TIFF picture, a format this app does not read", "TIFF picture, a format this app does not read"),
    Case("heic-header-only", "image", "IMG_0001.jpg", "image/jpeg", lambda: _iso(b"heic"),
         "HEIC/HEIF photo, but it is damaged", "HEIC/HEIF photo, but it is damaged"),
    Case("heic-truncated", "image", "IMG_0002.HEIC", "image/heic", _truncated(_iphone_heic, 0.5),
         "HEIC/HEIF photo, but it is damaged", "HEIC/HEIF photo, but it is damaged"),
    Case("pdf-as-png", "image", "scan.png", "image/png", lambda: b"%PDF-1.7\n" + bytes(300),
         "PDF document, not a picture", "PDF document, not a picture"),
    # images: damaged
    Case("png-truncated", "image", "cut.png", "image/png", _truncated(_png(), 0.5), _DAMAGED, _DAMAGED),
    Case("jpeg-truncated", "image", "cut.jpg", "image/jpeg", _truncated(_jpeg, 0.5), _DAMAGED, _DAMAGED),
    Case("png-header-only", "image", "head.png", "image/png", lambda: _png()()[:40], _DAMAGED, _DAMAGED),
    # images: too large or blank
    Case("png-claims-20000x20000", "image", "liar.png", "image/png", lambda: _png_claiming(20_000, 20_000),
         "too large", "too large"),
    Case("png-bomb-20000x20000", "image", "bomb.png", "image/png", _png_bomb, "too large", "too large"),
    Case("image-over-page-limit", "image", "huge.png", "image/png",
         lambda: np.random.default_rng(0).bytes((PAGE_MAX_MB + 1) * 2**20), NOT_IMAGE, _TOO_BIG),
    Case("image-1x1", "image", "dot.png", "image/png", lambda: encode_image(Image.new("L", (1, 1), 0)),
         "No ink", "No ink"),
    Case("image-blank-white", "image", "white.png", "image/png",
         lambda: encode_image(Image.new("RGB", (300, 300), "white")), "No ink", "No ink"),
    # images: unusual but fine
    Case("png-16-bit", "image", "deep.png", "image/png", _sixteen_bit_png, answer="7"),
    Case("jpeg-cmyk", "image", "print.jpg", "image/jpeg",
         lambda: encode_image(digit_image().convert("CMYK"), "JPEG", quality=90), answer="7"),
    Case("gif-animated", "image", "anim.gif", "image/gif", _animated_gif, answer="7"),
    Case("jpeg-exif-rotated", "image", "phone.jpg", "image/jpeg", _exif_rotated, answer="7"),
    Case("png-rgba", "image", "alpha.png", "image/png", _png("RGBA"), answer="7"),
    Case("heic-iphone-photo", "image", "IMG_0003.HEIC", "image/heic", _iphone_heic, answer="7"),
    Case("avif", "image", "digit.avif", "image/avif", lambda: encode_image(digit_image().convert("RGB"), "AVIF"),
         answer="7"),
    Case("jpeg-paper-on-desk-3000x4000", "image", "IMG_0004.jpg", "image/jpeg", _phone_jpeg, answer="2"),
    Case("html-file-name", "image", HTML_NAME, "image/png", _png(), answer="7"),
]

BY_ID = {c.id: c for c in CORPUS}
GOOD_IMAGE = _png()
GOOD_SPEECH = _wav()
