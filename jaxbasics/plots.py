"""Figures written to PNG files with matplotlib's Agg backend: never a window.

Each function takes arrays and a path, writes one figure and returns the path
(``digits_figure`` returns the figure itself).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np


def pyplot():
    """matplotlib's ``pyplot`` on the Agg backend (files, never a window), imported at the
    first figure: a process that draws nothing does not pay its 0.3-0.5 s and 30 MiB."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _log_y(ax) -> None:
    """A log scale on the y axis of ``ax``, labelled 10⁻⁴, 2×10⁻⁴ in plain text.

    matplotlib's own log labels are TeX-like mathtext, whose parser takes 0.12 s to build
    in each process that draws one (measured on a 2-core Zen 4: a loss curve on a log axis
    took 0.21 s to draw and save, 0.15 s with these labels, 0.09 s on a linear axis)."""
    from matplotlib.ticker import LogFormatter

    class Powers(LogFormatter):
        def _num_to_string(self, x, vmin, vmax):
            exponent = math.floor(math.log10(x) + 1e-9)
            coeff = round(x / 10.0**exponent)
            power = "10" + str(exponent).translate(_SUPERSCRIPT)
            return power if coeff == 1 else f"{coeff}×{power}"

    ax.set_yscale("log")
    ax.yaxis.set_major_formatter(Powers())
    ax.yaxis.set_minor_formatter(Powers())


def _save(fig, path: str | os.PathLike, *, tight: bool = True) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if tight:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    pyplot().close(fig)
    return path


def curves(path: str | os.PathLike, series: Mapping[str, Sequence[float]], *,
           title: str = "", xlabel: str = "step", ylabel: str = "loss", logy: bool = False,
           x: Mapping[str, Sequence[float]] | None = None) -> Path:
    """Several named curves on one axis (loss against step, say)."""
    fig, ax = pyplot().subplots(figsize=(7, 4.2))
    for name, ys in series.items():
        xs = np.arange(len(ys)) if x is None else x[name]
        ax.plot(xs, ys, label=name, lw=1.4)
    if logy:
        _log_y(ax)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    if len(series) > 1:
        ax.legend(fontsize=8)
    return _save(fig, path)


def fit_line(path: str | os.PathLike, x: np.ndarray, y: np.ndarray, predicted: np.ndarray, *,
             title: str = "") -> Path:
    """Seed 000's plot: the data as dots and the fitted line."""
    x, y, predicted = (np.ravel(a) for a in (x, y, predicted))
    order = np.argsort(x)
    fig, ax = pyplot().subplots(figsize=(6, 4.2))
    ax.plot(x, y, "go", alpha=0.3, label="data")
    ax.plot(x[order], predicted[order], "C0", lw=2, label="predicted")
    ax.set(title=title, xlabel="x", ylabel="y")
    ax.legend()
    return _save(fig, path)


def function_with_paths(path: str | os.PathLike, xs: np.ndarray, fx: np.ndarray,
                        paths: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
                        title: str = "", x_star: float | None = None) -> Path:
    """A 1-D function with optimisation trajectories (x_t, f(x_t)) drawn over it, and
    beside it each x_t against the step t (where paths that share the curve part: a rate
    that overshoots crosses the minimiser ``x_star``, dashed, back and forth)."""
    fig, (ax, steps) = pyplot().subplots(1, 2, figsize=(12, 4.5))
    ax.plot(xs, fx, "k", lw=1.2, label="f(x)")
    for name, (px, pf) in paths.items():
        ax.plot(px, pf, ".-", ms=3, lw=0.8, alpha=0.8, label=name)
        steps.plot(px, ".-", ms=2, lw=0.8, label=name)
    if x_star is not None:
        steps.axhline(x_star, color="k", ls="--", lw=0.8, label=f"x* = {x_star:.4g}")
    ax.set(title=title, xlabel="x", ylabel="f(x)")
    steps.set(title="x against step", xlabel="step", ylabel="x")
    for a in (ax, steps):
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    return _save(fig, path)


def surface_with_paths(path: str | os.PathLike, X: np.ndarray, Y: np.ndarray, Z: np.ndarray,
                       paths: Mapping[str, np.ndarray], *, title: str = "") -> Path:
    """Seed 004's 3-D surface (view 60°, -30°) beside a contour map with 2-D paths."""
    fig = pyplot().figure(figsize=(12, 5))
    ax3 = fig.add_subplot(1, 2, 1, projection="3d")
    ax3.plot_surface(X, Y, Z, cmap="viridis", linewidth=0, antialiased=True)
    ax3.view_init(60, -30)
    ax3.set(xlabel="x", ylabel="y", title=title)
    ax = fig.add_subplot(1, 2, 2)
    ax.contour(X, Y, np.log1p(Z), levels=30, cmap="viridis")
    for name, p in paths.items():
        ax.plot(p[:, 0], p[:, 1], ".-", ms=2, lw=1, label=name)
        ax.plot(p[-1, 0], p[-1, 1], "r*", ms=10)
    ax.set(xlabel="x", ylabel="y", title="paths on log(1 + f) contours")
    ax.set_aspect("equal")
    ax.legend(fontsize=8, loc="lower left")
    return _save(fig, path)


def digits(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray,
           predicted: np.ndarray, *, title: str = "", columns: int = 8) -> Path:
    """A grid of images (n, 28, 28[, 1]) titled "pred (true)", wrong ones in red."""
    return _save(digits_figure(images, labels, predicted, title=title, columns=columns), path,
                 tight=False)


def digits_figure(images: np.ndarray, labels: np.ndarray, predicted: np.ndarray, *,
                  title: str = "", columns: int = 8):
    """The figure of :func:`digits`, not saved (e.g. for TensorBoard); the caller closes it.

    One image of all the digits (each scaled to its own range, as ``imshow`` would) on one
    axis, the labels as text: a grid of 32 subplots took 0.75-0.9 s to draw and save, this
    about a tenth of it."""
    images = np.asarray(images, np.float32)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    n, h, w = images.shape[:3]
    rows = -(-n // columns)
    per_image = tuple(range(1, images.ndim))
    low, high = images.min(per_image, keepdims=True), images.max(per_image, keepdims=True)
    scaled = (images - low) / np.where(high > low, high - low, 1)
    gap, label = max(w // 5, 2), max(h // 3, 6)  # pixels between cells, above each cell
    cell_h, cell_w = label + h, gap + w
    mosaic = np.ones((rows * cell_h + gap, columns * cell_w, *images.shape[3:]), np.float32)
    width = columns * 1.1  # inches; the height keeps the pixels square
    height = width * mosaic.shape[0] / mosaic.shape[1] + (0.3 if title else 0)
    fig = pyplot().figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1 - (0.3 / height if title else 0)))
    for i in range(n):
        top, left = (i // columns) * cell_h + label, (i % columns) * cell_w + gap // 2
        mosaic[top:top + h, left:left + w] = scaled[i]
        ok = predicted[i] == labels[i]
        ax.text(left + w / 2, top - 1, f"{predicted[i]} ({labels[i]})", ha="center",
                va="bottom", fontsize=8, color="black" if ok else "red")
    ax.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest", aspect="auto")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9, y=1 - 0.12 / height)
    return fig
