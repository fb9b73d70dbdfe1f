"""PyTorch against ONNX Runtime, with and without real exits (`make bench-runtime`, or
`python benchmarks/bench_runtime.py [--json] [--models image,speech,hubert,vit]`; not in
`make test`: minutes).

For the built-in image and speech models and for HuBERT-base / ViT-Base/16 geometry (random
weights, as `scripts/byom_demo.py costs` builds them), at batch 1 (each input alone, as a
live page runs it) and batch 16 (the stream schedule), five ways timed in turn in one run
(`speedup.time_calls`: medians and the 25th-75th percentile spread):
  eager       the plain PyTorch model (every stage, the final head)
  ort         the plain model exported to ONNX Runtime
  exits       real exits on PyTorch
  ort-exits   real exits on ONNX Runtime (fp32)
  ort-int8    real exits on ONNX Runtime with int8 stages (calibrated on the model's
              calibration split; the random-weight geometries on their own inputs)
  bare, ort-bare  the same schedule run bare, on PyTorch and on ONNX Runtime: each input
              runs exactly the stages it runs with exits and its answer is read there,
              with no criterion, no scores and no bookkeeping
Every input leaves at a fixed exit (a cycle of exits, the static criterion with one
threshold per input), so the runtimes do the same work. Two ratios per exit run:
  realized / ideal   its speedup over its own plain model (the same runtime), as a share of
                     the MACs' ideal speedup (what the exits buy, stage costs as they are)
  kept of bare       the bare schedule's time over the exit run's (what deciding costs: 1.0
                     is an engine that decides for free)
For the built-in models, the int8 export's quality (accuracy, or WER) at the last exit is
set against fp32's on the first test inputs.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from explorer import criteria, setup, zoo  # noqa: E402
from explorer.costs import count_macs  # noqa: E402
from explorer.engine import run_full, run_stream, run_with_exits  # noqa: E402
from explorer.export import export  # noqa: E402
from explorer.onnx_runtime import OnnxModel  # noqa: E402
from explorer.readout import read_pred  # noqa: E402
from explorer.speedup import time_calls  # noqa: E402

WAYS = ("eager", "ort", "exits", "ort-exits", "ort-int8", "bare", "ort-bare")


def built_in(name: str, n: int):
    entry, model = zoo.get(name), zoo.model(name)
    inputs, targets = entry.data(entry.test_split)
    calib, _ = entry.data(entry.calib_split)
    return model, inputs[:n], targets[:n], calib[:64]


def hubert_base(n: int):
    import transformers

    from explorer.hf.speech import HFSpeechCTC

    torch.manual_seed(0)
    hubert = transformers.HubertForCTC(transformers.HubertConfig(vocab_size=32)).eval()
    fe = transformers.Wav2Vec2FeatureExtractor(do_normalize=True, return_attention_mask=False)
    model = HFSpeechCTC(hubert, fe, None, source="HubertConfig() defaults, random weights")
    clips = [model.prepare((0.1 * torch.randn(2 * 16_000, generator=torch.Generator().manual_seed(i))).numpy())
             for i in range(n + 8)]
    return model, clips[:n], None, clips[n:]


def vit_base(n: int):
    import transformers

    from explorer.hf.image import ViTClassifier

    torch.manual_seed(0)
    vit = transformers.ViTForImageClassification(transformers.ViTConfig()).eval()
    model = ViTClassifier(vit, None, source="ViTConfig() defaults (ViT-Base/16, 224x224), random weights")
    pictures = [torch.randn(3, 224, 224, generator=torch.Generator().manual_seed(i)) for i in range(n + 8)]
    return model, pictures[:n], None, pictures[n:]


MODELS = {"image": lambda n: built_in("image", n), "speech": lambda n: built_in("speech", n),
          "hubert": hubert_base, "vit": vit_base}
TITLES = {"image": "built-in image (MNIST ResNet)", "speech": "built-in speech (6 layers)",
          "hubert": "HuBERT-base geometry, 2 s", "vit": "ViT-Base/16 geometry, 224x224"}


@torch.inference_mode()
def bare_schedule(m, x, lengths, exits_at: np.ndarray) -> np.ndarray:
    """Run a batch as the exits would, with nothing decided: after stage k the samples whose
    exit is k have their answer read (the task head, its prediction) and are dropped."""
    state, ids = m.embed(x, lengths), np.arange(len(exits_at))
    kind = m.heads[m.task_head]
    for k in range(m.num_exits):
        state = m.stage(k, state)
        leaving = exits_at[ids] == k
        if leaving.any():
            idx = np.flatnonzero(leaving)
            sub = state if len(idx) == len(ids) else state.select(torch.from_numpy(idx))
            read_pred(kind, m.head(k, sub, m.task_head), sub.mask, m.ctc_silent)
            if len(idx) == len(ids):
                break
            stay = np.flatnonzero(~leaving)
            ids, state = ids[stay], state.select(torch.from_numpy(stay))
    return exits_at


def ways(model, ort, int8, inputs: list, batch: int, exits_at: np.ndarray) -> dict:
    """The seven ways as calls on the same inputs (each returns the exits it took)."""
    static = criteria.get("static")  # its threshold is the exit's number, 1-based
    last = np.full(len(inputs), model.num_exits - 1)

    def plain(m):
        if batch == 1:
            chunks = [m.collate([x]) for x in inputs]

            def alone():
                for x, lengths in chunks:
                    run_full(m, x, lengths)
                return last
            return alone
        return lambda: run_stream(m, inputs, None, batch=batch).exit

    def early(m):
        if batch == 1:
            chunks = [m.collate([x]) for x in inputs]
            return lambda: np.concatenate([run_with_exits(m, x, static, float(t + 1), None, lengths).exit
                                           for (x, lengths), t in zip(chunks, exits_at, strict=True)])
        return lambda: run_stream(m, inputs, static, exits_at + 1.0, None, batch).exit

    def bare(m):
        if batch == 1:
            chunks = [m.collate([x]) for x in inputs]
            return lambda: np.concatenate([bare_schedule(m, x, lengths, np.array([t]))
                                           for (x, lengths), t in zip(chunks, exits_at, strict=True)])
        x, lengths = m.collate(inputs)
        return lambda: bare_schedule(m, x, lengths, exits_at)

    return {"eager": plain(model), "ort": plain(ort), "exits": early(model), "ort-exits": early(ort),
            "ort-int8": early(int8), "bare": bare(model), "ort-bare": bare(ort)}


def quality(model, inputs, targets) -> float:
    """Accuracy, or WER, of the model's last exit on these inputs."""
    errors = ref = 0.0
    for i in range(0, len(inputs), 32):
        x, lengths = model.collate(inputs[i:i + 32])
        for p, t in zip(run_full(model, x, lengths), targets[i:i + 32], strict=True):
            e, n = model.errors(p, t)
            errors, ref = errors + e, ref + n
    rate = errors / ref
    return 1 - rate if model.task == "class" else rate


