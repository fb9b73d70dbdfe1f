"""`make byom-demo`: bring-your-own-model end to end, on models that learned something,
and the cost of the real architectures. Prints figures and writes them as JSON.

  python scripts/byom_demo.py vit [--out DIR]      MNIST ViTForImageClassification: final-head vs trained exits
  python scripts/byom_demo.py speech [--out DIR]   digit-corpus Wav2Vec2ForCTC: CTC branches + DAISY, WER by layer
  python scripts/byom_demo.py costs [--out DIR]    HuBERT-base / ViT-Base/16 sized: per-layer ms, realized vs ideal

Models are trained by scripts/byom_train.py (when missing) into DIR/models; the imported
models live in DIR/workspace. Not part of `make test`: it takes many minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # explorer

HERE = Path(__file__).resolve().parent
SNRS = (None, 20, 10, 5, 0)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _train(what: str, out: Path, *extra: str) -> None:
    if not (out / "config.json").exists():
        _say(f"training {what} into {out} (scripts/byom_train.py)")
        subprocess.run([sys.executable, str(HERE / "byom_train.py"), what, str(out), *extra], check=True,
                       env=dict(os.environ, PYTHONPATH=str(HERE.parent)))


# ---- image --------------------------------------------------------------------------------
def export_mnist(folder: Path, n: int = 2000) -> Path:
    """The first n MNIST test digits as an ImageFolder of PNGs (as a user would have them)."""
    from PIL import Image

    from explorer.data.mnist import load_mnist

    if folder.exists() and sum(1 for _ in folder.rglob("*.png")) == n:
        return folder
    x, y = load_mnist("test")
    for i in range(n):
        d = folder / str(int(y[i]))
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.round(x[i] * 255).astype(np.uint8)).save(d / f"{i:05d}.png")
    return folder


def _overheads(name: str) -> dict:
    """Profiling (every stage, every head read) against one plain forward pass over the same
    test inputs at batch 64, best of 3 each; and training's cost against one profile pass."""
    from explorer import zoo
    from explorer.engine import read_all_exits, run_full

    model = zoo.model(name)
    inputs, targets = zoo.get(name).data("test")
    chunks = list(zoo.batches(model, inputs, targets, 64))

    def plain():
        for x, lengths, _ in chunks:
            run_full(model, x, lengths)

    def profile_pass():
        for x, lengths, _ in chunks:
            read_all_exits(model, x, lengths)

    best = {"plain": float("inf"), "profile": float("inf")}
    for _ in range(3):
        for key, fn in (("plain", plain), ("profile", profile_pass)):
            t = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - t)
    return {"plain_s": best["plain"], "profile_s": best["profile"],
            "profile_over_plain": best["profile"] / best["plain"], "inputs": len(inputs)}


def _recommended_timing(name: str, rec: dict) -> dict:
    """The recommended threshold's real exits against the plain model on the test split,
    timed chunk by chunk (`_fair`), at batch 1 and 64, with the profile's agreement."""
    from explorer import criteria, zoo

    model = zoo.model(name)
    prof = zoo.profile(name, "test")
    inputs, _ = zoo.get(name).data("test")
    crit = criteria.get(rec["criterion"])
    expected = prof.exits(crit, rec["threshold"])
    ms_ideal = prof.full("ms") / prof.path(crit, "ms")[expected].mean()
    out = {"ms_ideal_speedup": float(ms_ideal), "mac_ideal_speedup": float(
        prof.full() / prof.path(crit)[expected].mean())}
    for batch in (1, 64):
        r, got = _realized(model, inputs, expected, batch, crit.name, rec["threshold"], prof.path(crit))
        r["profile_agreement"] = float((got == expected).mean())
        r["realized_over_ms_ideal"] = r["realized_speedup"] / ms_ideal
        out[f"batch{batch}"] = r
        _say(f"{name} batch {batch}: realized {r['realized_speedup']:.2f}x, ms ideal {ms_ideal:.2f}x")
    return out


