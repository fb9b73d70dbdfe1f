"""The built-in speech model: a small HuBERT-style encoder for connected digits.

Front end (`embed`): log-mel features computed in torch, per-utterance normalised,
two stride-2 convolutions (x4 subsampling: 40 ms per frame) and a convolutional
positional embedding. Stages: pre-LN transformer layers. After every layer:
- "ctc": a light CTC exit branch (LayerNorm + linear over blank + 11 digit words +
  one token for any other word), as in HuBERT-EE; greedy decoding gives a transcript
  per layer;
- "ssl": DAISY's linear head predicting the k-means cluster of each frame (the
  self-supervised target); its frame-mean entropy decides the exit without labels.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..audio import RATE
from ..data.speech_text import VOCABULARY, digit_errors, heard_note
from .base import MultiExitModel, State

VOCAB = ("<blank>",) + VOCABULARY  # CTC token ids: 0 is blank, then one per digit word, then UNKNOWN


@dataclass
class SpeechConfig:
    n_mels: int = 40
    n_fft: int = 400  # 25 ms windows
    hop: int = 160  # 10 ms hop
    conv_channels: int = 32  # kept small: the front end caps any early-exit speedup
    d_model: int = 144
    heads: int = 4
    ffn: int = 576
    layers: int = 6
    clusters: int = 50  # k-means targets of the self-supervised objective
    pos_kernel: int = 15  # convolutional positional embedding (as in HuBERT)
    dropout: float = 0.1


def mel_filters(n_fft: int, n_mels: int, rate: int = RATE, fmin: float = 20.0, fmax: float = 7600.0) -> torch.Tensor:
    """[n_mels, n_fft // 2 + 1] triangular HTK-mel filterbank."""
    def mel(f):
        return 2595 * math.log10(1 + f / 700)

    edges = torch.linspace(mel(fmin), mel(fmax), n_mels + 2)
    hz = 700 * (10 ** (edges / 2595) - 1)
    freqs = torch.linspace(0, rate / 2, n_fft // 2 + 1)
    lo, mid, hi = hz[:-2, None], hz[1:-1, None], hz[2:, None]
    up = (freqs[None] - lo) / (mid - lo)
    down = (hi - freqs[None]) / (hi - mid)
    return torch.clamp(torch.minimum(up, down), min=0)


class Layer(nn.Module):
    """Pre-LN transformer layer; padded frames are masked out of attention."""

    def __init__(self, c: SpeechConfig):
        super().__init__()
        self.heads = c.heads
        self.norm1, self.norm2 = nn.LayerNorm(c.d_model), nn.LayerNorm(c.d_model)
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model)
        self.out = nn.Linear(c.d_model, c.d_model)
        self.ff = nn.Sequential(nn.Linear(c.d_model, c.ffn), nn.GELU(), nn.Dropout(c.dropout),
                                nn.Linear(c.ffn, c.d_model))
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # [B, T, D], [B, T]
        B, T, D = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        attend = None if bool(mask.all()) else mask[:, None, None, :]  # [B, 1, 1, T]
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)  # [B, H, T, D/H]
        x = x + self.drop(self.out(a.transpose(1, 2).reshape(B, T, D)))
        x = x + self.drop(self.ff(self.norm2(x)))
        return x * mask[..., None]


