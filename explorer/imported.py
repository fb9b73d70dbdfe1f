"""Imported models (`python -m explorer import`, or the app's Add-a-model page) as registry
entries, found from their small manifest files.

Light on purpose (no torch, no transformers at import time): every page's model menu
lists the imported models, the first page included, by reading WORKSPACE/*/manifest.json;
nothing heavy is loaded until a model is chosen (loading one is the workspace's job, see
`provider`). The entry says everything the pages need: which pages show it (its
modality's live page, and tradeoffs, noise, model, energy unless it is a text model, which
generates), its data (the calibration and test splits of its folder, and noisy variants of
the test split made on demand by its modality), its decoder (the checkpoint's own
processor) and its quality (accuracy, WER, or agreement with the full model's tokens).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

from . import modality, zoo
from .manifest import Manifest
from .paths import CACHE

SHARED = "-shared"  # NAME-shared: the FreeML shared-exit view of an image model imported with one
PAGES = frozenset({"tradeoffs", "noise", "model", "energy"})  # every imported model, besides its live page


def root(override: str | Path | None = None) -> Path:
    """The workspace folder: `override`, else $EXPLORER_WORKSPACE, else the cache's."""
    return Path(override or os.environ.get("EXPLORER_WORKSPACE") or CACHE / "workspace").expanduser()


def _read(path: Path) -> Manifest | None:
    """A manifest, or None when it is unreadable or half written (an import still running)."""
    try:
        m = Manifest.read(path)
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return m if m.done and m.name else None


def manifests(where: str | Path | None = None) -> list[Manifest]:
    """Every finished import in the workspace, by name (an import under way has no key yet)."""
    out = []
    for path in sorted(root(where).glob("*/manifest.json")):
        m = _read(path)
        if m is not None:
            out.append(m)
    return out


def views(manifest: Manifest) -> list[str]:
    """The model names an import gives: NAME, and NAME-shared with a shared exit."""
    return [manifest.name, *([manifest.name + SHARED] if manifest.shared_exit else [])]


def pages(manifest: Manifest) -> frozenset:
    """The pages that show an imported model: its modality's live page, and every analysis page
    when the modality is in the multi-exit contract (text generates: its live page only)."""
    reads = modality.of(manifest.family)
    return (PAGES if reads.profiled else frozenset()) | {reads.live_page}


def names(page: str | None = None, where: str | Path | None = None) -> list[str]:
    """Imported model names (views included), or those shown on `page`; from the manifests only."""
    return [n for m in manifests(where) if page is None or page in pages(m) for n in views(m)]


def found(name: str, where: str | Path | None = None) -> tuple[Manifest, str] | None:
    """(manifest, view) of an imported model's name (NAME or NAME-shared), or None.
    An import still being written (no key yet) is found too: the import itself reads it."""
    where = root(where)
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None  # never a path: names come from links
    path = where / name / "manifest.json"
    if path.is_file():
        return Manifest.read(path), "main"
    if name.endswith(SHARED):
        path = where / name[: -len(SHARED)] / "manifest.json"
        if path.is_file():
            m = Manifest.read(path)
            if m.shared_exit:
                return m, "shared"
    return None


Loader = Callable[[str, Path], object]  # (name, workspace) -> the model with its exit heads attached


def provider(load: Loader) -> zoo.Provider:
    """The imported models as a registry provider. Loading one (its checkpoint, then its
    trained heads) is `explorer.workspace`'s job, which sits above this light module:
    `explorer.setup` hands its loader in at start-up."""
    return zoo.Provider(names, lambda name: entry(name, load))


def entry(name: str, load: Loader, where: str | Path | None = None) -> zoo.BuiltIn | None:
    """The registry entry of an imported model (loaded with `load`), or None if there is none."""

    where = root(where)
    got = found(name, where)
    if got is None:
        return None
    manifest, view = got
    folder = where / manifest.name
    base = manifest.name
    shared = bool(manifest.shared_exit)
    data = manifest.data
    kind = "shared" if view == "shared" else manifest.exits
    reads = modality.of(manifest.family)
    files = data.files
    return zoo.BuiltIn(
        name, f"{manifest.architecture} {base}" + (", shared exit" if view == "shared" else f" ({kind} exits)"),
        lambda: load(name, where), _data_function(name), calib_split="calib", test_split="test",
        profile_dir=folder / "profiles", decode=_decoder(name), group="imported", quality=reads.quality,
        summary=(f"Imported from {manifest.source} ({manifest.architecture}, {kind} exits), measured on "
                 f"{data.folder}: {files.get('calib', '?')} calibration and {files.get('test', '?')} test "
                 "files."),
        pages=pages(manifest), noise=reads.noise_axis(lambda: zoo.model(name)),
        report_file="" if view == "shared" else str(folder / "report.json"),
        head_views=(("one head per exit", base), ("one shared exit", base + SHARED)) if shared else (),
        profiled=reads.profiled, generates=reads.generates)


def _data_function(name: str):
    def data(split: str, limit: int = 0, **variant):
        inputs, targets = loaded(name, split, tuple(sorted(variant.items())))
        return (inputs[:limit], targets[:limit]) if limit else (inputs, targets)
    return data


@cache
def loaded(name: str, split: str, variant: tuple = ()) -> tuple[list, list]:
    """The decoded inputs and targets of one split of the model's data folder (`variant`:
    a noisy set's (keyword, value) pairs, mixed in before the checkpoint's processor)."""
    from . import folders

    if split not in ("train", "calib", "test"):
        raise ValueError(f"imported models have the splits train, calib and test, not {split!r}")
    manifest, _ = found(name)
    d = manifest.data
    model, reads = zoo.model(name), modality.of(manifest.family)
    folder = reads.scan(d.folder, d.train_fraction, d.calib_fraction, d.limit)
    got = folders.load_part(folder, split, reads.preparer(model, dict(variant)), list(model.labels) or None,
                            model.rate)
    return got.inputs, got.targets


zoo.on_forget(lambda name: loaded.cache_clear())  # a re-imported model's data may be another folder


def raw_files(name: str, split: str) -> tuple[Path, list[Path]]:
    """(data folder, the split's files in order): where each evaluation input came from."""
    manifest, _ = found(name)
    d = manifest.data
    folder = modality.of(manifest.family).scan(d.folder, d.train_fraction, d.calib_fraction, d.limit)
    return folder.root, folder.part(split)[0]


def _decoder(name: str):
    def decode(data: bytes):

        model = zoo.model(name)
        return modality.of(model.family).decode(data, model)  # through the checkpoint's own processor
    return decode
