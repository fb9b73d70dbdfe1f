"""The import manifest: what `python -m explorer import` wrote about one imported model
(WORKSPACE/NAME/manifest.json), as a frozen record.

Low in the tree on purpose: it imports nothing of the explorer's, so the registry, the
importer, Ray and the pages can all read a manifest without reaching into each other.
The JSON keys on disk are the field names, so manifests written before this record
existed read unchanged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

VERSION = 1  # part of every import's key: a change here re-imports


@dataclass(frozen=True)
class DataInfo:
    """The labelled data folder an import was measured on, and how it was split."""

    folder: str  # absolute path
    layout: str  # how the labels are given (class folders, a labels file, ...)
    train_fraction: float  # exit heads learn on this part
    calib_fraction: float  # thresholds are chosen here; the rest is the test split
    limit: int  # at most this many files (0: all)
    files: dict[str, int] = field(default_factory=dict)  # split -> files in it
    missing: int = 0  # files a labels list names but the folder lacks


@dataclass(frozen=True)
class Manifest:
    name: str
    source: str  # a Hugging Face checkpoint (id or folder) or `file.py:build`
    architecture: str  # the checkpoint's class name
    family: str  # image | speech | text
    task: str  # class | ctc | generate
    exits: str  # final-head | trained | distilled
    data: DataInfo
    version: int = VERSION
    source_hash: str = ""  # content hash of the source
    options: dict = field(default_factory=dict)  # the import options, as given
    labels: list[str] = field(default_factory=list)  # class names, in the checkpoint's order
    daisy: dict | None = None  # speech: DAISY's cluster count and layer, when it has cluster heads
    shared_exit: bool = False  # images: also the FreeML shared-exit view, NAME-shared
    key: str | None = None  # hash of source, data and options; None while the import is still running
    created: str = ""  # UTC, ISO 8601
    training: dict = field(default_factory=dict)  # how the exit heads were trained (seed, per-exit logs)

    @property
    def done(self) -> bool:
        """Finished importing (an import under way has no key yet)."""
        return bool(self.key)

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> Manifest:
        """Keys this version does not know are ignored (a newer import's extras)."""
        d = {k: v for k, v in d.items() if k in {f.name for f in fields(cls)}}
        return cls(**d | {"data": DataInfo(**d["data"])})

    def write(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """The manifest at `path` (OSError, ValueError, TypeError or KeyError when there is none)."""
        d = json.loads(Path(path).read_text())
        if not isinstance(d, dict):
            raise ValueError(f"{path} is not a manifest")
        return cls.from_json(d)
