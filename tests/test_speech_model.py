"""The built-in speech model: front end, padding, training code and the shipped model."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from explorer import built_ins, checkpoint, criteria, zoo
from explorer.costs import count_macs
from explorer.engine import run_stream
from explorer.models.speech import VOCAB, SpeechConfig, SpeechEncoder

TOOLS = all(shutil.which(t) for t in ("espeak-ng", "flite", "text2wave"))
SHIPPED = checkpoint.exists(built_ins.SPEECH_CHECKPOINT)


def test_front_end_is_light_next_to_the_encoder():
    macs = count_macs(SpeechEncoder(SpeechConfig()))
    assert macs.front < macs.stage.mean()  # cheaper than one transformer layer
    path = macs.path(["ctc"], "ctc")
    assert macs.full("ctc") / path[0] > 3  # the first exit can be more than 3x cheaper than the full model


def test_a_clip_gives_the_same_answer_alone_and_in_a_padded_batch():
    model = SpeechEncoder(SpeechConfig()).eval()
    g = torch.Generator().manual_seed(0)
    short, long = 0.1 * torch.randn(17_000, generator=g), 0.1 * torch.randn(40_000, generator=g)
    with torch.no_grad():
        x, lengths = model.collate([short, long])
        both = model.embed(x, lengths)
        alone = model.embed(short[None])
        for k in range(model.num_exits):
            both, alone = model.stage(k, both), model.stage(k, alone)
        n = alone.h.shape[1]
        assert int(both.mask[0].sum()) == n
        torch.testing.assert_close(both.h[0, :n], alone.h[0], rtol=1e-4, atol=1e-4)


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    if not TOOLS:
        pytest.skip("speech synthesizers missing: run `make speech-tools`")
    out = tmp_path_factory.mktemp("corpus")
    run = subprocess.run([sys.executable, "-m", "explorer", "synth", "speech", "--train", "48", "--val", "12",
                          "--test-a", "8", "--test-b", "8", "--test-c", "4", "--test-d", "4", "--out", str(out)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    return out


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["joint", "two-stage"])
def test_training_runs_every_phase_and_saves_a_loadable_checkpoint(tiny_corpus, tmp_path, strategy):
    from explorer.train.speech import SpeechTrainConfig, train

    cfg = SpeechTrainConfig(strategy=strategy, pretrain_minutes=0.02, ctc_minutes=0.04, branch_minutes=0.02,
                            daisy_minutes=0.02, batch=8, kmeans_clips=40, val_clips=12)
    model, summary = train(cfg, corpus_dir=tiny_corpus, out=tmp_path / "speech", log=lambda _: None)
    # a mixed corpus: digits, carrier phrases and words the model does not know, labelled <unk>
    from explorer.data.speech_corpus import load_split

    labels = [u.text.split() for u in load_split("train", tiny_corpus)]
    assert any("<unk>" in words for words in labels) and any("<unk>" not in words for words in labels)
    assert model.describe([VOCAB.index("<unk>"), VOCAB.index("five")]) == "<unk> five"
    assert [h["after"] for h in summary["history"]] == ["pre-training", "CTC"]
    assert len(summary["history"][-1]["wer"]) == model.num_exits
    assert model.centroids.abs().sum() > 0  # k-means targets are part of the checkpoint
    again = checkpoint.load(SpeechEncoder, SpeechConfig, tmp_path / "speech")
    x = 0.1 * torch.randn(1, 20_000)
    with torch.no_grad():
        a, b = model.embed(x), again.embed(x)
        torch.testing.assert_close(model.head(0, model.stage(0, a), "ssl"), again.head(0, again.stage(0, b), "ssl"))


@pytest.mark.slow
def test_training_resumed_from_a_checkpoint_goes_on_from_its_weights_and_keeps_its_clusters(tiny_corpus, tmp_path):
    """`train speech --resume`: CTC goes on from the checkpoint (no k-means, no pre-training),
    the DAISY heads are trained again, and the summary keeps the earlier run's."""
    from explorer.train.speech import SpeechTrainConfig, train

    cfg = SpeechTrainConfig(pretrain_minutes=0.02, ctc_minutes=0.03, daisy_minutes=0.01, batch=8, kmeans_clips=40,
                            val_clips=12)
    first, _ = train(cfg, corpus_dir=tiny_corpus, out=tmp_path / "first", log=lambda _: None)
    more, summary = train(cfg, corpus_dir=tiny_corpus, out=tmp_path / "more", log=lambda _: None,
                          resume=tmp_path / "first")
    assert [h["after"] for h in summary["history"]] == ["CTC"] and "pre-train" not in summary["steps"]
    assert summary["resumed_from"]["steps"]["pre-train"] > 0
    torch.testing.assert_close(more.centroids, first.centroids)  # DAISY's targets are the same clusters
    assert not torch.equal(more.ctc[0][1].weight, first.ctc[0][1].weight)  # trained on from where it was


