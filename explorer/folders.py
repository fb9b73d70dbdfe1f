"""The user's own labelled data: a folder of images or recordings, read into a
calibration and a test split.

Layouts (the common ones; the first that fits is used):
- images: one subfolder per class (ImageFolder), or `metadata.csv` with
  `file_name,label` (Hugging Face imagefolder);
- speech: a LibriSpeech-style tree (`*.trans.txt` beside the audio: "ID TRANSCRIPT"
  lines, audio `ID.flac` or any format the upload decoder reads), or `metadata.csv`
  with `file_name,transcription` (Hugging Face audiofolder).
The split is by a hash of each file's path inside the folder: the same file always
lands in the same split, whatever else is added. Bad files are skipped, counted and
named; a folder that cannot be used at all gets a sentence saying what to fix.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
AUDIO_SUFFIXES = {".flac", ".wav", ".ogg", ".opus", ".mp3"}
MAX_LISTED = 12  # names shown in a message before "..."


@dataclass
class DataFolder:
    """What a data folder holds, before decoding: files, their targets and the split."""

    root: Path
    kind: str  # "image" or "speech"
    layout: str  # "imagefolder", "metadata.csv", "librispeech"
    files: list[Path]  # relative to root
    targets: list[str]  # class name, or transcript
    split: list[str]  # "train", "calib" or "test", per file
    missing: list[str] = field(default_factory=list)  # listed but absent, or audio without transcript

    def part(self, name: str) -> tuple[list[Path], list[str]]:
        idx = [i for i, s in enumerate(self.split) if s == name]
        return [self.files[i] for i in idx], [self.targets[i] for i in idx]

    def content_hash(self) -> str:
        """SHA-256 over every file's path, size, mtime and target: a changed folder rebuilds."""
        h = hashlib.sha256(f"{self.kind}:{self.layout}".encode())
        for f, t, s in zip(self.files, self.targets, self.split, strict=True):
            st = (self.root / f).stat()
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\0{t}\0{s}\n".encode())
        return h.hexdigest()


def _listing(names) -> str:
    names = sorted(set(map(str, names)))
    return ", ".join(names[:MAX_LISTED]) + (f" ... ({len(names)} in all)" if len(names) > MAX_LISTED else "")


def split_of(path: Path, train_fraction: float, calib_fraction: float) -> str:
    """'train' (exit heads learn here), 'calib' (thresholds are chosen here) or 'test'
    (reported here), fixed by a hash of the file's path inside the folder."""
    u = int(hashlib.sha256(str(path).encode()).hexdigest()[:12], 16) / 16**12
    return "train" if u < train_fraction else "calib" if u < train_fraction + calib_fraction else "test"


def _read_metadata(root: Path, column: str) -> tuple[list[Path], list[str], list[str]]:
    path = root / "metadata.csv"
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path} could not be read as CSV ({err}); it needs a header line "
                         f"`file_name,{column}`") from err
    if not rows or "file_name" not in rows[0] or column not in rows[0]:
        found = ", ".join(rows[0]) if rows else "no rows"
        raise InputError(f"{path} needs the columns file_name and {column} (found: {found})")
    files, targets, missing = [], [], []
    for r in rows:
        name, target = (r["file_name"] or "").strip(), (r[column] or "").strip()
        if not name:
            continue
        if not (root / name).is_file():
            missing.append(name)
            continue
        files.append(Path(name))
        targets.append(target)
    return files, targets, missing


def _librispeech(root: Path) -> tuple[list[Path], list[str], list[str]]:
    files, targets, missing = [], [], []
    described = set()
    for trans in sorted(root.rglob("*.trans.txt")):
        try:
            lines = trans.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            log.warning("skipped %s: %s", trans, err)
            missing.append(str(trans.relative_to(root)))
            continue
        for line in lines:
            if not line.strip():
                continue
            uid, _, text = line.strip().partition(" ")
            audio = next((trans.parent / f"{uid}{s}" for s in sorted(AUDIO_SUFFIXES)
                          if (trans.parent / f"{uid}{s}").is_file()), None)
            if audio is None:
                missing.append(str((trans.parent / uid).relative_to(root)))
                continue
            described.add(audio)
            files.append(audio.relative_to(root))
            targets.append(text.strip())
    for audio in sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES):
        if audio not in described:  # a recording no transcript names
            missing.append(str(audio.relative_to(root)))
    return files, targets, missing