class SpeechEncoder(MultiExitModel):
    task = "ctc"

    def __init__(self, config: SpeechConfig):
        super().__init__()
        self.config = c = config
        self.num_exits = c.layers
        self.exit_names = [f"layer {k + 1}" for k in range(c.layers)]
        self.heads = {"ctc": "ctc", "ssl": "cluster"}
        self.register_buffer("mel", mel_filters(c.n_fft, c.n_mels), persistent=False)
        self.register_buffer("window", torch.hann_window(c.n_fft), persistent=False)
        self.conv1 = nn.Conv2d(1, c.conv_channels, 3, 2, 1)
        self.conv2 = nn.Conv2d(c.conv_channels, c.conv_channels, 3, 2, 1)
        self.proj = nn.Linear(c.conv_channels * math.ceil(math.ceil(c.n_mels / 2) / 2), c.d_model)
        self.pos = nn.Conv1d(c.d_model, c.d_model, c.pos_kernel, padding=c.pos_kernel // 2, groups=c.d_model)
        self.mask_emb = nn.Parameter(torch.zeros(c.d_model))  # replaces masked frames in pre-training
        self.layers = nn.ModuleList(Layer(c) for _ in range(c.layers))
        self.ctc = nn.ModuleList(nn.Sequential(nn.LayerNorm(c.d_model), nn.Linear(c.d_model, len(VOCAB)))
                                 for _ in range(c.layers))
        self.ssl = nn.ModuleList(nn.Linear(c.d_model, c.clusters) for _ in range(c.layers))
        self.register_buffer("centroids", torch.zeros(c.clusters, 4 * c.n_mels))  # k-means, in the checkpoint

    def config_dict(self) -> dict:
        return asdict(self.config)

    # ---- front end --------------------------------------------------------------------------
    def features(self, wave: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, N] samples -> normalised log-mel [B, T, n_mels] and its frame mask [B, T]."""
        c = self.config
        wave = F.pad(wave, (0, max(0, c.n_fft - wave.shape[1])))
        logmel = torch.log(self.mel @ self.power_spectrum(wave) + 1e-6).transpose(1, 2)  # [B, T, M]
        frames = torch.clamp((lengths - c.n_fft) // c.hop + 1, min=1)
        mask = torch.arange(logmel.shape[1], device=logmel.device)[None] < frames[:, None]  # [B, T]
        m = mask[..., None].float()
        mean = (logmel * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)
        std = (((logmel - mean) ** 2 * m).sum(1, keepdim=True) / m.sum(1, keepdim=True)).sqrt()
        return (logmel - mean) / (std + 1e-5) * m, mask  # per-utterance CMVN: voices and channels vary

    def power_spectrum(self, wave: torch.Tensor) -> torch.Tensor:
        """[B, N] samples -> |STFT|^2 [B, n_fft // 2 + 1, T] (Hann window, no centring)."""
        c = self.config
        if not torch.onnx.is_in_onnx_export():
            return torch.stft(wave, c.n_fft, c.hop, window=self.window, center=False, return_complex=True).abs().pow(2)
        # ONNX has no complex numbers: the same DFT as one strided convolution with the windowed
        # cosine and sine bases, so the exported front end starts from the waveform
        n = torch.arange(c.n_fft, dtype=torch.float64)
        angle = 2 * math.pi * torch.arange(c.n_fft // 2 + 1, dtype=torch.float64)[:, None] * n[None] / c.n_fft
        basis = torch.cat([torch.cos(angle), -torch.sin(angle)]) * self.window.double()
        parts = F.conv1d(wave[:, None], basis.float()[:, None], stride=c.hop)  # [B, 2F, T]: real, imaginary
        re, im = parts.chunk(2, 1)
        return re ** 2 + im ** 2

    def subsample(self, feats: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[B, T, M] -> [B, ceil(T/4), D]; padding is zeroed before every conv so a sample
        gives the same numbers alone and in a padded batch."""
        x = F.relu(self.conv1(feats[:, None]))  # [B, C, T/2, M/2]
        mask = mask[:, ::2]
        x = F.relu(self.conv2(x * mask[:, None, :, None]))  # [B, C, T/4, M/4]
        mask = mask[:, ::2]
        x = self.proj(x.permute(0, 2, 1, 3).flatten(2)) * mask[..., None]  # [B, T/4, D]
        return x, mask

    def embed(self, x, lengths=None) -> State:  # x [B, N] waveform at 16 kHz
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], device=x.device)
        h, mask = self.subsample(*self.features(x, lengths))
        return State(self.add_positions(h, mask), mask=mask)

    def add_positions(self, h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return (h + F.gelu(self.pos(h.transpose(1, 2)).transpose(1, 2))) * mask[..., None]

    # ---- stages and heads ---------------------------------------------------------------------
    def stage(self, k, state) -> State:
        return State(self.layers[k](state.h, state.mask), mask=state.mask)  # [B, T, D]

    def head(self, k, state, name) -> torch.Tensor:  # [B, T, vocab or clusters]
        return (self.ctc if name == "ctc" else self.ssl)[k](state.h)

    # ---- contract helpers ---------------------------------------------------------------------
    def collate(self, inputs):
        lengths = torch.tensor([len(x) for x in inputs])
        return nn.utils.rnn.pad_sequence(list(inputs), batch_first=True), lengths

    def example_input(self):
        g = torch.Generator().manual_seed(0)
        return 0.1 * torch.randn(1, 2 * RATE, generator=g), torch.tensor([2 * RATE])  # a 2 s clip

    def describe(self, answer) -> str:
        return " ".join(VOCAB[t] for t in answer)

    def errors(self, answer, target) -> tuple[float, int]:
        return digit_errors(self.describe(answer), target)

    def heard(self, answer: str) -> str:
        return heard_note(answer)

    def cluster_targets(self, feats: torch.Tensor) -> torch.Tensor:
        """[B, T, M] normalised log-mel -> [B, ceil(T/4)] nearest k-means centroid of each
        stack of 4 frames (the encoder's frame rate)."""
        B, T, M = feats.shape
        stacked = F.pad(feats, (0, 0, 0, (-T) % 4)).reshape(B, -1, 4 * M)
        return torch.cdist(stacked, self.centroids[None].expand(B, -1, -1)).argmin(-1)


def encode_text(text: str) -> list[int]:
    return [VOCAB.index(w) for w in text.split()]
