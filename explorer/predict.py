"""Predict on files: `python -m explorer predict --model MODEL FILE... --json`.

One JSON object per file (`Prediction.to_json`): the exit really taken (computation
stopped there, counted from 1), the answer, the median milliseconds of the real
early-exit run and of the plain model on the same input (see `speedup`), cautions when
the early answer may be wrong, and every exit's answer and scores from a separate
all-exits pass, for display. A file that cannot be used gives {"file": ..., "error": "..."}.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from . import criteria, zoo
from .cautions import cautions
from .compute import busy, slot, step
from .engine import read_all_exits, run_full, run_with_exits
from .errors import InputError
from .quality import Quality
from .readout import probabilities
from .speedup import Speedup, time_calls
from .thresholds import default_criterion, recommended

MAX_FILE_BYTES = 50 * 2**20


def read_file(path: str) -> bytes:
    """The file's bytes (at most MAX_FILE_BYTES); InputError if it cannot be read."""
    p = Path(path)
    try:
        if not p.is_file():
            raise InputError(f"no such file: {path}")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(f"the file is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
        with p.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)  # a file that grows meanwhile is still bounded
    except OSError as err:  # no permission, a broken disk, a name the system refuses
        raise InputError(f"could not read {path}: {err.strerror or err}") from err
    if len(data) > MAX_FILE_BYTES:
        raise InputError(f"the file is over {MAX_FILE_BYTES // 2**20} MB, the limit")
    return data


@dataclass(frozen=True)
class Prediction:
    """One input through a model with real exits: what the pages and `predict` show."""

    model: str
    criterion: str
    threshold: float
    exit: int  # index of the exit taken (0 = the first); people read `exit_number`
    answer: str  # at the exit taken
    exit_names: tuple[str, ...]
    answers: tuple[str, ...]  # every exit's answer, from a separate all-exits pass (what-if)
    scores: dict[str, np.ndarray]  # score column -> [K] at every exit (what-if pass)
    probabilities: np.ndarray | None  # [K, classes] for classifiers, else None
    mac_share: float  # MACs spent / the plain model's MACs
    speedup: Speedup | None  # this input: the plain model against the real exits, timed together (None: untimed)
    measured_at: float  # when the timing was taken (epoch seconds)
    quality: Quality
    heard: str = ""  # what the answer means, when the model says so (speech: the digits heard, or none)
    pred: object = None  # the answer as the model gives it (model.errors(pred, target) judges it)

    @property
    def exits_total(self) -> int:
        return len(self.exit_names)

    @property
    def exit_number(self) -> int:
        """The exit taken, counted from 1 as people count."""
        return self.exit + 1

    @property
    def final_answer(self) -> str:
        return self.answers[-1]

    def confidence(self, k: int | None = None) -> float | None:
        """Max-softmax confidence at exit k (default: the one taken), for classifiers."""
        col = self.scores.get("confidence")
        return None if col is None else float(col[self.exit if k is None else k])

    def cautions(self) -> list[str]:
        """Why this early answer may be wrong, in words (empty: nothing to warn about)."""
        return cautions(self.answers, self.scores, self.exit, self.criterion, self.threshold)

    def timing_text(self) -> str:
        """When and how this input was timed, and the measured speedup (or why it is noise)."""
        if self.speedup is None:
            return "Not timed here (the live pages and the Model page time real exits)."
        return timing_text(self.speedup, self.measured_at)

    def to_json(self) -> dict:
        """Plain JSON for `predict` (exits counted from 1)."""
        return {"model": self.model, "criterion": self.criterion, "threshold": self.threshold,
                "exit": self.exit_number, "exits_total": self.exits_total, "prediction": self.answer,
                **({"heard": self.heard} if self.heard else {}),
                "ms": self.speedup.exit.median if self.speedup else None,
                "ms_full": self.speedup.full.median if self.speedup else None,
                "speedup": self.speedup.to_dict() if self.speedup else None, "mac_share": self.mac_share,
                "cautions": self.cautions(),
                "per_exit": [{"exit": j + 1, "name": name, "prediction": self.answers[j],
                              **{c: float(v[j]) for c, v in self.scores.items()}}
                             for j, name in enumerate(self.exit_names)]}


TIMING_BUDGET_S = 1.0  # live timing stops repeating after this (at least MIN_REPEATS runs)


