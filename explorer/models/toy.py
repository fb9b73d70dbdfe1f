"""A tiny multi-exit MLP on synthetic data: the engine's test bench.

Inputs are noisy copies of class prototypes, each with its own noise level, so
easy samples can leave early and hard ones go deeper, which is all a test of exits
needs. Trains in seconds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..metrics import word_errors
from .base import MultiExitModel, State


@dataclass
class ToyConfig:
    in_dim: int = 32  # input features
    width: int = 64  # width of the features between stages
    hidden: int = 64  # width inside each stage's MLP
    num_stages: int = 6  # = number of exit points
    num_classes: int = 10
    shared_head: bool = False  # FreeML: one classifier over all exit points' features
    seed: int = 0


class Block(nn.Module):
    """Pre-norm residual MLP block: one stage."""

    def __init__(self, width: int, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # [B, W] -> [B, W]
        return h + self.fc2(F.gelu(self.fc1(self.norm(h))))


class ToyMLP(MultiExitModel):
    task = "class"

    def __init__(self, config: ToyConfig):
        super().__init__()
        self.config = config
        c = config
        torch.manual_seed(c.seed)
        self.num_exits = c.num_stages
        self.exit_names = [f"block {k + 1}" for k in range(c.num_stages)]
        self.heads = {"exit": "class"}
        self.embedding = nn.Linear(c.in_dim, c.width)
        self.blocks = nn.ModuleList(Block(c.width, c.hidden) for _ in range(c.num_stages))
        if c.shared_head:
            # one classifier reads every exit point's features; not-yet-run ones are zero
            self.shared = nn.Sequential(nn.LayerNorm(c.num_stages * c.width),
                                        nn.Linear(c.num_stages * c.width, c.num_classes))
        else:
            self.exits = nn.ModuleList(nn.Sequential(nn.LayerNorm(c.width), nn.Linear(c.width, c.num_classes))
                                       for _ in range(c.num_stages))

    def config_dict(self) -> dict:
        return asdict(self.config)

    def embed(self, x, lengths=None) -> State:  # x [B, in_dim]
        h = self.embedding(x)  # [B, W]
        memory = h.new_zeros(h.shape[0], self.num_exits, h.shape[1]) if self.config.shared_head else None
        return State(h, memory=memory)

    def stage(self, k, state) -> State:
        h = self.blocks[k](state.h)  # [B, W]
        memory = state.memory
        if memory is not None:
            memory = memory.clone()
            memory[:, k] = h  # [B, K, W]: this exit point's features join the shared input
        return State(h, memory=memory)

    def head(self, k, state, name) -> torch.Tensor:  # -> [B, C]
        if self.config.shared_head:
            return self.shared(state.memory.flatten(1))
        return self.exits[k](state.h)

    def example_input(self):
        return torch.zeros(1, self.config.in_dim), None


def toy_data(n: int, config: ToyConfig, seed: int = 0, noise: float | None = None):
    """(x [n, in_dim], y [n], noise level [n]): noisy copies of class prototypes.

    Each class has three prototypes (so a single linear layer is not enough) and
    each sample its own noise level (so some are easy and some are hard)."""
    protos = np.random.default_rng(config.seed + 1234).normal(size=(config.num_classes, 3, config.in_dim))
    rng = np.random.default_rng(seed)
    y = rng.integers(0, config.num_classes, n)
    level = rng.uniform(0.3, 1.6, n) if noise is None else np.full(n, noise)
    x = protos[y, rng.integers(0, 3, n)] + level[:, None] * rng.normal(size=(n, config.in_dim))
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y), level


def train_toy(config: ToyConfig, steps: int = 400, batch: int = 256, log=None) -> ToyMLP:
    """Joint training: the sum of every exit's cross-entropy (equal weights)."""
    model = ToyMLP(config)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x, y, _ = toy_data(steps * batch, config, seed=config.seed)
    model.train()
    for step in range(steps):
        xb, yb = x[step * batch:(step + 1) * batch], y[step * batch:(step + 1) * batch]
        state = model.embed(xb)
        loss = 0.0
        for k in range(model.num_exits):
            state = model.stage(k, state)
            loss = loss + F.cross_entropy(model.head(k, state, "exit"), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if log and step % 50 == 0:
            log(step, loss.item() / model.num_exits)
    return model.eval()


# ---- a sequence toy: CTC and self-supervised cluster heads on padded batches ---------------


@dataclass
class ToySeqConfig:
    feat_dim: int = 8  # input features per frame
    width: int = 32
    num_stages: int = 4
    vocab: int = 6  # CTC tokens, 0 = blank; token t is the word f"w{t}"
    clusters: int = 5  # self-supervised cluster targets (DAISY's head)
    seed: int = 0


class ToySeq(MultiExitModel):
    """Frames [B, T, F] with lengths; each stage mixes in the masked utterance mean,
    so padding would change the answer if it were not masked (tests rely on that)."""

    task = "ctc"

    def __init__(self, config: ToySeqConfig):
        super().__init__()
        self.config = c = config
        torch.manual_seed(c.seed)
        self.num_exits = c.num_stages
        self.exit_names = [f"layer {k + 1}" for k in range(c.num_stages)]
        self.heads = {"ctc": "ctc", "ssl": "cluster"}
        self.embedding = nn.Linear(c.feat_dim, c.width)
        self.blocks = nn.ModuleList(Block(2 * c.width, c.width) for _ in range(c.num_stages))
        self.down = nn.ModuleList(nn.Linear(2 * c.width, c.width) for _ in range(c.num_stages))
        self.ctc = nn.ModuleList(nn.Linear(c.width, c.vocab) for _ in range(c.num_stages))
        self.ssl = nn.ModuleList(nn.Linear(c.width, c.clusters) for _ in range(c.num_stages))

    def config_dict(self) -> dict:
        return asdict(self.config)

    def collate(self, inputs):
        lengths = torch.tensor([len(x) for x in inputs])
        return nn.utils.rnn.pad_sequence(inputs, batch_first=True), lengths

    def embed(self, x, lengths=None) -> State:  # x [B, T, F]
        mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]  # [B, T]
        return State(self.embedding(x) * mask[..., None], mask=mask)

    def stage(self, k, state) -> State:
        m = state.mask[..., None].float()  # [B, T, 1]
        mean = (state.h * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)  # [B, 1, W]
        h = torch.cat([state.h, mean.expand_as(state.h)], -1)  # [B, T, 2W]
        h = state.h + self.down[k](self.blocks[k](h))  # [B, T, W]
        return State(h * m, mask=state.mask)

    def head(self, k, state, name) -> torch.Tensor:  # -> [B, T, V or clusters]
        return (self.ctc if name == "ctc" else self.ssl)[k](state.h)

    def example_input(self):
        return torch.zeros(1, 20, self.config.feat_dim), torch.tensor([20])

    def describe(self, answer) -> str:
        return " ".join(f"w{t}" for t in answer)

    def errors(self, answer, target) -> tuple[float, int]:
        return word_errors(self.describe(answer), target)


def toy_seq_data(n: int, config: ToySeqConfig, seed: int = 0):
    """(frames list of [T_i, F], reference strings): random lengths 5..40."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(5, 41, (n,), generator=g)
    frames = [torch.randn(int(t), config.feat_dim, generator=g) for t in lengths]
    refs = [" ".join(f"w{int(t)}" for t in torch.randint(1, config.vocab, (3,), generator=g)) for _ in range(n)]
    return frames, refs
