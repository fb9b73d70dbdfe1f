"""Compressed variants: int8 and channel pruning keep every exit, the contract and the
profile's decisions; they are smaller; they save and load without pickle; the CLI and
the registry reach them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from explorer import compress, criteria, paths, variants, zoo
from explorer.__main__ import main
from explorer.costs import count_macs
from explorer.engine import read_all_exits, run_stream, run_with_exits
from explorer.memory import weight_bytes
from explorer.models.base import MultiExitModel, State
from explorer.models.toy import ToyConfig, toy_data, train_toy
from explorer.profile import build_profile


def _logits(model, x, lengths=None):
    """Task-head logits at every exit: [K, B, C]."""
    out: list = []
    read_all_exits(model, x, lengths, task_logits=out)
    return torch.stack(out)


def _profile(model, inputs, targets, batch=32):
    batches = [(*model.collate(inputs[i:i + batch]), targets[i:i + batch]) for i in range(0, len(inputs), batch)]
    macs = count_macs(model)
    return build_profile(model, batches, "m", "t", costs=(macs, macs))  # exits only: no timing


def _assert_exits_match_profile(model, inputs, targets, crit_name="confidence"):
    """Real exits, in batches and one input at a time, equal the profile's decisions."""
    prof = _profile(model, inputs, targets)
    crit = criteria.get(crit_name)
    scores = prof.scores(crit)[:, :-1]
    thr = float(np.quantile(scores[np.isfinite(scores)], 0.5))  # half the inputs leave early somewhere
    expected = prof.exits(crit, thr)
    assert 0 < (expected < prof.k - 1).sum() < len(expected), "the threshold should split the inputs"
    costs = prof.path(crit)
    stream = run_stream(model, inputs, crit, thr, costs, batch=16)
    np.testing.assert_array_equal(stream.exit, expected)
    one = []
    for x in inputs[:40]:
        xb, lengths = model.collate([x])
        one.append(int(run_with_exits(model, xb, crit, thr, costs, lengths).exit[0]))
    assert one == expected[:40].tolist()
    preds = [prof.answer(i, k) for i, k in enumerate(expected)]
    assert stream.pred == preds


# ---- toy ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def toy_inputs(toy_model):
    x, y, _ = toy_data(200, toy_model.config, seed=7)
    return list(x), y.tolist()


@pytest.fixture(scope="module")
def toy_int8(toy_model, toy_inputs):
    calib = [(torch.stack(toy_inputs[0][:64]), None)]
    return compress.quantize_int8(toy_model, calib)


def test_int8_toy_keeps_every_exit_and_its_answers(toy_model, toy_int8, toy_inputs):
    x = torch.stack(toy_inputs[0])
    assert toy_int8.num_exits == toy_model.num_exits and toy_int8.heads == toy_model.heads
    assert not any(isinstance(m, nn.Linear) for m in toy_int8.modules()), "every Linear is int8"
    a, b = _logits(toy_model, x), _logits(toy_int8, x)
    agree = (a.argmax(-1) == b.argmax(-1)).float().mean(1)  # per exit
    assert agree.min() >= 0.95, agree
    assert next(toy_model.parameters()).dtype == torch.float32  # the original is untouched
    assert any(isinstance(m, nn.Linear) for m in toy_model.modules())


def test_int8_toy_real_exits_equal_its_profile(toy_int8, toy_inputs):
    _assert_exits_match_profile(toy_int8, *toy_inputs)


def test_int8_counts_the_same_macs_and_weighs_less(toy_model, toy_int8):
    assert count_macs(toy_int8).to_dict() == count_macs(toy_model).to_dict()
    fp32, _ = weight_bytes(toy_model)
    int8, _ = weight_bytes(toy_int8)
    assert sum(int8.values()) < sum(fp32.values()) / 2.5  # LayerNorms and biases stay fp32


def test_int8_without_calibration_is_dynamic_and_keeps_answers(toy_model, toy_inputs):
    import torch.ao.nn.quantized.dynamic as nnqd

    q = compress.quantize_int8(toy_model)
    assert any(isinstance(m, nnqd.Linear) for m in q.modules())
    x = torch.stack(toy_inputs[0])
    assert (_logits(toy_model, x).argmax(-1) == _logits(q, x).argmax(-1)).float().mean() >= 0.95


def test_int8_toy_with_shared_head(toy_inputs):
    model = train_toy(ToyConfig(width=32, hidden=64, num_stages=4, shared_head=True), steps=80, batch=128)
    q = compress.quantize_int8(model, [(torch.stack(toy_inputs[0][:64]), None)])
    parts, _ = weight_bytes(q)
    assert parts["exit"] > 0 and parts["unused"] == 0  # the shared head is read, and int8
    _assert_exits_match_profile(q, *toy_inputs)


