"""The synthesized speech corpus: voice-disjoint splits, clean labels (digits and unknown
words), held-out sets (c) and (d), voice styles, determinism, augmentation."""

import io
import json
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from explorer.__main__ import main as cli
from explorer.audio import RATE
from explorer.data import speech_augment as sa
from explorer.data import speech_corpus as sc
from explorer.data import speech_eval as se
from explorer.data import speech_text as stx
from explorer.data import speech_voices as sv
from explorer.errors import InputError
from explorer.noise import NOISE_TYPES, TEST_SNRS_DB

_MISSING = [p for p in ("espeak-ng", "flite", "festival") if shutil.which(p) is None]
needs_tts = pytest.mark.skipif(bool(_MISSING), reason=f"TTS programs not installed ({', '.join(_MISSING)}); "
                                                      "run `make speech-tools`")
SIZES = {"train": 30, "val": 8, "test_a": 8, "test_b": 12, "test_c": 10, "test_d": 10}


def _speech_like(seconds=1.5, f0=120.0):
    t = np.arange(int(RATE * seconds)) / RATE
    voiced = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 20))
    return (0.2 * voiced * (np.sin(2 * np.pi * 3 * t) > -0.5)).astype(np.float32)


def _dominant_hz(x):
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(spectrum)]


# --- The voice table and the plan (no TTS needed) ----------------------------------------------


def _voices(split):
    return {(v.engine, v.name) for v in sv.voice_table() if v.split == split}


def _apart(a, b):
    """Splits that must not share a voice: all but the unseen-voice sets (b), (c), (d),
    which are spoken by the same never-trained voices."""
    return not {a, b} <= set(sv.UNSEEN_VOICE_SPLITS)


def test_espeak_voices_are_disjoint_across_all_splits():
    names = {s: {n for e, n in _voices(s) if e == "espeak"} for s in sv.SPLITS}
    for i, a in enumerate(sv.SPLITS):
        for b in sv.SPLITS[i + 1:]:
            assert not _apart(a, b) or not names[a] & names[b], (a, b)


def test_test_b_voices_and_speakers_are_never_trained_on():
    train = [v for v in sv.voice_table() if v.split == "train"]
    test_b = [v for v in sv.voice_table() if v.split == "test_b"]
    assert not _voices("test_b") & _voices("train")
    assert not {v.speaker for v in test_b} & {v.speaker for v in train}
    for engine in sv.ENGINES:  # at least one unseen whole voice per engine
        assert any(v.engine == engine for v in test_b), engine
    train_accents = {v.name.split("+")[0] for v in train if v.engine == "espeak"}
    assert {v.name.split("+")[0] for v in test_b if v.engine == "espeak"}.isdisjoint(train_accents)


def test_val_and_test_a_hold_out_combinations_and_settings_not_voices_parts():
    train = [v for v in sv.voice_table() if v.split == "train"]
    accents = {v.name.split("+")[0] for v in train if v.engine == "espeak"}
    variants = {v.name.split("+")[1] for v in train if v.engine == "espeak"}
    for split in ("val", "test_a"):
        for v in (v for v in sv.voice_table() if v.split == split):
            if v.engine == "espeak":  # an unseen pair of a seen accent and a seen variant
                accent, variant = v.name.split("+")
                assert accent in accents and variant in variants
            else:  # a training flite/festival voice, at speeds (and pitches) never trained on
                assert ("train", v.engine, v.name) in {("train", t.engine, t.name) for t in train}
            assert not set(v.speeds) & set(sv.SPEEDS["train"])
            assert v.pitches == (1.0,) or not set(v.pitches) & set(sv.PITCHES["train"])


def test_no_rendering_is_shared_between_splits():
    """(engine, voice, speed, pitch) combinations never repeat across splits."""
    renderings = {s: {(v.engine, v.name, sp, p) for v in sv.voice_table() if v.split == s
                      for sp in v.speeds for p in v.pitches} for s in sv.SPLITS}
    for i, a in enumerate(sv.SPLITS):
        for b in sv.SPLITS[i + 1:]:
            assert not _apart(a, b) or not renderings[a] & renderings[b], (a, b)


