"""Memory figures: weights split by where they are read, checkpoint size, and the peak
resident memory of one batch-1 inference, measured in a fresh process."""

from __future__ import annotations

import pytest

from explorer import compress, memory, zoo
from explorer.models.toy import ToyConfig, ToyMLP, toy_data


def test_image_weights_by_part_match_the_parameter_counts():
    """FreeML's claim in bytes: 43,580 per-exit head parameters vs 15,370 shared."""
    per_exit, upto = memory.weight_bytes(zoo.model("image"))
    shared, upto_shared = memory.weight_bytes(zoo.model("image-shared"))
    assert per_exit["exit"] == 43_580 * 4 and shared["shared"] == 15_370 * 4
    assert per_exit["backbone"] == shared["backbone"] > 0
    assert per_exit["unused"] == shared["shared"]  # the other view's head is in the checkpoint, never read
    assert per_exit["exit"] / shared["shared"] > 2.5
    assert upto == sorted(upto) and upto[-1] == per_exit["backbone"] + per_exit["exit"]
    assert upto_shared[0] > shared["shared"]  # the shared head is read whole at the first exit


def test_int8_weighs_less_than_fp32_on_disk_and_in_memory(toy_model):
    x, _, _ = toy_data(64, toy_model.config, seed=3)
    q = compress.quantize_int8(toy_model, [(x, None)])
    fp32, int8 = memory.weight_bytes(toy_model)[0], memory.weight_bytes(q)[0]
    assert 0 < sum(int8.values()) < sum(fp32.values())
    assert 0 < memory.checkpoint_bytes(q) < memory.checkpoint_bytes(toy_model)


def test_allocator_peak_per_exit_is_positive_reproducible_and_grows_with_the_network():
    model = ToyMLP(ToyConfig(width=64, hidden=256, num_stages=4)).eval()
    wide = ToyMLP(ToyConfig(width=64, hidden=1024, num_stages=4)).eval()
    first, spread = memory.allocator_peaks(model, repeats=3)
    again, _ = memory.allocator_peaks(model, repeats=3)
    assert len(first) == 4 and all(p > 0 for p in first) and all(s >= 0 for s in spread)
    assert first == again  # the same allocations every time: exact, not sampled
    # the hidden layer's [1, hidden] activation is the largest tensor: 4x wider, more bytes
    assert memory.allocator_peaks(wide, repeats=1)[0][0] >= first[0] + 3 * 256 * 4


def test_image_peak_memory_from_torch_allocator():
    peak, _ = memory.allocator_peaks(zoo.model("image"), repeats=2)
    assert min(peak) >= 16 * 28 * 28 * 4  # the stem's feature map is alive at every exit


@pytest.fixture(scope="module")
def saved_toys(tmp_path_factory):
    """An untrained toy, fp32 and int8, saved as variants for a fresh process to load."""
    d = tmp_path_factory.mktemp("variants")
    model = ToyMLP(ToyConfig(width=256, hidden=2048, num_stages=6)).eval()
    x, _, _ = toy_data(64, model.config, seed=3)
    compress.save_variant(model, "toy", {"base": None, "method": "fp32"}, d)
    compress.save_variant(compress.quantize_int8(model, [(x, None)]), "toy-int8", {"base": "toy", "method": "int8"}, d)
    return d


@pytest.mark.slow
def test_memory_of_a_variant_in_one_dataclass(saved_toys):
    """Resident growth is coarse (Linux counts resident pages in batches), so only its
    shape is checked; the allocator's figures are exact and positive."""
    m = memory.measure("toy-int8", compress.load_variant("toy-int8", saved_toys), repeats=2, rss=True,
                       directory=saved_toys)
    assert m.model == "toy-int8" and m.repeats == 2
    assert m.weights_total > 0 and m.checkpoint_bytes > m.weights_total  # + header and JSON config
    assert len(m.peak_bytes) == len(m.weights_to_exit) == len(m.rss_peak_bytes) == 6
    assert all(p > 0 for p in m.peak_bytes) and all(r >= 0 for r in m.rss_peak_bytes)
    assert m.to_dict()["weights"] == m.weights


@pytest.mark.slow
def test_a_model_that_cannot_load_is_said_in_words(tmp_path):
    with pytest.raises(ValueError, match="measuring the memory of nothing failed"):
        memory.rss_peaks("nothing", repeats=1, directory=tmp_path)
