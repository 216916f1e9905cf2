"""companion.vlae.settings: profiles, grid and parameter validation."""

import pytest

from companion.config import ParameterError
from companion.reproduce.plan import subgrids
from companion.vlae import GRID, PROFILES, settings


def test_profiles_resolve_and_grid_names_are_parameters():
    for profile in PROFILES:
        params = settings(profile=profile)
        assert all(set(grid) <= set(params) for grid in subgrids(GRID[profile]))
    assert settings(steps=8)["steps"] == 8
    assert settings(models="vae,vlae")["models"] == ["vae", "vlae"]


@pytest.mark.parametrize(("name", "value"), [
    ("dataset", "imagenet"), ("likelihood", "poisson"), ("models", "vae,iwae"), ("steps", 0),
    ("epochs", 1.5), ("learning_rate", 0.0), ("damping", "cosine"), ("init", "xavier"),
])
def test_bad_values_name_the_parameter(name, value):
    with pytest.raises(ParameterError, match=name):
        settings(**{name: value})


def test_bernoulli_needs_a_binary_data_set():
    with pytest.raises(ParameterError, match="bernoulli"):
        settings(likelihood="bernoulli", dataset="cifar10")




def test_the_paper_plan_covers_table_1_with_three_seeds():
    """Every column of the paper's Table 1 (five Gaussian data sets, binarised MNIST) at every
    T, three seeds each."""
    points = {(g["likelihood"][0], dataset, steps, seed) for g in subgrids(GRID["paper"])
              for dataset in g["dataset"] for steps in g["steps"] for seed in g["seed"]}
    datasets = {(likelihood, dataset) for likelihood, dataset, _, _ in points}
    assert datasets == {("gaussian", d) for d in ("mnist", "omniglot", "fashion_mnist", "svhn",
                                                  "cifar10")} | {("bernoulli", "mnist")}
    assert len(points) == 6 * 4 * 3
