"""The score histogram: your texts' pairwise cosines drawn over the model's unrelated pairs,
so a score reads against what chance gives for this model."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from e5ui.plots.text import _shorten, user_text
from e5ui.plots.theme import (
    ACCENT,
    FONT_SIZE,
    INK,
    MUTED,
    NEUTRAL,
    SMALL_SIZE,
    _base_layout,
    message_figure,
)

if TYPE_CHECKING:  # type hints only: importing the analysis at runtime would pull in scipy
    from e5ui.analysis.calibration import Baseline

HIST_BINS = 60
HIST_HEIGHT = 480
HIST_MAX_POINTS = 200_000  # values sent to the browser per histogram
HISTOGRAM_TITLE = "Your scores next to unrelated pairs"


def _density_sample(values: np.ndarray, limit: int = HIST_MAX_POINTS) -> np.ndarray:
    """At most ``limit`` evenly spaced order statistics: the same density, a bounded payload."""
    if values.size <= limit:
        return values
    ranked = np.sort(values)
    return ranked[np.linspace(0, ranked.size - 1, limit).round().astype(np.int64)]


def _density_trace(values: np.ndarray, bins: dict, name: str, hover: str, color: str,
                   opacity: float) -> go.Histogram:
    """A probability-density histogram on shared bins (long inputs sampled, same shape)."""
    return go.Histogram(x=_density_sample(values), xbins=bins, histnorm="probability density",
                        name=name, marker={"color": color, "line": {"width": 0}},
                        opacity=opacity, hovertemplate=f"%{{x}}<extra>{hover}</extra>")


def _vline(x: float, label: str, dash: str, color: str, y: float, anchor: str
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A vertical line across the plot and its label: (shape, annotation). The median's label
    sits left of its line and the p95's right of its own, so the two never overlap."""
    shape = {"type": "line", "xref": "x", "yref": "paper", "x0": x, "x1": x, "y0": 0, "y1": 1,
             "line": {"color": color, "width": 2 if dash == "solid" else 1.5, "dash": dash}}
    note = {"text": label, "xref": "x", "yref": "paper", "x": x, "y": y, "xanchor": anchor,
            "yanchor": "top", "xshift": 4 if anchor == "left" else -4, "showarrow": False,
            "bgcolor": "rgba(255,255,255,0.8)", "font": {"size": SMALL_SIZE, "color": color}}
    return shape, note


def _histogram_marks(baseline: Baseline, marks: list[tuple[str, float]], empty: bool
                     ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The lines (shapes) and their labels (annotations): the unrelated median and 95th
    percentile dashed, each mark solid; with ``empty``, a note asking for more texts."""
    lines = [_vline(baseline.median, "median unrelated", "dash", MUTED, 0.99, "right"),
             _vline(baseline.p95, "95% of unrelated pairs below", "dash", MUTED, 0.99, "left")]
    for i, (label, value) in enumerate(marks):
        if math.isfinite(value):
            text = f"{user_text(_shorten(label, 40))} {value:.3f}"
            lines.append(_vline(value, text, "solid", INK, 0.88 - 0.09 * (i % 6), "left"))
    shapes = [shape for shape, _ in lines]
    notes = [note for _, note in lines]
    if empty:
        notes.append(
            {
                "text": "Add at least two texts to see their scores here.",
                "xref": "paper",
                "yref": "paper",
                "x": 0.02,
                "y": 0.6,
                "xanchor": "left",
                "showarrow": False,
                "font": {"size": FONT_SIZE, "color": MUTED},
            }
        )
    return shapes, notes


def _histogram_layout(title: str, x_range: list[float], shapes: list[dict[str, Any]],
                      notes: list[dict[str, Any]], height: int = HIST_HEIGHT) -> dict[str, Any]:
    """Overlaid densities over ``x_range``, the legend above the plot, no density ticks."""
    return _base_layout(
        title,
        height=height,
        barmode="overlay",
        bargap=0.02,
        shapes=shapes,
        annotations=notes,
        showlegend=True,
        legend={"orientation": "h", "x": 0.0, "y": 1.0, "xanchor": "left", "yanchor": "bottom"},
        margin={"t": 110 if title else 60},
        xaxis={
            "title": {"text": "cosine"},
            "range": x_range,
            "showgrid": False,
            "zeroline": False,
            "tickformat": ".2f",
        },
        yaxis={
            "title": {"text": "density"},
            "showticklabels": False,
            "showgrid": False,
            "zeroline": False,
        },
    )


def score_histogram(
    pair_cosines: Any,
    baseline: Baseline,
    title: str = HISTOGRAM_TITLE,
    marks: Sequence[tuple[str, float]] | None = None,
    height: int = HIST_HEIGHT,
) -> go.Figure:
    """Your texts' pairwise cosines over the model's unrelated-pair cosines.

    Both histograms are probability densities on the same bins (about 60, from the smallest
    value minus 0.02 to 1.0), so their shapes compare even when one has far more pairs. Dashed
    lines mark the unrelated median and 95th percentile; ``marks`` add solid labelled lines.
    Above 200,000 values a histogram is drawn from evenly spaced order statistics, which keeps
    its shape and bounds what goes to the browser.

    Args:
        pair_cosines: Cosines of the current texts' pairs (any shape, flattened; NaN dropped).
            Pass the pairs i < j, not the full matrix, whose diagonal is all 1.
        baseline: The model's ``similarity.Baseline``.
        title: Figure title.
        marks: Optional (label, cosine) pairs, e.g. a pair typed into a box.
        height: The figure's height in px (smaller for a panel under another figure).

    Returns:
        The figure.
    """
    ref = np.asarray(baseline.cosines, dtype=np.float64).reshape(-1)
    ref = ref[np.isfinite(ref)]
    ours = np.asarray(pair_cosines, dtype=np.float64).reshape(-1)
    ours = ours[np.isfinite(ours)]
    marks = [(str(label), float(value)) for label, value in (marks or [])]
    if ref.size == 0:
        return message_figure("No reference scores for this model.", title)
    if not getattr(baseline, "calibrated", True):
        # Vectors of another model: the loaded model's unrelated pairs say nothing about them.
        return message_figure("Calibration off (vectors of another model): no unrelated pairs "
                              "to compare with.", title)

    lowest = min([float(ref.min())] + ([float(ours.min())] if ours.size else []) +
                 [v for _, v in marks if math.isfinite(v)])
    start = min(lowest, 1.0) - 0.02
    size = (1.0 - start) / HIST_BINS
    # Half a bin past 1.0, so plotly adds one last bin that holds identical texts (cosine 1).
    bins = {"start": start, "end": 1.0 + size / 2, "size": size}

    fig = go.Figure(_density_trace(ref, bins, "unrelated pairs (reference set)",
                                   "unrelated pairs", NEUTRAL, 0.6))
    if ours.size:
        fig.add_trace(_density_trace(ours, bins, "your texts", "your texts", ACCENT, 0.65))
    shapes, notes = _histogram_marks(baseline, marks, empty=not ours.size)
    fig.update_layout(_histogram_layout(title, [start, 1.0 + size], shapes, notes, height))
    return fig
