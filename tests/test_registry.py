"""The model registry: every fact about a model in its entry; other code can add models."""

import subprocess
import sys

import pytest

from explorer import built_ins, quality, zoo


def test_pages_list_models_from_their_entries_and_a_registered_model_joins_them():
    assert zoo.names("live_image") == ["image"] and zoo.names("live_speech") == ["speech"]
    assert zoo.names("noise") == ["image", "image-two-stage", "image-distill", "speech"]
    toy = zoo.get("toy")
    extra = zoo.register(zoo.BuiltIn("toy-copy", "A copy of the toy", toy.load, toy.data,
                                     pages=frozenset({"tradeoffs"})))
    try:
        assert "toy-copy" in zoo.names("tradeoffs") and "toy-copy" not in zoo.names("model")
        assert zoo.get("toy-copy") is extra
    finally:
        del zoo.BUILT_INS["toy-copy"]


def test_an_entry_with_a_bad_page_or_a_noise_page_without_noise_is_refused():
    toy = zoo.get("toy")
    with pytest.raises(ValueError, match="unknown pages"):
        zoo.register(zoo.BuiltIn("bad", "Bad", toy.load, toy.data, pages=frozenset({"tradeofs"})))
    with pytest.raises(ValueError, match="no noisy test sets"):
        zoo.register(zoo.BuiltIn("bad", "Bad", toy.load, toy.data, pages=frozenset({"noise"})))
    assert "bad" not in zoo.BUILT_INS


def test_evaluation_sets_include_unseen_voices_and_every_noise_level():
    keys = [s.key for s in zoo.eval_sets("speech")]
    assert keys[:5] == ["test_a", "test_b", "test_c", "test_d", "test_e"] and "babble-0" in keys
    assert len(keys) == 5 + 3 * 4
    assert "recordings of people" in zoo.eval_set("speech", "test_e").label
    blur = zoo.eval_set("image", "blur-3")
    assert dict(blur.variant) == {"corruption": "blur", "severity": 3, "limit": built_ins.IMAGE_LIMIT}
    with pytest.raises(ValueError, match="no evaluation set"):
        zoo.eval_set("image", "fog-9")


def test_one_quality_definition():
    assert zoo.get("speech").quality is quality.WER and zoo.get("image").quality is quality.ACCURACY
    assert quality.ACCURACY.from_error(0.25) == 0.75 and quality.WER.from_error(0.25) == 0.25
    assert quality.ACCURACY.change_pt(0.5) == -0.5 and quality.WER.change_pt(0.5) == 0.5


def _imported(module: str, watch: tuple[str, ...]) -> list[str]:
    code = f"import sys, {module}; print(sorted(m for m in {watch!r} if m in sys.modules))"
    return eval(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


@pytest.mark.slow
def test_the_registry_needs_no_torch_and_the_start_point_no_report_or_benchmark():
    assert _imported("explorer.zoo", ("torch",)) == []  # the Overview draws before torch loads
    assert _imported("explorer.thresholds", ("explorer.report", "explorer.bench")) == []


def test_a_report_goes_to_the_cache_or_a_given_path_never_over_the_shipped_one(tmp_path, monkeypatch):
    from explorer import report

    monkeypatch.setattr(report, "CACHE", tmp_path / "cache")
    shipped = (report.REPORTS / "image.json").read_bytes()
    assert report.save_report("image", {"x": 1}) == tmp_path / "cache" / "reports" / "image.json"
    assert report.save_report("image", {"x": 1}, tmp_path / "mine.json") == tmp_path / "mine.json"
    assert (report.REPORTS / "image.json").read_bytes() == shipped


@pytest.mark.parametrize("strategy,name,path", built_ins.IMAGE_STRATEGIES)
def test_each_training_strategy_is_a_checkpoint_trained_that_way_by_the_project(strategy, name, path):
    """The image model's strategies are real checkpoints, each trained by `train image
    --strategy S` with the same network and budget: their JSON says how."""
    import json

    from explorer import checkpoint

    if not checkpoint.exists(path):
        pytest.skip(f"no {strategy} checkpoint")
    info = json.loads(path.with_suffix(".json").read_text())
    assert info["train"]["strategy"] == strategy.replace("self-distilled", "distill")
    assert info["train"]["epochs"] == 10 and info["config"]["blocks"] == json.loads(
        built_ins.IMAGE_CHECKPOINT.with_suffix(".json").read_text())["config"]["blocks"]
    assert min(info["val_accuracy"]["exit"]) > 0.9  # every exit learned
    assert zoo.get(name).title.endswith(f"{strategy} training")
