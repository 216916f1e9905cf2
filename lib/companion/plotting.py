"""Figure helpers shared by the chapters."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes


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
