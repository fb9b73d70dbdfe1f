"""Hugging Face CTC speech models (HubertForCTC, Wav2Vec2ForCTC, WavLMForCTC) in the
multi-exit contract, run one transformer layer at a time so exits really exit.

What the model's own forward does, and where it happens here:
  conv front end + feature projection -> `embed` (per utterance for group-norm front
  ends: their GroupNorm spans the padded time axis, so batching would change the
  numbers); padded frames zeroed, positional conv added, and for post-LN models
  (do_stable_layer_norm False) the encoder's layer norm -> `embed`;
  each encoder layer -> `stage(k)` with the attention mask rebuilt for the samples
  still running; WavLM's relative position bias is recomputed from layer 0's table
  for the current length (exact: it depends only on relative positions);
  for stable-LN models the final layer norm, then lm_head -> `head(k, "ctc")`.
The blank is the tokenizer's pad token; the explorer's CTC readout expects it at id 0,
so when it is elsewhere the head's vocabulary axis is reordered (and `describe` maps
the ids back before the checkpoint's own tokenizer decodes them).
"""

from __future__ import annotations

import re

import numpy as np
import torch
from torch import nn

from ..audio import RATE
from ..metrics import word_errors
from ..models.base import MultiExitModel, State


def normalise_text(text: str) -> str:
    """Transcripts compared case- and punctuation-blind, as WER scorers for LibriSpeech do."""
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())


