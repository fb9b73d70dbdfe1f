"""`python -m explorer import`: tiny checkpoints saved as real ones are, imported from a
folder a user would make; every exit kind trains; the workspace is reused or rebuilt;
imported models answer to --model NAME on every command; real exits == profile."""

from __future__ import annotations

import json

import pytest
from hf_tiny import image_folder, librispeech_folder, tiny_image, tiny_speech
from test_engine import _assert_matches_profile, _run, _thresholds

from explorer import criteria, zoo
from explorer.__main__ import main
from explorer.workspace import ImportOptions, import_model, list_models

pytestmark = pytest.mark.slow  # imports train exit heads, and later tests read the models imported before


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("byom")
    mp = pytest.MonkeyPatch()
    mp.setenv("EXPLORER_WORKSPACE", str(root / "ws"))
    yield {"root": root, "vit": tiny_image("vit", root / "vit"), "resnet": tiny_image("resnet", root / "resnet"),
           "speech": tiny_speech("hubert", root / "w2v"), "images": image_folder(root / "images"),
           "audio": librispeech_folder(root / "audio")}
    mp.undo()


def _quiet(_line):
    pass


def _import(env, source, data, name, **opts):
    return import_model(str(env[source]), env[data], name, ImportOptions(**opts), say=_quiet)


def _losses_fall(report):
    for lg in report["training"]["logs"]:
        for e in lg["per_exit"]:
            assert e["loss"][-1] < e["loss"][0], f"{lg['kind']} exit {e['exit']}: {e['loss']}"


def test_vit_final_head_and_trained_exits(env):
    final = _import(env, "vit", "images", "tiny-vit")
    assert len(final["exits"]) == 4 and 0 <= final["final_accuracy"] <= 1
    assert final["recommended"]["profile_agreement_b1"] == 1.0
    assert final["recommended"]["profile_agreement_b64"] == 1.0
    trained = _import(env, "vit", "images", "tiny-vit-trained", exits="trained", epochs=8, shared_exit=True)
    _losses_fall(trained)
    assert trained["recommended"]["profile_agreement_b1"] == 1.0
    assert "shared_exit" in trained and len(trained["shared_exit"]["exits"]) == 4
    # the final exit is the model's own head either way
    assert trained["exits"][-1]["accuracy"] == final["exits"][-1]["accuracy"]
    names = {m["name"] for m in list_models()}
    assert {"tiny-vit", "tiny-vit-trained", "tiny-vit-trained-shared"} <= names


def test_deit_with_teacher_imports_with_trained_exits(env):
    deit = tiny_image("deit-teacher", env["root"] / "deit")
    report = import_model(str(deit), env["images"], "tiny-deit", ImportOptions(exits="trained", epochs=6), say=_quiet)
    _losses_fall(report)
    assert report["architecture"] == "DeiTForImageClassificationWithTeacher"
    assert report["recommended"]["profile_agreement_b1"] == 1.0


def test_resnet_needs_trained_exits_and_distills_without_labels(env):
    with pytest.raises(ValueError, match="--exits trained"):
        _import(env, "resnet", "images", "tiny-resnet")
    report = _import(env, "resnet", "images", "tiny-resnet", exits="distilled", epochs=8)
    _losses_fall(report)
    assert report["exits_kind"] == "distilled"


def test_speech_trained_ctc_and_daisy(env):
    report = _import(env, "speech", "audio", "tiny-w2v", exits="trained", daisy=True, epochs=6)
    _losses_fall(report)
    assert set(report["recommended"]) == {"ctc_entropy", "daisy", "patience"}
    for rec in report["recommended"].values():
        assert rec["profile_agreement_b1"] == 1.0
    assert 0 < report["front_end_share"] < 1


