"""The chapter's figures: the split tree, assignments sharpening, block-diagonal weights, the
learned class groups, and error against parameter count."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import nn

from companion.plotting import FIGURE_WIDTH, panel_grid, seed_points, tile_images
from companion.splitnet.assignment import SplitAssignments, even_merge_index, parse_tree
from companion.splitnet.regularizers import weight_magnitude
from companion.splitnet.split import off_block_mass


def plot_split_tree(tree: str, class_groups: Sequence[Sequence[str]] | None = None,
                    ax: Axes | None = None) -> Axes:
    """The tree of branches: stage 1 shared, then the groups of stage 2, stage 3 and the logits
    (a level with one group is still shared); leaves list their classes when given (their count
    when there are more than 12)."""
    counts = (1, *parse_tree(tree))
    labels = ["stage 1", "stage 2", "stage 3", "classifier"]
    ax = ax or plt.gca()
    positions: list[list[tuple[float, float]]] = []
    for level, count in enumerate(counts):
        positions.append([((index + 0.5) / count, float(level)) for index in range(count)])
    for level in range(1, len(counts)):
        merge = even_merge_index(counts[level], counts[level - 1])
        for index, (x, y) in enumerate(positions[level]):
            px, py = positions[level - 1][merge[index]]
            ax.plot([px, x], [py, y], color="0.6", lw=1.5, zorder=1)
    colours = plt.get_cmap("tab10")
    for level, nodes in enumerate(positions):
        for index, (x, y) in enumerate(nodes):
            colour = "0.85" if counts[level] == 1 else colours(index * counts[-1] // counts[level] % 10)
            ax.scatter([x], [y], s=500, color=colour, edgecolor="k", zorder=2)
            ax.text(x, y, str(index + 1) if counts[level] > 1 else "", ha="center", va="center", fontsize=9)
        ax.text(-0.02, float(level), labels[level], ha="right", va="center", fontsize=10)
    if class_groups is not None:
        for (x, y), names in zip(positions[-1], class_groups):
            text = " ".join(str(name) for name in names) if len(names) <= 12 else f"{len(names)} classes"
            ax.text(x, y + 0.3, text, ha="center", va="bottom", fontsize=9)
    ax.set_xlim(-0.3, 1.05)
    ax.set_ylim(-0.5, len(counts) - 0.2)
    ax.set_axis_off()
    ax.set_title(f"split {tree}: groups at stage 2, stage 3, logits")
    return ax


def readable(name: str) -> str:
    """A label in the paper's 1-based stage numbering for an assignment or module name:
    "stage2_block0_mid" → "stage 3, block 1, middle"; "stages.1.0.conv2" → "stage 2, block 1,
    conv 2"; "head_in" → "classifier inputs"."""
    fixed = {"classes": "classes", "head_in": "classifier inputs", "head.linear": "classifier"}
    if name in fixed:
        return fixed[name]
    if name.startswith("stages."):
        _, stage, block, layer = name.split(".")
        return f"stage {int(stage) + 1}, block {int(block) + 1}, {layer.replace('conv', 'conv ')}"
    stage, _, rest = name.partition("_")
    label = f"stage {int(stage.removeprefix('stage')) + 1}"
    if rest.startswith("block"):
        block = int(rest.split("_")[0].removeprefix("block"))
        return f"{label}, block {block + 1}, middle"
    return f"{label}, {'inputs' if rest == 'in' else 'outputs'}"


def _group_order(groups: torch.Tensor, probabilities: torch.Tensor | None = None) -> torch.Tensor:
    """Units sorted by group, and within a group by confidence (highest first)."""
    confidence = probabilities.max(dim=0).values if probabilities is not None else torch.zeros(len(groups))
    return torch.tensor(sorted(range(len(groups)), key=lambda i: (int(groups[i]), -float(confidence[i]))))


def plot_assignment_sharpening(snapshots: Sequence[Mapping[str, torch.Tensor]], names: Sequence[str],
                               epochs: Sequence[int], figsize: tuple[float, float] = (FIGURE_WIDTH, 4)) -> Figure:
    """Soft assignments p (groups × units) of ``names`` at the given epochs (snapshot 0 is the
    initialisation), units ordered by their final group, so sharpening shows as blocks."""
    figure, axes = plt.subplots(len(names), len(epochs), figsize=figsize, squeeze=False)
    final = snapshots[-1]
    for row, name in enumerate(names):
        order = _group_order(final[name].argmax(dim=0), final[name])
        for column, epoch in enumerate(epochs):
            ax = axes[row, column]
            ax.imshow(snapshots[epoch][name][:, order].numpy(), aspect="auto", vmin=0, vmax=1,
                      cmap="viridis", interpolation="nearest")
            ax.set_yticks(range(final[name].shape[0]), [str(g + 1) for g in range(final[name].shape[0])])
            ax.set_xticks([])
            if row == 0:
                ax.set_title("initialisation" if epoch == 0 else f"after epoch {epoch}")
            if column == 0:
                ax.set_ylabel(readable(name), rotation=0, ha="right", va="center")
    figure.tight_layout()
    return figure


