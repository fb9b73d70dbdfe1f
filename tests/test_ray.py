"""The profiling pass on Ray: the same profile as one process, through faults.

One local Ray for the whole module (`ray.init(num_cpus=2)` takes seconds); the actors
take a share of a CPU, never every CPU (that starves Ray's other tasks and hangs).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from explorer import built_ins, zoo
from explorer import ray_profile as rp
from explorer.paths import ROOT
from explorer.profile import Profile, build_profile, profile_path

pytestmark = pytest.mark.slow  # one local Ray for the module, and whole sets profiled on it

pytest.importorskip("ray")


@pytest.fixture(scope="module", autouse=True)
def local_ray(tmp_path_factory):
    """One local Ray for the module. Its workers share a cache holding the built-in toy
    model briefly trained (the real one trains for minutes on a busy machine)."""
    from explorer.models import toy

    train_toy = toy.train_toy
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EXPLORER_CACHE", str(cache))  # for the workers
        mp.setenv("EXPLORER_WORKSPACE", str(cache / "workspace"))  # imported models, found by name on workers
        mp.setattr(built_ins, "CACHE", cache)  # for this process
        mp.setattr(toy, "train_toy", lambda cfg, steps: train_toy(cfg, steps=10))
        zoo.forget("toy")
        zoo.model("toy")  # trained (briefly) and saved where the workers load it
        ray = rp.start_ray("local", num_cpus=2)
        yield ray
        ray.shutdown()
        zoo.forget("toy")


@pytest.fixture(autouse=True)
def shards_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(rp, "CACHE", tmp_path / "cache")


def single_process(name: str, split: str, costs, **variant) -> Profile:
    """The reference: what `zoo.profile` builds in one process on the same data."""
    m = zoo.model(name)
    inputs, targets = zoo.get(name).data(split, **variant)
    dataset = "-".join([split] + [str(v) for v in variant.values()])
    return build_profile(m, zoo.batches(m, inputs, targets, 64), name, dataset, costs=costs)


def assert_same_profile(ray_prof: Profile, ref: Profile):
    """Every sample's predictions, scores and errors identical (costs aside)."""
    for key in ("model", "dataset", "fingerprint", "task", "heads", "exit_names"):
        assert getattr(ray_prof.meta, key) == getattr(ref.meta, key), key
    assert ray_prof.cols.keys() == ref.cols.keys()
    for c in ref.cols:
        assert ray_prof.cols[c].dtype == ref.cols[c].dtype, c
        np.testing.assert_array_equal(ray_prof.cols[c], ref.cols[c], err_msg=c)
    np.testing.assert_array_equal(ray_prof.ref_len, ref.ref_len)
    assert ray_prof.answers == ref.answers


def shipped_costs(name: str, split: str):
    prof = zoo.profile(name, split)
    return prof.macs, prof.ms


def test_image_clean_and_corrupted_equal_single_process(tmp_path):
    costs = shipped_costs("image", "test")
    specs = [rp.DataSpec.built_in("image", "test", limit=200),
             rp.DataSpec.built_in("image", "test", corruption="blur", severity=3, limit=200)]
    got = rp.build_all(specs, workers=1, directory=tmp_path, costs=costs)
    for prof, variant in zip(got, [{"limit": 200}, {"corruption": "blur", "severity": 3, "limit": 200}], strict=True):
        assert prof.n == 200
        assert_same_profile(prof, single_process("image", "test", costs, **variant))
    # the same file and key as the single-process pass, so every page finds it
    assert profile_path(tmp_path, "image", "test-blur-3-200", got[1].meta.fingerprint).exists()
    assert not any((tmp_path / "cache").rglob("*.npz")), "shards are removed once merged"


def test_toy_equal_and_costs_measured_on_one_worker(tmp_path):
    prof = rp.build_on_ray(rp.DataSpec("toy", "test"), workers=1, directory=tmp_path)
    assert_same_profile(prof, single_process("toy", "test", (prof.macs, prof.ms)))
    where = prof.meta.measured_on
    assert where["device"] == "cpu" and where["threads"] == 1 and "Ray worker" in where["by"]
    assert (prof.ms.stage > 0).all() and (prof.macs.stage > 0).all()
    took = prof.meta.ray_pass  # where the wall clock went, for `make bench-scale`
    parts = ("ray_start", "prepare", "actor_start", "pass", "merge")
    assert all(took[p] >= 0 for p in parts) and sum(took[p] for p in parts) <= took["total"] + 1e-6
    assert took["tasks"] >= 1 and took["profile"] > 0 and len(took["actor_init"]) == 1
    # loading: a second call finds the saved profile and starts no worker
    assert Profile.load(profile_path(tmp_path, "toy", "test", prof.meta.fingerprint)).n == 1000


