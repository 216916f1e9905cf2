"""The chapter's experiments: the grid of linear fits, SGD histories, tables, figures and the run record.

Each synthetic data set (true columns orthogonal or ``angle`` degrees apart, one column-norm
ratio, one replicate) is fitted three ways: closed-form PPCA, and linear VAEs with a diagonal
and with a full-covariance posterior (expected ELBO, L-BFGS) started from the same weights.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import Tensor

from companion.config import resolve_device
from companion.ppca import closed_form, metrics
from companion.ppca.closed_form import PPCAParameters
from companion.ppca.linear_vae import LinearVAE, fit_expected_elbo, train_stochastic
from companion.ppca.settings import PPCASettings
from companion.plotting import FIGURE_WIDTH
from companion.ppca.synthetic import SyntheticPPCA, make_dataset
from companion.results import record_run
from companion.training import (
    checkpoint_fingerprint,
    checkpoint_folder,
    seed_everything,
    tensor_digest,
    torch_threads,
)

#: Fitting methods and their labels in tables and figures.
METHODS: dict[str, str] = {"ppca": "PPCA (closed form)", "diagonal": "VAE, diagonal q", "full": "VAE, full q"}
COLORS: dict[str, str] = {"ppca": "0.45", "diagonal": "tab:blue", "full": "tab:orange"}
#: Metrics of a fit, with their labels.
METRICS: dict[str, str] = {
    "elbo_deficit": "max log-lik − ELBO", "hadamard_gap": "Hadamard gap", "abs_cos": "mean |cos|",
    "dto": "DtO", "pca_angle": "angle to PCA axes (°)", "factor_angle": "angle to true columns (°)",
    "sap": "SAP",
}


@dataclass(frozen=True)
class Fit:
    """A fitted model: its decoder as PPCA parameters, its codes E_q[z|x] and its ELBO per point."""

    method: str
    params: PPCAParameters
    codes: Tensor
    elbo: float


def truth_angles(angle: float) -> list[float]:
    """The angles between true columns that the study compares: 90° (orthogonal) and ``angle``."""
    return sorted({90.0, float(angle)}, reverse=True)


def data_seed(seed: int, replicate: int) -> int:
    """Seed of a replicate's data: the same for every angle and norm ratio (paired comparisons)."""
    return 1000 * seed + replicate


def cell_init_seed(seed: int, cell: int) -> int:
    """Seed of the initial weights of the models fitted in one cell of the grid."""
    return 1_000_003 * (seed + 1) + cell


def replicate_data(params: PPCASettings, angle: float, norm_ratio: float, replicate: int) -> SyntheticPPCA:
    """The data set of one (angle, norm ratio, replicate) of the grid."""
    return make_dataset(params.observed_dim, params.latent_dim, angle, norm_ratio,
                        params.noise, params.examples, data_seed(params.seed, replicate))


def fit(datasets: Sequence[SyntheticPPCA], method: str, init_seed: int, iterations: int) -> list[Fit]:
    """Fit each data set with closed-form PPCA ("ppca") or a linear VAE ("diagonal", "full").

    The VAEs of all the data sets are independent models fitted side by side (one batched
    module), which costs little more than fitting one.
    """
    stats = [closed_form.moments(data.x) for data in datasets]
    latent_dim = datasets[0].loadings.shape[1]
    if method == "ppca":
        fits = []
        for data, (mean, covariance) in zip(datasets, stats):
            params = closed_form.maximum_likelihood(mean, covariance, latent_dim)
            fits.append(Fit(method, params, closed_form.posterior(data.x, params)[0],
                            float(closed_form.log_likelihood(params, mean, covariance))))
        return fits
    model = LinearVAE(datasets[0].x.shape[1], latent_dim, method, batch=(len(datasets),),
                      generator=torch.Generator().manual_seed(init_seed))
    elbos = fit_expected_elbo(model, torch.stack([m for m, _ in stats]), torch.stack([c for _, c in stats]),
                              max_iterations=iterations)
    params = model.ppca_parameters()
    with torch.no_grad():
        codes = model.encode(torch.stack([data.x for data in datasets]))
    return [Fit(method, PPCAParameters(params.loadings[i], params.offset[i], params.noise_variance[i]), codes[i],
                float(elbos[i])) for i in range(len(datasets))]