def bench_model(key: str, folder: Path, repeats: int, say) -> dict:
    model, inputs, targets, calib = MODELS[key](16)
    say(f"{key}: exporting (fp32, then int8 stages)")
    fp32 = export(model, folder / key, key, "static", 0.0).folder
    calib_batches = [model.collate(calib[i:i + 8]) for i in range(0, len(calib), 8)]
    int8 = export(model, folder / f"{key}-int8", key, "static", 0.0, calib_batches).folder
    ort, q = OnnxModel(fp32, like=model), OnnxModel(int8, like=model)
    K = model.num_exits
    pattern = np.unique(np.linspace(K / 4, K, 4).round().astype(int) - 1)  # e.g. 12 layers: 3, 6, 9, 12
    macs = count_macs(model).path([], model.task_head)
    out = {"title": TITLES[key], "exits": K, "exit_pattern": (pattern + 1).tolist(), "rows": []}
    for batch, n in ((1, 4), (16, 16)):
        exits_at = np.resize(pattern, n)
        ideal = float(macs[-1] / macs[exits_at].mean())
        fns = ways(model, ort, q, inputs[:n], batch, exits_at)
        say(f"{key}: batch {batch}, {n} inputs, {repeats} runs of each way in turn")
        timings, results = time_calls(list(fns.values()), repeats)
        for name, got in zip(fns, results, strict=True):
            if name in ("exits", "ort-exits", "ort-int8", "bare", "ort-bare"):
                assert (got == exits_at).all(), f"{name} left at other exits than asked"
        t = dict(zip(fns, timings, strict=True))
        row = {"batch": batch, "inputs": n, "ideal": ideal,
               **{f"{w}_ms": t[w].median / n for w in WAYS},
               **{f"{w}_spread_ms": (t[w].high - t[w].low) / n for w in WAYS},
               "ort_over_eager": t["eager"].median / t["ort"].median,
               "exits_realized_over_ideal": t["eager"].median / t["exits"].median / ideal,
               "ort_exits_realized_over_ideal": t["ort"].median / t["ort-exits"].median / ideal,
               "ort_exits_over_eager": t["eager"].median / t["ort-exits"].median,
               "exits_kept_of_bare": t["bare"].median / t["exits"].median,
               "ort_exits_kept_of_bare": t["ort-bare"].median / t["ort-exits"].median}
        out["rows"].append(row)
    if targets is not None:
        inputs, targets = zoo.get(key).data(zoo.get(key).test_split)
        n = 256
        out["quality"] = {"name": "accuracy" if model.task == "class" else "wer", "inputs": n,
                          "fp32": quality(ort, inputs[:n], targets[:n]), "int8": quality(q, inputs[:n], targets[:n])}
    return out


