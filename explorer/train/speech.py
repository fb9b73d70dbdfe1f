"""Train the built-in speech model: `python -m explorer train speech`.

HuBERT's recipe at small scale, then the two kinds of exit:
1. k-means (scikit-learn) on stacked log-mel frames: the self-supervised targets;
2. masked prediction of the clusters of masked spans (HuBERT's first iteration);
3. HuBERT-EE: CTC fine-tuning with a CTC branch after every layer, jointly (sum of
   branch losses, λ = 1) or two-stage (final head first, then branches on the frozen
   backbone);
4. DAISY: one linear cluster head per layer on the frozen backbone, trained with the
   self-supervised objective only (no labels). Inputs are noisy copies, targets come
   from the clean clip, so a head is unsure exactly where noise hides the speech.
Each phase runs for a wall-clock budget (minutes); its step count is set from a
short speed probe so the learning-rate schedule fits the budget.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from .. import checkpoint
from ..data.speech_augment import augment
from ..data.speech_corpus import Utterance, load_split
from ..models.speech import SpeechConfig, SpeechEncoder, encode_text
from ..noise import NOISE_TYPES, make_noise, mix_at_snr
from ..readout import greedy_ctc

STRATEGIES = ("joint", "two-stage")


@dataclass
class SpeechTrainConfig:
    strategy: str = "joint"
    # Version 3's 30,000 varied clips (and its augmented clips, which version 2 underfit) get
    # 55 minutes of both cores; version 2's 20,000 had 42.
    pretrain_minutes: float = 10.0  # masked cluster prediction
    ctc_minutes: float = 40.0  # CTC fine-tuning (two-stage: the backbone part)
    branch_minutes: float = 6.0  # two-stage only: the early CTC branches on the frozen backbone
    daisy_minutes: float = 5.0  # DAISY's cluster heads on the frozen backbone
    batch: int = 32
    lr: float = 1.5e-3
    kmeans_clips: int = 3000
    augment_share: float = 0.6  # clips per batch given `augment` (speed, voice, room, noise, EQ, gain)
    # Noise of augmented clips: babble is this share of it, at babble_snr_low..high dB SNR
    # (white and pink share the rest, at 5-30 dB). Version 2's model: a third, at 5-30 dB
    # (babble_share=0 here means none; the shipped mix is `--set babble_share=-1`). Babble at
    # 10 dB is where (a) fails (docs/speech-unseen-voices.md, lever 4).
    babble_share: float = 0.5
    babble_snr_low: float = 0.0
    babble_snr_high: float = 20.0
    babble_pool_clips: int = 500  # training clips the babble is made of (version 2: 200)
    # DAISY heads see clean clips this often (else noise at -5..30 dB): mostly-noisy
    # training left them less sure on clean digital silence than at 20 dB SNR
    daisy_clean_share: float = 0.5
    # SpecAugment on the log-mel features. Wider or more masks may help on new voices somewhat
    # (lever 5; the analysis expects little): try e.g. `--set spec_freq_masks=3 --set spec_freq_width=8`.
    spec_time_masks: int = 2
    spec_time_width: int = 12
    spec_freq_masks: int = 2
    spec_freq_width: int = 6
    mask_prob: float = 0.065  # HuBERT span masking: start probability and span length (frames)
    mask_span: int = 5
    limit: int = 0  # use only this many training clips (tests); 0 = all
    val_clips: int = 400
    seed: int = 0

    def babble_mix(self) -> dict:
        """`augment`'s noise settings for this configuration ({}: version 2's mix)."""
        if self.babble_share < 0:
            return {}
        return {"babble_share": self.babble_share, "babble_snr": (self.babble_snr_low, self.babble_snr_high)}


    @property
    def minutes(self) -> float:
        """The training budget: every phase this strategy runs."""
        return (self.pretrain_minutes + self.ctc_minutes + self.daisy_minutes
                + (self.branch_minutes if self.strategy == "two-stage" else 0))

    def scaled_to(self, minutes: float) -> SpeechTrainConfig:
        """This config with every phase scaled so that the budget is `minutes`."""
        k = minutes / self.minutes
        return replace(self, pretrain_minutes=self.pretrain_minutes * k, ctc_minutes=self.ctc_minutes * k,
                       branch_minutes=self.branch_minutes * k, daisy_minutes=self.daisy_minutes * k)


def with_settings(cfg: SpeechTrainConfig, settings: list[str] | tuple[str, ...]) -> SpeechTrainConfig:
    """`cfg` with `KEY=VALUE` settings (`train speech --set`), each value read as its
    field's type; an unknown key or a bad value raises ValueError."""
    types = {f.name: f.type for f in fields(SpeechTrainConfig)}
    changes = {}
    for setting in settings:
        key, sep, value = setting.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in types:
            raise ValueError(f"--set {setting!r}: give KEY=VALUE with KEY one of {', '.join(types)}")
        kind = {"int": int, "float": float, "str": str}[str(types[key])]
        try:
            changes[key] = kind(value.strip())
        except ValueError:
            raise ValueError(f"--set {setting!r}: {key} takes a {types[key]}") from None
    return replace(cfg, **changes)


