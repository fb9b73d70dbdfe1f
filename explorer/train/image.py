"""Train the built-in image model on MNIST: `python -m explorer train image`.

Strategies users compare (RESEARCH.md):
- joint:     backbone and every exit head together, a weighted sum of exit losses;
- two-stage: backbone with its final exit first, then the early heads on the frozen backbone;
- distill:   joint, with early exits also taught by the final exit's soft predictions.
Whatever the strategy, FreeML's shared exit is trained last on the frozen backbone,
as FreeML attaches it to an already trained model.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from .. import checkpoint
from ..corruptions import CORRUPTIONS, corrupt
from ..data.mnist import load_mnist
from ..models.image import MNIST_MEAN, MNIST_STD, ImageConfig, MnistResNet

STRATEGIES = ("joint", "two-stage", "distill")


@dataclass
class TrainConfig:
    strategy: str = "joint"
    epochs: int = 5  # backbone epochs (two-stage: the early heads get `head_epochs` more)
    head_epochs: int = 1  # frozen-backbone epochs for the early heads (two-stage) and the shared head
    batch: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-4
    exit_weights: tuple = ()  # per-exit loss weights for joint/distill; () = all 1 (HuBERT-EE's λ = 1)
    distill_alpha: float = 0.5  # share of the distillation term in an early exit's loss
    distill_temperature: float = 2.0
    shift: int = 2  # random translation of up to this many pixels (augmentation)
    # Share of each batch corrupted (random kind, severity 1..corrupt_max). A model that
    # has never seen noise is confidently wrong on it and exits *early*; one that has
    # seen some is merely less sure on it, so noisy inputs go deeper, as they should.
    corrupt_share: float = 0.5
    corrupt_max: int = 4
    limit: int = 0  # use only this many training images (tests); 0 = all 50k
    seed: int = 0


def all_exit_logits(model: MnistResNet, x: torch.Tensor) -> tuple[list, list]:
    """Per-exit and shared-head logits at every exit in one pass (training only).

    The shared head is one linear map over the concatenated exit-point summaries,
    zero for stages not yet run, so its logits at exit k are a cumulative sum of the
    per-exit-point contributions: the same numbers the engine gets stage by stage."""
    h = model.stem((x - MNIST_MEAN) / MNIST_STD)
    feats = []
    for block in model.blocks:
        h = block(h)
        feats.append(h)
    exits = [head(f) for head, f in zip(model.exits, feats, strict=True)]
    pooled = torch.stack([model.pooled(f) for f in feats], 1)  # [B, K, slot]
    w = model.shared.weight.view(-1, model.num_exits, model.slot)  # [C, K, slot]
    parts = torch.einsum("bks,cks->bkc", pooled, w)  # [B, K, C]
    shared = parts.cumsum(1) + model.shared.bias  # [B, K, C]
    return exits, list(shared.unbind(1))


def _shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Random translation per image by up to max_shift pixels (pad, then crop)."""
    if max_shift == 0:
        return x
    n, s = x.shape[0], max_shift
    padded = F.pad(x, (s, s, s, s))
    dx, dy = torch.randint(0, 2 * s + 1, (2, n), generator=gen)
    rows = (torch.arange(28)[None, :] + dy[:, None])[:, :, None]  # [n, 28, 1]
    cols = (torch.arange(28)[None, :] + dx[:, None])[:, None, :]  # [n, 1, 28]
    return padded[torch.arange(n)[:, None, None], 0, rows, cols][:, None]


def _corrupt_some(x: np.ndarray, cfg: TrainConfig, gen: torch.Generator) -> np.ndarray:
    """Corrupt a random share of the batch, a random kind and severity per chunk."""
    if cfg.corrupt_share <= 0:
        return x
    x = x.copy()
    n = int(len(x) * cfg.corrupt_share)
    chunks = np.array_split(np.arange(n), len(CORRUPTIONS))
    for kind, idx in zip(CORRUPTIONS, chunks, strict=True):
        severity = int(torch.randint(1, cfg.corrupt_max + 1, (1,), generator=gen))
        x[idx] = corrupt(x[idx], kind, severity, seed=int(torch.randint(0, 2**31, (1,), generator=gen)))
    return x


