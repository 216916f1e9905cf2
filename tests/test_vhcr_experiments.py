"""Chapter parameters and the training run of the VHCR chapter."""

import warnings
from dataclasses import fields, replace

import pandas as pd
import pytest
import torch

from companion.config import ParameterError, resolve
from companion.vhcr import GRID, PROFILES, VARIANTS, VHCRSettings
from companion.reproduce.plan import subgrids
from companion.vhcr.corpora import DialogueData
from companion.vhcr.designed import DESIGN
from companion.vhcr.experiments import (build_model, evaluation_table, kl_history, metric_rows, paper_comparison,
                                        train_variant)
from companion.vhcr.models import VHCR
from companion.vhcr.text import SPECIAL_TOKENS, Vocabulary, encode_conversations


def settings(profile="cpu", **given):
    return resolve(PROFILES, profile, **given)


def test_profiles_are_the_cpu_settings_with_what_differs_replaced():
    cpu = PROFILES["cpu"]
    assert cpu == VHCRSettings()
    for profile, values in PROFILES.items():
        assert isinstance(values, VHCRSettings) and values.profile == profile
        differing = {f.name: getattr(values, f.name) for f in fields(values)
                     if getattr(values, f.name) != getattr(cpu, f.name)}
        assert replace(cpu, **differing) == values
        assert VHCRSettings(**values.record()) == values  # every field validates, lists become tuples again
    for profile, grids in GRID.items():
        for grid in subgrids(grids):
            assert set(grid) <= set(VHCRSettings.parameters())
    paper = settings("paper")
    assert (paper.embedding_size, paper.encoder_size, paper.latent_size) == (500, 1000, 100)
    assert (paper.batch_size, paper.learning_rate, paper.epochs) == (80, 1e-4, 30)


@pytest.mark.parametrize(("given", "named"), [
    ({"models": "hred,gpt"}, "'gpt'"), ({"models": ""}, "models is empty"), ({"dataset": "reddit"}, "dataset='reddit'"),
    ({"utterance_drop": 1.0}, "utterance_drop=1.0"), ({"epochs": 0}, "epochs=0"),
    ({"decoding": "nucleus"}, "decoding='nucleus'"), ({"max_turns": 1}, "max_turns=1"),
    ({"learning_rate": 0.0}, "learning_rate=0.0"), ({"latent_size": 2.5}, "latent_size=2.5"),
    ({"word_vectors": "/nonexistent/vec.txt"}, "word_vectors='/nonexistent/vec.txt'"),
    ({"word_vectors": 5}, "word_vectors=5"), ({"seed": -1}, "seed=-1"),
])
def test_bad_parameters_are_named(given, named):
    with pytest.raises(ParameterError, match=named):
        settings(**given)


def test_models_parameter_accepts_comma_string_or_list_and_records_a_list():
    assert settings(models="vhcr, hred").models == ("vhcr", "hred")
    assert settings(models=["vhred_wd"]).models == ("vhred_wd",)
    assert settings(models="vhcr, hred").record()["models"] == ["vhcr", "hred"]
    assert repr(settings(learning_rate=1).record()["learning_rate"]) == "1"  # recorded as given (keys stay)


