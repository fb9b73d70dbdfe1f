"""A generating model part by part, for the Model page: each layer's parameters, MACs and
measured ms per generated token, what its exit costs, and the KV cache's memory (what
per-token exits must keep filled for the layers they skip)."""

from __future__ import annotations

from dataclasses import dataclass

from .generate import token_costs


@dataclass(frozen=True)
class Layer:
    index: int  # 1-based, as people count
    parameters: int  # the layer's own (attention and feed-forward)
    macs: float  # per generated token (explorer.generate.token_costs)
    ms: float  # measured per generated token at batch 1 (the profile's)
    cumulative_ms: float  # a token leaving after this layer: every layer up to it and one exit read


@dataclass(frozen=True)
class TextAnatomy:
    parameters: int  # everything the model holds (embedding, layers, heads)
    layers: list[Layer]
    head_parameters: int  # one exit's head (LayerSkip: shared with the last; CALM-style: one each)
    own_heads: int  # heads besides the last one's (0 for LayerSkip)
    head_macs: float
    head_ms: float
    kv_bytes_per_token: int  # every layer's keys and values at one position of one row, as allocated
    context: int


def anatomy(model, prof) -> TextAnatomy:
    """`prof`: the model's profile (its measured ms per layer and per exit read)."""
    macs = token_costs(model)
    cum, layers = 0.0, []
    for k, block in enumerate(model.blocks):
        cum += float(prof.ms.stage[k])
        layers.append(Layer(k + 1, sum(p.numel() for p in block.parameters()), float(macs.stage[k]),
                            float(prof.ms.stage[k]), cum + float(prof.ms.head["token"][k])))
    heads = getattr(model, "exit_heads", None) or []
    one = kv_bytes(model, 1, 1)
    return TextAnatomy(sum(p.numel() for p in model.parameters()), layers,
                       int(model.head_macs), len(heads), float(model.head_macs), float(prof.ms.head["token"][0]),
                       one, model.context)


def kv_bytes(model, rows: int, length: int) -> int:
    """Bytes of a KV cache for `rows` sequences of `length` positions, as the model allocates it."""
    cache = model.cache(rows, length)
    return sum(t.numel() * t.element_size() for t in (*cache.k, *cache.v))