def test_killed_worker_gives_the_identical_speech_profile(tmp_path):
    """Speech, clean and noisy: the worker is killed (SIGKILL) once the first chunk is
    back; Ray restarts it and re-runs its chunks; the profile is still exact."""
    costs = shipped_costs("speech", "test_a")
    specs = [rp.DataSpec.built_in("speech", "test_a", limit=130),
             rp.DataSpec.built_in("speech", "test_a", noise="babble", snr=5, limit=130)]
    killed = []

    def kill_first_worker(frac, what):
        shards = sorted((tmp_path / "cache").rglob("*.npz"))
        if shards and not killed:
            pid = int(rp._decode(shards[0].read_bytes())[2].split(":")[1])
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    got = rp.build_all(specs, workers=1, directory=tmp_path, progress=kill_first_worker, costs=costs)
    assert killed, "the run ended before a worker could be killed"
    workers = {w.split(":")[1] for p in got for w in p.meta.profiled_by}
    assert str(killed[0]) in workers and len(workers) >= 2, "a new worker finished the run"
    assert_same_profile(got[0], single_process("speech", "test_a", costs, limit=130))
    assert_same_profile(got[1], single_process("speech", "test_a", costs, noise="babble", snr=5, limit=130))


def test_interrupted_run_resumes_from_its_shards(tmp_path, caplog):
    costs = shipped_costs("image", "test")
    spec = rp.DataSpec.built_in("image", "test", limit=320)

    def stop_after_first_chunk(frac, what):
        if any((tmp_path / "cache").rglob("*.npz")):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rp.build_on_ray(spec, workers=1, directory=tmp_path, progress=stop_after_first_chunk, costs=costs)
    kept = list((tmp_path / "cache").rglob("*.npz"))
    assert 1 <= len(kept) < 5
    with caplog.at_level(logging.WARNING, logger=rp.__name__):
        prof = rp.build_on_ray(spec, workers=1, directory=tmp_path, costs=costs)
    assert f"resuming, {len(kept)} of 5 chunks already profiled" in caplog.text
    assert len(prof.meta.profiled_by) == 2, "the first run's shards were merged, not recomputed"
    assert_same_profile(prof, single_process("image", "test", costs, limit=320))


def test_undecodable_files_are_named_counted_and_skipped(tmp_path, caplog):
    from PIL import Image

    from explorer.data.mnist import load_mnist

    x, y = load_mnist("test")
    folder = tmp_path / "digits"
    folder.mkdir()
    files, targets = [], []
    for i in range(70):
        path = folder / f"{i:03d}.png"
        Image.fromarray((x[i] * 255).astype(np.uint8)).save(path)
        files.append(str(path))
        targets.append(int(y[i]))
    for bad, data in [("012-broken.png", b"\x89PNG not really"), ("040-empty.png", b"")]:
        (folder / bad).write_bytes(data)
        at = int(bad[:3])
        files.insert(at, str(folder / bad))
        targets.insert(at, 0)
    spec = rp.DataSpec("image", files=tuple(files), targets=tuple(targets), batch=32)  # 3 chunks
    costs = shipped_costs("image", "test")
    with caplog.at_level(logging.WARNING, logger=rp.__name__):
        prof = rp.build_on_ray(spec, workers=1, directory=tmp_path, costs=costs)
    assert prof.n == 70 and prof.meta.dataset == "digits"
    assert [s["file"] for s in prof.meta.skipped] == [str(folder / "012-broken.png"), str(folder / "040-empty.png")]
    assert "skipped 2 undecodable files" in caplog.text and "040-empty.png" in caplog.text
    assert_same_profile(prof, rp.build_local(spec, costs))
    acc = 1 - prof.exit_error(-1)
    assert acc > 0.9, "the good files were read as digits"


