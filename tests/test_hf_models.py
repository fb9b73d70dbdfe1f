"""Hugging Face adapters: the last exit is the model's own forward pass, alone and in a
padded batch, for every supported architecture and variant; exits really stop."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from hf_tiny import SPEECH_VARIANTS, tiny_image, tiny_speech, waves
from PIL import Image

from explorer import criteria, hf
from explorer.engine import run_with_exits
from explorer.readout import read_head

TOL = 1e-4


def _last(adapter, x, lengths=None):
    """The adapter's last exit, every stage run, in the checkpoint's own vocabulary order."""
    with torch.inference_mode():
        state = adapter.embed(x, lengths)
        for k in range(adapter.num_exits):
            state = adapter.stage(k, state)
        logits = adapter.head(adapter.num_exits - 1, state, adapter.task_head)
    if getattr(adapter, "order", None) is not None:
        back = torch.empty_like(adapter.order)
        back[adapter.order] = torch.arange(len(adapter.order))
        logits = logits[..., back]
    return logits, state.mask


@pytest.fixture(scope="module")
def speech_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_speech")
    out = {kind: hf.load(str(tiny_speech(kind, root / kind))) for kind in SPEECH_VARIANTS}
    out["blank-last"] = hf.load(str(tiny_speech("wav2vec2-stable", root / "blank-last", blank_last=True)))
    out["words"] = hf.load(str(tiny_speech("wav2vec2-stable", root / "words", words=True)))
    return out


@pytest.mark.parametrize("kind", [*SPEECH_VARIANTS, "blank-last"])
def test_speech_last_exit_is_the_models_own_forward(speech_models, kind):
    adapter = speech_models[kind]
    model = adapter.model
    inputs = [adapter.prepare(w) for w in waves(3, seed=1)]
    worst = 0.0
    alone = []
    with torch.inference_mode():
        for x in inputs:  # batch 1
            ref = model(x[None]).logits
            got, _ = _last(adapter, x[None])
            assert got.shape == ref.shape
            worst = max(worst, float((got - ref).abs().max()))
            alone.append(ref[0])
        x, lengths = adapter.collate(inputs)  # a padded batch: each sample as if alone
        got, mask = _last(adapter, x, lengths)
        for i, ref in enumerate(alone):
            n = int(mask[i].sum())
            assert n == ref.shape[0]
            worst = max(worst, float((got[i, :n] - ref).abs().max()))
        if not adapter.group_norm:  # layer-norm front ends: the model's own padded forward, too
            att = (torch.arange(x.shape[1])[None] < lengths[:, None]).long()
            ref = model(x, attention_mask=att).logits
            worst = max(worst, float(((got - ref).abs() * mask[..., None]).max()))
    assert worst <= TOL, f"{kind}: max |dlogit| {worst:.2e}"


def test_speech_transcripts_use_the_checkpoints_tokenizer(speech_models):
    adapter = speech_models["blank-last"]
    assert adapter.order is not None and int(adapter.order[0]) == adapter.model.config.pad_token_id
    ids = adapter.encode("one two")
    assert 0 not in ids  # the blank is never a target
    assert adapter.describe(tuple(ids)) == "ONE TWO"
    assert adapter.errors(tuple(ids), "one two") == (0, 2)
    assert adapter.errors(tuple(adapter.encode("one")), "One, two!") == (1, 2)


def _transcript(adapter, ours: list[int]) -> str:
    """What the adapter reads from frames whose best ids (in its order) are `ours`."""
    frames = torch.tensor([ours], dtype=torch.long)
    logits = torch.nn.functional.one_hot(frames, adapter.vocab_size).float() * 10  # [1, T, V]
    return adapter.describe(read_head("ctc", logits, None, adapter.ctc_silent)["pred"][0])


@pytest.mark.parametrize("kind", ["wav2vec2-stable", "blank-last"])
def test_ctc_transcripts_read_as_the_checkpoints_own_batch_decode(speech_models, kind):
    """Special tokens go before repeats merge, as the tokenizer's batch_decode drops them
    (`N </s> N` reads `N`), while a blank still separates repeats (`E _ E` reads `EE`, as HF's
    speech pipeline decodes: batch_decode with skip_special_tokens drops the blank first too)."""
    adapter = speech_models[kind]
    tok = adapter.tokenizer
    theirs = adapter.token_ids(range(adapter.vocab_size))  # our id -> theirs
    ours = {t: i for i, t in enumerate(theirs)}
    vocab = tok.get_vocab()
    assert _transcript(adapter, [ours[vocab[t]] for t in ("N", "</s>", "N")]) == "N"
    assert _transcript(adapter, [ours[vocab[t]] for t in ("E", "<pad>", "E")]) == "EE"
    specials = {i for i in tok.all_special_ids if i != tok.pad_token_id and i != tok.word_delimiter_token_id}
    pool = [vocab[t] for t in ("<pad>", "<s>", "</s>", "<unk>", "|", "N", "E", "T")]  # specials and repeats, often
    rng = np.random.default_rng(0)
    separated = 0
    for _ in range(400):
        frames = [int(t) for t in rng.choice(pool, rng.integers(1, 14))]
        got = _transcript(adapter, [ours[t] for t in frames])
        assert got == tok.batch_decode([[t for t in frames if t not in specials]])[0], frames
        heard = [t for t in frames if t not in specials]
        blank_between_repeats = any(heard[i] == heard[j] != tok.pad_token_id and
                                    set(heard[i + 1:j]) == {tok.pad_token_id}
                                    for i in range(len(heard)) for j in range(i + 2, len(heard)))
        if not blank_between_repeats:
            assert got == tok.batch_decode([frames], skip_special_tokens=True)[0], frames
        separated += blank_between_repeats
    assert 0 < separated < 400  # both cases were tried


@pytest.mark.parametrize("kind", ["blank-last", "words"])
def test_ctc_targets_put_the_word_delimiter_between_words_as_the_model_s_head_does(speech_models, kind):
    """Trained CTC exits learn these targets: with a word vocabulary too, the delimiter
    stands between words, or their transcripts would run the words together."""
    adapter = speech_models[kind]
    text = "three nine six" if kind == "words" else "one two five"
    ids = adapter.encode(text)
    delimiter = adapter.tokenizer.word_delimiter_token_id
    in_their_order = [int(adapter.order[i]) for i in ids] if adapter.order is not None else ids
    assert in_their_order.count(delimiter) == 2
    assert adapter.errors(tuple(ids), text.capitalize() + ".") == (0, 3)


@pytest.fixture(scope="module")
def image_models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hf_image")
    out = {kind: hf.load(str(tiny_image(kind, root / kind))) for kind in ("vit", "deit", "deit-teacher")}
    out["resnet"] = hf.load(str(tiny_image("resnet", root / "resnet")), exits="trained")  # its only kinds
    out["resnet-path"] = root / "resnet"
    return out


def _pictures(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray((rng.random((28 + i, 30, 3)) * 255).astype(np.uint8)) for i in range(n)]


@pytest.mark.parametrize("kind", ["vit", "deit", "deit-teacher", "resnet"])
def test_image_last_exit_is_the_models_own_forward(image_models, kind):
    adapter = image_models[kind]
    inputs = [adapter.prepare(p) for p in _pictures(5)]
    x, _ = adapter.collate(inputs)
    with torch.inference_mode():
        worst = max(float((_last(adapter, x[i:i + 1])[0] - adapter.model(x[i:i + 1]).logits).abs().max())
                    for i in range(len(inputs)))
        worst = max(worst, float((_last(adapter, x)[0] - adapter.model(x).logits).abs().max()))
    assert worst <= TOL, f"{kind}: max |dlogit| {worst:.2e}"


def test_deit_exits_read_its_special_tokens(image_models):
    """DeiT: patch tokens start after CLS and the distillation token; every early exit of the
    final-head kind is the model's own head (both heads, averaged, for WithTeacher) on that layer."""
    adapter = image_models["deit-teacher"]
    x, _ = adapter.collate([adapter.prepare(p) for p in _pictures(3)])
    with torch.inference_mode():
        out = adapter.model(x, output_hidden_states=True)
        state = adapter.embed(x)
        for k in range(adapter.num_exits):
            state = adapter.stage(k, state)
            torch.testing.assert_close(state.h, out.hidden_states[k + 1])
            z = adapter.model.deit.layernorm(state.h)
            want = (adapter.model.cls_classifier(z[:, 0]) + adapter.model.distillation_classifier(z[:, 1])) / 2
            torch.testing.assert_close(adapter.head(k, state, "exit"), want)
        assert adapter.special == 2 and adapter.features(0, state.h).shape == (3, 64)


