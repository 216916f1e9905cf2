"""The VHCR chapter's ``cpu-long`` evidence: committed records → tables, a figure and verdicts.

The chapter never trains ``cpu-long``; it renders the records the sweep committed
(:func:`companion.results.load_runs` with ``profile="cpu-long"``). Every table is per model with
its spread over seeds, and each of the paper's two claims about the KL term is decided by a
paired test over seeds (:func:`paired_verdict`):

1. degeneration: VHRED's latent collapses while VHCR's z_conv does not — per seed, the test KL
   per word of VHCR + utterance drop's z_conv against VHRED's z_t;
2. utterance drop keeps z_conv in use — per seed, z_conv's test KL per word with utterance drop
   against without.

A claim is *supported* when every seed shows the direction and the latent that should be in
use carries at least ``threshold`` nats per word while the other carries less; *direction only*
when every seed shows the direction but not that separation (both collapsed, or both in use);
*contradicted* when no seed shows the direction; *inconclusive* when seeds disagree or fewer
than ``min_seeds`` seeds have both models recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from companion.vhcr.settings import LABELS, VARIANTS

#: Test metrics per word of each model, as the records name them.
METRICS = ("NLL", "KL z_utt", "KL z_conv")
#: Below this KL per word (nats) a latent counts as collapsed: 2% of the 0.503 nats per word the
#: paper reports for VHCR + utterance drop on Cornell.
COLLAPSED_BELOW = 0.01
_COLUMNS = ["variant", "model", "seed", *METRICS]


def per_seed(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, seed) of ``runs`` (from ``load_runs``): the test NLL and KLs per word.

    Rows follow the order of :data:`VARIANTS`, then the seed; empty (with the columns) when
    nothing is recorded.
    """
    if not len(runs):
        return pd.DataFrame(columns=_COLUMNS)
    missing = [c for c in ("variant", "param_seed", *METRICS) if c not in runs]
    if missing:
        raise ValueError(f"records lack the columns {missing}; expected VHCR chapter records")
    frame = runs.rename(columns={"param_seed": "seed"})[["variant", "seed", *METRICS]].copy()
    frame["model"] = frame["variant"].map(LABELS)
    frame["order"] = frame["variant"].map(list(VARIANTS).index)
    frame = frame.sort_values(["order", "seed"]).drop(columns="order")
    return frame[_COLUMNS].reset_index(drop=True)


