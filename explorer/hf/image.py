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
checkpoint does.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from ..models.base import MultiExitModel, State


class HFImageClassifier(MultiExitModel):
    task = "class"
    family = "image"

    def __init__(self, model, processor, source: str = ""):
        super().__init__()
        self.model, self.processor, self.source = model.eval(), processor, source
        cfg = model.config
        self.vit = cfg.model_type in ("vit", "deit")  # a transformer over patch tokens
        self.backbone = getattr(model, model.base_model_prefix)  # model.vit / model.deit / model.resnet
        self.special = 2 if cfg.model_type == "deit" else 1  # CLS (+ distillation) before the patches
        self.teacher = hasattr(model, "distillation_classifier")  # DeiT WithTeacher: mean of two heads
        if self.vit:
            self.num_exits = cfg.num_hidden_layers
            self.exit_names = [f"layer {k + 1}" for k in range(self.num_exits)]
            self.widths = [2 * cfg.hidden_size] * self.num_exits  # CLS ⊕ mean patch token
        else:  # ResNet
            self.num_exits = len(cfg.hidden_sizes)
            self.exit_names = [f"stage {k + 1}" for k in range(self.num_exits)]
            self.widths = list(cfg.hidden_sizes)
        self.labels = [cfg.id2label[i] for i in range(len(cfg.id2label))]
        self.exit_kind = "final-head"
        self.branches: nn.ModuleList | None = None
        self.shared: nn.Module | None = None
        self.heads = {"exit": "class"}
        self.requires_grad_(False)

    @property
    def final_head_works(self) -> bool:
        """The model's own head reads every exit only when every exit has its width (ViT)."""
        return self.vit

    @property
    def branch_parts(self) -> int:
        return 2 if self.vit else 1  # ViT branches read CLS ⊕ mean patch token, each normalised

    def own_head(self):
        """(norm, weight, bias) of the model's own head, to start trained branches from."""
        if not self.vit:
            return None
        head = self.model.cls_classifier if self.teacher else self.model.classifier  # the CLS token's
        return self.backbone.layernorm, head.weight, head.bias

    @property
    def slot(self) -> int:
        return max(self.widths)

    def config_dict(self) -> dict:
        return {"source": self.source, "architecture": type(self.model).__name__, "exits": self.exit_kind,
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
        channels = getattr(self.model.config, "num_channels", 3)
        image = image.convert("RGB" if channels == 3 else "L")
        return self.processor(images=image, return_tensors="pt")["pixel_values"][0]

    def example_input(self):
        cfg = self.model.config
        size = cfg.image_size if self.vit else 224
        return torch.zeros(1, cfg.num_channels, size, size), None

    def describe(self, answer) -> str:
        return self.labels[int(answer)]

    # ---- the network ----------------------------------------------------------------------------
    def embed(self, x, lengths=None) -> State:  # x [B, C, H, W] pixel values
        if self.vit:
            h = self.backbone.embeddings(x)  # [B, special + N, D]: CLS (, distillation) first
        else:
            h = self.model.resnet.embedder(x)  # [B, C0, H/4, W/4]
        memory = h.new_zeros(h.shape[0], self.num_exits, self.slot) if self.shared is not None else None
        return State(h, memory=memory)

    def stage(self, k, state) -> State:
        if self.vit:
            h = self.backbone.layers[k](state.h, None)  # [B, special + N, D]
        else:
            h = self.model.resnet.encoder.stages[k](state.h)  # [B, C_k, H_k, W_k]
        memory = state.memory
        if memory is not None:  # this exit point joins the shared head's input
            memory = memory.clone()
            f = self.features(k, h)
            memory[:, k] = F.pad(f, (0, self.slot - f.shape[1]))
        return State(h, memory=memory)

    def features(self, k: int, h: torch.Tensor) -> torch.Tensor:
        """What a trained branch reads at exit k: [B, widths[k]]."""
        if self.vit:
            return torch.cat([h[:, 0], h[:, self.special:].mean(1)], -1)
        return h.mean((2, 3))

    def final_logits(self, h: torch.Tensor) -> torch.Tensor:
        if self.vit:
            z = self.backbone.layernorm(h[:, : self.special])  # per token: the special tokens suffice
            if self.teacher:
                return (self.model.cls_classifier(z[:, 0]) + self.model.distillation_classifier(z[:, 1])) / 2
            return self.model.classifier(z[:, 0])
        return self.model.classifier(self.model.resnet.pooler(h))

    def head(self, k, state, name) -> torch.Tensor:  # [B, classes]
        if name == "shared":
            return self.shared(state.memory.flatten(1))
        if self.branches is not None and k < self.num_exits - 1:
            return self.branches[k](self.features(k, state.h))
        if k < self.num_exits - 1 and not self.final_head_works:
            raise ValueError("a ResNet's earlier stages have other channel counts than its classifier: "
                             "its early exits need trained heads (--exits trained or distilled)")
        return self.final_logits(state.h)
