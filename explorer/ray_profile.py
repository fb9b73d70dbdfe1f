"""The profiling pass on Ray Data: many workers (a cluster, GPUs), the same profile.

The dataset never travels as tensors. A `DataSpec` names it by reference — the model's
name plus a split and variant of its built-in data, or a list of file paths — and is cut
into chunks of consecutive samples, `CHUNK` at a time (the single-process pass's batch).
Each chunk is a tiny Ray Data row (index, start, stop); an actor pool, each actor loading
the model once (its torch threads set to its CPUs, or one GPU), reads and decodes its
chunks itself, runs `profile.profile_batch` and sends the per-sample rows back. The
driver writes every chunk's rows to a shard file as it arrives and, when all are there,
merges them in dataset order with `profile.merge_rows` into the same profile file, under
the same key, that the single-process pass writes. Same batches, same code, so the same
numbers and the same answer ids.

Faults: an actor that dies is restarted and its chunk re-run (bounded retries, so a
chunk that kills every worker fails the run instead of looping); an interrupted run
started again skips the chunks whose shards exist; a file that cannot be decoded is
skipped, named and counted.

Costs (MACs, per-stage and per-head ms at batch 1) are measured by one task with one
worker's resources after the pass, and the profile says where (`meta.measured_on`).

The hook for other models: `DataSpec.files` + `targets` with a model whose registry
entry has `decode(bytes) -> input`; the workers look the entry up by name (`_entry`).
Ray is imported here only, and this module only when `--ray` is asked for.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import logging
import os
import shutil
import socket
import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

import numpy as np

from . import device as devices
from . import zoo
from .costs import Costs, count_macs, measure_ms
from .paths import CACHE, ROOT
from .profile import Profile, Progress, Rows, fingerprint, merge_rows, profile_batch, profile_path

CHUNK = 64  # samples per chunk: the batch of the single-process pass (zoo.profile)
RETRIES = 3  # restarts of a dead actor and re-runs of its chunk before the run fails
# Chunks per Ray task: each task costs Ray milliseconds of its own (scheduling, object
# transfer), so short chunks go several to a task, as long as every worker still gets a
# few tasks (progress, and the work a killed worker re-runs, stay small).
MAX_CHUNKS_PER_TASK, TASKS_PER_WORKER = 8, 4
log = logging.getLogger(__name__)


def _entry(name: str):
    """The registry entry of a model by name: where `load`, `data` and `decode` live."""
    return zoo.get(name)


def _model(name: str, device: str = "cpu", fresh: bool = False):
    """The model by name through the registry's memo, so the entry's own decoder (which
    looks the model up by name) finds this very copy. fresh: load it again (a pooled Ray
    task process may hold an older copy of a model rebuilt under the same name)."""
    if fresh:
        zoo.forget(name)
    return zoo.model(name).to(device).eval()


@dataclass(frozen=True)
class DataSpec:
    """A dataset by reference, small enough to ship to every worker.

    Built-in data: the model's `data(split, **variant)` (e.g. noise="white", snr=5,
    limit=2000), loaded on the worker. Files: one path and one target per sample,
    decoded on the worker by the model's `decode`."""

    model: str
    split: str = "test"
    variant: tuple = ()  # ((name, value), ...): the keyword arguments of the data function
    files: tuple[str, ...] = ()
    targets: tuple = ()
    name: str = ""  # the dataset's key for a file list (default: its folder's name)
    batch: int = CHUNK  # samples per chunk; the single-process pass must batch the same way

    def chunks(self) -> list[tuple[int, int, int]]:
        """(index, start, stop) of every chunk, in dataset order."""
        n = self.size()
        return [(i, a, min(a + self.batch, n)) for i, a in enumerate(range(0, n, self.batch))]

    @classmethod
    def built_in(cls, model: str, split: str, **variant) -> DataSpec:
        return cls(model, split, tuple(variant.items()))

    @property
    def dataset(self) -> str:
        """The profile's dataset key, as `zoo.profile` names it."""
        if self.files:
            return self.name or Path(self.files[0]).parent.name
        return "-".join([self.split] + [str(v) for _, v in self.variant])

    def size(self) -> int:
        if self.files:
            return len(self.files)
        # noise and corruptions change the samples, never their number: count the clean
        # (limited) set, which the driver may already hold, instead of making every variant
        clean = tuple((k, v) for k, v in self.variant if k == "limit")
        return len(_built_in_data(self.model, self.split, clean)[1])

    def load(self, start: int, stop: int) -> tuple[list, list, list[tuple[str, str]]]:
        """Samples start..stop-1 as (inputs, targets, skipped [(file, why)])."""
        if not self.files:
            inputs, targets = _built_in_data(self.model, self.split, self.variant)
            return inputs[start:stop], targets[start:stop], []
        decode = _entry(self.model).decode
        inputs, targets, skipped = [], [], []
        for path, target in zip(self.files[start:stop], self.targets[start:stop], strict=True):
            try:
                inputs.append(decode(Path(path).read_bytes()).x)
            except Exception as err:  # any decoder's failure: this file's fault, not the run's
                skipped.append((str(path), str(err) or type(err).__name__))
                continue
            targets.append(target)
        return inputs, targets, skipped