def demo_vit(out: Path) -> dict:
    from explorer.workspace import ImportOptions, import_model

    ckpt = out / "models" / "mnist-vit"
    _train("vit", ckpt, "--epochs", "3")
    data = export_mnist(out / "data" / "mnist-2000")
    os.environ["EXPLORER_WORKSPACE"] = str(out / "workspace")
    result = {"checkpoint_training": json.loads((ckpt / "training.json").read_text())}
    for kind in ("final-head", "trained"):
        name = f"demo-vit-{kind}"
        t = time.perf_counter()
        report = import_model(str(ckpt), data, name, ImportOptions(exits=kind, epochs=5), say=_say)
        rec = report["recommended"]
        result[kind] = {
            "import_seconds": time.perf_counter() - t,
            "per_exit_accuracy": [round(r["accuracy"], 4) for r in report["exits"]],
            "final_accuracy": report["final_accuracy"],
            "recommended": {k: rec[k] for k in ("criterion", "threshold", "accuracy_drop_pt", "mac_speedup",
                                                "ideal_speedup", "measured_speedup_b1", "measured_speedup_b64",
                                                "mean_exit", "profile_agreement_b1", "profile_agreement_b64")},
            "samples": report["samples"], "overheads": _overheads(name), "training": report["training"]}
        result[kind]["chunked_timing"] = _recommended_timing(name, rec)
        if kind == "trained":
            tr = report["training"]
            prof_s = result[kind]["overheads"]["profile_s"] * report["samples"]["test"] / max(1, tr["train_inputs"])
            result[kind]["training_cost"] = {
                "feature_seconds": tr["feature_seconds"], "head_seconds": tr["train_seconds"],
                "over_one_profile_pass": (tr["feature_seconds"] + tr["train_seconds"]) / max(prof_s, 1e-9),
                "note": "profile pass scaled to the training split's size"}
        _say(json.dumps({kind: {k: result[kind][k] for k in ("per_exit_accuracy", "recommended")}}, indent=1))
    fh, tr = result["final-head"]["per_exit_accuracy"], result["trained"]["per_exit_accuracy"]
    result["trained_beats_final_head_at_every_early_exit"] = all(t > f for t, f in zip(tr[:-1], fh[:-1], strict=True))
    return result


# ---- speech -------------------------------------------------------------------------------
def export_librispeech(folder: Path, splits=("val", "test_a")) -> Path:
    """The shipped evaluation clips as a LibriSpeech-style tree (FLAC + trans.txt)."""
    import soundfile as sf

    from explorer.data.speech_eval import load_eval

    if folder.exists() and any(folder.rglob("*.trans.txt")):
        return folder
    for s, split in enumerate(splits):
        clips, texts, _ = load_eval(split)
        chapter = folder / str(100 + s) / "1"
        chapter.mkdir(parents=True, exist_ok=True)
        lines = []
        for i, (c, t) in enumerate(zip(clips, texts, strict=True)):
            uid = f"{100 + s}-1-{i:04d}"
            sf.write(chapter / f"{uid}.flac", c, 16_000, subtype="PCM_16")
            lines.append(f"{uid} {t.upper()}")
        (chapter / f"{100 + s}-1.trans.txt").write_text("\n".join(lines) + "\n")
    return folder


# The speech checkpoint's recipe: 6 layers x 96 at 50 frames/s, on the first 4,000 digit clips,
# a fixed number of steps (so the machine's load changes the time it takes, not the model).
SPEECH_RECIPE = ("--recipe", "small", "--lr", "3e-3", "--limit", "4000")


