"""Model-parallel inference is exact: one process on ["cpu", "cpu"], and two gloo processes."""

import torch

from companion.splitnet.assignment import SplitAssignments, balanced_groups
from companion.splitnet.parallel import (
    MultiDeviceSplitNet,
    balanced_cut,
    branch_placement,
    distributed_logits,
    PhaseClock,
    launch_local,
    pipelined_logits,
    pipelined_split_logits,
    sequential_layers,
)
from companion.splitnet.split import split_network
from companion.splitnet.wrn import WideResNet


def _models(tree="2-4-4"):
    torch.manual_seed(0)
    network = WideResNet(10, 2, 10, 1).eval()
    assignments = SplitAssignments(network, tree)
    split = split_network(network, assignments, balanced_groups(assignments, torch.Generator().manual_seed(0)))
    return network, split.eval()


def test_branch_placement_is_contiguous_and_balanced():
    assert branch_placement(4, 2) == [0, 0, 1, 1]
    assert branch_placement(3, 2) == [0, 0, 1]
    assert branch_placement(2, 3) == [0, 1]


def test_single_process_multi_device_gives_the_single_device_logits():
    for tree in ("1-1-4", "2-4-4"):
        _, split = _models(tree)
        x = torch.randn(6, 1, 8, 8)
        with torch.no_grad():
            expected = split(x)
            parallel = MultiDeviceSplitNet(split, ["cpu", "cpu"])
            torch.testing.assert_close(parallel(x), expected, atol=1e-5, rtol=0)


def test_multi_device_keeps_autograd_in_its_threads():
    _, split = _models("1-2-2")
    parallel = MultiDeviceSplitNet(split, ["cpu", "cpu"])
    parallel(torch.randn(2, 1, 8, 8)).sum().backward()
    assert all(p.grad is not None for p in parallel.branches.parameters())


def _distributed_task(rank, world, out_path, network, split, x):
    stream = [x, x[:2].flip(0), x[1:4] * 2.0]  # different batches, the last of another size
    clock = PhaseClock()
    with torch.no_grad():
        logits = distributed_logits(split, x if rank == 0 else None)
        pipelined = pipelined_logits(network, [x, x[:2]], balanced_cut(network, (1, 8, 8)))
        split_stream = pipelined_split_logits(split, stream if rank == 0 else len(stream), clock=clock)
    assert clock.seconds["branches"] > 0 and clock.seconds["wait"] >= 0
    if rank == 0:
        torch.save(logits, f"{out_path}.split")
        torch.save(split_stream, f"{out_path}.split_stream")
    else:
        assert logits is None
        torch.save(pipelined, f"{out_path}.pipelined")


def test_two_gloo_processes_give_the_single_device_logits(tmp_path):
    network, split = _models("2-4-4")
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        expected_split, expected_full = split(x), network(x)
    launch_local(_distributed_task, 2, str(tmp_path / "out"), network, split, x)
    torch.testing.assert_close(torch.load(tmp_path / "out.split"), expected_split, atol=1e-5, rtol=0)
    first, second = torch.load(tmp_path / "out.pipelined")
    torch.testing.assert_close(first, expected_full, atol=1e-5, rtol=0)
    torch.testing.assert_close(second, expected_full[:2], atol=1e-5, rtol=0)
    stream = torch.load(tmp_path / "out.split_stream")
    with torch.no_grad():  # every batch's logits, in order: none mixed up or dropped
        expected_stream = [split(x), split(x[:2].flip(0)), split(x[1:4] * 2.0)]
    assert [len(logits) for logits in stream] == [5, 2, 3]
    for logits, expected in zip(stream, expected_stream):
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)


def test_pipelined_devices_give_every_batch_its_single_device_logits():
    for tree in ("1-2-2", "2-4-4"):
        _, split = _models(tree)
        stream = [torch.randn(4, 1, 8, 8), torch.randn(3, 1, 8, 8), torch.randn(4, 1, 8, 8)]
        clock = PhaseClock()
        with torch.no_grad():
            expected = [split(x) for x in stream]
            logits = MultiDeviceSplitNet(split, ["cpu", "cpu"]).pipelined(stream, clock)
        assert len(logits) == 3 and set(clock.seconds) == {"trunk", "branches", "wait"}
        for got, want in zip(logits, expected):
            torch.testing.assert_close(got, want, atol=1e-5, rtol=0)


def test_balanced_cut_splits_the_flops_of_the_layer_chain():
    network, _ = _models()
    cut = balanced_cut(network, (1, 8, 8))
    assert 0 < cut < len(sequential_layers(network))
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(torch.nn.Sequential(*sequential_layers(network))(x), network(x))