needs_shipped = pytest.mark.skipif(not SHIPPED, reason="no shipped speech checkpoint")


@needs_shipped
def test_shipped_model_recognizes_held_out_voices_and_exits_as_profiled():
    prof = zoo.profile("speech", "test_a")
    assert prof.exit_error(-1) < 0.10
    model = zoo.model("speech")
    inputs, _ = zoo.get("speech").data("test_a", limit=60)
    crit = criteria.get("ctc_entropy")
    thr = float(np.median(prof.cols["ctc_entropy"][:, 1]))
    expected = prof.exits(crit, thr)[:60]
    assert 0 < expected.mean() < prof.k - 1
    got = run_stream(model, inputs, crit, thr, prof.path(crit), batch=16)
    assert (got.exit == expected).mean() >= 0.98  # equal up to float rounding of padded batches


@pytest.mark.slow
@needs_shipped
def test_predict_cli_transcribes_a_synthesized_phone_number(tmp_path):
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng missing")
    wav = tmp_path / "number.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(wav), "five two oh nine"], check=True)
    data, rate = sf.read(wav)
    sf.write(tmp_path / "number.flac", data, rate)
    bad = tmp_path / "empty.wav"
    bad.write_bytes(b"")
    run = subprocess.run([sys.executable, "-m", "explorer", "predict", "--model", "speech",
                          str(tmp_path / "number.flac"), str(bad), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    good, empty = (json.loads(line) for line in run.stdout.strip().splitlines())
    assert good["per_exit"][-1]["prediction"] == "five two oh nine"
    # an early exit that heard less is said to disagree with the deeper ones (layer 1 drops the "oh" here)
    assert good["prediction"] == "five two oh nine" or good["cautions"][0].startswith("Deeper exits disagree")
    assert good["heard"] == f"Digits heard: {good['prediction']}."
    assert len(good["per_exit"]) == 6 and {"ctc_entropy", "ssl_entropy"} <= set(good["per_exit"][0])
    assert "error" in empty and Path(empty["file"]).name == "empty.wav"


def test_unknown_words_and_invented_digits_count_as_a_user_would():
    """Digit errors only: <unk> tokens never count, digits missed or invented always do."""
    model = SpeechEncoder(SpeechConfig())
    ids = [VOCAB.index(w) for w in "<unk> <unk> five oh two".split()]
    assert model.errors(ids, "<unk> <unk> <unk> five oh two") == (0, 3)  # one unknown word fewer: fine
    assert model.errors(ids[2:], "<unk> <unk> <unk> five oh two") == (0, 3)
    assert model.errors([VOCAB.index("five")], "<unk> <unk> <unk> five oh two") == (2, 3)  # two digits missed
    assert model.errors([VOCAB.index("one")], "<unk> <unk>") == (1, 2)  # a digit invented in speech without any
    assert model.errors([VOCAB.index("<unk>")], "<unk> <unk>") == (0, 2)
    assert model.heard("<unk> <unk>").startswith("No digits heard: the model only knows zero, oh, one")
    assert model.heard("<unk> five oh") == "Digits heard: five oh (1 other word shown as <unk>)."


@pytest.mark.slow
@needs_shipped
def test_predict_says_plainly_when_no_digit_was_heard(tmp_path):
    if not shutil.which("flite"):
        pytest.skip("flite missing")
    wav = tmp_path / "words.wav"
    subprocess.run(["flite", "-voice", "slt", "-t", "good afternoon, how is the weather", "-o", str(wav)], check=True)
    run = subprocess.run([sys.executable, "-m", "explorer", "predict", "--model", "speech", str(wav), "--json"],
                         capture_output=True, text=True, timeout=300)
    out = json.loads(run.stdout)
    assert out["heard"].startswith("No digits heard: the model only knows zero, oh, one")
    assert "<unk>" in out["prediction"].split()


def test_sets_c_and_d_are_registered_and_shipped_with_transcripts():
    from explorer.data.speech_eval import load_eval, said
    from explorer.data.speech_text import UNKNOWN, digits_of, label_of

    keys = {s.key: s.label for s in zoo.eval_sets("speech")}
    assert {"test_b", "test_c", "test_d"} <= set(keys) and "no digits" in keys["test_c"]
    for split in ("test_c", "test_d"):
        clips, labels, voices = load_eval(split)
        assert len(clips) == len(labels) == len(said(split)) >= 100
        assert all(label_of(words) == label for words, label in zip(said(split), labels, strict=True))
        assert all(v.split(":")[1] in {"slt", "ked_diphone", "cmu_us_slt_arctic_hts"} or v.startswith(
            ("espeak:en-029+", "espeak:en-gb-x-gbcwmd+")) for v in voices)  # never-trained voices only
    assert all(digits_of(t) == "" and UNKNOWN in t for t in load_eval("test_c")[1])
    assert all(digits_of(t) and UNKNOWN in t for t in load_eval("test_d")[1])


@needs_shipped
def test_shipped_report_says_how_the_model_treats_speech_it_does_not_know():
    from explorer.shipped import REPORTS
    from explorer.speech_sets import held_out_figures

    rep = json.loads((REPORTS / "speech.json").read_text())
    thresholds = {name: rep["recommended"][name]["threshold"] for name in ("ctc_entropy", "daisy", "patience")}
    fig = held_out_figures("speech", thresholds)  # from the shipped profiles: the report is their figures
    assert rep["oov_digit_rate"] == pytest.approx(fig["oov_digit_rate"])
    assert rep["carrier_wer"] == pytest.approx(fig["carrier_wer"])
    assert set(rep["per_set"]) == {"test_a", "test_b", "test_c", "test_d", "test_e"}
    assert 0 <= rep["final_wer_real"] == rep["per_set"]["test_e"]["final_wer"]
    assert rep["oov_digit_rate"] < 0.2  # most speech without digits yields no digit at all
    for name in ("ctc_entropy", "daisy"):
        assert rep["exit_on_unknown"][name]["finding"].startswith(name)


def test_the_speech_report_has_digit_wer_on_recordings_of_people():
    """Set (e)'s figures reach the report's top level, next to final_wer_unseen_voices."""
    from explorer.report import held_out_headline

    by_voice = {s: {f"v-{s}": 0.1} for s in ("test_a", "test_b", "test_c", "test_d")}
    by_voice["test_e"] = {"real:asterisk-allison": 0.25, "real:pocketsphinx-dhd": 0.2}
    held_out = {"final_wer_real": 0.24, "final_wer_real_by_voice": by_voice["test_e"], "oov_digit_rate": 0.1,
                "carrier_wer": 0.2, "oov_digit_rate_at_exit": {}, "by_voice": by_voice, "per_set": {},
                "exit_on_unknown": {}}
    head = held_out_headline(held_out)
    assert head["final_wer_real"] == 0.24
    assert head["final_wer_real_by_voice"] == {"real:asterisk-allison": 0.25, "real:pocketsphinx-dhd": 0.2}
    assert head["wer_by_voice"]["test_e/real:pocketsphinx-dhd"] == 0.2 and "test_d/v-test_d" in head["wer_by_voice"]


@needs_shipped
@pytest.mark.slow  # profiles set (e) where its profile is not shipped yet
def test_held_out_figures_give_digit_wer_on_recordings_of_people_per_voice():
    from explorer.speech_sets import held_out_figures

    fig = held_out_figures("speech", {"ctc_entropy": 0.5})
    assert fig["final_wer_real"] == fig["per_set"]["test_e"]["final_wer"] >= 0
    assert fig["per_set"]["test_e"]["clips"] == 65
    assert set(fig["final_wer_real_by_voice"]) == {"real:asterisk-allison", "real:pocketsphinx-dhd",
                                                   "real:pocketsphinx-cards"}
