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

COARSE = 128  # the search runs on a grid this many cells along the long side: sheets are big
MIN_SHEET = 0.04  # the sheet covers at least 4% of the picture ...
MIN_DESK = 0.02  # ... and the desk at least 2%: otherwise the picture is all page (a scan) or no page
MIN_SOLID = 0.9  # rows and columns across a sheet are unbroken (pen strokes are not)
MIN_GAP = 0.1  # the sheet's darkest part is brighter than the desk's brightest by 10% of the grey range
EDGE_CELLS = 2  # the sheet's edge (shadow, curl, blur) and the desk next to it are left out


def find_sheet(gray: np.ndarray) -> np.ndarray | None:
    """Greyscale [H, W] in [0, 1] -> the sheet of paper cropped out, desk painted as paper; None if none.

    None means no sheet lying on a darker surface was found: the picture is all
    page (a scan, a drawing), a light digit on a dark ground, or something else.
    """
    height, width = gray.shape
    cell = max(1, -(-max(height, width) // COARSE))
    coarse = block_means(gray, cell)
    if coarse.size < 16 or float(coarse.max() - coarse.min()) < MIN_GAP:
        return None
    sheet = _largest_bright_region(coarse)
    if sheet is None or sheet.mean() < MIN_SHEET or (~sheet).mean() < MIN_DESK or _solidity(sheet) < MIN_SOLID:
        return None

    from scipy import ndimage  # here, not at the top: only photos need it

    inner = ndimage.binary_erosion(sheet, iterations=EDGE_CELLS)
    desk = ndimage.binary_erosion(~sheet, iterations=EDGE_CELLS, border_value=1)
    bright = coarse > _otsu(coarse)
    if not (inner & bright).any() or not desk.any():
        return None
    # Quantiles of whole cells: ink inside the sheet and grain on the desk do not move them much.
    if np.quantile(coarse[inner & bright], 0.05) - np.quantile(coarse[desk], 0.95) < MIN_GAP:
        return None  # a shadow across one page, not a page on a desk

    mask = np.repeat(np.repeat(inner, cell, axis=0), cell, axis=1)[:height, :width]
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = gray[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1].copy()
    on_sheet = mask[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    fit = on_sheet.copy()
    fit[1::2] = False  # a quarter of the sheet's pixels is plenty for a plane
    fit[:, 1::2] = False
    crop[~on_sheet] = paper_level(crop, fit)[~on_sheet]
    return crop


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
    from scipy import ndimage

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