class HFSpeechCTC(MultiExitModel):
    task = "ctc"
    family = "speech"

    def __init__(self, model, feature_extractor, tokenizer=None, source: str = ""):
        super().__init__()
        cfg = model.config
        if getattr(cfg, "add_adapter", False):
            raise ValueError("checkpoints with an output adapter (add_adapter=True) change the frame rate "
                             "after the encoder; they are not supported")
        self.model = model.eval()
        self.base = getattr(model, model.base_model_prefix)
        self.encoder = self.base.encoder
        self.feature_extractor, self.tokenizer, self.source = feature_extractor, tokenizer, source
        self.stable = bool(cfg.do_stable_layer_norm)  # pre-LN: final layer norm before the head
        self.group_norm = self.embed_alone = cfg.feat_extract_norm == "group"
        self.wavlm = cfg.model_type == "wavlm"
        self.num_exits = cfg.num_hidden_layers
        self.exit_names = [f"layer {k + 1}" for k in range(self.num_exits)]
        self.rate = int(getattr(feature_extractor, "sampling_rate", RATE))
        blank = cfg.pad_token_id if cfg.pad_token_id is not None else 0
        order = [blank] + [i for i in range(cfg.vocab_size) if i != blank]
        self.order = None if blank == 0 else torch.tensor(order)  # our id -> the model's id
        self.ctc_silent = self._silent(tokenizer, order)
        self.exit_kind = "final-head"
        self.branches: nn.ModuleList | None = None  # trained CTC exits for layers 0..K-2
        self.ssl: nn.ModuleList | None = None  # DAISY cluster heads, one per layer
        self.heads = {"ctc": "ctc"}
        self.requires_grad_(False)

    @staticmethod
    def _silent(tokenizer, order: list[int]) -> frozenset[int]:
        """Our ids of the tokenizer's special tokens that never reach a transcript: all but the
        blank (our 0) and the word delimiter, dropped before repeats merge as batch_decode does."""
        if tokenizer is None:
            return frozenset()
        keep = {tokenizer.pad_token_id, getattr(tokenizer, "word_delimiter_token_id", None)}
        special = set(tokenizer.all_special_ids) - keep
        return frozenset(ours for ours, theirs in enumerate(order) if theirs in special)

    # ---- what the checkpoint says ------------------------------------------------------------
    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @property
    def vocab_size(self) -> int:
        return self.model.config.vocab_size

    @property
    def architecture(self) -> str:
        return type(self.model).__name__

    def config_dict(self) -> dict:
        return {"source": self.source, "architecture": self.architecture, "exits": self.exit_kind,
                "heads": dict(self.heads)}

    def attach(self, kind: str, branches: nn.ModuleList | None = None, ssl: nn.ModuleList | None = None):
        """Use trained exit branches (one per layer but the last, which keeps the model's own
        head) and/or DAISY cluster heads (one per layer)."""
        self.exit_kind = kind
        self.branches = branches.eval().requires_grad_(False) if branches is not None else None
        self.ssl = ssl.eval().requires_grad_(False) if ssl is not None else None
        self.heads = {"ctc": "ctc", **({"ssl": "cluster"} if ssl is not None else {})}
        return self

    # ---- inputs -----------------------------------------------------------------------------
    def prepare(self, samples: np.ndarray) -> torch.Tensor:
        """One mono waveform at the feature extractor's rate -> the model's input values,
        normalised as the checkpoint's own feature extractor does it (alone, unpadded)."""
        out = self.feature_extractor(np.asarray(samples, np.float32), sampling_rate=self.rate,
                                     return_tensors="np")
        return torch.from_numpy(np.asarray(out["input_values"][0], np.float32))

    def collate(self, inputs):
        lengths = torch.tensor([len(x) for x in inputs])
        return nn.utils.rnn.pad_sequence(list(inputs), batch_first=True), lengths  # zero padding, as the FE pads

    def example_input(self):
        g = torch.Generator().manual_seed(0)
        return 0.1 * torch.randn(1, 2 * self.rate, generator=g), torch.tensor([2 * self.rate])  # a 2 s clip

    # ---- the network, one layer at a time -------------------------------------------------------
    def embed(self, x, lengths=None) -> State:  # x [B, S] input values
        if lengths is None:
            lengths = torch.full((x.shape[0],), x.shape[1], device=x.device)
        frames = self.model._get_feat_extract_output_lengths(lengths).long()  # [B]
        if self.group_norm and x.shape[0] > 1:  # per utterance: exact, as if each were alone
            parts = [self.base.feature_extractor(x[i:i + 1, : int(n)]) for i, n in enumerate(lengths)]
            T = max(p.shape[2] for p in parts)
            feats = torch.cat([nn.functional.pad(p, (0, T - p.shape[2])) for p in parts])  # [B, C, T]
        else:
            feats = self.base.feature_extractor(x)  # [B, C, T]
        feats = feats.transpose(1, 2)  # [B, T, C]
        mask = torch.arange(feats.shape[1], device=feats.device)[None] < frames[:, None]  # [B, T] True on real frames
        h = self.base.feature_projection(feats)
        h = h[0] if isinstance(h, tuple) else h  # Wav2Vec2 / WavLM also return the normed features
        h = h * mask[..., None]  # padded frames are zero before the positional conv, as in the encoder
        h = h + self.encoder.pos_conv_embed(h)
        if not self.stable:  # post-LN models normalise before layer 0
            h = self.encoder.layer_norm(h)
        return State(h, mask=mask)

    def stage(self, k, state) -> State:
        layer, h, mask = self.encoder.layers[k], state.h, state.mask
        if self.wavlm:  # raw 2-D mask; the un-gated bias [B*H, T, T] from layer 0's table
            attn = self.encoder.layers[0].attention
            B, T = h.shape[:2]
            bias = attn.compute_bias(T, T).unsqueeze(0).expand(B, -1, -1, -1).reshape(B * attn.num_heads, T, T)
            out = layer(h, attention_mask=mask.long(), position_bias=bias)
        else:
            from transformers.masking_utils import create_bidirectional_mask

            full = create_bidirectional_mask(config=self.model.config, inputs_embeds=h, attention_mask=mask.long())
            out = layer(h, attention_mask=full)
        h = out[0] if isinstance(out, tuple) else out  # [B, T, D]
        return State(h, mask=mask)

    def own_head(self):
        """(norm, weight, bias) of the model's own head in our vocabulary order, to start
        trained branches from (post-LN models have no norm before the head)."""
        w, b = self.model.lm_head.weight, self.model.lm_head.bias
        if self.order is not None:
            w, b = w[self.order], b[self.order]
        return (self.encoder.layer_norm if self.stable else None), w, b

    def final_logits(self, h: torch.Tensor) -> torch.Tensor:
        """The model's own head on features h [B, T, D] -> [B, T, V] (its vocabulary order)."""
        return self.model.lm_head(self.encoder.layer_norm(h) if self.stable else h)

    def head(self, k, state, name) -> torch.Tensor:  # [B, T, V] or [B, T, clusters]
        if name == "ssl":
            return self.ssl[k](state.h)
        if self.branches is not None and k < self.num_exits - 1:
            logits = self.branches[k](state.h, state.mask)  # the attention exit reads the utterance
        else:
            logits = self.final_logits(state.h)
        return logits if self.order is None else logits[..., self.order]

    # ---- answers in the checkpoint's own units -------------------------------------------------
    def token_ids(self, answer) -> list[int]:
        """Our CTC ids (blank at 0) -> the model's vocabulary ids."""
        return [int(self.order[t]) for t in answer] if self.order is not None else [int(t) for t in answer]

    def describe(self, answer) -> str:
        ids = self.token_ids(answer)
        if self.tokenizer is None:
            return " ".join(str(i) for i in ids)
        return self.tokenizer.decode(ids, group_tokens=False, skip_special_tokens=True).strip()

    def errors(self, answer, target) -> tuple[float, int]:
        return word_errors(normalise_text(self.describe(answer)), normalise_text(target))

    def encode(self, text: str) -> list[int]:
        """A transcript -> target ids in our order (blank at 0), for training CTC exits. The
        transcript's case follows the vocabulary's (LibriSpeech vocabularies are upper case)."""
        if self.tokenizer is None:
            raise ValueError("this checkpoint has no CTC tokenizer: trained CTC exits need one to read transcripts")
        vocab = self.tokenizer.get_vocab()
        letters = [t for t in vocab if len(t) == 1 and t.isalpha()]
        upper = letters and sum(t.isupper() for t in letters) > len(letters) / 2
        words = normalise_text(text).split()
        # word by word, the word delimiter between: a word vocabulary's tokenizer drops the
        # spaces, while the model's own head emits the delimiter between words (as a character
        # vocabulary's tokenizer writes it for a space)
        delimiter = getattr(self.tokenizer, "word_delimiter_token_id", None)
        ids = []
        for j, word in enumerate(words):
            ids += ([delimiter] if j and delimiter is not None else []) + \
                self.tokenizer(word.upper() if upper else word).input_ids
        if self.order is None:
            return ids
        back = {int(m): i for i, m in enumerate(self.order)}
        return [back[i] for i in ids]
