"""Where things live: shipped assets in the repository, everything derived in a cache."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
CACHE = Path(os.environ.get("EXPLORER_CACHE", Path.home() / ".cache" / "early-exit-explorer"))
VARIANTS = CACHE / "variants"  # compressed models made here: <name>.safetensors + <name>.json each
