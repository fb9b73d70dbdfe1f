"""Issue 26 items 4 and 5: cautions from one function wherever an answer is shown (the live
pages, speech included, and every batch row), and batch columns by the kind of answer."""

import io
import zipfile
from pathlib import Path

import numpy as np
from conftest import needs_image, needs_speech
from input_corpus import digit_image, encode_audio, encode_image

from explorer import batch
from explorer.cautions import DISAGREE, EMPTY, NEVER_SURE, UNSURE, cautions
from ui.live_shared import BATCH

EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"


def _starts(found: list[str]) -> set[str]:
    return {c.split(":")[0].split(" (")[0] for c in found}


def test_a_speech_model_never_sure_at_any_layer_is_warned_about():
    """A noise recording: CTC entropy 6-8× τ at every layer, an empty transcript at the last."""
    entropy = {"ctc_entropy": np.array([0.6, 0.55, 0.5, 0.52, 0.48, 0.45])}
    found = cautions(["", "", "", "", "", ""], entropy, 5, "ctc_entropy", 0.0765)
    assert _starts(found) == {NEVER_SURE, EMPTY}
    assert "τ = 0.0765" in found[1] and "best 0.45" in found[1]


def test_a_transcript_that_loses_a_word_because_no_layer_is_sure_is_warned_about():
    """The issue's "eight of spades ...": never below τ, so the last layer answers by default."""
    said = ["four clubs", "four", "four seven", "four seven", "four seven", "four seven"]
    found = cautions(said, {"ctc_entropy": np.full(6, 0.3)}, 5, "ctc_entropy", 0.0765)
    assert _starts(found) == {NEVER_SURE}


def test_a_sure_answer_gets_no_caution_and_a_contradicted_one_does():
    sure = {"ctc_entropy": np.array([0.01, 0.01, 0.02, 0.01, 0.01, 0.01])}
    assert cautions(["six nine"] * 6, sure, 0, "ctc_entropy", 0.0765) == []
    assert _starts(cautions(["six five"] + ["six nine"] * 5, sure, 0, "ctc_entropy", 0.0765)) == {DISAGREE}
    # a classifier: the same function, its confidence read too
    unsure = {"confidence": np.array([0.3, 0.35, 0.4])}
    assert _starts(cautions(["0", "6", "6"], unsure, 2, "confidence", 0.8)) == {NEVER_SURE, UNSURE}


@needs_speech
def test_live_speech_warns_about_a_noise_recording(open_page):
    noise = np.random.default_rng(0).normal(0, 0.2, 32_000).astype(np.float32)
    at = open_page("live_speech", model="speech")
    at.radio[0].set_value("Upload").run()
    at.file_uploader[0].set_value([("noise.wav", encode_audio(noise, 16_000), "audio/wav")]).run()
    assert not at.exception, at.exception
    warned = " ".join(w.value for w in at.warning)
    assert NEVER_SURE in warned, warned


def _scene() -> bytes:
    """A photo of no digit at all: smooth colour, the kind a phone takes of a room."""
    y, x = np.mgrid[0:300, 0:400] / 300
    rgb = np.stack([0.5 + 0.4 * np.sin(6 * x), 0.4 + 0.3 * np.cos(5 * y), 0.3 + 0.2 * np.sin(3 * x * y)], -1)
    from PIL import Image

    return encode_image(Image.fromarray(np.uint8(rgb * 255)), "JPEG")


@needs_image
def test_an_image_batch_warns_each_row_as_a_single_upload_would_and_shows_confidence_once():
    files = [("scene.jpg", _scene()), ("7.png", encode_image(digit_image()))]
    result = batch.run("image", files, "confidence", 0.817, timed=False)
    scene, seven = result.rows
    assert scene.cautions and not seven.cautions  # alone, the scene is warned about: so is its row
    table = result.table()
    assert list(table.columns).count("confidence") == 1 and "confidence score" not in table.columns
    assert list(table["changed by exiting early"]) == [scene.answer != scene.final_answer, False]
    assert table["cautions"][0] and not table["cautions"][1]
    assert result.quality_text() == ("Accuracy, where the truth is known (1 of 2)", "100.0%")


@needs_speech
def test_a_speech_batch_scores_by_wer_and_shows_the_transcript_at_the_exit_and_at_full_depth():
    clips = {"a.flac": "speech-test_a-0.flac", "b.flac": "speech-test_a-2.flac"}
    z = io.BytesIO()
    with zipfile.ZipFile(z, "w") as f:
        for name, src in clips.items():
            f.writestr(name, (EXAMPLES / src).read_bytes())
        f.writestr("metadata.csv", "file_name,transcription\na.flac,six nine\nb.flac,four five two three\n")
    result = batch.run("speech", [("clips.zip", z.getvalue())], "ctc_entropy", 0.0765, timed=False)
    table = result.table("transcript")
    assert "confidence" not in table.columns and "right" not in table.columns
    assert {"transcript at the exit", "transcript at full depth", "changed by exiting early", "WER (%)",
            "cautions"} <= set(table.columns)
    errors = sum(r.errors for r in result.rows)
    assert table["WER (%)"].notna().all()
    label, figure = result.quality_text()
    assert label.startswith("WER") and figure == f"{errors / 6:.1%}"  # 2 + 4 reference words, pooled
    for r, row in zip(result.rows, table.itertuples(), strict=True):
        assert row[5] == (r.answer != r.final_answer)  # "changed by exiting early"
        assert bool(r.cautions) == (DISAGREE in row.cautions or NEVER_SURE in row.cautions or EMPTY in row.cautions)


@needs_image
def test_the_batch_page_shows_the_cautions_column(open_page):
    at = open_page("live_image", model="image")
    at.radio[0].set_value(BATCH).run()
    at.file_uploader[0].set_value([("scene.jpg", _scene(), "image/jpeg"),
                                   ("7.png", encode_image(digit_image()), "image/png")]).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["cautions"][0] and "changed by exiting early" in table.columns
    assert any("come with a caution" in w.value for w in at.warning)
    assert not any(m.proto.delta for m in at.metric)  # no note drawn as a change (the ideal speedup had an arrow)
    assert any("By MACs (ideal)" in c.value for c in at.caption)