def test_int8_leaves_a_head_no_view_reads_uncalibrated_in_fp32_without_warning():
    """The image model answers with per-exit heads: its FreeML shared head never runs in
    calibration, so it has no ranges to quantise with (torch warned "must run observer")."""
    import warnings

    model = zoo.model("image")
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*must run observer")
        q = compress.quantize_int8(model, [(x, None)])
    assert type(q.shared) is nn.Linear and "shared" not in q.int8_plan["static"]
    assert "exits.0.2" in q.int8_plan["static"]  # the heads it answers with are int8


def test_int8_saves_without_pickle_and_loads_identical(toy_int8, toy_inputs, tmp_path):
    path = compress.save_variant(toy_int8, "toy-int8", {"base": "toy", "method": "int8"}, tmp_path)
    assert path.with_suffix(".safetensors").exists()
    loaded = compress.load_variant("toy-int8", tmp_path)
    x = torch.stack(toy_inputs[0][:50])
    assert torch.equal(_logits(loaded, x), _logits(toy_int8, x))
    sd = loaded.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in sd.values())
    assert any(v.dtype == torch.int8 for v in sd.values())


def test_pruning_needs_the_image_cnn(toy_model):
    with pytest.raises(ValueError, match="image CNN"):
        compress.prune_channels(toy_model, 0.5)


def test_a_variant_may_only_name_explorer_classes(toy_int8, tmp_path):
    import json

    path = compress.save_variant(toy_int8, "evil", {"base": "toy", "method": "int8"}, tmp_path)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["class"] = "os:system"
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="explorer's own classes"):
        compress.load_variant("evil", tmp_path)


# ---- the image CNN ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def image():
    return zoo.model("image")


@pytest.fixture(scope="module")
def image_inputs():
    return zoo.get("image").data("test", limit=200)


@pytest.fixture(scope="module")
def image_int8(image):
    calib = [(torch.stack(zoo.get("image").data("val", limit=64)[0]), None)]
    return compress.quantize_int8(image, calib)


def test_int8_image_is_int8_but_its_stem_and_agrees(image, image_int8, image_inputs):
    floats = [n for n, m in image_int8.named_modules() if isinstance(m, nn.Conv2d | nn.Linear | nn.BatchNorm2d)]
    # one grey input channel: int8 is slower there; BatchNorms folded; the FreeML shared head, which
    # this view never reads, has no calibration ranges: it stays fp32
    assert floats == ["stem.0", "shared"]
    x = torch.stack(image_inputs[0])
    a, b = _logits(image, x), _logits(image_int8, x)
    assert (a.argmax(-1) == b.argmax(-1)).float().mean(1).min() >= 0.97
    fp32, _ = weight_bytes(image)
    int8, _ = weight_bytes(image_int8)
    read = ("backbone", "exit")  # the weights this view reads; the unused shared head is left as it was
    assert sum(fp32[p] for p in read) / sum(int8[p] for p in read) >= 3.5 and int8["unused"] == fp32["unused"]
    assert count_macs(image_int8).to_dict() == count_macs(image).to_dict()


def test_int8_image_real_exits_equal_its_profile(image_int8, image_inputs):
    _assert_exits_match_profile(image_int8, *image_inputs)


def test_int8_image_round_trip(image_int8, image_inputs, tmp_path):
    compress.save_variant(image_int8, "image-int8", {"base": "image", "method": "int8"}, tmp_path)
    loaded = compress.load_variant("image-int8", tmp_path)
    x = torch.stack(image_inputs[0][:20])
    assert torch.equal(_logits(loaded, x), _logits(image_int8, x))


def test_int8_image_shared_view_keeps_the_shared_exit(image_inputs):
    shared = zoo.model("image-shared")
    q = compress.quantize_int8(shared, [(torch.stack(image_inputs[0][:32]), None)])
    assert q.heads == {"shared": "class"}
    x = torch.stack(image_inputs[0][:100])
    assert (_logits(shared, x).argmax(-1) == _logits(q, x).argmax(-1)).float().mean() >= 0.95


def test_pruning_almost_nothing_changes_nothing(image, image_inputs):
    """Keeping every channel (0.5% of 64 rounds to none removed) must give the same network:
    the slicing of convs, BatchNorms, per-exit heads and the shared head is exact."""
    same = compress.prune_channels(image, 0.005)
    assert same.config.blocks == image.config.blocks
    x = torch.stack(image_inputs[0][:50])
    torch.testing.assert_close(_logits(same, x), _logits(image, x))
    shared = zoo.model("image-shared")
    same_shared = compress.prune_channels(shared, 0.005)
    torch.testing.assert_close(_logits(same_shared, x), _logits(shared, x))


