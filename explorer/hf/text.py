"""Hugging Face causal LMs (GPT2LMHeadModel, LlamaForCausalLM, Qwen2ForCausalLM,
MistralForCausalLM) in the generation interface of `explorer.generate`, one decoder layer
at a time, so a token that exits skips the layers after it.

Exits ("final-head"): the model's own final norm and `lm_head` read every layer's output, so
the last exit is the model's own logits. Trained exits (an import's `--exits trained`): a
tuned lens (Belrose et al. 2023) per early layer, an affine map of the layer's output
(`exit_heads.Translator`, the identity before training) read by that same final norm and
head, trained to give the last layer's next-token distribution (`attach`).

Each layer runs from its own weights and modules (its norms, projections, MLP and, for
Llama-likes, the model's rotary embedding) against the explorer's key/value cache instead
of the model's `Cache`, because per-token exits need
what `Cache` cannot do: write only the rows still running at a layer, and fill a skipped
layer's keys and values from an exited token's state (CALM's state propagation).
"""

from __future__ import annotations

import torch
from torch import nn

from ..models.text import KVCache

FAMILIES = {"gpt2": "gpt2", "llama": "llama", "qwen2": "llama", "mistral": "llama"}


class _GPT2Layer(nn.Module):
    def __init__(self, block, heads: int):
        super().__init__()
        attn = block.attn
        if attn.scale_attn_by_inverse_layer_idx or attn.reorder_and_upcast_attn:
            raise ValueError("GPT-2 checkpoints with scale_attn_by_inverse_layer_idx or reorder_and_upcast_attn "
                             "are not supported")
        self.block, self.heads = block, heads
        self.scale = None if attn.scale_attn_weights else 1.0  # None: sdpa's 1/sqrt(head_dim), as GPT-2

    def _split(self, t: torch.Tensor) -> torch.Tensor:  # [b, n, D] -> [b, H, n, Dh]
        b, n, D = t.shape
        return t.view(b, n, self.heads, D // self.heads).transpose(1, 2)

    def kv(self, x: torch.Tensor, positions: torch.Tensor | None = None):
        _, k, v = self.block.attn.c_attn(self.block.ln_1(x)).chunk(3, -1)
        return self._split(k), self._split(v)

    def step(self, x, cache: KVCache, layer: int, rows, start: int, positions=None) -> torch.Tensor:
        b = self.block
        q, k, v = b.attn.c_attn(b.ln_1(x)).chunk(3, -1)
        cache.write(layer, rows, start, self._split(k), self._split(v))
        x = x + b.attn.c_proj(cache.attend(self._split(q), layer, rows, start, self.scale))
        return x + b.mlp(b.ln_2(x))


class _LlamaLayer(nn.Module):
    """Llama, Qwen2 and Mistral decoder layers: RMSNorm, rotary q/k, grouped-query attention."""

    def __init__(self, layer, rotary, rope):
        super().__init__()
        self.layer, self.rotary, self.rope = layer, rotary, rope
        a = layer.self_attn
        self.head_dim, self.scale = a.head_dim, a.scaling

    def _heads(self, t: torch.Tensor) -> torch.Tensor:  # [b, n, H * Dh] -> [b, H, n, Dh]
        b, n, _ = t.shape
        return t.view(b, n, -1, self.head_dim).transpose(1, 2)

    def _qkv(self, x, positions):
        a = self.layer.self_attn
        h = self.layer.input_layernorm(x)
        q, k, v = self._heads(a.q_proj(h)), self._heads(a.k_proj(h)), self._heads(a.v_proj(h))
        cos, sin = self.rotary(x, positions)
        q, k = self.rope(q, k, cos, sin)
        return q, k, v

    def kv(self, x: torch.Tensor, positions: torch.Tensor):
        _, k, v = self._qkv(x, positions)
        return k, v

    def step(self, x, cache: KVCache, layer: int, rows, start: int, positions) -> torch.Tensor:
        q, k, v = self._qkv(x, positions)
        cache.write(layer, rows, start, k, v)
        x = x + self.layer.self_attn.o_proj(cache.attend(q, layer, rows, start, self.scale))
        return x + self.layer.mlp(self.layer.post_attention_layernorm(x))


class HFCausalLM(nn.Module):
    """A causal LM checkpoint with an exit after every decoder layer (its own final head, or a
    trained translator before it). Also what the importer needs of a model (`family`,
    `prepare`, `labels`, ...): the text modality reads its data folder with these."""

    family = "text"
    task = "generate"
    labels: tuple = ()  # no classes: the next token is the answer
    rate = None  # no sampling rate: what folders.load_part passes to the modality's reader
    final_head_works = True  # every layer has the final norm's width

    def __init__(self, model, tokenizer=None, source: str = ""):
        super().__init__()
        cfg = model.config
        family = FAMILIES.get(cfg.model_type)
        if family is None:
            raise ValueError(f"causal LMs of type {cfg.model_type!r} are not supported; "
                             f"supported: {', '.join(sorted(FAMILIES))}")
        self.model, self.tokenizer, self.source = model.eval(), tokenizer, source
        self.lm_head = model.lm_head
        if family == "gpt2":
            base = model.transformer
            self.embed, self.wpe, self.final_norm = base.wte, base.wpe, base.ln_f
            self.blocks = nn.ModuleList(_GPT2Layer(b, cfg.n_head) for b in base.h)
            heads, head_dim, self._context = cfg.n_head, cfg.n_embd // cfg.n_head, cfg.n_positions
        else:
            import importlib

            rope = importlib.import_module(type(model).__module__).apply_rotary_pos_emb
            base = model.model
            self.embed, self.wpe, self.final_norm = base.embed_tokens, None, base.norm
            self.blocks = nn.ModuleList(_LlamaLayer(layer, base.rotary_emb, rope) for layer in base.layers)
            heads, head_dim = cfg.num_key_value_heads, self.blocks[0].head_dim
            self._context = cfg.max_position_embeddings
        self._kv = (heads, head_dim)
        self.hidden_size = int(self.final_norm.weight.shape[0])
        self.exit_kind, self.translators = "final-head", None
        self.requires_grad_(False)

    @property
    def architecture(self) -> str:
        return type(self.model).__name__

    @property
    def vocab_size(self) -> int:
        return int(self.lm_head.weight.shape[0])

    def config_dict(self) -> dict:
        return {"source": self.source, "architecture": self.architecture, "exits": self.exit_kind,
                "config": self.model.config.to_dict()}

    def attach(self, kind: str, translators: nn.ModuleList | None = None):
        """Answer the early exits with trained translators (one per layer but the last), or with
        the final head alone (`translators` None)."""
        if translators is not None and len(translators) != self.num_exits - 1:
            raise ValueError(f"{len(translators)} trained exits for a model of {self.num_exits} layers")
        self.exit_kind, self.translators = kind, translators
        if translators is not None:
            translators.eval().requires_grad_(False)
        return self

    @property
    def num_exits(self) -> int:
        return len(self.blocks)

    @property
    def context(self) -> int:
        return int(self._context)

    @property
    def head_macs(self) -> int:
        """MACs of one exit read for one token (the translator's too, when trained)."""
        lens = self.hidden_size * self.hidden_size if self.translators is not None else 0
        return self.lm_head.weight.numel() + lens

    def cache(self, rows: int, length: int) -> KVCache:
        return KVCache(self.num_exits, *self._kv, rows, length)

    def inputs(self, ids: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        return x + self.wpe(positions) if self.wpe is not None else x

    def exit_logits(self, layer: int, h: torch.Tensor) -> torch.Tensor:
        """The model's own final norm and head on layer `layer`'s output (through the layer's
        trained translator first, for every layer but the last)."""
        if self.translators is not None and layer < self.num_exits - 1:
            h = self.translators[layer](h)
        return self.lm_head(self.final_norm(h))

    @torch.inference_mode()
    def forward_states(self, ids: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """ids [B, T] (no padding) -> (every exit's logits [B, T, V], the hidden states [B, T, D]
        before the first layer and after each), teacher-forced: one pass of the layers over the
        whole sequence, as the model's own forward."""
        B, T = ids.shape
        cache = self.cache(B, T)
        cache.valid[:] = True
        positions = torch.arange(T).expand(B, T)
        x = self.inputs(ids, positions)
        states, logits = [x], []
        for layer, block in enumerate(self.blocks):
            x = block.step(x, cache, layer, None, 0, positions)
            states.append(x)
            logits.append(self.exit_logits(layer, x))
        return logits, states

    def prepare(self, text: str) -> torch.Tensor:
        """A document (or a prompt) as the model's token ids [n] (what the text modality reads)."""
        if self.tokenizer is None:
            raise ValueError(f"{self.source or 'this checkpoint'} has no tokenizer: save the checkpoint's "
                             "tokenizer beside it (tokenizer.save_pretrained(folder)) so its text can be read")
        return torch.tensor(self.encode(text), dtype=torch.long)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids) if self.tokenizer is not None else " ".join(map(str, ids))

    def encode(self, text: str) -> list[int]:
        if self.tokenizer is None:
            raise ValueError("this checkpoint has no tokenizer: give the prompt as token ids")
        return self.tokenizer(text)["input_ids"]


def load(folder, source: str | None = None) -> HFCausalLM:
    """A save_pretrained folder (and its tokenizer, when it has one), offline."""
    import transformers

    model = transformers.AutoModelForCausalLM.from_pretrained(str(folder), local_files_only=True)
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError, TypeError):  # no tokenizer files: prompts as ids
        tokenizer = None
    return HFCausalLM(model, tokenizer, source=str(folder if source is None else source))
