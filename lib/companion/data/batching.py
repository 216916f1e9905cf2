"""Mini-batches whose order depends only on (seed, epoch), so resumed runs are exact."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch


def batches(
    tensors: Sequence[torch.Tensor], batch_size: int, *, shuffle: bool = True, seed: int = 0,
    drop_last: bool = False,
) -> Callable[[int], Iterator[tuple[torch.Tensor, ...]]]:
    """``batches(tensors, ...)(epoch)`` yields tuples of aligned slices of ``tensors``.

    The permutation of epoch ``e`` comes from a generator seeded with ``seed * 1_000_003 + e``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size} must be ≥ 1")
    count = len(tensors[0])
    if any(len(t) != count for t in tensors):
        raise ValueError(f"tensors have different lengths: {[len(t) for t in tensors]}")

    def epoch_batches(epoch: int) -> Iterator[tuple[torch.Tensor, ...]]:
        if shuffle:
            generator = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
            order = torch.randperm(count, generator=generator)
        else:
            order = torch.arange(count)
        stop = count - count % batch_size if drop_last else count
        for start in range(0, stop, batch_size):
            index = order[start:start + batch_size]
            yield tuple(t[index] for t in tensors)

    return epoch_batches