def fit_metrics(result: Fit, data: SyntheticPPCA) -> dict[str, float]:
    """Every metric of :data:`METRICS` for a fit of ``data``."""
    mean, covariance = closed_form.moments(data.x)
    latent_dim = data.loadings.shape[1]
    best = closed_form.maximum_likelihood(mean, covariance, latent_dim)
    loadings = result.params.loadings
    return {
        "elbo": result.elbo,
        "elbo_deficit": float(closed_form.log_likelihood(best, mean, covariance)) - result.elbo,
        "hadamard_gap": float(closed_form.hadamard_gap(loadings, result.params.noise_variance)),
        "abs_cos": metrics.mean_abs_cosine(loadings),
        "dto": metrics.distance_to_orthogonality(loadings),
        "pca_angle": float(metrics.matched_angles(loadings, metrics.principal_directions(covariance, latent_dim)).mean()),
        "factor_angle": float(metrics.matched_angles(loadings, data.loadings).mean()),
        "sap": metrics.sap_score(result.codes, data.factors),
    }


def fit_grid(params: PPCASettings) -> pd.DataFrame:
    """One row per (true angle, norm ratio, replicate, method) with the metrics of the fit."""
    rows = []
    cells = [(angle, ratio) for angle in truth_angles(params.angle) for ratio in params.norm_ratios]
    with torch_threads(params.threads):
        for cell, (angle, ratio) in enumerate(cells):
            datasets = [replicate_data(params, angle, ratio, replicate) for replicate in range(params.seeds)]
            for method in METHODS:
                results = fit(datasets, method, cell_init_seed(params.seed, cell), params.lbfgs_iterations)
                rows += [{"angle": angle, "norm_ratio": ratio, "replicate": replicate, "method": method,
                          **fit_metrics(result, data)}
                         for replicate, (result, data) in enumerate(zip(results, datasets))]
    return pd.DataFrame(rows)


def summarise(frame: pd.DataFrame, columns: Sequence[str] = ("abs_cos", "dto", "pca_angle", "factor_angle", "sap")) -> pd.DataFrame:
    """Mean ± standard deviation of ``columns`` per (true angle, norm ratio, method)."""
    grouped = frame.groupby(["angle", "norm_ratio", "method"], sort=False)[list(columns)]
    means, stds = grouped.mean(), grouped.std(ddof=0)
    table = pd.DataFrame(index=means.index)
    for column in columns:
        digits = 1 if column.endswith("angle") else 2
        table[METRICS[column]] = [
            f"{m + 0.0:.{digits}f} ± {s + 0.0:.{digits}f}" for m, s in zip(means[column].round(digits), stds[column].round(digits))
        ]
    table.index = table.index.set_levels(table.index.levels[2].map(METHODS.get), level=2)
    table.index.names = ["true angle (°)", "norm ratio", "fit"]
    return table


