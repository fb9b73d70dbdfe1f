"""Benchmark of the Ray profiling pass on this machine (`make bench-scale`; minutes).

Prints JSON lines, then a summary table:
1. ray.init on a local 2-CPU Ray.
2. The built-in 2,000-sample image profile (test, first 2,000 digits): single process
   (1 thread, and torch's default) against Ray with 1 and 2 workers (from the call to the
   saved profile: actor start, reading, profiling, merge; costs given, not re-measured),
   each Ray run's wall clock taken apart (Ray start, actor start, the pass, of which reading
   and profiling, merge: the profile's meta.ray_pass), and the same pass through actors
   already warm (model loaded, data read): what Ray costs once its workers are up.
3. The built-in speech model's 13 noisy test sets (test_a clean + 3 noises x 4 SNRs, 3,900
   clips) in one pass: single process against Ray with 1 and 2 workers.
4. Ray Data's per-task overhead: a no-op actor over 64 one-row tasks.
5. A HuBERT-base-sized random model (transformers HubertForCTC(HubertConfig()), its plain
   forward pass per utterance: the cost of every layer, which a profile pays in full)
   on 4 s clips: single process against Ray with 1 and 2 workers; its cost on a 7.4 s
   clip gives the expected wall clock for LibriSpeech test-clean (2,620 utterances).
Every figure is wall clock on a shared machine: the load average is printed with it.
Writes nothing outside a temporary folder.
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from explorer import ray_profile as rp  # noqa: E402
from explorer import robustness, setup, zoo  # noqa: E402
from explorer.profile import build_profile  # noqa: E402

setup.install()
TMP = Path(tempfile.mkdtemp(prefix="bench-scale-"))
rp.CACHE = TMP / "cache"  # shards here, never in the user's cache
LIBRISPEECH = {"utterances": 2620, "mean_seconds": 7.4}
OUT: dict = {}


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} CPUs"


def emit(name: str, **figures):
    figures["machine"] = load()
    OUT[name] = figures
    print(json.dumps({name: figures}), flush=True)


def single_process(name: str, variants: list[tuple[str, dict]], costs, threads: int) -> float:
    """Seconds to load the data and profile every variant in this process."""
    torch.set_num_threads(threads)
    m = zoo.model(name)
    start = time.perf_counter()
    for split, args in variants:
        inputs, targets = zoo.get(name).data(split, **args)
        build_profile(m, zoo.batches(m, inputs, targets, rp.CHUNK), name, "bench", costs=costs)
    return time.perf_counter() - start


def on_ray(name: str, variants, costs, workers: int) -> tuple[float, float, float, dict]:
    """(seconds from the call to the saved profiles, seconds until the first chunk was back,
    samples/s from the first chunk to the last: the pace once the workers are up, and the
    pass's own decomposition of its wall clock: `ray_profile._pass_timing`)."""
    specs = [rp.DataSpec.built_in(name, split, **args) for split, args in variants]
    rp._built_in_data.cache_clear()  # the driver counts each set's samples afresh, as a first run does
    out = TMP / f"{name}-{workers}-{time.time()}"
    start, first = time.perf_counter(), []

    def progress(frac, what):
        done = int(what.split("/")[0]) if "/" in what else 0
        if done:
            first.append((time.perf_counter() - start, done))

    profs = rp.build_all(specs, workers=workers, directory=out, costs=costs, progress=progress)
    (t0, n0), (t1, n1) = first[0], first[-1]
    return (time.perf_counter() - start, t0, (n1 - n0) / (t1 - t0) if t1 > t0 else float("nan"),
            profs[0].meta.ray_pass)


def warm_pass(name: str, variants, workers: int = 1) -> float:
    """Seconds for the whole pass through `workers` actors that are already up, with the
    model loaded and the data read once (what a run pays after Ray and its actors have
    started): the same actor class, chunks and chunks per task as `build_all`."""
    import ray

    specs = [rp.DataSpec.built_in(name, split, **args) for split, args in variants]
    fp = rp.fingerprint(zoo.model(name))
    resources, threads = rp._worker_resources(ray, workers, "cpu")
    actors = [ray.remote(rp._Profiler).options(**resources).remote(specs, "cpu", threads, fp) for _ in range(workers)]
    rows = [(j, i, a, b) for j, s in enumerate(specs) for i, a, b in s.chunks()]
    per_task = max(1, min(rp.MAX_CHUNKS_PER_TASK, len(rows) // (rp.TASKS_PER_WORKER * workers)))
    tasks = [rows[k:k + per_task] for k in range(0, len(rows), per_task)]

    def call(actor, task):
        return actor.__call__.remote({"spec": [r[0] for r in task], "chunk": [r[1] for r in task],
                                      "start": [r[2] for r in task], "stop": [r[3] for r in task]})

    ray.get([call(a, tasks[0]) for a in actors])  # warm: model loaded, data read, first batch run
    start = time.perf_counter()
    ray.get([call(actors[k % workers], t) for k, t in enumerate(tasks)])
    wall = time.perf_counter() - start
    for a in actors:
        ray.kill(a)
    return wall


def compare(label: str, name: str, variants, samples: int):
    costs = (zoo.profile(name, variants[0][0]).macs, zoo.profile(name, variants[0][0]).ms)
    single_process(name, variants[:1], costs, 1)  # untimed: model and decoded data in memory, as a worker has them
    single_1 = single_process(name, variants, costs, 1)
    single_d = single_process(name, variants, costs, os.cpu_count())
    figures = {"samples": samples, "single_1_thread_s": round(single_1, 2),
               f"single_{os.cpu_count()}_threads_s": round(single_d, 2)}
    best = min(single_1, single_d)
    for w in (1, 2):
        wall, first, pace, parts = on_ray(name, variants, costs, w)
        figures[f"ray_{w}_workers_s"] = round(wall, 2)
        figures[f"ray_{w}_decomposition_s"] = {k: (round(v, 3) if isinstance(v, float) else
                                                   [round(x, 2) for x in v] if isinstance(v, list) else v)
                                               for k, v in parts.items()}
        figures[f"ray_{w}_after_actors_ready_over_best_single"] = round(parts["pass"] / best, 2)
        warm = warm_pass(name, variants, w)
        figures[f"ray_{w}_warm_actors_pass_s"] = round(warm, 2)
        figures[f"ray_{w}_warm_actors_over_best_single"] = round(warm / best, 2)
        figures[f"ray_{w}_first_chunk_s"] = round(first, 2)
        figures[f"ray_{w}_pace_after_first_chunk_samples_per_s"] = round(pace, 1)
        figures[f"ray_{w}_samples_per_s"] = round(samples / wall, 1)
        figures[f"ray_{w}_over_best_single"] = round(wall / best, 2)
    figures["single_best_samples_per_s"] = round(samples / best, 1)
    emit(label, **figures)
    decomposition(label, best, figures)


def decomposition(label: str, best: float, figures: dict):
    """Where each Ray run's wall clock went, against the best single-process time."""
    print(f"\n{label}: single process {best:.2f} s (best of 1 thread / all threads); Ray runs, seconds:")
    cols = ("ray_start", "prepare", "actor_start", "pass", "read", "profile", "merge", "total")
    print(f"{'workers':>8} " + " ".join(f"{c:>11}" for c in cols) + f" {'warm pass':>10} {'x single':>9}")
    for w in (1, 2):
        d = figures[f"ray_{w}_decomposition_s"]
        warm, ratio = figures[f"ray_{w}_warm_actors_pass_s"], figures[f"ray_{w}_warm_actors_over_best_single"]
        print(f"{w:>8} " + " ".join(f"{d[c]:>11.2f}" for c in cols) + f" {warm:>10.2f} {ratio:>9.2f}")
    print("(actor_start: worker processes, imports and model load until the first actor is ready, with Ray Data's "
          "pipeline start; pass: first actor ready to last shard, of which read and profile summed over workers; "
          "warm pass: the same chunks through actors already up, model loaded and data read)\n")


class _Noop:
    def __call__(self, batch):
        return batch


class _HubertForward:
    """An actor running HuBERT-base's forward on the clips it is given (by seed and length)."""

    def __init__(self, threads: int):
        torch.set_num_threads(threads)
        self.model = hubert_base()

    def __call__(self, batch):
        for seed, n in zip(batch["seed"], batch["samples"], strict=True):
            hubert_forward(self.model, int(seed), int(n))
        return {"seed": batch["seed"]}


def hubert_base():
    from transformers import HubertConfig, HubertForCTC

    torch.manual_seed(0)
    return HubertForCTC(HubertConfig()).eval()  # the base geometry: 768 x 12 layers, 95 M parameters


@torch.inference_mode()
def hubert_forward(model, seed: int, n: int):
    wave = torch.from_numpy(np.random.default_rng(seed).standard_normal(n).astype(np.float32))[None]
    return model(wave).logits


def task_overhead(ray, tasks: int = 64) -> float:
    """Milliseconds per one-row task through a warm one-actor pool, after the first."""
    stamps = []
    ds = ray.data.range(tasks, override_num_blocks=tasks).map_batches(
        _Noop, batch_size=1, compute=ray.data.ActorPoolStrategy(size=1), num_cpus=0.5)
    for _ in ds.iter_batches(batch_size=None):
        stamps.append(time.perf_counter())
    return 1e3 * (stamps[-1] - stamps[0]) / (len(stamps) - 1)


def hubert(ray, clips: int = 12, seconds: float = 4.0):
    torch.set_num_threads(1)
    model = hubert_base()
    hubert_forward(model, 0, 16000)  # warm-up
    per_clip = {}
    for s in (seconds, LIBRISPEECH["mean_seconds"]):
        times = []
        for r in range(3):
            t = time.perf_counter()
            hubert_forward(model, r, int(s * 16000))
            times.append(time.perf_counter() - t)
        per_clip[s] = float(np.median(times))
    start = time.perf_counter()
    for i in range(clips):
        hubert_forward(model, i, int(seconds * 16000))
    single = time.perf_counter() - start
    figures = {"clips": clips, "clip_seconds": seconds, "single_1_thread_s": round(single, 2),
               "single_samples_per_s": round(clips / single, 2),
               "per_clip_ms_1_thread": {str(k): round(1e3 * v, 1) for k, v in per_clip.items()}}
    for w in (1, 2):
        items = [{"seed": i, "samples": int(seconds * 16000)} for i in range(clips)]
        start = time.perf_counter()
        ds = ray.data.from_items(items, override_num_blocks=clips).map_batches(
            _HubertForward, batch_size=1, compute=ray.data.ActorPoolStrategy(size=w),
            fn_constructor_kwargs={"threads": 1}, num_cpus=0.75 if w == 2 else 1)
        for _ in ds.iter_batches(batch_size=None):
            pass
        wall = time.perf_counter() - start
        figures[f"ray_{w}_workers_s"] = round(wall, 2)
        figures[f"ray_{w}_samples_per_s"] = round(clips / wall, 2)
    # what a worker costs before its first clip: process, imports, model (the rest is the clips)
    figures["ray_worker_start_s"] = round(max(0.0, figures["ray_1_workers_s"] - clips * per_clip[seconds]), 1)
    emit("hubert_base_random_forward", **figures)
    return per_clip[LIBRISPEECH["mean_seconds"]], figures["ray_worker_start_s"]


def librispeech_table(per_utt_s: float, overhead_ms: float, start_s: float):
    """Expected wall clock of a profile of LibriSpeech test-clean: workers start (once),
    then each runs ceil(chunks / workers) chunks of `chunk` utterances, each chunk paying
    Ray's per-task overhead; one worker thread per CPU, costs as measured here."""
    n = LIBRISPEECH["utterances"]
    rows = []
    for chunk in (64, 8):
        chunks = math.ceil(n / chunk)
        for w in (1, 8, 64):
            rounds = math.ceil(chunks / w)
            wall = start_s + rounds * (chunk * per_utt_s + overhead_ms / 1e3)
            rows.append({"chunk": chunk, "workers": w, "busy_workers": min(w, chunks),
                         "expected_minutes": round(wall / 60, 1)})
    emit("librispeech_test_clean_expected", per_utterance_s=round(per_utt_s, 3),
         task_overhead_ms=round(overhead_ms, 1), worker_start_s=round(start_s, 1), rows=rows)
    print("\nLibriSpeech test-clean (2,620 utt., mean 7.4 s), HuBERT-base full profile, 1 thread per worker")
    print(f"{'chunk':>6} {'workers':>8} {'busy':>5} {'expected min':>13}")
    for r in rows:
        print(f"{r['chunk']:>6} {r['workers']:>8} {r['busy_workers']:>5} {r['expected_minutes']:>13}")


def main():
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speech-limit", type=int, default=0, help="clips per noisy speech set (0: all 300)")
    parser.add_argument("--parts", default="image,speech,overhead,hubert", help="which measurements, comma-separated")
    args = parser.parse_args()
    parts = args.parts.split(",")
    print(json.dumps({"start": load()}), flush=True)
    t = time.perf_counter()
    ray = rp.start_ray("local", num_cpus=os.cpu_count())
    emit("ray_init", seconds=round(time.perf_counter() - t, 2))

    if "image" in parts:
        compare("image_2000", "image", [("test", {"limit": 2000})], 2000)
    if "speech" in parts:
        speech(args.speech_limit)
    if "overhead" in parts or "hubert" in parts:
        overhead = task_overhead(ray)
        emit("ray_task_overhead", ms_per_task=round(overhead, 1))
    if "hubert" in parts:
        per_utt, worker_start = hubert(ray)
        librispeech_table(per_utt, overhead, worker_start)
    ray.shutdown()


def speech(limit: int):
    noisy = robustness.all_variant_args("speech")
    if limit:  # the first N clips of every noisy set (a quicker run)
        noisy = [(split, dict(a, limit=limit)) for split, a in noisy]
    n_speech = sum(len(zoo.get("speech").data(split, **({"limit": a["limit"]} if "limit" in a else {}))[1])
                   for split, a in noisy)
    compare("speech_noisy_sets", "speech", noisy, n_speech)


if __name__ == "__main__":
    main()
