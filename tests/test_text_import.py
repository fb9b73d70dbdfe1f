"""Hugging Face causal LMs through the importer (issue 25): `import FOLDER --data TEXTS` with the
model's own final head at every layer or a trained tuned lens per layer, listed on Live: text
only, answering `predict` and `generate --model`; a folder without text gets a sentence."""

from __future__ import annotations

import json

import pytest
import torch
from hf_tiny import TEXTS, text_folder, tiny_causal_lm

from explorer import criteria, imported, zoo
from explorer.__main__ import main
from explorer.errors import InputError
from explorer.generate import generate
from explorer.modality import TEXT, of

pytest.importorskip("transformers")


def _import(args: list[str], capsys) -> dict:
    assert main(["import", *args, "--json"]) == 0, capsys.readouterr()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("kind", ["gpt2", "llama", "qwen2", "mistral"])
def test_final_head_import_is_the_checkpoints_own_model_at_its_last_exit(text_import, capsys, tmp_path, kind):
    import transformers

    folder = text_import.get(kind) or tiny_causal_lm(kind, tmp_path / kind, init=0.2)  # qwen2, mistral: Llama's adapter
    report = _import([str(folder), "--data", str(text_import["data"]), "--name", f"tiny-{kind}"], capsys)
    assert report["exits_kind"] == "final-head" and report["agrees_with_last_by_exit"][-1] == 1.0
    model = zoo.model(f"tiny-{kind}")
    ids = torch.tensor([model.encode(TEXTS[0] + TEXTS[1])])
    theirs = transformers.AutoModelForCausalLM.from_pretrained(folder, local_files_only=True).eval()
    logits, _ = model.forward_states(ids)
    with torch.no_grad():
        assert torch.allclose(logits[-1], theirs(ids).logits, atol=1e-5)
    assert model.architecture == type(theirs).__name__


def test_trained_exits_load_back_and_agree_with_the_last_exit_more_than_the_final_head(text_import, capsys):
    env = text_import
    before = _import([str(env["gpt2"]), "--data", str(env["data"]), "--name", "lens-before"], capsys)
    after = _import([str(env["gpt2"]), "--data", str(env["data"]), "--name", "lens", "--exits", "trained",
                     "--epochs", "10"], capsys)
    early_before, early_after = before["agrees_with_last_by_exit"][:-1], after["agrees_with_last_by_exit"][:-1]
    assert all(a > b + 0.05 for a, b in zip(early_after, early_before, strict=True)), (early_before, early_after)
    model = zoo.model("lens")  # loaded back from the workspace: the heads as trained, the last exit untouched
    assert model.exit_kind == "trained" and len(model.translators) == model.num_exits - 1
    h = torch.randn(2, model.hidden_size)
    assert not torch.equal(model.exit_logits(0, h), model.lm_head(model.final_norm(h)))
    assert torch.equal(model.exit_logits(model.num_exits - 1, h), model.lm_head(model.final_norm(h)))
    plain = zoo.model("lens-before")
    assert torch.equal(model.forward_states(torch.tensor([[5, 6, 7]]))[0][-1],
                       plain.forward_states(torch.tensor([[5, 6, 7]]))[0][-1])


