"""The built-in image model: its shape, its training code and the shipped checkpoint."""

import io
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from input_corpus import GOOD_IMAGE
from PIL import Image, ImageDraw

from explorer import built_ins, checkpoint, criteria, zoo
from explorer.costs import count_macs
from explorer.engine import run_stream, run_with_exits
from explorer.models.image import ImageConfig, MnistResNet
from explorer.train.image import STRATEGIES, TrainConfig, all_exit_logits, train

SHIPPED = checkpoint.exists(built_ins.IMAGE_CHECKPOINT)


def test_six_exits_ordered_by_cost_last_at_least_4x_first():
    macs = count_macs(MnistResNet(ImageConfig()))
    path = macs.path(["exit"], "exit")
    assert len(path) >= 6
    assert np.all(np.diff(path) > 0)
    assert path[-1] >= 4 * path[0]


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_trains_and_learns(strategy, tmp_path):
    model, summary = train(TrainConfig(strategy=strategy, epochs=2, head_epochs=1, limit=1024, batch=64),
                           out=tmp_path / "m", log=lambda _: None)
    acc = summary["val_accuracy"]
    assert len(acc["exit"]) == model.num_exits and len(acc["shared"]) == model.num_exits
    assert max(acc["exit"]) > 0.5  # far above chance (0.1) after 1024 images
    again = checkpoint.load(MnistResNet, ImageConfig, tmp_path / "m")
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(all_exit_logits(model.eval(), x)[0][-1], all_exit_logits(again, x)[0][-1])


def test_shared_head_in_training_equals_the_engine_stage_by_stage():
    model = MnistResNet(ImageConfig(head="shared")).eval()
    torch.nn.init.normal_(model.shared.weight)
    x = torch.rand(4, 1, 28, 28)
    _, shared = all_exit_logits(model, x)
    state = model.embed(x)
    for k in range(model.num_exits):
        state = model.stage(k, state)
        torch.testing.assert_close(model.head(k, state, "shared"), shared[k], rtol=1e-4, atol=1e-4)


needs_shipped = pytest.mark.skipif(not SHIPPED, reason="no shipped image checkpoint")


@needs_shipped
def test_shipped_model_is_accurate_and_really_exits_as_profiled():
    prof = zoo.profile("image", "test")
    assert prof.n == 10_000
    assert prof.quality(prof.exit_error(-1)) >= 0.993
    model = zoo.model("image")
    inputs, _ = zoo.get("image").data("test", limit=300)
    crit = criteria.get("entropy")
    thr = float(np.median(prof.cols["entropy"][:, 0]))
    expected = prof.exits(crit, thr)[:300]
    assert 0 < expected.mean() < prof.k - 1  # the threshold really splits the inputs
    streamed = run_stream(model, inputs, crit, thr, prof.path(crit), batch=64)
    np.testing.assert_array_equal(streamed.exit, expected)
    one = [int(run_with_exits(model, x[None], crit, thr, prof.path(crit)).exit[0]) for x in inputs[:40]]
    np.testing.assert_array_equal(one, expected[:40])


def _digit_png(tmp_path, name="seven.png"):
    path = tmp_path / name
    path.write_bytes(GOOD_IMAGE())
    return path


@pytest.mark.slow
@needs_shipped
def test_predict_cli_reads_a_drawn_seven_and_refuses_garbage(tmp_path):
    good = _digit_png(tmp_path)
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    run = subprocess.run([sys.executable, "-m", "explorer", "predict", "--model", "image", str(good), str(bad),
                          "--json"], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    first, second = (json.loads(line) for line in run.stdout.strip().splitlines())
    assert first["prediction"] == "7"
    assert 1 <= first["exit"] <= first["exits_total"] and len(first["per_exit"]) == first["exits_total"]
    assert first["ms"] > 0 and {"prediction", "confidence", "entropy"} <= set(first["per_exit"][0])
    assert second["file"] == str(bad) and "not a picture" in second["error"]


def test_decode_digit_gives_the_model_input_shape():
    buf = io.BytesIO()
    img = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(img).line([(32, 8), (32, 56)], fill=255, width=6)
    img.save(buf, "PNG")
    x = zoo.get("image").decode(buf.getvalue()).x
    assert x.shape == (1, 28, 28) and 0 <= float(x.min()) and float(x.max()) <= 1


@pytest.mark.slow
@needs_shipped
def test_bench_cli_prints_the_figures_and_agrees_with_the_profile():
    run = subprocess.run([sys.executable, "-m", "explorer", "bench", "--model", "image", "--criterion", "entropy",
                          "--threshold", "0.05", "--batch", "16", "--limit", "128", "--repeats", "1", "--json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["profile_agreement"] == 1.0
    assert out["ideal_speedup"] > 1 and out["realized_speedup"] > 0 and out["sweep_ms_10k"] > 0
    assert 0.9 < out["accuracy_full"] <= 1 and 0.9 < out["accuracy_exit"] <= 1


@pytest.mark.slow
def test_cli_refuses_an_unknown_criterion_without_a_traceback():
    run = subprocess.run([sys.executable, "-m", "explorer", "bench", "--model", "toy", "--criterion", "nonsense",
                          "--json"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert "unknown criterion" in json.loads(run.stdout)["error"]


@needs_shipped
def test_shipped_example_digits_are_read_correctly():
    from explorer.data.examples import EXAMPLES, load_index
    from explorer.predict import predict_file

    examples = load_index()["image"]
    assert examples
    for ex in examples:
        out = predict_file("image", str(EXAMPLES / ex["file"]), None, None)
        assert out["prediction"] == str(ex["label"]), ex
