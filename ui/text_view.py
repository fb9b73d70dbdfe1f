"""Generated text drawn token by token, each on the colour of the exit it left at."""

from __future__ import annotations

import html

import pandas as pd

from explorer.plots import PALETTE

SHADES = ("#dbeafe", "#bfdbfe", "#93c5fd", "#60a5fa", "#3b82f6", "#1d4ed8", "#1e3a8a", "#172554")  # light: early


def shade(exit_index: int, exits: int) -> str:
    """The colour of a 0-based exit among `exits`: lightest first, darkest at the last."""
    return SHADES[round(exit_index * (len(SHADES) - 1) / max(exits - 1, 1))]


def _span(text: str, background: str, title: str, dark: bool, mark: bool = False) -> str:
    shown = html.escape(text).replace("\n", "↵<br>").replace(" ", "&nbsp;") or "∅"
    border = f"border-bottom:3px solid {PALETTE[3]};" if mark else ""
    colour = "#fff" if dark else "#111"
    return (f'<span title="{html.escape(title)}" style="background:{background};color:{colour};{border}'
            f'font-family:monospace;padding:1px 0">{shown}</span>')


def tokens_html(pieces: list[str], exits: list[int], num_exits: int, differs: list[bool] | None = None,
                prompt: str = "", scores: list[list[float]] | None = None, score_name: str = "score") -> str:
    """The prompt's end in grey, then one span per generated token on its exit's colour
    (hover: the exit, and the criterion's score at each layer it read); tokens that differ
    from the full model's are underlined."""
    shown = html.escape(prompt[-200:]).replace("\n", "↵<br>").replace(" ", "&nbsp;")
    spans = [f'<span style="color:#6b7280;font-family:monospace">{shown}</span>'] if prompt else []
    for i, (text, e) in enumerate(zip(pieces, exits, strict=True)):
        dark = e * (len(SHADES) - 1) / max(num_exits - 1, 1) >= 3.5
        mark = bool(differs and differs[i])
        read = scores[i] if scores else []
        by_layer = (f"\n{score_name} by layer: " + ", ".join(f"{k + 1}: {v:.3g}" for k, v in enumerate(read))
                    if read else "")
        spans.append(_span(text, shade(e, num_exits), f"token {i + 1}: exit {e + 1} of {num_exits}"
                           + (" — differs from the full model's" if mark else "") + by_layer, dark, mark))
    return '<div style="line-height:1.9;word-break:break-all">' + "".join(spans) + "</div>"


def legend_html(num_exits: int) -> str:
    cells = "".join(_span(f" exit {k + 1} ", shade(k, num_exits), f"exit {k + 1}",
                          k * (len(SHADES) - 1) / max(num_exits - 1, 1) >= 3.5) + " " for k in range(num_exits))
    return f'<div style="font-size:0.85em">Each token on the colour of the exit it left at: {cells}</div>'


def ways_table(rows: list) -> pd.DataFrame:
    """explorer.text_summary.Way rows as the page's table."""
    def times(v):
        return f"{v:.2f}×" if v is not None else "—"

    return pd.DataFrame({
        "how": [w.how for w in rows],
        "same bytes as the full model": [f"{100 * w.same_bytes:.1f}%" for w in rows],
        "ROUGE-L vs the full model": [f"{w.rouge_l:.3f}" for w in rows],
        "mean layers per byte": [f"{w.layers:.2f}" for w in rows],
        "ideal speedup (by layers)": [times(w.ideal) for w in rows],
        "measured, batch 1": [times(w.speedup_b1) for w in rows],
        "measured, batch 8": [times(w.speedup_b8) for w in rows],
    })