def test_an_imported_text_model_is_on_live_text_only_and_generates(text_import, capsys):
    env = text_import
    _import([str(env["llama"]), "--data", str(env["data"]), "--name", "tiny-live"], capsys)
    assert "tiny-live" in zoo.names("live_text")
    assert not any("tiny-live" in zoo.names(page) for page in ("tradeoffs", "noise", "model", "energy", "overview"))
    entry = zoo.get("tiny-live")
    assert not entry.profiled and entry.quality is TEXT.quality and entry.noise is None
    model = entry.load()
    out = generate(model, [model.encode("the cat")], 6, criteria.get("confidence"), 0.5)
    assert len(out.tokens[0]) == 6 and set(out.exits[0]) <= set(range(model.num_exits))
    assert main(["predict", "--model", "tiny-live", "the cat sat", "--tokens", "5", "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["tokens"] == 5 and said["exits_total"] == model.num_exits and said["prediction"]
    assert main(["generate", "def add", "--model", "tiny-live", "--bytes", "5", "--speculate", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["same_as_full_model"] == 1.0


def test_the_live_text_page_runs_an_imported_model(text_import, open_page, capsys):
    env = text_import
    _import([str(env["gpt2"]), "--data", str(env["data"]), "--name", "tiny-page"], capsys)
    at = open_page("live_text", model="tiny-page")
    metrics = {m.label: m.value for m in at.metric}
    assert "Same tokens as the full model" in metrics and "Mean exit (of 3)" in metrics
    at.radio(key="text.mode").set_value("Self-speculative decoding (LayerSkip)").run()
    assert not at.exception and {m.label: m.value for m in at.metric}["Same tokens as the full model"] == "100%"
    open_page()  # the Overview, with a text model in the workspace: no headline card, no error


def test_the_add_a_model_page_imports_a_causal_lm_and_links_live_text(text_import, open_page, monkeypatch, tmp_path):
    from explorer import server_paths

    monkeypatch.setenv(server_paths.ENV, "1")
    monkeypatch.setenv("EXPLORER_WORKSPACE", str(tmp_path / "ws"))
    at = open_page("add_model")
    at.text_input[0].set_value(str(text_import["gpt2"]))
    at.text_input[1].set_value(str(text_import["data"]))
    at.text_input[2].set_value("added-lm")
    at.button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert all(b.proto.value == 100 for b in at.get("progress"))
    assert any("Choose it on Live: text" in s.value for s in at.success)
    assert "added-lm" in imported.names("live_text") and "added-lm" not in imported.names("tradeoffs")


def test_a_folder_without_text_gets_a_sentence(text_import, tmp_path, capsys):
    (tmp_path / "pictures").mkdir()
    (tmp_path / "pictures" / "cat.png").write_bytes(b"\x89PNG")
    assert main(["import", str(text_import["gpt2"]), "--data", str(tmp_path / "pictures"), "--name", "x"]) == 2
    err = capsys.readouterr().err
    assert "no text in" in err and ".txt file per document" in err and "Traceback" not in err
    (tmp_path / "csv").mkdir()
    (tmp_path / "csv" / "metadata.csv").write_text("file_name,label\na.txt,cat\n")
    with pytest.raises(InputError, match="needs a `text` \\(or `prompt`\\) column"):
        TEXT.list_files(tmp_path / "csv")
    with pytest.raises(InputError, match="not UTF-8"):
        TEXT.read(b"caf\xe9")


def test_a_metadata_csv_of_prompts_splits_by_row_and_imports(text_import, tmp_path, capsys):
    (tmp_path / "metadata.csv").write_text("prompt\n" + "".join(f"\"prompt number {i}, with a comma\"\n"
                                                                for i in range(30)))
    folder = of("text").scan(tmp_path)
    assert folder.layout == "metadata.csv" and len(folder.files) == 30
    assert {"train", "calib", "test"} <= set(folder.split)  # one file, 30 documents: each row has its split
    assert TEXT.raw(tmp_path, folder.files[0], folder.targets[0]).startswith("prompt number")
    report = _import([str(text_import["llama"]), "--data", str(tmp_path), "--name", "from-csv", "--exits", "trained",
                      "--epochs", "1"], capsys)
    assert report["samples"]["calib"] > 0 and len(report["agrees_with_last_by_exit"]) == 3


def test_an_uploaded_prompt_longer_than_the_context_is_cut_with_a_warning(text_import):
    from explorer.hf.text import load

    model = load(text_import["gpt2"])
    decoded = TEXT.decode(("the cat sat on the mat. " * 80).encode(), model)
    assert len(decoded.x) == model.context - 64 and "only its last" in decoded.warnings[0]
    assert TEXT.decode(b"def add", model).warnings == ()


@pytest.fixture(scope="module")
def text_import(tmp_path_factory):
    """A tiny GPT-2 and a tiny Llama (3 layers, a BPE tokenizer) saved as real checkpoints, a
    folder of .txt files, and a workspace of their own for this module's imports."""
    root = tmp_path_factory.mktemp("text-import")
    out = {"gpt2": tiny_causal_lm("gpt2", root / "gpt2", init=0.2),
           "llama": tiny_causal_lm("llama", root / "llama", init=0.2), "data": text_folder(root / "texts")}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_WORKSPACE", str(root / "ws"))
        yield out
    for name in imported.names(where=root / "ws"):
        zoo.forget(name)


@pytest.mark.skipif(not __import__("explorer.checkpoint").checkpoint.exists(
    __import__("explorer.built_ins").built_ins.TEXT_CHECKPOINT), reason="the text model is not trained here")
def test_predict_continues_a_prompt_with_the_built_in_text_model_at_its_reports_threshold(capsys):
    from explorer.shipped import load_report

    assert main(["predict", "--model", "text", "def f(x):\\n    return", "--tokens", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    certified = {c: r["threshold"] for c, r in load_report("text")["criteria"].items() if r["certified"]}
    assert out["prompt"] == "def f(x):\n    return" and out["tokens"] == 8 and out["prediction"]
    assert out["threshold"] == certified[out["criterion"]] and 1 <= out["mean_exit"] <= out["exits_total"]
