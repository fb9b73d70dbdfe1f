"""Property-based: whatever bytes or odd-but-valid files arrive, the upload decoders either
decode them or raise InputError with a sentence for the user. Nothing else escapes."""

from __future__ import annotations

import io
import os
import time
import zlib

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from input_corpus import damage, png_file
from PIL import Image

from explorer.audio import MIN_SECONDS, RATE, load_audio
from explorer.errors import InputError
from explorer.image_input import prepare_digit
from explorer.sniff import sniff

# A decoder failing inside a C callback shows up as an "unraisable" exception: a printed traceback.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
# FUZZ_EXAMPLES=5000 for a longer hunt; the default keeps the suite quick.
SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _sentence(err: InputError) -> None:
    text = str(err)
    assert text[0].isupper() and text.endswith("."), text
    assert "Traceback" not in text and "Error" not in text and "0x" not in text, text


# --- images ----------------------------------------------------------------------------------


def _digit_or_input_error(data: bytes, **kwargs) -> None:
    try:
        digit = prepare_digit(data, **kwargs)
    except InputError as err:
        _sentence(err)
        return
    arr = digit.mnist
    assert arr.shape == (28, 28) and arr.dtype == np.float32 and np.all(np.isfinite(arr))
    assert arr.min() >= 0.0 and arr.max() == pytest.approx(1.0)
    assert digit.original.mode == "RGB" and max(digit.original.size) <= 512


def _encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format=fmt)
    return buf.getvalue()


_MODES = {  # mode -> numpy dtype and channels of its pixels
    "L": (np.uint8, 1), "RGB": (np.uint8, 3), "RGBA": (np.uint8, 4), "LA": (np.uint8, 2),
    "I;16": (np.uint16, 1), "1": (bool, 1), "P": (np.uint8, 1), "CMYK": (np.uint8, 4),
}
_FORMATS = {"PNG": {"L", "RGB", "RGBA", "LA", "I;16", "1", "P"}, "JPEG": {"L", "RGB", "CMYK"},
            "GIF": {"L", "P", "1"}, "BMP": {"L", "RGB", "1", "P"}, "WEBP": {"RGB", "RGBA"}}


