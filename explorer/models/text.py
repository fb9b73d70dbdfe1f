"""A small decoder-only language model with an exit after every layer, for per-token early exit.

Two kinds of exits, chosen at training time (`TextConfig.exits`):
  "shared"  LayerSkip (Elhoushi et al. 2024): the model's own final norm and output head read
            every layer; trained with layer dropout and an early-exit loss, so the same head
            understands every depth (and the first layers can draft for the rest).
  "own"     CALM (Schuster et al. 2022)-style: a norm and an output head of its own per layer
            (the last exit is the model's head), trained on a weighted average of the layers'
            losses.

Bytes are the tokens (256 ids): no tokenizer to train or ship, and any text is valid input.

Generation runs layer by layer with a key/value cache (`KVCache`), so a token that exits at
layer l really skips the layers after it. Later tokens still attend to the skipped layers at
that position: `Block.kv` fills their keys and values from the exited token's hidden state
(CALM's state propagation), a projection instead of a whole layer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

VOCAB = 256  # byte-level: a token is a byte
def byte_name(b: int) -> str:
    """A byte for tables and hovers: printable ASCII as itself, the usual invisibles named."""
    named = {10: "↵ (newline)", 32: "␠ (space)", 9: "⇥ (tab)"}
    return named.get(b) or (chr(b) if 33 <= b < 127 else f"byte 0x{b:02x}")


HEADS = {"token": "token"}  # one head per exit: the next byte's distribution (readout's "token" kind)


@dataclass
class TextConfig:
    layers: int = 6
    width: int = 256
    heads: int = 4
    context: int = 256  # positions the model was trained on (prompt + generated)
    mlp: int = 4  # the feed-forward's hidden width, in multiples of `width`
    exits: str = "shared"  # "shared" (LayerSkip) or "own" (CALM-style heads per layer)
    layer_dropout: float = 0.1  # LayerSkip: the last layer's drop rate (linear in depth from 0); "own": 0
    classifier: bool = False  # CALM's learned exit classifier per layer (train.text.fit_classifier)

    def __post_init__(self):
        if self.exits not in ("shared", "own"):
            raise ValueError(f"exits must be 'shared' (LayerSkip) or 'own' (CALM-style), not {self.exits!r}")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} must be a multiple of heads {self.heads}")


class KVCache:
    """Every layer's keys and values for a batch of rows: k[l], v[l] [B, H, T, Dh] (H: the
    key/value heads), positions 0..filled-1 written. `valid` [B, T] is False on a row's left
    padding (prompts of unequal length share positions), so attention never reads it."""

    def __init__(self, layers: int, heads: int, head_dim: int, rows: int, length: int):
        self.k = [torch.zeros(rows, heads, length, head_dim) for _ in range(layers)]
        self.v = [torch.zeros(rows, heads, length, head_dim) for _ in range(layers)]
        self.valid = torch.zeros(rows, length, dtype=torch.bool)
        self.filled = 0

    def write(self, layer: int, rows: torch.Tensor | None, start: int, k: torch.Tensor, v: torch.Tensor) -> None:
        """Keys and values [b, H, n, Dh] of `rows` (None: all) at positions start..start+n-1."""
        end = start + k.shape[2]
        if rows is None:
            self.k[layer][:, :, start:end], self.v[layer][:, :, start:end] = k, v
        else:
            self.k[layer][rows, :, start:end], self.v[layer][rows, :, start:end] = k, v

    def attend(self, q: torch.Tensor, layer: int, rows: torch.Tensor | None, start: int,
               scale: float | None = None) -> torch.Tensor:
        """Causal attention of queries q [b, Hq, n, Dh] at positions start..start+n-1 over the
        cache up to there (grouped-query when Hq > H) -> [b, n, Hq * Dh]."""
        n = q.shape[2]
        end = start + n
        pick = slice(None) if rows is None else rows
        keys, values, ok = self.k[layer][pick, :, :end], self.v[layer][pick, :, :end], self.valid[pick, :end]
        causal = torch.ones(n, end, dtype=torch.bool).tril(start)  # query i sees keys up to start + i
        itself = torch.zeros(n, end, dtype=torch.bool)
        itself[torch.arange(n), start + torch.arange(n)] = True  # a padding position sees itself: no row of -inf
        mask = (causal[None, None] & ok[:, None, None, :]) | itself  # [b, 1, n, end]
        a = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, scale=scale,
                                           enable_gqa=q.shape[1] != keys.shape[1])
        return a.transpose(1, 2).flatten(2)


class Block(nn.Module):
    """A pre-norm transformer layer: causal self-attention, then a feed-forward."""

    def __init__(self, cfg: TextConfig):
        super().__init__()
        self.heads, D = cfg.heads, cfg.width
        self.norm1, self.norm2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.qkv = nn.Linear(D, 3 * D)
        self.out = nn.Linear(D, D)
        self.ff = nn.Sequential(nn.Linear(D, cfg.mlp * D), nn.GELU(), nn.Linear(cfg.mlp * D, D))

    def _split(self, t: torch.Tensor) -> torch.Tensor:  # [B, T, D] -> [B, H, T, Dh]
        B, T, D = t.shape
        return t.view(B, T, self.heads, D // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Training: a whole sequence at once, causal. x [B, T, D] -> [B, T, D]."""
        q, k, v = self.qkv(self.norm1(x)).chunk(3, -1)
        a = F.scaled_dot_product_attention(self._split(q), self._split(k), self._split(v), is_causal=True)
        x = x + self.out(a.transpose(1, 2).flatten(2))
        return x + self.ff(self.norm2(x))

    def kv(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys and values this layer writes for hidden states x [B, n, D] ([B, H, n, Dh]
        each): only the k and v thirds of the projection are computed (positions: unused, the
        positions are in the input embedding)."""
        D = x.shape[-1]
        kv = F.linear(self.norm1(x), self.qkv.weight[D:], self.qkv.bias[D:])
        k, v = kv.chunk(2, -1)
        return self._split(k), self._split(v)

    def step(self, x: torch.Tensor, cache: KVCache, layer: int, rows: torch.Tensor | None, start: int,
             positions: torch.Tensor | None = None) -> torch.Tensor:
        """Generation: positions start..start+n-1 of the rows `rows` (None: every row), attending
        to the cache. x [b, n, D] -> [b, n, D]; writes this layer's keys and values."""
        q, k, v = self.qkv(self.norm1(x)).chunk(3, -1)
        cache.write(layer, rows, start, self._split(k), self._split(v))
        x = x + self.out(cache.attend(self._split(q), layer, rows, start))
        return x + self.ff(self.norm2(x))


class ExitLM(nn.Module):
    """Byte-level causal LM; `exit_logits(l, h)` reads exit l (0-based) from layer l's output."""

    def __init__(self, config: TextConfig | None = None):
        super().__init__()
        self.config = cfg = config or TextConfig()
        D = cfg.width
        self.embed = nn.Embedding(VOCAB, D)
        self.pos = nn.Embedding(cfg.context, D)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.norm = nn.LayerNorm(D)  # the output head is the input embedding, transposed (tied weights)
        if cfg.exits == "own":
            self.exit_norms = nn.ModuleList(nn.LayerNorm(D) for _ in range(cfg.layers - 1))
            self.exit_heads = nn.ModuleList(nn.Linear(D, VOCAB) for _ in range(cfg.layers - 1))
        if cfg.classifier:  # CALM: from a layer's hidden state, will this exit's token be the last exit's?
            self.exit_classifiers = nn.ModuleList(nn.Linear(D, 1) for _ in range(cfg.layers - 1))
        self.apply(self._init)

    @staticmethod
    def _init(m: nn.Module) -> None:
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            nn.init.zeros_(m.bias)

    def config_dict(self) -> dict:
        return asdict(self.config)

    @property
    def num_exits(self) -> int:
        return self.config.layers

    @property
    def vocab_size(self) -> int:
        return VOCAB

    @property
    def context(self) -> int:
        """Positions the model can read (prompt and generated bytes together)."""
        return self.config.context

    def cache(self, rows: int, length: int) -> KVCache:
        return KVCache(self.config.layers, self.config.heads, self.config.width // self.config.heads, rows, length)

    @property
    def head_macs(self) -> int:
        """MACs of one exit's head read for one token (CALM-style heads are as large)."""
        return self.config.width * VOCAB

    def decode(self, ids: list[int]) -> str:
        return bytes(ids).decode("utf-8", errors="replace")

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def describe(self, answer: int) -> str:
        """One byte as people read it: the character, or a name for the invisible ones."""
        return byte_name(int(answer))

    def learned(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """CALM's learned confidence at exit `layer` (< the last) from its hidden states h [..., D]:
        the probability that this exit's token is the last exit's ([...]); a model fitted without
        the classifier has none (a ValueError)."""
        if not self.config.classifier:
            raise ValueError("this text model has no learned exit classifier: fit one with "
                             "`python -m explorer train text-classifier --out CHECKPOINT`")
        return torch.sigmoid(self.exit_classifiers[layer](h)[..., 0])

    def exit_logits(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """Next-token logits [..., 256] read at exit `layer` from its hidden states h [..., D]."""
        if self.config.exits == "own" and layer < self.config.layers - 1:
            return self.exit_heads[layer](self.exit_norms[layer](h))
        return F.linear(self.norm(h), self.embed.weight)  # tied: one tensor, so safetensors stores it once

    def inputs(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """ids, positions [B, n] -> the first layer's input [B, n, D]."""
        return self.embed(ids) + self.pos(positions.clamp(max=self.config.context - 1))

    def forward(self, ids: torch.Tensor, drop: bool = False) -> list[torch.Tensor]:
        """Training: ids [B, T] -> every exit's logits [B, T, 256], first layer first.

        drop: LayerSkip's layer dropout (each row skips layer l with a rate rising linearly to
        `layer_dropout` at the last layer), so later layers learn to read earlier ones' output."""
        T = ids.shape[1]
        x = self.inputs(ids, torch.arange(T).expand_as(ids))
        out, L = [], self.config.layers
        for layer, block in enumerate(self.blocks):
            y = block(x)
            rate = self.config.layer_dropout * layer / max(L - 1, 1) if drop else 0.0
            if rate > 0:
                keep = (torch.rand(x.shape[0], 1, 1) >= rate).to(x.dtype)
                y = x + keep * (y - x)
            x = y
            out.append(self.exit_logits(layer, x))
        return out

    def exit_weights(self) -> torch.Tensor:
        """[L] weights of the early-exit loss: rising with depth (deeper exits must be better;
        CALM weighs layer i by i, LayerSkip's scale grows with depth too), summing to 1."""
        w = torch.arange(1, self.config.layers + 1, dtype=torch.float32)
        return w / w.sum()

    def loss(self, ids: torch.Tensor, drop: bool = False) -> tuple[torch.Tensor, list[float]]:
        """Next-byte cross-entropy at every exit on ids [B, T]: (the weighted loss, each exit's)."""
        logits = self(ids[:, :-1], drop=drop)
        target = ids[:, 1:].reshape(-1)
        each = [F.cross_entropy(lg.reshape(-1, VOCAB), target) for lg in logits]
        total = sum(w * e for w, e in zip(self.exit_weights(), each, strict=True))
        return total, [float(e.detach()) for e in each]

    def forward_states(self, ids: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """ids [B, T] -> (every exit's logits [B, T, 256], the hidden states [B, T, D] before
        the first layer and after each): what a profile reads, teacher-forced."""
        T = ids.shape[1]
        x = self.inputs(ids, torch.arange(T).expand_as(ids))
        states, logits = [x], []
        for layer, block in enumerate(self.blocks):
            x = block(x)
            states.append(x)
            logits.append(self.exit_logits(layer, x))
        return logits, states