def test_speech_attention_exit_heads_train_and_exit_as_profiled(env):
    """HuBERT-EE's attention block + linear CTC exit (--head attention): it starts as the
    light exit, its loss falls, and real exits read it as the profile did."""
    import torch

    from explorer import exit_heads

    attn, light = exit_heads.ctc_branch("attention", 32, 19), exit_heads.ctc_branch("linear", 32, 19)
    light.load_state_dict(attn.out.state_dict())
    h, mask = torch.randn(2, 7, 32), torch.tensor([[True] * 7, [True] * 4 + [False] * 3])
    torch.testing.assert_close(attn(h, mask), light(h))  # zero output projection: no context yet
    report = _import(env, "speech", "audio", "tiny-w2v-attn", exits="trained", head="attention", epochs=6)
    _losses_fall(report)
    assert report["recommended"]["ctc_entropy"]["profile_agreement_b1"] == 1.0
    assert report["recommended"]["ctc_entropy"]["profile_agreement_b16"] == 1.0
    assert isinstance(zoo.model("tiny-w2v-attn").branches[0], exit_heads.AttentionBranch)
    with pytest.raises(ValueError, match="needs a speech model"):
        _import(env, "vit", "images", "tiny-vit-attn", exits="trained", head="attention")


@pytest.mark.parametrize("name", ["tiny-vit-trained", "tiny-w2v", "tiny-w2v-attn"])
def test_real_exits_equal_the_profile_for_every_causal_criterion(env, name):
    model = zoo.model(name)
    prof = zoo.profile(name, "test")
    inputs, _ = zoo.get(name).data("test")
    crits = [c for c in criteria.applicable(prof.cols) if c.causal]
    daisy = {"daisy"} if getattr(model, "ssl", None) is not None else set()
    assert {c.name for c in crits} >= ({"ctc_entropy", *daisy} if model.task == "ctc" else {"confidence"})
    for crit in crits:
        for thr in _thresholds(prof, crit, count=3):
            for schedule in ("single", "batch", "stream7"):
                exits, preds = _run(model, inputs, schedule, crit, thr, prof.path(crit))
                _assert_matches_profile(prof, crit, thr, exits, preds, f"{name} {crit.name} {thr} {schedule}")


def test_reimport_is_instant_and_changes_rebuild(env, capsys):
    said = []
    import_model(str(env["vit"]), env["images"], "tiny-vit", ImportOptions(), say=said.append)
    assert said and "nothing changed" in said[0]
    manifest = json.loads((env["root"] / "ws" / "tiny-vit" / "manifest.json").read_text())
    # a changed data folder rebuilds
    extra = env["images"] / "two" / "extra.png"
    (env["images"] / "two" / "0.png").rename(extra)
    said.clear()
    import_model(str(env["vit"]), env["images"], "tiny-vit", ImportOptions(), say=said.append)
    assert not any("nothing changed" in s for s in said)
    assert json.loads((env["root"] / "ws" / "tiny-vit" / "manifest.json").read_text())["key"] != manifest["key"]
    extra.rename(env["images"] / "two" / "0.png")
    # a changed model rebuilds
    tiny_image("vit", env["vit"], seed=1)
    said.clear()
    import_model(str(env["vit"]), env["images"], "tiny-vit", ImportOptions(), say=said.append)
    assert not any("nothing changed" in s for s in said)


