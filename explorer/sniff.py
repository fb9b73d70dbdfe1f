"""What kind of file some bytes are, from their first bytes: for messages, and to name ffmpeg's demuxer.

When an upload cannot be decoded, saying "this is a PDF document" or "this is an
M4A recording" tells the person what to do far better than "could not be read".
For the formats that explorer.audio hands to ffmpeg, `FFMPEG_DEMUXERS` names the one
demuxer to use, so that ffmpeg never guesses a format from the upload's contents.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    name: str  # e.g. "a TIFF picture"
    media: str  # "image", "audio" or "other" (what a file holds; not a model's modality)


M4A = Kind("an M4A (AAC) recording", "audio")
PHONE_3GP = Kind("a 3GP recording (from a phone)", "audio")
MP4_VIDEO = Kind("an MP4/MOV video", "other")
AAC = Kind("an AAC recording", "audio")
AMR = Kind("an AMR recording (from a phone)", "audio")
WMA = Kind("a WMA/WMV (Windows Media) file", "audio")
WEBM = Kind("a WebM/Matroska file", "audio")
# the kinds explorer.audio decodes with ffmpeg (its sound track), and ffmpeg's demuxer for each
FFMPEG_DEMUXERS = {M4A: "mov", PHONE_3GP: "mov", MP4_VIDEO: "mov", AAC: "aac", AMR: "amr", WMA: "asf",
                   WEBM: "matroska"}


def _iso_media(data: bytes) -> Kind | None:
    """MP4-family files: 'ftyp' at offset 4, then a brand saying which."""
    if data[4:8] != b"ftyp":
        return None
    brand = data[8:12]
    if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
        return Kind("a HEIC/HEIF photo", "image")
    if brand == b"avif":
        return Kind("an AVIF picture", "image")
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return M4A
    if brand.startswith((b"3gp", b"3g2")):
        return PHONE_3GP
    return MP4_VIDEO


_RIFF = {b"WAVE": Kind("a WAV recording", "audio"), b"WEBP": Kind("a WebP picture", "image"),
         b"AVI ": Kind("an AVI video", "other")}
_MAGIC = [  # (prefix, kind)
    (b"\x89PNG\r\n\x1a\n", Kind("a PNG picture", "image")),
    (b"\xff\xd8\xff", Kind("a JPEG picture", "image")),
    (b"GIF87a", Kind("a GIF picture", "image")),
    (b"GIF89a", Kind("a GIF picture", "image")),
    (b"BM", Kind("a BMP picture", "image")),
    (b"II*\x00", Kind("a TIFF picture", "image")),
    (b"MM\x00*", Kind("a TIFF picture", "image")),
    (b"8BPS", Kind("a Photoshop (PSD) file", "image")),
    (b"\x00\x00\x01\x00", Kind("an icon (ICO) file", "image")),
    (b"fLaC", Kind("a FLAC recording", "audio")),
    (b"OggS", Kind("an OGG recording", "audio")),
    (b"ID3", Kind("an MP3 recording", "audio")),
    (b"\xff\xfb", Kind("an MP3 recording", "audio")),
    (b"\xff\xf3", Kind("an MP3 recording", "audio")),
    (b"\xff\xf1", AAC),
    (b"\xff\xf9", AAC),
    (b"#!AMR", AMR),
    (b"0&\xb2u\x8ef\xcf\x11", WMA),
    (b"\x1aE\xdf\xa3", WEBM),
    (b"FORM", Kind("an AIFF recording", "audio")),
    (b"%PDF", Kind("a PDF document", "other")),
    (b"PK\x03\x04", Kind("a ZIP archive (or an Office document)", "other")),
    (b"\x1f\x8b", Kind("a gzip archive", "other")),
    (b"\x7fELF", Kind("a program", "other")),
    (b"MZ", Kind("a Windows program", "other")),
]


def sniff(data: bytes) -> Kind | None:
    """The kind of file `data` starts like, or None if its first bytes say nothing."""
    head = bytes(data[:64])
    if head[:4] == b"RIFF" and head[8:12] in _RIFF:
        return _RIFF[head[8:12]]
    iso = _iso_media(head)
    if iso:
        return iso
    for prefix, kind in _MAGIC:
        if head.startswith(prefix):
            return kind
    text = head.lstrip().lower()
    if text.startswith((b"<svg", b"<?xml")) or b"<svg" in bytes(data[:1024]).lower():
        return Kind("an SVG drawing", "image")
    if text.startswith((b"<!doctype html", b"<html")):
        return Kind("a web page", "other")
    if _is_text(bytes(data[:512])):
        return Kind("a text file", "other")
    return None


def _is_text(head: bytes) -> bool:
    """Printable UTF-8 (a character cut at the end is fine)."""
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return bool(text.strip()) and all(ch.isprintable() or ch.isspace() for ch in text)
