"""Figures of the VHCR chapter that explain the models (drawn from their structure, not trained)."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Rectangle

from companion.plotting import FIGURE_WIDTH

#: The node styles, an observed turn (filled), a latent variable (open circle) and a
#: deterministic RNN state (square).
OBSERVED, LATENT, STATE = "observed", "latent", "state"
_RADIUS = 0.28


def _node(ax: Axes, x: float, y: float, kind: str, label: str) -> None:
    if kind == STATE:
        ax.add_patch(Rectangle((x - _RADIUS, y - _RADIUS), 2 * _RADIUS, 2 * _RADIUS,
                               facecolor="white", edgecolor="black", linewidth=1.2))
    else:
        ax.add_patch(Circle((x, y), _RADIUS, facecolor="0.8" if kind == OBSERVED else "white",
                            edgecolor="black", linewidth=1.2))
    ax.text(x, y, label, ha="center", va="center", fontsize=10)


def _edge(ax: Axes, start: tuple[float, float], end: tuple[float, float], color: str = "black",
          shrink: float = 12, **style) -> None:
    """An arrow from ``start`` to ``end``, each end shortened by ``shrink`` points (a node's radius)."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, shrinkA=shrink,
                                 shrinkB=shrink, linewidth=1.0, color=color, **style))


def graphical_models(turns: int = 3) -> Figure:
    """HRED, VHRED and VHCR side by side over ``turns`` turns: the generative dependencies (the
    context RNN's state h_t summarises the turns before t; VHRED adds a latent z_t per turn;
    VHCR adds z_conv, on which the context, every z_t and every turn depend)."""
    figure, axes = plt.subplots(1, 3, figsize=(FIGURE_WIDTH, 3.2))
    for ax, model in zip(axes, ("HRED", "VHRED", "VHCR")):
        has_z, has_conv = model != "HRED", model == "VHCR"
        columns = [1.0 + 1.5 * t for t in range(turns)]
        for t, x in enumerate(columns):
            _node(ax, x, 2.0, STATE, f"$h_{t + 1}$")
            _node(ax, x, 0.0, OBSERVED, f"$x_{t + 1}$")
            if has_z:
                _node(ax, x + 0.45, 1.0, LATENT, f"$z_{t + 1}$")
                _edge(ax, (x, 2.0), (x + 0.45, 1.0))
                _edge(ax, (x + 0.45, 1.0), (x, 0.0))
            _edge(ax, (x, 2.0), (x, 0.0))
            if t + 1 < turns:
                _edge(ax, (x, 2.0), (columns[t + 1], 2.0))
                _edge(ax, (x, 0.0), (columns[t + 1], 2.0), linestyle=(0, (3, 2)))
        if has_conv:
            top = (columns[turns // 2], 3.3)
            _node(ax, *top, LATENT, r"$z_{conv}$")
            for x in columns:
                _edge(ax, top, (x, 2.0), color="tab:purple", connectionstyle="arc3,rad=0.0")
                _edge(ax, top, (x + 0.45, 1.0), color="tab:purple", connectionstyle="arc3,rad=-0.25")
        ax.set_xlim(0.4, columns[-1] + 1.0)
        ax.set_ylim(-0.5, 3.8)
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(model, fontsize=11)
    figure.tight_layout()
    return figure


def utterance_drop(turns: int = 6, dropped: tuple[int, ...] = (1, 4)) -> Figure:
    """Utterance drop on one training conversation: the context RNN reads each turn's encoding,
    except at the ``dropped`` turns (0-based), where it reads the learned vector h_unk instead."""
    figure, ax = plt.subplots(figsize=(8.0, 2.6))
    for t in range(turns):
        x = 1.2 * t
        gone = t in dropped
        ax.add_patch(Rectangle((x - 0.4, -0.3), 0.8, 0.6, facecolor="0.8", edgecolor="black"))
        ax.text(x, 0.0, f"turn {t + 1}", ha="center", va="center", fontsize=8)
        ax.add_patch(Rectangle((x - 0.4, 0.9), 0.8, 0.6, hatch="///" if gone else None,
                               facecolor="white" if gone else "#dbe9f6", edgecolor="black"))
        ax.text(x, 1.2, r"$h_{unk}$" if gone else f"enc$_{t + 1}$", ha="center", va="center", fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1} if gone else None)
        ax.add_patch(Rectangle((x - 0.4, 2.1), 0.8, 0.6, facecolor="white", edgecolor="black"))
        ax.text(x, 2.4, f"$h_{t + 1}$", ha="center", va="center", fontsize=9)
        if not gone:
            _edge(ax, (x, 0.3), (x, 0.9), shrink=1)
        else:
            ax.plot([x - 0.2, x + 0.2], [0.45, 0.75], color="tab:red", linewidth=1.5)
            ax.plot([x - 0.2, x + 0.2], [0.75, 0.45], color="tab:red", linewidth=1.5)
        _edge(ax, (x, 1.5), (x, 2.1), shrink=1)
        if t + 1 < turns:
            _edge(ax, (x + 0.4, 2.4), (x + 0.8, 2.4), shrink=1)
    ax.text(-0.9, 0.0, "turns", ha="right", va="center", fontsize=9)
    ax.text(-0.9, 1.2, "turn encodings", ha="right", va="center", fontsize=9)
    ax.text(-0.9, 2.4, "context RNN", ha="right", va="center", fontsize=9)
    ax.set_xlim(-2.6, 1.2 * turns - 0.7)
    ax.set_ylim(-0.5, 2.9)
    ax.set_aspect("equal")
    ax.set_axis_off()
    figure.tight_layout()
    return figure