@cache
def _built_in_data(model: str, split: str, variant: tuple) -> tuple[list, list]:
    """The whole split once per process (noise and corruptions are made over the whole
    set, seeded per sample, so a slice of it equals the single-process inputs)."""
    return _entry(model).data(split, **dict(variant))


zoo.on_forget(lambda name: _built_in_data.cache_clear())  # a rebuilt model may read other data


# ---- one chunk's rows <-> bytes (npz + JSON, never pickle) -------------------------------
def _encode(rows: Rows | None, skipped: list, worker: str, timing: dict | None = None) -> bytes:
    arrays = {}
    answers = None
    if rows is not None:
        arrays = {f"col/{c}": v for c, v in rows.cols.items()}
        arrays.update(errors=rows.errors, ref_len=rows.ref_len)
        if isinstance(rows.answers[0], np.ndarray):  # class ids [K, B]
            arrays["answer_ids"] = np.stack(rows.answers)
        else:  # transcripts: per exit, B token tuples
            answers = [[list(a) for a in exit_answers] for exit_answers in rows.answers]
    meta = {"skipped": skipped, "worker": worker, "answers": answers, "timing": timing or {}}
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta)), **arrays)
    return buf.getvalue()


def _decode(data: bytes) -> tuple[Rows | None, list, str, dict]:
    """(rows or None, skipped files, worker, timing: seconds reading+decoding and profiling,
    when the chunk was done, and the actor's start)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        timing = meta.get("timing", {})
        if "ref_len" not in z.files:
            return None, meta["skipped"], meta["worker"], timing
        cols = {k[4:]: z[k] for k in z.files if k.startswith("col/")}
        if "answer_ids" in z.files:
            answers = list(z["answer_ids"])
        else:
            answers = [[tuple(a) for a in exit_answers] for exit_answers in meta["answers"]]
        rows = Rows(cols, answers, z["errors"], z["ref_len"])
    return rows, meta["skipped"], meta["worker"], timing


def profile_chunk(model, spec: DataSpec, start: int, stop: int, device: str = "cpu",
                  actor: tuple[float, float] | None = None) -> bytes:
    """Load, decode and profile samples start..stop-1: one shard's bytes (with how long
    reading and profiling took; actor: when its actor began and finished starting)."""
    import torch

    t0 = time.perf_counter()
    inputs, targets, skipped = spec.load(start, stop)
    t1 = time.perf_counter()
    rows = None
    if inputs:
        x, lengths = model.collate(inputs)
        rows = profile_batch(model, x.to(device), None if lengths is None else lengths.to(device), targets)
    timing = {"load_s": t1 - t0, "profile_s": time.perf_counter() - t1, "done": time.time(), "actor": actor}
    return _encode(rows, skipped, f"{socket.gethostname()}:{os.getpid()}:{device}:{torch.get_num_threads()}t",
                   timing)


class _Profiler:
    """A Ray Data actor: loads the model once, then profiles the chunks it is given."""

    def __init__(self, specs: list[DataSpec], device: str, threads: int, fp: str):
        began = time.time()  # this process is up and has imported this module (torch with it)
        import torch

        torch.set_num_threads(threads)
        self.specs, self.device = specs, devices.check(device)
        self.model = _model(specs[0].model, device, fresh=True)
        if fingerprint(self.model) != fp:  # e.g. a node with other weights: never mix them
            raise RuntimeError(f"worker {socket.gethostname()} loaded a different {specs[0].model!r} model")
        self.started = (began, time.time())

    def __call__(self, batch: dict) -> dict:
        shards = [profile_chunk(self.model, self.specs[int(j)], int(a), int(b), self.device, self.started)
                  for j, a, b in zip(batch["spec"], batch["start"], batch["stop"], strict=True)]
        return {"spec": np.asarray(batch["spec"]), "chunk": np.asarray(batch["chunk"]),
                "shard": np.array(shards, dtype=object)}


def _measure(model_name: str, device: str, threads: int) -> dict:
    """MACs and ms of each stage and head at batch 1, on one worker."""
    import torch

    torch.set_num_threads(threads)
    model = _model(model_name, device, fresh=True)
    return {"macs": count_macs(model).to_dict(), "ms": measure_ms(model).to_dict(),
            "measured_on": devices.measured_on(device, "one Ray worker at batch 1")}


# ---- the driver ---------------------------------------------------------------------------
def start_ray(address: str = "local", num_cpus: int | None = None):
    """Connect to a cluster (an address, or "auto" for RAY_ADDRESS / the running one) or
    start a local Ray; a Ray already started in this process is used as it is."""
    import ray

    if ray.is_initialized():
        return ray
    env = {"env_vars": {k: v for k, v in os.environ.items()
                        if k in ("EXPLORER_CACHE", "EXPLORER_WORKSPACE", "OMP_WAIT_POLICY", "HF_HUB_OFFLINE")},
           # a worker is a process of its own: it fills its registry at start, as the command line does
           "worker_process_setup_hook": "explorer.setup.install"}
    if address == "local":
        env["env_vars"]["PYTHONPATH"] = str(ROOT)  # workers import explorer from this checkout
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING,
                 runtime_env=env, log_to_driver=False)
    else:  # a cluster: ship this checkout (code, shipped models and data) to its workers
        env["working_dir"] = str(ROOT)
        env["excludes"] = [".venv", ".git", "assets/screenshots", "**/__pycache__"]
        try:
            ray.init(address=address, logging_level=logging.WARNING, runtime_env=env)
        except (ConnectionError, RuntimeError) as err:
            raise ValueError(f"could not reach the Ray cluster at {address!r} ({err}); start one with "
                             "`ray start --head` or use --ray local") from None
    return ray


def _worker_resources(ray, workers: int, device: str) -> tuple[dict, int]:
    """(Ray resources per actor, torch threads): one GPU each, or a CPU share that leaves
    half a CPU free, so the pool never takes every CPU (that starves Ray's other tasks)."""
    if device.startswith("cuda"):
        gpus = ray.cluster_resources().get("GPU", 0)
        if gpus < 1:  # Ray would wait for a GPU forever: say so instead
            raise ValueError("--device cuda: the Ray cluster has no GPU (ray.cluster_resources() lists none); "
                             "use --device cpu, or start the workers on machines with GPUs "
                             "(`ray start --address ... --num-gpus N`)")
        if gpus < workers:
            log.warning("%d workers asked for, %d GPUs in the cluster: %d workers run", workers, gpus, int(gpus))
        return {"num_cpus": 1, "num_gpus": 1}, 1
    biggest_node = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=1)
    share = min((ray.cluster_resources().get("CPU", 1) - 0.5) / workers, biggest_node)  # an actor lives on one node
    share = float(int(share)) if share >= 1 else max(0.01, round(share, 2))  # Ray: above 1, whole CPUs
    return {"num_cpus": share}, max(1, int(share))


