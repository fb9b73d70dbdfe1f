"""The prediction record the pages and `predict` share: exits counted from 1, live
timings as medians with spread, and cautions when an early answer may be wrong."""

import numpy as np
from conftest import needs_image

from explorer import zoo
from explorer.predict import Prediction, predict_input
from explorer.quality import ACCURACY
from explorer.speedup import Speedup, Timing


def record(answers, confidence, exit_):
    k = len(answers)
    return Prediction("image", "confidence", 0.5, exit_, answers[exit_], tuple(f"block {j + 1}" for j in range(k)),
                      tuple(answers), {"confidence": np.array(confidence)}, None, 0.2,
                      Speedup(Timing((4.0,) * 5), Timing((1.0,) * 5), 5.0), 0.0, ACCURACY)


def test_a_confident_first_exit_that_deeper_exits_contradict_gets_a_caution():
    p = record(["8", "4", "4"], [0.94, 0.7, 0.9], 0)
    assert p.exit_number == 1
    [caution] = p.cautions()
    assert "final exit would answer “4”" in caution and "overconfident" in caution


def test_an_unsure_final_exit_says_the_input_looks_unlike_the_training_data():
    assert "unlike the training data" in " ".join(record(["0", "0", "0"], [0.9, 0.5, 0.4], 0).cautions())
    assert "Confidence falls" in " ".join(record(["0", "0", "0"], [0.99, 0.8, 0.65], 0).cautions())
    assert record(["3", "3", "3"], [0.95, 0.97, 0.99], 0).cautions() == []


@needs_image
def test_a_real_input_at_the_first_exit_is_timed_and_warned_about_when_deeper_exits_disagree():
    prof = zoo.profile("image", "test")
    disagree = np.nonzero(prof.cols["pred"][:, 0] != prof.cols["pred"][:, -1])[0][:2]
    agree = np.nonzero(prof.cols["pred"][:, 0] == prof.cols["pred"][:, -1])[0][:1]
    inputs, _ = zoo.get("image").data("test")
    for i in [*disagree, *agree]:
        p = predict_input("image", inputs[i], "confidence", 0.0)  # any confidence passes: the first exit
        assert p.exit_number == 1 and len(p.speedup.exit.runs_ms) >= 3 and p.to_json()["exit"] == 1
        assert p.probabilities.shape == (6, 10) and np.allclose(p.probabilities.sum(1), 1)
        assert any("Deeper exits disagree" in c for c in p.cautions()) == (i in disagree)
