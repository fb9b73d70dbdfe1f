"""Where the paper is in a photo, and how bright it is under the photo's light.

A phone photo of a digit is often a sheet of paper lying on a darker desk. If the
desk is taken for the background, the bright sheet becomes the "ink" and the model
sees a white rectangle. `find_sheet` finds the sheet - the largest bright region,
solid and clearly brighter than what surrounds it - and hands back only the sheet,
with the desk around it painted in the paper's own brightness, so that the rest of
the preparation sees a page and a digit, as in a scan.

`paper_level` is the one model of the paper's brightness: a plane fitted to pixels
known to be paper, which also absorbs a lighting gradient across the page.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

COARSE = 128  # the search runs on a grid this many cells along the long side: sheets are big
MIN_SHEET = 0.04  # the sheet covers at least 4% of the picture ...
MIN_DESK = 0.02  # ... and the desk at least 2%: otherwise the picture is all page (a scan) or no page
MIN_SOLID = 0.9  # rows and columns across a sheet are unbroken (pen strokes are not)
MIN_CONVEX = 0.85  # a sheet is convex, tilted or cut by the frame alike; a digit's strokes are not
MIN_PAPER = 0.8  # and most of it is paper: ink covers little of a sheet, while a light digit's
#                  strokes on a dark ground ("0", "8": rings whose holes fill in) are mostly hole
MIN_STEP = 0.1  # the sheet is brighter than the desk right next to it by 10% of the grey range ...
STEP_QUANTILE = 0.1  # ... along 90% of its visible edge ...
EDGE_CELLS = 2  # ... leaving out the edge itself (shadow, curl, blur) ...
BAND_CELLS = 3  # ... and comparing bands this wide on either side of it


def find_sheet(gray: np.ndarray) -> np.ndarray | None:
    """Greyscale [H, W] in [0, 1] -> the sheet of paper cropped out, desk painted as paper; None if none.

    None means no sheet lying on a darker surface was found: the picture is all
    page (a scan, a drawing), a light digit on a dark ground, or something else.
    """
    height, width = gray.shape
    if max(height, width) < COARSE:  # a small picture is a scan or a crop; its pen strokes are as wide as
        return None                  # the bands a sheet's edge is judged by, so strokes would pass for sheets
    cell = max(1, -(-max(height, width) // COARSE))
    coarse = block_means(gray, cell)
    if coarse.size < 16 or float(coarse.max() - coarse.min()) < MIN_STEP:
        return None
    # Light falling off across the picture can make the far side of the sheet darker than the near
    # side of the desk: if the sheet does not stand out as it is, try again with the fall-off divided out.
    everywhere = np.ones(coarse.shape, dtype=bool)
    for shown in (coarse, coarse / np.maximum(paper_level(coarse, everywhere), 1e-3)):
        inner = _sheet_in(shown, coarse)
        if inner is not None:
            break
    else:
        return None

    mask = np.repeat(np.repeat(inner, cell, axis=0), cell, axis=1)[:height, :width]
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].copy()
    on_sheet = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    fit = on_sheet.copy()
    fit[1::2] = False  # a quarter of the sheet's pixels is plenty for a plane
    fit[:, 1::2] = False
    crop[~on_sheet] = paper_level(crop, fit)[~on_sheet]
    return crop


def _sheet_in(shown: np.ndarray, coarse: np.ndarray) -> np.ndarray | None:
    """The sheet found in `shown` (the coarse picture, perhaps with the light evened out), less its edge;
    None if the largest bright region there is not a sheet on a darker surface in `coarse`."""
    sheet = _largest_bright_region(shown)
    if sheet is None or sheet.mean() < MIN_SHEET or (~sheet).mean() < MIN_DESK or _solidity(sheet) < MIN_SOLID:
        return None
    if _convexity(sheet) < MIN_CONVEX or (shown[sheet] > _otsu(shown)).mean() < MIN_PAPER:
        return None
    inner = ndimage.binary_erosion(sheet, iterations=EDGE_CELLS)
    # The sheet's edge must be a step down to what lies around it, nearly all along: the paper's
    # brightness in a band just inside (a plane, for the light) against a band just outside.
    inside = inner & ~ndimage.binary_erosion(sheet, iterations=EDGE_CELLS + BAND_CELLS) & (shown > _otsu(shown))
    outside = ndimage.binary_dilation(sheet, iterations=EDGE_CELLS + BAND_CELLS) & ~ndimage.binary_dilation(
        sheet, iterations=EDGE_CELLS)
    if inside.sum() < 3 or not outside.any():
        return None
    step = paper_level(coarse, inside)[outside] - coarse[outside]  # paper's light where the desk is, minus the desk
    if np.quantile(step, STEP_QUANTILE) < MIN_STEP:
        return None  # a shadow across one page, not a page on a desk; or a bright thing touching the sheet
    return inner


def paper_level(gray: np.ndarray, paper: np.ndarray) -> np.ndarray:
    """Fit a plane to the pixels marked `paper`: the paper's brightness under uneven light.

    The fit is repeated without the pixels that fit badly, so ink on those pixels
    (or at the picture's edge) does not pull the paper level down.
    """
    height, width = gray.shape
    ys, xs = np.nonzero(paper)
    values = gray[ys, xs].astype(np.float64)
    design = np.column_stack([np.ones_like(values), ys / height, xs / width])
    keep = np.ones(values.shape, dtype=bool)
    for _ in range(3):
        coef = np.linalg.lstsq(design[keep], values[keep], rcond=None)[0]
        residual = np.abs(values - design @ coef)
        keep = residual <= 2.5 * np.median(residual) + 1e-3
    rows = (np.arange(height) / height)[:, None]
    cols = (np.arange(width) / width)[None, :]
    return (coef[0] + coef[1] * rows + coef[2] * cols).astype(np.float32)


def block_means(gray: np.ndarray, cell: int) -> np.ndarray:
    """Mean of each cell x cell block; the last row and column of blocks may be partial."""
    height, width = gray.shape
    rows, cols = -(-height // cell), -(-width // cell)
    padded = np.pad(gray, ((0, rows * cell - height), (0, cols * cell - width)), mode="edge")
    return padded.reshape(rows, cell, cols, cell).mean(axis=(1, 3))


def _otsu(values: np.ndarray) -> float:
    """The grey level that best splits `values` in two classes (Otsu's method)."""
    counts, edges = np.histogram(values, bins=256)
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts)
    mass = np.cumsum(counts * centres)
    total, total_mass = weight[-1], mass[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mass * total - total_mass * weight) ** 2 / (weight * (total - weight))
    between = np.nan_to_num(between[:-1], nan=-1.0, posinf=-1.0)
    return float(edges[int(np.argmax(between)) + 1])


def _largest_bright_region(coarse: np.ndarray) -> np.ndarray | None:
    """The largest connected region above Otsu's level, with its holes (the ink) filled."""

    labels, count = ndimage.label(coarse > _otsu(coarse))
    if count == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return ndimage.binary_fill_holes(labels == int(np.argmax(sizes)))


def _solidity(region: np.ndarray) -> float:
    """Share of each row's and column's span that the region fills (the smaller of the two).

    A sheet, upright or tilted, fills every span (1.0); a pen-drawn digit leaves gaps.
    """
    def along(axis: int) -> float:
        present = region.any(axis=axis)
        first = np.argmax(region, axis=axis)
        last = region.shape[axis] - 1 - np.argmax(np.flip(region, axis=axis), axis=axis)
        span = (last - first + 1)[present].sum()
        return float(region.sum() / max(span, 1))

    return min(along(0), along(1))


def _convexity(region: np.ndarray) -> float:
    """The region's area over its convex hull's (cells as unit squares): 1.0 for any convex shape."""
    from scipy.spatial import ConvexHull

    cells = np.argwhere(region)
    corners = (cells[:, None, :] + np.array([[0, 0], [0, 1], [1, 0], [1, 1]])[None]).reshape(-1, 2)
    return float(region.sum() / ConvexHull(corners).volume)
