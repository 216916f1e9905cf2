"""Parameters of the chapter "Why a diagonal posterior picks orthogonal directions".

Profiles: ``cpu`` (the book build, about a minute), ``cpu-long`` (evidence for the non-linear
study, recorded by ``python -m companion.reproduce --profile cpu-long`` and rendered by the
chapter) and ``paper`` (a GPU-sized study).

``cpu-long`` keeps the linear part at the ``cpu`` sizes (closed forms and L-BFGS decide it
already) and enlarges the non-linear study: twice the data (4,000 training and 4,000 held-out
points), 64 hidden units, 100 epochs at a smaller Adam step (3e-3; the paper profile uses 1e-3),
and 5 replicates per run. Its grid is σ ∈ {0.1, 0.5, 0.3} (0.3 last, so that the two levels
the chapter discusses land first) × run seeds {0, 1}: 10 paired seeds per noise level, enough
for a two-sided sign test to reach a Holm-adjusted p < 0.05 over the three levels (that needs
≥ 7 seeds that count, all one way). A pilot (nice 10,
one torch thread, 1 December 2026) measured 17–19 CPU-s per VAE and 30–34 CPU-s per VLAE at
these sizes, so about 50 CPU-s per replicate, 30 seeds ≈ 25 CPU-min plus ≈ 30 CPU-s per run for
the rest of the notebook: about 28 minutes on one core for the 6 runs. Measured in the sweep:
about 5 CPU-min per run (≈ 32 for the grid), 17–21 minutes of wall time per run on the shared
2-core machine.

The chapter generates its data, so ``data_dir`` has no use here: it is recorded (it is a common
parameter) but a value given for it only draws a warning (:func:`companion.config.warn_unused`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from companion.config import ChapterSettings, ParameterError, check_float, check_int, warn_unused


def check_ratios(name: str, values: Sequence[float] | str | float) -> tuple[float, ...]:
    """A non-empty tuple of numbers ≥ 1 (from a list, one number, or a string "1, 1.5, 2")."""
    if isinstance(values, str):
        values = [v for v in values.strip("[]() ").split(",") if v.strip()]
        try:
            values = [float(v) for v in values]
        except ValueError as error:
            raise ParameterError(f"{name}={values!r} must be numbers ≥ 1, e.g. '1, 1.5, 2'") from error
    elif isinstance(values, (int, float)) and not isinstance(values, bool):
        values = [values]
    values = list(values)
    if not values:
        raise ParameterError(f"{name} is empty; give at least one number ≥ 1")
    return tuple(check_float(name, value, minimum=1.0) for value in values)


@dataclass(frozen=True, kw_only=True)
class PPCASettings(ChapterSettings):
    """The PPCA chapter's parameters: the synthetic data, the linear fits and the non-linear study."""

    #: angle (degrees, in (0, 90]) between the true columns of the non-orthogonal data sets
    angle: float = 60.0
    #: ratios of the largest to the smallest true column norm, one grid cell each (numbers ≥ 1)
    norm_ratios: tuple[float, ...] = (1.0, 1.2, 1.5, 2.0)
    #: data sets (replicates) per grid cell of the linear study
    seeds: int = 5
    #: latent dimension k (≥ 2, below observed_dim)
    latent_dim: int = 2
    #: observed dimension d
    observed_dim: int = 6
    #: observation noise σ of the synthetic data
    noise: float = 0.1
    #: data points per data set (more than observed_dim; the non-linear study holds out as many again)
    examples: int = 2000
    #: L-BFGS iterations of each linear VAE fit of the expected ELBO
    lbfgs_iterations: int = 600
    #: epochs of stochastic training of the linear VAEs
    sgd_epochs: int = 40
    #: epochs of the non-linear VAE and VLAE
    nonlinear_epochs: int = 30
    #: replicates (paired seeds) of the non-linear study per run
    nonlinear_seeds: int = 3
    #: hidden units of the non-linear models' MLPs
    hidden_dim: int = 32
    #: Adam step of the non-linear models, in (0, 1]
    nonlinear_learning_rate: float = 1e-2
    #: torch threads while fitting (0 leaves torch's default)
    threads: int = 1

    def validate(self) -> None:
        if self.data_dir is not None:
            warn_unused("data_dir", self.data_dir, "the PPCA chapter generates its data")
        self.normalise("angle", check_float("angle", self.angle, minimum=0.0, maximum=90.0, open_min=True))
        self.normalise("norm_ratios", check_ratios("norm_ratios", self.norm_ratios))
        for name in ("seeds", "observed_dim", "examples", "lbfgs_iterations", "sgd_epochs", "nonlinear_epochs",
                     "nonlinear_seeds", "hidden_dim"):
            check_int(name, getattr(self, name), minimum=1)
        check_int("threads", self.threads, minimum=0)
        check_int("latent_dim", self.latent_dim, minimum=2)
        if self.latent_dim >= self.observed_dim:
            raise ParameterError(
                f"latent_dim={self.latent_dim} must be smaller than observed_dim={self.observed_dim}")
        if self.examples <= self.observed_dim:
            raise ParameterError(f"examples={self.examples} must exceed observed_dim={self.observed_dim}")
        self.normalise("noise", check_float("noise", self.noise, minimum=0.0, open_min=True))
        self.normalise("nonlinear_learning_rate", check_float(
            "nonlinear_learning_rate", self.nonlinear_learning_rate, minimum=0.0, maximum=1.0, open_min=True))


PROFILES: dict[str, PPCASettings] = {"cpu": PPCASettings()}
PROFILES["cpu-long"] = replace(PROFILES["cpu"], profile="cpu-long", examples=4000, nonlinear_epochs=100,
                               nonlinear_seeds=5, hidden_dim=64, nonlinear_learning_rate=3e-3)
PROFILES["paper"] = replace(PROFILES["cpu"], profile="paper", norm_ratios=(1.0, 1.2, 1.5, 2.0, 3.0),
                            seeds=20, latent_dim=4, observed_dim=20, examples=10000, lbfgs_iterations=2000,
                            sgd_epochs=200, nonlinear_epochs=300, nonlinear_seeds=10, hidden_dim=256,
                            nonlinear_learning_rate=1e-3, threads=0)

GRID: dict[str, dict[str, list[Any]]] = {
    "cpu": {"angle": [60.0, 30.0], "noise": [0.1, 0.5]},
    "cpu-long": {"noise": [0.1, 0.5, 0.3], "seed": [0, 1]},
    "paper": {"angle": [30.0, 60.0, 80.0], "latent_dim": [2, 4, 8], "seed": [0, 1, 2]},
}
