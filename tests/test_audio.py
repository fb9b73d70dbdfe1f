"""Uploads to 16 kHz mono: every common format decodes, every bad file gets a clear reason."""

import io
from fractions import Fraction

import numpy as np
import pytest
import soundfile as sf
from input_corpus import damaged_copies, encode_with_ffmpeg

from explorer.audio import RATE, UPLOAD_TYPES, Audio, load_audio, to_wav_bytes
from explorer.errors import InputError

TONE_HZ = 440.0


def _tone(rate, seconds=1.0, channels=1, amplitude=0.5):
    t = np.arange(int(rate * seconds)) / rate
    x = amplitude * np.sin(2 * np.pi * TONE_HZ * t)
    return np.repeat(x[:, None], channels, axis=1) if channels > 1 else x


def _encode(x, rate, fmt, subtype):
    buf = io.BytesIO()
    sf.write(buf, x, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


def _dominant_hz(x):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(spectrum)]


def _check(audio, seconds, rate, channels, tolerance_s):
    assert isinstance(audio, Audio)
    assert audio.sample_rate == RATE and audio.original_rate == rate and audio.channels == channels
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert abs(audio.seconds - seconds) <= tolerance_s
    assert audio.seconds == len(audio.samples) / RATE
    assert abs(_dominant_hz(audio.samples) - TONE_HZ) < 5  # still a 440 Hz tone: resampled right
    assert 0.3 < np.max(np.abs(audio.samples)) <= 1.0
    assert not audio.trimmed


LOSSLESS = [("WAV", s) for s in ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE")] + [
    ("FLAC", s) for s in ("PCM_S8", "PCM_16", "PCM_24")]


@pytest.mark.parametrize("fmt,subtype", LOSSLESS)
@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 44100, 48000, 96000])
def test_lossless_files_decode_at_any_rate_and_depth(fmt, subtype, rate):
    data = _encode(_tone(rate, 1.0, channels=2), rate, fmt, subtype)
    _check(load_audio(data), 1.0, rate, 2, tolerance_s=0.001)


@pytest.mark.parametrize("channels", [1, 2, 3, 6, 8])
def test_any_channel_count_is_averaged_to_mono(channels):
    x = _tone(44100, 0.5, channels)
    data = _encode(x, 44100, "WAV", "PCM_16")
    _check(load_audio(data), 0.5, 44100, channels, tolerance_s=0.001)


def test_channels_are_averaged():
    left = _tone(16000, 0.5)
    data = _encode(np.stack([left, np.zeros_like(left)], axis=1), 16000, "WAV", "FLOAT")
    assert np.max(np.abs(load_audio(data).samples)) == pytest.approx(0.25, abs=1e-3)


LOSSY = [("MP3", "MPEG_LAYER_III", r) for r in (8000, 16000, 22050, 32000, 44100, 48000)] + [
    ("OGG", "VORBIS", r) for r in (8000, 16000, 22050, 44100, 48000)] + [
    ("OGG", "OPUS", r) for r in (8000, 12000, 16000, 24000, 48000)]


@pytest.mark.parametrize("fmt,subtype,rate", LOSSY)
def test_compressed_files_decode(fmt, subtype, rate):
    if subtype not in sf.available_subtypes(fmt):
        pytest.skip(f"this libsndfile cannot write {fmt}/{subtype}")
    data = _encode(_tone(rate, 1.5), rate, fmt, subtype)
    _check(load_audio(data), 1.5, rate, 1, tolerance_s=0.1)


PHONE = [("ipod", "aac", r) for r in (8000, 16000, 22050, 44100, 48000)] + [
    ("adts", "aac", 44100), ("3gp", "aac", 16000), ("mp4", "aac", 48000), ("webm", "libopus", 48000),
    ("matroska", "aac", 44100)]


@pytest.mark.parametrize("container,codec,rate", PHONE)
def test_phone_and_browser_formats_decode(container, codec, rate):
    """iPhone memos (M4A/AAC), Android (3GP), browser recordings (WebM/Opus): through PyAV's ffmpeg."""
    data = encode_with_ffmpeg(_tone(rate, 1.5), rate, container, codec)
    _check(load_audio(data), 1.5, rate, 1, tolerance_s=0.1)


def test_stereo_m4a_is_averaged_and_long_memos_are_trimmed():
    import av

    rate = 44100
    buf = io.BytesIO()
    with av.open(buf, "w", format="ipod") as out:
        stream = out.add_stream("aac", rate=rate, layout="stereo")
        left = _tone(rate, 3.0).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([left, np.zeros_like(left)]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    audio = load_audio(buf.getvalue())
    _check(audio, 3.0, rate, 2, tolerance_s=0.1)
    middle = audio.samples[RATE : 2 * RATE]  # away from the onset, where AAC rings
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.25 / np.sqrt(2), rel=0.1)  # the mean of 0.5 and 0
    trimmed = load_audio(buf.getvalue(), max_seconds=1.0, trim=True)
    assert trimmed.trimmed and trimmed.seconds == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(InputError, match="too long"):
        load_audio(buf.getvalue(), max_seconds=1.0)


