"""Compressed variants saved in the cache, as registry entries (issue 17's models).

Light on purpose (no torch): the registry lists these on every page, including the
first one, by reading their small JSON files. `compress` makes and loads them; this
module is their provider (`PROVIDER`, installed by `explorer.setup`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from . import paths, zoo


def info(name: str, directory: Path | None = None) -> dict | None:
    """How the variant was made ("base", "method", "ratio", ...), or None if there is none."""
    path = (Path(directory or paths.VARIANTS) / name).with_suffix(".json")
    return json.loads(path.read_text())["variant"] if path.exists() else None


def names() -> list[str]:
    """Names of every compressed variant in the cache."""
    return sorted(p.stem for p in Path(paths.VARIANTS).glob("*.json"))


def of(base: str) -> list[str]:
    """The compressed variants made from `base` (for overlaying them on its tradeoff)."""
    return [n for n in names() if (info(n) or {}).get("base") == base]


def entry(name: str):
    """The registry entry of a saved variant, or None. It shares its base model's data,
    splits and decoder; its profiles go to the cache; it has no noisy sets of its own."""
    made = info(name)
    if made is None:
        return None
    base = zoo.get(made["base"])
    what = "int8 weights" if made["method"] == "int8" else f"{round(100 * made['ratio'])}% of channels pruned"

    def load():
        from .compress import load_variant

        return load_variant(name)

    return replace(base, name=name, title=f"{base.title}, {what}", load=load, profile_dir=paths.CACHE / "profiles",
                   report="", noise=None, extra_tests=(), shifted_splits=(), group="compressed",
                   pages=base.pages & {"live_image", "live_speech", "tradeoffs", "model", "energy"})


def _on(page: str | None) -> list[str]:
    """The variants a page offers (each shows on its base model's pages, less noise)."""
    return [n for n in names() if page is None or page in entry(n).pages]


PROVIDER = zoo.Provider(_on, entry)
