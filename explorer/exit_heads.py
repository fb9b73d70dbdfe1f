"""Exit heads trained on a frozen backbone (HuBERT-EE's second stage), for imported models.

The backbone is run once over the training inputs (`extract`): the features every head
reads are kept in half precision, with the final exit's output (the teacher for
self-distillation), in memory while they fit its budget, else in files on disk that the
heads read back minibatch by minibatch (memory-mapped), else one layer at a time (read
again for each exit's head). Every epoch then only runs the light heads, so training all
of them costs little more than one profile pass. Kinds:
- "trained":   labels (class ids, or transcripts as CTC targets);
- "distilled": no labels; every early head learns the final head's output distribution
               (class posteriors, or CTC frame posteriors);
- DAISY cluster heads (speech): k-means on one layer's frames, a linear head per layer
  predicts the cluster of each frame; its entropy is the `daisy` criterion's score;
- FreeML's shared exit (images): one linear head over every exit point's pooled features,
  zero for stages not run, trained at every exit.
- tuned lens (text, causal LMs; Belrose et al. 2023): an affine map per early layer
  (`Translator`, the identity before training) in front of the model's own final norm and
  head, trained on the token hidden states of the user's texts to give the last layer's
  next-token distribution (KL); `token_features` reads them, `train_translators` trains.
Heads are seeded and saved as safetensors + JSON; each logs its loss per epoch.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.nn import functional as F

MAX_FEATURE_BYTES = 4 * 2**30  # kept in memory up to this (or half the free memory); beyond, on disk


def memory_budget() -> int:
    """Bytes of training features kept in memory: $EXPLORER_FEATURE_MEMORY_GB, else 4 GB or
    half of the memory free now, whichever is less (the rest of the import needs room too)."""
    if "EXPLORER_FEATURE_MEMORY_GB" in os.environ:
        return int(float(os.environ["EXPLORER_FEATURE_MEMORY_GB"]) * 2**30)
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # not on Linux
        return MAX_FEATURE_BYTES
    return min(MAX_FEATURE_BYTES, free // 2)


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


KEPT = ("in memory", "on disk", "one layer at a time")  # where `extract` keeps the features


@dataclass
class Features:
    """The frozen backbone's features of the training inputs.

    image: per[k] [N, F_k] pooled features; teacher [N, C] final logits.
    speech: per[k] [sum T_i, D] frames of all inputs back to back (offsets [N + 1]);
            teacher [sum T_i, V] final CTC logits.
    kept: one of KEPT. "one layer at a time": per is a `_LayerByLayer`, read anew per layer."""

    per: list[torch.Tensor]
    teacher: torch.Tensor
    offsets: np.ndarray | None = None
    seconds: float = 0.0
    kept: str = KEPT[0]
    nbytes: int = 0  # every layer's features and the teacher, in half precision

    def frames(self, i: int) -> slice:
        return slice(int(self.offsets[i]), int(self.offsets[i + 1]))


def _size(nbytes: float) -> str:
    return f"{nbytes / 2**30:.1f} GB" if nbytes >= 2**29 else f"{nbytes / 2**20:.3g} MB"


class _TooBig(ValueError):
    """The features fit neither the memory budget nor the free disk."""


class _Store:
    """Where `extract` puts features: streams of rows [width] in fp16 (one per exit point, then
    the teacher). In memory until they pass `budget` bytes; then every stream moves to a file
    in `spill` and later rows are appended there, so memory holds one batch at a time."""

    def __init__(self, streams: int, budget: int, spill: Path | None, total: int, what: str):
        self.parts: list[list[torch.Tensor]] = [[] for _ in range(streams)]
        self.rows, self.widths = [0] * streams, [0] * streams
        self.budget, self.spill, self.total, self.what = budget, spill, total, what
        self.files: list | None = None
        self.nbytes = 0

    def add(self, i: int, t: torch.Tensor) -> None:  # t [rows, width]
        t = t.detach().to("cpu", torch.float16)
        self.rows[i] += len(t)
        self.widths[i] = t.shape[1]
        self.nbytes += t.numel() * 2
        if self.files is None:
            self.parts[i].append(t)
        else:
            self._write(i, t)

    def checkpoint(self, done: int) -> None:
        """After `done` of `total` inputs: spill to disk if the features will pass the budget."""
        expected = self.nbytes * self.total / max(done, 1)
        if self.files is not None or expected <= self.budget:
            return
        need = f"{self.what} need about {_size(expected)}, more than the {_size(self.budget)} kept in memory"
        if self.spill is None:
            raise _TooBig(f"{need}: use --limit to train on fewer files")
        self.spill.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(self.spill).free
        if expected * 1.05 > free:
            raise _TooBig(f"{need} and the {_size(free)} free on the disk of {self.spill}. Use --limit "
                          "to train on fewer files, or --workspace on a larger disk.")
        self.files = [open(self.spill / f"stream-{i}.f16", "wb") for i in range(len(self.parts))]
        for i, parts in enumerate(self.parts):
            for t in parts:
                self._write(i, t)
        self.parts = [[] for _ in self.parts]

    def _write(self, i: int, t: torch.Tensor) -> None:
        try:
            self.files[i].write(t.numpy().tobytes())
        except OSError as e:
            raise ValueError(f"writing {self.what} to {self.spill} failed ({e.strerror}): use --limit to train "
                             "on fewer files, or --workspace on a larger disk") from None

    def tensor(self, i: int) -> torch.Tensor:
        if self.files is None:
            return torch.cat(self.parts[i])
        f = self.files[i]
        f.close()
        # copy-on-write map: rows are read from disk as minibatches index them
        return torch.from_numpy(np.memmap(f.name, np.float16, "c", shape=(self.rows[i], self.widths[i])))


@torch.inference_mode()
def _read(model, inputs: list, batch: int, keep: set[int], store: _Store, progress=None) -> list[int]:
    """One pass of the frozen backbone over `inputs`, adding the streams in `keep` (exit
    points 0..K-1; K: the final logits) to `store`; it stops at the deepest exit point kept.
    Returns each input's frame count (speech; [] for images)."""
    K = model.num_exits
    last = K - 1 if K in keep else max(keep)
    lengths: list[int] = []
    for b in range(0, len(inputs), batch):
        x, lens = model.collate(inputs[b:b + batch])
        state = model.embed(x, lens)
        n = None if state.mask is None else [int(v) for v in state.mask.sum(1).tolist()]

        def rows(t, n=n):  # speech: real frames only, utterances back to back
            return t if n is None else torch.cat([t[i, :c] for i, c in enumerate(n)])

        for k in range(last + 1):
            state = model.stage(k, state)
            if k in keep:
                store.add(k, rows(model.features(k, state.h) if n is None else state.h))
        if K in keep:
            store.add(K, rows(model.final_logits(state.h)))
        lengths.extend(n or [])
        store.checkpoint(min(b + batch, len(inputs)))
        if progress:
            progress(min(1.0, (b + batch) / len(inputs)), "reading the frozen backbone's features"
                     + (" (on disk: more than fit in memory)" if store.files is not None else ""))
    return lengths


