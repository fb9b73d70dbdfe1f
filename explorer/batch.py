"""Many uploads at once (several pictures or clips, or a zip of them) through one model with
real exits: each input's exit, answer and confidence, its truth where the file says it,
the batch's exit histogram and its measured speedup (`speedup`'s one definition: the
plain model against the real exits on the same inputs, timed in turns).

Where the truth comes from, first that fits: a `metadata.csv` among the files
(`file_name,label` or `file_name,transcription`, the Hugging Face folder convention);
for speech a `NAME.txt` beside `NAME.wav` or LibriSpeech `*.trans.txt` lines; for
pictures the folder a file sits in inside the zip (`7/a.png`), or the file name's first
word (`7.png`, `cat_003.jpg`) when that is one of the model's class names. Otherwise
the truth is left blank. Files that cannot be used are named, each with a sentence.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from . import criteria, zoo
from .cautions import cautions
from .criteria import CRITERIA
from .errors import InputError
from .quality import ACCURACY, Quality
from .speedup import Speedup, time_calls

MAX_FILES = 500  # inputs in one batch
MAX_ZIP_BYTES = 200 * 2**20  # uncompressed bytes read from zips (a zip bomb stops here)
CHUNK = 64  # inputs run together (the profile's batch)
TIMING_BUDGET_S = 3.0
SIDE_FILES = {".csv", ".txt"}


@dataclass(frozen=True)
class BatchRow:
    file: str
    exit: int  # counted from 1
    answer: str
    final_answer: str  # what the full model answers (the what-if pass)
    confidence: float | None  # max softmax at the exit (classifiers)
    score: float  # the criterion's own score at the exit (NaN when it reads none)
    truth: str | None
    errors: float | None  # against the truth, as the model counts them (None without a truth)
    words: int  # the truth's length as the model counts it (1 for classes)
    cautions: tuple[str, ...] = ()  # the one caution function's (explorer.cautions), as a single input gets

    @property
    def changed(self) -> bool:
        """Whether exiting early changed the answer (against the full model's)."""
        return self.answer != self.final_answer

    @property
    def right(self) -> bool | None:
        return None if self.errors is None else self.errors == 0


@dataclass(frozen=True)
class BatchResult:
    model: str
    criterion: str
    threshold: float
    exit_names: tuple[str, ...]
    rows: tuple[BatchRow, ...]
    bad: tuple[tuple[str, str], ...]  # (file, why it was not used)
    exit_counts: tuple[int, ...]  # inputs leaving at each exit
    speedup: Speedup | None  # None when nothing could be answered
    quality: Quality = ACCURACY  # how answers are judged: accuracy (right or wrong) or WER

    def table(self, answer: str = "answer") -> pd.DataFrame:
        """One row per input, with the columns its kind of answer has: classifiers their
        confidence and whether they are right; speech the WER of each transcript. `answer`
        names the answer column (e.g. "transcript")."""
        per_class = self.quality.higher_is_better
        score = CRITERIA[self.criterion].score_column
        out = []
        for r in self.rows:
            row = {"file": r.file, "exit": r.exit, f"{answer} at the exit": r.answer,
                   f"{answer} at full depth": r.final_answer, "changed by exiting early": r.changed}
            if per_class:
                row["confidence"] = r.confidence
            if score and score != "confidence":  # a classifier's confidence is shown once
                row[f"{self.criterion} score"] = r.score
            row["truth"] = r.truth
            if per_class:
                row["right"] = r.right
            else:
                row["WER (%)"] = None if r.errors is None else 100 * r.errors / max(r.words, 1)
            row["cautions"] = " ".join(r.cautions)
            out.append(row)
        return pd.DataFrame(out)

    def csv(self) -> str:
        """Every answered input, then every file not used (with the reason), as CSV."""
        rows = self.table()
        rows["error"] = ""
        bad = pd.DataFrame([{"file": f, "error": why} for f, why in self.bad], columns=["file", "error"])
        out = pd.concat([rows, bad], ignore_index=True)
        out["exit"] = out["exit"].astype("Int64")  # blank, not NaN, for files not used
        return out.to_csv(index=False)

    @property
    def accuracy(self) -> float | None:
        """Share answered right among those with a truth (None: no truth known)."""
        known = [r.right for r in self.rows if r.right is not None]
        return float(np.mean(known)) if known else None

    def quality_text(self) -> tuple[str, str]:
        """(label, figure) of the batch's quality where the truth is known: accuracy, or the
        WER pooled over every word (as the profiles count it); "—" without any truth."""
        known = [r for r in self.rows if r.errors is not None]
        label = f"{self.quality.label}, where the truth is known ({len(known)} of {len(self.rows)})"
        if not known:
            return label, "—"
        rate = sum(r.errors for r in known) / max(sum(r.words for r in known), 1)
        return label, f"{self.quality.from_error(rate):.1%}"


# ---- files in, truths found -----------------------------------------------------------------
def expand(files: list[tuple[str, bytes]]) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]]]:
    """Uploaded files with every zip opened: ([(path, bytes)], [(file, why not)])."""
    out, bad, total = [], [], 0
    for name, data in files:
        if not (name.lower().endswith(".zip") or data[:4] == b"PK\x03\x04"):
            out.append((name, data))
            continue
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                for info in z.infolist():
                    path = PurePosixPath(info.filename)
                    if info.is_dir() or "__MACOSX" in path.parts or path.name.startswith("."):
                        continue
                    total += info.file_size
                    if total > MAX_ZIP_BYTES:
                        bad.append((f"{name}/{info.filename}", f"not read: the zip holds over "
                                    f"{MAX_ZIP_BYTES // 2**20} MB of files; send fewer at a time"))
                        break
                    out.append((f"{name}/{info.filename}", z.read(info)))
        except (zipfile.BadZipFile, OSError, RuntimeError) as err:  # RuntimeError: an encrypted member
            bad.append((name, f"this zip cannot be opened ({err}); make it again without a password"))
    if len(out) > MAX_FILES:
        bad += [(n, f"not read: at most {MAX_FILES} files per batch") for n, _ in out[MAX_FILES:]]
        out = out[:MAX_FILES]
    return out, bad


