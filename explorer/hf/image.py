"""Hugging Face image classifiers (ViTForImageClassification, DeiTForImageClassification
and its WithTeacher form, ResNetForImageClassification) in the multi-exit contract, one
encoder layer (ViT, DeiT) or stage (ResNet) at a time.

DeiT is a ViT with a second special token (distillation) after CLS: patch tokens start
at 2, and the WithTeacher form answers with the mean of its CLS and distillation heads.

Exits read, after stage k:
- final-head (ViT, DeiT): the model's own final layernorm + classifier on the CLS token
  (and the distillation token's, for DeiT WithTeacher);
- trained: a light branch on `features(k, h)` (ViT: CLS and mean patch token; ResNet:
  global average pool), LayerNorm + linear;
- shared (FreeML): one linear head over every exit point's pooled features, zero for
  stages not yet run (`State.memory`).
The last exit is always the model's own head, so the full depth answers exactly as the
checkpoint does. One class per architecture family (`ViTClassifier` for ViT and DeiT,
`ResNetClassifier`), sharing what every image classifier does in `HFImageClassifier`;
an exit kind a family cannot have is refused when the model is loaded.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..models.base import NO_FINAL_HEAD, MultiExitModel, State


class HFImageClassifier(MultiExitModel):
    """What every HF image classifier shares: the processor, labels, trained and shared exits.
    A family says which exit kinds it can have (`exit_kinds`), where its stages are
    (`embed_pixels`, `run_stage`), what a branch reads (`features`) and how its own head
    answers (`final_logits`)."""

    task = "class"
    family = "image"
    exit_kinds = ("final-head", "trained", "distilled", "shared")  # what this family can answer with

    def __init__(self, model, processor, source: str = "", exits: str = "final-head"):
        super().__init__()
        if exits not in self.exit_kinds:
            raise ValueError(NO_FINAL_HEAD if exits == "final-head" else
                             f"a {type(model).__name__} cannot have {exits} exits")
        self.model, self.processor, self.source = model.eval(), processor, source
        cfg = model.config
        self.backbone = getattr(model, model.base_model_prefix)  # model.vit / model.deit / model.resnet
        self.labels = [cfg.id2label[i] for i in range(len(cfg.id2label))]
        self.exit_kind = exits
        self.branches: nn.ModuleList | None = None
        self.shared: nn.Module | None = None
        self.heads = {"exit": "class"}
        self.requires_grad_(False)

    @property
    def final_head_works(self) -> bool:
        """The model's own head reads every exit only when every exit has its width."""
        return "final-head" in self.exit_kinds

    @property
    def slot(self) -> int:
        return max(self.widths)

    def config_dict(self) -> dict:
        return {"source": self.source, "architecture": self.architecture, "exits": self.exit_kind,
                "heads": dict(self.heads)}

    def attach(self, kind: str, branches: nn.ModuleList | None = None, shared: nn.Module | None = None):
        """kind "trained": branches answer exits 0..K-2; kind "shared": FreeML's one head answers."""
        self.exit_kind = kind
        self.branches = branches.eval().requires_grad_(False) if branches is not None else None
        self.shared = shared.eval().requires_grad_(False) if shared is not None else None
        self.heads = {"shared": "class"} if kind == "shared" else {"exit": "class"}
        return self

    # ---- inputs -----------------------------------------------------------------------------
    def prepare(self, image) -> torch.Tensor:
        """A PIL image -> pixel values [C, H, W] by the checkpoint's own image processor."""
        image = image.convert("RGB" if self.model.config.num_channels == 3 else "L")
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]

    def example_input(self):
        cfg = self.model.config
        return torch.zeros(1, cfg.num_channels, self.input_size, self.input_size), None

    def describe(self, answer) -> str:
        return self.labels[int(answer)]

    @property
    def architecture(self) -> str:
        return type(self.model).__name__

    def picture(self, x):
        """The processor's normalisation undone, where it normalises."""
        proc = self.processor
        if proc is None or not getattr(proc, "do_normalize", False):
            return super().picture(x)
        x = torch.as_tensor(x, dtype=torch.float32)
        mean = torch.tensor(proc.image_mean, dtype=torch.float32).reshape(-1, 1, 1)
        std = torch.tensor(proc.image_std, dtype=torch.float32).reshape(-1, 1, 1)
        return super().picture((x * std + mean).clamp(0, 1))

    # ---- the network ----------------------------------------------------------------------------
    def embed(self, x, lengths=None) -> State:  # x [B, C, H, W] pixel values
        h = self.embed_pixels(x)
        memory = h.new_zeros(h.shape[0], self.num_exits, self.slot) if self.shared is not None else None
        return State(h, memory=memory)

    def stage(self, k, state) -> State:
        h = self.run_stage(k, state.h)
        memory = state.memory
        if memory is not None:  # this exit point joins the shared head's input
            memory = memory.clone()
            f = self.features(k, h)
            memory[:, k] = F.pad(f, (0, self.slot - f.shape[1]))
        return State(h, memory=memory)

    def head(self, k, state, name) -> torch.Tensor:  # [B, classes]
        if name == "shared":
            return self.shared(state.memory.flatten(1))
        if self.branches is not None and k < self.num_exits - 1:
            return self.branches[k](self.features(k, state.h))
        return self.final_logits(state.h)

    # ---- what a family says ---------------------------------------------------------------------
    input_size: int  # the side of the square picture `example_input` shows

    def embed_pixels(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def run_stage(self, k: int, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def features(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """What a trained branch reads at exit k: [B, widths[k]]."""
        raise NotImplementedError

    def final_logits(self, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class ViTClassifier(HFImageClassifier):
    """ViT and DeiT: a transformer over patch tokens, one exit per encoder layer."""

    branch_parts = 2  # branches read CLS ⊕ mean patch token, each normalised

    def __init__(self, model, processor, source: str = "", exits: str = "final-head"):
        super().__init__(model, processor, source, exits)
        cfg = model.config
        self.special = 2 if cfg.model_type == "deit" else 1  # CLS (+ distillation) before the patches
        self.teacher = hasattr(model, "distillation_classifier")  # DeiT WithTeacher: mean of two heads
        self.num_exits = cfg.num_hidden_layers
        self.exit_names = [f"layer {k + 1}" for k in range(self.num_exits)]
        self.widths = [2 * cfg.hidden_size] * self.num_exits  # CLS ⊕ mean patch token
        self.input_size = cfg.image_size

    def own_head(self):
        """(norm, weight, bias) of the model's own head, to start trained branches from."""
        head = self.model.cls_classifier if self.teacher else self.model.classifier  # the CLS token's
        return self.backbone.layernorm, head.weight, head.bias

    def embed_pixels(self, x):
        return self.backbone.embeddings(x)  # [B, special + N, D]: CLS (, distillation) first

    def run_stage(self, k, h):
        return self.backbone.layers[k](h, None)  # [B, special + N, D]

    def features(self, k, h):
        return torch.cat([h[:, 0], h[:, self.special:].mean(1)], -1)

    def final_logits(self, h):
        z = self.backbone.layernorm(h[:, : self.special])  # per token: the special tokens suffice
        if self.teacher:
            return (self.model.cls_classifier(z[:, 0]) + self.model.distillation_classifier(z[:, 1])) / 2
        return self.model.classifier(z[:, 0])


class ResNetClassifier(HFImageClassifier):
    """ResNet: one exit per stage. Only the last stage has the classifier's channel count, so
    its earlier exits need trained heads: no final-head exits."""

    exit_kinds = ("trained", "distilled", "shared")
    input_size = 224

    def __init__(self, model, processor, source: str = "", exits: str = "trained"):
        super().__init__(model, processor, source, exits)
        cfg = model.config
        self.num_exits = len(cfg.hidden_sizes)
        self.exit_names = [f"stage {k + 1}" for k in range(self.num_exits)]
        self.widths = list(cfg.hidden_sizes)

    def embed_pixels(self, x):
        return self.backbone.embedder(x)  # [B, C0, H/4, W/4]

    def run_stage(self, k, h):
        return self.backbone.encoder.stages[k](h)  # [B, C_k, H_k, W_k]

    def features(self, k, h):
        return h.mean((2, 3))

    def final_logits(self, h):
        return self.model.classifier(self.backbone.pooler(h))


FAMILIES = {"vit": ViTClassifier, "deit": ViTClassifier, "resnet": ResNetClassifier}  # config.model_type -> class


def adapter(model, processor, source: str = "", exits: str = "final-head") -> HFImageClassifier:
    """The adapter of `model`'s architecture family (refusing an exit kind it cannot have)."""
    return FAMILIES[model.config.model_type](model, processor, source, exits)
