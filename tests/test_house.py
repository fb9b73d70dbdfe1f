"""The house's frame: the registry at the bottom with what adds models above it, no import
cycle, every model a page can choose listed by `models`, and one `forget` every cache hears."""

import ast
import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import needs_image

from explorer import memo, paths, thresholds, zoo
from explorer.__main__ import main

ROOT = Path(__file__).resolve().parent.parent


# ---- imports -----------------------------------------------------------------------------------
def test_the_import_contracts_hold():
    """pyproject.toml's contracts: registry below the providers, providers independent, no cycle."""
    run = subprocess.run([str(Path(sys.executable).parent / "lint-imports")], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def _module_graph(package: Path) -> dict[str, set[str]]:
    """module -> the package's modules it imports anywhere in its file, inside functions too."""
    files = {".".join(p.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__"): p
             for p in package.rglob("*.py")}

    def module_of(name: str) -> str | None:  # a name's longest prefix that is a module of the package
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in files}
    for m, path in files.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                here = m.split(".") if path.name == "__init__.py" else m.split(".")[:-1]
                base = ".".join(here[:len(here) - node.level + 1] + [node.module or ""]).strip(".") \
                    if node.level else node.module
                targets = [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            graph[m] |= {t for t in map(module_of, targets) if t and t != m}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle ([a, b, ..., a]), or [] when there is none."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(m: str) -> list[str]:
        state[m] = "open"
        path.append(m)
        for n in sorted(graph[m]):
            if state.get(n) == "open":
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = "done"
        path.pop()
        return []

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_explorer_has_no_import_cycle_counting_imports_inside_functions():
    graph = _module_graph(ROOT / "explorer")
    assert "explorer.workspace" in graph["explorer.setup"]  # imported inside a function: counted
    assert _cycle(graph) == []


def test_the_registry_imports_nothing_that_adds_models_to_it():
    graph = _module_graph(ROOT / "explorer")
    below, todo = set(), ["explorer.zoo"]
    while todo:  # everything the registry reaches
        for n in graph[todo.pop()] - below:
            below.add(n)
            todo.append(n)
    adders = {"explorer.setup", "explorer.built_ins", "explorer.variants", "explorer.imported",
              "explorer.user_model", "explorer.workspace", "explorer.compress"}
    assert below & adders == set()


# ---- models ------------------------------------------------------------------------------------
def _models(capsys) -> dict[str, str]:
    assert main(["models", "--json"]) == 0
    return {r["name"]: r["kind"] for r in json.loads(capsys.readouterr().out)}


@needs_image
def test_models_lists_a_compressed_variant_once_it_is_made(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "VARIANTS", tmp_path)
    before = _models(capsys)
    assert before["image"] == before["speech"] == "built-in" and "image-int8" not in before
    assert main(["compress", "image", "--method", "int8"]) == 0
    assert json.loads(capsys.readouterr().out) == {"variant": "image-int8"}
    after = _models(capsys)
    assert after == {**before, "image-int8": "compressed"}
    assert "image-int8" in zoo.names("tradeoffs")  # what the page menus offer, `models` lists


# ---- forget ------------------------------------------------------------------------------------
@pytest.fixture
def changing(toy_model, tmp_path, monkeypatch):
    """A registered model that is another one at every load (its exit heads ever sharper, as if
    retrained): a cache that does not hear `forget` keeps showing the old one. Yields its loads."""
    from explorer import profile
    from explorer.costs import measure_ms
    from explorer.models.toy import toy_data

    monkeypatch.setattr(profile, "measure_ms", lambda m: measure_ms(m, min_run_time=0.001))
    loads = []

    def load():
        loads.append(copy.deepcopy(toy_model))
        with torch.no_grad():
            for head in loads[-1].exits:
                head[1].weight *= 4 ** len(loads)
        return loads[-1]

    def data(split):
        x, y, _ = toy_data(256, toy_model.config, seed={"val": 1, "test": 2}[split])
        return list(x), y.tolist()

    zoo.register(zoo.BuiltIn("changing", "A toy retrained at every load", load, data, profile_dir=tmp_path))
    yield loads
    del zoo.BUILT_INS["changing"]
    zoo.forget("changing")


def test_forget_reaches_the_model_its_profiles_and_every_cache_keyed_by_it(changing):
    calls = []

    @memo.memoized()
    def answered(name: str) -> int:  # a page's result kept under a model's name
        calls.append(name)
        return len(calls)

    def everything():
        return (zoo.model("changing"), zoo.profile("changing", "test"), answered("changing"),
                thresholds.recommended("changing", "entropy"))

    model, prof, n, threshold = everything()
    assert everything() == (model, prof, n, threshold) and len(changing) == 1 and len(calls) == 1  # kept
    zoo.forget("another model")  # another model's change: this one's model and profiles stay
    assert zoo.model("changing") is model and zoo.loaded("changing", "test")
    zoo.forget("changing")
    assert not zoo.loaded("changing", "test")
    new_model, new_prof, new_n, new_threshold = everything()
    assert len(changing) == 2 and new_model is changing[1] and new_n == n + 1  # each asked afresh
    assert new_prof.meta.fingerprint != prof.meta.fingerprint  # the new model's profile
    assert new_threshold != threshold  # chosen on the new model's calibration profile
