"""Run an exported early-exit model with numpy and ONNX Runtime alone: no PyTorch, nothing
of this project. Reads an `export` folder (`python -m explorer export MODEL --out DIR`)
and answers one file with its exit, running stage after stage and stopping at the first
exit whose criterion passes, exactly as the explorer's engine does.

    python examples/run_exported.py DIR FILE [--threshold T] [--json]

FILE: a picture for an image model (Pillow; the size the model takes, e.g. a 28x28 digit,
white ink on black, as the explorer's live page shows it after preparing a photo), or a
recording at the model's rate for a speech model (soundfile: WAV, FLAC, OGG).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

RULES = {"ge": np.greater_equal, "le": np.less_equal, "gt": np.greater}


class Graph:
    def __init__(self, path: Path):
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, feeds: dict) -> list[np.ndarray]:
        return self.session.run(None, {n: feeds[n] for n in self.inputs})


def read_input(path: str, spec: dict) -> dict:
    """The front end's feeds for one file."""
    if spec["lengths"]:  # a waveform
        import soundfile

        wave, rate = soundfile.read(path, dtype="float32", always_2d=True)
        if rate != spec["rate"]:
            sys.exit(f"error: {path} is at {rate} Hz; this model takes {spec['rate']} Hz")
        wave = wave.mean(1)
        return {"x": wave[None], "lengths": np.array([len(wave)], np.int64)}
    from PIL import Image

    channels, height, width = spec["shape"]
    image = Image.open(path).convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    x = np.asarray(image, np.float32) / 255
    x = x[None] if channels == 1 else x.transpose(2, 0, 1)
    return {"x": x[None]}


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64)
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def frame_mean(x: np.ndarray, mask) -> float:
    return float(x.mean()) if mask is None else float((x * mask[0]).sum() / max(mask[0].sum(), 1))


def read(kind: str, logits: np.ndarray, mask, silent: set[int]) -> dict:
    """A head's answer and scores (batch of one), as the explorer reads them."""
    logp = log_softmax(logits)[0]
    entropy = -(np.exp(logp) * logp).sum(-1)
    if kind == "class":
        return {"pred": int(logp.argmax()), "confidence": float(np.exp(logp.max())), "entropy": float(entropy),
                "entropy_norm": float(entropy / math.log(logp.shape[-1]))}
    if kind == "cluster":
        return {"ssl_entropy": frame_mean(entropy, mask)}
    best = logp.argmax(-1)[: int(mask[0].sum()) if mask is not None else None]  # greedy CTC
    best = best[~np.isin(best, list(silent))]
    keep = np.ones(len(best), bool)
    keep[1:] = best[1:] != best[:-1]
    return {"pred": tuple(int(t) for t in best[keep] if t != 0), "ctc_entropy": frame_mean(entropy, mask)}


def answer_text(spec: dict, pred) -> str:
    if spec["classes"] is not None:
        return spec["classes"][pred]
    return " ".join(spec["vocabulary"][t] for t in pred)


def run(folder: Path, file: str, threshold: float | None = None) -> dict:
    spec = json.loads((folder / "exits.json").read_text())
    decision, K = spec["decision"], len(spec["stages"])
    threshold = spec["threshold"] if threshold is None else threshold
    task_head = next(iter(spec["heads"]))
    silent = set(spec["ctc_silent"])
    macs = spec["macs"]
    cost = macs["front"] + np.cumsum(np.sum([macs["stage"]] + [macs["head"][h] for h in decision["heads"]], 0))
    if task_head not in decision["heads"]:  # the answer is read at the exit taken
        cost = cost + np.asarray(macs["head"][task_head])
    state = dict(zip(spec["state"], Graph(folder / spec["front"])(read_input(file, spec["input"])), strict=True))
    preds, streak = [], 0
    for k in range(K):
        state = dict(zip(spec["state"], Graph(folder / spec["stages"][k])(state), strict=True))
        seen = {}
        for head in decision["heads"] if k < K - 1 else [task_head]:
            logits = Graph(folder / spec["head_files"][head][k])(state)[0]
            seen.update(read(spec["heads"][head], logits, state.get("mask"), silent))
        if k == K - 1:
            break
        if "pred" in seen:
            streak = streak + 1 if preds and seen["pred"] == preds[-1] else 0
            preds.append(seen["pred"])
        score = {"exit_number": k + 1, "streak": streak,
                 "next_cost": cost[k + 1] if k + 1 < K else math.inf}.get(decision["score"])
        score = seen[decision["score"]] if score is None else score
        if RULES[decision["rule"]](score, threshold):
            if "pred" not in seen:  # the criterion did not read the answer: read it now
                logits = Graph(folder / spec["head_files"][task_head][k])(state)[0]
                seen.update(read(spec["heads"][task_head], logits, state.get("mask"), silent))
            break
    return {"file": file, "exit": k + 1, "exits_total": K, "exit_name": spec["exit_names"][k],
            "prediction": answer_text(spec, seen["pred"]), "criterion": spec["criterion"],
            "threshold": threshold}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("file")
    parser.add_argument("--threshold", type=float, help="default: the one exported")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = run(Path(args.folder), args.file, args.threshold)
    print(json.dumps(out) if args.json else
          f"{out['file']}: {out['prediction']} (exit {out['exit']} of {out['exits_total']}, {out['exit_name']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
