"""An exported model (`explorer.export`) run by ONNX Runtime, in the multi-exit contract.

`OnnxModel` is a `MultiExitModel` whose front end, stages and heads are ONNX Runtime
sessions, so the engine's two schedules, the criteria, profiles and benchmarks run it
unchanged: real exits, one decision step per batch, the samples that left dropped between
stages. Torch tensors cross into the sessions and back without copies (`numpy()` /
`from_numpy`). What is not a graph (collating inputs, reading files, describing and judging
an answer) is the PyTorch model's own, when one is given (`like`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .models.base import MultiExitModel, State


class Graph:
    """One exported graph in an ONNX Runtime session on the CPU (`threads` intra-op threads,
    default torch's), fed by name with what it reads of the tensors it is given (the exporter
    drops inputs a graph does not use: the shared head reads only the memory)."""

    def __init__(self, path: Path, threads: int | None = None):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or torch.get_num_threads()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3  # warnings about unused initializers and the like are not the user's
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def __call__(self, feeds: dict) -> list[np.ndarray]:
        return self.session.run(None, {n: feeds[n] for n in self.inputs})


class OnnxModel(MultiExitModel):
    def __init__(self, folder: Path, like: MultiExitModel | None = None):
        super().__init__()
        self.folder = Path(folder)
        self.spec = spec = json.loads((self.folder / "exits.json").read_text())
        self.like = like
        self.task = spec["task"]
        self.heads = dict(spec["heads"])
        self.exit_names = list(spec["exit_names"])
        self.num_exits = len(self.exit_names)
        self.fields = list(spec["state"])
        self.embed_alone = spec["input"]["one_at_a_time"]
        self.ctc_silent = frozenset(spec["ctc_silent"])
        if like is not None:
            self.family, self.labels, self.rate = like.family, like.labels, like.rate
        self.front = Graph(self.folder / spec["front"])
        self.stages = [Graph(self.folder / f) for f in spec["stages"]]
        self.graphs = {n: [Graph(self.folder / f) for f in files] for n, files in spec["head_files"].items()}

    # ---- the graphs -----------------------------------------------------------------------------
    def _feeds(self, state: State) -> dict:
        return {f: getattr(state, f).contiguous().numpy() for f in self.fields}

    def _state(self, outputs: list) -> State:
        return State(**{f: torch.from_numpy(v) for f, v in zip(self.fields, outputs, strict=True)})

    def embed(self, x, lengths=None) -> State:
        if self.embed_alone and x.shape[0] > 1:  # its front end normalises over the whole input: one at a time
            return State.cat([self.embed(x[i:i + 1, : int(n)], n[None]) for i, n in enumerate(lengths)])
        feeds = {"x": x.contiguous().numpy().astype(np.float32, copy=False)}
        if self.spec["input"]["lengths"]:
            if lengths is None:
                lengths = torch.full((x.shape[0],), x.shape[1])
            feeds["lengths"] = lengths.numpy().astype(np.int64, copy=False)
        return self._state(self.front(feeds))

    def stage(self, k, state) -> State:
        return self._state(self.stages[k](self._feeds(state)))

    def head(self, k, state, name) -> torch.Tensor:
        return torch.from_numpy(self.graphs[name][k](self._feeds(state))[0])

    def known_macs(self) -> dict:
        return self.spec["macs"]  # counted on the PyTorch model at export: ORT runs are invisible to torch

    def config_dict(self) -> dict:
        return {"onnx": self.spec["fingerprint"], "int8": self.spec["int8"]}

    @property
    def architecture(self) -> str:
        return self.spec["architecture"]

    # ---- what is not a graph: the PyTorch model's own --------------------------------------------
    def example_input(self):
        return self.like.example_input()

    def collate(self, inputs):
        return self.like.collate(inputs) if self.like is not None else super().collate(inputs)

    def prepare(self, raw):
        return self.like.prepare(raw)

    def describe(self, answer) -> str:
        return self.like.describe(answer) if self.like is not None else super().describe(answer)

    def errors(self, answer, target):
        return self.like.errors(answer, target) if self.like is not None else super().errors(answer, target)

    def heard(self, answer: str) -> str:
        return self.like.heard(answer) if self.like is not None else ""

    def picture(self, x):
        return self.like.picture(x) if self.like is not None else super().picture(x)
