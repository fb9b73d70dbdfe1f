"""Your own PyTorch model in the explorer: a small CNN for MNIST digits with an exit after
each of its three blocks, wrapped in the multi-exit contract (explorer/models/base.py).

  python -m explorer profile --model examples/custom_model.py:build --split calib
  python -m explorer bench   --model examples/custom_model.py:build --criterion confidence --threshold 0.9
  python -m explorer import examples/custom_model.py:build --data my_digits/ --name my-cnn

The contract in one breath: `embed` runs the input stem once; `stage(k)` runs block k on
the samples still running; `head(k, name)` reads exit k; `heads` names each head and its
kind ("class", "ctc" or "cluster"); the engine decides when to stop. `data(split)` (here:
MNIST) lets profile/sweep/bench/report use the model without a data folder; `family` and
`prepare` let `import` read a folder of pictures for it.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from explorer.models.base import MultiExitModel, State
from explorer.paths import CACHE

WEIGHTS = CACHE / "models" / "example-custom-cnn"


class CustomCNN(MultiExitModel):
    task = "class"
    family = "image"  # `import --data DIR` reads pictures for it with `prepare`

    def __init__(self):
        super().__init__()
        self.num_exits = 3
        self.exit_names = ["block 1", "block 2", "block 3"]
        self.heads = {"exit": "class"}  # one head per exit, answering with class logits
        self.labels = [str(d) for d in range(10)]
        self.stem = nn.Conv2d(1, 16, 3, padding=1)
        self.blocks = nn.ModuleList([nn.Conv2d(16, 32, 3, 2, 1), nn.Conv2d(32, 32, 3, 2, 1),
                                     nn.Conv2d(32, 64, 3, 2, 1)])
        self.exits = nn.ModuleList([nn.Linear(32, 10), nn.Linear(32, 10), nn.Linear(64, 10)])

    def embed(self, x, lengths=None) -> State:  # x [B, 1, 28, 28] in [0, 1]
        return State(F.relu(self.stem(x)))  # [B, 16, 28, 28]

    def stage(self, k, state) -> State:
        return State(F.relu(self.blocks[k](state.h)))  # [B, C_k, H/2, W/2]

    def head(self, k, state, name) -> torch.Tensor:
        return self.exits[k](state.h.mean((2, 3)))  # global average pool -> [B, 10]

    def example_input(self):
        return torch.zeros(1, 1, 28, 28), None

    def prepare(self, image) -> torch.Tensor:  # a PIL image -> [1, 28, 28]
        import numpy as np

        g = np.asarray(image.convert("L").resize((28, 28)), np.float32) / 255
        return torch.from_numpy(g)[None]

    def describe(self, answer) -> str:
        return self.labels[int(answer)]


def build() -> MultiExitModel:
    """The model, trained on first use (under a minute) and cached as safetensors."""
    from safetensors.torch import load_file, save_file

    path = WEIGHTS.with_suffix(".safetensors")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({k: v.contiguous() for k, v in _train().state_dict().items()}, str(path))
    model = CustomCNN()
    model.load_state_dict(load_file(str(path)))
    return model.eval()


def _train() -> CustomCNN:
    from explorer.data.mnist import load_mnist

    torch.manual_seed(0)
    model = CustomCNN()
    x, y = load_mnist("train")
    x, y = torch.tensor(x[:20_000])[:, None], torch.tensor(y[:20_000])
    opt = torch.optim.Adam(model.parameters(), 2e-3)
    for i in range(0, len(x), 100):
        state = model.embed(x[i:i + 100])
        loss = 0
        for k in range(model.num_exits):  # every exit learns the labels (joint training)
            state = model.stage(k, state)
            loss = loss + F.cross_entropy(model.head(k, state, "exit"), y[i:i + 100])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def data(split: str, limit: int = 0):
    """(inputs, targets) of a split: calib = 1,000 MNIST validation digits, test = 1,000 test digits."""
    from explorer.data.mnist import load_mnist

    x, y = load_mnist({"calib": "val", "test": "test", "train": "train"}[split])
    n = limit or 1000
    return list(torch.tensor(x[:n])[:, None]), y[:n].tolist()
