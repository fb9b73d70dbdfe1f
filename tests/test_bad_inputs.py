"""Every upload in the corpus (tests/input_corpus.py) either works or gets a clear message:
through `python -m explorer predict --json` and through the live pages under AppTest."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from input_corpus import BY_ID, CORPUS, GOOD_IMAGE, GOOD_SPEECH, HTML_NAME, ROOT, SPEECH_TEXT, Case
from streamlit.testing.v1 import AppTest

from explorer import audio, built_ins, checkpoint, image_input
from explorer.__main__ import main
from explorer.cautions import CAUTION_STARTS

HAVE = {"image": checkpoint.exists(built_ins.IMAGE_CHECKPOINT),
        "speech": checkpoint.exists(built_ins.SPEECH_CHECKPOINT)}
SUBPROCESS_IDS = {"audio-text-as-wav", "png-bomb-20000x20000", "wav-5-minutes", "wav-8-khz", "html-file-name"}


def _needs_model(case: Case):
    return pytest.mark.skipif(not HAVE[case.model], reason=f"no shipped {case.model} checkpoint")


def _params(cases):
    return [pytest.param(c, id=c.id, marks=_needs_model(c)) for c in cases]


def test_the_corpus_is_big_and_varied():
    assert len(CORPUS) >= 30 and len({c.id for c in CORPUS}) == len(CORPUS)
    assert {c.model for c in CORPUS} == {"image", "speech"}
    assert sum(c.cli is not None for c in CORPUS) >= 20 and sum(c.cli is None for c in CORPUS) >= 10


def _write(case: Case, folder: Path) -> Path:
    path = folder / case.name  # the file's own name, HTML and all: it is only ever data
    path.write_bytes(case.data)
    return path


def _check_cli(case: Case, status: int, stdout: str, stderr: str) -> None:
    assert "Traceback" not in stdout + stderr
    lines = stdout.splitlines()
    assert len(lines) == 1, stdout
    out = json.loads(lines[0])
    if case.cli is None:
        assert status == 0 and "error" not in out, out
        assert 1 <= out["exit"] <= out["exits_total"]
        if case.page_warning:  # the decoder's warning, as on the page
            assert any(re.search(case.page_warning, c) for c in out["cautions"]), out["cautions"]
        if case.answer is not None:
            assert out["prediction"] == case.answer
    else:
        assert status == 2, out
        assert re.search(case.cli, out["error"]), out["error"]
        _reads_like_a_sentence(out["error"])


def _reads_like_a_sentence(message: str) -> None:
    assert message[0].isupper() and message.rstrip().endswith(".")
    assert "Error" not in message and "0x" not in message and "errno" not in message.lower()


@pytest.mark.parametrize("case", _params([c for c in CORPUS if c.id not in SUBPROCESS_IDS]))
def test_predict_in_process(case, tmp_path, capsys):
    status = main(["predict", "--model", case.model, str(_write(case, tmp_path)), "--json"])
    captured = capsys.readouterr()
    _check_cli(case, status, captured.out, captured.err)


@pytest.mark.slow
@pytest.mark.parametrize("case", _params([c for c in CORPUS if c.id in SUBPROCESS_IDS]))
def test_predict_command(case, tmp_path):
    done = subprocess.run([sys.executable, "-m", "explorer", "predict", "--model", case.model,
                           str(_write(case, tmp_path)), "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    _check_cli(case, done.returncode, done.stdout, done.stderr)


def test_predict_goes_on_after_a_bad_file_and_reports_missing_ones(tmp_path, capsys):
    bad, good = tmp_path / "bad.png", tmp_path / "good.png"
    bad.write_bytes(b"not a picture at all")
    good.write_bytes(GOOD_IMAGE())
    status = main(["predict", "--model", "image", str(bad), str(tmp_path / "missing.png"), str(tmp_path), str(good),
                   "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert status == 2 and len(rows) == 4
    assert "not a picture" in rows[0]["error"]
    assert "no such file" in rows[1]["error"] and "no such file" in rows[2]["error"]
    if HAVE["image"]:
        assert rows[3]["prediction"] == "7"


def test_unreadable_file_is_a_clear_error(tmp_path, capsys, monkeypatch):
    path = tmp_path / "locked.png"
    path.write_bytes(GOOD_IMAGE())

    real_open = Path.open

    def refuse(self, *args, **kwargs):
        if self == path:  # as for a file this user may not read
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", refuse)
    assert main(["predict", "--model", "image", str(path), "--json"]) == 2
    assert "could not read" in json.loads(capsys.readouterr().out)["error"]


# --- the live pages -------------------------------------------------------------------------


def _upload_tab(at: AppTest) -> AppTest:
    at.radio[0].set_value("Upload").run()
    assert not at.exception, at.exception
    return at


def _decision(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("### Exit"))


def _texts(at: AppTest) -> list[str]:
    """Everything the page shows as text, except the upload widget's own state."""
    skip = {"file_uploader"}
    return [str(node.proto) for node in at.main if getattr(node, "type", None) not in skip and hasattr(node, "proto")]