def _loss(cfg: TrainConfig, exits: list, y: torch.Tensor, which: str) -> torch.Tensor:
    K = len(exits)
    if which == "final":
        return F.cross_entropy(exits[-1], y)
    if which == "early":  # two-stage, phase 2: early heads only
        return sum(F.cross_entropy(z, y) for z in exits[:-1]) / (K - 1)
    weights = cfg.exit_weights or (1.0,) * K
    losses = []
    for k, z in enumerate(exits):
        ce = F.cross_entropy(z, y)
        if cfg.strategy == "distill" and k < K - 1:
            t = cfg.distill_temperature
            teacher = F.softmax(exits[-1].detach() / t, -1)
            kd = F.kl_div(F.log_softmax(z / t, -1), teacher, reduction="batchmean") * t * t
            ce = (1 - cfg.distill_alpha) * ce + cfg.distill_alpha * kd
        losses.append(weights[k] * ce)
    return sum(losses) / sum(weights)


@torch.inference_mode()
def evaluate(model: MnistResNet, x: np.ndarray, y: np.ndarray, batch: int = 500) -> dict:
    """Per-exit accuracy of the per-exit heads and of the shared head."""
    model.eval()
    right = {"exit": np.zeros(model.num_exits), "shared": np.zeros(model.num_exits)}
    for i in range(0, len(x), batch):
        xb, yb = torch.tensor(x[i:i + batch])[:, None], torch.tensor(y[i:i + batch])
        exits, shared = all_exit_logits(model, xb)
        for name, logits in (("exit", exits), ("shared", shared)):
            right[name] += [(z.argmax(1) == yb).sum().item() for z in logits]
    return {name: (r / len(x)).round(5).tolist() for name, r in right.items()}


def _run_phase(model, params, cfg, x, y, epochs, which, desc, log, gen):
    """Train `params` for `epochs` over (x, y) with one-cycle AdamW."""
    if epochs <= 0:
        return
    steps = epochs * (len(x) // cfg.batch)
    model.requires_grad_(False)  # only `params` learn; no backward through frozen parts
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps)
    bar = tqdm(total=steps, desc=desc, unit="step")
    for epoch in range(epochs):
        model.train()
        if which in ("early", "shared"):  # frozen backbone: keep BatchNorm statistics fixed
            model.eval()
        order = torch.randperm(len(x), generator=gen)
        for i in range(len(x) // cfg.batch):
            idx = order[i * cfg.batch:(i + 1) * cfg.batch]
            xb = _shift(torch.tensor(_corrupt_some(x[idx.numpy()], cfg, gen))[:, None], cfg.shift, gen)
            yb = torch.tensor(y[idx.numpy()])
            exits, shared = all_exit_logits(model, xb)
            if which == "shared":
                loss = sum(F.cross_entropy(z, yb) for z in shared) / len(shared)
            else:
                loss = _loss(cfg, exits, yb, which)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update()
            bar.set_postfix(loss=f"{loss.item():.3f}")
        log(f"{desc} epoch {epoch + 1}/{epochs}")
    bar.close()


def train(cfg: TrainConfig, model_cfg: ImageConfig | None = None, out: Path | None = None,
          log=print) -> tuple[MnistResNet, dict]:
    """Train per `cfg`; returns the model and a summary (validation accuracy per exit)."""
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {cfg.strategy!r}; choose one of {', '.join(STRATEGIES)}")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = MnistResNet(model_cfg or ImageConfig())
    x, y = load_mnist("train")
    xv, yv = load_mnist("val")
    if cfg.limit:
        x, y = x[:cfg.limit], y[:cfg.limit]
        xv, yv = xv[:cfg.limit], yv[:cfg.limit]
    start = time.time()
    history = []

    def log_val(what: str) -> None:
        acc = evaluate(model, xv, yv)
        history.append({"after": what, "seconds": round(time.time() - start, 1), **acc})
        log(json.dumps(history[-1]))

    backbone = [p for n, p in model.named_parameters() if not n.startswith(("exits.", "shared."))]
    early_heads = [p for head in list(model.exits)[:-1] for p in head.parameters()]
    final_head = list(model.exits[-1].parameters())
    if cfg.strategy == "two-stage":
        _run_phase(model, backbone + final_head, cfg, x, y, cfg.epochs, "final", "backbone", log_val, gen)
        _run_phase(model, early_heads, cfg, x, y, cfg.head_epochs, "early", "early heads", log_val, gen)
    else:
        _run_phase(model, backbone + early_heads + final_head, cfg, x, y, cfg.epochs, "joint",
                   cfg.strategy, log_val, gen)
    _run_phase(model, list(model.shared.parameters()), cfg, x, y, cfg.head_epochs, "shared",
               "shared head", log_val, gen)
    model.eval().requires_grad_(False)
    summary = {"train": {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(cfg).items()},
               "train_seconds": round(time.time() - start, 1), "threads": torch.get_num_threads(),
               "val_accuracy": history[-1] if history else {}, "history": history}
    if out is not None:
        checkpoint.save(model, out, summary)
    return model, summary