def _stem(path: str) -> str:
    return PurePosixPath(path).stem


def truths(files: list[tuple[str, bytes]], labels: set[str] | None) -> dict[str, str]:
    """file path -> truth, from metadata.csv, transcripts beside the audio, folders or names."""
    out: dict[str, str] = {}
    for path, data in files:
        p = PurePosixPath(path)
        text = data.decode("utf-8", "replace") if p.suffix.lower() in SIDE_FILES else ""
        if p.name.lower() == "metadata.csv":
            for row in csv.DictReader(io.StringIO(text)):
                value = row.get("label") or row.get("transcription") or row.get("text")
                if row.get("file_name") and value:
                    out[str(p.parent / row["file_name"])] = value.strip()
                    out.setdefault(_stem(row["file_name"]), value.strip())
        elif p.name.endswith(".trans.txt"):
            for line in text.splitlines():
                uid, _, words = line.strip().partition(" ")
                if uid and words:
                    out.setdefault(uid, words.strip())
        elif p.suffix.lower() == ".txt" and labels is None:
            out.setdefault(p.stem, text.strip())
    if labels is not None:  # pictures: the folder, else the first word of the name
        for path, _ in files:
            p = PurePosixPath(path)
            first = re.split(r"[_\-\s.]+", p.stem)[0]
            for guess in (p.parent.name, first):
                if guess in labels:
                    out.setdefault(path, guess)
                    break
    return out


def _truth_of(path: str, found: dict[str, str]) -> str | None:
    return found.get(path) or found.get(_stem(path))


