"""The user's own labelled data: a folder of images or recordings, read into a
calibration and a test split.

Each modality lists its own layouts (explorer.modality: image class folders or
metadata.csv, LibriSpeech trees or metadata.csv) and reads its own files; this module
does what is the same for all of them.
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
from typing import Any

from .errors import InputError

log = logging.getLogger(__name__)

MAX_LISTED = 12  # names shown in a message before "..."


@dataclass
class DataFolder:
    """What a data folder holds, before decoding: files, their targets and the split."""

    root: Path
    modality: Any  # an explorer.modality object: lists and reads the files (not imported: it imports us)
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
        h = hashlib.sha256(f"{self.modality.name}:{self.layout}".encode())
        for f, t, s in zip(self.files, self.targets, self.split, strict=True):
            st = (self.root / f).stat()
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\0{t}\0{s}\n".encode())
        return h.hexdigest()


def _listing(names) -> str:
    names = sorted(set(map(str, names)))
    return ", ".join(names[:MAX_LISTED]) + (f" ... ({len(names)} in all)" if len(names) > MAX_LISTED else "")


def split_of(path: Path | str, train_fraction: float, calib_fraction: float) -> str:
    """'train' (exit heads learn here), 'calib' (thresholds are chosen here) or 'test'
    (reported here), fixed by a hash of the file's path inside the folder."""
    u = int(hashlib.sha256(str(path).encode()).hexdigest()[:12], 16) / 16**12
    return "train" if u < train_fraction else "calib" if u < train_fraction + calib_fraction else "test"


def csv_rows(root: Path, needs: str) -> list[dict]:
    """The rows of root/metadata.csv; unreadable, an InputError that says it needs a header
    line `needs` ("`file_name,label`", "with a `text` column")."""
    path = root / "metadata.csv"
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            return list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputError(f"{path} could not be read as CSV ({err}); it needs a header line {needs}") from err


def read_metadata(root: Path, column: str) -> tuple[list[Path], list[str], list[str]]:
    path = root / "metadata.csv"
    rows = csv_rows(root, f"`file_name,{column}`")
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


def scan(root, modality, train_fraction: float = 0.4, calib_fraction: float = 0.3,
         limit: int = 0) -> DataFolder:
    """Find the layout of `root` (as `modality` lists files) and list its labelled files, split
    by path hash.
    limit: keep only N files (the same N every time: the smallest path hashes)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"the data folder {root} does not exist (or is not a folder)")
    if not (0 <= train_fraction and 0 < calib_fraction and train_fraction + calib_fraction < 1):
        raise InputError(f"the split fractions (train {train_fraction}, calibration {calib_fraction}) must be "
                         "at least 0, the calibration one above 0, and leave some files for the test split")
    listing = modality.list_files(root)
    files, targets, missing = listing.files, listing.targets, listing.missing
    if missing:
        log.warning("%d listed files are missing or have no label: %s", len(missing), _listing(missing))
    if not files:
        raise InputError(f"{root} lists no usable files ({len(missing)} listed but missing: {_listing(missing)})")
    named = listing.keys or [str(f) for f in files]  # what each split is drawn from: the path, or the listing's key
    keys = [hashlib.sha256(k.encode()).hexdigest() for k in named]
    order = sorted(range(len(files)), key=lambda i: keys[i]) if limit else range(len(files))
    if limit:
        order = sorted(order[:limit])
    files, targets, named = [files[i] for i in order], [targets[i] for i in order], [named[i] for i in order]
    split = [split_of(k, train_fraction, calib_fraction) for k in named]
    for need in ("calib", "test"):  # a tiny folder: never leave these splits empty
        if need not in split and split.count(max(set(split), key=split.count)) > 1:
            split[split.index(max(set(split), key=split.count))] = need
    return DataFolder(root, modality, listing.layout, files, targets, split, missing)


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
              rate: int | None = None) -> Loaded:
    """Decode one split's files and prepare them for the model (`prepare`: a PIL image or a
    waveform at `rate`, None: the modality's own -> one input tensor; labels: a classifier's class names). Unreadable
    files are skipped and named."""
    files, targets = folder.part(part)
    targets = folder.modality.targets(targets, labels)
    inputs, kept_t, kept_f, skipped = [], [], [], []
    for f, t in zip(files, targets, strict=True):
        try:
            x = prepare(folder.modality.raw(folder.root, f, t, rate))
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
