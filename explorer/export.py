"""Export a multi-exit model to ONNX with its exits kept: `python -m explorer export`.

Exported through the multi-exit contract, never per model: one graph for the front end
(`embed`), one per stage, one per exit head, plus `exits.json`, everything another program
needs to run the exits without this project (criterion and threshold, stage order, head
names and kinds, the input, the class names or CTC vocabulary, the model's fingerprint and
the MACs of every part). The graphs pass the `State` between them as named tensors (`h`,
and `mask`, `memory` where the model has them), with a dynamic batch axis and, for
sequences, a dynamic time axis, so the runtime (`onnx_runtime.OnnxModel`) can drop the
samples that exited between any two stages, as the engine does in PyTorch.

Each graph is traced on a padded batch of two (sequences of unequal length), so a branch
a model takes only without padding is never frozen into the graph, and checked against
PyTorch on that batch before it is kept.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import criteria
from .costs import count_macs, read_heads
from .models.base import MultiExitModel, State
from .onnx_runtime import Graph
from .profile import fingerprint

FORMAT = 1
OPSET = 17
FIELDS = ("h", "mask", "memory")  # the State's tensors, in the order every graph takes them
TOLERANCE = 1e-4  # an exported graph answers within this of PyTorch (absolute, and relative to the scale)


@dataclass(frozen=True)
class Exported:
    """What `export` wrote: the folder and its exits.json, read back."""

    folder: Path
    spec: dict

    @property
    def graphs(self) -> int:
        return 1 + len(self.spec["stages"]) + sum(len(v) for v in self.spec["head_files"].values())


class _Part(nn.Module):
    """One call of the contract as a module torch.onnx can trace (the model is a submodule,
    so its weights become the graph's initializers)."""

    def __init__(self, model: MultiExitModel, call):
        super().__init__()
        self.model, self.call = model, call
        self.eval()  # the exporter restores this mode on the model afterwards: it must stay eval

    def forward(self, *args):
        return self.call(self.model, *args)


def _fields(state: State) -> list[str]:
    return [f for f in FIELDS if getattr(state, f) is not None]


def _tensors(state: State, fields: list[str]) -> tuple:
    return tuple(getattr(state, f) for f in fields)


def _state(fields: list[str], args) -> State:
    return State(**dict(zip(fields, args, strict=True)))


def example_batch(model: MultiExitModel) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The model's example input as a batch of two: for sequences the second is 3/4 as long
    (padded), so masks are traced as masks and not as "nothing to mask"."""
    x, lengths = model.example_input()
    if lengths is None:
        return model.collate([x[0], x[0]])
    n = int(lengths[0])
    return model.collate([x[0, :n], x[0, : max(1, 3 * n // 4)]])


def _op(err: Exception) -> str:
    """The operator an export error names, in words."""
    text = str(err)
    found = re.search(r"ONNX export of (?:the )?operator '?([\w:.]+)'?(?:,? ([^.\[]*))?", text)
    if found:
        why = f" ({found.group(2).strip()})" if found.group(2) and found.group(2).strip() else ""
        return f"the operator {found.group(1)} has no ONNX form{why}"
    found = re.search(r"(?:aten|quantized|prim|onnx)::[\w.]+", text)
    if found:
        return f"the operator {found.group(0)} has no ONNX form here"
    return text.splitlines()[0][:200] if text else type(err).__name__


def _export_one(part: nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str],
                dynamic: dict, what: str) -> None:
    try:
        with warnings.catch_warnings():  # the tracer's warnings are about shapes the padded batch already covers
            warnings.simplefilter("ignore")
            torch.onnx.export(part, args, str(path), input_names=inputs, output_names=outputs,
                              dynamic_axes={n: dynamic[n] for n in inputs + outputs if n in dynamic},
                              opset_version=OPSET, dynamo=False, do_constant_folding=True)
    except Exception as err:  # any failure of the tracer or exporter: say which part and which op
        raise ValueError(f"{what} cannot be exported to ONNX: {_op(err)}") from None


def _check(path: Path, feeds: dict, expected: list[torch.Tensor], what: str, why: str) -> None:
    """The graph at `path` must give PyTorch's numbers on the traced batch (`why`: what to say
    when it does not)."""
    got = Graph(path, threads=1)(feeds)
    for g, e in zip(got, expected, strict=True):
        e = e.detach().numpy()
        if e.dtype == bool:
            ok = np.array_equal(g, e)
        else:
            ok = g.shape == e.shape and np.allclose(g, e, atol=TOLERANCE, rtol=TOLERANCE)
        if not ok:
            gap = (f"by up to {float(np.abs(g - e).max()):.3g}, above {TOLERANCE:g}" if g.shape == e.shape
                   else f"shape {g.shape} instead of {e.shape}")
            raise ValueError(f"{what} exported to ONNX but answers differently from PyTorch on the traced batch "
                             f"({gap}){why}")


def _numpy(args) -> list[np.ndarray]:
    return [a.detach().numpy() for a in args]


@torch.inference_mode(False)
def export(model: MultiExitModel, out: Path, name: str, criterion: str, threshold: float,
           calibration: list | None = None) -> Exported:
    """Write the model's graphs and exits.json into `out` (replaced if it exists).

    calibration: (x, lengths) batches of the calibration split: the stages are then
    quantised to int8 (ONNX Runtime's static quantisation, calibrated on them)."""
    model = model.eval()
    x, lengths = example_batch(model)
    seq = lengths is not None
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=out.parent))  # written whole, then moved into place
    try:
        with torch.no_grad():
            spec = _write(model, tmp, name, criterion, threshold, x, lengths, seq, calibration)
        if out.exists():
            shutil.rmtree(out)
        tmp.replace(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return Exported(out, spec)


def _write(model, folder: Path, name, criterion, threshold, x, lengths, seq, calibration) -> dict:
    batch_axis = {0: "batch"}
    time_axes = {0: "batch", 1: "frames"} if seq else batch_axis
    front_in = ["x", "lengths"] if seq else ["x"]
    front_args = (x, lengths) if seq else (x,)
    if model.embed_alone:  # traced on one input: the runtime runs it input by input
        front_args = (x[:1, : int(lengths[0])], lengths[:1]) if seq else (x[:1],)
    state = model.embed(*front_args)
    fields = _fields(state)
    dynamic = {"x": {0: "batch", 1: "samples"} if seq else batch_axis, "lengths": batch_axis,
               "h": time_axes, "mask": time_axes, "memory": batch_axis}
    dynamic.update({f"next_{f}": dynamic[f] for f in fields})

    int8 = any(t.dtype == torch.int8 for t in model.state_dict().values())
    why = (": PyTorch's int8 kernels round otherwise than ONNX Runtime's; export the float model with --int8 "
           "instead" if int8 else ": the trace froze a shape or a branch")
    what = "the front end"
    _export_one(_Part(model, lambda m, *a: _tensors(m.embed(*a), fields)), front_args, folder / "front.onnx",
                front_in, fields, dynamic, what)
    _check(folder / "front.onnx", dict(zip(front_in, _numpy(front_args), strict=True)),
           list(_tensors(state, fields)), what, why)
    if model.embed_alone:  # the traced batch for the stages, each input embedded alone
        state = State.cat([model.embed(x[i:i + 1, : int(n)], n[None]) for i, n in enumerate(lengths)])

    stages, head_files = [], {n: [] for n in model.heads}
    for k in range(model.num_exits):
        what = f"stage {k + 1} ({model.exit_names[k]})"
        args = _tensors(state, fields)
        nxt = model.stage(k, state)
        file = f"stage{k + 1}.onnx"
        _export_one(_Part(model, lambda m, *a, k=k: _tensors(m.stage(k, _state(fields, a)), fields)), args,
                    folder / file, fields, [f"next_{f}" for f in fields], dynamic, what)
        _check(folder / file, dict(zip(fields, _numpy(args), strict=True)), list(_tensors(nxt, fields)), what, why)
        stages.append(file)
        state = nxt
        args = _tensors(state, fields)
        for head, kind in model.heads.items():
            what = f"head {head!r} at {model.exit_names[k]}"
            file = f"head-{head}{k + 1}.onnx"
            logits = model.head(k, state, head)
            dyn = dict(dynamic, logits=batch_axis if kind == "class" else time_axes)
            _export_one(_Part(model, lambda m, *a, k=k, head=head: m.head(k, _state(fields, a), head)), args,
                        folder / file, fields, ["logits"], dyn, what)
            _check(folder / file, dict(zip(fields, _numpy(args), strict=True)), [logits], what, why)
            head_files[head].append(file)

    if calibration:
        _quantise(model, folder, stages, fields, calibration)
    spec = _spec(model, name, criterion, threshold, x, seq, fields, stages, head_files, bool(calibration))
    (folder / "exits.json").write_text(json.dumps(spec, indent=1))
    return spec


def _spec(model, name, criterion, threshold, x, seq, fields, stages, head_files, int8) -> dict:
    task_kind = model.heads[model.task_head]
    return {
        "format": FORMAT, "model": name, "fingerprint": fingerprint(model), "architecture": model.architecture,
        "criterion": criterion, "threshold": threshold, "decision": _decision(model, criterion),
        "task": model.task,
        "heads": dict(model.heads),  # name -> kind; the first answers
        "exit_names": list(model.exit_names),
        "input": {"name": "x", "lengths": seq, "shape": list(x.shape[1:]), "dtype": str(x.dtype).split(".")[-1],
                  "family": model.family, "rate": model.rate if seq else None,
                  "one_at_a_time": bool(model.embed_alone)},
        "state": fields, "front": "front.onnx", "stages": stages, "head_files": head_files,
        "classes": _words(model) if task_kind == "class" else None,
        "vocabulary": _words(model) if task_kind == "ctc" else None,  # CTC ids, the blank at 0
        "ctc_silent": sorted(model.ctc_silent), "int8": int8,
        "macs": count_macs(model).to_dict(),
    }


def _decision(model: MultiExitModel, name: str) -> dict:
    """How the criterion decides, for a program without this project: the heads it reads at
    every exit, the score it compares with the threshold and the rule (ge: exit when
    score >= threshold, le: <=, gt: >); score "exit_number" (1 = the first exit), "streak" (PABEE) or "next_cost"
    (the MACs of going one exit further) where it is not a head's score."""
    crit = criteria.get(name)
    special = {"patience": "streak", "static": "exit_number", "budget": "next_cost"}
    return {"heads": read_heads(model.heads, crit), "score": special.get(crit.name, crit.score_column),
            "rule": crit.rule}


def _words(model: MultiExitModel) -> list[str]:
    """What each class id or CTC token id means, as the model describes it."""
    x, lengths = model.example_input()
    state = model.embed(x, lengths)
    for k in range(model.num_exits):
        state = model.stage(k, state)
    width = model.head(model.num_exits - 1, state, model.task_head).shape[-1]
    if model.task == "class":
        return [model.describe(i) for i in range(width)]
    return [model.describe((t,)) if t else "" for t in range(width)]


def _quantise(model, folder: Path, stages: list[str], fields: list[str], calibration: list) -> None:
    """Each stage's graph replaced by its int8 form, calibrated on the inputs that stage sees
    when the calibration batches run through the model (heads stay float: they are small)."""
    from onnxruntime.quantization import CalibrationDataReader, QuantType, quant_pre_process, quantize_static

    seen: list[list[dict]] = [[] for _ in stages]
    for x, lengths in calibration:
        state = model.embed(x, lengths) if not model.embed_alone else State.cat(
            [model.embed(x[i:i + 1, : int(n)], n[None]) for i, n in enumerate(lengths)])
        for k in range(len(stages)):
            seen[k].append(dict(zip(fields, _numpy(_tensors(state, fields)), strict=True)))
            state = model.stage(k, state)

    class Reader(CalibrationDataReader):
        def __init__(self, feeds):
            self.feeds = iter(feeds)

        def get_next(self):
            return next(self.feeds, None)

    for k, file in enumerate(stages):
        path = folder / file
        prepared = path.with_suffix(".pre.onnx")
        try:
            quant_pre_process(str(path), str(prepared), skip_symbolic_shape=True)
        except Exception:  # the optional graph clean-up failed: quantise the graph as it is
            shutil.copy(path, prepared)
        quantize_static(str(prepared), str(path), Reader(seen[k]), activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True,
                        op_types_to_quantize=["Conv", "MatMul", "Gemm"])  # the weights; norms stay float
        prepared.unlink()