def test_silent_m4a_is_refused_as_silent():
    with pytest.raises(InputError, match="silent"):
        load_audio(encode_with_ffmpeg(np.zeros(16000), 16000))


def test_video_without_sound_says_so():
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream("mpeg4", rate=5)
        stream.width, stream.height = 32, 32
        for _ in range(3):
            frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(InputError, match="no sound track"):
        load_audio(buf.getvalue())


def test_damaged_m4a_only_raises_input_error():
    for data in damaged_copies([encode_with_ffmpeg(_tone(16000, 1.0), 16000)], 150):
        try:
            audio = load_audio(data)
        except InputError as err:
            assert str(err)[0].isupper() and str(err).endswith(".")
        else:
            assert audio.samples.dtype == np.float32 and np.all(np.isfinite(audio.samples))


def test_upload_types_include_phone_formats():
    assert {"wav", "flac", "ogg", "mp3", "m4a", "aac", "webm", "3gp"} <= set(UPLOAD_TYPES)


def test_float_file_beyond_full_scale_is_scaled_back():
    data = _encode(_tone(16000, 0.5, amplitude=4.0), 16000, "WAV", "FLOAT")
    assert np.max(np.abs(load_audio(data).samples)) == pytest.approx(1.0, abs=1e-3)


def test_too_long_is_refused_with_the_limit_or_trimmed_on_request():
    data = _encode(_tone(8000, 3.0), 8000, "WAV", "PCM_16")
    with pytest.raises(InputError, match=r"too long.*2 s"):
        load_audio(data, max_seconds=2)
    audio = load_audio(data, max_seconds=2, trim=True)
    assert audio.trimmed and audio.seconds == pytest.approx(2.0, abs=1e-3)
    assert not load_audio(data, max_seconds=3).trimmed  # exactly at the limit is fine


def _wav(x, rate=16000, subtype="FLOAT"):
    return _encode(np.asarray(x, np.float64), rate, "WAV", subtype)


@pytest.mark.parametrize("data,message", [
    (b"", "empty"),
    (b"hello, this is not audio at all" * 10, "could not be read as audio"),
    (b"\x89PNG\r\n\x1a\n" + bytes(200), "could not be read as audio"),
    (_encode(_tone(16000), 16000, "WAV", "PCM_16")[:20], "could not be read as audio"),  # cut inside the header
    (_encode(_tone(16000), 16000, "FLAC", "PCM_16")[:40], "could not be read as audio"),
    (_wav(np.zeros(0)), "too short"),
    (_wav(_tone(16000, 0.05)), "too short"),
    (_encode(_tone(16000), 16000, "WAV", "PCM_16")[:44 + 1000], "too short"),  # truncated: 0.03 s left
    (_wav(np.where(np.arange(8000) == 100, np.nan, _tone(16000, 0.5))), "invalid numbers"),
    (_wav(np.full(8000, np.inf)), "invalid numbers"),
    (_wav(np.zeros(16000)), "silent"),
    (_wav(np.full(16000, 1e-5)), "silent"),
    (_wav(_tone(16000, 0.5), rate=1000), "sample rate"),
])
def test_unusable_files_give_a_clear_reason(data, message):
    with pytest.raises(InputError, match=message):
        load_audio(data)


@pytest.mark.parametrize("not_bytes", [None, "a.wav", 42, np.zeros(10)])
def test_non_bytes_input_is_an_input_error(not_bytes):
    with pytest.raises(InputError):
        load_audio(not_bytes)


def test_messages_read_as_sentences_for_people():
    for data in (b"", b"junk" * 100, _wav(np.zeros(16000))):
        with pytest.raises(InputError) as err:
            load_audio(data)
        text = str(err.value)
        assert text[0].isupper() and text.endswith(".") and "Error" not in text and "0x" not in text


def test_wav_bytes_round_trip():
    x = _tone(RATE, 0.5).astype(np.float32)
    audio = load_audio(to_wav_bytes(x))
    assert np.max(np.abs(audio.samples - x)) < 1.5 / 32768
    assert sf.info(io.BytesIO(to_wav_bytes(x))).subtype == "PCM_16"
    odd = load_audio(to_wav_bytes(np.r_[x, np.nan, 5.0, -5.0].astype(np.float32))).samples
    assert np.all(np.isfinite(odd)) and np.max(np.abs(odd)) <= 1.0
