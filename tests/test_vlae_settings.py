"""companion.vlae.settings: profiles, grid and parameter validation."""

import pytest

from companion.config import ParameterError
from companion.vlae import GRID, PROFILES, settings


def test_profiles_resolve_and_grid_names_are_parameters():
    for profile in PROFILES:
        params = settings(profile=profile)
        assert set(GRID[profile]) <= set(params)
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


