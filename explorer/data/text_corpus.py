"""The text model's corpus: Python's own standard library source, read where Python is.

Every Python installation ships it, so it is there offline on any machine that runs the
explorer, and its licence (the PSF License Agreement, in the interpreter's LICENSE.txt)
allows using and redistributing it. Code is a good corpus for early exit: much of it is
predictable (indentation, closing brackets, `self.`, keywords), some of it is not (names,
literals), so a model has easy and hard tokens side by side.

Files are split by a hash of their path (90% train, 5% val, 5% test): a file is in one split
only, and a rebuild on the same Python gives the same splits. Tests (`test/`, `tests/`) and
installed packages are left out: the first are repetitive, the second are not the stdlib.
"""

from __future__ import annotations

import hashlib
import sysconfig
import zlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import torch

SPLITS = {"train": (0, 90), "val": (90, 95), "test": (95, 100)}  # ranges of crc32(path) % 100
SKIP = ("test", "tests", "site-packages", "dist-packages", "__pycache__", "idle_test")


def source_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def files(root: Path | None = None) -> list[Path]:
    """The corpus's files, relative to `root`, sorted."""
    return list(_files(root or source_root()))


@cache
def _files(root: Path) -> tuple[Path, ...]:
    found = (p.relative_to(root) for p in root.rglob("*.py"))
    return tuple(sorted(f for f in found if not set(f.parts) & set(SKIP)))


def split_of(relative: Path) -> str:
    bucket = zlib.crc32(relative.as_posix().encode()) % 100
    return next(name for name, (lo, hi) in SPLITS.items() if lo <= bucket < hi)


@dataclass(frozen=True)
class Corpus:
    """One split's bytes, files joined by a blank line."""

    split: str
    data: bytes
    files: int
    root: str
    digest: str  # sha256 of the bytes: which corpus a checkpoint was trained on

    def windows(self, length: int, count: int, gen: torch.Generator) -> torch.Tensor:
        """`count` random windows of `length` bytes [count, length] (training batches)."""
        if len(self.data) <= length:
            raise ValueError(f"the {self.split} split has {len(self.data)} bytes, fewer than a window of {length}")
        starts = torch.randint(0, len(self.data) - length, (count,), generator=gen)
        buf = torch.frombuffer(bytearray(self.data), dtype=torch.uint8)
        return torch.stack([buf[s:s + length] for s in starts.tolist()]).long()

    def prompts(self, count: int, length: int, seed: int = 0) -> list[bytes]:
        """`count` prompts of `length` bytes, each starting at a line's start (evaluation and
        calibration: the same ones on every run)."""
        starts = np.flatnonzero(np.frombuffer(self.data, np.uint8) == ord("\n")) + 1
        starts = starts[starts < len(self.data) - 2 * length]
        rng = np.random.default_rng(seed)
        return [self.data[s:s + length] for s in rng.choice(starts, size=count, replace=False)]


def load(split: str, root: Path | None = None) -> Corpus:
    """One split of the corpus (read once per process: the standard library does not change
    while it runs)."""
    return _load(split, root or source_root())


@cache
def _load(split: str, root: Path) -> Corpus:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    chosen = [f for f in files(root) if split_of(f) == split]
    data = b"\n\n".join((root / f).read_bytes() for f in chosen)
    return Corpus(split, data, len(chosen), str(root), hashlib.sha256(data).hexdigest()[:16])
