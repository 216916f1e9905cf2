"""Chapter parameters: profiles, overrides, normalisation and errors that name the parameter."""

import json
from dataclasses import fields, replace

import pytest

from companion.config import ParameterError, resolve
from companion.paths import repository_root
from companion.ppca.settings import GRID, PROFILES, PPCASettings
from companion.results import run_key


def test_profiles_are_the_cpu_profile_with_some_values_replaced_and_validate():
    cpu = PROFILES["cpu"]
    assert cpu == PPCASettings()
    for profile, chosen in PROFILES.items():
        assert chosen.profile == profile and isinstance(chosen, PPCASettings)
        assert replace(cpu, **{f.name: getattr(chosen, f.name) for f in fields(chosen)}) == chosen
        assert resolve(PROFILES, profile) == chosen
        for name, values in GRID[profile].items():
            for value in values:
                assert getattr(resolve(PROFILES, profile, **{name: value}), name) == value
    assert PROFILES["cpu-long"].examples == 2 * cpu.examples and PROFILES["cpu-long"].angle == cpu.angle


def test_norm_ratios_accept_a_papermill_string_and_are_recorded_as_a_list():
    assert resolve(PROFILES, norm_ratios="[1, 1.5, 2]").norm_ratios == (1.0, 1.5, 2.0)
    assert resolve(PROFILES, norm_ratios=3).norm_ratios == (3.0,)
    assert resolve(PROFILES, norm_ratios=[1, 2]).record()["norm_ratios"] == [1.0, 2.0]


def test_numbers_are_recorded_as_floats_so_run_keys_do_not_depend_on_how_they_were_typed():
    typed = resolve(PROFILES, angle=60, noise=1, nonlinear_learning_rate=1)
    assert [type(value) for value in (typed.angle, typed.noise, typed.nonlinear_learning_rate)] == [float] * 3
    assert run_key("ppca", resolve(PROFILES, angle=30).record()) == run_key(
        "ppca", resolve(PROFILES, angle=30.0).record())


def test_every_committed_record_keeps_its_key():
    records = [json.loads(path.read_text()) for path in
               sorted((repository_root() / "data" / "results" / "ppca").glob("*.json"))]
    for record in records:
        if set(record["params"]) == set(PPCASettings.parameters()):
            assert run_key("ppca", resolve(PROFILES, **record["params"]).record()) == record["key"]


def test_a_data_dir_is_ignored_with_a_warning_naming_it():
    with pytest.warns(UserWarning, match="data_dir="):
        assert resolve(PROFILES, data_dir="/data").data_dir == "/data"


@pytest.mark.parametrize(("given", "named"), [
    ({"angle": 120.0}, "angle=120.0"),
    ({"angle": 0}, "angle=0"),
    ({"norm_ratios": "1, two"}, "norm_ratios"),
    ({"norm_ratios": [0.5, 2.0]}, "norm_ratios=0.5"),
    ({"norm_ratios": []}, "norm_ratios is empty"),
    ({"seeds": 0}, "seeds=0"),
    ({"latent_dim": 6}, "latent_dim=6"),
    ({"examples": 6}, "examples=6"),
    ({"noise": -0.1}, "noise=-0.1"),
    ({"sgd_epochs": -1}, "sgd_epochs=-1"),
    ({"threads": -1}, "threads=-1"),
    ({"nonlinear_learning_rate": 2.0}, "nonlinear_learning_rate=2.0"),
    ({"profile": "laptop"}, "profile='laptop'"),
    ({"stepz": 8}, "stepz"),
])
def test_bad_values_name_the_parameter(given, named):
    with pytest.raises(ParameterError, match=named.replace("[", r"\[").replace(".", r"\.")):
        resolve(PROFILES, **given)


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        PROFILES["cpu"].angle = 30.0
