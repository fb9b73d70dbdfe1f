"""Error counts: one definition of word errors for every speech model and report."""

from __future__ import annotations

import jiwer


def word_errors(hypothesis: str, reference: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, words in the reference)."""
    ref_words = reference.split()
    if not ref_words:
        return len(hypothesis.split()), 0
    out = jiwer.process_words(reference, hypothesis or "")
    return out.substitutions + out.deletions + out.insertions, len(ref_words)