def test_every_command_takes_an_imported_model(env, capsys, tmp_path):
    assert main(["profile", "--model", "tiny-w2v", "--split", "calib"]) == 0
    assert json.loads(capsys.readouterr().out)["exits"] == 4
    assert main(["sweep", "--model", "tiny-w2v", "--criterion", "ctc_entropy", "--out", str(tmp_path / "s.csv")]) == 0
    assert (tmp_path / "s.csv").read_text().startswith("criterion,")
    assert main(["bench", "--model", "tiny-w2v", "--criterion", "ctc_entropy", "--limit", "3", "--repeats", "1",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["profile_agreement"] == 1.0
    assert main(["report", "--model", "tiny-w2v", "--json"]) == 0
    assert "final_wer" in json.loads(capsys.readouterr().out)
    clip = next((env["audio"]).rglob("*.flac"))
    assert main(["predict", "--model", "tiny-w2v", str(clip), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert 1 <= out["exit"] <= 4 and isinstance(out["prediction"], str)  # exits counted from 1
    assert main(["models", "--json"]) == 0
    kinds = {r["name"]: r["kind"] for r in json.loads(capsys.readouterr().out)}
    assert kinds["image"] == "built-in" and kinds["tiny-w2v"] == "imported"


def test_cli_import_and_bad_sources_get_sentences(env, capsys, monkeypatch):
    assert main(["import", str(env["vit"]), "--data", str(env["images"]), "--name", "tiny-vit", "--json"]) == 0
    assert "exits" in json.loads(capsys.readouterr().out)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["import", "google/vit-base-patch16-224", "--data", str(env["images"]), "--name", "x"]) == 2
    assert "download it first" in capsys.readouterr().err
    assert main(["import", str(env["vit"]), "--data", str(env["root"] / "nowhere"), "--name", "x"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["import", str(env["vit"]), "--data", str(env["images"]), "--name", "image"]) == 2
    assert "built-in" in capsys.readouterr().err
    assert main(["profile", "--model", "no-such-model"]) == 2
    assert "unknown model" in capsys.readouterr().err



def _no_disk(monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda _p: shutil._ntuple_diskusage(10, 10, 0))


@pytest.mark.parametrize("source,data,opts", [
    ("speech", "audio", {"exits": "trained", "daisy": True}),
    ("vit", "images", {"exits": "distilled"}),
])
def test_features_past_the_memory_budget_go_to_disk_or_one_layer_at_a_time_and_train_the_same_heads(
        env, monkeypatch, source, data, opts):
    """Features over the memory budget are written to the workspace and read back from disk;
    with no room on disk either, each layer is read again when its head trains. Either way
    the heads learn exactly what they learn from memory, and no file is left behind."""
    def run(name):
        said = []
        report = import_model(str(env[source]), env[data], name, ImportOptions(epochs=3, **opts), say=said.append)
        assert not list((env["root"] / "ws" / name).glob("features.tmp"))
        return report, " ".join(said)

    in_memory, _ = run(f"mem-{source}")
    assert in_memory["training"]["features_kept"] == "in memory"
    monkeypatch.setenv("EXPLORER_FEATURE_MEMORY_GB", "0")
    on_disk, said = run(f"disk-{source}")
    assert on_disk["training"]["features_kept"] == "on disk" and "more than fit in memory" in said
    layers = len(in_memory["exits"])  # room for about 1.5 layers' features in memory, none on disk
    monkeypatch.setenv("EXPLORER_FEATURE_MEMORY_GB",
                       str(1.5 * in_memory["training"]["feature_bytes"] / (layers + 1) / 2**30))
    _no_disk(monkeypatch)
    layered, said = run(f"layers-{source}")
    assert layered["training"]["features_kept"] == "one layer at a time" and "fit neither" in said
    quality = "accuracy" if source == "vit" else "wer"
    for other in (on_disk, layered):
        assert [{**lg, "seconds": 0} for lg in other["training"]["logs"]] == \
            [{**lg, "seconds": 0} for lg in in_memory["training"]["logs"]]
        assert [e[quality] for e in other["exits"]] == [e[quality] for e in in_memory["exits"]]


def test_features_that_fit_neither_memory_nor_disk_get_a_sentence(env, monkeypatch, capsys):
    monkeypatch.setenv("EXPLORER_FEATURE_MEMORY_GB", "0")
    _no_disk(monkeypatch)
    assert main(["import", str(env["speech"]), "--data", str(env["audio"]), "--name", "no-room",
                 "--exits", "trained"]) == 2
    err = capsys.readouterr().err
    assert "need about" in err and "free on the disk" in err and "--limit" in err
    assert "Traceback" not in err
