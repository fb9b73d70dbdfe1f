"""A figure as a file to download: PNG or SVG drawn by kaleido (plotly's own exporter,
which drives a local Chromium, Debian's /usr/bin/chromium here: offline), or, where no
browser can be started, the self-contained HTML page plotly writes itself (plotly.js
inside, so it opens offline too). Every figure carries its title (`plots.titled`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from html import escape

import plotly.graph_objects as go

FORMATS = {"png": "image/png", "svg": "image/svg+xml", "html": "text/html"}
CHROMIUM = "/usr/bin/chromium"
TEMPLATE = "plotly_white"  # closest to the page: white, light grid (the browser draws figures the same way)


@dataclass(frozen=True)
class Exported:
    data: bytes
    fmt: str  # "png", "svg", or "html" (the fallback)
    note: str = ""  # why it is not the format asked for

    @property
    def mime(self) -> str:
        return FORMATS[self.fmt]


def title_of(figure: go.Figure | dict) -> str:
    layout = figure.layout if isinstance(figure, go.Figure) else figure.get("layout", {})
    title = layout.title if isinstance(figure, go.Figure) else layout.get("title", {})
    text = title.text if isinstance(figure, go.Figure) else (title or {}).get("text")
    return text or ""


def file_name(title: str, fmt: str) -> str:
    """A file name from the figure's title (letters, digits and dashes)."""
    stem = "".join(ch if ch.isalnum() else "-" for ch in title.lower())
    stem = "-".join(p for p in stem.split("-") if p)[:80] or "figure"
    return f"{stem}.{fmt}"


def export(figure: go.Figure | dict, fmt: str = "png", width: int = 1000, height: int | None = None) -> Exported:
    """The figure as `fmt` ("png", "svg" or "html"); PNG/SVG fall back to HTML with a note
    when kaleido cannot start a browser."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown figure format {fmt!r}; choose one of {', '.join(FORMATS)}")
    # A template of our choosing, never the process' default: once Streamlit is imported that is
    # "streamlit", whose colours (#000001…) only its frontend fills in, so every curve came out
    # black. The figure's own colours (plots.PALETTE, as on screen) override the template's.
    fig = go.Figure(figure).update_layout(template=TEMPLATE)
    if fmt == "html":
        return Exported(_html(fig), "html")
    if "BROWSER_PATH" not in os.environ and not shutil.which("chromium") and os.path.exists(CHROMIUM):
        os.environ["BROWSER_PATH"] = CHROMIUM
    try:
        data = fig.to_image(format=fmt, width=width, height=height or fig.layout.height or 500)
    except Exception as err:  # no kaleido, or no browser it can start: plotly's own HTML, said so
        why = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return Exported(_html(fig), "html",
                        f"{fmt.upper()} needs a browser that kaleido can start ({why}); this is the interactive "
                        "HTML page instead.")
    return Exported(data, fmt)


def _html(fig: go.Figure) -> bytes:
    """plotly's self-contained page, with the figure's title as the page's title too."""
    page = fig.to_html(include_plotlyjs=True, full_html=True)
    return page.replace("<head>", f"<head>\n    <title>{escape(title_of(fig))}</title>", 1).encode()


def can_draw() -> bool:
    """Whether PNG and SVG can be drawn here: kaleido is installed and a Chromium exists."""
    import importlib.util

    return importlib.util.find_spec("kaleido") is not None and bool(
        os.environ.get("BROWSER_PATH") or shutil.which("chromium") or os.path.exists(CHROMIUM))