def seed_spread(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per model: the number of seeds and each metric's mean, minimum and maximum over seeds."""
    if not len(seeds):
        columns = ["seeds", *(f"{metric} {statistic}" for metric in METRICS for statistic in ("mean", "min", "max"))]
        return pd.DataFrame(columns=columns, index=pd.Index([], name="model"))
    grouped = seeds.groupby("model", sort=False)
    table = grouped[list(METRICS)].agg(["mean", "min", "max"])
    table.columns = [f"{metric} {statistic}" for metric, statistic in table.columns]
    table.insert(0, "seeds", grouped.size())
    return table


def history(runs: pd.DataFrame) -> pd.DataFrame:
    """Long form of the recorded training histories: model, seed, step, KL z_t and z_conv per word."""
    columns = ["model", "seed", "step", "kl_utterance", "kl_conversation", "kl_weight"]
    frames = [pd.DataFrame(row["train history"]).assign(model=LABELS[row["variant"]], seed=row["param_seed"])
              for _, row in runs.iterrows()
              if isinstance(row.get("train history"), list) and row["variant"] != "hred"]
    return pd.concat(frames, ignore_index=True)[columns] if frames else pd.DataFrame(columns=columns)


def plot_history(curves: pd.DataFrame, models: Sequence[str]) -> Figure:
    """Training KL per word of z_t (left) and z_conv (right) per epoch: mean over seeds, min–max band."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharex=True)
    for model in models:
        frame = curves[curves["model"] == model]
        if not len(frame):
            continue
        for ax, column in zip(axes, ("kl_utterance", "kl_conversation")):
            stats = frame.groupby("step")[column].agg(["mean", "min", "max"])
            if not (stats["max"] > 0).any():
                continue
            line, = ax.plot(stats.index, stats["mean"], marker=".", label=model)
            ax.fill_between(stats.index, stats["min"], stats["max"], color=line.get_color(), alpha=0.2)
    for ax, latent in zip(axes, ("utterance latent $z_t$", "conversation latent $z_{conv}$")):
        ax.axhline(COLLAPSED_BELOW, color="grey", linestyle=":", linewidth=1)
        ax.set_yscale("log")
        ax.set_xlabel("training step (end of each epoch)")
        ax.set_ylabel("KL per word (nats, log scale)")
        ax.set_title(f"KL of the {latent}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _paired(seeds: pd.DataFrame, first: tuple[str, str], second: tuple[str, str]) -> pd.DataFrame:
    """Per seed, metric ``first[1]`` of variant ``first[0]`` and ``second[1]`` of ``second[0]``."""
    def column(variant: str, metric: str) -> pd.Series:
        rows = seeds[seeds["variant"] == variant]
        return pd.Series(rows[metric].to_numpy(dtype=float), index=rows["seed"].to_numpy(), name=variant)

    return pd.concat([column(*first), column(*second)], axis=1, join="inner").sort_index()


def paired_verdict(lower: pd.Series, higher: pd.Series, threshold: float = COLLAPSED_BELOW,
                   min_seeds: int = 3) -> str:
    """Whether ``higher`` exceeds ``lower`` seed by seed (both indexed by seed, aligned).

    "supported": in every seed, and ``higher`` ≥ ``threshold`` > ``lower``; "direction only":
    in every seed, without that separation; "contradicted": in no seed; "inconclusive": seeds
    disagree, or fewer than ``min_seeds``.
    """
    if len(lower) != len(higher) or not lower.index.equals(higher.index):
        raise ValueError("lower and higher must hold the same seeds")
    if len(lower) < min_seeds:
        return "inconclusive"
    above = higher > lower
    if not above.any():
        return "contradicted"
    if not above.all():
        return "inconclusive"
    separated = (higher >= threshold).all() and (lower < threshold).all()
    return "supported" if separated else "direction only"


def _values(pairs: pd.DataFrame) -> str:
    return "; ".join(f"seed {seed}: {a:.2g} vs {b:.2g}" for seed, (a, b) in pairs.iterrows())


def _claim(name: str, test: str, pairs: pd.DataFrame, threshold: float, min_seeds: int,
           higher_name: str, lower_name: str) -> dict[str, str]:
    """The row of one claim: its test, per-seed values, verdict and a sentence that says it."""
    higher, lower = pairs.iloc[:, 0], pairs.iloc[:, 1]
    verdict = paired_verdict(lower, higher, threshold, min_seeds)
    count, wins = len(pairs), int((higher > lower).sum())
    if count < min_seeds:
        sentence = (f"Inconclusive: {count} seed{'s' if count != 1 else ''} recorded with both models, "
                    f"{min_seeds} needed.")
    elif verdict == "inconclusive":
        sentence = (f"Inconclusive: {higher_name} exceeds {lower_name} in {wins} of {count} seeds; "
                    "the seeds disagree.")
    elif verdict == "contradicted":
        sentence = f"Contradicted: {higher_name} does not exceed {lower_name} in any of {count} seeds."
    else:
        ratio = float(np.exp(np.mean(np.log(higher.clip(lower=1e-12) / lower.clip(lower=1e-12)))))
        sentence = (f"In all {count} seeds {higher_name} exceeds {lower_name} (geometric mean ratio "
                    f"{ratio:.3g}; a sign test's one-sided p = {0.5 ** count:.3g})")
        if verdict == "supported":
            sentence = (f"Supported: {sentence[0].lower()}{sentence[1:]}, and only {higher_name} carries "
                        f"at least {threshold:g} nats per word.")
        else:
            sentence = (f"Direction only: {sentence[0].lower()}{sentence[1:]}, but not with {higher_name} at "
                        f"≥ {threshold:g} nats per word and {lower_name} below it (mean "
                        f"{higher.mean():.2g} vs {lower.mean():.2g}; the paper's VHCR: 0.503 in all).")
    return {"claim": name, "test": test, "seeds": count, "per seed": _values(pairs) or "no records",
            "verdict": verdict, "sentence": sentence}


def claim_checks(seeds: pd.DataFrame, threshold: float = COLLAPSED_BELOW, min_seeds: int = 3) -> pd.DataFrame:
    """The paper's two KL claims decided on the per-seed test KLs of :func:`per_seed`."""
    rows = [
        _claim("VHRED collapses while VHCR's z_conv does not",
               f"per seed: KL z_conv of VHCR + utterance drop > KL z_t of VHRED, ≥ {threshold:g} vs < {threshold:g}",
               _paired(seeds, ("vhcr_ud", "KL z_conv"), ("vhred", "KL z_utt")), threshold, min_seeds,
               "VHCR + utterance drop's z_conv", "VHRED's z_t"),
        _claim("utterance drop keeps z_conv in use",
               f"per seed: KL z_conv with utterance drop > without, ≥ {threshold:g} vs < {threshold:g}",
               _paired(seeds, ("vhcr_ud", "KL z_conv"), ("vhcr", "KL z_conv")), threshold, min_seeds,
               "z_conv with utterance drop", "z_conv without"),
    ]
    return pd.DataFrame(rows).set_index("claim")


def ablation(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per seed, VHCR without and with utterance drop: test KL per word of each latent and NLL."""
    columns = {"KL z_conv": "KL z_conv", "KL z_utt": "KL z_utt", "NLL": "NLL"}
    frames = []
    for metric in columns:
        pairs = _paired(seeds, ("vhcr", metric), ("vhcr_ud", metric))
        pairs.columns = [f"{metric} without", f"{metric} with"]
        frames.append(pairs)
    table = pd.concat(frames, axis=1)
    table.index.name = "seed"
    return table


def coverage_sentence(planned: pd.DataFrame) -> str:
    """How many planned runs (rows of ``coverage()``) have a record, and which are missing."""
    done = int(planned["recorded"].sum())
    sentence = f"{done} of {len(planned)} planned cpu-long runs recorded"
    missing = planned.loc[~planned["recorded"], "run"].tolist()
    return sentence + (f" (missing: {', '.join(missing)})." if missing else ".")