class _LayerByLayer:
    """per[k] when every layer's features fit neither memory nor disk: layer k is read (a pass
    of the backbone up to it) when a trainer asks for it, replacing the one read before.
    Trainers go through the exits in order, so this costs about K/2 more passes for 1/K of
    the room."""

    def __init__(self, model, inputs: list, batch: int, budget: int, spill: Path | None):
        self.model, self.inputs, self.batch, self.budget, self.spill = model, inputs, batch, budget, spill
        self.k, self.layer = None, None

    def __len__(self) -> int:
        return self.model.num_exits

    def __getitem__(self, k: int) -> torch.Tensor:
        if k != self.k:
            self.layer = None  # the previous layer's memory or file goes first
            spill = None if self.spill is None else self.spill / f"layer-{k}"
            if self.spill is not None:
                shutil.rmtree(self.spill, ignore_errors=True)
            store = _Store(self.model.num_exits + 1, self.budget, spill, len(self.inputs),
                           "even one layer's training features")
            _read(self.model, self.inputs, self.batch, {k}, store)
            self.k, self.layer = k, store.tensor(k)
        return self.layer


def extract(model, inputs: list[torch.Tensor], batch: int = 64, progress=None, spill: Path | None = None,
            budget: int | None = None) -> Features:
    """The frozen backbone's features of `inputs` at every exit point and its final logits,
    in fp16 on the CPU, read in one pass: in memory within `budget` bytes (default
    `memory_budget()`), else in files under `spill` (the caller removes it afterwards); when
    the disk cannot hold them either, the final logits are kept and each layer is read again
    when its head trains (`_LayerByLayer`)."""
    start, K = time.perf_counter(), model.num_exits
    budget = memory_budget() if budget is None else budget
    store = _Store(K + 1, budget, spill, len(inputs), "the training features")
    try:
        lengths = _read(model, inputs, batch, set(range(K + 1)), store, progress)
        per, kept, nbytes = [store.tensor(k) for k in range(K)], KEPT[1 if store.files else 0], store.nbytes
    except _TooBig:
        if spill is None:
            raise
        for f in store.files or []:
            f.close()
        shutil.rmtree(spill, ignore_errors=True)
        store = _Store(K + 1, budget, spill / "teacher", len(inputs), "the final exit's outputs")
        lengths = _read(model, inputs, batch, {K}, store, progress)
        per, kept, nbytes = _LayerByLayer(model, inputs, batch, budget, spill / "layer"), KEPT[2], None
    offsets = np.concatenate([[0], np.cumsum(lengths)]) if lengths else None
    return Features(per, store.tensor(K), offsets, time.perf_counter() - start, kept, nbytes or 0)


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
    branches = nn.ModuleList(Branch(model.widths[k], C, model.branch_parts) for k in range(K - 1))
    for b in branches:
        b.warm_start(model.own_head())
    y = torch.tensor(targets) if targets is not None else None
    soft = feats.teacher.float().log_softmax(-1)
    for k, branch in enumerate(branches):
        x = feats.per[k]  # fp16, maybe memory-mapped: minibatches are read and widened as needed

        def steps(gen, x=x, branch=branch):
            for idx in _minibatches(len(x), 64, gen):
                yield lambda idx=idx: _class_loss(branch(x[idx].float()), y[idx] if y is not None else None,
                                                  soft[idx])

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
    if feats.kept == KEPT[2]:
        raise ValueError("FreeML's shared exit reads every layer's features at once, and they fit neither the "
                         "memory budget nor the disk: use --limit to train on fewer files")
    torch.manual_seed(seed)
    K, C, slot = model.num_exits, len(model.labels), model.slot
    n = len(feats.teacher)
    head = nn.Linear(K * slot, C)
    y = torch.tensor(targets) if targets is not None else None
    soft = feats.teacher.float().log_softmax(-1)
    seen = torch.tril(torch.ones(K, K))  # [exit, slot]: at exit k, slots 0..k are filled
    start = time.perf_counter()

    def steps(gen):
        for idx in _minibatches(n, 64, gen):
            def loss(idx=idx):
                memory = torch.stack([F.pad(feats.per[k][idx].float(), (0, slot - model.widths[k]))
                                      for k in range(K)], 1)  # [b, K slots, F]
                m = memory[:, None] * seen[None, :, :, None]  # [b, K exits, K slots, F]
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
        b.warm_start(model.own_head())
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
    frames = feats.per[layer]  # fp16, maybe memory-mapped: widened a chunk at a time
    rng = np.random.default_rng(seed)
    pick = np.arange(len(frames)) if len(frames) <= max_frames else np.sort(
        rng.choice(len(frames), max_frames, replace=False))
    fit_on = frames[torch.from_numpy(pick)].float().numpy()
    clusters = min(clusters, len(fit_on))
    km = MiniBatchKMeans(clusters, random_state=seed, n_init=3, batch_size=4096).fit(fit_on)
    target = torch.from_numpy(np.concatenate([km.predict(frames[i:i + max_frames].float().numpy())
                                              for i in range(0, len(frames), max_frames)])).long()
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


