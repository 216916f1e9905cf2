"""Figure helpers shared by the chapters."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

#: What seed_points draws, for captions (the interval is stated, never implied).
SEED_POINTS_CAPTION = "dots: every seed; black bar: mean ± 1 sd over seeds"


def tile_images(images: np.ndarray, columns: int) -> np.ndarray:
    """Tile N×C×H×W images in [0, 1] into one H'×W'×C picture, ``columns`` per row, 1-pixel gaps."""
    count, channels, height, width = images.shape
    rows = -(-count // columns)
    background = 1.0 if channels == 3 else 0.0  # white in either colour map
    canvas = np.full((rows * (height + 1) - 1, columns * (width + 1) - 1, channels), background,
                     np.float32)
    for index, image in enumerate(images):
        top, left = (index // columns) * (height + 1), (index % columns) * (width + 1)
        canvas[top:top + height, left:left + width] = image.transpose(1, 2, 0)
    return canvas


def show_images(images: np.ndarray, columns: int, ax: Axes | None = None, title: str = "") -> Axes:
    """Draw N×C×H×W images in [0, 1] as a grid on ``ax`` (grey-scale for one channel)."""
    ax = ax or plt.gca()
    canvas = tile_images(np.clip(images, 0.0, 1.0), columns)
    if canvas.shape[-1] == 1:
        ax.imshow(canvas[..., 0], cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(canvas, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def seed_points(frame: pd.DataFrame, x: str, y: str, ax: Axes | None = None, order: list | None = None,
                hue: str | None = None, hue_order: list | None = None) -> Axes:
    """Every seed's ``y`` as a dot per category ``x`` (side by side per ``hue`` level, if given),
    with the mean ± 1 sd over seeds as a black bar (see :data:`SEED_POINTS_CAPTION`):
    comparisons over seeds show their spread."""
    ax = ax or plt.gca()
    levels = len(hue_order if hue_order is not None else frame[hue].unique()) if hue else 1
    colours = {"color": "tab:blue"} if hue is None else {"palette": "tab10"}
    sns.stripplot(data=frame, x=x, y=y, order=order, hue=hue, hue_order=hue_order, dodge=hue is not None,
                  ax=ax, size=5, jitter=0.15 / levels, alpha=0.8, **colours)
    bars = {} if hue is None else {"hue": hue, "hue_order": hue_order, "palette": ["black"] * levels,
                                   "dodge": 0.8 - 0.8 / levels, "legend": False}
    sns.pointplot(data=frame, x=x, y=y, order=order, ax=ax, errorbar="sd", linestyle="none", markers="_",
                  markersize=14, capsize=0.2 / levels, err_kws={"linewidth": 1.2},
                  **({"color": "black"} if hue is None else bars))
    ax.grid(axis="y", alpha=0.3)
    return ax
