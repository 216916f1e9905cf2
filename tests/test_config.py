"""Chapter parameters: profiles, overrides and the errors bad values get."""

import pytest
import torch

from companion.config import (ParameterError, check_choices, check_float, check_int, resolve,
                              resolve_device)

PROFILES = {"cpu": {"epochs": 2, "dataset": "digits"}, "paper": {"epochs": 2000, "dataset": "mnist"}}


def test_none_takes_the_profile_value_and_given_values_win():
    params = resolve(PROFILES, "paper", epochs=None, dataset="digits", seed=3, device="cpu")
    assert params == {"epochs": 2000, "dataset": "digits", "profile": "paper", "seed": 3,
                      "device": "cpu", "data_dir": None}


def test_unknown_profile_lists_the_valid_ones():
    with pytest.raises(ParameterError, match=r"profile='gpu'.*\['cpu', 'paper'\]"):
        resolve(PROFILES, "gpu")


def test_unknown_parameter_is_named():
    with pytest.raises(ParameterError, match="epoch"):
        resolve(PROFILES, "cpu", epoch=3)


@pytest.mark.parametrize("value", [-1, 0, 2.5, "3", True])
def test_sizes_must_be_positive_integers(value):
    with pytest.raises(ParameterError, match="epochs"):
        check_int("epochs", value)


def test_lists_of_choices_accept_comma_strings_and_name_the_bad_entry():
    assert check_choices("models", "vae, vlae", ["vae", "vlae"]) == ["vae", "vlae"]
    with pytest.raises(ParameterError, match="'iaf'.*valid values"):
        check_choices("models", ["vae", "iaf"], ["vae", "vlae"])


def test_float_bounds():
    assert check_float("p", 0.25, 0.0, 1.0) == 0.25
    with pytest.raises(ParameterError, match=r"p=1.5"):
        check_float("p", 1.5, 0.0, 1.0)
    with pytest.raises(ParameterError, match="p=nan"):
        check_float("p", float("nan"), 0.0, 1.0)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "", 0])
def test_malformed_devices_list_the_valid_values(device):
    with pytest.raises(ParameterError, match="valid values"):
        resolve(PROFILES, "cpu", device=device)


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
    assert resolve(PROFILES, "cpu", seed=2**32 - 1)["seed"] == 2**32 - 1
    with pytest.raises(ParameterError, match=r"seed=99999999999999999999 must be an integer in"):
        resolve(PROFILES, "cpu", seed=99999999999999999999)