def demo_speech(out: Path, steps: int) -> dict:
    from explorer import criteria, profile, zoo
    from explorer.workspace import ImportOptions, import_model

    ckpt = out / "models" / "digits-w2v"
    corpus = Path(os.environ.get("BYOM_CORPUS", out / "corpus"))
    _train("speech", ckpt, str(corpus), *SPEECH_RECIPE, "--steps", str(steps))
    data = export_librispeech(out / "data" / "digits-librispeech")
    os.environ["EXPLORER_WORKSPACE"] = str(out / "workspace")
    name = "demo-w2v"
    t = time.perf_counter()
    report = import_model(str(ckpt), data, name, ImportOptions(exits="trained", daisy=True, epochs=5), say=_say)
    result = {"import_seconds": time.perf_counter() - t, "checkpoint_training": json.loads(
        (ckpt / "training.json").read_text()), "final_wer": report["final_wer"],
        "per_layer_wer": [round(r["wer"], 4) for r in report["exits"]], "recommended": report["recommended"],
        "front_end_share": report["front_end_share"], "front_end_cap": report["front_end_cap"],
        "samples": report["samples"], "overheads": _overheads(name), "training": report["training"]}
    # DAISY's mean exit against SNR: the test clips with white noise mixed in
    from explorer.data.speech_eval import noisy_versions

    model = zoo.model(name)
    inputs, targets = zoo.get(name).data("test")
    daisy = criteria.get("daisy")
    thr = report["recommended"]["daisy"]["threshold"]
    by_snr = {}
    for snr in SNRS:
        if snr is None:
            noisy = inputs
        else:
            raw = [x.numpy() for x in inputs]  # normalised input values: the noise is mixed at an SNR, scale-free
            noisy = [model.prepare(noisy_versions(r, seed=i, babble_pool=[raw[(i + 1) % len(raw)]])[("white", snr)])
                     for i, r in enumerate(raw)]
        prof = profile.build_profile(model, zoo.batches(model, noisy, targets, 16), name, f"snr{snr}",
                                     costs=(zoo.profile(name, "test").macs, zoo.profile(name, "test").ms))
        exits = prof.exits(daisy, thr)
        by_snr["clean" if snr is None else f"{snr} dB"] = {
            "daisy_mean_exit": float(exits.mean() + 1), "wer_at_daisy_exit": prof.error_rate(exits),
            "wer_full": prof.exit_error(-1)}
    result["daisy_mean_exit_by_snr"] = by_snr
    _say(json.dumps({k: result[k] for k in ("per_layer_wer", "daisy_mean_exit_by_snr")}, indent=1))
    return result


# ---- costs of the real architectures --------------------------------------------------------
REPEATS = int(os.environ.get("BYOM_REPEATS", 5))


def _fair(full, early, n_chunks: int, repeats: int = REPEATS) -> tuple[float, float, object]:
    """Seconds of the plain model and of real exits, chunk by chunk: each chunk is timed in
    both ways in turn, `repeats` times, and its best time of each counts. On a shared machine
    a slow stretch then hits both ways alike, where the best of whole runs favours the
    shorter (early-exit) run. full(c) / early(c) run chunk c; early returns the exits."""
    t_full = t_exit = 0.0
    exits = []
    for c in range(n_chunks):
        full(c), early(c)  # warm up
        best_f = best_e = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            full(c)
            best_f = min(best_f, time.perf_counter() - t)
            t = time.perf_counter()
            got = early(c)
            best_e = min(best_e, time.perf_counter() - t)
        t_full += best_f
        t_exit += best_e
        exits.append(got)
    return t_full, t_exit, np.concatenate(exits)


def _realized(model, inputs: list, exits_at: np.ndarray, batch: int, crit_name: str = "static",
              thr=None, costs=None, chunk: int = 64) -> dict:
    """Plain model vs real exits on the same inputs, timed chunk by chunk (`_fair`). The
    static criterion with exits_at as per-input thresholds gives a fixed exit pattern."""
    from explorer import criteria
    from explorer.engine import run_full, run_stream, run_with_exits

    crit = criteria.get(crit_name)
    thr = exits_at.astype(float) if thr is None else np.broadcast_to(np.asarray(thr, float), (len(inputs),))
    if batch == 1:
        chunk = max(1, min(chunk, 8))
    parts = [(i, min(i + chunk, len(inputs))) for i in range(0, len(inputs), chunk)]
    one = [model.collate([x]) for x in inputs] if batch == 1 else None

    def full(c):
        a, b = parts[c]
        if batch == 1:
            for xb, lengths in one[a:b]:
                run_full(model, xb, lengths)
        else:
            run_stream(model, inputs[a:b], None, batch=batch)

    def early(c):
        a, b = parts[c]
        if batch == 1:
            return np.concatenate([run_with_exits(model, xb, crit, float(t), costs, lengths).exit
                                   for (xb, lengths), t in zip(one[a:b], thr[a:b], strict=True)])
        return run_stream(model, inputs[a:b], crit, thr[a:b], costs, batch).exit

    t_full, t_exit, got = _fair(full, early, len(parts))
    out = {"batch": batch, "inputs": len(inputs), "full_s": t_full, "exit_s": t_exit,
           "realized_speedup": t_full / t_exit}
    if crit_name == "static":
        out["exits_as_asked"] = float((got == exits_at).mean())
    return out, got