def summary_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Means per (true angle, norm ratio, method), the rows a run record keeps."""
    columns = ["elbo_deficit", "hadamard_gap", "abs_cos", "dto", "pca_angle", "factor_angle", "sap"]
    means = frame.groupby(["angle", "norm_ratio", "method"], sort=False)[columns].mean().reset_index()
    return [{key: (round(value, 6) if isinstance(value, float) else value) for key, value in row.items()}
            for row in means.to_dict("records")]


def rotation_profile(data: SyntheticPPCA, turns: np.ndarray) -> pd.DataFrame:
    """Log-likelihood and best diagonal-q ELBO of the ML loadings rotated by each angle (degrees).

    Rotating W ↦ W R(φ) in the plane of its first two columns leaves the likelihood unchanged;
    the diagonal ELBO = log-likelihood − Hadamard gap is highest where the columns are orthogonal.
    """
    mean, covariance = closed_form.moments(data.x)
    best = closed_form.maximum_likelihood(mean, covariance, data.loadings.shape[1])
    rows = []
    for turn in turns:
        phi = math.radians(float(turn))
        rotation = torch.eye(best.loadings.shape[1], dtype=best.loadings.dtype)
        rotation[:2, :2] = torch.tensor([[math.cos(phi), -math.sin(phi)], [math.sin(phi), math.cos(phi)]])
        rotated = PPCAParameters(best.loadings @ rotation, best.offset, best.noise_variance)
        rows.append({"rotation": float(turn),
                     "log_likelihood": float(closed_form.log_likelihood(rotated, mean, covariance)),
                     "diagonal_elbo": float(closed_form.optimal_diagonal_elbo(rotated, mean, covariance))})
    return pd.DataFrame(rows)


def plot_rotation_profile(profile: pd.DataFrame) -> Figure:
    """The likelihood is flat in the rotation; the diagonal-q ELBO peaks at the PCA axes."""
    fig, ax = plt.subplots(figsize=(6.0, 3.2))
    ax.plot(profile["rotation"], profile["log_likelihood"], color=COLORS["full"], label="log-likelihood = full-q ELBO")
    ax.plot(profile["rotation"], profile["diagonal_elbo"], color=COLORS["diagonal"], label="best diagonal-q ELBO")
    ax.set_xlabel("rotation φ of W away from the PCA axes (°)")
    ax.set_ylabel("nats per data point")
    ax.set_xticks(np.arange(0, 181, 45))
    ax.legend(loc="lower center", fontsize=8)
    fig.tight_layout()
    return fig


def plane_fits(data: SyntheticPPCA, inits: int, params: PPCASettings) -> list[Fit]:
    """Diagonal- and full-q VAE fits of one data set from ``inits`` different initial weights."""
    with torch_threads(params.threads):
        return [result for method in ("diagonal", "full")
                for result in fit([data] * inits, method, cell_init_seed(params.seed, -1), params.lbfgs_iterations)]


def plot_columns_in_plane(data: SyntheticPPCA, fits: Sequence[Fit]) -> Figure:
    """Learned columns of W in the plane of the two leading PCA axes, one panel per posterior."""
    _, covariance = closed_form.moments(data.x)
    axes_2d = torch.as_tensor(metrics.principal_directions(covariance, 2))
    fig, panels = plt.subplots(1, 2, figsize=(7.5, 3.8), sharex=True, sharey=True)
    limit = 1.15 * float(data.loadings.norm(dim=0).max())
    for panel, method in zip(panels, ("diagonal", "full")):
        panel.axhline(0.0, color="0.8", lw=0.8, ls="--")
        panel.axvline(0.0, color="0.8", lw=0.8, ls="--")
        for column in (axes_2d.T @ data.loadings).T:
            panel.annotate("", xy=column.tolist(), xytext=(0, 0), arrowprops={"arrowstyle": "->", "color": "k", "lw": 1.5})
        for result in (r for r in fits if r.method == method):
            for column in (axes_2d.T @ result.params.loadings).T:
                panel.annotate("", xy=column.tolist(), xytext=(0, 0),
                               arrowprops={"arrowstyle": "->", "color": COLORS[method], "lw": 1.2, "alpha": 0.8})
        panel.set_xlim(-limit, limit)
        panel.set_ylim(-limit, limit)
        panel.set_aspect("equal")
        panel.set_title(METHODS[method])
        panel.set_xlabel("PCA axis 1")
    panels[0].set_ylabel("PCA axis 2")
    fig.suptitle("true columns (black) and learned columns from several initialisations", fontsize=10)
    fig.tight_layout()
    return fig


def plot_by_ratio(frame: pd.DataFrame, columns: Sequence[str] = ("abs_cos", "sap")) -> Figure:
    """Mean ± std of each metric against the norm ratio: a row per metric, a column per true angle."""
    angles = list(dict.fromkeys(frame["angle"]))
    fig, panels = plt.subplots(len(columns), len(angles), figsize=(min(3.6 * len(angles), FIGURE_WIDTH), 2.7 * len(columns)),
                               sharex=True, sharey="row", squeeze=False)
    offsets = dict(zip(METHODS, (-0.02, 0.0, 0.02)))
    for col, angle in enumerate(angles):
        for row, column in enumerate(columns):
            panel = panels[row, col]
            for method, label in METHODS.items():
                subset = frame[(frame["angle"] == angle) & (frame["method"] == method)]
                stats = subset.groupby("norm_ratio")[column].agg(["mean", "std"])
                panel.errorbar(stats.index + offsets[method], stats["mean"], yerr=stats["std"], marker="o",
                               ms=4, capsize=3, color=COLORS[method], label=label)
            panel.set_ylabel(METRICS[column] if col == 0 else "")
            if row == 0:
                panel.set_title(f"true columns {angle:g}° apart")
            if row == len(columns) - 1:
                panel.set_xlabel("column-norm ratio")
    panels[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def sgd_histories(data: SyntheticPPCA, params: PPCASettings) -> pd.DataFrame:
    """Per-epoch |cos| between columns and ELBO deficit of SGD-trained diagonal and full VAEs
    (checkpointed as ``sgd-diagonal`` and ``sgd-full``)."""
    mean, covariance = closed_form.moments(data.x)
    best = closed_form.maximum_likelihood(mean, covariance, data.loadings.shape[1])
    max_log_likelihood = float(closed_form.log_likelihood(best, mean, covariance))

    def evaluate(model: LinearVAE, epoch: int) -> dict[str, float]:
        with torch.no_grad():
            return {"abs_cos": metrics.mean_abs_cosine(model.loadings),
                    "elbo_deficit": max_log_likelihood - float(model.expected_elbo(mean, covariance))}

    frames = []
    with torch_threads(params.threads):
        for method in ("diagonal", "full"):
            seed_everything(params.seed)
            model = LinearVAE(data.x.shape[1], data.loadings.shape[1], method,
                              generator=torch.Generator().manual_seed(cell_init_seed(params.seed, -2)))
            history = train_stochastic(
                model, data.x, epochs=params.sgd_epochs, seed=params.seed, learning_rate=2e-2, evaluate=evaluate,
                checkpoint_dir=checkpoint_folder(f"sgd-{method}"),
                fingerprint=checkpoint_fingerprint(params.record(), method=method, data=tensor_digest(data.x))).epochs
            frames.append(history.assign(method=method)[["method", "epoch", "abs_cos", "elbo_deficit"]])
    return pd.concat(frames, ignore_index=True)


def plot_sgd_histories(histories: pd.DataFrame) -> Figure:
    """|cos| between the columns and the ELBO deficit along SGD training, per posterior."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(8.0, 3.0))
    for method, history in histories.groupby("method", sort=False):
        left.plot(history["epoch"] + 1, history["abs_cos"], color=COLORS[method], label=METHODS[method])
        right.plot(history["epoch"] + 1, history["elbo_deficit"], color=COLORS[method], label=METHODS[method])
    left.set_ylabel("mean |cos| between columns")
    right.set_ylabel("max log-lik − ELBO (nats)")
    right.set_yscale("log")
    for panel in (left, right):
        panel.set_xlabel("epoch")
    left.legend(fontsize=8)
    fig.tight_layout()
    return fig


