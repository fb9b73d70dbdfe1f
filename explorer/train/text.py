"""Train the built-in text model: `python -m explorer train text [--strategy layerskip|calm]`.

A byte-level causal LM (`models.text.ExitLM`) on Python's standard library source
(`data.text_corpus`), every exit trained at once:
  layerskip  the model's own final norm and head read every layer (exits "shared"), with
             layer dropout rising with depth and the early-exit loss (Elhoushi et al. 2024);
  calm       a norm and head of its own per layer (exits "own"), no layer dropout, the
             layers' losses averaged with weights rising with depth (Schuster et al. 2022).
Training runs for a wall-clock budget (minutes): a short speed probe sets the step count, so
the one-cycle learning-rate schedule fits the budget. Validation reports bits per byte at
every exit and how often each exit's next byte agrees with the last exit's.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from .. import checkpoint
from ..data.text_corpus import load
from ..models.text import ExitLM, TextConfig

STRATEGIES = {"layerskip": "shared", "calm": "own"}


@dataclass
class TextTrainConfig:
    strategy: str = "layerskip"
    minutes: float = 55.0
    batch: int = 16
    window: int = 256  # bytes per training sequence: the model's whole context, so every position learns
    lr: float = 2e-3
    weight_decay: float = 0.05
    val_windows: int = 96
    evals: int = 6  # validations spread over the run
    steps: int = 0  # a fixed step count instead of the budget (tests)
    seed: int = 0


def model_config(cfg: TextTrainConfig, base: TextConfig | None = None) -> TextConfig:
    base = base or TextConfig()
    exits = STRATEGIES[cfg.strategy]
    return TextConfig(**{**asdict(base), "exits": exits,
                         "layer_dropout": base.layer_dropout if exits == "shared" else 0.0})


@torch.no_grad()
def evaluate(model: ExitLM, windows: torch.Tensor) -> dict:
    """Bits per byte at each exit, and each exit's agreement with the last exit's next byte."""
    model.eval()
    logits = model(windows[:, :-1])
    target = windows[:, 1:].reshape(-1)
    final = logits[-1].argmax(-1).reshape(-1)
    bits, agree = [], []
    for lg in logits:
        flat = lg.reshape(-1, lg.shape[-1])
        bits.append(round(float(torch.nn.functional.cross_entropy(flat, target)) / math.log(2), 4))
        agree.append(round(float((flat.argmax(-1) == final).float().mean()), 4))
    return {"bits_per_byte": bits, "agrees_with_last": agree}


def fit_classifier(model: ExitLM, windows: int = 96, steps: int = 300, seed: int = 0, log=print) -> ExitLM:
    """CALM's learned exit classifier: per layer but the last, a linear map of the layer's hidden
    state trained (the language model frozen) to say whether this exit's next token is the last
    exit's, on teacher-forced windows of the train split. Returns the model with it (its config's
    `classifier` on); the criterion `learned` reads it."""
    gen = torch.Generator().manual_seed(seed)
    ids = load("train").windows(model.config.context, windows, gen)
    model.eval()
    with torch.no_grad():
        logits, states = model.forward_states(ids)
        final = logits[-1].argmax(-1)
        feats = [states[k + 1].reshape(-1, model.config.width) for k in range(model.num_exits - 1)]
        labels = [(logits[k].argmax(-1) == final).reshape(-1).float() for k in range(model.num_exits - 1)]
    fitted = ExitLM(TextConfig(**{**asdict(model.config), "classifier": True}))
    fitted.load_state_dict(model.state_dict(), strict=False)  # everything but the new classifiers
    fitted.requires_grad_(False)
    heads = fitted.exit_classifiers.requires_grad_(True)
    opt = torch.optim.Adam(heads.parameters(), lr=1e-2)
    for i in range(steps):  # the whole set at once: a logistic regression per layer
        loss = sum(F.binary_cross_entropy_with_logits(heads[k](f)[:, 0], y)
                   for k, (f, y) in enumerate(zip(feats, labels, strict=True))) / len(feats)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i + 1 in (1, steps):
            log(json.dumps({"classifier_step": i + 1, "bce": round(float(loss.detach()), 4)}))
    return fitted.eval().requires_grad_(False)


def train(cfg: TextTrainConfig, base: TextConfig | None = None, out: Path | None = None,
          log=print) -> tuple[ExitLM, dict]:
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {cfg.strategy!r}; choose one of {', '.join(STRATEGIES)}")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = ExitLM(model_config(cfg, base))
    if cfg.window > model.config.context:
        raise ValueError(f"training windows of {cfg.window} bytes exceed the model's context of {model.config.context}")
    corpus, val = load("train"), load("val")
    val_windows = val.windows(cfg.window, cfg.val_windows, torch.Generator().manual_seed(1))
    drop = model.config.exits == "shared"
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.95))
    start = time.time()

    def step(sched=None) -> float:
        model.train()
        loss, _ = model.loss(corpus.windows(cfg.window, cfg.batch, gen), drop=drop)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if sched is not None:
            sched.step()
        return float(loss.detach())

    steps = cfg.steps
    if not steps:  # the speed probe: a few steps at a low rate, then the budget in steps
        for g in opt.param_groups:
            g["lr"] = cfg.lr / 100
        probe = time.time()
        for _ in range(3):
            step()
        per_step = (time.time() - probe) / 3
        steps = max(10, int((cfg.minutes * 60 - (time.time() - start)) / (per_step * 1.08)))
        log(json.dumps({"probe_seconds_per_step": round(per_step, 3), "steps": steps}))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps, pct_start=0.05)
    history, every = [], max(1, steps // max(cfg.evals, 1))
    bar = tqdm(total=steps, desc=f"text ({cfg.strategy})", unit="step")
    for i in range(steps):
        loss = step(sched)
        bar.update()
        bar.set_postfix(loss=f"{loss:.3f}")
        if (i + 1) % every == 0 or i + 1 == steps:
            history.append({"step": i + 1, "seconds": round(time.time() - start, 1), "train_loss": round(loss, 4),
                            **evaluate(model, val_windows)})
            log(json.dumps(history[-1]))
    bar.close()
    model = fit_classifier(model.eval(), seed=cfg.seed, log=log)  # CALM's learned confidence, on the frozen model
    summary = {"train": asdict(cfg), "train_seconds": round(time.time() - start, 1),
               "threads": torch.get_num_threads(), "corpus": {"root": corpus.root, "train_bytes": len(corpus.data),
                                                              "train_files": corpus.files, "digest": corpus.digest},
               "val": history[-1] if history else {}, "history": history}
    if out is not None:
        checkpoint.save(model, out, summary)
    return model, summary