def timing_text(speedup: Speedup, measured_at: float) -> str:
    """When and how an input was timed, and the measured speedup (or why it is noise)."""
    when = datetime.fromtimestamp(measured_at, UTC).strftime("%H:%M:%S UTC")
    return (f"Timed at {when} on this input: {speedup.exit.text()} with exits, "
            f"{speedup.full.text()} for the plain model — {speedup.text()}.")


def predict_input(model_name: str, x, criterion_name: str, threshold: float, timed: bool = True) -> Prediction:
    """Run one decoded input with real exits, timed against the plain model on the same
    input (see `speedup`; `timed=False`: one untimed run, what the live pages do until a user
    asks for the timing: `time_input`), and read every exit in a separate pass for display."""
    model = zoo.model(model_name)
    crit = criteria.get(criterion_name)
    prof = zoo.profile(model_name, zoo.get(model_name).test_split)  # for the cost of each exit
    path = prof.path(crit)
    xb, lengths = model.collate([x])
    def early():
        return run_with_exits(model, xb, crit, threshold, path, lengths)

    with slot(), step("answering an input (one real run and the what-if pass)"):
        if timed:
            (t_full, t_exit), (_, result) = time_calls([lambda: run_full(model, xb, lengths), early],
                                                       budget_s=TIMING_BUDGET_S)
        else:
            result = early()
        logits: list = []
        cols, answers = read_all_exits(model, xb, lengths, logits)
    k = int(result.exit[0])
    answer = model.describe(result.pred[0])
    probs = np.stack([probabilities(z[0]) for z in logits]) if model.task == "class" else None
    return Prediction(
        model=model_name, criterion=crit.name, threshold=float(threshold), exit=k,
        answer=answer, exit_names=tuple(model.exit_names),
        answers=tuple(model.describe(_plain(a[0])) for a in answers),
        scores={c: np.asarray(v[0], np.float64) for c, v in cols.items()}, probabilities=probs,
        mac_share=float(path[k] / prof.full()),
        speedup=Speedup(t_full, t_exit, float(prof.full() / path[k])) if timed else None,
        measured_at=time.time(), quality=zoo.get(model_name).quality, heard=model.heard(answer),
        pred=_plain(result.pred[0]))


def is_right(p: Prediction, target) -> bool:
    """Whether the answer at the exit taken has no error against `target`, as the model
    counts errors (speech: its digits; unknown-word tokens never count)."""
    return zoo.model(p.model).errors(p.pred, target)[0] == 0


def time_input(model_name: str, x, criterion_name: str, threshold: float) -> tuple[Speedup, float]:
    """(the measured speedup on one input, when it was measured): the plain model and the real
    early-exit run timed in turns (see `speedup`). InputError when the machine is too busy for
    a timing to mean anything (`compute.busy`)."""
    why = busy()
    if why:
        raise InputError(f"Not timed: {why}, so a timing now would measure that work, not the model. "
                         "Try again in a moment.")
    model, crit = zoo.model(model_name), criteria.get(criterion_name)
    prof = zoo.profile(model_name, zoo.get(model_name).test_split)
    path = prof.path(crit)
    xb, lengths = model.collate([x])
    with slot(), step("timing an input (plain and with exits, in turns)"):
        (t_full, t_exit), (_, result) = time_calls(
            [lambda: run_full(model, xb, lengths), lambda: run_with_exits(model, xb, crit, threshold, path, lengths)],
            budget_s=TIMING_BUDGET_S)
    return Speedup(t_full, t_exit, float(prof.full() / path[int(result.exit[0])])), time.time()


def exit_taken(model_name: str, x, criterion_name: str, threshold: float) -> int:
    """Only the exit one input takes (one real early-exit run: no timing, no what-if pass)."""
    return exits_taken(model_name, [x], criterion_name, threshold)[0]


def exits_taken(model_name: str, xs: list, criterion_name: str, threshold: float) -> list[int]:
    """The exit each input takes, all of them in one batched real early-exit run (no timing, no
    what-if pass): curves of the exit against a noise level cost one pass, not one per level."""
    model, crit = zoo.model(model_name), criteria.get(criterion_name)
    path = zoo.profile(model_name, zoo.get(model_name).test_split).path(crit)
    xb, lengths = model.collate(list(xs))
    with slot(), step("the exit at every noise level (one batched pass)"):
        return [int(k) for k in run_with_exits(model, xb, crit, threshold, path, lengths).exit]