def test_without_ray_nothing_imports_it():
    code = ("import pkgutil, importlib, sys, explorer\n"
            "for m in pkgutil.walk_packages(explorer.__path__, 'explorer.'):\n"
            "    if m.name != 'explorer.ray_profile' and not m.name.startswith('explorer.train'):\n"
            "        importlib.import_module(m.name)\n"
            "from explorer.__main__ import main\n"
            "assert main(['profile', '--model', 'image', '--split', 'val']) == 0\n"
            "assert 'ray' not in sys.modules, 'ray was imported'\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]


def test_bad_arguments_get_a_message(capsys):
    from explorer.__main__ import main

    assert main(["profile", "--model", "image", "--workers", "2"]) == 2
    assert "needs --ray" in capsys.readouterr().err
    assert main(["profile", "--model", "image", "--ray", "--workers", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_gets_a_sentence(tmp_path, capsys):
    """--device cuda where there is none: one process, an import, and a Ray pass on a
    cluster without GPUs (which would otherwise wait for one forever)."""
    from explorer.__main__ import main

    assert main(["profile", "--model", "toy", "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    assert main(["import", str(tmp_path), "--data", str(tmp_path), "--name", "x", "--device", "cuda"]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err
    with pytest.raises(ValueError, match="the Ray cluster has no GPU"):
        rp.build_on_ray(rp.DataSpec("toy", "test"), device="cuda", directory=tmp_path)


def test_single_process_profiles_say_where_their_ms_were_measured():
    prof = build_profile(zoo.model("toy"), zoo.batches(zoo.model("toy"), *zoo.get("toy").data("val"), 64), "toy", "val")
    assert prof.meta.measured_on["device"] == "cpu" and "this process" in prof.meta.measured_on["by"]



def test_imported_hf_models_profile_on_ray_as_in_one_process(tmp_path, capsys):
    """`import --ray`: the calibration and test profiles of imported tiny Hugging Face models
    (a ViT through the command line; a HuBERT with trained CTC exits, whose heads the workers
    load from the workspace) are built on Ray from the folder's files, decoded on the workers,
    and equal the single-process pass's, under the same files and keys."""
    from hf_tiny import image_folder, librispeech_folder, tiny_image, tiny_speech

    from explorer.__main__ import main
    from explorer.workspace import ImportOptions, import_model

    vit, images = tiny_image("vit", tmp_path / "vit"), image_folder(tmp_path / "images", per_class=12)
    assert main(["import", str(vit), "--data", str(images), "--name", "ray-vit", "--ray", "--workers", "1",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recommended"]["profile_agreement_b1"] == 1.0
    import_model(str(tiny_speech("hubert", tmp_path / "hubert")), librispeech_folder(tmp_path / "audio", n=24),
                 "ray-hubert", ImportOptions(exits="trained", epochs=2), say=lambda _: None,
                 ray={"address": "local", "workers": 1})
    for name in ("ray-vit", "ray-hubert"):
        for split in ("calib", "test"):
            ray_prof = zoo.profile(name, split)  # the import's: built on Ray, found where zoo looks
            assert "Ray worker" in ray_prof.meta.measured_on["by"], "built on Ray, not in this process"
            assert ray_prof.n > 0 and not ray_prof.meta.skipped
            assert_same_profile(ray_prof, single_process(name, split, (ray_prof.macs, ray_prof.ms)))
    # `profile --ray` on an imported model: its files again, found current (no worker starts)
    assert main(["profile", "--model", "ray-hubert", "--split", "test", "--ray"]) == 0
    assert json.loads(capsys.readouterr().out)["dataset"] == "test"


def test_noisy_sets_of_an_imported_model_on_ray_when_configured(tmp_path, monkeypatch):
    """Issue 12: with $EXPLORER_RAY set, the Noise page's `load_all` builds an imported model's
    noisy test sets on Ray (the files decoded on the workers, the noise put in there) and they
    equal the single-process pass's."""
    from hf_tiny import image_folder, tiny_image

    from explorer import robustness
    from explorer.workspace import ImportOptions, import_model

    import_model(str(tiny_image("vit", tmp_path / "vit")), image_folder(tmp_path / "images", per_class=6),
                 "ray-noisy-vit", ImportOptions(), say=lambda _: None)
    monkeypatch.setenv("EXPLORER_RAY", "local")
    heard = []
    profiles = robustness.load_all("ray-noisy-vit", lambda f, what: heard.append(what))
    assert len(profiles) == 30 and heard  # 5 corruptions x severities 0-5 (0: the one clean set)
    for (kind, level), prof in [(k, p) for k, p in profiles.items() if k[1] in (0, 2, 3)]:
        split, args = robustness.variant_args("ray-noisy-vit", kind, level)
        if args and level != 3:  # severity 3 (the headline's shift level) was profiled by the import itself
            assert prof.meta.ray_pass, "built on Ray"
        assert_same_profile(prof, single_process("ray-noisy-vit", split, (prof.macs, prof.ms), **args))