def _part_ms(model, x, lengths, repeats: int = 7) -> dict:
    """ms of the front end, each stage and the last head on one input, best of `repeats`
    (as the realized runs are: on a shared machine the best run is the least disturbed),
    with the median beside it as the spread."""
    spread = {}

    def timed(key, fn):
        fn()
        ts = []
        for _ in range(repeats):
            t = time.perf_counter()
            out = fn()
            ts.append(time.perf_counter() - t)
        spread[key] = 1e3 * float(np.median(ts))
        return 1e3 * min(ts), out

    with torch.inference_mode():
        front, state = timed("front", lambda: model.embed(x, lengths))
        stages = []
        for k in range(model.num_exits):
            ms, state = timed(f"stage{k}", lambda s=state, k=k: model.stage(k, s))
            stages.append(ms)
        head, _ = timed("head", lambda: model.head(model.num_exits - 1, state, model.task_head))
    return {"front_ms": front, "stage_ms": stages, "head_ms": head, "median_ms": spread}


def _same_schedule(model, inputs: list, exits_at: np.ndarray, batch: int, repeats: int = REPEATS) -> dict:
    """Real exits against the same work done bare, all timed in turn within each repeat
    (so a burst of other work on the shared machine hits every way alike):
    - full: the plain model (`run_stream` without a criterion; at batch 1 `run_full` per input);
    - engine: real exits (`run_stream`, static criterion, the fixed exit pattern; at batch 1
      `run_with_exits` per input, as a live page runs it);
    - bare: the schedule the engine runs, without the engine: stage k on the inputs still
      running, in batches of `batch`, the exit head read after each stage, leavers dropped.
      This is the measured ideal: the layers each input needs, batched as a run batches them;
    - prefix_groups: the earlier ideal: the inputs grouped by exit, each group run through its
      prefix as its own batches (smaller batches than a run forms: another schedule).
    Times: best of `repeats` (the least disturbed run), median beside it."""
    from explorer import criteria
    from explorer.engine import run_full, run_stream, run_with_exits

    crit = criteria.get("static")
    thr = exits_at.astype(float)
    one = [model.collate([x]) for x in inputs]

    def full():  # batch 1: each input alone, as a live page runs it
        if batch == 1:
            for x, lengths in one:
                run_full(model, x, lengths)
        else:
            run_stream(model, inputs, None, batch=batch)

    def engine():
        if batch == 1:
            got = np.concatenate([run_with_exits(model, x, crit, t, None, lengths).exit
                                  for (x, lengths), t in zip(one, thr, strict=True)])
        else:
            got = run_stream(model, inputs, crit, thr, None, batch).exit
        assert (got == exits_at).all(), "the static criterion left where it was told"

    @torch.inference_mode()
    def bare():
        for a in range(0, len(inputs), batch):
            state, left = model.embed(*model.collate(inputs[a:a + batch])), exits_at[a:a + batch]
            for k in range(model.num_exits):
                state = model.stage(k, state)
                model.head(k, state, model.task_head)
                go = left > k
                if not go.any():
                    break
                if not go.all():
                    state, left = state.select(torch.from_numpy(np.nonzero(go)[0])), left[go]

    @torch.inference_mode()
    def prefix_groups():
        for e in np.unique(exits_at):
            xs = [x for x, ee in zip(inputs, exits_at, strict=True) if ee == e]
            for a in range(0, len(xs), batch):
                state = model.embed(*model.collate(xs[a:a + batch]))
                for j in range(int(e) + 1):
                    state = model.stage(j, state)
                model.head(int(e), state, model.task_head)

    fns = {"full": full, "engine": engine, "bare": bare, "prefix_groups": prefix_groups}
    for f in fns.values():
        f()  # warm up
    times: dict = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t)
    out = {"batch": batch, "inputs": len(inputs), "repeats": repeats,
           "seconds_best": {k: min(v) for k, v in times.items()},
           "seconds_median": {k: float(np.median(v)) for k, v in times.items()}}
    for stat in ("best", "median"):
        t = out[f"seconds_{stat}"]
        out[stat] = {"realized_speedup": t["full"] / t["engine"], "ideal_speedup": t["full"] / t["bare"],
                     "realized_over_ideal": t["bare"] / t["engine"],
                     "prefix_groups_ideal_speedup": t["full"] / t["prefix_groups"],
                     "realized_over_prefix_groups_ideal": t["prefix_groups"] / t["engine"]}
    return out


