"""The user's labelled folders: every layout, a stable split, and a sentence for every bad case."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf
from hf_tiny import image_folder, librispeech_folder, waves

from explorer.errors import InputError
from explorer.folders import load_part, match_labels, scan
from explorer.modality import IMAGE, SPEECH


def _ident(x):
    return x


def test_imagefolder_and_metadata_csv(tmp_path):
    root = image_folder(tmp_path / "a", labels=("cat", "dog"), per_class=10)
    f = scan(root, IMAGE)
    assert f.layout == "imagefolder" and len(f.files) == 20 and set(f.targets) == {"cat", "dog"}
    assert {"train", "calib", "test"} == set(f.split)
    (root / "metadata.csv").write_text("file_name,label\n" + "".join(
        f"{p},{t.upper()}\n" for p, t in zip(f.files, f.targets, strict=True)))
    g = scan(root, IMAGE)
    assert g.layout == "metadata.csv" and g.split == f.split  # the split follows the path only
    assert match_labels(g.targets, ["cat", "dog"]) == [0 if t == "CAT" else 1 for t in g.targets]


def test_split_is_stable_when_files_are_added_and_limit_picks_the_same_files(tmp_path):
    root = image_folder(tmp_path / "a", per_class=10)
    before = dict(zip(scan(root, IMAGE).files, scan(root, IMAGE).split, strict=True))
    image_folder(tmp_path / "a", labels=("nine",), per_class=5)
    after = dict(zip(scan(root, IMAGE).files, scan(root, IMAGE).split, strict=True))
    assert all(after[f] == s for f, s in before.items())
    small = scan(root, IMAGE, limit=7)
    assert len(small.files) == 7 and small.files == scan(root, IMAGE, limit=7).files
    assert {"calib", "test"} <= set(small.split)


def test_speech_layouts(tmp_path):
    root = librispeech_folder(tmp_path / "ls", n=6)
    f = scan(root, SPEECH)
    assert f.layout == "librispeech" and len(f.files) == 6 and all(t for t in f.targets)
    audio = tmp_path / "af"
    audio.mkdir()
    rows = []
    for i, w in enumerate(waves(4)):
        sf.write(audio / f"c{i}.wav", w, 8000)  # any rate: resampled by the upload decoder
        rows.append(f"c{i}.wav,one two\n")
    (audio / "metadata.csv").write_text("file_name,transcription\n" + "".join(rows))
    g = scan(audio, SPEECH)
    assert g.layout == "metadata.csv" and g.targets == ["one two"] * 4
    got = load_part(g, "test", _ident, rate=16_000)
    assert all(isinstance(x, np.ndarray) and x.dtype == np.float32 for x in got.inputs)


@pytest.mark.parametrize(("make", "kind", "words"), [
    (lambda p: None, IMAGE, "subfolder per class"),
    (lambda p: (p / "loose.png").write_bytes(b"x"), IMAGE, "move them into one subfolder per class"),
    (lambda p: (p / "metadata.csv").write_text("path,class\na.png,cat\n"), IMAGE, "file_name and label"),
    (lambda p: (p / "metadata.csv").write_text("file_name,label\ngone.png,cat\n"), IMAGE, "missing"),
    (lambda p: None, SPEECH, "no recordings"),
    (lambda p: sf.write(p / "a.flac", waves(1)[0], 16000), SPEECH, "no transcripts"),
    (lambda p: (p / "metadata.csv").write_text("file_name,text\na.wav,x\n"), SPEECH, "transcription"),
])
def test_bad_folders_get_a_sentence(tmp_path, make, kind, words):
    make(tmp_path)
    with pytest.raises(InputError, match=words):
        scan(tmp_path, kind)


def test_missing_folder_and_bad_fractions(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        scan(tmp_path / "nope", IMAGE)
    with pytest.raises(InputError, match="fractions"):
        scan(tmp_path, IMAGE, train_fraction=0.6, calib_fraction=0.5)


def test_unreadable_files_are_skipped_counted_and_named(tmp_path, caplog):
    root = image_folder(tmp_path / "a", per_class=6)
    (root / "one" / "broken.png").write_text("not a picture")
    f = scan(root, IMAGE)
    part = f.split[f.files.index(next(p for p in f.files if p.name == "broken.png"))]
    with caplog.at_level(logging.WARNING):
        got = load_part(f, part, _ident, ["zero", "one", "two"])
    assert [s[0] for s in got.skipped] == ["one/broken.png"]
    assert got.skipped[0][1] == "This file is a text file, not a picture."
    assert "broken.png" in caplog.text
    assert len(got.inputs) == f.split.count(part) - 1


def test_transcripts_without_audio_are_counted(tmp_path, caplog):
    root = librispeech_folder(tmp_path / "ls", n=4)
    trans = next(root.rglob("*.trans.txt"))
    trans.write_text(trans.read_text() + "19-198-9999 NINE\n")
    with caplog.at_level(logging.WARNING):
        f = scan(root, SPEECH)
    assert len(f.files) == 4 and f.missing == ["19/198/19-198-9999"]
    assert "19-198-9999" in caplog.text


def test_unknown_labels_name_both_sides():
    with pytest.raises(InputError, match=r"unknown to the model: kitten.*model's labels are: cat, dog"):
        match_labels(["cat", "kitten"], ["cat", "dog"])
    assert match_labels(["0", "1"], ["LABEL_0", "LABEL_1"]) == [0, 1]
