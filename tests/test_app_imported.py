"""Issue 12, imported models in the app (AppTest through the router): every page shows a
tiny imported Hugging Face speech and image model; Add-a-model imports one from a folder
with a progress bar per phase and then lists it, and refuses server folders when the server
does not allow them; a batch of good and bad files answers the good ones and names the bad
ones; a link with input=SET:INDEX opens that evaluation input on the live page."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from test_app import _decision, _figures, _said, _values

from explorer import batch, eval_inputs, imported, server_paths, zoo
from ui.live_shared import BATCH, LINKED

pytestmark = pytest.mark.slow  # the tiny models are imported (their exits trained) once for the session

LIVE = {"image": "live_image", "speech": "live_speech"}


@pytest.mark.parametrize("kind", ["image", "speech"])
def test_every_page_shows_an_imported_model(open_page, workspace, kind):
    name = workspace[kind]
    assert name in zoo.names(LIVE[kind]) and name not in zoo.names(LIVE["speech" if kind == "image" else "image"])
    at = open_page(LIVE[kind], model=name)
    assert at.selectbox(key="w.model").value == name
    decision = _decision(at)
    assert decision.startswith("### Exit") and " of 4" in decision  # the tiny models have 4 layers
    assert at.dataframe or at.get("plotly_chart")  # per-exit transcripts or confidence, drawn
    for page in ("tradeoffs", "noise", "model", "energy"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        assert at.selectbox(key="w.model").value == name, page  # the choice follows the visitor
        assert not at.error, (page, [e.value for e in at.error])
        if page != "model":
            assert _figures(at), page
    assert "Front end:" in _said(at.switch_page("pages/model.py").run())  # its front end's share of the cost
    if kind == "image":  # one head per exit against FreeML's shared exit, measured
        assert any("shared exit" in s.value for s in at.subheader)


def test_noisy_sets_of_an_imported_model_are_built_on_demand(workspace):
    name = workspace["speech"]
    entry = zoo.get(name)
    assert entry.noise.kinds == ("white", "pink", "babble") and entry.noise.levels[0] == "clean"
    clean, _ = entry.data("test")
    noisy, texts = entry.data("test", **entry.noise.variant("white", 0))
    assert len(noisy) == len(clean) and all(a.shape == b.shape for a, b in zip(clean, noisy, strict=True))
    assert all(float((a - b).abs().mean()) > 0.1 for a, b in zip(clean, noisy, strict=True))  # 0 dB: loud noise
    assert entry.data("test", **entry.noise.variant("white", 0))[0][0] is noisy[0]  # made once per process
    image = zoo.get(workspace["image"])
    assert image.noise.levels == (0, 1, 2, 3, 4, 5)
    x = image.data("test")[0][0]
    assert float((image.noise.apply(x, "occlusion", 5) - x).abs().max()) > 0  # one input, for the live page


def test_model_menus_find_imported_models_without_torch(workspace):
    """Listing reads the manifests only: ten imported models cost no model load."""
    import subprocess
    import sys

    code = ("import sys; from explorer import setup, zoo; setup.install(); n = zoo.names('tradeoffs'); "
            "print(','.join(n)); print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"EXPLORER_WORKSPACE": str(workspace["workspace"]), "PATH": ""}).stdout.splitlines()
    assert {workspace["image"], workspace["image"] + "-shared", workspace["speech"]} <= set(out[0].split(","))
    assert out[1] == "False False"


def test_a_link_opens_an_evaluation_input_on_the_live_page(open_page, workspace):
    for kind in ("image", "speech"):
        name = workspace[kind]
        item = eval_inputs.item(name, "test", 1)
        at = open_page(LIVE[kind], model=name, input="test:1")
        assert at.radio[0].value == LINKED
        assert "test set" in _said(at) and "#1" in _said(at)
        decision = _decision(at)
        assert (f"true: {item.truth}" in decision) if kind == "image" else (f"Reference: “{item.truth}”" in decision)
    noisy = eval_inputs.item(workspace["image"], "blur-3", 0)
    assert noisy.label.startswith("blur") and noisy.truth in imported.found(workspace["image"])[0].labels
    at = open_page("live_image", model=workspace["image"], input="fog-9:1")
    assert "has no evaluation set “fog-9”" in " ".join(e.value for e in at.error)
    at = open_page("live_image", model=workspace["image"], input="test:99999")
    assert "there is no #99999" in " ".join(e.value for e in at.error)


def _png(workspace, cls: str, i: int) -> bytes:
    return (workspace["images"] / cls / f"{i}.png").read_bytes()


def test_a_batch_answers_the_good_files_and_names_the_bad_ones(open_page, workspace):
    name = workspace["image"]
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("one/a.png", _png(workspace, "one", 0))
        f.writestr("two/b.png", _png(workspace, "two", 1))
        f.writestr("__MACOSX/._a.png", b"junk")  # what macOS adds: not an input
    at = open_page("live_image", model=name)
    at.radio[0].set_value(BATCH).run()
    at.file_uploader[0].set_value([("digits.zip", z.getvalue(), "application/zip"),
                                   ("zero_7.png", _png(workspace, "zero", 2), "image/png"),
                                   ("notes.png", b"just some text", "image/png"),
                                   ("broken.zip", b"PK\x03\x04 not a zip", "application/zip")]).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert list(table["file"]) == ["digits.zip/one/a.png", "digits.zip/two/b.png", "zero_7.png"]
    assert list(table["truth"]) == ["one", "two", "zero"]  # from the folders and the file name
    assert table["exit"].between(1, 4).all() and table["confidence"].between(0, 1).all()
    warned = [w.value for w in at.warning]
    assert any(w.startswith("notes.png:") and "not a picture" in w for w in warned)
    assert any(w.startswith("broken.zip:") and "cannot be opened" in w for w in warned)
    assert at.metric[0].value == "3 of 5 files"
    assert at.get("download_button")
    histogram = _figures(at)[-1]
    assert sum(_values(histogram["data"][0]["y"])) == pytest.approx(1.0)


def test_a_speech_batch_takes_its_truth_from_transcripts(workspace):
    name = workspace["speech"]
    clips = sorted(workspace["audio"].rglob("*.flac"))[:2]
    trans = next(workspace["audio"].rglob("*.trans.txt"))
    files = [(c.name, c.read_bytes()) for c in clips] + [(trans.name, trans.read_bytes()), ("x.wav", b"RIFF....")]
    result = batch.run(name, files, "ctc_entropy", 1e9)  # every clip leaves at the first layer
    assert [r.exit for r in result.rows] == [1, 1] and result.exit_counts == (2, 0, 0, 0)
    truths = dict(line.split(" ", 1) for line in trans.read_text().splitlines())
    assert [r.truth for r in result.rows] == [truths[c.stem] for c in clips]
    assert [f for f, _ in result.bad] == ["x.wav"]
    assert result.speedup is not None and result.speedup.ideal > 1  # the first of four layers only
    assert "x.wav" in result.csv()


def test_add_model_refuses_server_folders_unless_allowed(open_page, monkeypatch):
    monkeypatch.delenv(server_paths.ENV, raising=False)
    at = open_page("add_model")
    assert at.button[0].disabled
    assert "does not read folders" in _said(at)
    assert "-m explorer import" in at.code[0].value
    assert server_paths.allowed("0.0.0.0", {})[0] is False and server_paths.allowed("", {})[0] is False
    assert server_paths.allowed("127.0.0.1", {})[0] and server_paths.allowed("", {server_paths.ENV: "1"})[0]


def test_add_model_imports_from_a_folder_with_progress_then_lists_it(open_page, workspace, monkeypatch, tmp_path):
    monkeypatch.setenv(server_paths.ENV, "1")
    monkeypatch.setenv("EXPLORER_WORKSPACE", str(tmp_path / "ws"))
    at = open_page("add_model")
    at.text_input[0].set_value("examples/custom_model.py:build")
    at.text_input[1].set_value(str(workspace["images"]))
    at.text_input[2].set_value("added-vit")
    at.button[0].click().run()
    assert "only from the command line" in " ".join(e.value for e in at.error)  # never code from a form
    at.text_input[0].set_value(str(workspace["vit"]))
    start = time.perf_counter()
    at.button[0].click().run()
    print(f"import through the page: {time.perf_counter() - start:.1f} s")
    assert not at.exception and not at.error, [e.value for e in at.error]
    bars = at.get("progress")
    assert len(bars) == 4 and all(b.proto.value == 100 for b in bars)  # every phase done
    assert "added-vit is ready" in at.code[0].value  # the log
    assert any("added-vit is imported" in s.value for s in at.success)
    assert "added-vit" in imported.names("live_image")
    at = open_page("tradeoffs", model="added-vit")
    assert at.selectbox(key="w.model").value == "added-vit" and "not a model here" not in _said(at)


def test_report_json_and_the_overview_show_an_imported_model_s_threshold_on_each_noisy_set(
        open_page, workspace, capsys):
    """Issue 26: `report --model NAME --json` of an imported model carries the recommended
    threshold's figures on the clean test set and on each of its noisy sets at the shift level,
    as the built-ins' reports do; the Overview shows them, with the worst named."""
    import json

    from explorer.__main__ import main
    from explorer.shipped import headline

    for kind in ("image", "speech"):
        name = workspace[kind]
        entry = zoo.get(name)
        noisy = {tuple(entry.noise.variant(k, entry.noise.shift_level).items()) for k in entry.noise.kinds}
        labels = [e.label for e in zoo.eval_sets(name) if e.variant in noisy]
        assert len(labels) == len(entry.noise.kinds)
        assert main(["report", "--model", name, "--json"]) == 0
        rec = json.loads(capsys.readouterr().out)["recommended"]
        for r in [rec] if "criterion" in rec else rec.values():
            sets = r["shift"]["sets"]
            assert [s["label"] for s in sets[1:]] == labels  # every noisy set at the shift level, nothing else
            assert r["shift"]["threshold"] == r["threshold"]
            for s in sets:
                assert 1 <= s["mean_exit_number"] <= 4 and s["mac_speedup"] > 0 and s["inputs"] > 0
    at = open_page()
    assert any(h.value == "Imported models" for h in at.subheader)
    said = _said(at)
    for kind in ("image", "speech"):
        fig = headline(workspace[kind])
        assert fig.shift.worst.label in said and fig.shift.worst_sentence() in said
    shown = [t.value for t in at.table]
    assert len(shown) == len(zoo.names("overview")) + 2  # a shift table for each built-in and each import