@pytest.mark.slow
def test_pruned_image_is_narrower_cheaper_and_learns(image, image_inputs):
    pruned = compress.prune_channels(image, 0.5)
    assert [c for c, _ in pruned.config.blocks] == [8, 16, 16, 32, 32, 32]
    assert pruned.num_exits == image.num_exits and pruned.heads == image.heads
    assert count_macs(pruned).path({"exit"}, "exit")[-1] < count_macs(image).path({"exit"}, "exit")[-1] / 3
    x = torch.stack(image_inputs[0])
    y = torch.tensor(image_inputs[1])
    before = (_logits(pruned, x).argmax(-1) == y).float().mean(1)
    compress.fine_tune(pruned, epochs=1, limit=2048, log=lambda line: None)
    after = (_logits(pruned, x).argmax(-1) == y).float().mean(1)
    assert after[-1] > before[-1] + 0.2, (before, after)  # a short fine-tune recovers a lot
    _assert_exits_match_profile(pruned, *image_inputs)


# ---- a tiny Hugging Face model behind the contract -------------------------------------------
class TinyBert(MultiExitModel):
    """A 3-layer BERT built from a config (no download), an exit after each layer."""

    task = "class"

    def __init__(self):
        super().__init__()
        from transformers import BertConfig, BertModel

        torch.manual_seed(0)
        cfg = BertConfig(vocab_size=40, hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=32)
        self.bert = BertModel(cfg).eval()
        self.num_exits, self.exit_names, self.heads = 3, ["layer 1", "layer 2", "layer 3"], {"exit": "class"}
        self.cls = nn.ModuleList(nn.Linear(32, 4) for _ in range(3))

    def embed(self, x, lengths=None):  # x [B, T] token ids
        return State(self.bert.embeddings(input_ids=x))  # [B, T, D]

    def stage(self, k, state):
        out = self.bert.encoder.layer[k](state.h)
        return State(out[0] if isinstance(out, tuple) else out)  # [B, T, D]

    def head(self, k, state, name):  # -> [B, 4]
        return self.cls[k](state.h[:, 0])

    def example_input(self):
        return torch.zeros(1, 12, dtype=torch.long), None


def test_int8_on_a_tiny_hugging_face_model():
    pytest.importorskip("transformers")
    model = TinyBert().eval().requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    inputs = list(torch.randint(0, 40, (120, 12), generator=g))
    targets = [int(t) for t in torch.randint(0, 4, (120,), generator=g)]
    q = compress.quantize_int8(model, [(torch.stack(inputs[:64]), None)])
    # every Linear an exit runs is int8; BERT's pooler, which none reads, has no ranges and stays fp32
    assert [n for n, m in q.named_modules() if isinstance(m, nn.Linear)] == ["bert.pooler.dense"]
    a, b = _logits(model, torch.stack(inputs)), _logits(q, torch.stack(inputs))
    assert (a.argmax(-1) == b.argmax(-1)).float().mean() >= 0.8
    _assert_exits_match_profile(q, inputs, targets)
    fp32, _ = weight_bytes(model)
    int8, _ = weight_bytes(q)
    assert sum(int8.values()) < sum(fp32.values())


# ---- registry and command line ---------------------------------------------------------------
def test_a_saved_variant_is_a_selectable_model(image_int8, image_inputs, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "VARIANTS", tmp_path)
    compress.save_variant(image_int8, "image-int8", {"base": "image", "method": "int8"})
    assert variants.names() == variants.of("image") == ["image-int8"]
    assert variants.of("speech") == []
    entry = zoo.get("image-int8")
    assert "int8" in entry.title and entry.test_split == "test" and entry.group == "compressed"
    assert "image-int8" in zoo.names("tradeoffs") and "image-int8" not in zoo.names("noise")
    x = torch.stack(image_inputs[0][:10])
    assert torch.equal(_logits(entry.load(), x), _logits(image_int8, x))


def test_compress_command_says_what_is_wrong(capsys):
    assert main(["compress", "nope", "--method", "int8"]) == 2
    assert "unknown model 'nope'" in capsys.readouterr().err
    assert main(["compress", "image", "--method", "prune", "--ratio", "1.5"]) == 2
    assert "between 0 and 1" in capsys.readouterr().err


@pytest.mark.slow
def test_tradeoffs_overlays_the_model_and_its_variants(open_page, image_int8, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "VARIANTS", tmp_path)
    assert any("No compressed variant of this model yet" in c.value
               for c in open_page("tradeoffs", model="image").caption)
    compress.save_variant(image_int8, "image-int8", {"base": "image", "method": "int8"})
    at = open_page("tradeoffs", model="image")
    at.multiselect(key="w.page.vs").set_value(["image-int8"]).run()  # the page's comparison
    at.radio(key="w.page.cost").set_value("memory_kb").run()  # measured bytes: compressing against exiting
    assert not at.exception, at.exception
    figure = json.loads(at.get("component_instance")[0].proto.json_args)["view"]["rows"][0][0]["figure"]
    assert [t["name"] for t in figure["data"] if t.get("meta")] == [zoo.get("image").title,
                                                                     zoo.get("image-int8").title]
    assert "device memory" in figure["layout"]["xaxis"]["title"]["text"]
