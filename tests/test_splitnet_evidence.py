"""The chapter's evidence tables on constructed records."""

import pandas as pd
import pytest
import torch

from companion.splitnet import evidence


def _records(partitions, initial, classifier, learned_correct, random_correct):
    """Rows as load_runs gives them: per seed a baseline, a SplitNet and a SplitNet-R row."""
    rows = []
    for seed, partition in enumerate(partitions):
        base = {"param_dataset": "mnist5k", "groups": "2-2-2", "param_seed": seed, "run_id": f"r{seed}"}
        rows += [
            {**base, "model": "baseline", "test_error": 1.0, "classifier_partition": classifier},
            {**base, "model": "SplitNet", "class_partition": partition, "initial_partition": initial[seed],
             "test_correct": learned_correct[seed]},
            {**base, "model": "SplitNet-R", "test_correct": random_correct[seed]},
        ]
    return pd.DataFrame(rows)


def test_codes_round_trip():
    partition = torch.tensor([0, 1, 1, 0, 3])
    assert evidence.encode_partition(partition) == "01103"
    assert torch.equal(evidence.decode_partition("01103"), partition)
    correct = torch.tensor([True, False, True])
    assert evidence.encode_correct(correct) == "101"
    assert torch.equal(evidence.decode_correct("101"), correct)
    with pytest.raises(ValueError, match="at most 10 groups"):
        evidence.encode_partition(torch.tensor([0, 10]))


def test_grouping_record_of_frozen_assignments_keeps_every_class():
    logits = torch.randn(2, 10, generator=torch.Generator().manual_seed(0))
    record = evidence.grouping_record(logits, logits * 50)
    assert record["kept_from_init"] == 1.0 and record["class_partition"] == record["initial_partition"]


def test_grouping_table_counts_moved_classes_and_compares_with_the_baseline():
    # seed 0: two of ten classes moved away from their initial group and the grouping is the
    # baseline's; seed 1: never moved, and opposite to the baseline on half of each group
    classifier = "0000011111"
    runs = _records(["0000011111", "0101010101"], ["0000011100", "0101010101"], classifier,
                    ["1"] * 2, ["1"] * 2)
    table = evidence.grouping_table(runs, draws=500).set_index("seed")
    assert table.loc[0, "kept_from_init"] == pytest.approx(0.8)
    assert table.loc[1, "kept_from_init"] == 1.0
    assert (table["random_kept"] == 0.5).all()
    assert table.loc[0, "agree_baseline"] == 1.0 and table.loc[0, "p_baseline"] < 0.02  # 2/252 agree fully
    assert table.loc[1, "agree_baseline"] == pytest.approx(0.6)
    assert table.loc[0, "random_agree_baseline"] == pytest.approx(162 / 252, abs=0.02)


def test_cross_seed_table_finds_equal_partitions_up_to_relabelling():
    runs = _records(["0000011111", "1111100000", "0101010101"], ["0" * 10] * 3, "0000011111",
                    ["1"] * 3, ["1"] * 3)
    table = evidence.cross_seed_table(runs, draws=500).set_index("seeds")
    assert table.loc["0 vs 1", "agreement"] == 1.0 and table.loc["0 vs 1", "ARI"] == pytest.approx(1.0)
    assert table.loc["0 vs 2", "agreement"] == pytest.approx(0.6)
    assert table.loc["0 vs 1", "p"] < table.loc["0 vs 2", "p"]


def test_learned_vs_random_tests_per_seed_and_pooled():
    # 20 images; seed 0: SplitNet alone right on 6, SplitNet-R alone right on 1 (McNemar: 2 P(X ≤ 1),
    # X ~ Bin(7, ½) = 16/128); seed 1: both right on the same images
    learned = ["1" * 6 + "0" + "1" * 13, "1" * 20]
    random = ["0" * 6 + "1" * 14, "1" * 20]
    runs = _records(["0000011111", "0000011111"], ["0000011111"] * 2, "0000011111", learned, random)
    table = evidence.learned_vs_random_tests(runs, resamples=2000).set_index("seed")
    assert table.loc["0", "SplitNet"] == pytest.approx(5.0) and table.loc["0", "SplitNet-R"] == pytest.approx(30.0)
    assert table.loc["0", "difference"] == pytest.approx(-25.0)
    assert (table.loc["0", "only_SplitNet_right"], table.loc["0", "only_SplitNet-R_right"]) == (6, 1)
    assert table.loc["0", "p_McNemar"] == pytest.approx(16 / 128)
    assert table.loc["1", "difference"] == 0.0 and table.loc["1", "p_McNemar"] == 1.0
    assert table.loc["all 2", "difference"] == pytest.approx(-12.5)  # the mean over seeds
    assert table.loc["all 2", "SplitNet-R"] == pytest.approx(15.0)


