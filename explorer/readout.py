"""Reading a head's logits: the prediction and the scores the criteria need.

One definition, used by the live engine and by the profile alike, so a profile's
decisions are exactly the ones real execution takes.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# The score columns each head kind yields ("pred" is the prediction's id).
KIND_COLUMNS = {
    "class": ("pred", "confidence", "entropy", "entropy_norm"),
    "token": ("pred", "confidence", "entropy", "entropy_norm", "margin"),  # a language model's next token
    "ctc": ("pred", "ctc_entropy"),
    "cluster": ("ssl_entropy",),
}

BLANK = 0  # CTC blank token id


def _log_softmax(logits: torch.Tensor) -> np.ndarray:
    """Log-probabilities in float64 numpy.

    Heads are tiny, so numpy on their logits is faster than a chain of torch ops
    (each torch call costs microseconds of dispatch, which an exit pays every time)."""
    z = logits.detach().double().cpu().numpy()  # .cpu(): a GPU profile reads its heads here too
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def probabilities(logits: torch.Tensor) -> np.ndarray:
    """Class probabilities (float64 numpy) of a class head's logits: the same softmax
    the scores are read with."""
    return np.exp(_log_softmax(logits))


def _entropy(logp: np.ndarray) -> np.ndarray:
    """Entropy (nats) of the distribution over the last axis."""
    return -(np.exp(logp) * logp).sum(-1)


def _frame_mean(x: np.ndarray, mask: torch.Tensor | None) -> np.ndarray:
    """[B, T] -> [B]: mean over real frames only (padding must not count)."""
    if mask is None:
        return x.mean(1)
    m = mask.cpu().numpy()
    return (x * m).sum(1) / np.maximum(m.sum(1), 1)


def greedy_ctc(logp: np.ndarray, mask: torch.Tensor | None, silent: frozenset[int] = frozenset()
               ) -> list[tuple[int, ...]]:
    """Greedy CTC decoding: best token per frame, drop `silent` ids, merge repeats, drop blanks.

    silent: ids that never reach a transcript (an HF tokenizer's special tokens other than the
    blank and the word delimiter). They go before repeats merge, as the checkpoint's own
    tokenizer drops them, so `N </s> N` reads `N`; a blank still separates repeats (`N _ N`
    reads `NN`), as HF's speech-recognition pipeline keeps it."""
    best = logp.argmax(-1)  # [B, T]
    lengths = mask.sum(1).tolist() if mask is not None else [best.shape[1]] * len(best)
    out = []
    for row, n in zip(best, lengths, strict=False):
        row = row[: int(n)]
        if silent:
            row = row[~np.isin(row, list(silent))]
        keep = np.ones(len(row), bool)
        keep[1:] = row[1:] != row[:-1]
        out.append(tuple(int(t) for t in row[keep] if t != BLANK))
    return out


def read_pred(kind: str, logits: torch.Tensor, mask: torch.Tensor | None = None,
              silent: frozenset[int] = frozenset()):
    """Only the answer of a head: class ids [B], or transcripts (token tuples). The argmax of
    the logits is the argmax of their log-softmax (a shift per row), so no softmax is taken:
    the engine reads only this for a leaver when its criterion read no answer."""
    z = logits.detach().cpu().numpy()
    if kind == "class":
        return z.argmax(-1)
    if kind == "ctc":
        return greedy_ctc(z, mask, silent)
    raise ValueError(f"a {kind!r} head gives no answer")


def read_head(kind: str, logits: torch.Tensor, mask: torch.Tensor | None = None,
              silent: frozenset[int] = frozenset(), columns=None) -> dict:
    """Score columns for one head at one exit, for every sample in the batch (silent: CTC ids
    a transcript drops, see greedy_ctc; columns: of a class or token head, only these and
    "pred", where a caller reads a few per step, as generation does; None: every column).

    Returns numpy arrays [B] per column; for "ctc" the "pred" entry is a list of
    token tuples (the transcript), which callers intern into ids.
    """
    logp = _log_softmax(logits)
    if kind in ("class", "token"):  # logits [B, C]; token: CALM's softmax margin too (top-1 minus top-2)
        want = set(KIND_COLUMNS[kind] if columns is None else columns)
        cols = {"pred": logp.argmax(-1)}
        if "confidence" in want:
            cols["confidence"] = np.exp(logp.max(-1))
        if want & {"entropy", "entropy_norm"}:
            cols["entropy"] = _entropy(logp)
            cols["entropy_norm"] = cols["entropy"] / math.log(logits.shape[-1])
        if kind == "token" and "margin" in want:
            top2 = np.exp(np.partition(logp, -2, axis=-1)[:, -2:])
            cols["margin"] = top2[:, 1] - top2[:, 0]
        return cols
    if kind == "ctc":  # log-probs [B, T, V]
        return {"pred": greedy_ctc(logp, mask, silent), "ctc_entropy": _frame_mean(_entropy(logp), mask)}
    if kind == "cluster":  # logits [B, T, K]
        return {"ssl_entropy": _frame_mean(_entropy(logp), mask)}
    raise ValueError(f"unknown head kind {kind!r}")


class Interner:
    """Maps predictions (class ids or transcripts) to small integer ids.

    Criteria compare predictions across exits (patience, consistency) on integer
    arrays; transcripts become ids so the same code serves classes and ASR.
    """

    def __init__(self) -> None:
        self.ids: dict = {}
        self.values: list = []

    def __call__(self, preds) -> np.ndarray:
        if isinstance(preds, np.ndarray):  # class ids are their own ids
            return preds.astype(np.int64)
        out = np.empty(len(preds), np.int64)
        for i, p in enumerate(preds):
            if p not in self.ids:
                self.ids[p] = len(self.values)
                self.values.append(p)
            out[i] = self.ids[p]
        return out

    def value(self, i: int):
        return self.values[i] if self.values else i