def _arch_costs(model, make_input, label: str, pattern: np.ndarray, n1: int, n16: int) -> dict:
    x = make_input(0)
    xb, lengths = model.collate([x])
    parts = _part_ms(model, xb, lengths)
    full = parts["front_ms"] + sum(parts["stage_ms"]) + parts["head_ms"]
    cum = parts["front_ms"] + np.cumsum(parts["stage_ms"]) + parts["head_ms"]
    out = {"input": label, **parts, "full_ms": full, "front_share": parts["front_ms"] / full,
           "speedup_cap": full / cum[0], "exit_pattern": pattern.tolist(),
           "ideal_from_part_ms": float(full / cum[pattern].mean())}
    for batch, n in ((1, n1), (16, n16)):
        inputs = [make_input(i) for i in range(n)]
        exits_at = np.resize(pattern, n)
        r = _same_schedule(model, inputs, exits_at, batch)
        r.update(r["best"])  # the headline figures: best of the interleaved repeats
        out[f"batch{batch}"] = r
        _say(f"{label} batch {batch}: realized {r['realized_speedup']:.2f}x vs measured ideal (same schedule, "
             f"bare) {r['ideal_speedup']:.2f}x = {r['realized_over_ideal']:.2f}; against the prefix-groups ideal "
             f"{r['prefix_groups_ideal_speedup']:.2f}x: {r['realized_over_prefix_groups_ideal']:.2f} "
             f"(medians: {r['median']['realized_over_ideal']:.2f} / "
             f"{r['median']['realized_over_prefix_groups_ideal']:.2f})")
    return out


def demo_costs(out: Path) -> dict:
    import transformers

    from explorer.hf.image import ViTClassifier
    from explorer.hf.speech import HFSpeechCTC

    torch.manual_seed(0)
    result = {"threads": torch.get_num_threads(), "load_average": os.getloadavg()}
    only = os.environ.get("BYOM_COSTS", "hubert,vit").split(",")  # e.g. BYOM_COSTS=vit: only ViT-Base
    hubert = transformers.HubertForCTC(transformers.HubertConfig(vocab_size=32)).eval()
    fe = transformers.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False)
    speech = HFSpeechCTC(hubert, fe, None, source="HubertConfig() defaults, random weights")
    pattern = np.array([2, 5, 8, 11])  # leave after layer 3, 6, 9, 12, in turn
    for seconds in (2, 10) if "hubert" in only else ():
        def clip(i, seconds=seconds):
            g = torch.Generator().manual_seed(i)
            return speech.prepare((0.1 * torch.randn(seconds * 16_000, generator=g)).numpy())
        result[f"hubert_base_{seconds}s"] = _arch_costs(speech, clip, f"HuBERT-base {seconds} s", pattern, 4, 16)
    vit = transformers.ViTForImageClassification(transformers.ViTConfig()).eval()
    image = ViTClassifier(vit, None, source="ViTConfig() defaults (ViT-Base/16, 224x224), random weights")

    def picture(i):
        return torch.randn(3, 224, 224, generator=torch.Generator().manual_seed(i))
    if "vit" in only:
        result["vit_base_224"] = _arch_costs(image, picture, "ViT-Base/16 224x224", pattern, 4, 16)
    return result


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("what", choices=["vit", "speech", "costs", "all"])
    p.add_argument("--out", default=str(Path(os.environ.get("BYOM_OUT", "/tmp/byom"))))
    p.add_argument("--steps", type=int, default=4000, help="speech: training steps of the demo checkpoint")
    a = p.parse_args()
    from explorer import setup

    setup.install()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(int(os.environ.get("BYOM_THREADS", torch.get_num_threads())))
    for what in (["vit", "speech", "costs"] if a.what == "all" else [a.what]):
        t = time.perf_counter()
        res = {"vit": demo_vit, "speech": lambda o: demo_speech(o, a.steps), "costs": demo_costs}[what](out)
        res["seconds"] = time.perf_counter() - t
        (out / f"byom-{what}.json").write_text(json.dumps(res, indent=1))
        print(json.dumps(res))


if __name__ == "__main__":
    main()
