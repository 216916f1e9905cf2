"""Chapter parameters: profile values, overrides and errors that name the parameter."""

import pytest

from companion.config import ParameterError
from companion.ppca.settings import GRID, PROFILES, settings


def test_profiles_and_grid_resolve():
    for profile in PROFILES:
        assert settings(profile)["profile"] == profile
        for name, values in GRID[profile].items():
            for value in values:
                assert settings(profile, **{name: value})[name] == value


def test_norm_ratios_accept_a_papermill_string():
    assert settings(norm_ratios="[1, 1.5, 2]")["norm_ratios"] == [1.0, 1.5, 2.0]
    assert settings(norm_ratios=3)["norm_ratios"] == [3.0]


@pytest.mark.parametrize(("given", "named"), [
    ({"angle": 120.0}, "angle=120.0"),
    ({"angle": 0}, "angle=0"),
    ({"norm_ratios": "1, two"}, "norm_ratios"),
    ({"norm_ratios": [0.5, 2.0]}, "norm_ratios=0.5"),
    ({"seeds": 0}, "seeds=0"),
    ({"latent_dim": 6}, "latent_dim=6"),
    ({"noise": -0.1}, "noise=-0.1"),
    ({"sgd_epochs": -1}, "sgd_epochs=-1"),
    ({"profile": "laptop"}, "profile='laptop'"),
])
def test_bad_values_name_the_parameter(given, named):
    with pytest.raises(ParameterError, match=named.replace("[", r"\[").replace(".", r"\.")):
        settings(**given)
