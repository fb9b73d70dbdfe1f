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
