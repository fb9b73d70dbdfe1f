"""Error counts: one definition of word errors for every speech model and report, and of
text consistency (ROUGE-L) for generated text."""

from __future__ import annotations

from dataclasses import dataclass

import jiwer


@dataclass(frozen=True)
class WordEdits:
    """How a hypothesis differs from its reference: the edits of the alignment word error
    rate counts (substitutions + deletions + insertions), and which words they touch."""

    substitutions: int
    deletions: int
    insertions: int
    words: int  # words in the reference
    substituted: tuple[tuple[str, str], ...] = ()  # (reference word, word heard instead)
    deleted: tuple[str, ...] = ()  # reference words not heard
    inserted: tuple[str, ...] = ()  # words heard that were not said

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions


def word_edits(hypothesis: str, reference: str) -> WordEdits:
    """The edits of the minimum edit-distance alignment of `hypothesis` to `reference`."""
    ref_words, hyp_words = reference.split(), (hypothesis or "").split()
    if not ref_words:
        return WordEdits(0, 0, len(hyp_words), 0, inserted=tuple(hyp_words))
    out = jiwer.process_words(reference, hypothesis or "")
    subs, dels, ins = [], [], []
    for chunk in out.alignments[0]:
        ref, hyp = ref_words[chunk.ref_start_idx:chunk.ref_end_idx], hyp_words[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if chunk.type == "substitute":
            subs += zip(ref, hyp, strict=True)
        elif chunk.type == "delete":
            dels += ref
        elif chunk.type == "insert":
            ins += hyp
    return WordEdits(out.substitutions, out.deletions, out.insertions, len(ref_words),
                     tuple(subs), tuple(dels), tuple(ins))


def word_errors(hypothesis: str, reference: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, words in the reference)."""
    edits = word_edits(hypothesis, reference)
    return edits.errors, edits.words


def rouge_l(candidate: list, reference: list) -> float:
    """ROUGE-L F1 of two token sequences (CALM's textual consistency with the full model):
    the longest common subsequence against both lengths; 1.0 for equal sequences."""
    if not candidate or not reference:
        return float(candidate == reference)
    prev = [0] * (len(reference) + 1)
    for a in candidate:
        cur = [0]
        for j, b in enumerate(reference):
            cur.append(prev[j] + 1 if a == b else max(prev[j + 1], cur[j]))
        prev = cur
    lcs = prev[-1]
    if not lcs:
        return 0.0
    precision, recall = lcs / len(candidate), lcs / len(reference)
    return 2 * precision * recall / (precision + recall)
