"""The multi-exit contract every model in the explorer follows.

A multi-exit network is an input embedding, an ordered list of stages, and exit
heads read after each stage. The engine drives it one stage at a time, so a model
never decides on its own how deep to go: that is what makes real exits possible.

Heads are named; each has a *kind* that says how its logits are read:
  "class"   logits [B, C]        -> a class prediction and its confidences
  "ctc"     log-probs [B, T, V]  -> a greedy CTC transcript and frame entropy
  "cluster" logits [B, T, K]     -> the self-supervised cluster posterior (DAISY)
The first head in `heads` is the task head: it gives the answer at the exit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from ..audio import RATE

# Why an exit kind that reads the model's own classifier at every exit cannot be had.
NO_FINAL_HEAD = ("this model's own classifier cannot read its earlier exits (a ResNet's earlier stages "
                 "have other channel counts): import it with --exits trained (labels) or "
                 "--exits distilled (no labels)")


@dataclass
class State:
    """What flows between stages for a batch of still-running samples.

    h:      hidden features, batch first ([B, T, D] for sequences, [B, C, H, W] for images)
    mask:   [B, T] True on real frames (sequence models), None otherwise
    memory: [B, K, F] pooled features of every exit point so far, zero for stages not
            yet run (FreeML's shared exit reads this), None when no head needs it
    """

    h: torch.Tensor
    mask: torch.Tensor | None = None
    memory: torch.Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.h.shape[0]

    def select(self, keep: torch.Tensor) -> State:
        """Keep only the samples at `keep` (indices); the rest have exited.

        Sequence padding shrinks to the longest remaining sample, so dropped long
        inputs stop costing compute for the short ones left behind.
        """
        h = self.h[keep]
        mask = self.mask[keep] if self.mask is not None else None
        if mask is not None and mask.shape[0] > 0:
            longest = int(mask.sum(1).max())
            h, mask = h[:, :longest], mask[:, :longest]
        memory = self.memory[keep] if self.memory is not None else None
        return replace(self, h=h, mask=mask, memory=memory)

    def split(self, size: int) -> list[State]:
        """Consecutive batches of at most `size` samples: views, not copies, each with
        its padding trimmed to its own longest sample."""
        if self.batch_size <= size:
            return [self]
        out = []
        for i in range(0, self.batch_size, size):
            h = self.h[i:i + size]
            mask = self.mask[i:i + size] if self.mask is not None else None
            if mask is not None:
                longest = int(mask.sum(1).max())
                h, mask = h[:, :longest], mask[:, :longest]
            memory = self.memory[i:i + size] if self.memory is not None else None
            out.append(State(h, mask, memory))
        return out

    @staticmethod
    def cat(states: list[State]) -> State:
        """Join states of several batches into one (padding sequences to the longest)."""
        if len(states) == 1:
            return states[0]
        if states[0].mask is not None:
            T = max(s.h.shape[1] for s in states)
            h = torch.cat([nn.functional.pad(s.h, (0, 0) * (s.h.dim() - 2) + (0, T - s.h.shape[1])) for s in states])
            mask = torch.cat([nn.functional.pad(s.mask, (0, T - s.mask.shape[1])) for s in states])
        else:
            h, mask = torch.cat([s.h for s in states]), None
        memory = torch.cat([s.memory for s in states]) if states[0].memory is not None else None
        return State(h, mask, memory)


class MultiExitModel(nn.Module):
    """Base class: subclasses set `heads` and implement embed / stage / head.

    The attributes and methods after `collate` are optional: what `import --data` needs of
    a model that reads files (its `family`, `prepare`) and trains exit heads on its frozen
    backbone (`attach`, `widths`, ...). Their defaults say "not this model"."""

    task: str  # "class" or "ctc": the kind of the task head
    heads: dict[str, str]  # head name -> kind; the first is the task head
    num_exits: int
    exit_names: list[str]  # a short label per exit point, e.g. "block 3"
    family: str = ""  # the input it reads: "image" or "speech" (explorer.modality.of); "": none
    labels: tuple[str, ...] | list[str] = ()  # a classifier's class names, in id order ([]: unnamed)
    rate: int = RATE  # samples per second of a waveform input (speech)
    final_head_works: bool = True  # the model's own head can read every exit (final-head exits)
    branch_parts: int = 1  # normalised parts a trained image branch reads (ViT: CLS and mean patch)
    ctc_silent: frozenset[int] = frozenset()  # CTC ids dropped before repeats merge (a tokenizer's specials)
    embed_alone: bool = False  # the front end must see each input alone (a norm over the padded axis)

    @property
    def task_head(self) -> str:
        return next(iter(self.heads))

    def embed(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> State:
        """Input embedding / front end, run once before the first stage."""
        raise NotImplementedError

    def stage(self, k: int, state: State) -> State:
        """Run stage k (0-based) on the samples still in `state`."""
        raise NotImplementedError

    def head(self, k: int, state: State, name: str) -> torch.Tensor:
        """Logits of head `name` at exit point k (after stage k)."""
        raise NotImplementedError

    def example_input(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One typical input at batch 1 (for counting MACs and timing)."""
        raise NotImplementedError

    def errors(self, answer, target) -> tuple[float, int]:
        """(errors, reference length) of one answer: 0/1 and 1 for classes; speech
        models count word errors against the reference's words."""
        return float(answer != target), 1

    def describe(self, answer) -> str:
        """An answer in words, for people."""
        return str(answer)

    def heard(self, answer: str) -> str:
        """What an answer (as `describe` gives it) means, in a sentence, when that needs
        saying (a model with a closed vocabulary: what it heard of it); "" otherwise."""
        return ""

    def collate(self, inputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Inputs of one batch -> (x, lengths). Fixed-size inputs just stack;
        sequence models pad on the time axis and return the true lengths."""
        return torch.stack(inputs), None

    # ---- optional: reading files and training exit heads (import --data) ----------------------
    def prepare(self, raw) -> torch.Tensor:
        """A file as its modality reads it (a PIL image, a waveform at `rate`) -> one input."""
        raise ValueError(f"{type(self).__name__} does not say how to read files (a `family` of image or "
                         "speech and a `prepare` method): it cannot import a data folder")

    def attach(self, kind: str, *modules: nn.Module | None) -> MultiExitModel:
        """This model with trained exit modules answering its exits (exit kind `kind`)."""
        raise ValueError(f"{type(self).__name__} cannot take trained exit heads")

    def own_head(self):
        """(norm, weight, bias) of the model's own head, to start trained branches from; None
        when its head cannot read earlier exits."""
        return None

    def known_macs(self) -> dict | None:
        """MACs of each part (`Costs.to_dict`'s form) when torch cannot count them (a graph run
        elsewhere: ONNX Runtime); None: count them."""
        return None

    def config_dict(self) -> dict:
        """What identifies the model's configuration (profiles are keyed by its hash)."""
        return {}

    @property
    def architecture(self) -> str:
        """The network's class name, as an import's manifest and report name it."""
        return type(self).__name__

    def picture(self, x: torch.Tensor):
        """A prepared image input [C, H, W] as the picture the model saw: [H, W, 3] in [0, 1]
        (values outside [0, 1] rescaled; a model that normalises says how to undo it)."""
        arr = torch.as_tensor(x).detach().cpu().float().numpy()
        if arr.min() < 0 or arr.max() > 1:
            arr = (arr - arr.min()) / max(float(arr.max() - arr.min()), 1e-6)
        arr = arr.clip(0, 1)
        return arr.repeat(3, 0).transpose(1, 2, 0) if arr.shape[0] == 1 else arr.transpose(1, 2, 0)
