"""Are SplitNet's class groups learned from the data? A pilot on the chapter's CPU profile.

Grouping procedures (``--procedure INIT:RAMP:SCALE:EPOCHS[:GAMMA1]``, repeatable), each from several
random initialisations of the assignment logits:

* INIT — ``scratch`` (the paper's: a fresh network) or ``baseline`` (the grouping phase starts from
  one trained unsplit baseline, shared by every run; ``grouping_init``);
* RAMP — the fraction of the grouping epochs trained without the disjoint term R_D (``gamma_ramp``);
* SCALE — the assignment logits' learning rate over the weights' (``assignment_lr_scale``);
* EPOCHS — grouping epochs;
* GAMMA1 — the weight γ1 of the group-weight penalty R_W (default: the profile's).

For each run: the fraction of classes still in the group their initial logits gave them, the
test error at the end of the grouping phase and right after the cut, the share of the split
layers' squared weights between groups just before the cut (mean and largest over layers), and the agreement of the final class partition
with the grouping the baseline's classifier implies (balanced k-means of its weight rows; p:
the share of random groupings of the same sizes that agree at least as well). Across
initialisations: the mean pairwise agreement of the final partitions (fraction of classes under
the best relabelling, and adjusted Rand index). Random balanced partitions of the 10 digits
into 2 groups agree on 162/252 ≈ 0.64 of the classes on average (ARI 0).

    python benchmarks/splitnet_grouping.py --procedure scratch:0:100:24 --procedure baseline:0.5:100:24
    python benchmarks/splitnet_grouping.py --dataset mnist5k --width 1 --baseline-epochs 12 \
        --procedure baseline:0.5:100:8 --procedure baseline:0.5:10:16
"""

from __future__ import annotations

import argparse
import time

import pandas as pd
import torch

from companion.config import resolve
from companion.results import record_run
from companion.splitnet import diagnostics, evidence, experiments, split
from companion.splitnet.settings import PROFILES
from companion.training import seed_everything, use_threads


def procedure_options(procedure: str) -> dict:
    """``INIT:RAMP:SCALE:EPOCHS[:GAMMA1]`` as settings."""
    try:
        init, ramp, scale, epochs, *gamma = procedure.split(":")
        options = {"grouping_init": init, "gamma_ramp": float(ramp), "assignment_lr_scale": float(scale),
                   "epochs": int(epochs)}
        if len(gamma) > 1:
            raise ValueError(procedure)
        if gamma:
            _, disjoint, balance = PROFILES["cpu"].gammas
            options["gammas"] = (float(gamma[0]), disjoint, balance)
        return options
    except ValueError as error:
        raise SystemExit(f"--procedure {procedure!r}: give INIT:RAMP:SCALE:EPOCHS[:GAMMA1], "
                         "e.g. baseline:0.5:100:8 or baseline:0.5:100:8:10") from error


def run(procedure: str, seed: int, base: dict, data: experiments.SplitData,
        baseline: torch.nn.Module, reference: torch.Tensor) -> dict:
    """One grouping phase and its diagnostics."""
    params = resolve(PROFILES, "cpu", seed=seed, device="cpu", dataset=base["dataset"], width=base["width"],
                     **procedure_options(procedure))
    seed_everything(seed)
    started = time.perf_counter()
    grouping = experiments.train_grouping(params, data, baseline)
    first, last = grouping.snapshots[0]["classes"], grouping.snapshots[-1]["classes"]
    off_block = split.off_block_mass(grouping.model.network, grouping.model.assignments)
    try:
        cut = split.split_network(grouping.model.network, grouping.model.assignments)
        error_at_split, cut_problem = experiments.error_rate(cut, data.test_images, data.test_labels), ""
    except ValueError as error:  # a group left without units: no network to cut
        error_at_split, cut_problem = None, str(error)
    comparison = diagnostics.compare_with_reference(diagnostics.class_partition(last), reference)
    return {"procedure": procedure, "seed": seed, **evidence.grouping_record(first, last),
            "baseline_partition": evidence.encode_partition(reference),
            "grouping_error": experiments.last_error(grouping.history),
            "error_at_split": error_at_split, "cut_problem": cut_problem,
            "off_block_mass": sum(off_block.values()) / len(off_block), "off_block_max": max(off_block.values()),
            "agree_baseline": comparison.agreement, "p_baseline": comparison.p_value,
            "seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", help="digits or mnist5k")
    parser.add_argument("--width", type=int, default=2, help="WRN-10 width factor")
    parser.add_argument("--baseline-epochs", type=int, default=15, help="epochs of the shared baseline")
    parser.add_argument("--procedure", action="append", default=None,
                        help="INIT:RAMP:SCALE:EPOCHS (repeatable; default scratch:0:100:12 and "
                             "baseline:0.5:100:12)")
    parser.add_argument("--baseline-seed", type=int, default=0, help="seed of the shared baseline")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="seeds of the assignment logits' initialisations")
    parser.add_argument("--record", action="store_true",
                        help="record each procedure's runs in the results store "
                             "(splitnet/grouping-pilot, shown by the SplitNet chapter)")
    args = parser.parse_args()
    use_threads(1)
    procedures = args.procedure or ["scratch:0:100:12", "baseline:0.5:100:12"]
    for procedure in procedures:
        procedure_options(procedure)
    base = {"dataset": args.dataset, "width": args.width}
    params = resolve(PROFILES, "cpu", seed=args.baseline_seed, device="cpu", dataset=args.dataset,
                     width=args.width, epochs=args.baseline_epochs, finetune_epochs=0)
    data = experiments.load_data(params)
    seed_everything(args.baseline_seed)
    baseline, history = experiments.train_baseline(params, data)
    reference = experiments.baseline_grouping(params, baseline)
    print(f"{args.dataset}, WRN-10-{args.width}; baseline (seed {args.baseline_seed}, {args.baseline_epochs} epochs): test error "
          f"{history.epochs['test_error'].iloc[-1]:.2f}%; its classifier's grouping "
          f"{evidence.describe_partition(evidence.encode_partition(reference))}", flush=True)
    rows = []
    for procedure in procedures:
        runs = [{"baseline_seed": args.baseline_seed, **run(procedure, seed, base, data, baseline, reference)}
                for seed in args.seeds]
        rows += runs
        if args.record:
            pilot = {"dataset": args.dataset, "width": args.width, "baseline_epochs": args.baseline_epochs,
                     "baseline_seed": args.baseline_seed, "procedure": procedure, "seeds": args.seeds, "profile": "pilot"}
            record_run("splitnet/grouping-pilot", pilot, runs, wall_time_s=sum(r["seconds"] for r in runs),
                       device="cpu")
        print(pd.DataFrame(runs).round(3).to_string(index=False), flush=True)
    print(evidence.pilot_summary(pd.DataFrame(rows)).to_string(index=False))


if __name__ == "__main__":
    main()