def test_plan_is_deterministic_and_uses_only_the_vocabulary():
    plan = sc.make_plan(SIZES, seed=3)
    assert plan == sc.make_plan(SIZES, seed=3)
    assert [s.text for s in plan] != [s.text for s in sc.make_plan(SIZES, seed=4)]
    assert {s.split: sum(t.split == s.split for t in plan) for s in plan} == SIZES
    for spec in plan:
        words = spec.text.split()
        assert words and set(words) <= set(stx.VOCABULARY)
        assert spec.spoken.replace(",", "").split() == spec.said.split()
        assert stx.label_of(spec.said) == spec.text
        if spec.kind == "digits":
            assert len(words) <= stx.MAX_WORDS and spec.said == spec.text
        assert (spec.engine, spec.voice) in _voices(spec.split)
    big = sc.make_plan({"train": 3000}, seed=0)
    assert {w for s in big for w in s.text.split()} == set(stx.VOCABULARY)
    assert {len(s.text.split()) for s in big if s.kind == "digits"} == set(range(1, 8))
    shares = {e: sum(s.engine == e for s in big) / len(big) for e in sv.ENGINES}
    assert shares == pytest.approx(sv.ENGINE_SHARES["train"], abs=0.001)


def test_voice_table_prints_for_people():
    text = sv.format_voice_table()
    for needle in ("train (", "test_b (", "test_c (words)", "flite", "festival", "slt", "ked_diphone", "en-029",
                   "whisper"):
        assert needle in text


