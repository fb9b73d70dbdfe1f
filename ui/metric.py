"""st.metric's delta, written once for every page: light (no torch, no model), so the
Overview draws its cards before the explorer's heavy modules load."""

from __future__ import annotations


def delta(change: float, unit: str, higher_is_better: bool = True, digits: int = 2) -> dict:
    """st.metric's delta for a real change: its arrow and colour say better or worse; a change
    that rounds to zero has no delta at all (never "↑ +0.00")."""
    if round(change, digits) == 0:
        return {"delta": None}
    return {"delta": f"{change:+.{digits}f} {unit}", "delta_color": "normal" if higher_is_better else "inverse"}