def logmel(model_name: str, samples: np.ndarray) -> np.ndarray:
    """[frames, mels]: a speech model's front-end features of one clip (its spectrogram); for
    a model whose front end is not a spectrogram (a Hugging Face model's convolutions), a
    40-band log-mel of the clip (25 ms windows, 10 ms hop)."""
    import torch

    model = zoo.model(model_name)
    with torch.inference_mode(), slot():
        if getattr(model, "mel", None) is None:  # no log-mel front end of its own
            from .models.speech import mel_filters

            rate = model.rate
            n_fft, hop = int(0.025 * rate), int(0.01 * rate)
            spec = torch.stft(torch.from_numpy(np.asarray(samples, np.float32)), n_fft, hop,
                              window=torch.hann_window(n_fft), return_complex=True)  # [F, T]
            return torch.log(mel_filters(n_fft, 40, rate, fmax=min(7600.0, rate / 2 - 1)) @ spec.abs().pow(2)
                             + 1e-6).T.numpy()
        feats, _ = model.features(torch.from_numpy(samples)[None], torch.tensor([len(samples)]))
    return feats[0].numpy()


def _plain(a):
    return a.item() if isinstance(a, np.generic) else a


def predict_file(model_name: str, path: str, criterion_name: str | None, threshold: float | None) -> dict:
    entry = zoo.get(model_name)
    if entry.decode is None:
        raise InputError(f"model {model_name} takes no files")
    crit = criterion_name or default_criterion(model_name)
    threshold = recommended(model_name, crit) if threshold is None else threshold
    decoded = entry.decode(read_file(path))
    out = predict_input(model_name, decoded.x, crit, threshold).to_json()
    return {"file": path, **out, "cautions": [*decoded.warnings, *out["cautions"]]}


# ---- text models: a continuation, not a file's answer --------------------------------------------
TEXT_TOKENS = 32  # tokens a text prediction continues by, by default


def text_threshold(model_name: str, criterion_name: str | None = None) -> tuple[str | None, float | None]:
    """(criterion, threshold) a text model generates with: its report's Learn-then-Test
    threshold (the criterion asked for, else the first one certified), or (criterion, None)
    when none is certified (every token then runs the full model)."""
    from .shipped import load_report, read_report

    entry = zoo.get(model_name)
    rep = (load_report(entry.report) if entry.report else read_report(entry.report_file) if entry.report_file
           else None) or {}
    rows = rep.get("criteria", {})
    if criterion_name is not None:
        row = rows.get(criterion_name, {})
        return criterion_name, (row["threshold"] if row.get("certified") else None)
    for name, row in rows.items():
        if row.get("certified"):
            return name, row["threshold"]
    return None, None


def predict_text(model_name: str, prompt: str, criterion_name: str | None = None, threshold: float | None = None,
                 n: int = TEXT_TOKENS) -> dict:
    """A greedy continuation of `prompt` with per-token exits at `threshold` (default: the
    report's recommended one; none certified: the full model), against the full model."""
    from .generate import generate
    from .modality import TEXT

    model = zoo.model(model_name)
    if threshold is None:
        criterion_name, threshold = text_threshold(model_name, criterion_name)
    elif criterion_name is None:
        criterion_name = text_threshold(model_name)[0] or "confidence"
    decoded = TEXT.decode(prompt.encode("utf-8"), model)  # its tokens; a prompt too long for the context: its end
    ids = decoded.x.tolist()
    n = max(1, min(n, model.context - len(ids)))
    with slot(), step("generating a continuation"):
        full = generate(model, [ids], n)
        run = full if threshold is None else generate(model, [ids], n, criteria.get(criterion_name), threshold)
    same = float(np.mean([a == b for a, b in zip(run.tokens[0], full.tokens[0], strict=True)]))
    return {"model": model_name, "prompt": prompt, "prediction": run.texts(model)[0],
            "criterion": criterion_name if threshold is not None else None, "threshold": threshold,
            "how": "per-token exits" if threshold is not None else "the full model (no threshold certified)",
            "tokens": n, "mean_exit": round(run.mean_exit, 3), "exits_total": model.num_exits,
            "speedup_by_layers": round(run.layer_speedup, 3), "same_as_full_model": round(same, 4),
            "ms": round(1e3 * run.seconds, 3), "ms_full": round(1e3 * full.seconds, 3),
            "cautions": list(decoded.warnings)}
