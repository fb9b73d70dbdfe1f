"""Issue 24: a model exported to ONNX Runtime with its exits kept answers like the PyTorch one,
exits for real, runs without this project, and says which op and stage when it cannot be
exported."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import needs_image

from explorer import deployed, export, zoo
from explorer.engine import read_all_exits, run_stream, run_with_exits
from explorer.models.toy import ToyMLP
from explorer.onnx_runtime import OnnxModel

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "assets" / "examples"


def _same_at_every_exit(model, exported: OnnxModel, inputs) -> None:
    """Per-exit task logits within 1e-4 of PyTorch's, and the same answer and scores at every exit.
    Padded frames carry no answer (a front end run one input at a time pads after it, where
    PyTorch's batch pads before its positional convolution): only real frames are compared."""
    x, lengths = model.collate(inputs)
    ours, theirs = [], []
    cols, answers = read_all_exits(model, x, lengths, ours)
    cols_onnx, answers_onnx = read_all_exits(exported, x, lengths, theirs)
    with torch.inference_mode():
        mask = model.embed(x, lengths).mask
    for k, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert a.shape == b.shape
        real = mask[..., None] if mask is not None and a.dim() == 3 else 1
        gap = float(((a - b).abs() * real).max())
        assert gap < 1e-4, f"exit {k + 1}: logits differ by {gap}"
    for k, (a, b) in enumerate(zip(answers, answers_onnx, strict=True)):
        assert [str(p) for p in a] == [str(p) for p in b], f"exit {k + 1} answers differently"
    for c in cols:
        np.testing.assert_allclose(cols_onnx[c], cols[c], atol=1e-4)


def _exported(model, tmp_path, name="m", criterion="entropy") -> OnnxModel:
    done = export.export(model, tmp_path / name, name, criterion, 0.5)
    return OnnxModel(done.folder, like=model)


@pytest.fixture(scope="module")
def toy_export(toy_model, tmp_path_factory):
    """The toy exported once (criterion patience, threshold 2) and its OnnxModel."""
    done = export.export(toy_model, tmp_path_factory.mktemp("export") / "toy", "toy", "patience", 2)
    return done, OnnxModel(done.folder, like=toy_model)


def test_a_toy_model_exported_answers_as_in_pytorch_and_exits_at_the_same_exits(toy_model, toy_export):
    from explorer import criteria
    from explorer.models.toy import toy_data

    onnx = toy_export[1]
    x, _, _ = toy_data(64, toy_model.config, seed=3)
    inputs = list(x)
    _same_at_every_exit(toy_model, onnx, inputs)
    crit = criteria.get("entropy")
    for schedule in (lambda m: run_with_exits(m, x, crit, 0.3),
                     lambda m: run_stream(m, inputs, crit, 0.3, batch=16)):
        ours, theirs = schedule(toy_model), schedule(onnx)
        assert 0 < ours.exit.mean() < toy_model.num_exits - 1  # some exit early, some go deep
        np.testing.assert_array_equal(theirs.exit, ours.exit)
        assert theirs.pred == ours.pred


def test_a_profile_on_onnx_runtime_has_the_same_predictions_at_every_exit(toy_model, toy_export):
    from conftest import quick_profile

    from explorer.models.toy import toy_data

    onnx = toy_export[1]
    x, y, _ = toy_data(256, toy_model.config, seed=4)
    batches = [(x[i:i + 64], None, y[i:i + 64].tolist()) for i in range(0, 256, 64)]
    ours, theirs = quick_profile(toy_model, batches, "toy"), quick_profile(onnx, batches, "toy@onnx")
    np.testing.assert_array_equal(theirs.cols["pred"], ours.cols["pred"])
    np.testing.assert_array_equal(theirs.cols["errors"], ours.cols["errors"])
    assert (theirs.macs.stage == ours.macs.stage).all() and theirs.macs.front == ours.macs.front
    assert theirs.meta.fingerprint != ours.meta.fingerprint  # its own profiles, never the PyTorch model's


def test_exits_json_says_everything_another_program_needs(toy_model, toy_export):
    folder = toy_export[0].folder
    spec = json.loads((folder / "exits.json").read_text())
    assert spec["criterion"] == "patience" and spec["threshold"] == 2
    assert spec["decision"] == {"heads": ["exit"], "score": "streak", "rule": "ge"}
    assert len(spec["stages"]) == toy_model.num_exits == len(spec["head_files"]["exit"])
    assert spec["classes"] == [str(i) for i in range(toy_model.config.num_classes)]
    assert spec["fingerprint"] and spec["input"]["shape"] == [toy_model.config.in_dim]
    assert all((folder / f).exists() for f in [spec["front"], *spec["stages"]])


class _NoOnnx(ToyMLP):
    """A toy whose second stage uses an op the ONNX exporter lacks."""

    def stage(self, k, state):
        state = super().stage(k, state)
        if k == 1:
            state.h = state.h + torch.special.zeta(state.h.abs() + 2, torch.tensor(2.0)).detach()
        return state


def test_a_model_that_cannot_be_exported_gets_a_sentence_naming_the_op_and_the_stage(toy_model, tmp_path):
    model = _NoOnnx(toy_model.config)
    with pytest.raises(ValueError) as err:
        export.export(model, tmp_path / "bad", "bad", "entropy", 0.5)
    text = str(err.value)
    assert text.startswith("stage 2 (") and "zeta" in text and "Traceback" not in text
    assert not (tmp_path / "bad").exists()  # nothing half-written is left behind


def test_the_export_command_refuses_bad_input_in_a_sentence(capsys, tmp_path):
    from explorer.__main__ import main

    assert main(["export", "no-such-model", "--out", str(tmp_path / "x")]) == 2
    assert main(["export", "toy", "--criterion", "oracle_correct", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'no-such-model'" in err and "oracle_correct is a bound" in err


def test_onnx_views_are_registry_entries_named_by_runtime():
    assert deployed.view("image", "onnx") == "image@onnx"
    assert deployed.split("image@onnx-int8") == ("image", "onnx-int8")
    entry = zoo.get("image@onnx")
    assert entry.data is zoo.get("image").data and "ONNX Runtime" in entry.title
    assert "image@onnx" not in zoo.names()  # reached through a runtime choice, not listed twice
    with pytest.raises(ValueError, match="unknown runtime"):
        deployed.view("image", "tensorrt")


# ---- the built-in and tiny Hugging Face models (slow: each exports a dozen graphs) ----------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["image", "image-shared", "speech"])
def test_built_in_models_exported_answer_within_1e_4_at_every_exit(name, tmp_path):
    entry, model = zoo.get(name), zoo.model(name)
    inputs, _ = entry.data(entry.test_split)
    _same_at_every_exit(model, _exported(model, tmp_path, name), inputs[:16])


@pytest.mark.slow
def test_tiny_hugging_face_models_exported_answer_within_1e_4(tmp_path):
    from hf_tiny import tiny_image, tiny_speech, waves

    from explorer import hf

    vit = hf.load(str(tiny_image("vit", tmp_path / "vit")))
    pictures = [torch.rand(3, vit.input_size, vit.input_size, generator=torch.Generator().manual_seed(i))
                for i in range(4)]
    _same_at_every_exit(vit, _exported(vit, tmp_path, "vit"), pictures)
    for kind in ("wav2vec2", "wav2vec2-stable"):  # group-norm front end (one input at a time) and layer-norm
        w2v = hf.load(str(tiny_speech(kind, tmp_path / kind)))
        _same_at_every_exit(w2v, _exported(w2v, tmp_path, kind, "ctc_entropy"),
                            [torch.from_numpy(w) for w in waves(4)])


@pytest.mark.slow
def test_bench_on_onnx_runtime_exits_as_its_profile_says(capsys):
    from explorer.__main__ import main

    assert main(["bench", "--model", "toy", "--runtime", "onnx", "--batch", "16", "--limit", "256",
                 "--repeats", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["model"] == "toy@onnx" and out["profile_agreement"] == 1.0
    assert out["realized_over_ideal"] > 0 and out["ideal_speedup"] > 1


@pytest.mark.slow
def test_the_example_answers_from_an_export_folder_alone_as_predict_does(tmp_path):
    """examples/run_exported.py, run with numpy + onnxruntime only, gives `predict`'s exit and answer."""
    from explorer.image_input import mnist_to_png
    from explorer.predict import predict_file
    from explorer.thresholds import default_criterion, recommended

    digit = tmp_path / "digit.png"  # a prepared 28x28 digit, as the live page shows it
    digit.write_bytes(mnist_to_png(zoo.get("image").decode((EXAMPLES / "digit-0-label7.png").read_bytes()).x[0]
                                   .numpy()))
    cases = [(name, file, default_criterion(name), recommended(name, default_criterion(name)))
             for name, file in (("image", digit), ("speech", EXAMPLES / "speech-test_b-1.flac"))]
    cases.append(("image", digit, "static", 2.0))  # static's threshold is the exit's number, 1-based
    for name, file, crit, threshold in cases:
        folder = export.export(zoo.model(name), tmp_path / name, name, crit, threshold).folder
        run = subprocess.run([sys.executable, "-X", "importtime", str(ROOT / "examples" / "run_exported.py"),
                              str(folder), str(file), "--json"], capture_output=True, text=True, timeout=120,
                             cwd=tmp_path)
        assert run.returncode == 0, run.stderr[-2000:]
        modules = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}
        assert "onnxruntime" in modules and not {m for m in modules if m.split(".")[0] in ("torch", "explorer")}
        theirs = json.loads(run.stdout)
        ours = predict_file(name, str(file), crit, threshold)
        assert (theirs["exit"], theirs["prediction"]) == (ours["exit"], ours["prediction"])
        if crit == "static":
            assert ours["exit"] == 2


# ---- the app: a runtime choice beside the threshold -------------------------------------------------
def _runtime(at):
    return next(s for s in at.selectbox if s.label == "Runtime")


@needs_image
def test_the_live_and_model_pages_offer_the_runtime_beside_the_threshold(open_page):
    for page in ("live_image", "model"):
        at = open_page(page, model="image")
        assert not at.exception
        assert _runtime(at).value == "torch" and list(_runtime(at).options) == ["PyTorch", "ONNX Runtime"]


@pytest.mark.slow
@needs_image
def test_the_live_page_on_onnx_runtime_answers_at_the_same_exit(open_page):
    at = open_page("live_image", model="image", criterion="confidence", threshold="0.99")
    on_torch = next(m.value for m in at.markdown if m.value.startswith("### Exit"))
    _runtime(at).set_value("onnx").run()
    assert not at.exception and at.query_params["runtime"] == "onnx"
    on_onnx = next(m.value for m in at.markdown if m.value.startswith("### Exit"))
    assert on_onnx.split(",")[0] == on_torch.split(",")[0]  # the exit and the answer (timings differ)


@pytest.mark.slow
@needs_image
def test_a_pytorch_int8_variant_is_refused_in_a_sentence_that_says_what_to_do(tmp_path):
    from explorer import compress

    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    variant = compress.quantize_int8(zoo.model("image"), [(x, None)])
    with pytest.raises(ValueError, match="answers differently from PyTorch.*export the float model with --int8"):
        export.export(variant, tmp_path / "int8", "image-int8", "entropy", 0.5)


@pytest.mark.slow
def test_imported_models_export_with_their_trained_exits_shared_head_and_daisy_heads(workspace, tmp_path, capsys):
    """The tiny imported ViT (trained exits; its FreeML shared view) and Wav2Vec2 (trained CTC exits,
    DAISY heads): exported through the registry as the command line does, answering as in PyTorch."""
    from explorer.__main__ import main

    for name, criterion in ((workspace["image"], "entropy"), (workspace["image"] + "-shared", "entropy"),
                            (workspace["speech"], "daisy")):
        out = tmp_path / name
        assert main(["export", name, "--criterion", criterion, "--threshold", "0.5", "--out", str(out),
                     "--json"]) == 0, capsys.readouterr()
        model = zoo.model(name)
        entry = zoo.get(name)
        inputs, _ = entry.data(entry.test_split)
        _same_at_every_exit(model, OnnxModel(out, like=model), inputs[:4])