def test_verdict_follows_the_numbers():
    assert "None of the 3 planned runs" in evidence.verdict(evidence.learned_vs_random_tests(pd.DataFrame()), 3)
    pooled = pd.DataFrame([{"dataset": "mnist5k", "groups": "2-2-2", "seed": "all 2", "SplitNet": 2.0,
                            "SplitNet-R": 2.4, "difference": -0.4, "low": -1.0, "high": 0.2, "p_bootstrap": 0.2}])
    sentence = evidence.verdict(pooled, 3)
    assert "inconclusive" in sentence and "-0.40" in sentence and "Recorded so far: 2 of the 3 planned runs" in sentence
    decided = pooled.assign(low=-0.7, high=-0.1, p_bootstrap=0.01, seed="all 3")
    assert "learned groups beat random ones" in evidence.verdict(decided, 3)
    assert "random groups beat learned ones" in evidence.verdict(decided.assign(difference=0.4), 3)


def test_partitions_are_described_as_sets_of_classes():
    assert evidence.groups_of("0110") == [[0, 3], [1, 2]]
    assert evidence.describe_partition("0110") == "{0, 3} | {1, 2}"


def test_verdict_rules_on_pooled_rows():
    from companion.splitnet.evidence import learned_vs_random_verdict, same_error_verdict

    def row(difference, low, high, p, seeds=3):
        return pd.Series({"seed": f"all {seeds}", "difference": difference, "low": low, "high": high,
                          "p_bootstrap": p})

    assert learned_vs_random_verdict(row(-1.0, -1.5, -0.5, 0.001)) == "reproduced"
    assert learned_vs_random_verdict(row(+1.0, 0.5, 1.5, 0.001)) == "not reproduced"
    assert learned_vs_random_verdict(row(+0.5, -0.05, 1.05, 0.08)) == "inconclusive"
    assert learned_vs_random_verdict(row(-1.0, -1.5, -0.5, 0.001, seeds=2)) == "inconclusive"
    assert same_error_verdict(row(0.1, -0.2, 0.4, 0.3), margin=0.52) == "reproduced"
    assert same_error_verdict(row(2.0, 1.0, 3.0, 0.0), margin=0.52) == "not reproduced"
    assert same_error_verdict(row(0.4, -0.1, 0.9, 0.1), margin=0.52) == "inconclusive"


def test_pilot_summary_scores_initialisations_against_each_other():
    same = "0000011111"
    relabelled = "1111100000"  # the same partition with the group labels swapped
    other = "0101010101"
    runs = pd.DataFrame({
        "baseline_seed": [0, 0, 0, 0, 0],
        "procedure": ["a", "a", "a", "b", "b"],
        "class_partition": [same, relabelled, same, same, other],
        "kept_from_init": [1.0, 0.5, 0.7, 0.6, 0.4],
        "agree_baseline": [1.0, 1.0, 1.0, 1.0, 0.6],
    })
    summary = evidence.pilot_summary(runs).set_index("procedure")
    assert summary.loc["a", "initialisations"] == 3
    assert summary.loc["a", "agreement between initialisations"] == "1.0, 1.0, 1.0"
    assert summary.loc["a", "ARI"] == "1.00, 1.00, 1.00"
    assert summary.loc["a", "learned groups"] == "{0, 1, 2, 3, 4} | {5, 6, 7, 8, 9}"
    assert summary.loc["b", "agreement between initialisations"] == "0.6"  # 3 + 3 of 10 classes placed alike at best
    assert summary.loc["b", "kept_from_init"] == "0.6, 0.4"
