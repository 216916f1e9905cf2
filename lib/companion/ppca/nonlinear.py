"""Beyond the linear case: how orthogonal is a trained decoder's Jacobian?

Rolinek et al. (2019) argue that a VAE's diagonal posterior makes the decoder *locally*
orthogonal: at each code μ(x) the columns of the Jacobian J = ∂g/∂z should be near-orthogonal.
A VLAE (Park et al., 2019) has no such pressure: its posterior N(μ_T, Λ_T⁻¹) with
Λ = σ⁻² JᵀJ + I is the exact posterior of the decoder's local linearisation, full covariance
included, so the local Hadamard gap is zero whatever the angle between the columns of J.

Both models come from :mod:`companion.vlae` (the same MLPs) and train on the same data with the
shared loop; the columns of J are compared at the posterior means of held-out points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from companion.config import resolve_device
from companion.data import batches
from companion.plotting import MODEL_COLORS
from companion.ppca import metrics
from companion.ppca.settings import PPCASettings
from companion.ppca.synthetic import SyntheticPPCA, make_dataset
from companion.training import (
    checkpoint_fingerprint,
    checkpoint_folder,
    seed_everything,
    tensor_digest,
    torch_threads,
    train,
)
from companion.vlae import LatentVariableModel, build_model, decoder_jacobian, mean_elbo

#: The two models compared, with their labels.
NONLINEAR_MODELS: dict[str, str] = {"vae": "VAE (diagonal q)", "vlae": "VLAE (full q, T = 1)"}
LABELS: dict[str, str] = {"truth": "true decoder tanh(Wz)", **NONLINEAR_MODELS}
#: Minibatch size of the non-linear models.
BATCH_SIZE = 100


def nonlinear_data(params: PPCASettings, replicate: int) -> tuple[SyntheticPPCA, SyntheticPPCA]:
    """Training and held-out sets from x = tanh(W z) + ε, true columns ``angle`` apart at the largest norm ratio."""
    data = make_dataset(params.observed_dim, params.latent_dim, params.angle, max(params.norm_ratios),
                        params.noise, 2 * params.examples, 10_007 * (params.seed + 1) + replicate, "tanh")
    half = params.examples
    split = [SyntheticPPCA(data.x[rows].float(), data.factors[rows].float(), data.loadings.float(), data.noise, "tanh")
             for rows in (slice(0, half), slice(half, None))]
    return split[0], split[1]


def train_nonlinear(name: str, data: SyntheticPPCA, params: PPCASettings, seed: int) -> LatentVariableModel:
    """A VAE or VLAE (one Laplace step) trained on ``data.x`` by the shared loop with Adam
    (checkpointed as ``nonlinear-{name}-seed{seed}``)."""
    seed_everything(seed)
    device = resolve_device(params.device)
    model = build_model(name, data.x.shape[1], data.loadings.shape[1], params.hidden_dim, "gaussian",
                        steps=1, log_var=math.log(float(data.x.var(dim=0).mean()))).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=params.nonlinear_learning_rate)

    def loss_fn(model: LatentVariableModel, batch: tuple[torch.Tensor, ...], state: Any) -> dict[str, torch.Tensor]:
        return {"loss": -model.elbo(batch[0]).mean()}

    train(model, loss_fn, batches((data.x,), BATCH_SIZE, seed=seed), epochs=params.nonlinear_epochs,
          optimizer=optimizer, device=device, checkpoint_dir=checkpoint_folder(f"nonlinear-{name}-seed{seed}"),
          fingerprint=checkpoint_fingerprint(params.record(), model=name, seed=seed, data=tensor_digest(data.x)))
    return model


def pointwise_abs_cosines(jacobians: torch.Tensor) -> np.ndarray:
    """Mean |cos| between the columns of each Jacobian of a stack (N×D×d): N values."""
    return np.array([metrics.mean_abs_cosine(jacobian) for jacobian in jacobians])


def noise_std(model: LatentVariableModel) -> float:
    """The output noise σ of a model with a Gaussian likelihood (log σ² is learned)."""
    return float(torch.exp(0.5 * model.likelihood.log_var.detach()))


def jacobian_metrics(jacobians: torch.Tensor, noise: float) -> dict[str, float]:
    """Mean |cos| between the columns of each Jacobian (N×D×d), averaged over N, the mean DtO, and
    the latent directions and columns the decoder ignores at output noise σ = ``noise``."""
    return {"abs_cos": float(pointwise_abs_cosines(jacobians).mean()),
            "dto": metrics.distance_to_orthogonality(jacobians),
            "collapsed": metrics.collapsed_directions(jacobians, noise),
            "dead_columns": metrics.dead_columns(jacobians, noise)}


@dataclass(frozen=True)
class NonlinearResult:
    """``summary``: one row per (replicate, decoder), with the latent directions it ignores
    (:func:`~companion.ppca.metrics.collapsed_directions`); ``cosines``: |cos| at every held-out point."""

    summary: pd.DataFrame
    cosines: pd.DataFrame


def nonlinear_study(params: PPCASettings) -> NonlinearResult:
    """Train a VAE and a VLAE per replicate; compare their Jacobians' orthogonality with the truth's."""
    rows, cosines = [], []
    with torch_threads(params.threads):
        for replicate in range(params.nonlinear_seeds):
            train_set, held_out = nonlinear_data(params, replicate)
            jacobians = {"truth": held_out.true_jacobian()}
            codes = {"truth": held_out.factors}
            elbos = {"truth": float("nan")}
            noises = {"truth": held_out.noise}
            for name in NONLINEAR_MODELS:
                model = train_nonlinear(name, train_set, params, seed=1000 * params.seed + replicate)
                x = held_out.x.to(next(model.parameters()).device)
                with torch.no_grad():
                    codes[name] = model.posterior(x).mean
                    jacobians[name] = decoder_jacobian(model.decoder, codes[name])
                    elbos[name] = mean_elbo(model, x)
                noises[name] = noise_std(model)
            for name, jacobian in jacobians.items():
                rows.append({"replicate": replicate, "model": name, "elbo": elbos[name], "noise_std": noises[name],
                             **jacobian_metrics(jacobian, noises[name]),
                             "sap": metrics.sap_score(codes[name], held_out.factors)})
                cosines.append(pd.DataFrame({"replicate": replicate, "model": name,
                                             "abs_cos": pointwise_abs_cosines(jacobian)}))
    return NonlinearResult(pd.DataFrame(rows), pd.concat(cosines, ignore_index=True))


def plot_jacobian_cosines(cosines: pd.DataFrame) -> Figure:
    """Histograms of |cos| between the Jacobian columns at held-out points, per decoder."""
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    bins = np.linspace(0.0, 1.0, 41)
    for name, color in (("truth", "0.3"), ("vae", MODEL_COLORS["VAE"]), ("vlae", MODEL_COLORS["VLAE"])):
        values = cosines.loc[cosines["model"] == name, "abs_cos"]
        ax.hist(values, bins=bins, density=True, histtype="step", lw=1.8, color=color, label=LABELS[name])
    ax.set_xlabel("|cos| between the decoder Jacobian's columns at μ(x)")
    ax.set_ylabel("density")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def nonlinear_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std over replicates of held-out ELBO, Jacobian |cos|, DtO and SAP per model, and in
    how many replicates a latent direction collapsed."""
    columns = {"elbo": "held-out ELBO", "abs_cos": "mean |cos| of J's columns", "dto": "DtO", "sap": "SAP"}
    grouped = frame.groupby("model", sort=False)
    means, stds = grouped[list(columns)].mean(), grouped[list(columns)].std(ddof=0)
    table = pd.DataFrame({
        label: [("—" if np.isnan(m) else f"{m + 0.0:.2f} ± {s + 0.0:.2f}") for m, s in zip(means[column], stds[column])]
        for column, label in columns.items()
    }, index=[LABELS[name] for name in means.index])
    table["collapsed in"] = [f"{int((group['collapsed'] > 0).sum())} of {len(group)}" for _, group in grouped]
    table.index.name = "decoder"
    return table
