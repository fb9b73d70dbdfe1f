"""The built-in image model: a multi-exit ResNet-style CNN for MNIST digits.

Six residual blocks, an exit after each. Two ways to read an exit, on the same
backbone and in the same checkpoint:
- "exit":   one small head per exit point (pooling + linear), BranchyNet style;
- "shared": FreeML's single shared exit: every exit point's feature map is pooled to
            a fixed size, stages not yet run are zero-filled, one classifier reads all.
`ImageConfig.head` picks which one the model answers with.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from .base import MultiExitModel, State

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


@dataclass
class ImageConfig:
    stem: int = 16  # channels of the first 3x3 conv
    # (channels, stride) per residual block; a stride-2 block halves the resolution.
    # The last exit costs about 5x the first: later blocks are where the money goes.
    blocks: tuple = ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (64, 1))
    pool: int = 4  # per-exit heads pool feature maps to pool x pool before the linear
    shared_pool: int = 2  # the shared head pools each exit point to shared_pool^2 x max channels
    num_classes: int = 10
    head: str = "exit"  # "exit" (one head per exit) or "shared" (FreeML)

    def __post_init__(self):
        self.blocks = tuple(tuple(b) for b in self.blocks)


class ResBlock(nn.Module):
    """Two 3x3 conv + BN layers with a residual (1x1 projection when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.skip = (nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))
                     if stride != 1 or c_in != c_out else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, c_in, H, W] -> [B, c_out, H/s, W/s]
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.skip(x))


def adaptive_avg_pool(h: torch.Tensor, size: int) -> torch.Tensor:
    """F.adaptive_avg_pool2d. ONNX has it only where `size` divides the input's sides, so an
    export writes the same averages as two matrix products (the bins are constants)."""
    H, W = h.shape[-2:]
    if not torch.onnx.is_in_onnx_export() or (H % size == 0 and W % size == 0):
        return F.adaptive_avg_pool2d(h, size)
    return _bins(int(H), size).to(h) @ h @ _bins(int(W), size).to(h).T


def _bins(n: int, size: int) -> torch.Tensor:
    """[size, n]: row i averages adaptive pooling's bin i (floor(i n / size) to ceil((i + 1) n / size))."""
    m = torch.zeros(size, n)
    for i in range(size):
        lo, hi = i * n // size, -(-(i + 1) * n // size)
        m[i, lo:hi] = 1 / (hi - lo)
    return m


class AdaptivePool(nn.Module):
    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return adaptive_avg_pool(h, self.size)


class ExitHead(nn.Sequential):
    """Average-pool to pool x pool, then one linear layer: cheap but keeps layout."""

    def __init__(self, channels: int, pool: int, num_classes: int):
        super().__init__(AdaptivePool(pool), nn.Flatten(), nn.Linear(channels * pool * pool, num_classes))


class MnistResNet(MultiExitModel):
    task = "class"

    def __init__(self, config: ImageConfig):
        super().__init__()
        self.config = c = config
        self.num_exits = len(c.blocks)
        self.exit_names = [f"block {k + 1}" for k in range(self.num_exits)]
        self.heads = {c.head: "class"}
        self.stem = nn.Sequential(nn.Conv2d(1, c.stem, 3, 1, 1, bias=False), nn.BatchNorm2d(c.stem), nn.ReLU())
        widths = [c.stem] + [ch for ch, _ in c.blocks]
        self.blocks = nn.ModuleList(ResBlock(widths[k], ch, s) for k, (ch, s) in enumerate(c.blocks))
        self.exits = nn.ModuleList(ExitHead(ch, c.pool, c.num_classes) for ch, _ in c.blocks)
        self.slot = max(widths) * c.shared_pool ** 2  # features per exit point in the shared memory
        self.shared = nn.Linear(self.num_exits * self.slot, c.num_classes)

    def config_dict(self) -> dict:
        return asdict(self.config)

    def embed(self, x, lengths=None) -> State:  # x [B, 1, 28, 28] in [0, 1], ink white
        h = self.stem((x - MNIST_MEAN) / MNIST_STD)  # [B, stem, 28, 28]
        memory = h.new_zeros(h.shape[0], self.num_exits, self.slot) if self.config.head == "shared" else None
        return State(h, memory=memory)

    def stage(self, k, state) -> State:
        h = self.blocks[k](state.h)  # [B, C_k, H_k, W_k]
        memory = state.memory
        if memory is not None:
            memory = memory.clone()
            memory[:, k] = self.pooled(h)  # this exit point joins the shared head's input
        return State(h, memory=memory)

    def pooled(self, h: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, slot]: fixed-size summary (zero-padded channels)."""
        p = adaptive_avg_pool(h, self.config.shared_pool).flatten(1)  # [B, C * s * s]
        return F.pad(p, (0, self.slot - p.shape[1]))

    def head(self, k, state, name) -> torch.Tensor:  # -> [B, classes]
        if name == "shared":
            return self.shared(state.memory.flatten(1))
        return self.exits[k](state.h)

    def example_input(self):
        return torch.zeros(1, 1, 28, 28), None
