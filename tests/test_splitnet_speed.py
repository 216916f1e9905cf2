"""companion.splitnet.speed: the ideal speed-up of a FLOP split and the settings' checks."""

import pytest
import torch

from companion.splitnet.counting import count_cost
from companion.splitnet.speed import SpeedSettings, build, ideal_speedup


def test_ideal_speedup_is_the_unsplit_flops_over_the_busiest_workers():
    settings = SpeedSettings(depth=10, width=1, classes=10, image=8, trees=("2-2-2", "1-1-4"))
    network, splits, _ = build(settings)
    shape = (3, 8, 8)
    for split in splits.values():
        alone = ideal_speedup(network, split, shape, 1)
        assert alone == pytest.approx(count_cost(network, shape).flops / count_cost(split, shape).flops)
        trunk = count_cost(split.trunk, shape).flops
        branches = count_cost(split, shape).flops - trunk
        # two equal branch groups: the first worker runs the trunk and half the branches
        assert ideal_speedup(network, split, shape, 2) == pytest.approx(
            count_cost(network, shape).flops / (trunk + branches / 2), rel=1e-6)


def test_settings_name_a_bad_device_list():
    with pytest.raises(ValueError, match="two workers"):
        SpeedSettings(devices=("cpu",))
    with pytest.raises(ValueError, match="two 'cpu' or two 'cuda:N'"):
        SpeedSettings(devices=("cpu", "cuda:0"))
    assert not SpeedSettings().on_gpu and torch.device(SpeedSettings().devices[1]).type == "cpu"


def test_auto_devices_spread_over_the_gpus_and_only_two_distinct_gpus_measure(monkeypatch):
    from companion.config import resolve_devices
    from companion.splitnet.speed import gpu_pair

    assert resolve_devices(["auto", "auto"]) == [torch.device("cpu")] * 2
    assert gpu_pair(["auto", "auto"]) is None and gpu_pair(["cpu", "cpu"]) is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_devices(["auto", "auto", "auto"]) == [torch.device(f"cuda:{i}") for i in (0, 1, 0)]
    assert gpu_pair(["auto", "auto"]) == ("cuda:0", "cuda:1")
    assert gpu_pair(["cuda:1", "cuda:1"]) is None  # one GPU twice: NCCL cannot pair it with itself
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert gpu_pair(["auto", "auto"]) is None


def test_a_measured_table_is_recorded_where_the_chapter_reads_it(tmp_path):
    from companion import paper, results
    from companion.splitnet.experiments import table5_comparison
    from companion.splitnet.speed import measure_and_record

    settings = SpeedSettings(depth=10, width=1, classes=10, image=8, batch=4, batches=2, repeats=1,
                             trees=("2-2-2",))
    path = measure_and_record(settings, directory=tmp_path)
    assert path.parent == tmp_path / "splitnet" / "parallel"
    table = table5_comparison(results.load_runs("splitnet/parallel", tmp_path), paper.reported("splitnet_table5"))
    assert list(table["tree"]) == ["1-1-1", "2-2-2"]
    deep = table.set_index("tree").loc["2-2-2"]
    assert deep["paper (2 GPUs)"] == 1.73 and deep["network"] == "WRN-10-1, batch 4"
    assert deep["ours: 2 processes, pipelined"] > 0 and 1 < deep["ideal"] < 2.5
