"""Where the speech model's errors are (explorer.speech_errors): the edits it counts, and the
tables a person reads."""

import json

import jiwer
import numpy as np
import pytest
import torch

from explorer import built_ins, checkpoint, speech_errors
from explorer.__main__ import main
from explorer.data.speech_text import digit_edits, digit_errors
from explorer.metrics import word_edits, word_errors
from explorer.models.speech import VOCAB, SpeechConfig, SpeechEncoder
from explorer.shipped import REPORTS
from explorer.speech_errors import ClipResult, EvalClip

SHIPPED = checkpoint.exists(built_ins.SPEECH_CHECKPOINT)


@pytest.mark.parametrize("ref, hyp, s, d, i", [
    ("one two three", "one two three", 0, 0, 0),
    ("one two three", "one three", 0, 1, 0),  # a digit dropped
    ("one two three", "one two three four", 0, 0, 1),  # a digit invented
    ("one two three", "one nine three", 1, 0, 0),  # heard wrong
    ("five five oh two", "five oh two two nine", 0, 1, 2),
    ("four four", "", 0, 2, 0),
    ("seven", "one two", 1, 0, 1),
])
def test_substitutions_deletions_and_insertions_add_up_to_the_wer_edit_distance(ref, hyp, s, d, i):
    e = word_edits(hyp, ref)
    assert (e.substitutions, e.deletions, e.insertions) == (s, d, i)
    assert e.errors == word_errors(hyp, ref)[0] == round(jiwer.wer(ref, hyp or "") * len(ref.split()))
    assert len(e.substituted) == s and len(e.deleted) == d and len(e.inserted) == i


def test_which_digits_are_swapped_dropped_and_invented():
    e = word_edits("one nine three eight", "one two three")
    assert e.substituted == (("two", "nine"),) and e.inserted == ("eight",) and e.deleted == ()
    assert word_edits("three", "three three").deleted == ("three",)


def test_digit_edits_leave_other_words_out_as_the_model_counts_them():
    e, n = digit_edits("<unk> five", "<unk> <unk> five oh")  # the carrier phrase is not counted
    assert (e.deletions, e.errors, n) == (1, 1, 2) and e.deleted == ("oh",)
    e, n = digit_edits("<unk> eight", "<unk> <unk> <unk>")  # no digit said: per word spoken
    assert (e.insertions, n) == (1, 3) and e.inserted == ("eight",)
    model = SpeechEncoder(SpeechConfig())
    answer = tuple(VOCAB.index(w) for w in "<unk> nine two".split())
    assert model.errors(answer, "<unk> five oh two") == digit_errors("<unk> nine two", "<unk> five oh two") == (2, 3)


def _result(voice: str, ref: str, hyps: tuple[str, ...], set_name: str = "test_b") -> ClipResult:
    edits, words = zip(*(digit_edits(h, ref) for h in hyps), strict=True)
    return ClipResult(set_name, 0, voice, "plain", "digits", 1.0, 1.0, 1.5, ref, ref, words[0], hyps, edits,
                      (0.1,) * len(hyps), (0.5,) * len(hyps))


def test_summary_gives_per_voice_and_per_exit_rows_a_person_reads():
    results = [
        _result("flite:slt", "four two", ("five", "five two")),  # layer 1: S + D; layer 2: S
        _result("flite:slt", "one", ("one", "one")),
        _result("espeak:en-029+whisperf", "three oh", ("oh", "three")),  # D at both layers
        _result("espeak:en-029+Mike", "six", ("six seven", "six")),  # I fixed by layer 2
    ]
    s = speech_errors.summarise(results)
    slt, whisper = s["by_voice"]["flite:slt"], s["by_voice"]["espeak:en-029+whisperf"]
    assert (slt["clips"], slt["words"], slt["S"], slt["D"], slt["I"], slt["wer"]) == (2, 3, 1, 0, 0, round(1 / 3, 4))
    assert (whisper["D"], whisper["wer"]) == (1, 0.5)
    assert s["by_variant"]["whisperf"]["clips"] == 1 and s["by_accent"]["en-029"]["clips"] == 2
    assert [(e["S"], e["D"], e["I"]) for e in s["exits"]] == [(1, 2, 1), (1, 1, 0)]
    assert s["exits"][0]["wer"] == round(4 / 6, 4) and s["exits"][1]["wer"] == round(2 / 6, 4)
    assert s["confusions"]["substituted"] == {"four -> five": 1} and s["confusions"]["deleted"] == {"oh": 1}
    assert s["top_edits_by_voice"]["flite:slt"] == {"four -> five": 1}
    assert s["persistence"]["wrong_final_wrong_at_1"] == 1.0 and s["persistence"]["fixed_after_1"] == round(1 / 3, 4)

    text = speech_errors.markdown({"sets": {"test_b": s}})
    assert "| flite:slt | 33.3% (2) |" in text and "| whisperf | 50.0% (1) |" in text
    assert "four -> five x1" in text


