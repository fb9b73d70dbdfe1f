"""Profile once, explore instantly.

Run every stage and every head once over a dataset and keep, per sample and exit,
the prediction, every score and the errors, plus what each exit costs (MACs and
measured ms). Every criterion at every threshold is then a lookup over this table.
Profiles are saved keyed by the model's fingerprint, so a changed model is never
shown with a stale profile.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from . import quality
from .costs import Costs, count_macs, measure_ms, read_heads
from .criteria import Criterion, Evidence, first_exit
from .device import measured_on
from .engine import read_all_exits
from .models.base import MultiExitModel
from .readout import Interner

Progress = Callable[[float, str], None]  # (fraction done, what is happening)


def fingerprint(model: MultiExitModel) -> str:
    """SHA-256 of the model's config and weights: any change gives a new profile."""
    h = hashlib.sha256(json.dumps(model.config_dict(), sort_keys=True).encode())
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class ProfileMeta:
    """What a profile is of, and where and how it was measured. Stored as the JSON of the
    profile file's `meta` (the field names are its keys; empty optional fields are left
    out, as they always were)."""

    model: str
    dataset: str
    fingerprint: str  # of the model profiled (see `fingerprint`): a changed model is never shown stale
    task: str  # class | ctc
    heads: dict[str, str]  # head name -> kind, the task's head first
    exit_names: list[str]
    threads: int | None = None  # torch threads of the process that measured the ms
    measured_on: dict | None = None  # device, host, threads and by what (explorer.device.measured_on)
    profiled_by: list[str] = field(default_factory=list)  # the Ray workers that profiled it
    skipped: list[dict] = field(default_factory=list)  # files that could not be read: {"file", "error"}
    ray_pass: dict | None = None  # where a Ray pass's wall clock went (seconds per phase)

    def to_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and v != []}

    @classmethod
    def from_json(cls, d: dict) -> ProfileMeta:
        """Keys this version does not know are ignored."""
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in fields(cls)}})


@dataclass
class Profile:
    meta: ProfileMeta
    cols: dict[str, np.ndarray]  # name -> [N, K]: scores, "pred" ids, "errors"
    ref_len: np.ndarray  # [N] words in the reference (1 for classes)
    macs: Costs
    ms: Costs
    answers: list  # pred id -> the answer it stands for

    @property
    def n(self) -> int:
        return len(self.ref_len)

    @property
    def k(self) -> int:
        return len(self.meta.exit_names)

    @property
    def task_head(self) -> str:
        return next(iter(self.meta.heads))

    def path(self, criterion: Criterion, unit: str = "macs") -> np.ndarray:
        """[K] cumulative cost of leaving at each exit under this criterion."""
        costs = self.macs if unit == "macs" else self.ms
        return costs.path(read_heads(self.meta.heads, criterion), self.task_head)

    def full(self, unit: str = "macs") -> float:
        return (self.macs if unit == "macs" else self.ms).full(self.task_head)

    def scores(self, criterion: Criterion) -> np.ndarray:
        """[N, K] the criterion's score at every exit (the whole table at once)."""
        ev = Evidence({c: self.cols[c] for c in criterion.reads}, self.path(criterion), self.n, self.k)
        return np.asarray(criterion.score(ev), np.float64)

    def exits(self, criterion: Criterion, threshold) -> np.ndarray:
        """[N] exit index per sample: the reference decision real execution must match."""
        thr = np.asarray(threshold, np.float64)
        thr = thr[:, None] if thr.ndim == 1 else thr
        return first_exit(criterion.passes(self.scores(criterion), thr))

    def error_rate(self, exits: np.ndarray) -> float:
        """Error rate (1 - accuracy for classes, WER for speech) at these exits."""
        return float(self.cols["errors"][np.arange(self.n), exits].sum() / self.ref_len.sum())

    def exit_error(self, k: int) -> float:
        """Error rate if every input left at exit k (k = -1: the full model)."""
        return self.error_rate(np.full(self.n, k % self.k))

    @property
    def quality_name(self) -> tuple[str, str]:
        """(column, words) of the quality people read: accuracy for classes, WER for speech."""
        q = quality.of(self.meta.task)
        return q.column, q.label

    def quality(self, error_rate: float) -> float:
        """An error rate as that quality: accuracy = 1 - error rate; WER is the error rate."""
        return quality.of(self.meta.task).from_error(error_rate)

    def answer(self, i: int, k: int):
        return self.answers[int(self.cols["pred"][i, k])]

    # ---- persistence: npz + JSON, never pickle ----------------------------------------
    def save(self, path: Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = dict(self.meta.to_json(), macs=self.macs.to_dict(), ms=self.ms.to_dict(),
                    answers=[list(a) if isinstance(a, tuple) else a for a in self.answers])
        arrays = {f"col/{c}": v for c, v in self.cols.items()}
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, meta=np.array(json.dumps(meta)), ref_len=self.ref_len, **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: Path) -> Profile:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            cols = {k[4:]: z[k] for k in z.files if k.startswith("col/")}
            ref_len = z["ref_len"]
        macs, ms = Costs.from_dict(meta.pop("macs")), Costs.from_dict(meta.pop("ms"))
        answers = [tuple(a) if isinstance(a, list) else a for a in meta.pop("answers")]
        return cls(ProfileMeta.from_json(meta), cols, ref_len, macs, ms, answers)


