"""What keeps VHCR's z_conv above the collapse threshold on Chit-Chat at CPU budget? A pilot.

Each arm (``--arm NAME:PARAMETER=VALUE[,PARAMETER=VALUE…]``, repeatable) is the ``cpu-long``
profile (all 2,757 training conversations, 1,730 optimiser steps, NLL and KL per word on the
first 100 test conversations) with the given parameters replaced, trained with one seed for the
models given (default VHRED and VHCR + utterance drop). The default arms stay within the
authors' settings: KL annealing ten times as long as the run, as the authors' README runs anneal
over 250,000 steps (β reaches only 0.1 here), and that with the vocabulary cut to the 1,000
most frequent words (88% of Chit-Chat's training tokens; the profile keeps 3,836). The
``cpu-long`` records of the chapter (annealing over 60% of the run) are the reference.

    python benchmarks/vhcr_kl_pilot.py --record
    python benchmarks/vhcr_kl_pilot.py --arm anneal-20x:kl_annealing_steps=34600 --seed 1

With ``--record`` each arm is recorded under ``vhcr/kl-pilot`` in the results store, shown by the
VHCR chapter. With ``$COMPANION_CHECKPOINT_DIR`` set, each arm checkpoints its models in a
folder of its own under it, so a killed pilot resumes where it stopped.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd

from companion.config import ParameterError, resolve
from companion.results import record_run
from companion.training import CHECKPOINT_DIR_VARIABLE, use_threads
from companion.vhcr import evidence, experiments
from companion.vhcr.corpora import load_dialogue_data
from companion.vhcr.settings import PROFILES

DEFAULT_ARMS = ("anneal-10x:kl_annealing_steps=17300",
                "anneal-10x-vocab-1000:kl_annealing_steps=17300,max_vocab_size=1000")


def arm_options(arm: str) -> tuple[str, dict[str, str]]:
    """``NAME:PARAMETER=VALUE[,…]`` as a name and the parameters it replaces (strings, typed by
    the settings)."""
    name, _, assignments = arm.partition(":")
    try:
        options = dict(assignment.split("=", 1) for assignment in assignments.split(","))
    except ValueError as error:
        raise SystemExit(f"--arm {arm!r}: give NAME:PARAMETER=VALUE[,PARAMETER=VALUE…], "
                         "e.g. anneal-10x:kl_annealing_steps=17300") from error
    if not name:
        raise SystemExit(f"--arm {arm!r}: the arm needs a name before the colon")
    return name, options


def typed(options: dict[str, str]) -> dict[str, object]:
    """The arm's values converted to the types of the ``cpu-long`` profile's fields."""
    reference = PROFILES["cpu-long"]
    converted = {}
    for parameter, value in options.items():
        if not hasattr(reference, parameter):
            raise SystemExit(f"unknown parameter {parameter!r}; the VHCR chapter's are {', '.join(reference.parameters())}")
        converted[parameter] = type(getattr(reference, parameter))(value)
    return converted


def run_arm(name: str, options: dict[str, object], models: list[str], seed: int) -> tuple[dict, list[dict], float]:
    """Train and evaluate ``models`` under one arm: its settings, the rows a record holds, its seconds."""
    try:
        params = resolve(PROFILES, "cpu-long", seed=seed, device="cpu", models=models, **options)
    except ParameterError as error:
        raise SystemExit(f"arm {name}: {error}") from error
    started = time.perf_counter()
    root = os.environ.get(CHECKPOINT_DIR_VARIABLE)
    if root:  # each arm checkpoints in its own folder, so a rerun resumes it and no arm takes another's
        os.environ[CHECKPOINT_DIR_VARIABLE] = str(Path(root) / name)
    data = load_dialogue_data(params.dataset, max_vocab_size=params.max_vocab_size, min_count=params.min_count,
                              max_turns=params.max_turns, max_tokens=params.max_tokens,
                              train_conversations=params.train_conversations, seed=params.seed)
    trained = {variant: experiments.train_variant(variant, data, params) for variant in params.models}
    test = experiments.evaluation_conversations(data, params.eval_conversations)
    table = experiments.evaluation_table(trained, test, params.importance_samples, params.seed)
    rows = [{**row, "arm": name, "vocabulary": len(data.vocabulary)} for row in experiments.metric_rows(table, trained)]
    if root:
        os.environ[CHECKPOINT_DIR_VARIABLE] = root
    return params.record(), rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arm", action="append", default=None,
                        help=f"NAME:PARAMETER=VALUE[,…] (repeatable; default {' and '.join(DEFAULT_ARMS)})")
    parser.add_argument("--models", default="vhred,vhcr_ud", help="comma-separated variants")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--record", action="store_true",
                        help="record each arm in the results store (vhcr/kl-pilot, shown by the VHCR chapter)")
    args = parser.parse_args()
    use_threads(1)
    arms = [arm_options(arm) for arm in (args.arm or DEFAULT_ARMS)]
    arms = [(name, typed(options)) for name, options in arms]
    for name, options in arms:
        params, rows, seconds = run_arm(name, options, args.models.split(","), args.seed)
        if args.record:
            record_run("vhcr/kl-pilot", {**params, "profile": "pilot", "arm": name}, rows, wall_time_s=seconds,
                       device="cpu")
        frame = pd.DataFrame(rows)[["arm", "variant", "vocabulary", "NLL", "KL z_utt", "KL z_conv"]]
        print(frame.to_string(index=False), f"(collapsed below {evidence.COLLAPSED_BELOW:g} nats per word)",
              flush=True)


if __name__ == "__main__":
    main()
