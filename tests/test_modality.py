"""One object per modality: the import options each refuses, in one place, and the noisy
sets they make before a model's own processor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer import modality
from explorer.models.base import MultiExitModel
from explorer.workspace import ImportOptions, refusal


class Reader(MultiExitModel):
    """A model that reads files of `family`, and nothing else."""

    task, heads, num_exits, exit_names = "class", {"exit": "class"}, 2, ["a", "b"]

    def __init__(self, family: str, final_head_works: bool = True):
        super().__init__()
        self.family, self.final_head_works = family, final_head_works

    def prepare(self, raw):
        return torch.as_tensor(np.asarray(raw, np.float32))


@pytest.mark.parametrize(("family", "opts", "words"), [
    ("", ImportOptions(), "does not say how to read files"),
    ("image", ImportOptions(daisy=True), "DAISY cluster heads are for speech models"),
    ("image", ImportOptions(exits="trained", head="attention"), "needs a speech model"),
    ("speech", ImportOptions(head="attention"), "--exits trained or distilled"),
    ("speech", ImportOptions(shared_exit=True), "shared exit is for image models"),
])
def test_each_bad_combination_gets_its_sentence(family, opts, words):
    assert words in refusal(opts, Reader(family), "model.py:build")


def test_good_combinations_pass_and_a_model_without_final_head_exits_says_what_to_do():
    assert refusal(ImportOptions(daisy=True, exits="trained", head="attention"), Reader("speech"), "s") == ""
    assert refusal(ImportOptions(shared_exit=True), Reader("image"), "s") == ""
    assert "--exits trained" in refusal(ImportOptions(), Reader("image", final_head_works=False), "s")
    assert refusal(ImportOptions(exits="distilled"), Reader("image", final_head_works=False), "s") == ""


def test_a_family_string_names_one_object():
    assert modality.of("image") is modality.IMAGE and modality.of("speech") is modality.SPEECH
    assert modality.of("text") is modality.TEXT
    assert modality.IMAGE.quality.higher_is_better and not modality.SPEECH.quality.higher_is_better
    with pytest.raises(ValueError, match="no modality 'video'"):
        modality.of("video")


def test_noisy_clips_are_the_same_on_every_run_and_the_clean_set_is_untouched():
    model = Reader("speech")
    clips = [np.sin(np.linspace(0, 200, 8000)).astype(np.float32) * (i + 1) / 20 for i in range(3)]
    clean = modality.SPEECH.preparer(model, {})
    assert all(torch.equal(clean(c), model.prepare(c)) for c in clips)
    variant = modality.SPEECH.noise_axis(lambda: model).variant("white", 5)

    def noisy():
        prepare = modality.SPEECH.preparer(model, variant)
        return [prepare(c) for c in clips]
    first, again = noisy(), noisy()
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], first[1] / 2)  # each clip its own noise
    snr = [10 * np.log10((c ** 2).sum() / ((n.numpy() - c) ** 2).sum()) for c, n in zip(clips, first, strict=True)]
    assert np.allclose(snr, 5, atol=0.1)