def test_a_tiny_model_is_read_at_every_exit_as_its_own_error_count_says():
    torch.manual_seed(0)
    model = SpeechEncoder(SpeechConfig(conv_channels=4, d_model=16, heads=2, ffn=32, layers=2, clusters=4)).eval()
    rng = np.random.default_rng(0)
    clips = [EvalClip(0.1 * rng.standard_normal(n).astype(np.float32), ref, ref, voice)
             for n, ref, voice in ((8000, "one two", "flite:slt"), (12000, "three", "espeak:en-029+m8"),
                                   (6000, "<unk> <unk>", "flite:slt"))]
    results = speech_errors.analyse(model, clips, "tiny", batch=2)
    assert [r.voice for r in results] == [c.voice for c in clips]  # in the clips' order, whatever the batching
    for r, c in zip(results, clips, strict=True):
        assert len(r.hypotheses) == len(r.edits) == len(r.ctc_loss) == len(r.ctc_entropy) == 2
        with torch.no_grad():
            alone = speech_errors.analyse(model, [c], "alone")[0]
        assert alone.hypotheses == r.hypotheses  # padded or alone: the same transcripts
        assert [e.errors for e in r.edits] == [digit_errors(h, c.reference)[0] for h in r.hypotheses]
    rows = speech_errors.summarise(results)["by_voice"]
    assert set(rows) == {"flite:slt", "espeak:en-029+m8"} and rows["flite:slt"]["clips"] == 2


@pytest.mark.slow  # reads a whole shipped set with the shipped model (~5 s)
@pytest.mark.skipif(not SHIPPED, reason="the shipped speech model is missing")
def test_command_matches_the_shipped_report_on_unseen_voices(tmp_path, capsys):
    out = tmp_path / "errors.json"
    assert main(["report", "speech-errors", "--sets", "test_b", "--out", str(out), "--json"]) == 0
    rep = json.loads(out.read_text())
    shipped = json.loads((REPORTS / "speech.json").read_text())
    final = rep["sets"]["test_b"]["exits"][-1]
    assert final["wer"] == round(shipped["final_wer_unseen_voices"], 4)
    assert final["S"] + final["D"] + final["I"] == round(shipped["final_wer_unseen_voices"] * final["words"])
    by_voice = {f"test_b/{v}": r["wer"] for v, r in rep["sets"]["test_b"]["by_voice"].items()}
    assert by_voice == {k: round(v, 4) for k, v in shipped["wer_by_voice"].items() if k.startswith("test_b/")}
    assert json.loads(capsys.readouterr().out)["sets"]["test_b"]["clips"] == 200
    assert main(["report", "speech-errors", "--ship"]) == 2  # never over the shipped assets


def test_recordings_of_people_are_a_named_set_of_never_trained_voices():
    assert "test_e" in speech_errors.SETS and "test_e" in speech_errors.UNSEEN
    clips = speech_errors.load_set("test_e")
    assert len(clips) == 65 and all(c.voice.startswith("real:") for c in clips)
    assert {c.kind for c in clips} == {"digits", "digits among other words"}
    assert next(c for c in clips if c.said == "two nine three four zero").kind == "digits"
