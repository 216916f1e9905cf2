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
