"""`--model path/to/file.py:build`: your own PyTorch model on every command."""

from __future__ import annotations

import json

import pytest

from explorer import zoo
from explorer.__main__ import main
from explorer.paths import ROOT

EXAMPLE = f"{ROOT / 'examples' / 'custom_model.py'}:build"


@pytest.fixture(scope="module", autouse=True)
def quick_example(tmp_path_factory):
    """The example's data, cut to 150 digits a split (its own `limit`), in a private cache."""
    mp = pytest.MonkeyPatch()
    import explorer.user_model as um

    mod = um._module(EXAMPLE.rpartition(":")[0])
    full = mod.data
    mp.setattr(mod, "data", lambda split, limit=0: full(split, limit or 150))
    mp.setattr(zoo, "_PROFILES", {})
    mp.setattr("explorer.user_model.CACHE", tmp_path_factory.mktemp("cache"))  # profiles of 150 digits stay here
    yield
    mp.undo()


def test_example_model_on_every_command(capsys, tmp_path):
    assert main(["profile", "--model", EXAMPLE, "--split", "calib"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["samples"] == 150 and out["exits"] == 3
    assert main(["sweep", "--model", EXAMPLE, "--criterion", "confidence", "--out", str(tmp_path / "s.csv")]) == 0
    assert main(["bench", "--model", EXAMPLE, "--criterion", "confidence", "--threshold", "0.9", "--repeats", "1",
                 "--json"]) == 0
    bench = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert bench["profile_agreement"] == 1.0 and bench["accuracy_full"] > 0.8


@pytest.mark.parametrize(("text", "words"), [
    ("def build(:\n", "failed to load: SyntaxError"),
    ("def build():\n    return 3\n", "not a MultiExitModel"),
    ("x = 1\n", "defines no function build"),
])
def test_bad_model_files_get_a_sentence(tmp_path, capsys, text, words):
    f = tmp_path / "mine.py"
    f.write_text(text)
    assert main(["profile", "--model", f"{f}:build"]) == 2
    assert words in capsys.readouterr().err