class Batches:
    """Random batches of clips of similar length (little padding), augmented or not."""

    def __init__(self, clips: list[Utterance], cfg: SpeechTrainConfig, seed: int):
        self.clips, self.cfg = clips, cfg
        self.rng = np.random.default_rng(seed)
        self.order = np.argsort([len(c.pcm) for c in clips])
        pool = min(cfg.babble_pool_clips, len(clips))
        self.pool = [clips[i].samples for i in self.rng.choice(len(clips), pool, replace=False)]
        self.babble = cfg.babble_mix()

    def __call__(self, augmented: bool = True):
        """(waves [B, N], lengths [B], texts, clean waves or None when lengths changed)."""
        n = len(self.clips)
        start = int(self.rng.integers(0, max(1, n - self.cfg.batch)))
        idx = self.order[start:start + self.cfg.batch]
        waves = [self.clips[i].samples for i in idx]
        if augmented:
            waves = [augment(w, self.rng, self.pool, **self.babble) if self.rng.random() < self.cfg.augment_share
                     else w for w in waves]
        x = [torch.from_numpy(np.ascontiguousarray(w)) for w in waves]
        lengths = torch.tensor([len(w) for w in x])
        return torch.nn.utils.rnn.pad_sequence(x, batch_first=True), lengths, [self.clips[i].text for i in idx]

    def noisy_pairs(self):
        """Length-preserving corruption for DAISY: (noisy waves, clean waves, lengths)."""
        clean, lengths, _ = self(augmented=False)
        noisy = clean.clone()
        for b in range(len(clean)):
            n = int(lengths[b])
            if self.rng.random() >= self.cfg.daisy_clean_share:
                kind = NOISE_TYPES[int(self.rng.integers(len(NOISE_TYPES)))]
                noise = make_noise(kind, n, self.rng, self.pool)
                noisy[b, :n] = torch.from_numpy(mix_at_snr(clean[b, :n].numpy(), noise, self.rng.uniform(-5, 30)))
        return noisy, clean, lengths


def spec_augment(feats: torch.Tensor, mask: torch.Tensor, cfg: SpeechTrainConfig, gen) -> torch.Tensor:
    """Zero random time and frequency bands of each utterance's log-mel (SpecAugment)."""
    feats = feats.clone()
    B, T, M = feats.shape
    for b in range(B):
        t_len = int(mask[b].sum())
        for _ in range(cfg.spec_time_masks):
            w = int(torch.randint(0, cfg.spec_time_width + 1, (1,), generator=gen))
            t0 = int(torch.randint(0, max(1, t_len - w), (1,), generator=gen))
            feats[b, t0:t0 + w] = 0
        for _ in range(cfg.spec_freq_masks):
            w = int(torch.randint(0, cfg.spec_freq_width + 1, (1,), generator=gen))
            f0 = int(torch.randint(0, M - w, (1,), generator=gen))
            feats[b, :, f0:f0 + w] = 0
    return feats


def encode(model: SpeechEncoder, wave, lengths, cfg=None, gen=None, span_mask: bool = False):
    """Training forward: per-layer hidden states [K][B, T, D], frame mask, features, and
    the masked-frame indicator (pre-training only)."""
    feats, fmask = model.features(wave, lengths)
    if cfg is not None and gen is not None:
        feats = spec_augment(feats, fmask, cfg, gen)
    h, mask = model.subsample(feats, fmask)
    masked = None
    if span_mask:
        B, T, _ = h.shape
        starts = torch.rand(B, T, generator=gen) < cfg.mask_prob
        masked = torch.zeros(B, T, dtype=torch.bool)
        for s in range(cfg.mask_span):
            masked[:, s:] |= starts[:, : T - s]
        masked &= mask
        h = torch.where(masked[..., None], model.mask_emb.expand_as(h), h)
    h = model.add_positions(h, mask)
    hidden = []
    for layer in model.layers:
        h = layer(h, mask)
        hidden.append(h)
    return hidden, mask, feats, masked


