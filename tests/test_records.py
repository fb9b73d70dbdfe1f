"""The typed records that cross modules read the files stored before them unchanged, and
write them back with the same keys."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explorer import energy, imported, tradeoff
from explorer.bench import BenchResult
from explorer.manifest import DataInfo, Manifest
from explorer.paths import ASSETS
from explorer.profile import Profile, ProfileMeta
from explorer.shipped import load_report
from explorer.speedup import Speedup, Timing

# a manifest as `import` wrote it before the record existed (every key it ever wrote)
OLD_MANIFEST = {
    "name": "tiny", "version": 1, "source": "/models/tiny-vit", "source_hash": "ab12", "architecture": "ViTModel",
    "family": "image", "task": "class", "exits": "trained",
    "options": {"exits": "trained", "daisy": False, "shared_exit": True, "epochs": 5, "limit": 0, "seed": 0,
                "train_fraction": 0.4, "calib_fraction": 0.3, "device": "cpu", "head": "linear"},
    "labels": ["0", "1"],
    "data": {"folder": "/data/digits", "layout": "class folders", "train_fraction": 0.4, "calib_fraction": 0.3,
             "limit": 0, "files": {"train": 8, "calib": 6, "test": 6}, "missing": 0},
    "daisy": None, "shared_exit": True, "key": "cafe", "created": "2026-01-01T00:00:00Z",
    "training": {"seed": 0, "logs": []},
}


def test_an_old_manifest_reads_as_the_record_and_writes_back_the_same_keys(tmp_path):
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "manifest.json").write_text(json.dumps(OLD_MANIFEST))
    m, view = imported.found("tiny-shared", tmp_path)
    assert view == "shared" and m.data.files["test"] == 6 and m.labels == ["0", "1"]
    assert isinstance(m.data, DataInfo) and m.to_json() == OLD_MANIFEST
    assert imported.names(where=tmp_path) == ["tiny", "tiny-shared"]


def test_an_import_under_way_is_found_but_not_listed(tmp_path):
    (tmp_path / "tiny").mkdir()
    Manifest.from_json({**OLD_MANIFEST, "key": None}).write(tmp_path / "tiny" / "manifest.json")
    assert imported.manifests(tmp_path) == [] and imported.found("tiny", tmp_path)[0].key is None
    (tmp_path / "tiny" / "manifest.json").write_text('{"name": "tiny", ')  # half written
    assert imported.manifests(tmp_path) == []


@pytest.mark.parametrize("file", ["image-val-d40b607f175d.npz", "speech-val-*.npz"])
def test_a_shipped_profile_loads_and_saves_its_meta_unchanged(tmp_path, file):
    path = sorted((ASSETS / "profiles").glob(file))[0]
    prof = Profile.load(path)
    assert isinstance(prof.meta, ProfileMeta) and prof.meta.model in path.name and prof.k == len(prof.meta.exit_names)
    with np.load(path) as z:
        stored = json.loads(str(z["meta"]))
    with np.load(prof.save(tmp_path / "again.npz")) as z:
        assert json.loads(str(z["meta"])) == stored


def test_the_shipped_report_reads_as_threshold_metrics():
    report = load_report("image")
    for stored in (report["recommended"]["test"], report["recommended"]["calibration"],
                   report["recommended_ltt"]["test"], report["shared_exit"]["recommended"]["test"]):
        metrics = tradeoff.ThresholdMetrics.from_json(stored)
        assert metrics.to_json() == stored and 0 <= metrics.disagreement <= 1


def test_a_benchmark_result_keeps_the_json_keys_of_bench():
    timed = Speedup(Timing((8.0, 8.2)), Timing((2.0, 2.1)), 5.0, 64, 128)
    r = BenchResult("image", "entropy", 0.5, 128, 4, 0.3, timed, "accuracy", 0.99, 0.985, 1.0, 12.0)
    assert list(r.to_json()) == [
        "model", "criterion", "threshold", "batch", "samples", "threads", "mean_exit", "ideal_speedup",
        "realized_speedup", "realized_over_ideal", "noisy", "speedup", "ms_per_input_full", "ms_per_input_exit",
        "accuracy_full", "accuracy_exit", "profile_agreement", "sweep_ms_10k"]
    assert r.batch == 64 and r.realized_speedup == pytest.approx(8.1 / 2.05) and r.noisy == ""
    assert r.ms_per_input_exit == pytest.approx(2.05 / 128)


def test_an_energy_summary_keeps_the_keys_the_command_prints():
    prof = _tiny_profile()
    run = energy.simulate(prof, energy.power_trace(energy.TraceConfig(shape="steady", seconds=60, mean_mw=1.0)),
                          energy.EnergySettings(nj_per_mac=1e-3, capacitor_mj=1.0, period_s=5.0))
    s = run.summary
    assert list(s.to_json()) == [
        "arrivals", "early_answered", "early_correct", "early_accuracy", "full_answered", "full_correct",
        "full_accuracy", "mean_exit_answered", "nj_per_mac", "mean_mw", "shape"]
    assert s.arrivals == 12 and s.early_correct == run.early.n_correct and s.shape == "steady"


def _tiny_profile() -> Profile:
    from explorer.bench import synthetic_profile

    return synthetic_profile(n=50, k=4)