def table(results: dict) -> str:
    lines = ["| model | batch | eager ms | ORT ms | exits ms | ORT exits ms | ORT int8 exits ms "
             "| bare ms | ORT bare ms | ORT / eager | exits realized / ideal (PyTorch, ORT) "
             "| exits kept of bare (PyTorch, ORT) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results.values():
        for row in r["rows"]:
            cells = [f"{row[f'{w}_ms']:.2f} ± {row[f'{w}_spread_ms'] / 2:.2f}" for w in WAYS]
            lines.append(f"| {r['title']} | {row['batch']} | " + " | ".join(cells) +
                         f" | {row['ort_over_eager']:.2f}x | {row['exits_realized_over_ideal']:.2f}, "
                         f"{row['ort_exits_realized_over_ideal']:.2f} (ideal {row['ideal']:.2f}x) "
                         f"| {row['exits_kept_of_bare']:.2f}, {row['ort_exits_kept_of_bare']:.2f} |")
    for r in results.values():
        if "quality" in r:
            q = r["quality"]
            lines.append(f"\n{r['title']}: {q['name']} of the last exit on {q['inputs']} test inputs: "
                         f"fp32 {q['fp32']:.4f}, int8 stages {q['int8']:.4f}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="image,speech,hubert,vit")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads of both runtimes (ONNX Runtime's sessions take torch's)")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    setup.install()
    results = {"threads": torch.get_num_threads(), "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        models = {k: bench_model(k, Path(tmp), a.repeats, lambda line: print(line, file=sys.stderr, flush=True))
                  for k in a.models.split(",")}
    results.update(models=models, load_after=os.getloadavg())
    print(json.dumps(results) if a.json else
          f"threads {results['threads']}, load average before {results['load_before'][0]:.2f}, "
          f"after {results['load_after'][0]:.2f}; ms per input, median ± half the 25th-75th spread\n\n"
          + table(models))


if __name__ == "__main__":
    main()
