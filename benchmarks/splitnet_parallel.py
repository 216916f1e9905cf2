"""Inference throughput of unsplit and split WRNs on one and two workers (Table 5).

The modes, the ideal speed-up of each FLOP split and the time breakdown are described in
:mod:`companion.splitnet.speed`, which measures them. Every CPU process uses one intra-op
thread, so "2 processes" means two of this machine's cores; ``--devices cuda:0,cuda:1``
measures two GPUs (NCCL between the processes). ``--breakdown`` also prints where each
worker's time goes (trunk, send, branches, wait) in the pipelined modes. ``--record`` stores
the table in data/results/splitnet/parallel/ (or $COMPANION_RESULTS_DIR), where the SplitNet
chapter's Table 5 reads it.

    python benchmarks/splitnet_parallel.py --width 4 --batch 50 --breakdown
"""

from __future__ import annotations

import argparse
import sys
import time

from companion.splitnet.speed import SpeedSettings, measure, record


def arguments(argv: list[str] | None = None) -> tuple[SpeedSettings, argparse.Namespace]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depth", type=int, default=16)
    parser.add_argument("--width", type=int, default=2, help="WRN widening factor (8 in the paper)")
    parser.add_argument("--classes", type=int, default=100)
    parser.add_argument("--image", type=int, default=32)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3, help="passes per mode; the fastest counts")
    parser.add_argument("--trees", default="1-2-2,2-2-2,2-4-4")
    parser.add_argument("--devices", default="cpu,cpu", help="the two workers, e.g. cuda:0,cuda:1")
    parser.add_argument("--record", action="store_true", help="store the table as a run record")
    parser.add_argument("--breakdown", action="store_true", help="print the phase breakdown too")
    args = parser.parse_args(argv)
    settings = SpeedSettings(args.depth, args.width, args.classes, args.image, args.batch, args.batches,
                             args.repeats, tuple(args.trees.split(",")), tuple(args.devices.split(",")))
    return settings, args


def main(argv: list[str] | None = None) -> None:
    settings, args = arguments(argv)
    start = time.perf_counter()
    table, breakdown = measure(settings)
    shown = table.drop(columns=["seconds"]).round({"gflops": 3, "images_per_s": 1, "speedup": 2,
                                                   "ideal": 2, "of_ideal": 2})
    workers = "1 thread per process" if not settings.on_gpu else ", ".join(settings.devices)
    print(f"WRN-{settings.depth}-{settings.width}, {settings.image}×{settings.image} inputs, batch "
          f"{settings.batch}, {settings.batches} batches, {workers}, fastest of {settings.repeats} passes")
    print(shown.to_string(index=False))
    if args.breakdown:
        print("\nwhere the time of one pipelined pass goes (seconds per worker):")
        print(breakdown.round(3).to_string(index=False))
    if args.record:
        path = record(settings, table, time.perf_counter() - start)
        print(f"recorded {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