def shard_dir(spec: DataSpec, fp: str) -> Path:
    """Where a run keeps its finished chunks until the merge (named by everything that
    changes them, so a changed model or dataset never reuses them)."""
    key = hashlib.sha256(json.dumps([spec.model, spec.split, spec.variant, spec.files, spec.targets, spec.batch, fp],
                                    default=str).encode()).hexdigest()[:12]
    return CACHE / "ray-shards" / f"{spec.model}-{spec.dataset}-{key}"


def build_on_ray(spec: DataSpec, **kw) -> Profile:
    """One dataset's profile built on Ray (or loaded, if current); see `build_all`."""
    return build_all([spec], **kw)[0]


def build_all(specs: list[DataSpec], address: str = "local", workers: int = 1, device: str = "cpu",
              directory: Path | None = None, progress: Progress | None = None,
              costs: tuple[Costs, Costs] | None = None) -> list[Profile]:
    """Profiles of one model on several datasets (e.g. every noisy test set) in one Ray
    pass, so the workers start and load the model once: each loaded if current, else
    built and saved where and as the single-process pass saves it.

    costs: (MACs, ms) already measured for this model. Otherwise, as in `zoo.profile`,
    noisy sets reuse the clean split's costs; what is still missing is measured once."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, not {workers}")
    called = time.time()
    name = specs[0].model
    if any(s.model != name for s in specs):
        raise ValueError("one Ray pass profiles one model")
    entry, model = _entry(name), _model(name)
    fp = fingerprint(model)
    measured_on = None  # where the costs were measured, when on Ray
    where = {s: profile_path(directory or entry.profile_dir, name, s.dataset, fp) for s in specs}
    for s in specs:
        if s.variant and not s.files and costs is None:  # as zoo: a noisy set takes the clean split's costs
            clean = DataSpec(name, s.split)
            where.setdefault(clean, profile_path(directory or entry.profile_dir, name, clean.dataset, fp))
            if _current(where[clean], fp):
                c = Profile.load(where[clean])
                costs, measured_on = (c.macs, c.ms), c.meta.measured_on
    todo = [s for s in where if not _current(where[s], fp)]
    if todo:
        ray = start_ray(address)
        ray_up = time.time()
        resources, threads = _worker_resources(ray, workers, device)
        chunks = {s: s.chunks() for s in todo}
        shards = {s: shard_dir(s, fp) for s in todo}
        with ExitStack() as held:  # one run at a time per dataset; released however this ends
            for s in todo:
                held.enter_context(_lock(shards[s], s))
            pool = _run_pool(ray, todo, chunks, shards, resources, threads, device, fp, workers, progress)
            if costs is None:
                if progress:
                    progress(1.0, "counting MACs and timing each stage and head on one worker")
                out = ray.get(ray.remote(_measure).options(**resources).remote(name, device, threads))
                costs = Costs.from_dict(out["macs"]), Costs.from_dict(out["ms"])
                measured_on = out["measured_on"]
            data = {s: [(shards[s] / f"{i:06d}.npz").read_bytes() for i, _, _ in chunks[s]] for s in todo}
            merged = {s: _merge(model, s, data[s], costs, measured_on) for s in todo}
            timing = _pass_timing(called, ray_up, pool, [d for s in todo for d in data[s]], time.time())
            for s in todo:
                merged[s].meta = replace(merged[s].meta, ray_pass=timing)
                merged[s].save(where[s])
                shutil.rmtree(shards[s])  # merged and saved: the shards have served
    return [Profile.load(where[s]) for s in specs]


def _lock(shards: Path, spec: DataSpec):
    """Only one run at a time fills a dataset's shards (the lock goes with the process)."""
    shards.mkdir(parents=True, exist_ok=True)
    f = open(shards / ".lock", "w")  # noqa: SIM115 - the caller closes it: the lock lives as long as the file
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise ValueError(f"another run is already profiling {spec.model} on {spec.dataset} "
                         f"(its shards: {shards}); wait for it or stop it") from None
    return f