@dataclass
class Rows:
    """Per-sample results of one batch, in input order: what a worker sends back.

    cols: name -> [B, K] scores; answers: per exit, the B raw predictions (class ids
    [B], or token tuples); errors [B, K] and ref_len [B] against the targets."""

    cols: dict[str, np.ndarray]
    answers: list
    errors: np.ndarray
    ref_len: np.ndarray


def profile_batch(model: MultiExitModel, x: torch.Tensor, lengths, targets) -> Rows:
    """Every stage and every head of `model` on one batch, scored against `targets`."""
    cols, answers = read_all_exits(model, x, lengths)
    err = np.zeros((len(targets), model.num_exits))
    ref_len = np.zeros(len(targets))
    for k, exit_answers in enumerate(answers):
        for i, target in enumerate(targets):
            a = exit_answers[i]
            err[i, k], ref_len[i] = model.errors(a.item() if isinstance(a, np.generic) else a, target)
    return Rows(cols, answers, err, ref_len)


def merge_rows(model: MultiExitModel, rows: Iterable[Rows], model_name: str, dataset: str,
               costs: tuple[Costs, Costs], meta: dict | None = None) -> Profile:
    """Rows of consecutive batches, in dataset order -> the profile. Answers are interned
    batch by batch, exit by exit, so the same batches give the same ids however they
    were computed (one process or many workers). meta: more ProfileMeta fields, by name."""
    intern = Interner()
    parts: dict[str, list] = {}
    for r in rows:
        ids = np.stack([intern(a) for a in r.answers], 1)  # [B, K]
        for c, v in dict(r.cols, pred=ids, errors=r.errors).items():
            parts.setdefault(c, []).append(v)
        parts.setdefault("ref_len", []).append(r.ref_len)
    macs, ms = costs
    meta = ProfileMeta(model_name, dataset, fingerprint(model), model.task, dict(model.heads),
                       list(model.exit_names), **{"threads": torch.get_num_threads(), **(meta or {})})
    ref_len = np.concatenate(parts.pop("ref_len")).astype(np.float64)
    answers = intern.values if intern.values else list(range(int(max(p.max() for p in parts["pred"])) + 1))
    return Profile(meta, {c: np.concatenate(v) for c, v in parts.items()}, ref_len, macs, ms, answers)


def build_profile(
    model: MultiExitModel,
    batches: Iterable,
    model_name: str,
    dataset: str,
    progress: Progress | None = None,
    costs: tuple[Costs, Costs] | None = None,
) -> Profile:
    """Profile `model` on `batches` (a sized list) of (x, lengths or None, targets).

    costs: (MACs, ms) already measured for this model, to skip measuring again."""
    batches = list(batches)
    model.eval()
    rows: list[Rows] = []
    for x, lengths, targets in batches:
        rows.append(profile_batch(model, x, lengths, targets))
        if progress:
            progress(0.8 * len(rows) / len(batches), f"profiled {sum(len(r.ref_len) for r in rows)} inputs")
    measured = None
    if costs is None:
        if progress:
            progress(0.8, "counting MACs and timing each stage and head")
        costs = count_macs(model), measure_ms(model)
        device = next(model.parameters(), torch.zeros(0)).device.type
        measured = {"measured_on": measured_on(device, "this process at batch 1")}
    if progress:
        progress(1.0, "profile ready")
    return merge_rows(model, rows, model_name, dataset, costs, measured)


def profile_path(directory: Path, model_name: str, dataset: str, fp: str, fresh: bool = False) -> Path:
    """Where the profile of a model's `directory` lives: the cache's copy if there is one (it
    was measured here), else the shipped one, else (or when `fresh`, to be measured anew)
    where a new one is written. New profiles are never written into the shipped assets,
    unless `ship_profiles()` asked for that."""
    file = f"{model_name}-{dataset}-{fp[:12]}.npz"
    written = _write_dir(Path(directory)) / file
    return written if fresh or written.exists() or not (Path(directory) / file).exists() else Path(directory) / file


_SHIP = {"on": False}


def ship_profiles(on: bool = True) -> None:
    """`profile --ship`: write profiles of the built-in models into assets/profiles."""
    _SHIP["on"] = on


def _write_dir(directory: Path) -> Path:
    from .paths import ASSETS, CACHE

    shipped = ASSETS / "profiles"
    return CACHE / "profiles" if directory == shipped and not _SHIP["on"] else directory


def cached_profile(model: MultiExitModel, model_name: str, dataset: str, batches_fn: Callable,
                   directory: Path, progress: Progress | None = None,
                   costs: tuple[Costs, Costs] | None = None, build: Callable[[], Profile] | None = None) -> Profile:
    """Load the profile for exactly this model and dataset, or build and save it (by the
    engine's pass over `batches_fn()`, or by `build` for a model outside its contract)."""
    fp = fingerprint(model)
    path = profile_path(directory, model_name, dataset, fp)
    if path.exists():
        prof = Profile.load(path)
        if prof.meta.fingerprint == fp:
            return prof
    prof = build() if build is not None else build_profile(model, batches_fn(), model_name, dataset, progress, costs)
    prof.save(profile_path(directory, model_name, dataset, fp, fresh=True))
    return prof
