"""Figures of the VLAE chapter, regenerated from trained models (each returns a Figure).

The 2-D figures draw densities on a grid of latent points: the true posterior of a model is
p(z|x) ∝ p(x|z) p(z), normalised over the grid; contour levels sit at Δ = k²/2 below the
maximum (k = 1, 2, 3), which for a Gaussian are its 1σ, 2σ and 3σ ellipses.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from companion.plotting import FIGURE_WIDTH, MODEL_COLORS, panel_grid, seed_points
from companion.vlae.evaluation import correlation, posterior_moments
from companion.vlae.experiments import model_label, per_seed
from companion.vlae.laplace import DAMPING, decoder_linearization, laplace_target
from companion.vlae.models import TITLES, VLAE, LatentVariableModel
from companion.vlae.posteriors import FullCovarianceGaussian

#: Contour levels (below the maximum log-density) of the 1σ, 2σ and 3σ ellipses of a Gaussian.
SIGMA_LEVELS = np.array([-4.5, -2.0, -0.5])
#: Each model's colour, the book's (:data:`~companion.plotting.MODEL_COLORS`), by model name.
COLORS = {name: MODEL_COLORS[title] for name, title in TITLES.items()}


def latent_grid(center: np.ndarray, half_width: float, points: int = 121) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """A square grid of 2-D latent points: the two coordinate arrays and the points (N×1×2)."""
    axis_1 = np.linspace(center[0] - half_width, center[0] + half_width, points)
    axis_2 = np.linspace(center[1] - half_width, center[1] + half_width, points)
    first, second = np.meshgrid(axis_1, axis_2)
    flat = torch.tensor(np.stack([first.ravel(), second.ravel()], -1), dtype=torch.float32)
    return first, second, flat.unsqueeze(1)


def grid_values(values: torch.Tensor, like: np.ndarray) -> np.ndarray:
    """Values at the grid points, reshaped like the grid and shifted so that the maximum is 0."""
    array = values.detach().cpu().double().numpy().reshape(like.shape)
    return array - array.max()


def true_log_posterior(model: LatentVariableModel, x: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """log p(x, z) at the grid points (N×1×2) for one example x (1×D)."""
    with torch.no_grad():
        return model.log_joint(x, points)[:, 0]


def grid_posterior(model: LatentVariableModel, x: torch.Tensor, center: np.ndarray, half_width: float,
                   points: int) -> tuple[np.ndarray, np.ndarray]:
    """The true posterior p(z|x) normalised over a grid: the points (N×2) and their weights."""
    first, _, grid = latent_grid(center, half_width, points)
    weights = np.exp(grid_values(true_log_posterior(model, x, grid), first)).ravel()
    return grid[:, 0].double().numpy(), weights / weights.sum()


def posterior_window(model: LatentVariableModel, x: torch.Tensor, margin: float = 4.0,
                     points: int = 161) -> tuple[np.ndarray, float]:
    """Centre and half-width of a grid holding the true posterior (its mean ± ``margin`` sd).

    Found in two passes: the prior's ±5 box first, then a box around what the first found.
    """
    center, half_width = np.zeros(2), 5.0
    for _ in range(2):
        coordinates, weights = grid_posterior(model, x, center, half_width, points)
        center = weights @ coordinates
        spread = np.sqrt(weights @ (coordinates - center) ** 2).max()
        half_width = margin * spread + 4.0 * half_width / (points - 1)
    return center, half_width


def posterior_correlation(model: LatentVariableModel, x: torch.Tensor, points: int = 61) -> float:
    """Correlation of z₁ and z₂ under a 2-D model's true posterior p(z|x), from its moments on a
    grid: 0 when the posterior is axis-aligned (what a diagonal q can fit), ±1 when degenerate."""
    x = x.reshape(1, -1)
    center, half_width = posterior_window(model, x, points=points)
    coordinates, weights = grid_posterior(model, x, center, half_width, points)
    centred = coordinates - weights @ coordinates
    covariance = (centred * weights[:, None]).T @ centred
    return float(covariance[0, 1] / np.sqrt(covariance[0, 0] * covariance[1, 1]))


def most_correlated_posterior(models: Mapping[str, LatentVariableModel], x: torch.Tensor) -> int:
    """Index of the example of ``x`` whose true posteriors (each 2-D model's own) are the most
    correlated, by the mean |correlation| over the models: the example on which a diagonal
    q's limitation and a full covariance's use can be seen."""
    scores = [np.mean([abs(posterior_correlation(model, example)) for model in models.values()])
              for example in x]
    return int(np.argmax(scores))


def _landscape(ax: Axes, first: np.ndarray, second: np.ndarray, log_density: np.ndarray) -> None:
    ax.contourf(first, second, np.maximum(log_density, -30.0), levels=30, cmap="Greys")
    ax.contour(first, second, log_density, levels=SIGMA_LEVELS, colors="k", linewidths=0.6,
               linestyles="solid")
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _point(ax: Axes, z: torch.Tensor, label: str, color: str, marker: str = "o") -> None:
    ax.plot(*z.reshape(-1).tolist(), marker=marker, color=color, markersize=14 if marker == "*" else 8,
            markeredgecolor="white", linestyle="none", label=label)


def update_illustration(model: VLAE, x: torch.Tensor) -> Figure:
    """One Laplace update on a 2-D latent: (a) estimate μ_t, (b) linear approximation,
    (c) solution under linearity μ', (d) the damped update μ_{t+1}."""
    x = x.reshape(1, -1)
    with torch.no_grad():
        start, _, _ = model.encoder(x)
        target, factor = laplace_target(model.likelihood, x, start, decoder_linearization(model.decoder, start))
        rate = DAMPING[model.damping](0)
        updated = (1.0 - rate) * start + rate * target
    center, half_width = posterior_window(model, x)
    span = torch.cat([start, target]).numpy()
    half_width = max(half_width, 1.3 * np.abs(span - center).max())
    first, second, points = latent_grid(center, half_width)
    true = grid_values(true_log_posterior(model, x, points), first)
    with torch.no_grad():
        linear = grid_values(FullCovarianceGaussian(target, factor).log_prob(points)[:, 0], first)
    fig, axes = panel_grid(4, 3.8)
    titles = ["(a) estimate at step t", "(b) linear approximation",
              "(c) solution under linearity", "(d) updated estimate"]
    for index, (ax, title) in enumerate(zip(axes, titles)):
        _landscape(ax, first, second, true)
        ax.set_title(title, fontsize=10)
        _point(ax, start, r"$\mu_t$", "tab:blue")
        if index in (1, 2):
            ax.contour(first, second, linear, levels=SIGMA_LEVELS, colors="tab:orange",
                       linewidths=1.0, linestyles="dashed")
        if index >= 2:
            _point(ax, target, r"$\mu'$", "tab:orange", "*")
        if index == 3:
            ax.annotate("", xy=updated.reshape(-1).tolist(), xytext=start.reshape(-1).tolist(),
                        arrowprops={"arrowstyle": "->", "color": "tab:red"})
            _point(ax, updated, rf"$\mu_{{t+1}}$ ($\alpha_0$ = {rate:g})", "tab:red")
        ax.legend(loc="lower left", fontsize=9, framealpha=0.8)
    fig.tight_layout()
    return fig


def chunked_log_joint(model: LatentVariableModel, x: torch.Tensor, z: torch.Tensor,
                      max_rows: int = 2 ** 16) -> torch.Tensor:
    """log p(x, z) for latents z (samples × N × d) of one example x (1×D), computed over the N
    points in chunks so that at most ``max_rows`` decoder outputs (rows of D pixels) are live at
    once: at once, 64 samples on 81² points of a 3,072-pixel image are 5 GB per tensor."""
    chunk = max(1, max_rows // z.shape[0])
    with torch.no_grad():
        return torch.cat([model.log_joint(x, z[:, start:start + chunk]) for start in range(0, z.shape[1], chunk)],
                         dim=1)


def elbo_landscape(model: VLAE, x: torch.Tensor, samples: int = 64, points: int = 81) -> Figure:
    """The ELBO of q = N(μ, Σ_T) as a function of its mean μ, with the iterates μ_0 … μ_T.

    Σ_T is the final covariance of VLAE; the expectation uses the same ``samples`` draws at
    every grid point (common random numbers), so the surface is smooth.
    """
    x = x.reshape(1, -1)
    with torch.no_grad():
        posterior, iterates = model.laplace(x)
        path = torch.cat(iterates).numpy()
        center, half_width = posterior_window(model, x)
        half_width = max(half_width, 1.3 * np.abs(path - center).max())
        first, second, grid = latent_grid(center, half_width, points)
        offsets, _ = FullCovarianceGaussian(torch.zeros_like(posterior.mean),
                                            posterior.precision_cholesky).rsample(samples)
        entropy = -FullCovarianceGaussian(torch.zeros(1, 2), posterior.precision_cholesky).log_prob(offsets).mean()
        z = grid[:, 0].unsqueeze(0) + offsets  # samples × N × 2
        elbo = chunked_log_joint(model, x, z).mean(0) + entropy
    surface = grid_values(elbo, first)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    filled = ax.contourf(first, second, np.maximum(surface, -60.0), levels=30, cmap="viridis")
    fig.colorbar(filled, ax=ax, label="ELBO(μ) − max")
    ax.plot(path[:, 0], path[:, 1], "-o", color="white", markersize=5, label=r"$\mu_0, \dots, \mu_T$")
    ax.plot(*path[0], "o", color="tab:blue", markersize=8, label=r"$\mu_0$ (encoder)")
    ax.plot(*path[-1], "*", color="tab:red", markersize=12, label=rf"$\mu_T$ (T = {model.steps})")
    ax.set_xlabel(r"$z_1$")
    ax.set_ylabel(r"$z_2$")
    ax.set_aspect("equal")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Laplace updates on the ELBO landscape", fontsize=10)
    fig.tight_layout()
    return fig


def posterior_shapes(models: Mapping[str, LatentVariableModel], x: torch.Tensor) -> Figure:
    """Each model's q(z|x) (coloured contours) over its own true posterior p(z|x) (grey)."""
    x = x.reshape(1, -1)
    fig, axes = panel_grid(len(models), 3.2, columns=3)
    for ax, (name, model) in zip(axes, models.items()):
        center, half_width = posterior_window(model, x)
        first, second, points = latent_grid(center, half_width)
        _landscape(ax, first, second, grid_values(true_log_posterior(model, x, points), first))
        with torch.no_grad():
            approximate = grid_values(model.posterior(x).log_prob(points)[:, 0], first)
        ax.contour(first, second, approximate, levels=SIGMA_LEVELS, colors=COLORS[name],
                   linewidths=1.5, linestyles="solid")
        ax.set_title(TITLES[name], fontsize=10)
    fig.suptitle("true posterior (grey, black lines) and q(z|x) (colour), 1σ–3σ contours", fontsize=10)
    fig.tight_layout()
    return fig




def covariance_matrices(vlae: VLAE, vae: LatentVariableModel, x: torch.Tensor, samples: int = 2000) -> Figure:
    """Posterior correlation matrices for a few examples: VLAE's q (Σ_T), VLAE's true posterior,
    and the VAE's true posterior (both estimated by self-normalised importance sampling)."""
    with torch.no_grad():
        learned = vlae.posterior(x).covariance()
    rows = [(r"VLAE q: $\Lambda_T^{-1}$", learned),
            ("VLAE: true posterior", posterior_moments(vlae, x, samples)[1]),
            ("VAE: true posterior", posterior_moments(vae, x, samples)[1])]
    fig, axes = plt.subplots(len(rows), len(x), figsize=(min(2.4 * len(x), FIGURE_WIDTH - 1), 2.3 * len(rows)))
    for row, (label, covariances) in enumerate(rows):
        for column in range(len(x)):
            ax = axes[row, column]
            image = ax.imshow(correlation(covariances[column]).numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(label, fontsize=9)
            if row == 0:
                ax.set_title(f"test example {column + 1}", fontsize=9)
    fig.colorbar(image, ax=axes, shrink=0.6, label="correlation")
    return fig


def learning_curves(histories: Mapping[str, pd.DataFrame]) -> Figure:
    """ELBO per epoch for each model on the fixed training slice and on the test set (equal
    numbers of images, measured after each epoch)."""
    fig, axes = panel_grid(2, 3.6, sharey=True)
    for name, history in histories.items():
        axes[0].plot(history["epoch"] + 1, history["train_elbo"], color=COLORS[name], label=TITLES[name])
        axes[1].plot(history["epoch"] + 1, history["test_elbo"], color=COLORS[name], label=TITLES[name])
    for ax, title in zip(axes, ["training ELBO (a fixed slice of the training set)", "test ELBO"]):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("nats per image")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def seed_gains(runs: pd.DataFrame) -> Figure:
    """Each model's log p(x) gain over the VAE of the same run, every seed, per likelihood (the
    recorded runs of one profile; see :func:`companion.plotting.seed_points`)."""
    frame = per_seed(runs)
    frame = frame[frame["model"] != "VAE"]
    frame = frame.assign(label=[model_label(model, steps)
                                for model, steps in zip(frame["model"], frame["steps"])])
    likelihoods = list(dict.fromkeys(frame["param_likelihood"]))
    fig, axes = panel_grid(len(likelihoods), 3.6, columns=1)
    for ax, likelihood in zip(axes, likelihoods):
        subset = frame[frame["param_likelihood"] == likelihood]
        seed_points(subset, "label", "gain", ax, order=list(dict.fromkeys(subset["label"])))
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_title(f"{likelihood}: log p(x) − VAE's (nats)", fontsize=10)
        ax.set_xlabel("")
        ax.set_ylabel("")
        plt.setp(ax.get_xticklabels(), rotation=25, ha="right", rotation_mode="anchor", fontsize=9)
    fig.tight_layout()
    return fig


def inference_gaps(table: pd.DataFrame) -> Figure:
    """Stacked bars per model and split (:func:`~companion.vlae.experiments.gap_table`, or
    :func:`~companion.vlae.experiments.recorded_gaps` with a panel per likelihood): the
    amortisation gap ELBO(q*) − ELBO(q) below, the approximation gap log p(x) − ELBO(q*) above;
    their sum is log p(x) − ELBO(q)."""
    panels = list(table.groupby("likelihood", sort=False)) if "likelihood" in table else [("", table)]
    fig, axes = panel_grid(len(panels), 3.4, columns=1)
    for ax, (likelihood, part) in zip(axes, panels):
        labels = [f"{model}\n{split}" for model, split in zip(part["model"], part["split"])]
        positions = np.arange(len(part))
        ax.bar(positions, part["amortisation gap"], color="tab:gray", label="amortisation: ELBO(q*) − ELBO(q)")
        ax.bar(positions, part["approximation gap"], bottom=part["amortisation gap"].clip(lower=0),
               color="tab:red", alpha=0.7, label="approximation: log p(x) − ELBO(q*)")
        ax.set_xticks(positions, labels, fontsize=8)
        ax.set_ylabel("nats per image")
        ax.axhline(0, color="k", lw=0.8)
        ax.legend(fontsize=8)
        if likelihood:
            ax.set_title(likelihood, fontsize=10)
    fig.tight_layout()
    return fig


def recorded_learning_curves(runs: pd.DataFrame) -> Figure:
    """Training-slice (dashed) and test (solid) ELBO per epoch of every model of the recorded
    runs that kept them, one panel per likelihood; each model in its colour (``COLORS``)."""
    kept = runs.dropna(subset=["test_elbo_by_epoch"]) if "test_elbo_by_epoch" in runs else runs.iloc[:0]
    likelihoods = list(dict.fromkeys(kept["param_likelihood"]))
    fig, axes = panel_grid(max(len(likelihoods), 1), 3.2, columns=1)
    names = {title: name for name, title in TITLES.items()}
    for ax, likelihood in zip(axes, likelihoods):
        for _, row in kept[kept["param_likelihood"] == likelihood].drop_duplicates(["model", "steps"]).iterrows():
            colour = COLORS[names[row["model"]]]
            epochs = np.arange(1, len(row["test_elbo_by_epoch"]) + 1)
            label = model_label(row["model"], row["steps"])
            ax.plot(epochs, row["test_elbo_by_epoch"], color=colour, label=f"{label}, test")
            ax.plot(epochs, row["train_elbo_by_epoch"], color=colour, linestyle="--", linewidth=0.9)
        ax.set_title(f"{likelihood} (dashed: training slice)", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("ELBO, nats per image")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig
