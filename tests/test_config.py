"""Chapter settings: typed profiles, overrides, the notebook's namespace and the errors bad
values get."""

import warnings
from dataclasses import FrozenInstanceError, dataclass, replace

import pytest
import torch

from companion.config import (ChapterSettings, ParameterError, check_choices, check_float, check_int,
                              from_notebook, resolve, resolve_device)


@dataclass(frozen=True, kw_only=True)
class ToySettings(ChapterSettings):
    """A chapter with two parameters, one a list given as a comma-separated string."""

    epochs: int = 2
    models: tuple[str, ...] = ("vae",)

    def validate(self) -> None:
        check_int("epochs", self.epochs)
        self.normalise("models", tuple(check_choices("models", self.models, ["vae", "vlae"])))


CPU = ToySettings()
PROFILES = {"cpu": CPU, "paper": replace(CPU, profile="paper", epochs=2000, models=("vae", "vlae"))}


def test_none_takes_the_profile_value_and_given_values_win():
    settings = resolve(PROFILES, "paper", epochs=None, models="vlae", seed=3, device="cpu")
    assert settings == replace(PROFILES["paper"], models=("vlae",), seed=3, device="cpu")
    assert settings.record() == {"profile": "paper", "seed": 3, "device": "cpu", "data_dir": None,
                                 "epochs": 2000, "models": ["vlae"]}


def test_settings_are_frozen_and_validated_on_every_replace():
    with pytest.raises(FrozenInstanceError):
        CPU.epochs = 3
    with pytest.raises(ParameterError, match="epochs=0"):
        replace(CPU, epochs=0)


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ParameterError, match=r"profile='gpu'.*\['cpu', 'paper'\]"):
        resolve(PROFILES, "gpu")


def test_unknown_parameter_is_named():
    with pytest.raises(ParameterError, match="epoch"):
        resolve(PROFILES, "cpu", epoch=3)


def test_a_notebook_namespace_gives_the_settings_and_a_stray_name_stops_it():
    namespace = {"profile": "paper", "seed": 1, "device": "auto", "data_dir": None, "epochs": None,
                 "models": None, "In": [], "resolve": resolve}
    assert from_notebook(PROFILES, namespace) == replace(PROFILES["paper"], seed=1)
    with pytest.raises(ParameterError, match=r"\['stepz'\].*'epochs'"):
        from_notebook(PROFILES, {**namespace, "stepz": 8})


def test_the_parameters_are_the_fields_common_ones_first():
    assert ToySettings.parameters() == ("profile", "seed", "device", "data_dir", "epochs", "models")


@pytest.mark.parametrize("value", [-1, 0, 2.5, "3", True])
def test_sizes_must_be_positive_integers(value):
    with pytest.raises(ParameterError, match="epochs"):
        check_int("epochs", value)


def test_lists_of_choices_accept_comma_strings_and_name_the_bad_entry():
    assert check_choices("models", "vae, vlae", ["vae", "vlae"]) == ["vae", "vlae"]
    with pytest.raises(ParameterError, match="'iaf'.*valid values"):
        check_choices("models", ["vae", "iaf"], ["vae", "vlae"])


def test_float_bounds_and_non_finite_numbers():
    assert check_float("p", 0.25, 0.0, 1.0) == 0.25
    with pytest.raises(ParameterError, match=r"p=1.5"):
        check_float("p", 1.5, 0.0, 1.0)
    for value in (float("nan"), float("inf")):
        with pytest.raises(ParameterError, match=f"p={value} must be a finite number"):
            check_float("p", value)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", 0])
def test_malformed_devices_list_the_valid_values(device):
    with pytest.raises(ParameterError, match="valid values"):
        resolve(PROFILES, "cpu", device=device)


def test_data_dir_must_be_a_path():
    with pytest.raises(ParameterError, match="data_dir=5"):
        resolve(PROFILES, "cpu", data_dir=5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_asked_for_but_absent_is_an_error():
    with pytest.raises(ParameterError, match="CUDA is not available"):
        resolve(PROFILES, "cpu", device="cuda")
    with pytest.raises(ParameterError, match="cuda:1"):
        resolve_device("cuda:1")


def test_auto_picks_cuda_only_when_present():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_a_seed_too_large_for_the_generators_is_named_at_once():
    assert resolve(PROFILES, "cpu", seed=2**32 - 1).seed == 2**32 - 1
    with pytest.raises(ParameterError, match=r"seed=99999999999999999999 must be an integer in"):
        resolve(PROFILES, "cpu", seed=99999999999999999999)


def test_a_parameter_the_run_does_not_use_is_warned_about():
    from companion.config import UnusedParameterWarning
    from companion.data.settings import PROFILES as DATA

    with pytest.warns(UnusedParameterWarning, match=r"data_dir='/nowhere' is not used: dataset='digits' ships"):
        resolve(DATA, "cpu", data_dir="/nowhere")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve(DATA, "cpu", dataset="mnist", data_dir="/nowhere")  # read from there: no warning


def test_a_parameter_added_later_keeps_the_earlier_records_keys():
    from dataclasses import dataclass
    from typing import Any, ClassVar

    from companion.config import ChapterSettings

    @dataclass(frozen=True, kw_only=True)
    class Before(ChapterSettings):
        steps: int = 4

    @dataclass(frozen=True, kw_only=True)
    class After(ChapterSettings):
        steps: int = 4
        transform: bool = False
        ADDED_LATER: ClassVar[dict[str, Any]] = {"transform": False}

    assert After().record() == Before().record()  # the same run, the same record and key
    assert After(transform=True).record() == {**Before().record(), "transform": True}
    assert "transform" in After.parameters()  # still a parameter of the notebook
