"""The text model: per-token exits that really skip layers, batches that answer as their rows
alone, self-speculative decoding that is exact, and a trainer that learns the corpus."""

import json

import numpy as np
import pytest
import torch

from explorer import checkpoint, criteria
from explorer.__main__ import main
from explorer.data import text_corpus
from explorer.generate import generate, speculate
from explorer.models.text import ExitLM, TextConfig
from explorer.train.text import TextTrainConfig, train

PROMPTS = [b"def f(x):\n    return", b"import os", b"ab"]  # unequal lengths: the batch is left-padded


@pytest.fixture(scope="module")
def lm():
    torch.manual_seed(0)
    return ExitLM(TextConfig(layers=4, width=32, heads=2, context=64)).eval()


def test_a_batch_answers_as_each_prompt_alone_with_the_full_model(lm):
    batch = generate(lm, PROMPTS, 10)
    assert batch.tokens == [generate(lm, [p], 10).tokens[0] for p in PROMPTS]
    assert batch.mean_exit == lm.num_exits and batch.layer_speedup == 1.0


def test_rows_that_exit_at_different_layers_answer_as_they_would_alone(lm):
    static = criteria.get("static")
    taus = np.array([1.0, 2.0, 3.0])  # one threshold per row: exits 1, 2 and 3
    batch = generate(lm, PROMPTS, 10, static, taus)
    for r, (p, tau) in enumerate(zip(PROMPTS, taus, strict=True)):
        alone = generate(lm, [p], 10, static, tau)
        assert batch.tokens[r] == alone.tokens[0]
        assert batch.exits[r][1:] == [int(tau) - 1] * 9  # the first byte comes from the prompt's full pass


def test_an_exited_token_skips_its_later_layers_and_propagates_their_keys_and_values(lm):
    L, n = lm.num_exits, 10
    out = generate(lm, [PROMPTS[0]], n, criteria.get("static"), 1.0)
    assert out.layers_run == L + (n - 1) * 1  # the first byte: every layer; the rest: the first layer only
    assert out.kv_filled == (n - 1) * (L - 1)
    assert out.layer_speedup == pytest.approx(n * L / (L + n - 1))
    assert out.mean_exit == pytest.approx((L + (n - 1)) / n)


def test_a_threshold_no_token_passes_gives_the_full_models_bytes(lm):
    full = generate(lm, PROMPTS, 12)
    never = generate(lm, PROMPTS, 12, criteria.get("confidence"), 1.5)
    assert never.tokens == full.tokens and never.kv_filled == 0


@pytest.mark.parametrize("draft_layers,draft_len", [(1, 1), (1, 4), (2, 3), (3, 5)])
def test_self_speculative_decoding_gives_exactly_the_full_models_bytes(lm, draft_layers, draft_len):
    full = generate(lm, [PROMPTS[0]], 15)
    spec = speculate(lm, PROMPTS[0], 15, draft_layers, draft_len)
    assert spec.tokens == full.tokens
    assert 0 <= spec.accepted <= spec.drafted


def test_bad_requests_are_refused_in_sentences(lm):
    with pytest.raises(ValueError, match="at least one token"):
        generate(lm, [b""], 4)
    with pytest.raises(ValueError, match="do not fit the model's context"):
        generate(lm, [b"x" * 60], 10)
    with pytest.raises(ValueError, match="needs a threshold"):
        generate(lm, PROMPTS, 4, criteria.get("confidence"))
    with pytest.raises(ValueError, match="draft with 1 to 3"):
        speculate(lm, PROMPTS[0], 4, 4)


def test_calm_style_models_read_each_early_exit_with_its_own_head():
    torch.manual_seed(0)
    own = ExitLM(TextConfig(layers=3, width=16, heads=2, context=32, exits="own"))
    h = torch.randn(2, 16)
    assert not torch.equal(own.exit_logits(0, h), own.exit_logits(2, h))
    assert torch.equal(own.exit_logits(2, h), torch.nn.functional.linear(own.norm(h), own.embed.weight))
    assert len(own(torch.randint(0, 256, (2, 8)))) == 3


def test_the_corpus_splits_by_file_and_is_the_same_on_every_load():
    files = text_corpus.files()
    splits = {f: text_corpus.split_of(f) for f in files}
    assert {"train", "val", "test"} <= set(splits.values())
    assert not any(part in text_corpus.SKIP for f in files for part in f.parts)
    assert text_corpus.load("val").digest == text_corpus.load("val").digest


def test_training_learns_the_corpus_at_every_exit(tmp_path):
    model, summary = train(TextTrainConfig(steps=40, batch=8, window=64, val_windows=8, evals=1, lr=5e-3),
                           TextConfig(layers=2, width=32, heads=2, context=64), out=tmp_path / "t", log=lambda _: None)
    bits = summary["val"]["bits_per_byte"]
    assert len(bits) == 2 and max(bits) < 6.0  # a uniform guess over 256 bytes is 8 bits
    again = checkpoint.load(ExitLM, TextConfig, tmp_path / "t")
    x = torch.randint(0, 256, (1, 16))
    assert torch.equal(again(x)[-1], model(x)[-1])