def fit_kmeans(model: SpeechEncoder, clips: list[Utterance], cfg: SpeechTrainConfig, log) -> None:
    """HuBERT iteration 1 targets: k-means of stacked log-mel frames (scikit-learn)."""
    from sklearn.cluster import MiniBatchKMeans

    rng = np.random.default_rng(cfg.seed)
    rows = []
    with torch.no_grad():
        for i in rng.choice(len(clips), min(cfg.kmeans_clips, len(clips)), replace=False):
            w = torch.from_numpy(clips[i].samples)[None]
            feats, _ = model.features(w, torch.tensor([w.shape[1]]))
            T = feats.shape[1] // 4 * 4
            rows.append(feats[0, :T].reshape(-1, 4 * feats.shape[2]).numpy())
    data = np.concatenate(rows)
    km = MiniBatchKMeans(model.config.clusters, batch_size=4096, n_init=3, random_state=cfg.seed).fit(data)
    model.centroids.copy_(torch.from_numpy(km.cluster_centers_).float())
    log(json.dumps({"kmeans": {"frames": len(data), "clusters": model.config.clusters,
                               "inertia_per_frame": float(km.inertia_ / len(data))}}))


def ctc_loss(logits: torch.Tensor, mask: torch.Tensor, texts: list[str]) -> torch.Tensor:
    targets = [torch.tensor(encode_text(t)) for t in texts]
    logp = F.log_softmax(logits, -1).transpose(0, 1)  # [T, B, V]
    return F.ctc_loss(logp, torch.cat(targets), mask.sum(1), torch.tensor([len(t) for t in targets]),
                      blank=0, zero_infinity=True)


def _run(model, params, minutes: float, step_fn, desc: str, lr: float, min_steps: int = 10) -> int:
    """Train `params` with AdamW for `minutes` of wall clock (warm-up, then cosine decay);
    returns the steps taken.

    The schedule follows the clock, not a step count: on a machine that other jobs slow
    down mid-phase the phase still ends on time (with fewer steps) and its learning rate
    still decays to zero. A short probe at a small learning rate estimates the steps for
    the progress bar; the phase takes at least `min_steps` steps."""
    if minutes <= 0:
        return 0
    model.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    budget = minutes * 60
    began = time.time()
    probe = 6  # the first step (one-time set-up) is not timed
    for i in range(probe):
        if i == 1:
            start = time.time()
        for g in opt.param_groups:
            g["lr"] = lr * 0.05
        loss = step_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    per_step = (time.time() - start) / (probe - 1)
    bar = tqdm(total=max(min_steps, int((budget - (time.time() - began)) / per_step)), desc=desc, unit="step")
    step, warm = 0, 0.05  # warm-up: the first 5% of the time
    while True:
        frac = (time.time() - began) / budget
        if frac >= 1 and step >= min_steps:
            break
        frac = min(frac, 1.0 - 1e-3)
        for g in opt.param_groups:
            g["lr"] = lr * min(1.0, frac / warm + 0.01) * 0.5 * (1 + np.cos(np.pi * frac))
        loss = step_fn()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    return step + probe


@torch.no_grad()
def evaluate(model: SpeechEncoder, clips: list[Utterance], batch: int = 32) -> dict:
    """Per-layer WER (greedy CTC) and mean DAISY entropy on clean clips."""
    model.eval()
    errors = np.zeros(model.num_exits)
    words = 0
    for i in range(0, len(clips), batch):
        part = clips[i:i + batch]
        x, lengths = model.collate([torch.from_numpy(c.samples) for c in part])
        hidden, mask, _, _ = encode(model, x, lengths)
        for k, h in enumerate(hidden):
            hyps = greedy_ctc(F.log_softmax(model.ctc[k](h), -1).double().numpy(), mask)
            for hyp, c in zip(hyps, part, strict=True):
                e, n = model.errors(hyp, c.text)
                errors[k] += e
                words += n if k == 0 else 0
    return {"wer": (errors / max(words, 1)).round(4).tolist()}