def test_a_drop_rate_no_model_applies_is_warned_about():
    with pytest.warns(UserWarning, match=r"word_drop=0\.5 is not used.*'vhred_wd'"):
        settings(word_drop=0.5)
    with pytest.warns(UserWarning, match=r"utterance_drop=0\.5 is not used"):
        settings(models="hred", utterance_drop=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        settings(models="vhred_wd", word_drop=0.5)
        settings(utterance_drop=0.5)
        settings(models="hred")  # the defaults, unused, are no choice of the user's


def _tiny_data():
    generator = torch.Generator().manual_seed(0)
    words = [f"w{i}" for i in range(12)]
    conversations = [[[words[int(i)] for i in torch.randint(0, 12, (4,), generator=generator)] for _ in range(4)]
                     for _ in range(12)]
    vocabulary = Vocabulary(SPECIAL_TOKENS + tuple(words))
    padded = encode_conversations(conversations, vocabulary, 10, 30)
    return DialogueData("tiny", vocabulary, padded, padded.subset(4), padded.subset(4), conversations[:4])


def test_variants_build_the_right_models():
    params = settings(embedding_size=4, encoder_size=4, context_size=4, decoder_size=4, latent_size=2)
    vhcr_ud = build_model("vhcr_ud", 20, params)
    assert isinstance(vhcr_ud, VHCR) and vhcr_ud.utterance_drop == 0.25 and vhcr_ud.word_drop == 0.0
    assert build_model("vhcr", 20, params).utterance_drop == 0.0
    assert build_model("vhred_wd", 20, params).word_drop == 0.25
    assert build_model("vhred", 20, params).word_drop == 0.0
    assert set(VARIANTS) == {"hred", "vhred", "vhred_wd", "vhcr", "vhcr_ud"}


def test_training_logs_annealed_kl_and_evaluation_table():
    params = settings(embedding_size=8, encoder_size=8, context_size=8, decoder_size=8, latent_size=2,
                      batch_size=4, epochs=2, kl_annealing_steps=4)
    data = _tiny_data()
    trained = {variant: train_variant(variant, data, params) for variant in ("hred", "vhcr_ud")}
    steps = trained["vhcr_ud"].history.steps
    assert steps["kl_weight"].tolist() == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
    assert (steps["kl_conversation"] > 0).all() and (steps["kl_utterance"] > 0).all()
    history = kl_history(trained)
    assert set(history["model"]) == {"VHCR + utterance drop"}
    assert kl_history({"hred": trained["hred"]}).empty  # no latent: no curve, and no error
    table = evaluation_table(trained, data.test, samples=5, seed=0)
    assert list(table.index) == ["HRED", "VHCR + utterance drop"]
    assert table.loc["HRED", "NLL method"] == "exact"
    assert table.loc["HRED", "KL"] == 0.0
    reported = pd.DataFrame({"dataset": ["cornell", "cornell", "ubuntu"], "model": ["VHCR + utterance drop"] * 3,
                             "metric": ["NLL", "KL", "NLL"], "value": [4.0, 0.5, 9.0], "source": ["s"] * 3})
    comparison = paper_comparison(table, reported, "tiny", "cornell")
    assert comparison.loc["VHCR + utterance drop", "paper NLL (cornell)"] == 4.0
    assert comparison.loc["HRED", "paper source"] == "not available"
    embedding = pd.DataFrame({"Average": [0.5, 0.6]}, index=pd.Index(["HRED", "VHCR + utterance drop"], name="model"))
    rows = {row["variant"]: row for row in metric_rows(table, trained, embedding)}
    assert rows["hred"]["embedding Average"] == 0.5 and "embedding Average" not in metric_rows(table, trained)[0]
    history = rows["vhcr_ud"]["train history"]
    assert [entry["step"] for entry in history] == [3, 6]  # 12 conversations, batches of 4, 2 epochs
    assert history[-1]["kl_conversation"] == rows["vhcr_ud"]["train KL z_conv (last epoch)"] > 0
    assert all(entry["kl_utterance"] == 0.0 for entry in rows["hred"]["train history"])


def test_cpu_long_trains_all_conversations_with_the_cpu_annealing_ratio():
    long, cpu = settings("cpu-long"), settings("cpu")
    assert long.train_conversations == 0 and set(long.models) == {"hred", "vhred", "vhcr", "vhcr_ud"}
    steps = long.epochs * -(-2757 // long.batch_size)
    assert long.kl_annealing_steps / steps == pytest.approx(cpu.kl_annealing_steps / (4 * 19), abs=0.01)
    chitchat, designed = subgrids(GRID["cpu-long"])
    assert len(chitchat["seed"]) >= 3 and "dataset" not in chitchat
    # the designed corpus: the same annealing ratio over its 8,000 conversations, three seeds per drop rate
    assert designed["dataset"] == ["designed"] and len(designed["seed"]) >= 3
    designed_steps = long.epochs * -(-DESIGN.conversations[0] // long.batch_size)
    assert designed["kl_annealing_steps"][0] / designed_steps == pytest.approx(0.6)
    assert 0.25 in designed["utterance_drop"]