def test_generate_command_compares_with_the_full_model(tmp_path, capsys, lm):
    checkpoint.save(lm, tmp_path / "lm")
    assert main(["generate", "def ", "--bytes", "8", "--speculate", "2", "--checkpoint", str(tmp_path / "lm"),
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["same_as_full_model"] == 1.0 and len(out["text"].encode("utf-8", "replace")) >= 1
    assert main(["generate", "x", "--checkpoint", str(tmp_path / "none")]) == 2
    assert "train one with" in capsys.readouterr().err


def test_the_text_report_calibrates_generates_and_speculates(lm):
    from explorer.text_report import profile, report

    prof = profile(lm, "val", windows=2)
    assert prof.k == lm.num_exits and prof.n == 2 * lm.config.context
    assert set(prof.cols) >= {"pred", "confidence", "saturation", "errors"}
    out = report(lm, eps=0.3, prompts=2, n=8, prompt_len=16, windows=2, repeats=1, seq_eps=0.9, calib_count=16, steps=4)
    assert out["bits_per_byte"] > 0 and out["perplexity_per_byte"] == pytest.approx(2 ** out["bits_per_byte"], 1e-3)
    assert set(out["criteria"]) == {"confidence", "margin", "entropy", "saturation", "patience", "static"}
    assert any(row["certified"] for row in out["criteria"].values())
    for row in out["criteria"].values():
        if row["certified"]:
            assert 0 <= row["same_bytes_as_full"] <= 1 and 1 <= row["mean_exit"] <= lm.num_exits
            assert 0 <= row["rouge_l_vs_full"] <= 1 and set(row["speedup"]) == {"1", "8"}
            for s in row["speedup"].values():  # a figure above its ideal is flagged as noise, never shown
                assert (s["median"] is None) == ("noise" in s)
                assert s["median"] is None or s["median"] <= 1.02 * row["speedup_by_layers"]
    assert [s["draft_layers"] for s in out["speculative"]] == list(range(1, lm.num_exits))
    from explorer.text_summary import markdown, ways

    table = markdown(out)  # docs/text.md's tables: a row per criterion and per draft depth
    assert table.count("\n| ") >= 3 + len(out["criteria"]) + len(out["speculative"])
    assert ways(out)[-1].how.startswith("self-speculative") and ways(out)[-1].same_bytes == 1.0
    assert all(s["layer_work"] >= 1 for s in out["speculative"])  # exact: every byte passes every layer


def test_calms_learned_classifier_tells_agreeing_exits_from_the_others_and_decides_in_batches(lm):
    from explorer.generate import token_criteria
    from explorer.text_report import profile
    from explorer.train.text import fit_classifier

    assert "learned" not in token_criteria(lm)  # no classifier yet: the criterion is not offered
    fitted = fit_classifier(lm, windows=16, steps=150, log=lambda _: None)
    assert "learned" in token_criteria(fitted)
    prof = profile(fitted, "val", windows=4)
    for k in range(fitted.num_exits - 1):  # on held-out text: higher where the exit gives the last exit's token
        agree, learned = prof.cols["pred"][:, k] == prof.cols["pred"][:, -1], prof.cols["learned"][:, k]
        auc = (learned[agree][:, None] > learned[~agree][None]).mean()
        assert auc > 0.55, f"layer {k + 1}: the classifier ranks agreeing positions first only {auc:.0%} of the time"
    crit, tau = criteria.get("learned"), float(np.median(prof.cols["learned"][:, :-1]))
    batch = generate(fitted, PROMPTS, 10, crit, tau)
    assert batch.tokens == [generate(fitted, [p], 10, crit, tau).tokens[0] for p in PROMPTS]
    assert batch.mean_exit < fitted.num_exits  # some tokens left early


def test_rouge_l_is_the_longest_common_subsequence_f1():
    from explorer.metrics import rouge_l

    assert rouge_l(list(b"abcdef"), list(b"abcdef")) == 1.0
    assert rouge_l(list(b"abc"), list(b"xyz")) == 0.0
    assert rouge_l(list(b"abcd"), list(b"abxd")) == pytest.approx(0.75)  # LCS "abd": 3/4 both ways


def test_report_text_without_a_model_says_how_to_train_one(tmp_path, capsys):
    assert main(["report", "text", "--checkpoint", str(tmp_path / "none")]) == 2
    assert "train one with" in capsys.readouterr().err


# ---- Hugging Face causal LMs: the model's own final head at every layer -----------------------------
def _tiny_causal_lms():
    transformers = pytest.importorskip("transformers")
    small = dict(num_hidden_layers=3, hidden_size=32, num_attention_heads=4, num_key_value_heads=2,
                 intermediate_size=64, vocab_size=100, max_position_embeddings=64)
    return {"gpt2": transformers.GPT2Config(n_layer=3, n_embd=32, n_head=2, vocab_size=100, n_positions=64,
                                            bos_token_id=0, eos_token_id=0),
            "llama": transformers.LlamaConfig(**small), "qwen2": transformers.Qwen2Config(**small),
            "mistral": transformers.MistralConfig(**small)}


@pytest.mark.parametrize("family", ["gpt2", "llama", "qwen2", "mistral"])
def test_a_hugging_face_causal_lm_generates_its_own_greedy_tokens_layer_by_layer(family):
    import transformers

    from explorer.hf.text import HFCausalLM

    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_config(_tiny_causal_lms()[family]).eval()
    model, prompts = HFCausalLM(hf), [[5, 6, 7, 8, 9], [11, 12]]
    ours = generate(model, prompts, 8)  # a batch, left-padded
    theirs = [hf.generate(torch.tensor([p]), max_new_tokens=8, min_new_tokens=8, do_sample=False)[0, len(p):].tolist()
              for p in prompts]
    assert ours.tokens == theirs
    assert speculate(model, prompts[0], 8, 1, 3).tokens[0] == theirs[0]
    early = generate(model, prompts, 8, criteria.get("static"), 2.0)
    assert early.kv_filled == 2 * 7 * 1 and early.exits[0][1:] == [1] * 7  # exit 2 of 3: one layer skipped


def test_generate_reads_a_hugging_face_folder(tmp_path, capsys):
    import transformers

    torch.manual_seed(0)
    transformers.AutoModelForCausalLM.from_config(_tiny_causal_lms()["llama"]).save_pretrained(tmp_path / "lm")
    assert main(["generate", "hi", "--checkpoint", str(tmp_path / "lm")]) == 2  # no tokenizer: a sentence
    assert "no tokenizer" in capsys.readouterr().err


# ---- the app: Live: text -----------------------------------------------------------------------------
needs_text = pytest.mark.skipif(not checkpoint.exists(__import__("explorer.built_ins").built_ins.TEXT_CHECKPOINT),
                                reason="the text model is not trained here")


@needs_text
def test_the_live_text_page_continues_the_example_in_each_way(open_page):
    at = open_page("live_text")
    metrics = {m.label: m.value for m in at.metric}
    assert "Same bytes as the full model" in metrics and "Mean exit (of 6)" in metrics
    assert any("exit 1 of 6" in m.value or "exit 6 of 6" in m.value for m in at.markdown)  # the coloured tokens
    at.radio(key="text.mode").set_value("Self-speculative decoding (LayerSkip)").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Same bytes as the full model"] == "100%" and "Drafts accepted" in metrics
    at.radio(key="text.mode").set_value("Per-token exits (CALM)").run()
    at.selectbox(key="text.crit").set_value("saturation").run()
    assert not at.exception and {m.label for m in at.metric} >= {"Fewer layers (ideal, by layers)"}
    at.text_area[0].set_value("x" * 300).run()  # longer than the context: a sentence, the prompt kept
    assert "exceed the model's context" in at.warning[0].value and at.text_area[0].value == "x" * 300


@needs_text
def test_the_live_text_page_starts_at_the_reports_threshold_and_compares_the_two_ways(open_page):
    from explorer.shipped import load_report

    at = open_page("live_text")
    rep = load_report("text")
    row = rep["criteria"][at.selectbox(key="text.crit").value]
    if row["certified"]:  # the slider starts where the report's calibration put it
        assert at.slider[0].value == pytest.approx(row["threshold"], abs=(at.slider[0].max - at.slider[0].min) / 100)
    how = at.table[-1].value.index.astype(str)
    assert how.str.startswith("self-speculative").any() and how.str.startswith("per-token").any()
    assert any("by layer" in m.value for m in at.markdown)  # each token's scores per layer, on hover


needs_both = pytest.mark.skipif(not all(checkpoint.exists(path) for _, _, path, _ in
                                        __import__("explorer.built_ins").built_ins.TEXT_MODELS),
                                reason="the text models are not trained here")


@needs_both
def test_text_models_on_tradeoffs_and_model_pages(open_page):
    at = open_page("tradeoffs", model="text", vs="text-calm", criterion="margin")
    crit = at.selectbox(key="w.criterion.text")
    assert crit.value == "margin" and {"margin", "saturation"} <= {o.split(":")[0] for o in crit.options}
    assert at.multiselect(key="w.page.vs").value == ["text-calm"]  # LayerSkip's shared head against CALM's own
    assert not at.warning  # both can use the margin criterion
    at = open_page("model", model="text-calm")
    metrics = {m.label: m.value for m in at.metric}
    assert "KV cache per token" in metrics and metrics["Parameters"]
    kv = at.dataframe[-1].value
    assert list(kv["batch"]) == [1, 1, 8, 8] and kv["KV cache"].str.endswith("MiB").all()


def test_generation_with_the_cache_equals_rerunning_the_whole_sequence(lm):
    ids = torch.tensor([list(PROMPTS[0])])
    rerun = []
    with torch.no_grad():
        for _ in range(10):  # the training forward over everything so far, each time
            rerun.append(int(lm(ids)[-1][0, -1].argmax()))
            ids = torch.cat([ids, torch.tensor([[rerun[-1]]])], 1)
    assert generate(lm, [PROMPTS[0]], 10).tokens[0] == rerun