def test_resnet_final_head_exits_are_refused_at_load_and_say_what_to_do(image_models):
    with pytest.raises(ValueError, match="--exits trained"):
        hf.load(str(image_models["resnet-path"]))
    assert not image_models["resnet"].final_head_works and image_models["vit"].final_head_works


def test_nothing_runs_after_an_exit(speech_models):
    """Hooks on the real transformer layers count rows: after a sample leaves, no layer
    sees it again (static exits at 1..K send samples to every depth)."""
    adapter = speech_models["wavlm"]
    rows: Counter = Counter()
    hooks = [layer.register_forward_pre_hook(lambda m, args, kw, k=k: rows.update({k: args[0].shape[0]}),
                                             with_kwargs=True)
             for k, layer in enumerate(adapter.encoder.layers)]
    try:
        inputs = [adapter.prepare(w) for w in waves(4, seed=2)]
        x, lengths = adapter.collate(inputs)
        thr = np.array([1, 2, 3, 4], float)  # static: sample i leaves at exit i + 1 (index i)
        r = run_with_exits(adapter, x, criteria.get("static"), thr, lengths=lengths)
    finally:
        for h in hooks:
            h.remove()
    assert r.exit.tolist() == [0, 1, 2, 3]
    assert [rows[k] for k in range(4)] == [4, 3, 2, 1]


def test_unsupported_and_missing_sources_get_a_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="download it first"):
        hf.load("facebook/hubert-large-ls960-ft")
    with pytest.raises(ValueError, match="config.json"):
        hf.load(str(tmp_path))
    (tmp_path / "config.json").write_text('{"architectures": ["BertForMaskedLM"]}')
    with pytest.raises(ValueError, match="supported"):
        hf.load(str(tmp_path))


@pytest.mark.slow
def test_built_ins_never_import_transformers():
    import subprocess
    import sys

    code = ("import sys; from explorer import setup, zoo, report, predict, bench, workspace; setup.install(); "
            "zoo.get('image'); "
            "print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kind", ["vit", "resnet"])
def test_a_prepared_picture_is_shown_as_the_model_saw_it(image_models, kind):
    """The live page and the noisy sets undo the processor's normalisation: a flat colour
    comes back as that colour, at the model's input size."""
    adapter = image_models[kind]
    colour = np.array([200, 50, 120])
    shown = adapter.picture(adapter.prepare(Image.fromarray(np.tile(colour.astype(np.uint8), (40, 40, 1)))))
    assert shown.shape[2] == 3 and shown.min() >= 0 and shown.max() <= 1
    assert np.allclose(shown, colour / 255, atol=0.01)
