"""Error counts: one definition of word errors for every speech model and report."""

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