def test_missing_tts_programs_give_a_clear_error(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(sc.shutil, "which", lambda name: None)
    with pytest.raises(InputError, match="make speech-tools"):
        sc.check_speech_tools()
    assert cli(["synth", "speech", "--train", "2", "--val", "0", "--test-a", "0", "--test-b", "0", "--test-c", "0",
                "--test-d", "0", "--out", str(tmp_path / "c")]) == 2
    assert "make speech-tools" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


def test_loading_an_unbuilt_corpus_says_how_to_build_it(tmp_path):
    with pytest.raises(InputError, match="synth speech"):
        sc.load_split("train", tmp_path / "nothing")
    with pytest.raises(InputError, match="Unknown split"):
        sc.load_split("testing", tmp_path)


# --- Augmentation and noisy test sets (no TTS needed) -----------------------------------------


def test_augment_keeps_length_and_values_sane_and_is_pure():
    clip = _speech_like()
    pool = [_speech_like(1.0, f0) for f0 in (100, 150, 210, 260)]
    for seed in range(40):
        out = sa.augment(clip, np.random.default_rng(seed), pool)
        assert out.dtype == np.float32 and out.ndim == 1
        assert 0.85 * len(clip) <= len(out) <= 1.15 * len(clip)
        assert np.all(np.isfinite(out)) and np.max(np.abs(out)) <= 1.0 + 1e-6
        np.testing.assert_array_equal(out, sa.augment(clip, np.random.default_rng(seed), pool))
    assert not np.array_equal(sa.augment(clip, np.random.default_rng(0)), sa.augment(clip, np.random.default_rng(1)))
    np.testing.assert_array_equal(clip, _speech_like())  # the input is left alone


def test_voice_warp_moves_pitch_but_keeps_duration():
    clip = _speech_like(f0=120.0)
    warped = sa.warp_voice(clip, 1.1)
    assert abs(len(warped) - len(clip)) <= 1
    assert _dominant_hz(warped) == pytest.approx(132, abs=3)
    stretched = sa.time_stretch(clip, 0.8)  # slower: longer, same pitch
    assert len(stretched) == round(len(clip) / 0.8)
    assert _dominant_hz(stretched) == pytest.approx(120, abs=3)
    faster = sa.change_speed(clip, 1.1)
    assert len(faster) == pytest.approx(len(clip) / 1.1, abs=2)


def test_noisy_versions_cover_every_type_and_snr_deterministically():
    clip = _speech_like()
    versions = se.noisy_versions(clip, seed=5)
    assert set(versions) == {(k, s) for k in NOISE_TYPES for s in TEST_SNRS_DB}
    again = se.noisy_versions(clip, seed=5)
    for key, noisy in versions.items():
        assert noisy.shape == clip.shape and np.all(np.isfinite(noisy))
        np.testing.assert_array_equal(noisy, again[key])
    for kind in NOISE_TYPES:  # lower SNR: further from the clean clip
        errors = [np.mean((versions[(kind, s)] - clip) ** 2) for s in TEST_SNRS_DB]
        assert errors == sorted(errors)
        noise = versions[(kind, 20)] - clip  # unscaled at 20 dB: exactly the SNR asked for
        assert 10 * np.log10(np.mean(clip.astype(float) ** 2) / np.mean(noise.astype(float) ** 2)) == \
            pytest.approx(20, abs=0.1)


# --- A tiny real corpus (needs espeak-ng, flite, festival) ------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    if _MISSING:
        pytest.skip(f"TTS programs not installed ({', '.join(_MISSING)}); run `make speech-tools`")
    out = tmp_path_factory.mktemp("speech") / "tiny"
    assert cli(["synth", "speech", *[f"--{k.replace('_', '-')}={n}" for k, n in SIZES.items()],
                "--seed", "1", "--workers", "2", "--out", str(out)]) == 0
    return out


@pytest.mark.slow
@needs_tts
def test_corpus_has_every_split_at_16khz_with_clean_labels(corpus):
    info = json.loads((corpus / "corpus.json").read_text())
    assert info["sizes"] == SIZES and set(info["tools"]) == {"espeak-ng", "flite", "festival"}
    for split, n in SIZES.items():
        utts = sc.load_split(split, corpus)
        assert len(utts) == n
        for u in utts:
            x = u.samples
            assert x.dtype == np.float32 and x.ndim == 1 and np.all(np.isfinite(x))
            assert 0.2 < len(x) / RATE < 10.0  # 16 kHz: 1-7 digits (in a phrase) last this long
            assert 0.5 < np.max(np.abs(x)) <= 0.91
            assert set(u.text.split()) <= set(stx.VOCABULARY)
            assert (u.engine, u.voice) in _voices(split)


@pytest.mark.slow
@needs_tts
def test_corpus_splits_share_no_voice_rendering(corpus):
    seen = {}
    for split in SIZES:
        for u in sc.load_split(split, corpus):
            seen.setdefault((u.engine, u.voice, u.speed, u.pitch), set()).add(split)
    assert all(len(splits) == 1 or splits <= set(sv.UNSEEN_VOICE_SPLITS) for splits in seen.values())
    train_voices = {(u.engine, u.voice) for u in sc.load_split("train", corpus)}
    for split in sv.UNSEEN_VOICE_SPLITS:
        assert not train_voices & {(u.engine, u.voice) for u in sc.load_split(split, corpus)}


@pytest.mark.slow
@needs_tts
def test_corpus_is_deterministic_for_a_seed(corpus):
    plan = sc.make_plan(SIZES, seed=1)
    loaded = [u for split in SIZES for u in sc.load_split(split, corpus)]
    assert [(u.id, u.text, u.said, u.kind, u.style, u.engine, u.voice, u.speed, u.pitch) for u in loaded] == \
        [(s.id, s.text, s.said, s.kind, s.style, s.engine, s.voice, s.speed, s.pitch) for s in plan]
    by_id = {u.id: u for u in loaded}
    for engine in sv.ENGINES:  # synthesizing again gives the same audio, voice styles included
        for spec in [next(s for s in plan if s.engine == engine), next(s for s in plan if s.style == "whisper")]:
            [(_, again)] = sc.synthesize_batch([spec])
            np.testing.assert_array_equal(again, by_id[spec.id].pcm)


@pytest.mark.slow
@needs_tts
def test_augmenting_real_clips(corpus):
    utts = sc.load_split("train", corpus)
    pool = [u.samples for u in utts[10:]]
    for i, u in enumerate(utts[:10]):
        out = sa.augment(u.samples, np.random.default_rng(i), pool)
        assert 0.85 * len(u.samples) <= len(out) <= 1.15 * len(u.samples)
        assert np.all(np.isfinite(out))


@pytest.mark.slow
@needs_tts
def test_an_existing_corpus_is_not_rebuilt(corpus):
    before = (corpus / "train.npy").stat().st_mtime_ns
    assert sc.build_corpus(SIZES, seed=1, out=corpus, progress=False) == corpus
    assert (corpus / "train.npy").stat().st_mtime_ns == before


@needs_tts
@pytest.mark.parametrize("accent", list(sv.ESPEAK_ACCENTS))
def test_every_espeak_accent_applies_voice_variants(accent):
    """espeak-ng quietly ignores a variant for some voice names (e.g. en-gb+f2)."""
    def say(voice):
        out = subprocess.run(["espeak-ng", "-v", voice, "--stdout", "one two"], capture_output=True, check=True)
        return sf.read(io.BytesIO(out.stdout))[0]

    assert not np.array_equal(say(f"{accent}+m3"), say(f"{accent}+f4"))


# --- Unknown words, held-out sets (c) and (d), voice styles ----------------------------------


def test_labels_spell_digits_as_digits_and_every_other_word_as_unknown():
    assert stx.label_of("My number is five, oh two!") == "<unk> <unk> <unk> five oh two"
    assert stx.label_of("hello world") == "<unk> <unk>"
    assert stx.UNKNOWN in stx.VOCABULARY and set(stx.WORDS) < set(stx.VOCABULARY)


def test_unknown_words_never_sound_like_digits():
    if not stx.WORD_LIST.is_file():
        pytest.skip("Debian's wamerican word list is not installed; run `make speech-tools`")
    words = set(stx.dictionary_words())
    assert len(words) > 10_000
    for homophone in ("to", "too", "for", "won", "ate", "oh", "owe", "zero", "one", "someone", "fortune", "seventeen"):
        assert homophone not in words
    for sentence in stx.SENTENCES:
        assert stx.digits_of(stx.label_of(sentence)) == "", sentence


def test_training_mixes_digits_carrier_phrases_and_other_words_in_every_voice_style():
    plan = sc.make_plan({"train": 3000}, seed=0)
    kinds = {k: sum(s.kind == k for s in plan) / len(plan) for k in stx.KINDS}
    assert kinds == pytest.approx(sv.KIND_SHARES["train"], abs=0.03)
    assert {s.style for s in plan} == set(sa.STYLES)
    words_only = [s for s in plan if s.kind == "words"]
    assert all(set(s.text.split()) == {stx.UNKNOWN} for s in words_only)
    carrier = [s for s in plan if s.kind == "carrier"]
    assert all(stx.UNKNOWN in s.text.split() and stx.digits_of(s.text) for s in carrier)
    prefixes = {" ".join(s.said.split()[:3]) for s in carrier}
    assert {"my number is", "call me at", "the code is"} <= prefixes
    assert any(s.said.startswith("extension") for s in carrier)


def test_sets_c_and_d_are_spoken_only_by_never_trained_voices():
    plan = sc.make_plan({"train": 3000, "test_c": 300, "test_d": 300}, seed=0)
    train = {(s.engine, s.voice) for s in plan if s.split == "train"}
    train_speakers = {s.speaker for s in plan if s.split == "train"}
    for split, kind in (("test_c", "words"), ("test_d", "carrier")):
        specs = [s for s in plan if s.split == split]
        assert {s.kind for s in specs} == {kind} and {s.style for s in specs} == {""}
        assert not {(s.engine, s.voice) for s in specs} & train
        assert not {s.speaker for s in specs} & train_speakers
        assert {(s.engine, s.voice) for s in specs} <= _voices("test_b")
    assert all(stx.digits_of(s.text) == "" for s in plan if s.split == "test_c")
    assert all(stx.digits_of(s.text) for s in plan if s.split == "test_d")
    # (c)'s sentences are never said in training (its random dictionary words may be)
    trained = {s.said for s in plan if s.split == "train" and s.kind == "words"}
    held_out = {s.said for s in plan if s.split == "test_c"} & set(stx.SENTENCES)
    assert held_out and not held_out & trained


def test_whisper_removes_the_voice_but_keeps_length_and_loudness():
    clip = _speech_like(f0=120.0)
    quiet = sa.whisper(clip, np.random.default_rng(0))
    assert quiet.shape == clip.shape and np.all(np.isfinite(quiet))
    assert np.mean(quiet**2) == pytest.approx(np.mean(clip**2), rel=1e-3)
    np.testing.assert_array_equal(quiet, sa.whisper(clip, np.random.default_rng(0)))

    def periodicity(x):  # autocorrelation at the pitch period, against lag 0
        period = round(RATE / 120)
        return np.dot(x[:-period], x[period:]) / np.dot(x, x)

    assert periodicity(clip) > 0.8 and periodicity(quiet) < 0.3


def test_female_and_child_styles_raise_pitch_and_formants():
    clip = _speech_like(f0=120.0)
    for style, (_, formants) in sa.STYLE_WARPS.items():
        out = sa.apply_style(clip, style, np.random.default_rng(0))
        assert abs(len(out) - len(clip)) <= 1
        assert _dominant_hz(out) == pytest.approx(120 * formants, rel=0.03), style
    with pytest.raises(ValueError, match="voice style"):
        sa.apply_style(clip, "robot", np.random.default_rng(0))


@pytest.mark.slow
@needs_tts
def test_corpus_sets_c_and_d_say_what_their_labels_say(corpus):
    for u in sc.load_split("test_c", corpus):
        assert u.kind == "words" and stx.digits_of(u.text) == "" and u.text.split().count(stx.UNKNOWN) >= 1
    for u in sc.load_split("test_d", corpus):
        assert stx.label_of(u.said) == u.text and stx.digits_of(u.text)