# ---- text: a tuned lens per early layer of a causal LM ------------------------------------------
MAX_TRAIN_TOKENS = 20_000  # token positions the translators learn on (every layer's hidden state is kept)


class Translator(nn.Module):
    """h -> h + W h + b, W and b zero at the start: before training it IS the final-head exit,
    and training only has to improve on it (the tuned lens's translator)."""

    def __init__(self, width: int):
        super().__init__()
        self.linear = nn.Linear(width, width)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.zero_()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.linear(h)


@torch.inference_mode()
def token_features(model, inputs: list[torch.Tensor], window: int = 256, max_tokens: int = MAX_TRAIN_TOKENS,
                   progress=None) -> Features:
    """A causal LM's hidden states at every token position of `inputs` (token ids [n] per
    document, cut into windows of at most `window` tokens or its context), read teacher-forced
    in one pass: per[k] [tokens, D] after layer k (k < L-1), teacher [tokens, D] after the last
    layer (its logits are made per minibatch: a vocabulary is too wide to keep). At most
    `max_tokens` positions, and no more than the memory budget holds (`memory_budget`),
    documents in order. On the CPU, where the key/value cache lives."""
    start, L = time.perf_counter(), model.num_exits
    model.to("cpu")
    max_tokens = max(1, min(max_tokens, memory_budget() // (2 * L * model.hidden_size)))
    W = max(2, min(window, model.context))
    chunks, total = [], 0
    for ids in inputs:
        ids = ids.reshape(-1)
        for i in range(0, len(ids), W):
            piece = ids[i:i + W][: max_tokens - total]
            if len(piece):
                chunks.append(piece)
                total += len(piece)
        if total >= max_tokens:
            break
    if not chunks:
        raise ValueError("the training texts have no tokens: add text to the data folder")
    per: list[list[torch.Tensor]] = [[] for _ in range(L)]
    for j, piece in enumerate(chunks):
        _, states = model.forward_states(piece[None].cpu())
        for k in range(L):
            per[k].append(states[k + 1][0].to("cpu", torch.float16))
        if progress:
            progress((j + 1) / len(chunks), "reading the frozen model's hidden states")
    layers = [torch.cat(p) for p in per]
    return Features(layers[:-1], layers[-1], None, time.perf_counter() - start, KEPT[0],
                    sum(t.numel() * 2 for t in layers))


def train_translators(model, feats: Features, epochs: int, seed: int = 0, lr: float = 1e-3,
                      progress=None) -> tuple[nn.ModuleList, TrainLog]:
    """A Translator per layer but the last, each trained so that the model's final norm and
    head on its output give the last layer's next-token distribution (KL, the tuned lens)."""
    torch.manual_seed(seed)
    L, D = model.num_exits, model.hidden_size
    log = TrainLog("tuned-lens", seed, epochs)
    start = time.perf_counter()
    lenses = nn.ModuleList(Translator(D) for _ in range(L - 1))
    final = feats.teacher
    device = next(model.parameters()).device
    lenses.to(device)

    def head(h):
        return model.lm_head(model.final_norm(h)).float().log_softmax(-1)

    for k, lens in enumerate(lenses):
        x = feats.per[k]

        def steps(gen, x=x, lens=lens):
            for idx in _minibatches(len(x), 128, gen):
                def loss(idx=idx):
                    with torch.no_grad():
                        teacher = head(final[idx].to(device, torch.float32))
                    student = model.lm_head(model.final_norm(lens(x[idx].to(device, torch.float32))))
                    return F.kl_div(student.float().log_softmax(-1), teacher, log_target=True,
                                    reduction="batchmean")
                yield loss

        hist = _epochs(lens.parameters(), math.ceil(len(x) / 128), epochs, steps, lr, seed + k)
        log.per_exit.append({"exit": k, "loss": hist})
        if progress:
            progress((k + 1) / (L - 1), f"trained exit {k + 1}: KL {hist[0]:.3f} -> {hist[-1]:.3f}")
    log.seconds = time.perf_counter() - start
    return lenses.to("cpu").eval(), log


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
