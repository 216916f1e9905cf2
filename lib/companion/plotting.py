"""Figure helpers shared by the chapters."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: What seed_points draws, for captions (the interval is stated, never implied).
SEED_POINTS_CAPTION = "dots: every seed; grey lines: the same seed's dots; black bar: mean ± 1 sd over seeds"

#: One colour per model in every figure of the book, keyed by the name the chapters show.
MODEL_COLORS: dict[str, str] = {
    "VAE": "tab:blue", "SA-VAE": "tab:orange", "SA-VAE, authors' step": "tab:brown", "VAE+HF": "tab:green",
    "VAE+IAF": "tab:purple", "VLAE": "tab:red",
    "HRED": "tab:gray", "VHRED": "tab:blue", "VHRED + word drop": "tab:cyan", "VHCR": "tab:orange",
    "VHCR + utterance drop": "tab:red",
}


#: The widest a chapter's figure is drawn, in inches at 100 dpi. The book's text column, 672 CSS
#: px in a 1280-px window, shows it at 0.72 of its drawn size or more, so 8-point text stays ≥ 8 px.
FIGURE_WIDTH = 9.0


def panel_grid(count: int, row_height: float, columns: int = 2, **subplots) -> tuple[Figure, list[Axes]]:
    """A figure of ``count`` panels, at most ``columns`` to a row, :data:`FIGURE_WIDTH` wide and
    ``row_height`` inches per row (one panel: the whole width); the used axes in reading order,
    the unused ones hidden."""
    columns = max(1, min(columns, count))
    rows = -(-count // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(FIGURE_WIDTH, row_height * rows), squeeze=False, **subplots)
    flat = list(axes.flat)
    for ax in flat[count:]:
        ax.set_visible(False)
    return fig, flat[:count]


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
                hue: str | None = None, hue_order: list | None = None, pair: str | None = "seed") -> Axes:
    """Every seed's ``y`` as a dot per category ``x`` (side by side per ``hue`` level, if given),
    with the mean ± 1 sd over seeds as a black bar (see :data:`SEED_POINTS_CAPTION`):
    comparisons over seeds show their spread. The dots of one unit of replication (column
    ``pair``, when the frame has it) are joined by a thin grey line, across the categories or,
    with ``hue``, across the hue levels of each category: the pairs the paired tests compare."""
    ax = ax or plt.gca()
    order = order if order is not None else list(dict.fromkeys(frame[x]))
    hue_order = hue_order if hue_order is not None or hue is None else list(dict.fromkeys(frame[hue]))
    levels = len(hue_order) if hue else 1
    paired = pair is not None and pair in frame
    if paired:
        for points in _paired_positions(frame, x, y, order, hue, hue_order, pair):
            ax.plot(*points, color="0.6", linewidth=0.7, alpha=0.7, zorder=1)
    colours = {"color": "tab:blue"} if hue is None else {"palette": "tab10"}
    sns.stripplot(data=frame, x=x, y=y, order=order, hue=hue, hue_order=hue_order, dodge=hue is not None,
                  ax=ax, size=5, jitter=0.0 if paired else 0.15 / levels, alpha=0.8, zorder=2, **colours)
    bars = {} if hue is None else {"hue": hue, "hue_order": hue_order, "palette": ["black"] * levels,
                                   "dodge": 0.8 - 0.8 / levels, "legend": False}
    sns.pointplot(data=frame, x=x, y=y, order=order, ax=ax, errorbar="sd", linestyle="none", markers="_",
                  markersize=14, capsize=0.2 / levels, err_kws={"linewidth": 1.2},
                  **({"color": "black"} if hue is None else bars))
    ax.grid(axis="y", alpha=0.3)
    return ax


def _paired_positions(frame: pd.DataFrame, x: str, y: str, order: list, hue: str | None,
                      hue_order: list | None, pair: str) -> list[tuple[list[float], list[float]]]:
    """The (positions, values) of each unit's dots as :func:`seed_points` places them: category
    i at i, hue level j of n at i − 0.4 + (j + ½)·0.8/n (seaborn's dodge); one line per unit
    (and per category, with ``hue``), of two dots or more."""
    lines = []
    if hue is None:
        where = {category: index for index, category in enumerate(order)}
        for _, unit in frame[frame[x].isin(where)].groupby(pair, sort=False):
            unit = unit.assign(position=unit[x].map(where)).sort_values("position")
            lines.append((unit["position"].tolist(), unit[y].tolist()))
    else:
        width = 0.8 / len(hue_order)
        for index, category in enumerate(order):
            shown = frame[(frame[x] == category) & frame[hue].isin(hue_order)]
            for _, unit in shown.groupby(pair, sort=False):
                level = unit[hue].map({level: rank for rank, level in enumerate(hue_order)})
                unit = unit.assign(position=index - 0.4 + (level + 0.5) * width).sort_values("position")
                lines.append((unit["position"].tolist(), unit[y].tolist()))
    return [line for line in lines if len(line[0]) > 1]
