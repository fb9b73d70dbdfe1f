"""Figures as a researcher takes them away (issue 26): downloads in the colours shown, the
chosen criterion on top of Tradeoffs' chart, and an axis that shows where the curves differ."""

import base64
import io
import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest
import streamlit  # noqa: F401  the app has it imported: plotly's default template is then Streamlit's
from conftest import needs_image, needs_speech
from PIL import Image

from explorer import cached, figure_export, plots, zoo
from explorer import threshold_view as tv
from explorer.criteria import CRITERIA


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))


def _values(v) -> np.ndarray:
    """A trace's values from plotly's JSON (arrays come as base64 `bdata`)."""
    return np.frombuffer(base64.b64decode(v["bdata"]), v["dtype"]) if isinstance(v, dict) else np.asarray(v)


def _view(name: str = "image", crit: str = "confidence", zoom: bool = True, log_x: bool = True) -> tv.ThresholdView:
    test = zoo.profile(name, zoo.get(name).test_split)
    return cached.tradeoff_view(test, test, crit, "mean_macs", log_x, None, zoo.get(name).quality, "test", None,
                                0.9, zoom)


def _legend_colours(fig: dict) -> dict[str, str]:
    """Each legend entry's colour as the figure states it (black, the Pareto front, left out)."""
    out = {}
    for t in fig["data"]:
        colour = (t.get("line") or {}).get("color") or (t.get("marker") or {}).get("color")
        if t.get("showlegend") is not False and isinstance(colour, str) and colour.startswith("#"):
            out[t["name"]] = colour
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name, crit", [pytest.param("image", "confidence", marks=needs_image),
                                        pytest.param("speech", "ctc_entropy", marks=needs_speech)])
def test_a_downloaded_png_and_svg_keep_every_legend_entrys_colour(name, crit):
    """Tradeoffs, one model, no Compare: the downloaded PNG was all black (Streamlit's template)."""
    if not figure_export.can_draw():
        pytest.skip("kaleido or chromium missing")
    view = _view(name, crit)
    fig = tv.figure_at(view, view.rows[0][0], view.start)
    colours = _legend_colours(fig)
    assert len(set(colours.values())) >= 5, colours  # every criterion its own colour
    png = figure_export.export(fig, "png")
    assert png.fmt == "png", png.note
    pixels = np.asarray(Image.open(io.BytesIO(png.data)).convert("RGB")).reshape(-1, 3).astype(int)
    for name, colour in colours.items():
        near = np.abs(pixels - _rgb(colour)).max(axis=1) <= 12
        assert near.sum() >= 20, f"{name}: its colour {colour} is nowhere in the PNG"
    svg = figure_export.export(fig, "svg").data.decode()
    for name, colour in colours.items():
        assert "rgb({}, {}, {})".format(*_rgb(colour)) in svg, name
    html = figure_export.export(fig, "html").data.decode()
    assert all(colour in html for colour in colours.values())


def test_every_figure_carries_its_colours_whatever_the_template():
    """The browser and the export draw the same colours: the figure states them."""
    fig = plots.exit_histogram({"threshold": 0.5, "exit_0": 0.5, "exit_1": 0.5}, ["exit 1", "exit 2"])
    assert list(fig.layout.colorway) == plots.PALETTE
    exported = go.Figure(json.loads(fig.to_json())).update_layout(template=figure_export.TEMPLATE)
    assert list(exported.layout.colorway) == plots.PALETTE


@needs_image
@pytest.mark.parametrize("crit", ["confidence", "entropy_norm"])
def test_the_chosen_criterion_is_drawn_on_top_and_its_points_are_the_ones_clicked(crit):
    """'confidence' was drawn under entropy / log C: a click on it opened the other's drill-down."""
    view = _view("image", crit)
    fig = view.rows[0][0].figure
    curves = [i for i, t in enumerate(fig["data"]) if (t.get("meta") or {}).get("criterion")]
    top = fig["data"][curves[-1]]
    assert top["meta"] == {"criterion": crit, "model": "image"}
    assert view.rows[0][0].top == curves[-1]  # where its point lies over another's, a click takes it
    assert "chosen" in top["name"] and "drawn under it" not in top["name"]
    front = next(i for i, t in enumerate(fig["data"]) if t["name"] == "Pareto front")
    assert curves[-1] > front  # over the front too: nothing between the pointer and its points
    width = {t["meta"]["criterion"]: t["line"]["width"] for t in fig["data"] if t.get("meta")}
    assert width[crit] > max(w for c, w in width.items() if c != crit)
    # a curve identical to the chosen one says it is drawn under the chosen one, not the reverse
    for t in fig["data"]:
        if "drawn under it" in t.get("name", ""):
            assert CRITERIA[crit].label in t["name"] or t["meta"]["criterion"] != crit


@needs_image
def test_tradeoffs_opens_zoomed_to_the_knee_and_the_full_range_is_one_toggle_away():
    """The image curve's informative part was squeezed into 3.7–5 M MACs beside a flat plateau."""
    zoomed, full = (_view(zoom=z, log_x=False).rows[0][0].figure for z in (True, False))
    zx, fx = zoomed["layout"]["xaxis"]["range"], full["layout"]["xaxis"]["range"]
    assert (zx[1] - zx[0]) < 0.5 * (fx[1] - fx[0])  # the plateau is left out ...
    assert "zoomed to the knee" in zoomed["layout"]["xaxis"]["title"]["text"]
    conf = next(t for t in zoomed["data"] if (t.get("meta") or {}).get("criterion") == "confidence")
    x, y = _values(conf["x"]), _values(conf["y"])
    inside = (x >= zx[0]) & (x <= zx[1])
    assert y[inside].max() >= y.max() - 1e-9  # ... but the curve reaches its best inside the view
    zy = zoomed["layout"]["yaxis"]["range"]
    assert zy[0] <= y[inside].min() and zy[1] >= y.max()
    assert "zoomed" not in full["layout"]["xaxis"]["title"]["text"]


@pytest.mark.slow
@needs_image
def test_the_knee_toggle_is_on_the_page_and_in_the_link(open_page):
    at = open_page("tradeoffs", model="image")
    fig = json.loads(at.get("component_instance")[0].proto.json_args)["view"]["rows"][0][0]["figure"]
    assert re.search("zoomed to the knee", fig["layout"]["xaxis"]["title"]["text"])
    at.toggle(key="w.page.knee").set_value(False).run()
    fig = json.loads(at.get("component_instance")[0].proto.json_args)["view"]["rows"][0][0]["figure"]
    assert "zoomed" not in fig["layout"]["xaxis"]["title"]["text"] and at.query_params["knee"] == "0"