def _upload(at: AppTest, case_or_name, data: bytes | None = None, mime: str = "") -> None:
    if isinstance(case_or_name, Case):
        case_or_name, data, mime = case_or_name.name, case_or_name.data, case_or_name.mime
    at.file_uploader[0].upload(case_or_name, data, mime).run()
    assert not at.exception, at.exception


def _check_page(at: AppTest, case: Case) -> None:
    errors = [e.value for e in at.error]
    warnings = [w.value for w in at.warning if not w.value.startswith(CAUTION_STARTS)]  # the decoder's only
    if case.page is not None:
        assert len(errors) == 1 and re.search(case.page, errors[0]), (case.id, errors)
        _reads_like_a_sentence(errors[0])
        assert not any(m.value.startswith("### Exit") for m in at.markdown)  # no stale answer
        return
    assert not errors, (case.id, errors)
    if case.page_warning:
        assert any(re.search(case.page_warning, w) for w in warnings), (case.id, warnings)
    else:
        assert not warnings, (case.id, warnings)
    decision = _decision(at)
    if case.answer is not None:
        expected = f"Answer **{case.answer}**" if case.model == "image" else f"“{case.answer}”"
        assert expected in decision, (case.id, decision)


def _lets_through(at: AppTest, name: str) -> bool:
    """Whether the page's upload widget accepts a file of this name (Streamlit refuses other extensions)."""
    allowed = at.file_uploader[0].allowed_type
    return not allowed or Path(name).suffix.lower() in allowed


def _run_page_corpus(at: AppTest, model: str, good: bytes, good_answer: str) -> None:
    at = _upload_tab(at)
    name, mime = ("good.png", "image/png") if model == "image" else ("good.wav", "audio/wav")
    for case in [c for c in CORPUS if c.model == model]:
        if not _lets_through(at, case.name):  # test_pages_let_every_upload_type_through says so
            continue
        _upload(at, case)
        _check_page(at, case)
        if case.page is not None:  # the page still works: the next good upload is answered
            _upload(at, f"after-{case.id}-{name}", good, mime)
            assert not at.error and good_answer in _decision(at), case.id


@pytest.mark.slow
@pytest.mark.skipif(not HAVE["image"], reason="no shipped image checkpoint")
def test_live_image_page_handles_every_upload(open_page):
    _run_page_corpus(open_page("live_image"), "image", GOOD_IMAGE(), "Answer **7**")


@pytest.mark.slow
@pytest.mark.skipif(not HAVE["speech"], reason="no shipped speech checkpoint")
def test_live_speech_page_handles_every_upload(open_page):
    _run_page_corpus(open_page("live_speech"), "speech", GOOD_SPEECH(), f"“{SPEECH_TEXT}”")


@pytest.mark.parametrize(("page", "types"), [
    pytest.param("live_image", image_input.UPLOAD_TYPES, marks=_needs_model(BY_ID["avif"])),
    pytest.param("live_speech", audio.UPLOAD_TYPES, marks=_needs_model(BY_ID["mp3"]))])
def test_pages_let_every_upload_type_through(open_page, page, types):
    """Streamlit's own refusal ("audio/x-m4a files are not allowed") must never hide the decoder's answer:
    every extension the library reads or explains (HEIC photos, M4A memos, ...) gets to it."""
    at = _upload_tab(open_page(page))
    refused = [t for t in types if not _lets_through(at, f"file.{t}")]
    assert not refused, f"{page} refuses {refused}: pass the library's UPLOAD_TYPES to st.file_uploader"


def test_corpus_files_are_named_as_the_library_lets_them_through():
    for case in CORPUS:
        types = image_input.UPLOAD_TYPES if case.model == "image" else audio.UPLOAD_TYPES
        assert Path(case.name).suffix.lower().lstrip(".") in types, case.id


@pytest.mark.skipif(not HAVE["image"], reason="no shipped image checkpoint")
def test_file_names_are_never_rendered(open_page):
    at = _upload_tab(open_page("live_image"))
    _upload(at, HTML_NAME, GOOD_IMAGE(), "image/png")
    assert "Answer **7**" in _decision(at)
    shown = "\n".join(_texts(at))
    for fragment in ("pwned", "<script", "onerror", "javascript:", "seven.png"):
        assert fragment not in shown
