"""companion.vlae.settings: typed settings, profiles, grid and parameter validation."""

import dataclasses

import pytest

from companion.config import ParameterError, resolve
from companion.reproduce.plan import subgrids
from companion.vlae import GRID, PROFILES, VLAESettings


def test_profiles_resolve_and_grid_names_are_parameters():
    for profile in PROFILES:
        params = resolve(PROFILES, profile)
        assert params.profile == profile
        assert all(set(grid) <= set(params.parameters()) for grid in subgrids(GRID[profile]))
    assert resolve(PROFILES, "cpu", steps=8).steps == 8
    assert resolve(PROFILES, "cpu", models="vae,vlae").models == ("vae", "vlae")
    assert resolve(PROFILES, "cpu", models=["vae", "vlae"]).record()["models"] == ["vae", "vlae"]


def test_profiles_are_the_cpu_settings_with_their_own_changes():
    """Every profile is a VLAESettings whose fields validate; they differ from ``cpu`` only
    where the module says so (the sizes, data and budget), never in the common parameters."""
    cpu = PROFILES["cpu"]
    assert cpu == VLAESettings()
    for name, profile in PROFILES.items():
        assert isinstance(profile, VLAESettings) and profile.profile == name
        assert dataclasses.replace(profile) == profile  # re-validates every field
        assert (profile.seed, profile.device, profile.data_dir) == (cpu.seed, cpu.device, cpu.data_dir)
    long = PROFILES["cpu-long"]
    assert (long.dataset, long.epochs, long.latent_dim, long.hidden_dim) == ("mnist5k", 100, 16, 200)
    assert PROFILES["paper"].models == ("vae", "savae", "savae_authors", "hf", "iaf", "vlae")


def test_floats_and_lists_are_recorded_as_the_old_settings_did():
    params = resolve(PROFILES, "cpu", svi_lr=1, models=" vae , vlae ")
    assert params.record()["svi_lr"] == 1 and isinstance(params.record()["svi_lr"], int)
    assert params.record()["models"] == ["vae", "vlae"]


@pytest.mark.parametrize(("name", "value"), [
    ("dataset", "imagenet"), ("likelihood", "poisson"), ("models", "vae,iwae"), ("steps", 0),
    ("epochs", 1.5), ("learning_rate", 0.0), ("damping", "cosine"), ("init", "xavier"),
    ("threads", -1), ("svi_lr", "fast"), ("figure_epochs", True),
])
def test_bad_values_name_the_parameter(name, value):
    with pytest.raises(ParameterError, match=name):
        resolve(PROFILES, "cpu", **{name: value})
    with pytest.raises(ParameterError, match=name):
        VLAESettings(**{name: value})


def test_unknown_parameters_and_profiles_are_named():
    with pytest.raises(ParameterError, match="stepz"):
        resolve(PROFILES, "cpu", stepz=8)
    with pytest.raises(ParameterError, match="laptop"):
        resolve(PROFILES, "laptop")


def test_bernoulli_needs_a_binary_data_set():
    with pytest.raises(ParameterError, match="bernoulli"):
        resolve(PROFILES, "cpu", likelihood="bernoulli", dataset="cifar10")


def test_the_settings_module_is_reachable_by_its_name():
    import companion.vlae.settings as module

    assert module.PROFILES is PROFILES and not callable(getattr(module, "settings", None))


def test_the_paper_plan_covers_table_1_with_three_seeds():
    """Every column of the paper's Table 1 (five Gaussian data sets, binarised MNIST) at every
    T, three seeds each."""
    points = {(g["likelihood"][0], dataset, steps, seed) for g in subgrids(GRID["paper"])
              for dataset in g["dataset"] for steps in g["steps"] for seed in g["seed"]}
    datasets = {(likelihood, dataset) for likelihood, dataset, _, _ in points}
    assert datasets == {("gaussian", d) for d in ("mnist", "omniglot", "fashion_mnist", "svhn",
                                                  "cifar10")} | {("bernoulli", "mnist")}
    assert len(points) == 6 * 4 * 3