def plot_block_weights(networks: Mapping[str, nn.Module], assignments: SplitAssignments,
                       layers: Sequence[str], pairs_per_row: int = 2) -> Figure:
    """|W| (spatial RMS for kernels) of ``layers`` with inputs and outputs ordered by their hard
    group: each layer's panels for the ``networks`` side by side, ``pairs_per_row`` layers to a
    row; lines mark group boundaries. Each panel is scaled to its layer's 99th percentile (the
    colour bar) and its title gives the share of the layer's squared weights between groups
    (:func:`~companion.splitnet.split.off_block_mass`: what the cut drops)."""
    hard = assignments.hard_groups()
    by_module = {layer.module: layer for layer in assignments.layers}
    shares = {title: off_block_mass(network, assignments, hard) for title, network in networks.items()}
    columns = pairs_per_row * len(networks)
    figure, axes = panel_grid(len(layers) * len(networks), 2.3, columns=columns, layout="constrained")
    panels = iter(axes)
    for module_name in layers:
        layer = by_module[module_name]
        inputs, outputs = hard[layer.input], hard[layer.output]
        in_order, out_order = _group_order(inputs), _group_order(outputs)
        for title, network in networks.items():
            ax = next(panels)
            weight = network.get_submodule(module_name).weight.detach().cpu()
            magnitude = weight_magnitude(weight)[out_order][:, in_order].numpy()
            image = ax.imshow(magnitude / max(np.quantile(magnitude, 0.99), 1e-12), aspect="auto", cmap="Greys",
                              interpolation="nearest", vmin=0, vmax=1)
            for boundary in np.cumsum(torch.bincount(inputs).numpy())[:-1]:
                ax.axvline(boundary - 0.5, color="tab:red", lw=1)
            for boundary in np.cumsum(torch.bincount(outputs).numpy())[:-1]:
                ax.axhline(boundary - 0.5, color="tab:red", lw=1)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"{readable(module_name)}\n{title}: off-block {100 * shares[title][module_name]:.1f}%",
                         fontsize=8)
            ax.set_xlabel("inputs (by group)", fontsize=8)
            if axes.index(ax) % columns == 0:
                ax.set_ylabel("outputs (by group)", fontsize=8)
    figure.colorbar(image, ax=axes, shrink=0.6, label="|W| / layer's 99th pct.")
    return figure


def plot_class_groups(images: np.ndarray, labels: np.ndarray, groups: Sequence[Sequence[int]],
                      examples: int = 3, figsize: tuple[float, float] = (FIGURE_WIDTH, 3),
                      titles: Sequence[str] | None = None) -> Figure:
    """One row per learned class group: ``examples`` test images of each of its classes; each
    row titled "group i: classes …", after ``titles[i]`` when given (e.g. the seed)."""
    figure, axes = plt.subplots(len(groups), 1, figsize=figsize, squeeze=False)
    widest = max(len(group) for group in groups) * examples
    for ax, (index, group) in zip(axes[:, 0], enumerate(groups)):
        chosen = [images[np.flatnonzero(labels == label)[:examples]] for label in group]
        tiles = np.concatenate(chosen)
        blank = np.zeros((widest - len(tiles), *tiles.shape[1:]), tiles.dtype)
        canvas = tile_images(np.concatenate([tiles, blank]), columns=widest)
        ax.imshow(canvas[..., 0] if canvas.shape[-1] == 1 else canvas, cmap="gray_r",
                  interpolation="nearest")
        ax.set_axis_off()
        prefix = f"{titles[index]}, " if titles is not None else ""
        ax.set_title(f"{prefix}group {index + 1}: classes {', '.join(str(label) for label in group)}",
                     fontsize=9, loc="left")
    figure.tight_layout()
    return figure


def plot_error_vs_parameters(runs: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Test error against parameter count, one point per run: colour = tree, marker = model
    (square: the unsplit baseline, circle: SplitNet, cross: SplitNet-R, plus: SplitNet-R (direct))."""
    ax = ax or plt.gca()
    markers = {"SplitNet": "o", "SplitNet-R": "x", "SplitNet-R (direct)": "+"}
    colours = {tree: plt.get_cmap("tab10")(index) for index, tree in enumerate(sorted(runs["groups"].unique()))}
    baseline = runs[runs["model"] == "baseline"]
    ax.scatter(baseline["params"] / 1e3, baseline["test_error"], marker="s", color="k", s=40, label="baseline")
    for (model, groups), frame in runs[runs["model"] != "baseline"].groupby(["model", "groups"], sort=True):
        ax.scatter(frame["params"] / 1e3, frame["test_error"], marker=markers.get(model, "."),
                   color=colours[groups], label=f"{model} {groups}", s=40, alpha=0.8)
    ax.set_xlabel("parameters (thousands)")
    ax.set_ylabel("test error (%)")
    ax.legend(fontsize=8, ncol=2)
    return ax


#: The models of a SplitNet run, in the order the figures show them.
MODELS = ("baseline", "SplitNet", "SplitNet-R", "SplitNet-R (direct)")


def plot_error_by_split(runs: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Test error per tree and model, every recorded seed a dot, the mean ± 1 sd over seeds a
    black bar (:func:`~companion.plotting.seed_points`)."""
    ax = seed_points(runs, "groups", "test_error", ax=ax, order=sorted(runs["groups"].unique()), hue="model",
                     hue_order=[model for model in MODELS if model in set(runs["model"])], pair="param_seed")
    ax.set_xlabel("split tree")
    ax.set_ylabel("test error (%)")
    ax.legend(title=None, fontsize=8)
    return ax