def run_metrics(grid: pd.DataFrame, histories: pd.DataFrame, nonlinear_summary: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows a run record keeps: per-cell means of the linear fits, SGD's last epoch, and the
    non-linear study per replicate and decoder (so that seeds can be compared pairwise)."""
    rows = [{"section": "linear", **row} for row in summary_rows(grid)]
    for record in histories.groupby("method", sort=False).tail(1).to_dict("records"):
        rows.append({"section": "sgd", "method": record["method"], "epochs": int(record["epoch"]) + 1,
                     "abs_cos": round(record["abs_cos"], 6), "elbo_deficit": round(record["elbo_deficit"], 6)})
    for record in nonlinear_summary.to_dict("records"):
        rows.append({"section": "nonlinear", **{key: _recordable(value) for key, value in record.items()}})
    return rows


def _recordable(value: Any) -> Any:
    """A value as a JSON record keeps it: floats rounded to 6 decimals, NaN as None."""
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value


def record(params: PPCASettings, rows: Sequence[dict[str, Any]], wall_time_s: float) -> Path:
    """Write this run's record: its settings and the rows of :func:`run_metrics`."""
    return record_run("ppca", params.record(), rows, wall_time_s=wall_time_s,
                      device=str(resolve_device(params.device)))


#: How recorded runs' parameters are labelled in tables.
RUN_KEYS: dict[str, str] = {"profile": "profile", "param_latent_dim": "k", "param_observed_dim": "d",
                            "param_noise": "σ", "param_seeds": "seeds"}


def recorded_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Recorded runs at their largest norm ratio: |cos|, DtO and SAP per fit, per run set-up and true angle."""
    if runs.empty or "section" not in runs:
        return pd.DataFrame()
    linear = runs[runs["section"] == "linear"]
    linear = linear[linear["norm_ratio"] == linear.groupby("run_id")["norm_ratio"].transform("max")]
    keys = [*RUN_KEYS, "angle", "norm_ratio"]
    table = linear.pivot_table(index=keys, columns="method", values=["abs_cos", "dto", "sap"], aggfunc="mean")
    table = table.reindex(columns=[(m, f) for m in ("abs_cos", "dto", "sap") for f in METHODS]).round(2)
    table.columns = pd.MultiIndex.from_tuples([(METRICS[m], METHODS[f]) for m, f in table.columns])
    table.index.names = [*RUN_KEYS.values(), "true angle (°)", "norm ratio"]
    return table


def recorded_nonlinear_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Recorded runs' non-linear study: Jacobian |cos| and DtO per decoder, per run set-up."""
    if runs.empty or "section" not in runs:
        return pd.DataFrame()
    nonlinear = runs[runs["section"] == "nonlinear"]
    keys = {**RUN_KEYS, "param_angle": "true angle (°)", "param_nonlinear_epochs": "epochs",
            "param_hidden_dim": "hidden"}
    table = nonlinear.pivot_table(index=list(keys), columns="model", values=["abs_cos", "dto"], aggfunc="mean")
    table = table.reindex(columns=[(m, n) for m in ("abs_cos", "dto") for n in ("truth", "vae", "vlae")]).round(2)
    table.columns = pd.MultiIndex.from_tuples([(METRICS[m], n.upper() if n != "truth" else "true decoder")
                                               for m, n in table.columns])
    table.index.names = list(keys.values())
    return table