# ---- the batch --------------------------------------------------------------------------------
def run(name: str, files: list[tuple[str, bytes]], criterion: str, threshold: float,
        progress=None, timed: bool = True) -> BatchResult:
    """Every usable file through model `name` with real exits at (criterion, threshold)."""
    from .engine import read_all_exits, run_full, run_with_exits

    entry, model, crit = zoo.get(name), zoo.model(name), criteria.get(criterion)
    if entry.decode is None:
        raise InputError(f"model {name} takes no files")
    prof = zoo.profile(name, entry.test_split)
    path = prof.path(crit)
    files, bad = expand(files)
    inputs, names, warned = [], [], []  # warned: what the decoder says about each, as it does for one upload
    for i, (fname, data) in enumerate(files):
        if progress:
            progress(0.4 * i / max(len(files), 1), f"decoding {fname}")
        if PurePosixPath(fname).suffix.lower() in SIDE_FILES:
            continue  # metadata and transcripts: read for the truth below
        try:
            decoded = entry.decode(data)
            inputs.append(decoded.x)
            names.append(fname)
            warned.append(tuple(decoded.warnings))
        except InputError as err:
            bad.append((fname, str(err)))
        except (ValueError, OSError) as err:
            bad.append((fname, f"this file could not be read as an input of {name} ({err})"))
    if not inputs:
        return BatchResult(name, crit.name, float(threshold), tuple(model.exit_names), (), tuple(bad),
                           (0,) * model.num_exits, None, entry.quality)
    chunks = [model.collate(inputs[i:i + CHUNK]) for i in range(0, len(inputs), CHUNK)]

    def early():
        return [run_with_exits(model, x, crit, threshold, path, lengths) for x, lengths in chunks]

    def plain():
        return [run_full(model, x, lengths) for x, lengths in chunks]

    if progress:
        progress(0.4, f"running {len(inputs)} inputs with real exits" + (" and timing them" if timed else ""))
    if timed:
        (t_full, t_exit), (_, results) = time_calls([plain, early], budget_s=TIMING_BUDGET_S)
    else:
        results = early()
    exits = np.concatenate([r.exit for r in results])
    preds = [p for r in results for p in r.pred]
    if progress:
        progress(0.8, "reading every exit for the confidence at the exit taken")
    cols: dict[str, list] = {}
    said: list[tuple[str, ...]] = []  # every input's answer at every exit (the what-if pass)
    classes = None
    for x, lengths in chunks:
        logits: list = []
        c, answers = read_all_exits(model, x, lengths, logits)
        classes = logits[-1].shape[-1] if model.task == "class" else None
        said += [tuple(model.describe(_plain(a[i])) for a in answers) for i in range(x.shape[0])]
        for k, v in c.items():
            cols.setdefault(k, []).append(v)
    scores = {k: np.concatenate(v) for k, v in cols.items()}
    labels = {model.describe(i) for i in range(classes)} if classes else None
    found = truths(files, labels)
    rows = []
    for i, fname in enumerate(names):
        k = int(exits[i])
        answer = model.describe(preds[i])
        truth = _truth_of(fname, found)
        errors, words = (None, 1) if truth is None else _errors(model, preds[i], answer, truth)
        mine = {c: v[i] for c, v in scores.items()}
        rows.append(BatchRow(fname, k + 1, answer, said[i][-1],
                             float(scores["confidence"][i, k]) if "confidence" in scores else None,
                             float(scores[crit.score_column][i, k]) if crit.score_column in scores else float("nan"),
                             truth, errors, words, (*warned[i], *cautions(said[i], mine, k, crit.name, threshold))))
    speedup = None
    if timed:
        ideal = float(len(inputs) * prof.full() / path[exits].sum())
        speedup = Speedup(t_full, t_exit, ideal, batch=min(len(inputs), CHUNK), inputs=len(inputs))
    if progress:
        progress(1.0, f"{len(rows)} answered, {len(bad)} not used")
    return BatchResult(name, crit.name, float(threshold), tuple(model.exit_names), tuple(rows), tuple(bad),
                       tuple(int(c) for c in np.bincount(exits, minlength=model.num_exits)), speedup, entry.quality)


def _errors(model, pred, answer: str, truth: str) -> tuple[float, int]:
    """(errors, reference length) of one answer against its truth, as the model counts them:
    right or wrong for classes, word errors against the normalised transcript for speech."""
    if model.task == "class":
        return float(answer != truth), 1
    from .hf.speech import normalise_text

    errors, words = model.errors(pred, normalise_text(truth))
    return float(errors), int(words)


def _plain(a):
    return a.item() if isinstance(a, np.generic) else a
