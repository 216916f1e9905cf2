"""Parameters of the chapter "Why a diagonal posterior picks orthogonal directions".

Profiles: ``cpu`` (the book build, about a minute), ``cpu-long`` (evidence for the non-linear
study, recorded by ``python -m companion.reproduce --profile cpu-long`` and rendered by the
chapter) and ``paper`` (a GPU-sized study).

``cpu-long`` keeps the linear part at the ``cpu`` sizes (closed forms and L-BFGS decide it
already) and enlarges the non-linear study: twice the data (4,000 training and 4,000 held-out
points), 64 hidden units, 100 epochs at a smaller Adam step (3e-3; the paper profile uses 1e-3),
and 5 replicates per run. Its grid is σ ∈ {0.1, 0.5, 0.3} (0.3 last, so that the two levels
the chapter discusses land first) × run seeds {0, 1}: 10 paired seeds per noise level, enough
for a sign test to reach p ≤ 0.05 (it needs ≥ 5 seeds that count). A pilot (nice 10, one torch
thread, 1 December 2026) measured 17–19 CPU-s per VAE and 30–34 CPU-s per VLAE at these sizes,
so about 50 CPU-s per replicate, 30 seeds ≈ 25 CPU-min plus ≈ 30 CPU-s per run for the rest of
the notebook: about 28 minutes on one core for the 6 runs. Measured in the sweep: about 5 CPU-min
per run (≈ 32 for the grid), 17–21 minutes of wall time per run on the shared 2-core machine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from companion.config import ParameterError, check_float, check_int, resolve

PROFILES: dict[str, dict[str, Any]] = {
    "cpu": {
        "angle": 60.0, "norm_ratios": [1.0, 1.2, 1.5, 2.0], "seeds": 5, "latent_dim": 2,
        "observed_dim": 6, "noise": 0.1, "examples": 2000, "lbfgs_iterations": 600,
        "sgd_epochs": 40, "nonlinear_epochs": 30, "nonlinear_seeds": 3, "hidden_dim": 32,
        "nonlinear_learning_rate": 1e-2, "threads": 1,
    },
    "cpu-long": {
        "angle": 60.0, "norm_ratios": [1.0, 1.2, 1.5, 2.0], "seeds": 5, "latent_dim": 2,
        "observed_dim": 6, "noise": 0.1, "examples": 4000, "lbfgs_iterations": 600,
        "sgd_epochs": 40, "nonlinear_epochs": 100, "nonlinear_seeds": 5, "hidden_dim": 64,
        "nonlinear_learning_rate": 3e-3, "threads": 1,
    },
    "paper": {
        "angle": 60.0, "norm_ratios": [1.0, 1.2, 1.5, 2.0, 3.0], "seeds": 20, "latent_dim": 4,
        "observed_dim": 20, "noise": 0.1, "examples": 10000, "lbfgs_iterations": 2000,
        "sgd_epochs": 200, "nonlinear_epochs": 300, "nonlinear_seeds": 10, "hidden_dim": 256,
        "nonlinear_learning_rate": 1e-3, "threads": 0,
    },
}

GRID: dict[str, dict[str, list[Any]]] = {
    "cpu": {"angle": [60.0, 30.0], "noise": [0.1, 0.5]},
    "cpu-long": {"noise": [0.1, 0.5, 0.3], "seed": [0, 1]},
    "paper": {"angle": [30.0, 60.0, 80.0], "latent_dim": [2, 4, 8], "seed": [0, 1, 2]},
}


def check_ratios(name: str, values: Sequence[float] | str | float) -> list[float]:
    """A non-empty list of numbers ≥ 1 (a list, one number, or a string "1, 1.5, 2")."""
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
    return [check_float(name, value, minimum=1.0) for value in values]


def settings(profile: str = "cpu", **given: Any) -> dict[str, Any]:
    """The chapter's parameters: the profile's values, overridden by those given."""
    params = resolve(PROFILES, profile, **given)
    params["angle"] = check_float("angle", params["angle"], minimum=0.0, maximum=90.0, open_min=True)
    params["norm_ratios"] = check_ratios("norm_ratios", params["norm_ratios"])
    for name in ("seeds", "observed_dim", "examples", "lbfgs_iterations", "sgd_epochs", "nonlinear_epochs",
                 "nonlinear_seeds", "hidden_dim"):
        check_int(name, params[name], minimum=1)
    check_int("threads", params["threads"], minimum=0)
    check_int("latent_dim", params["latent_dim"], minimum=2)
    if params["latent_dim"] >= params["observed_dim"]:
        raise ParameterError(
            f"latent_dim={params['latent_dim']} must be smaller than observed_dim={params['observed_dim']}"
        )
    if params["examples"] <= params["observed_dim"]:
        raise ParameterError(f"examples={params['examples']} must exceed observed_dim={params['observed_dim']}")
    params["noise"] = check_float("noise", params["noise"], minimum=0.0, open_min=True)
    params["nonlinear_learning_rate"] = check_float("nonlinear_learning_rate", params["nonlinear_learning_rate"],
                                                    minimum=0.0, maximum=1.0, open_min=True)
    return params