def scan(root, kind: str, train_fraction: float = 0.4, calib_fraction: float = 0.3, limit: int = 0) -> DataFolder:
    """Find the layout of `root` and list its labelled files, split by path hash.
    limit: keep only N files (the same N every time: the smallest path hashes)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"the data folder {root} does not exist (or is not a folder)")
    if not (0 <= train_fraction and 0 < calib_fraction and train_fraction + calib_fraction < 1):
        raise InputError(f"the split fractions (train {train_fraction}, calibration {calib_fraction}) must be "
                         "at least 0, the calibration one above 0, and leave some files for the test split")
    missing: list[str] = []
    if kind == "image":
        if (root / "metadata.csv").is_file():
            layout = "metadata.csv"
            files, targets, missing = _read_metadata(root, "label")
        else:
            layout = "imagefolder"
            files, targets = [], []
            for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
                for f in sorted(sub.rglob("*")):
                    if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                        files.append(f.relative_to(root))
                        targets.append(sub.name)
            if not files:
                loose = [p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
                hint = (f" ({len(loose)} pictures lie directly in it: move them into one subfolder per class)"
                        if loose else "")
                raise InputError(f"no labelled pictures in {root}{hint}: make one subfolder per class "
                                 "(its name is the label), or a metadata.csv with file_name,label")
    elif kind == "speech":
        if (root / "metadata.csv").is_file():
            layout = "metadata.csv"
            files, targets, missing = _read_metadata(root, "transcription")
        else:
            layout = "librispeech"
            files, targets, missing = _librispeech(root)
            if not files:
                audio = [p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES]
                hint = (f"{len(audio)} recordings but no transcripts for them" if audio else "no recordings")
                raise InputError(f"{hint} in {root}: put `*.trans.txt` files (lines `ID TRANSCRIPT`) beside "
                                 "the audio as LibriSpeech does, or a metadata.csv with file_name,transcription")
    else:
        raise InputError(f"unknown data kind {kind!r}")
    if missing:
        log.warning("%d listed files are missing or have no label: %s", len(missing), _listing(missing))
    if not files:
        raise InputError(f"{root} lists no usable files ({len(missing)} listed but missing: {_listing(missing)})")
    keys = [hashlib.sha256(str(f).encode()).hexdigest() for f in files]
    order = sorted(range(len(files)), key=lambda i: keys[i]) if limit else range(len(files))
    if limit:
        order = sorted(order[:limit])
    files, targets = [files[i] for i in order], [targets[i] for i in order]
    split = [split_of(f, train_fraction, calib_fraction) for f in files]
    for need in ("calib", "test"):  # a tiny folder: never leave these splits empty
        if need not in split and split.count(max(set(split), key=split.count)) > 1:
            split[split.index(max(set(split), key=split.count))] = need
    return DataFolder(root, kind, layout, files, targets, split, missing)


def match_labels(targets: list[str], labels: list[str]) -> list[int]:
    """Class names -> the model's class ids (exact, else case-blind; 'LABEL_3' or '3' by index
    when the model has no names). A mismatch names both sides."""
    exact = {name: i for i, name in enumerate(labels)}
    folded = {name.lower(): i for i, name in enumerate(labels)}
    generic = all(name == f"LABEL_{i}" for i, name in enumerate(labels))
    out, unknown = [], set()
    for t in targets:
        i = exact.get(t, folded.get(t.lower()))
        if i is None and generic and t.isdigit() and int(t) < len(labels):
            i = int(t)
        if i is None:
            unknown.add(t)
        out.append(i)
    if unknown:
        raise InputError(f"labels unknown to the model: {_listing(unknown)}. The model's labels are: "
                         f"{_listing(labels)}. Rename the folders (or the label column) to the model's labels")
    return out


@dataclass
class Loaded:
    """Decoded inputs of one split, and what could not be used."""

    inputs: list  # model inputs (tensors), in file order
    targets: list  # class ids, or transcripts
    files: list[Path]
    skipped: list[tuple[str, str]]  # (file, reason)


def load_part(folder: DataFolder, part: str, prepare, labels: list[str] | None = None,
              rate: int = 16_000) -> Loaded:
    """Decode one split's files and prepare them for the model (`prepare`: a PIL image or a
    waveform -> one input tensor). Unreadable files are skipped and named."""
    files, targets = folder.part(part)
    if folder.kind == "image" and labels is not None:
        targets = match_labels(targets, labels)
    inputs, kept_t, kept_f, skipped = [], [], [], []
    for f, t in zip(files, targets, strict=True):
        try:
            data = (folder.root / f).read_bytes()
            x = prepare(decode_picture(data) if folder.kind == "image" else decode_audio(data, rate))
        except (InputError, OSError) as err:
            skipped.append((str(f), str(err)))
            continue
        inputs.append(x)
        kept_t.append(t)
        kept_f.append(f)
    if skipped:
        log.warning("skipped %d unreadable files of the %s split: %s", len(skipped), part,
                    "; ".join(f"{f}: {r}" for f, r in skipped[:MAX_LISTED]))
    if not inputs:
        raise InputError(f"no file of the {part} split in {folder.root} could be read "
                         f"({len(skipped)} tried; first: {skipped[0][0]}: {skipped[0][1]})" if skipped else
                         f"the {part} split of {folder.root} is empty: add files or use a larger folder")
    return Loaded(inputs, kept_t, kept_f, skipped)


def decode_picture(data: bytes):
    """Bytes of a picture -> an upright RGB PIL image (the upload decoder's checks)."""
    from PIL import Image

    from .image_input import _decode

    try:
        arr = _decode(data, 40_000_000)  # [H, W, 3] in [0, 1]
    except InputError as err:  # the upload's words, without its advice about digits and uploads
        raise InputError(str(err).split(" Please")[0]) from None
    return Image.fromarray(np.round(arr * 255).astype(np.uint8))


def decode_audio(data: bytes, rate: int = 16_000) -> np.ndarray:
    """Bytes of a recording -> mono float32 at `rate` (the upload decoder's checks)."""
    from .audio import RATE, load_audio

    samples = load_audio(data, max_seconds=120.0).samples
    if rate != RATE:
        import soxr

        samples = soxr.resample(samples, RATE, rate).astype(np.float32)
    return samples