@st.composite
def odd_images(draw) -> bytes:
    """A valid file in an accepted format: odd sizes, modes, contents (flat, noise, stripes)."""
    fmt = draw(st.sampled_from(sorted(_FORMATS)))
    mode = draw(st.sampled_from(sorted(_FORMATS[fmt])))
    dtype, channels = _MODES[mode]
    height, width = draw(st.integers(1, 80)), draw(st.integers(1, 80))
    shape = (height, width) if channels == 1 else (height, width, channels)
    if dtype is bool:
        elements = st.booleans()
    else:
        top = int(np.iinfo(dtype).max)
        elements = st.sampled_from([0, 1, top // 2, top - 1, top]) | st.integers(0, top)
    pixels = draw(hnp.arrays(dtype, shape, elements=elements))
    if mode in ("1", "P", "LA", "CMYK"):
        base = {"1": "L", "P": "L", "LA": "LA", "CMYK": "CMYK"}[mode]
        image = Image.fromarray(pixels.astype(np.uint8) * (255 if dtype is bool else 1), base if base != "L" else None)
        image = image.convert(mode) if mode in ("1", "P") else image
    else:
        image = Image.fromarray(pixels)
    try:
        return _encode(image, fmt)
    except (OSError, ValueError, KeyError):  # a combination this Pillow cannot write
        assume(False)
        raise


@SETTINGS
@given(st.binary(max_size=4096))
def test_image_random_bytes(data):
    _digit_or_input_error(data)


@SETTINGS
@given(odd_images())
def test_image_odd_but_valid_files(data):
    _digit_or_input_error(data)


EDITS = st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=12)


@SETTINGS
@given(odd_images(), st.floats(0, 1), EDITS)
def test_image_damaged_files(valid, keep, edits):
    _digit_or_input_error(damage(valid, keep, edits))


@SETTINGS
@given(st.integers(0, 2**31 - 1), st.integers(0, 2**31 - 1), st.sampled_from([1, 2, 4, 8, 16, 3]),
       st.sampled_from([0, 2, 3, 4, 6, 5]))
def test_image_any_declared_size_is_refused_or_read_quickly(width, height, depth, colour):
    start = time.perf_counter()
    _digit_or_input_error(png_file(width, height, depth, colour, zlib.compress(bytes(64))))
    assert time.perf_counter() - start < 2.0  # nothing huge is ever decoded


@SETTINGS
@given(st.integers(1, 3000), st.integers(1, 3000), st.integers(1, 10**7))
def test_image_max_pixels_any_shape(height, width, max_pixels):
    image = Image.new("L", (width, height), 255)
    image.paste(0, (width // 4, height // 4, max(width // 4 + 1, width // 2), max(height // 4 + 1, height // 2)))
    data = _encode(image, "PNG")
    if width * height > max_pixels:
        with pytest.raises(InputError, match="too large"):
            prepare_digit(data, max_pixels=max_pixels)
    else:
        _digit_or_input_error(data, max_pixels=max_pixels)


# --- audio -----------------------------------------------------------------------------------


def _audio_or_input_error(data: bytes, **kwargs) -> None:
    try:
        audio = load_audio(data, **kwargs)
    except InputError as err:
        _sentence(err)
        return
    x = audio.samples
    assert x.dtype == np.float32 and x.ndim == 1 and audio.sample_rate == RATE
    assert len(x) >= MIN_SECONDS * RATE * 0.99 and np.all(np.isfinite(x)) and np.max(np.abs(x)) <= 1.0 + 1e-6
    if "max_seconds" in kwargs:
        assert audio.seconds <= kwargs["max_seconds"] + 0.01


# container -> subtypes to try (libsndfile writes all of these; the decoder reads any of them)
_CODECS = {
    "WAV": ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW", "IMA_ADPCM", "MS_ADPCM"],
    "FLAC": ["PCM_S8", "PCM_16", "PCM_24"], "AIFF": ["PCM_16", "FLOAT"], "AU": ["PCM_16", "ULAW"],
    "W64": ["PCM_16"], "RF64": ["PCM_16"], "CAF": ["PCM_16", "ALAC_16"], "OGG": ["VORBIS"],
}


@st.composite
def odd_recordings(draw) -> bytes:
    """A valid file: any container and codec, odd rates and channel counts, NaN, inf, huge values."""
    fmt = draw(st.sampled_from(sorted(_CODECS)))
    subtype = draw(st.sampled_from(_CODECS[fmt]))
    rate = draw(st.sampled_from([1, 1000, 3999, 4000, 8000, 11025, 16000, 44100, 96000, 192000, 384000,
                                 384001, 1_000_000]) | st.integers(1, 400_000))
    channels = draw(st.integers(1, 3) | st.sampled_from([6, 8, 64, 65]))
    frames = draw(st.integers(0, 4000))
    kind = draw(st.sampled_from(["noise", "silence", "nan", "inf", "huge", "tone"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = {"noise": lambda: rng.normal(0, 0.3, (frames, channels)),
         "silence": lambda: np.zeros((frames, channels)),
         "nan": lambda: np.where(rng.random((frames, channels)) < 0.1, np.nan, 0.1),
         "inf": lambda: np.where(rng.random((frames, channels)) < 0.1, np.inf, -0.1),
         "huge": lambda: rng.normal(0, 1e30, (frames, channels)),
         "tone": lambda: np.repeat(np.sin(np.arange(frames) * 0.2)[:, None], channels, 1)}[kind]()
    if subtype == "VORBIS" and (kind in ("nan", "inf", "huge") or rate > 192_000):
        assume(False)  # libvorbis's *encoder* crashes (SIGSEGV) above 192 kHz and chokes on such input
    if subtype not in ("FLOAT", "DOUBLE"):  # only float files hold NaN, inf or values beyond +-1;
        x = np.clip(np.nan_to_num(x), -1, 1)  # the u-law *encoder* even crashes (SIGSEGV) on them
    buf = io.BytesIO()
    try:
        sf.write(buf, x, rate, format=fmt, subtype=subtype)
    except (sf.LibsndfileError, ValueError, TypeError, RuntimeError, AssertionError):  # not writable
        assume(False)
    return buf.getvalue()


@SETTINGS
@given(st.binary(max_size=4096))
def test_audio_random_bytes(data):
    _audio_or_input_error(data)


@SETTINGS
@given(odd_recordings(), st.floats(0.01, 120) | st.none(), st.booleans())
def test_audio_odd_but_valid_files(data, max_seconds, trim):
    kwargs = {"trim": trim} | ({"max_seconds": max_seconds} if max_seconds else {})
    _audio_or_input_error(data, **kwargs)


@SETTINGS
@given(odd_recordings(), st.floats(0, 1), EDITS)
def test_audio_damaged_files(valid, keep, edits):
    _audio_or_input_error(damage(valid, keep, edits))


@SETTINGS
@given(odd_recordings(), st.lists(st.tuples(st.integers(0, 63), st.integers(0, 255)), max_size=8))
def test_audio_lying_headers(valid, edits):
    """Random values written into the first 64 bytes: sizes, rates, channel counts, formats that lie."""
    _audio_or_input_error(damage(valid, 1.0, [(at / max(len(valid), 1), value) for at, value in edits]))


@SETTINGS
@given(st.binary(max_size=64), st.binary(max_size=2048))
def test_audio_known_signatures_with_junk(signature_source, junk):
    """Files that start like a known format (RIFF/WAVE, fLaC, OggS, ID3, ftyp...) then go wrong."""
    starts = [b"RIFF\xff\xff\xff\xffWAVEfmt ", b"fLaC", b"OggS", b"ID3\x03\x00", b"\xff\xfb",
              b"FORM\x00\x00\x00\x00AIFF", b".snd", b"caff", b"\x00\x00\x00\x18ftypM4A ", b"#!AMR",
              b"RIFF\x00\x00\x00\x00RF64"]
    prefix = starts[len(signature_source) % len(starts)]
    _audio_or_input_error(prefix + signature_source + junk)


@SETTINGS
@given(st.binary(max_size=600))
def test_sniff_never_fails(data):
    kind = sniff(data)
    assert kind is None or (kind.name and kind.media in ("image", "audio", "other"))
