"""Chapter parameters: typed settings, profiles, the paper's settings, and errors that name the parameter."""

import re
from dataclasses import FrozenInstanceError, fields, replace
from pathlib import Path

import pytest

from companion.config import ParameterError, resolve
from companion.splitnet.settings import (
    GRID,
    PROFILES,
    SplitNetSettings,
    differences_from_paper,
    ramp_epochs,
    schedules,
)


def settings(profile="cpu", **given):
    return resolve(PROFILES, profile, **given)


def test_profiles_are_validated_settings_of_one_class():
    cpu = PROFILES["cpu"]
    assert cpu == SplitNetSettings()  # the class's defaults are the cpu profile
    for name, profile in PROFILES.items():
        assert type(profile) is SplitNetSettings and profile.profile == name
        # every profile is the cpu profile with some fields replaced, and every field validates
        assert replace(cpu, **{field.name: getattr(profile, field.name) for field in fields(profile)}) == profile
        settings(name, devices=["cpu"])
    with pytest.raises(FrozenInstanceError):
        cpu.epochs = 3


def test_paper_profile_is_the_authors_cifar100_setup():
    params = settings("paper", devices=["cpu"])
    assert (params.dataset, params.depth, params.width, params.groups) == ("cifar100", 16, 8, "2-2-2")
    assert params.batch_size == 90 and params.gammas == (1.0, 1.0, 10.0)
    assert [round(f * params.epochs) for f in params.lr_decay_at] == [240, 300]
    assert [round(f * params.finetune_epochs) for f in params.finetune_lr_decay_at] == [100, 140]
    assert (params.weight_decay, params.finetune_weight_decay) == (1e-4, 5e-4)


def test_grouping_options_default_to_the_papers_procedure_in_the_paper_profile():
    params = settings("paper", devices=["cpu"])
    assert (params.grouping_init, params.gamma_ramp) == ("scratch", 0.0)
    assert (params.assignment_lr_scale, params.dropout) == (1.0, 0.5)
    long = settings("cpu-long")
    assert (long.dataset, long.grouping_init, long.gamma_ramp) == ("mnist5k", "baseline", 0.0)
    assert (settings().grouping_init, settings().gamma_ramp) == ("baseline", 0.0)
    assert len(GRID["cpu-long"]["seed"]) >= 5  # seeds are the unit of the accuracy claims
    params = settings(grouping_init="baseline", gamma_ramp=0.5)
    assert ramp_epochs(params.gamma_ramp, params.epochs) == params.epochs // 2


def test_grid_values_are_valid():
    for profile, grid in GRID.items():
        for name, values in grid.items():
            for value in values:
                settings(profile, devices=["cpu"], **{name: value})


def test_strings_from_papermill_are_parsed_and_recorded_as_lists():
    params = settings(gammas="1,0.5,10", devices="cpu,cpu", groups="1-2-4")
    assert params.gammas == (1.0, 0.5, 10.0) and params.devices == ("cpu", "cpu")
    record = params.record()
    assert record["gammas"] == [1.0, 0.5, 10.0] and record["devices"] == ["cpu", "cpu"]
    assert record["lr_decay_at"] == [0.6, 0.75] and record["gamma_ramp"] == 0.0
    assert settings(gamma_ramp=0).record()["gamma_ramp"] == 0.0  # a float, as before
    assert settings(gammas=[1, 1, 10]).gammas == (1.0, 1.0, 10.0)


def test_unknown_parameters_and_profiles_are_refused():
    with pytest.raises(ParameterError, match="stepz"):
        settings(stepz=8)
    with pytest.raises(ParameterError, match="profile='gpu'"):
        settings("gpu")


@pytest.mark.parametrize(("given", "named"), [
    ({"groups": "2-1-2"}, "groups='2-1-2'"),
    ({"dataset": "imagenet"}, "dataset='imagenet'"),
    ({"epochs": 0}, "epochs=0"),
    ({"depth": 12}, "depth=12"),
    ({"gammas": [1, 1]}, "gammas="),
    ({"devices": ["tpu"]}, "device='tpu'"),
    ({"devices": []}, "devices="),
    ({"dropout": 1.5}, "dropout=1.5"),
    ({"augment": "yes"}, "augment='yes'"),
    ({"grouping_init": "pretrained"}, "grouping_init='pretrained'"),
    ({"gamma_ramp": -0.1}, "gamma_ramp=-0.1"),
    ({"gamma_ramp": 1.0}, "gamma_ramp=1.0"),
    ({"gamma_ramp": 0.99}, "gamma_ramp=0.99"),  # round(0.99 · 24) = 24 epochs: none left
    ({"gamma_ramp": "half"}, "gamma_ramp='half'"),
])
def test_bad_values_raise_naming_the_parameter(given, named):
    with pytest.raises(ParameterError, match=named.replace("[", r"\[")):
        settings(**given)
    with pytest.raises(ParameterError, match=named.replace("[", r"\[")):
        SplitNetSettings(**given)  # constructing the class validates the same way


def test_schedules_follow_the_parameters():
    params = settings("cpu-long")
    phases = schedules(params)
    assert phases["baseline"].epochs == phases["random_split"].epochs == 12
    assert (phases["grouping"].epochs, phases["finetune"].epochs) == (8, 4)
    assert phases["finetune"].weight_decay == 5e-4 and phases["random_split"].weight_decay == 1e-4


def test_differences_from_paper_lists_only_what_differs():
    rows = {row["parameter"]: row for row in differences_from_paper()}
    assert rows["dropout"]["paper"] == 0.5 and rows["dropout"]["cpu"] == 0.0
    assert rows["assignment_lr_scale"]["cpu-long"] == 100.0
    assert "batch_size" in rows and "lr" not in rows and "gammas" not in rows
    assert "devices" not in rows and "threads" not in rows and "profile" not in rows


def test_the_notebook_reads_its_settings_first_from_exactly_these_parameters():
    source = (Path(__file__).resolve().parents[1] / "notebooks" / "splitnet.py").read_text()
    cells = source.split("# %%")
    parameters = next(index for index, cell in enumerate(cells) if cell.startswith(' tags=["parameters"'))
    assert set(re.findall(r"^(\w+) =", cells[parameters], re.MULTILINE)) == set(SplitNetSettings.parameters())
    first = cells[parameters + 1].strip().splitlines()[1:]  # after the cell's tags
    assert first[:3] == ["from companion.chapters import chapter_settings", "",
                         'params = chapter_settings("splitnet", globals())']
