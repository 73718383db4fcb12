"""Where a map's points are drawn: a 2-D map fills a wide frame at equal aspect, and points far
from the rest are drawn at its edge (as triangles, ``scatter``), so one distant cluster cannot
shrink everything else to a speck.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np

from e5ui.plots.theme import GRADIO_TOP

MAP_FRAME_WIDTH = 1360  # the width map heights are planned for
MAP_LEGEND_WIDTH = 130  # a legend of language codes with a title (measured in chromium)
MAP_HEIGHTS = (560, 880)
MAP_MARGIN = {"l": 24, "r": 24, "t": GRADIO_TOP, "b": 48}
FIT_MIN_POINTS = 20  # smaller maps show every point where it is
FAR_GAP = 0.25  # a tail past the 5-95% core, this far from it (x core span), is drawn at the edge
VIEW_PAD = 0.04  # room around the points on each side, a share of their larger extent
# Frames of the last few maps drawn, so a click's lines (``scatter.map_focus``) and a redraw
# do not fit the same 100,000 points again (~20 ms each).
FIT_CACHE = 4


class _MapFit(NamedTuple):
    """Where a map's points are drawn (see ``_fit_map``)."""

    xy: np.ndarray  # drawn coordinates, far points moved to the edge
    far: np.ndarray  # (n, dim) -1 / 0 / +1: beyond the view's low end, inside, beyond its high end
    ranges: list[list[float]] | None  # [x range, y range] in 2-D
    height: int
    swapped: bool = False  # x and y swapped (a map taller than wide, turned on its side)
    clip: list[tuple[float, float]] | None = None  # per axis, where far points are drawn

    def place(self, point: np.ndarray) -> np.ndarray:
        """Where a new point (a query placed on the map) is drawn: as the map's own points."""
        drawn = np.asarray(point, dtype=np.float64).reshape(-1)
        if self.swapped:
            drawn = drawn[::-1]
        if self.clip is not None:
            drawn = np.array([min(max(v, lo), hi) for v, (lo, hi) in zip(drawn, self.clip,
                                                                         strict=True)])
        return drawn


def _core_extent(values: np.ndarray) -> tuple[float, float]:
    """One axis's extent without far tails: from the 5-95% core outwards, up to the first gap
    wider than ``FAR_GAP`` x the core's span. UMAP puts separate clusters arbitrarily far
    apart; one such cluster should not shrink everything else to a speck."""
    values = values[np.isfinite(values)]  # a NaN is not drawn; an infinity is drawn at the edge
    if values.size == 0:
        return -1.0, 1.0
    if values.size < FIT_MIN_POINTS:
        return float(values.min()), float(values.max())
    lo, hi = (float(v) for v in np.percentile(values, [5, 95]))
    gap = FAR_GAP * (hi - lo)
    if gap <= 0:
        return float(values.min()), float(values.max())
    ranked = np.sort(values)
    for v in ranked[ranked > hi]:
        if v - hi > gap:
            break
        hi = float(v)
    for v in ranked[ranked < lo][::-1]:
        if lo - v > gap:
            break
        lo = float(v)
    return lo, hi


_fits: OrderedDict[tuple, _MapFit] = OrderedDict()
_fits_lock = threading.Lock()  # the app answers several sessions at once


def _fit_map(coords: np.ndarray, frame_width: int = MAP_FRAME_WIDTH) -> _MapFit:
    """``_fit_of`` the coordinates, remembered for the last ``FIT_CACHE`` maps (by their
    bytes); its arrays are read-only, shared by every figure of the map."""
    key = (hashlib.sha256(np.ascontiguousarray(coords, dtype=np.float64).tobytes()).digest(),
           coords.shape, int(frame_width))
    with _fits_lock:
        if key in _fits:
            _fits.move_to_end(key)
            return _fits[key]
    fit = _fit_of(coords, frame_width)
    fit.xy.setflags(write=False)
    fit.far.setflags(write=False)
    with _fits_lock:
        _fits[key] = fit
        while len(_fits) > FIT_CACHE:
            _fits.popitem(last=False)
    return fit


def _fit_of(coords: np.ndarray, frame_width: int = MAP_FRAME_WIDTH) -> _MapFit:
    """Ranges, edge points and height that make a 2-D map fill a wide frame at equal aspect.

    The view spans each axis's core extent plus 4% of the larger extent on each side; points
    beyond it are drawn in that margin, on the side where they lie. A map taller than wide is
    turned on its side (x and y swapped: a map's axes mean nothing, distances stay the same),
    and the height is chosen so that the view's aspect fills a plot ``frame_width`` px wide.
    """
    n, dim = coords.shape
    if dim == 3:
        return _MapFit(coords.copy(), np.zeros(coords.shape, dtype=np.int8), None, 680)
    xy = coords.copy()
    extents = [_core_extent(xy[:, d]) for d in range(2)]
    swapped = extents[0][1] - extents[0][0] < extents[1][1] - extents[1][0]
    if swapped:
        xy, extents = xy[:, ::-1].copy(), extents[::-1]
    pad = VIEW_PAD * max(hi - lo for lo, hi in extents) or 1.0  # 1.0: a single point
    far = np.zeros(xy.shape, dtype=np.int8)
    ranges, clip = [], []
    for d, (lo, hi) in enumerate(extents):
        far[:, d] = np.where(xy[:, d] < lo, -1, 0) + np.where(xy[:, d] > hi, 1, 0)
        clip.append((lo - pad / 2, hi + pad / 2))
        xy[:, d] = np.clip(xy[:, d], *clip[-1])
        ranges.append([lo - pad, hi + pad])
    aspect = (ranges[0][1] - ranges[0][0]) / (ranges[1][1] - ranges[1][0])
    plot_width = frame_width - MAP_MARGIN["l"] - MAP_MARGIN["r"] - MAP_LEGEND_WIDTH
    height = plot_width / aspect + MAP_MARGIN["t"] + MAP_MARGIN["b"]
    return _MapFit(xy, far, ranges, int(round(min(max(height, MAP_HEIGHTS[0]), MAP_HEIGHTS[1]))),
                   swapped, clip)


_EDGE_SYMBOLS = {(1, 0): "triangle-right", (-1, 0): "triangle-left", (0, 1): "triangle-up",
                 (0, -1): "triangle-down", (1, 1): "triangle-ne", (-1, 1): "triangle-nw",
                 (1, -1): "triangle-se", (-1, -1): "triangle-sw"}
