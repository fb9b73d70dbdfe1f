"""Uploaded audio files to model input: 16 kHz mono float32.

`load_audio` accepts the bytes of a WAV, FLAC, OGG (Vorbis, Opus) or MP3 file
(libsndfile) or an M4A/AAC, MP4/MOV/3GP sound track, WebM, AMR or WMA file (ffmpeg,
bundled in the PyAV wheel: phones record these) at any sample rate, bit depth and
channel count, decodes it in memory (the upload is never written to disk), averages
the channels and resamples to 16 kHz. Anything
it cannot use - empty, not audio, damaged, too short, silent, invalid numbers,
too long - raises `InputError` with a message meant for the person who uploaded
it; no other exception type escapes, whatever the bytes. A recording that is usable
but clipped (recorded too loud) is decoded and flagged (`Audio.clipped`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from explorer.errors import InputError
from explorer.sniff import FFMPEG_DEMUXERS, Kind, sniff

RATE = 16_000  # every recording is decoded to this rate, the speech model's own
MIN_SECONDS = 0.1
SILENCE_PEAK = 1e-4  # below this (full scale = 1.0) there is nothing to hear
CLIP_LEVEL, CLIP_FRACTION = 0.99, 0.001  # 0.1% of samples at full scale: the recording was clipped
MIN_RATE, MAX_RATE = 4_000, 384_000  # sample rates we resample from
MAX_CHANNELS = 64
_BLOCK_FRAMES = 16_384  # decode in blocks: a lying header cannot make us allocate a huge array
FORMATS_HINT = "WAV, FLAC, OGG (Vorbis or Opus), MP3 or M4A (AAC)"
# What an upload widget should let through: every format decoded here (a browser's type
# filter would otherwise hide this module's message about a file behind its own).
UPLOAD_TYPES = ("wav", "wave", "flac", "ogg", "oga", "opus", "mp3", "m4a", "aac", "mp4", "mov", "3gp", "webm",
                "weba", "mka", "amr", "wma", "aif", "aiff", "caf")


@dataclass(frozen=True)
class Audio:
    """A decoded recording, ready for a speech model."""

    samples: np.ndarray  # float32, mono, 16 kHz
    sample_rate: int  # always 16000
    original_rate: int  # the file's sample rate
    channels: int  # the file's channel count (averaged to mono)
    seconds: float  # duration of `samples`
    trimmed: bool  # True if the recording was cut to max_seconds
    clipped: bool = False  # True if many samples sit at full scale: recorded too loud, distorted


def load_audio(data: bytes, max_seconds: float = 60.0, trim: bool = False) -> Audio:
    """Decode an uploaded audio file to 16 kHz mono float32.

    Recordings longer than `max_seconds` are refused, or, with `trim=True`, cut to
    their first `max_seconds` (and marked `trimmed`). Raises InputError, with a
    reason a person can act on, for any file that cannot be used.
    """
    if not max_seconds > 0:
        raise ValueError(f"max_seconds must be positive, not {max_seconds!r}")
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InputError("Expected the contents of an audio file.")
    data = bytes(data)
    if not data:
        raise InputError("The file is empty.")
    mono, rate, channels, too_long = _decode(data, max_seconds)
    if too_long and not trim:
        raise InputError(f"The recording is too long: the limit is {max_seconds:g} s. "
                         f"Please upload a recording of at most {max_seconds:g} s.")
    seconds = len(mono) / rate
    if seconds < MIN_SECONDS:
        raise InputError(f"The recording is too short ({seconds:.2f} s); it must be at least "
                         f"{MIN_SECONDS:g} s long.")
    if not np.all(np.isfinite(mono)):
        raise InputError("The file holds invalid numbers (NaN or infinity) instead of sound samples.")
    peak = float(np.max(np.abs(mono)))
    if peak < SILENCE_PEAK:
        raise InputError("The recording is silent: there is no sound in it.")
    clipped = peak <= 1.0 and float(np.mean(np.abs(mono) >= CLIP_LEVEL)) >= CLIP_FRACTION
    samples = mono / peak if peak > 1.0 else mono  # float files may go beyond full scale
    if rate != RATE:
        samples = soxr.resample(samples, rate, RATE, "HQ")
        # resampling can overshoot a little next to very steep edges
        samples /= max(1.0, float(np.max(np.abs(samples))))
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    return Audio(samples=samples, sample_rate=RATE, original_rate=rate, channels=channels,
                 seconds=len(samples) / RATE, trimmed=too_long, clipped=clipped)


def to_wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    """16-bit PCM WAV file of mono (1-D) or multi-channel (frames x channels) samples in [-1, 1].

    Values beyond +-1 are clipped and NaN becomes 0, so the result always plays.
    """
    x = np.nan_to_num(np.asarray(samples, dtype=np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    buf = io.BytesIO()
    sf.write(buf, np.clip(x, -1.0, 1.0), int(rate), format="WAV", subtype="PCM_16")
    return buf.getvalue()


def _decode(data: bytes, max_seconds: float) -> tuple[np.ndarray, int, int, bool]:
    """(mono float64 samples, sample rate, channels, longer than max_seconds?).

    Reads at most `max_seconds` (plus one block to tell that there is more), so a
    huge file is never decoded in full.
    """
    kind = sniff(data)
    demuxer = FFMPEG_DEMUXERS.get(kind) if kind is not None else None
    try:
        if demuxer is not None:
            return _from_blocks(_ffmpeg_blocks(data, demuxer, kind), max_seconds)
        with sf.SoundFile(_MemoryFile(data)) as f:
            return _from_blocks(_sndfile_blocks(f), max_seconds)
    except InputError:
        raise
    except Exception as err:  # any decoder failure means "not a usable audio file"
        raise InputError(_not_audio_message(data)) from err


def _from_blocks(blocks, max_seconds: float) -> tuple[np.ndarray, int, int, bool]:
    """Gather mono samples from (rate, channels, [frames, channels] block)s until past max_seconds."""
    mono, total, limit = [], 0, None
    for rate, channels, block in blocks:
        if limit is None:
            _check_layout(rate, channels)
            limit = int(max_seconds * rate)
        with np.errstate(invalid="ignore", over="ignore"):  # inf/NaN are reported by the caller
            mono.append(block.mean(axis=1))  # mono: mean of the channels
        total += len(block)
        if total > limit:
            break
    if limit is None:
        raise ValueError("no sound in the file")  # reported as damaged by the caller
    samples = np.concatenate(mono) if mono else np.zeros(0)
    return samples[:limit], rate, channels, len(samples) > limit


def _sndfile_blocks(f: sf.SoundFile):
    rate, channels = int(f.samplerate), int(f.channels)
    _check_layout(rate, channels)  # before reading: a lying header must not size the first block
    while True:
        block = f.read(_BLOCK_FRAMES, dtype="float64", always_2d=True)
        yield rate, channels, block
        if len(block) == 0:
            return


def _ffmpeg_blocks(data: bytes, demuxer: str, kind: Kind):
    """The first sound track, decoded by the ffmpeg inside PyAV, as float64 [frames, channels] blocks.

    The demuxer is named, never guessed: ffmpeg's probing could pick a playlist format
    that opens other files or addresses named inside the upload.
    """
    try:
        import av
    except ImportError:  # an installation without PyAV: say what the file is and what to do
        raise InputError(f"This file is {kind.name}, which this installation cannot decode (the PyAV package is "
                         f"missing). Please convert it to WAV, FLAC or MP3 and upload that.") from None
    with av.open(io.BytesIO(data), mode="r", format=demuxer) as container:
        if not container.streams.audio:
            raise InputError(f"This file is {kind.name} with no sound track. Please upload a recording.")
        planar = av.AudioResampler(format="dblp")  # float64, one plane per channel; rate and layout kept
        decoded = False
        try:
            for frame in container.decode(container.streams.audio[0]):
                for out in planar.resample(frame):
                    planes = out.to_ndarray()  # [channels, frames]
                    decoded = True
                    yield int(out.sample_rate), planes.shape[0], planes.T
            for out in planar.resample(None):  # whatever the converter still holds
                planes = out.to_ndarray()
                yield int(out.sample_rate), planes.shape[0], planes.T
        except av.error.FFmpegError:
            if not decoded:
                raise
            # damaged further on: keep what was decoded, as libsndfile does with a cut file


class _MemoryFile(io.BytesIO):
    """The upload as a file for libsndfile, whose impossible seeks fail quietly.

    A damaged header can make libsndfile seek before the start. BytesIO raises then,
    inside a C callback, where Python can only print the traceback and hand back 0;
    here the seek answers -1 ("failed"), as the C library expects.
    """

    _failed = False

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._failed = False
        try:
            return super().seek(offset, whence)
        except (ValueError, OverflowError):
            self._failed = True
            return -1

    def tell(self) -> int:  # soundfile's seek callback answers with tell()
        if self._failed:
            self._failed = False
            return -1
        return super().tell()


def _check_layout(rate: int, channels: int) -> None:
    if not MIN_RATE <= rate <= MAX_RATE:
        raise InputError(f"The file's sample rate ({rate} Hz) is not supported: it must be between "
                         f"{MIN_RATE} and {MAX_RATE} Hz.")
    if not 1 <= channels <= MAX_CHANNELS:
        raise InputError(f"The file has {channels} channels; at most {MAX_CHANNELS} are supported.")


_SNIFFED_READABLE = ("WAV", "FLAC", "OGG", "MP3", "AIFF", "M4A", "AAC", "MP4", "3GP", "WebM", "AMR", "WMA")


def _not_audio_message(data: bytes) -> str:
    kind = sniff(data)
    prefix = "This file could not be read as audio"
    if kind is not None and kind.media == "audio":
        if any(name in kind.name for name in _SNIFFED_READABLE):
            return (f"{prefix}: it looks like {kind.name}, but it is damaged or incomplete. "
                    "Please upload a complete copy.")
        return (f"{prefix}: it is {kind.name}, a format this app does not read. Please convert it to "
                f"{FORMATS_HINT} and upload that.")
    if kind is not None:
        return f"{prefix}: it is {kind.name}, not a recording. Please upload a {FORMATS_HINT} file."
    return (f"{prefix} ({len(data):,} bytes): it is not a {FORMATS_HINT} file, or it is damaged or "
            "incomplete.")
