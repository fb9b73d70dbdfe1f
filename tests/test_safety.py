"""Safety: nothing is unpickled that could carry code, uploads stay in memory (never a path,
never a file in the project), and the upload limits are set and stated."""

from __future__ import annotations

import ast
import gzip
import io
import json
import os
import pickle
import secrets
import time
import tomllib
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from input_corpus import GOOD_IMAGE, ROOT, speech
from test_mnist_data import _Payload  # unpickling it runs a shell command

from explorer import built_ins, checkpoint
from explorer.__main__ import main
from explorer.data import mnist
from explorer.errors import InputError
from explorer.predict import MAX_FILE_BYTES
from explorer.profile import Profile

UI = [*sorted((ROOT / "pages").glob("*.py")), *sorted((ROOT / "ui").rglob("*.py"))]  # the pages and their helpers
CODE = [ROOT / "app.py", *UI, *sorted((ROOT / "explorer").rglob("*.py"))]
SKIP_DIRS = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis", "node_modules"}


# --- nothing that can carry code is ever unpickled -------------------------------------------


def test_a_malicious_mnist_file_is_refused_on_the_real_loading_path(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump((_Payload(marker), None, None), f, protocol=2)
    with pytest.raises(InputError, match="could not be decoded"):
        mnist._read_splits(path)
    assert not marker.exists()


def test_profiles_refuse_object_arrays(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "profile.npz"
    payload = np.empty(1, dtype=object)
    payload[0] = _Payload(marker)
    np.savez(path, meta=np.array("{}"), ref_len=np.ones(1), **{"col/pred": payload})
    with pytest.raises(ValueError, match="allow_pickle"):
        Profile.load(path)
    assert not marker.exists()


def test_checkpoints_refuse_a_pickled_torch_file(tmp_path):
    import torch

    from explorer.models.toy import ToyConfig, ToyMLP

    marker, path = tmp_path / "pwned", tmp_path / "model"
    path.with_suffix(".json").write_text(json.dumps({"config": asdict(ToyConfig())}))
    torch.save({"weight": _Payload(marker)}, path.with_suffix(".safetensors"))  # a pickle in disguise
    from safetensors import SafetensorError

    with pytest.raises(SafetensorError, match="header"):  # read as safetensors, never unpickled
        checkpoint.load(ToyMLP, ToyConfig, path)
    assert not marker.exists()


_UNSAFE_LOADERS = {("pickle", "load"), ("pickle", "loads"), ("torch", "load"), ("dill", "load"), ("dill", "loads"),
                   ("joblib", "load"), ("marshal", "load"), ("marshal", "loads"), ("shelve", "open"),
                   ("pd", "read_pickle"), ("pandas", "read_pickle"), ("cloudpickle", "load"), ("cloudpickle", "loads")}


def _calls(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if isinstance(node.func.value, ast.Name):
                yield node, node.func.value.id, node.func.attr


@pytest.mark.parametrize("path", CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_code_never_unpickles_or_evaluates(path):
    tree = ast.parse(path.read_text(), str(path))
    for node, owner, attr in _calls(tree):
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        assert (owner, attr) not in _UNSAFE_LOADERS, f"{where}: {owner}.{attr} can run code from a file"
        if (owner, attr) in (("np", "load"), ("numpy", "load")):
            pickles = [k for k in node.keywords if k.arg == "allow_pickle"
                       and not (isinstance(k.value, ast.Constant) and k.value.value is False)]
            assert not pickles, f"{where}: np.load must keep allow_pickle=False"
        if attr in ("cache_data", "cache_resource"):
            assert not any(k.arg == "persist" for k in node.keywords), f"{where}: caches stay in memory"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id not in ("eval", "exec", "__import__"), f"{path.name}:{node.lineno}: {node.func.id}"
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "Unpickler":
            pytest.fail(f"{path.name}:{node.lineno}: use explorer.data.mnist.RestrictedUnpickler")


def test_the_only_unpickler_is_the_restricted_one():
    users = [p for p in CODE if "Unpickler" in p.read_text() or "import pickle" in p.read_text()]
    assert users == [ROOT / "explorer" / "data" / "mnist.py"]
    tree = ast.parse(users[0].read_text())
    classes = [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef) and n.name == "RestrictedUnpickler"]
    assert classes and any(f.name == "find_class" for f in classes[0].body if isinstance(f, ast.FunctionDef))


# --- uploads stay in memory ------------------------------------------------------------------


@pytest.mark.parametrize("page", UI, ids=lambda p: str(p.relative_to(ROOT)))
def test_pages_never_use_an_upload_as_a_path(page):
    """An uploaded file's name is never read: no `.name` of an uploader's value, no open() of it."""
    tree = ast.parse(page.read_text())
    widgets = ("file_uploader", "camera_input", "audio_input")
    uploads = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and isinstance(n.value, ast.Call)
               and isinstance(n.value.func, ast.Attribute) and n.value.func.attr in widgets
               for t in n.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in uploads:
            assert node.attr == "getvalue", f"{page.name}:{node.lineno}: {node.value.id}.{node.attr}"


def _files_touched_since(start: float) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        for name in files:
            path = Path(folder) / name
            try:
                if path.stat().st_mtime >= start:
                    found.append(path)
            except OSError:  # removed meanwhile by someone else
                pass
    return found


def _token_wav(token: bytes) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, speech()[0], 16_000, format="WAV", subtype="PCM_16")
    return buf.getvalue() + token  # trailing bytes after the data chunk: still a valid WAV


def test_uploads_are_never_written_into_the_project_or_used_as_paths(open_page, tmp_path):
    """Uploads carry a unique token in their bytes and names (with ../ in them); afterwards no file
    in the project (or next to it) has the token in its name or contents."""
    token = secrets.token_hex(8)
    png, wav = GOOD_IMAGE() + token.encode(), _token_wav(token.encode())  # bytes after IEND / data: still valid
    names = [f"../../{token}.png", f"{token}.png", f"/tmp/{token}.png", f"..\\..\\{token}.png"]
    start = time.time() - 1
    at = open_page("live_image")
    at.radio[0].set_value("Upload").run()
    for name in names:
        at.file_uploader[0].upload(name, png, "image/png").run()
        assert not at.exception and not at.error
    at.switch_page("pages/live_speech.py").run()
    at.radio[0].set_value("Upload").run()
    at.file_uploader[0].upload(f"../{token}.wav", wav, "audio/wav").run()
    assert not at.exception and not at.error
    (tmp_path / f"{token}.png").write_bytes(png)
    if checkpoint.exists(built_ins.IMAGE_CHECKPOINT):
        assert main(["predict", "--model", "image", str(tmp_path / f"{token}.png"), "--json"]) == 0

    for place in (ROOT, ROOT.parent, Path("/tmp")):
        assert not [p for p in place.iterdir() if token in p.name], place
    for path in _files_touched_since(start):
        assert token not in str(path)
        if path.stat().st_size < 50 * 2**20:
            assert token.encode() not in path.read_bytes(), path


# --- limits ----------------------------------------------------------------------------------


def test_server_limit_and_security_settings():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    server = config["server"]
    assert server["maxUploadSize"] * 2**20 == MAX_FILE_BYTES  # the command line's limit is the server's
    assert server.get("enableXsrfProtection", True) and server.get("enableCORS", True)


@pytest.mark.parametrize("page", ["live_image", "live_speech"])
def test_each_uploader_has_its_own_stated_limit(open_page, page):
    at = open_page(page)
    at.radio[0].set_value("Upload").run()
    uploader = at.file_uploader[0]
    limit = uploader.proto.max_upload_size_mb
    server = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert 0 < limit < server
    assert f"{limit} MB" in uploader.proto.label  # the person is told before choosing a file
    uploader.upload("big.bin.png" if "image" in page else "big.wav", bytes(limit * 2**20 + 1),
                    "image/png" if "image" in page else "audio/wav").run()  # a client that ignores the limit
    assert not at.exception and any(f"over {limit} MB" in e.value for e in at.error)