def train(cfg: SpeechTrainConfig, corpus_dir: Path | None = None, out: Path | None = None,
          log=print, model_cfg: SpeechConfig | None = None, resume: Path | None = None) -> tuple[SpeechEncoder, dict]:
    """Train a speech model (k-means, pre-training, CTC, DAISY heads); with `resume`, a
    checkpoint trained before: its CTC training goes on for `cfg.ctc_minutes` more (a fresh
    warm-up and decay, no k-means or pre-training), then its DAISY heads are trained again on
    the changed backbone. Its summary keeps the earlier run's under "resumed_from"."""
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {cfg.strategy!r}; choose one of {', '.join(STRATEGIES)}")
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    clips = load_split("train", corpus_dir)
    if cfg.limit:
        clips = clips[: cfg.limit]
    val = load_split("val", corpus_dir)[: cfg.val_clips]
    earlier = None
    if resume is not None:
        earlier = json.loads(Path(resume).with_suffix(".json").read_text())
        model = checkpoint.load(SpeechEncoder, SpeechConfig, resume).requires_grad_(True)
        cfg = replace(cfg, pretrain_minutes=0.0)
    else:
        model = SpeechEncoder(model_cfg or SpeechConfig())
    batches = Batches(clips, cfg, cfg.seed)
    start, history = time.time(), []

    def checkpoint_log(after: str) -> None:
        history.append({"after": after, "seconds": round(time.time() - start, 1), **evaluate(model, val)})
        log(json.dumps(history[-1]))

    if earlier is None:  # a resumed model keeps its clusters (DAISY's and pre-training's targets)
        fit_kmeans(model, clips, cfg, log)
    predict = torch.nn.Linear(model.config.d_model, model.config.clusters)  # pre-training head, not kept

    def pretrain_step():
        model.train()
        x, lengths, _ = batches()
        hidden, mask, _, masked = encode(model, x, lengths, cfg, gen, span_mask=True)
        clean = encode_targets(model, x, lengths)
        sel = masked if masked.any() else mask
        return F.cross_entropy(predict(hidden[-1][sel]), clean[sel])

    backbone = [p for n, p in model.named_parameters() if not n.startswith(("ctc.", "ssl."))]
    steps = {}
    if earlier is None:
        steps["pre-train"] = _run(model, backbone + list(predict.parameters()), cfg.pretrain_minutes, pretrain_step,
                                  "pre-train", cfg.lr)
        checkpoint_log("pre-training")

    def ctc_step(layers):
        def step():
            model.train()
            x, lengths, texts = batches()
            hidden, mask, _, _ = encode(model, x, lengths, cfg, gen)
            return sum(ctc_loss(model.ctc[k](hidden[k]), mask, texts) for k in layers) / len(layers)
        return step

    K = model.num_exits
    if cfg.strategy == "joint":
        params = backbone + [p for head in model.ctc for p in head.parameters()]
        steps["CTC joint"] = _run(model, params, cfg.ctc_minutes, ctc_step(range(K)), "CTC joint", cfg.lr)
    else:
        params = backbone + list(model.ctc[-1].parameters())
        steps["CTC backbone"] = _run(model, params, cfg.ctc_minutes, ctc_step([K - 1]), "CTC backbone", cfg.lr)
        model.eval()  # frozen backbone: no dropout while the branches learn
        branches = [p for head in model.ctc[:-1] for p in head.parameters()]
        steps["CTC branches"] = _run(model, branches, cfg.branch_minutes, ctc_step(range(K - 1)), "CTC branches",
                                     cfg.lr)
    checkpoint_log("CTC")

    steps["DAISY heads"] = train_daisy(model, batches, cfg)
    model.eval().requires_grad_(False)
    summary = {"train": asdict(cfg), "train_seconds": round(time.time() - start, 1),
               "threads": torch.get_num_threads(), "train_clips": len(clips), "history": history, "steps": steps}
    if earlier is not None:
        summary["resumed_from"] = {k: v for k, v in earlier.items() if k != "config"}
    if out is not None:
        checkpoint.save(model, out, summary)
    return model, summary


def train_daisy(model: SpeechEncoder, batches: Batches, cfg: SpeechTrainConfig) -> int:
    """DAISY: the per-layer cluster heads on the frozen backbone, self-supervised only;
    returns the steps taken."""
    K = model.num_exits

    def daisy_step():
        model.eval()  # frozen backbone, deterministic features
        noisy, clean, lengths = batches.noisy_pairs()
        with torch.no_grad():
            hidden, mask, _, _ = encode(model, noisy, lengths)
            targets = encode_targets(model, clean, lengths)
        return sum(F.cross_entropy(model.ssl[k](h)[mask], targets[mask]) for k, h in enumerate(hidden)) / K

    return _run(model, [p for head in model.ssl for p in head.parameters()], cfg.daisy_minutes, daisy_step,
                "DAISY heads", cfg.lr * 2)


@torch.no_grad()
def encode_targets(model: SpeechEncoder, wave, lengths) -> torch.Tensor:
    """k-means cluster ids [B, T'] of the clean input, at the encoder's frame rate."""
    feats, _ = model.features(wave, lengths)
    return model.cluster_targets(feats)
