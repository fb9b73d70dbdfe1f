"""Exit heads trained on a frozen backbone (HuBERT-EE's second stage), for imported models.

The backbone is run once over the training inputs (`extract`): the features every head
reads are kept in half precision, with the final exit's output (the teacher for
self-distillation). Every epoch then only runs the light heads, so training all of them
costs little more than one profile pass. Kinds:
- "trained":   labels (class ids, or transcripts as CTC targets);
- "distilled": no labels; every early head learns the final head's output distribution
               (class posteriors, or CTC frame posteriors);
- DAISY cluster heads (speech): k-means on one layer's frames, a linear head per layer
  predicts the cluster of each frame; its entropy is the `daisy` criterion's score;
- FreeML's shared exit (images): one linear head over every exit point's pooled features,
  zero for stages not run, trained at every exit.
Heads are seeded and saved as safetensors + JSON; each logs its loss per epoch.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

MAX_FEATURE_BYTES = 4 * 2**30  # kept in memory below this; above, ask for --limit


class Branch(nn.Module):
    """LayerNorm + linear: HuBERT-EE's light CTC exit, and a pooled image exit. With
    parts=2 the input is two features side by side (ViT: CLS ⊕ mean patch token), each
    normalised on its own."""

    def __init__(self, width: int, out: int, parts: int = 1):
        super().__init__()
        self.parts = parts
        self.norms = nn.ModuleList(nn.LayerNorm(width // parts) for _ in range(parts))
        self.linear = nn.Linear(width, out)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # [..., width] -> [..., out]
        # mask (frames of an utterance) is for heads that read context; this one reads one frame
        if self.parts == 1:
            return self.linear(self.norms[0](x))
        return self.linear(torch.cat([n(c) for n, c in zip(self.norms, x.chunk(self.parts, -1), strict=True)], -1))

    @torch.no_grad()
    def warm_start(self, own: tuple | None) -> None:
        """Start from the model's own head (norm or None, weight [out, D], bias [out]) read on
        the first part, the other parts at zero: before training, the branch IS the final-head
        exit, and training only has to improve on it."""
        if own is None:
            return
        norm, weight, bias = own
        if weight.shape[1] != self.norms[0].normalized_shape[0] or weight.shape[0] != self.linear.out_features:
            return
        if norm is not None:
            self.norms[0].load_state_dict(norm.state_dict())
        self.linear.weight.zero_()
        self.linear.weight[:, : weight.shape[1]] = weight
        self.linear.bias.copy_(bias)


class AttentionBranch(nn.Module):
    """HuBERT-EE's attention exit for CTC: one self-attention block over the utterance
    (pre-norm, residual), then LayerNorm + linear to the vocabulary, so a frame's answer
    sees its context where the light exit sees the frame alone. The attention's output
    projection starts at zero, so before training it IS the light exit (warm-started
    from the model's own head) and training only adds what context brings."""

    needs_mask = True  # padded frames must not be attended to (exact under padding)

    def __init__(self, width: int, out: int):
        super().__init__()
        heads = next(h for h in (8, 4, 2, 1) if (width % h == 0 and width // h >= 8) or h == 1)  # >= 8 dims each
        self.norm = nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.out = Branch(width, out)
        with torch.no_grad():
            self.attention.out_proj.weight.zero_()
            self.attention.out_proj.bias.zero_()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        # x [B, T, D], mask [B, T] True on real frames -> [B, T, out]
        z = self.norm(x)
        a, _ = self.attention(z, z, z, key_padding_mask=None if mask is None else ~mask, need_weights=False)
        return self.out(x + a)

    def warm_start(self, own: tuple | None) -> None:
        self.out.warm_start(own)


CTC_HEADS = ("linear", "attention")  # HuBERT-EE's two exit branches: LayerNorm + linear, or attention + linear


def ctc_branch(kind: str, width: int, vocab: int) -> nn.Module:
    if kind not in CTC_HEADS:
        raise ValueError(f"unknown exit head {kind!r}; choose one of {', '.join(CTC_HEADS)}")
    return AttentionBranch(width, vocab) if kind == "attention" else Branch(width, vocab)


@dataclass
class Features:
    """The frozen backbone's features of the training inputs, read once.

    image: per[k] [N, F_k] pooled features; teacher [N, C] final logits.
    speech: per[k] [sum T_i, D] frames of all inputs back to back (offsets [N + 1]);
            teacher [sum T_i, V] final CTC logits."""

    per: list[torch.Tensor]
    teacher: torch.Tensor
    offsets: np.ndarray | None = None
    seconds: float = 0.0

    def frames(self, i: int) -> slice:
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))


@torch.inference_mode()
def extract(model, inputs: list[torch.Tensor], batch: int = 64, progress=None) -> Features:
    """One pass of the frozen backbone over `inputs`, every exit point's features in fp16."""
    start, K = time.perf_counter(), model.num_exits
    per: list[list[torch.Tensor]] = [[] for _ in range(K)]
    teacher, lengths = [], []
    for b in range(0, len(inputs), batch):
        x, lens = model.collate(inputs[b:b + batch])
        state = model.embed(x, lens)
        for k in range(K):
            state = model.stage(k, state)
            if model.family == "image":
                per[k].append(model.features(k, state.h).half())
            else:
                n = state.mask.sum(1).tolist()
                per[k].extend(state.h[i, : int(n[i])].half() for i in range(len(n)))
        final = model.final_logits(state.h)
        if model.family == "image":
            teacher.append(final.half())
        else:
            n = state.mask.sum(1).tolist()
            teacher.extend(final[i, : int(n[i])].half() for i in range(len(n)))
            lengths.extend(int(v) for v in n)
        if progress:
            progress(min(1.0, (b + batch) / len(inputs)), "reading the frozen backbone's features")
        size = sum(t.numel() * 2 for p in per for t in p)
        if size > MAX_FEATURE_BYTES:
            raise ValueError(f"the training features pass {MAX_FEATURE_BYTES / 2**30:.0f} GB after {b + batch} "
                             "inputs: use --limit to train on fewer files")
    offsets = np.concatenate([[0], np.cumsum(lengths)]) if lengths else None
    return Features([torch.cat(p) for p in per], torch.cat(teacher), offsets, time.perf_counter() - start)


@dataclass
class TrainLog:
    kind: str
    seed: int
    epochs: int
    seconds: float = 0.0
    per_exit: list[dict] = field(default_factory=list)  # {"exit", "loss": [per epoch]}

    def to_dict(self) -> dict:
        return {"kind": self.kind, "seed": self.seed, "epochs": self.epochs, "seconds": self.seconds,
                "per_exit": self.per_exit}


def _epochs(params, steps_per_epoch: int, epochs: int, step_fn, lr: float, seed: int) -> list[float]:
    """AdamW with cosine decay; step_fn(gen) -> loss of one minibatch. Mean loss per epoch."""
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    total = max(1, steps_per_epoch * epochs)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    gen = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        losses = []
        for batch in step_fn(gen):
            loss = batch()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
        history.append(float(np.mean(losses)))
    return history


def _minibatches(n: int, size: int, gen: torch.Generator) -> list[torch.Tensor]:
    perm = torch.randperm(n, generator=gen)
    return [perm[i:i + size] for i in range(0, n, size)]


def train_image_branches(model, feats: Features, targets: list[int] | None, epochs: int, seed: int = 0,
                         lr: float = 3e-3, progress=None) -> tuple[nn.ModuleList, TrainLog]:
    """One Branch per exit but the last (which keeps the model's own head); labels, or the
    final head's posteriors when `targets` is None (self-distillation)."""
    torch.manual_seed(seed)
    K, C = model.num_exits, len(model.labels)
    log = TrainLog("trained" if targets is not None else "distilled", seed, epochs)
    start = time.perf_counter()
    branches = nn.ModuleList(Branch(model.widths[k], C, getattr(model, "branch_parts", 1)) for k in range(K - 1))
    for b in branches:
        b.warm_start(getattr(model, "own_head", lambda: None)())
    y = torch.tensor(targets) if targets is not None else None
    soft = feats.teacher.float().log_softmax(-1)
    for k, branch in enumerate(branches):
        x = feats.per[k].float()

        def steps(gen, x=x, branch=branch):
            for idx in _minibatches(len(x), 64, gen):
                yield lambda idx=idx: _class_loss(branch(x[idx]), y[idx] if y is not None else None, soft[idx])

        hist = _epochs(branch.parameters(), math.ceil(len(x) / 64), epochs, steps, lr, seed + k)
        log.per_exit.append({"exit": k, "loss": hist})
        if progress:
            progress((k + 1) / (K - 1), f"trained exit {k + 1}: loss {hist[0]:.3f} -> {hist[-1]:.3f}")
    log.seconds = time.perf_counter() - start
    return branches.eval(), log


def _class_loss(logits, y, teacher_logp):
    if y is not None:
        return F.cross_entropy(logits, y)
    return F.kl_div(logits.log_softmax(-1), teacher_logp, log_target=True, reduction="batchmean")


def train_shared_exit(model, feats: Features, targets: list[int] | None, epochs: int, seed: int = 0,
                      lr: float = 3e-3) -> tuple[nn.Module, TrainLog]:
    """FreeML's one head over [exit 0 .. exit K-1] pooled features, zero after the exit
    point it answers at; trained at every exit point at once."""
    torch.manual_seed(seed)
    K, C, slot = model.num_exits, len(model.labels), model.slot
    n = len(feats.teacher)
    memory = torch.zeros(n, K, slot)
    for k in range(K):
        memory[:, k, : model.widths[k]] = feats.per[k].float()
    head = nn.Linear(K * slot, C)
    y = torch.tensor(targets) if targets is not None else None
    soft = feats.teacher.float().log_softmax(-1)
    seen = torch.tril(torch.ones(K, K))  # [exit, slot]: at exit k, slots 0..k are filled
    start = time.perf_counter()

    def steps(gen):
        for idx in _minibatches(n, 64, gen):
            def loss(idx=idx):
                m = memory[idx][:, None] * seen[None, :, :, None]  # [b, K exits, K slots, F]
                logits = head(m.flatten(2))  # [b, K, C]
                yy = y[idx].repeat_interleave(K) if y is not None else None
                return _class_loss(logits.flatten(0, 1), yy, soft[idx].repeat_interleave(K, 0))
            yield loss

    hist = _epochs(head.parameters(), math.ceil(n / 64), epochs, steps, lr, seed)
    log = TrainLog("shared" if targets is not None else "shared-distilled", seed, epochs,
                   time.perf_counter() - start, [{"exit": "shared", "loss": hist}])
    return head.eval(), log


def train_ctc_branches(model, feats: Features, transcripts: list[str] | None, epochs: int, seed: int = 0,
                       lr: float = 3e-3, progress=None, head: str = "linear") -> tuple[nn.ModuleList, TrainLog]:
    """HuBERT-EE's CTC exit per layer but the last: CTC loss on the transcripts, or frame-wise
    KL to the final head's CTC posteriors when `transcripts` is None. head: "linear"
    (LayerNorm + linear) or "attention" (a self-attention block before it)."""
    torch.manual_seed(seed)
    K, V, D = model.num_exits, model.vocab_size, model.hidden_size
    order = model.order
    teacher = feats.teacher.float()
    if order is not None:
        teacher = teacher[:, order]
    teacher = teacher.log_softmax(-1)
    targets = [torch.tensor(model.encode(t)) for t in transcripts] if transcripts is not None else None
    branches = nn.ModuleList(ctc_branch(head, D, V) for _ in range(K - 1))
    for b in branches:
        b.warm_start(getattr(model, "own_head", lambda: None)())
    n = len(feats.offsets) - 1
    log = TrainLog("trained" if transcripts is not None else "distilled", seed, epochs)
    start = time.perf_counter()
    for k, branch in enumerate(branches):
        x = feats.per[k]

        def steps(gen, x=x, branch=branch):
            for idx in _minibatches(n, 8, gen):
                yield lambda idx=idx: _ctc_loss(branch, x, feats, idx.tolist(), targets, teacher)

        hist = _epochs(branch.parameters(), math.ceil(n / 8), epochs, steps, lr, seed + k)
        log.per_exit.append({"exit": k, "loss": hist})
        if progress:
            progress((k + 1) / (K - 1), f"trained exit {k + 1}: loss {hist[0]:.3f} -> {hist[-1]:.3f}")
    log.seconds = time.perf_counter() - start
    return branches.eval(), log


def _ctc_loss(branch, x, feats: Features, idx: list[int], targets, teacher):
    spans = [feats.frames(i) for i in idx]
    rows = torch.cat([torch.arange(s.start, s.stop) for s in spans])
    if targets is None and not getattr(branch, "needs_mask", False):  # frame by frame: distill all at once
        logp = branch(x[rows].float()).log_softmax(-1)
        return F.kl_div(logp, teacher[rows], log_target=True, reduction="batchmean")
    seqs = [x[s].float() for s in spans]
    h = nn.utils.rnn.pad_sequence(seqs, batch_first=True)  # [b, T, D]
    mask = torch.arange(h.shape[1])[None] < torch.tensor([len(s) for s in seqs])[:, None]  # [b, T]
    logits = branch(h, mask)  # [b, T, V]
    if targets is None:  # the real frames, utterance by utterance: the order of `rows`
        return F.kl_div(logits[mask].log_softmax(-1), teacher[rows], log_target=True, reduction="batchmean")
    logp = logits.log_softmax(-1).transpose(0, 1)  # [T, b, V]
    tgt = [targets[i] for i in idx]
    return F.ctc_loss(logp, torch.cat(tgt), torch.tensor([len(s) for s in seqs]), torch.tensor([len(t) for t in tgt]),
                      blank=0, zero_infinity=True)


def train_daisy(model, feats: Features, clusters: int = 50, layer: int | None = None, epochs: int = 5,
                seed: int = 0, lr: float = 3e-3, max_frames: int = 200_000) -> tuple[nn.ModuleList, TrainLog, dict]:
    """DAISY: k-means (scikit-learn) on one layer's frames of the user's audio (no labels),
    then a linear cluster head per layer learns to predict each frame's cluster."""
    from sklearn.cluster import MiniBatchKMeans

    torch.manual_seed(seed)
    K = model.num_exits
    layer = K // 2 if layer is None else layer
    frames = feats.per[layer].float().numpy()
    rng = np.random.default_rng(seed)
    fit_on = frames if len(frames) <= max_frames else frames[rng.choice(len(frames), max_frames, replace=False)]
    clusters = min(clusters, len(fit_on))
    km = MiniBatchKMeans(clusters, random_state=seed, n_init=3, batch_size=4096).fit(fit_on)
    target = torch.from_numpy(km.predict(frames)).long()
    heads = nn.ModuleList(nn.Linear(model.hidden_size, clusters) for _ in range(K))
    log = TrainLog("daisy", seed, epochs)
    start = time.perf_counter()
    for k, head in enumerate(heads):
        x = feats.per[k]

        def steps(gen, x=x, head=head):
            for idx in _minibatches(len(x), 1024, gen):
                yield lambda idx=idx: F.cross_entropy(head(x[idx].float()), target[idx])

        hist = _epochs(head.parameters(), math.ceil(len(x) / 1024), epochs, steps, lr, seed + k)
        log.per_exit.append({"exit": k, "loss": hist})
    log.seconds = time.perf_counter() - start
    return heads.eval(), log, {"clusters": clusters, "layer": layer, "frames": len(frames)}


# ---- persistence: safetensors + JSON --------------------------------------------------------
def save_heads(path: Path, modules: dict[str, nn.Module], meta: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {f"{name}.{k}": v.detach().contiguous() for name, m in modules.items() if m is not None
             for k, v in m.state_dict().items()}
    save_file(state, str(path.with_suffix(".safetensors")))
    path.with_suffix(".json").write_text(json.dumps(meta, indent=1))


def load_heads(path: Path, modules: dict[str, nn.Module]) -> dict:
    """Fill `modules` (built with the saved shapes) from `path`; returns the JSON meta."""
    path = Path(path)
    state = load_file(str(path.with_suffix(".safetensors")))
    for name, m in modules.items():
        if m is not None:
            m.load_state_dict({k[len(name) + 1:]: v for k, v in state.items() if k.startswith(name + ".")})
    return json.loads(path.with_suffix(".json").read_text())
