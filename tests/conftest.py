"""Shared test settings, the app's pages under AppTest, and the app server and browser the
browser tests share.

Markers (pyproject.toml): `browser` drives chromium, `slow` trains, profiles a whole set, runs Ray
or takes seconds; `make check` runs the rest. Beside the tests, the helpers they import:
appserver (the app on a port, chromium's flags), hf_tiny (tiny Hugging Face checkpoints),
input_corpus (good and bad uploads), threshold_probe (reading the threshold explorer in chromium).
Benchmarks live in benchmarks/, demos and trainers in scripts/."""

import os
import sys
from pathlib import Path

import pytest

# Sleep rather than spin while waiting for other threads: when tests share the two
# cores with a server or a training run, spinning threads slow everyone down badly.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

# Tests use tiny models: one thread is as fast, and leaves the other core free.
torch.set_num_threads(1)

from explorer import setup  # noqa: E402

setup.install()  # every model in the registry, as the command line and the app have them


@pytest.fixture(scope="session", autouse=True)
def no_variants_made_on_this_machine(tmp_path_factory):
    """Compressed variants someone made in the cache would join every model menu: tests
    see only the ones they make."""
    from explorer import paths

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(paths, "VARIANTS", tmp_path_factory.mktemp("variants"))
        yield


def pytest_collection_modifyitems(config, items):
    """Tests marked `browser` drive Debian's chromium: skipped where it is missing (`make test`
    installs it), except on CI, where they must run."""
    from appserver import CHROMIUM

    if Path(CHROMIUM).exists() or os.environ.get("CI"):
        return
    for item in items:
        if item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason="chromium missing (make test installs it)"))


APP = Path(__file__).resolve().parent.parent / "app.py"


@pytest.fixture(autouse=True)
def _main_module_kept():
    """AppTest leaves the page it ran as `sys.modules["__main__"]`; a process pool started later
    (`spawn`, as `synth speech` uses) would run that page in every worker, which dies and is
    replaced forever. Put the real one back after each test."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


@pytest.fixture
def open_page():
    """Opens a page as a visitor's link does, under Streamlit's AppTest: the router (app.py) with
    the link's query parameters, then the page; fails on any exception. open_page() stays on the
    first page; open_page("tradeoffs", model="image") opens pages/tradeoffs.py with ?model=image."""
    from streamlit.testing.v1 import AppTest

    def open_(page: str | None = None, **link) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=300)  # a ceiling for a busy 2-core machine
        at.query_params.update(link)
        at.run()
        if page:
            at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
        return at

    return open_


def served():
    """`python app.py` on 127.0.0.1 until the generator is closed; yields its URL."""
    from appserver import start, stop

    try:
        proc, url, _ = start()
    except RuntimeError as err:
        pytest.fail(str(err))
    yield url
    stop(proc)


@pytest.fixture(scope="session")
def server():
    """The app on 127.0.0.1 for the whole session; yields its URL."""
    yield from served()


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium driven by Playwright (never `playwright install`)."""
    from appserver import ARGS, CHROMIUM
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(server, browser):
    """One chromium tab (1280×1000) for a test module, on the shared server."""
    pg = browser.new_page(viewport={"width": 1280, "height": 1000})
    yield pg
    pg.close()


def _shipped(name: str) -> bool:
    from explorer import built_ins, checkpoint

    return checkpoint.exists(getattr(built_ins, f"{name.upper()}_CHECKPOINT"))


# Markers for tests that need a shipped checkpoint (assets/models): one definition here.
needs_image = pytest.mark.skipif(not _shipped("image"), reason="no shipped image checkpoint")
needs_speech = pytest.mark.skipif(not _shipped("speech"), reason="no shipped speech checkpoint")


# ---- small models and profiles, built once per session and shared ---------------------------
@pytest.fixture(scope="session")
def toy_model():
    """A small toy classifier (6 stages), trained once for every test file that needs one."""
    from explorer.models.toy import ToyConfig, train_toy

    return train_toy(ToyConfig(width=32, hidden=32, num_stages=6), steps=100, batch=128)


def quick_profile(model, batches, name: str):
    """build_profile with per-part ms timed briefly (tests read MACs and decisions, not ms)."""
    from explorer import profile
    from explorer.costs import measure_ms

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(profile, "measure_ms", lambda m: measure_ms(m, min_run_time=0.001))
        return profile.build_profile(model, batches, name, "test")


# ---- imported models (issue 12) ---------------------------------------------------------------
@pytest.fixture(scope="session", autouse=True)
def no_models_imported_on_this_machine(tmp_path_factory):
    """Models imported into this machine's workspace would join every model menu: tests see
    only the ones they import."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_WORKSPACE", str(tmp_path_factory.mktemp("workspace")))
        yield


@pytest.fixture(scope="session")
def imported_tiny(tmp_path_factory):
    """A tiny Hugging Face ViT (trained exits and a FreeML shared exit) and a tiny Wav2Vec2ForCTC
    (trained CTC exits and DAISY heads), saved as real checkpoints and imported once into their
    own workspace. Tests that show them point EXPLORER_WORKSPACE at `workspace`."""
    from hf_tiny import image_folder, librispeech_folder, tiny_image, tiny_speech

    from explorer.workspace import ImportOptions, import_model

    root = tmp_path_factory.mktemp("imported")
    out = {"workspace": root / "ws", "image": "tiny-app-vit", "speech": "tiny-app-w2v",
           "vit": tiny_image("vit", root / "vit"), "w2v": tiny_speech("wav2vec2-stable", root / "w2v"),
           "images": image_folder(root / "images"), "audio": librispeech_folder(root / "audio", n=16)}
    with pytest.MonkeyPatch.context() as mp:  # the import reads its own entry back through the registry
        mp.setenv("EXPLORER_WORKSPACE", str(out["workspace"]))
        import_model(str(out["vit"]), out["images"], out["image"],
                     ImportOptions(exits="trained", shared_exit=True, epochs=3), say=lambda line: None)
        import_model(str(out["w2v"]), out["audio"], out["speech"],
                     ImportOptions(exits="trained", daisy=True, epochs=3), say=lambda line: None)
    return out


@pytest.fixture
def workspace(imported_tiny, monkeypatch):
    """The tiny imported models' workspace, for one test (every menu lists them)."""
    monkeypatch.setenv("EXPLORER_WORKSPACE", str(imported_tiny["workspace"]))
    return imported_tiny
