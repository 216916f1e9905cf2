"""Chapter parameters: profiles, the paper's settings, and errors that name the parameter."""

import pytest

from companion.config import ParameterError
from companion.splitnet.settings import GRID, PROFILES, differences_from_paper, ramp_epochs, settings


def test_profiles_have_the_same_parameters_and_valid_values():
    assert set(PROFILES["cpu"]) == set(PROFILES["paper"]) == set(PROFILES["cpu-long"])
    for profile in PROFILES:
        settings(profile=profile, devices=["cpu"])


def test_paper_profile_is_the_authors_cifar100_setup():
    params = settings(profile="paper", devices=["cpu"])
    assert (params["dataset"], params["depth"], params["width"], params["groups"]) == ("cifar100", 16, 8, "2-2-2")
    assert params["batch_size"] == 90 and params["gammas"] == [1.0, 1.0, 10.0]
    assert [round(f * params["epochs"]) for f in params["lr_decay_at"]] == [240, 300]
    assert [round(f * params["finetune_epochs"]) for f in params["finetune_lr_decay_at"]] == [100, 140]
    assert (params["weight_decay"], params["finetune_weight_decay"]) == (1e-4, 5e-4)


def test_grouping_options_default_to_the_papers_procedure_in_the_paper_profile():
    params = settings(profile="paper", devices=["cpu"])
    assert (params["grouping_init"], params["gamma_ramp"]) == ("scratch", 0.0)
    assert (params["assignment_lr_scale"], params["dropout"]) == (1.0, 0.5)
    long = settings(profile="cpu-long")
    assert (long["dataset"], long["grouping_init"], long["gamma_ramp"]) == ("mnist5k", "baseline", 0.5)
    assert (settings()["grouping_init"], settings()["gamma_ramp"]) == ("baseline", 0.5)
    assert len(GRID["cpu-long"]["seed"]) >= 3
    params = settings(grouping_init="baseline", gamma_ramp=0.5)
    assert ramp_epochs(params["gamma_ramp"], params["epochs"]) == params["epochs"] // 2


def test_grid_values_are_valid():
    for profile, grid in GRID.items():
        for name, values in grid.items():
            for value in values:
                settings(profile=profile, devices=["cpu"], **{name: value})


def test_strings_from_papermill_are_parsed():
    params = settings(gammas="1,0.5,10", devices="cpu,cpu", groups="1-2-4")
    assert params["gammas"] == [1.0, 0.5, 10.0] and params["devices"] == ["cpu", "cpu"]


@pytest.mark.parametrize(("given", "named"), [
    ({"groups": "2-1-2"}, "groups='2-1-2'"),
    ({"dataset": "imagenet"}, "dataset='imagenet'"),
    ({"epochs": 0}, "epochs=0"),
    ({"depth": 12}, "depth=12"),
    ({"gammas": [1, 1]}, "gammas="),
    ({"devices": ["tpu"]}, "device='tpu'"),
    ({"dropout": 1.5}, "dropout=1.5"),
    ({"grouping_init": "pretrained"}, "grouping_init='pretrained'"),
    ({"gamma_ramp": -0.1}, "gamma_ramp=-0.1"),
    ({"gamma_ramp": 1.0}, "gamma_ramp=1.0"),
    ({"gamma_ramp": 0.99}, "gamma_ramp=0.99"),  # round(0.99 · 24) = 24 epochs: none left
    ({"gamma_ramp": "half"}, "gamma_ramp='half'"),
])
def test_bad_values_raise_naming_the_parameter(given, named):
    with pytest.raises(ParameterError, match=named.replace("[", r"\[")):
        settings(**given)


def test_differences_from_paper_lists_only_what_differs():
    rows = {row["parameter"]: row for row in differences_from_paper()}
    assert rows["dropout"]["paper"] == 0.5 and rows["dropout"]["cpu"] == 0.0
    assert rows["assignment_lr_scale"]["cpu-long"] == 100.0
    assert "batch_size" in rows and "lr" not in rows and "gammas" not in rows
    assert "devices" not in rows and "threads" not in rows