def _current(path: Path, fp: str) -> bool:
    return path.exists() and Profile.load(path).meta.fingerprint == fp


def _merge(model, spec: DataSpec, shards: list[bytes], costs, measured_on) -> Profile:
    """The shards of one dataset, in its order, as its profile."""
    rows, skipped, workers_seen = [], [], set()
    for data in shards:
        r, s, w, _ = _decode(data)
        skipped += s
        workers_seen.add(w)
        if r is not None:
            rows.append(r)
    if not rows:
        raise ValueError(f"no sample of {spec.dataset} could be read ({len(skipped)} files skipped)")
    meta = {"measured_on": measured_on, "threads": (measured_on or {}).get("threads", torch_threads()),
            "profiled_by": sorted(workers_seen)}
    if skipped:
        meta["skipped"] = [{"file": f, "error": e} for f, e in skipped]
        log.warning("%s: skipped %d undecodable files: %s", spec.dataset, len(skipped),
                    "; ".join(f"{f} ({e})" for f, e in skipped))
    return merge_rows(model, rows, spec.model, spec.dataset, costs, meta)


def build_local(spec: DataSpec, costs: tuple[Costs, Costs] | None = None) -> Profile:
    """The same pass in this process, chunk by chunk, without Ray: the single-process
    pass for a file list (and the reference a Ray run must equal)."""
    model = _model(spec.model)
    shards = [profile_chunk(model, spec, a, b) for _, a, b in spec.chunks()]
    measured_on = None
    if costs is None:
        costs = count_macs(model), measure_ms(model)
        measured_on = devices.measured_on("cpu", "this process at batch 1")
    return _merge(model, spec, shards, costs, measured_on)


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def _run_pool(ray, specs, chunks, shards, resources, threads, device, fp, workers, progress):
    """Stream every missing chunk of `specs` through one actor pool; write each shard as
    it arrives (a resumed run skips the chunks already written)."""
    size, todo, have = {}, [], 0
    for j, s in enumerate(specs):
        shards[s].mkdir(parents=True, exist_ok=True)
        done = {int(p.stem) for p in shards[s].glob("*.npz")}
        if done:
            log.warning("%s: resuming, %d of %d chunks already profiled", s.dataset, len(done), len(chunks[s]))
        for i, a, b in chunks[s]:
            size[j, i] = b - a
            if i in done:
                have += b - a
            else:
                todo.append({"spec": j, "chunk": i, "start": a, "stop": b})
    total = sum(size.values())
    pool = {"submitted": time.time(), "arrived": [], "chunks_per_task": 0}
    if not todo:
        return pool
    per_task = max(1, min(MAX_CHUNKS_PER_TASK, len(todo) // (TASKS_PER_WORKER * workers)))
    pool["chunks_per_task"] = per_task
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False  # ours counts samples, not blocks
    ctx.execution_options.preserve_order = False
    ds = ray.data.from_items(todo, override_num_blocks=-(-len(todo) // per_task))
    with warnings.catch_warnings():  # retries are not named parameters yet in ray 2.60
        warnings.simplefilter("ignore", DeprecationWarning)
        ds = ds.map_batches(_Profiler, batch_size=per_task, compute=ray.data.ActorPoolStrategy(size=workers),
                            fn_constructor_kwargs={"specs": specs, "device": device, "threads": threads, "fp": fp},
                            max_restarts=RETRIES, max_task_retries=RETRIES, **resources)
    start, new = time.perf_counter(), 0
    if progress:
        progress(have / total, f"{have}/{total} samples, starting {workers} worker(s)")
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for j, i, data in zip(batch["spec"], batch["chunk"], batch["shard"], strict=True):
            out = shards[specs[int(j)]] / f"{int(i):06d}"
            out.with_suffix(".part").write_bytes(data)
            out.with_suffix(".part").replace(out.with_suffix(".npz"))  # whole shards only: a resume trusts them
            new += size[int(j), int(i)]
        pool["arrived"].append(time.time())
        if progress:
            rate = new / max(time.perf_counter() - start, 1e-9)
            progress((have + new) / total, f"{have + new}/{total} samples, {rate:.1f} samples/s")
    return pool


def _pass_timing(called: float, ray_up: float, pool: dict, shards: list[bytes], end: float) -> dict:
    """Where a Ray pass's wall clock went, in seconds (kept in the profile's meta):
    ray_start: connecting to / starting Ray; prepare: the driver's own work before the
    pool is asked for; actor_start: from then until the first actor was ready (process,
    imports, model load), each actor's own start-up (model load) in actor_init; pass: from
    that actor ready to the last shard back, of which read (loading and decoding inputs) and
    profile (the model) summed over workers; merge: shards to the saved profile."""
    timings = [_decode(d)[3] for d in shards]
    timings = [t for t in timings if t]
    actors = sorted({tuple(t["actor"]) for t in timings if t.get("actor") and t["actor"][1] >= pool["submitted"]})
    ready = min((a[1] for a in actors), default=pool["submitted"])  # this run's first actor ready to work
    last = max(pool["arrived"], default=ready)
    return {"ray_start": ray_up - called, "prepare": pool["submitted"] - ray_up,
            "actor_start": max(0.0, ready - pool["submitted"]), "actor_init": [b - a for a, b in actors],
            "pass": max(0.0, last - ready), "read": sum(t["load_s"] for t in timings),
            "profile": sum(t["profile_s"] for t in timings), "merge": end - last, "total": end - called,
            "tasks": len(pool["arrived"]), "chunks_per_task": pool["chunks_per_task"]}


def imported_specs(name: str, splits: tuple[str, ...] = ("calib", "test")) -> list[DataSpec]:
    """An imported model's splits as file lists: absolute paths and targets (class ids, or
    transcripts) exactly as the single-process pass reads them, each split's key its name.
    The workers decode the files with the model's own decoder (its registry entry)."""
    from . import imported, modality

    found = imported.found(name)
    if found is None:
        raise ValueError(f"{name} is not an imported model (see `python -m explorer models`)")
    manifest = found[0]
    d = manifest.data
    reads = modality.of(manifest.family)
    folder = reads.scan(d.folder, d.train_fraction, d.calib_fraction, d.limit)
    specs = []
    for split in splits:
        files, targets = folder.part(split)
        targets = reads.targets(targets, manifest.labels or None)
        specs.append(DataSpec(name, split, files=tuple(str(folder.root / f) for f in files),
                              targets=tuple(targets), name=split))
    return specs


def profile_imported(name: str, address: str = "local", workers: int = 1, device: str = "cpu",
                     progress: Progress | None = None) -> list[Profile]:
    """The calibration and test profiles of an imported model on Ray, saved in its workspace
    where `zoo.profile` (and so the import's report) finds them."""
    return build_all(imported_specs(name), address, workers, device, progress=progress)


def profile_built_in(model: str, sets: list[tuple[str, dict]], address: str = "local", workers: int = 1,
                     device: str = "cpu", progress: Progress | None = None) -> list[Profile]:
    """`python -m explorer profile --ray`: the model on each (split, data-function arguments)
    of `sets` (one split, or every noisy test set). An imported model's own calibration or
    test split is its files, decoded on the workers."""
    own = _entry(model).group == "imported" and sets in ([("calib", {})], [("test", {})])
    specs = imported_specs(model, (sets[0][0],)) if own else [DataSpec.built_in(model, s, **a) for s, a in sets]
    return build_all(specs, address, workers, device, progress=progress)
