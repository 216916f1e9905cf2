"""Recorded evidence of the non-linear study: every seed, spreads, and a verdict per noise level.

The claim: a diagonal posterior (VAE) leaves the decoder Jacobian's columns closer to
orthogonal than a full-covariance one (VLAE). Runs are compared seed by seed: in a seed both
models train on the same data from the same random seed, so the comparison is paired.

- A seed counts only when neither model has a collapsed latent direction
  (:func:`companion.ppca.metrics.collapsed_directions`): with a direction switched off, |cos|
  compares a live column with a dead one, and DtO goes to 0 whatever the angle.
- Over the seeds that count, an exact one-sided sign test (:func:`companion.evidence.sign_test`,
  the book's rule for paired seeds whose differences are not on one scale): the claim is
  **reproduced** when the VAE's
  |cos| is the lower in so many seeds that P(at least that many | no difference) ≤ :data:`ALPHA`
  (5 of 5, 7 of 8, ...), **not reproduced** when the same holds the other way round, and
  **inconclusive** otherwise (in particular with fewer than :func:`minimum_seeds` seeds).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from companion.evidence import sign_test
from companion.plotting import seed_points

#: Level of the one-sided sign test that decides the claim.
ALPHA = 0.05
#: The compared decoders and their labels.
MODELS: dict[str, str] = {"truth": "true decoder", "vae": "VAE (diagonal q)", "vlae": "VLAE (full q)"}
#: Per-seed measures and their labels.
MEASURES: dict[str, str] = {"abs_cos": "|cos|", "dto": "DtO", "sap": "SAP", "collapsed": "collapsed"}


def minimum_seeds(alpha: float = ALPHA) -> int:
    """The fewest seeds with which a sign test can reach ``alpha`` (all seeds one way: 2⁻ⁿ ≤ α)."""
    return math.ceil(math.log2(1.0 / alpha))


def seed_frame(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, replicate, decoder) of the non-linear study, from :func:`load_runs` rows.

    Only records that keep every replicate (and its collapsed directions) take part; the
    columns are angle, noise, seed (the run's) and replicate, model and the measures.
    """
    needed = {"section", "replicate", "collapsed"}
    if runs.empty or not needed <= set(runs):
        return pd.DataFrame(columns=["angle", "noise", "seed", "replicate", "model", *MEASURES])
    rows = runs[(runs["section"] == "nonlinear") & runs["replicate"].notna() & runs["collapsed"].notna()]
    own = {"param_angle": "angle", "param_noise": "noise", "param_seed": "seed"}
    frame = rows.drop(columns=[name for name in own.values() if name in rows]).rename(columns=own)
    frame = frame[["angle", "noise", "seed", "replicate", "model", *MEASURES]].copy()
    frame[["seed", "replicate", "collapsed"]] = frame[["seed", "replicate", "collapsed"]].astype(int)
    return frame.sort_values(["angle", "noise", "seed", "replicate", "model"], ignore_index=True)


def seed_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Every seed: |cos|, DtO, SAP and collapsed directions per decoder, per true angle and noise."""
    if frame.empty:
        return pd.DataFrame()
    table = frame.pivot_table(index=["angle", "noise", "seed", "replicate"], columns="model",
                              values=list(MEASURES), aggfunc="first")
    table = table.reindex(columns=[(m, n) for m in MEASURES for n in MODELS if (m, n) in table.columns])
    table.columns = pd.MultiIndex.from_tuples([(MEASURES[m], MODELS[n]) for m, n in table.columns])
    table.index.names = ["true angle (°)", "σ", "run seed", "replicate"]
    return table.round(2)


def spread_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Per true angle, noise and decoder: seeds, mean ± sd and range of |cos|, DtO and SAP, and
    in how many seeds a latent direction collapsed."""
    if frame.empty:
        return pd.DataFrame()
    rows = []
    for (angle, noise, model), group in frame.groupby(["angle", "noise", "model"], sort=True):
        row = {"true angle (°)": angle, "σ": noise, "decoder": MODELS[model], "seeds": len(group)}
        for measure in ("abs_cos", "dto", "sap"):
            values = group[measure]
            row[MEASURES[measure]] = (f"{values.mean():.2f} ± {values.std(ddof=0):.2f} "
                                      f"({values.min():.2f}–{values.max():.2f})")
        row["collapsed in"] = f"{int((group['collapsed'] > 0).sum())} of {len(group)}"
        rows.append(row)
    return pd.DataFrame(rows).set_index(["true angle (°)", "σ", "decoder"])


@dataclass(frozen=True)
class Verdict:
    """The decision at one true angle and noise level, and the numbers it rests on."""

    angle: float
    noise: float
    seeds: int
    collapsed_vae: int
    collapsed_vlae: int
    usable: int
    vae_lower: int
    p_holds: float
    p_reversed: float
    vae_range: tuple[float, float]
    vlae_range: tuple[float, float]

    @property
    def outcome(self) -> str:
        """"reproduced", "not reproduced" or "inconclusive" (see the module's decision rule)."""
        if self.usable and self.p_holds <= ALPHA:
            return "reproduced"
        if self.usable and self.p_reversed <= ALPHA:
            return "not reproduced"
        return "inconclusive"

    def sentence(self) -> str:
        """The verdict in one sentence, with the numbers."""
        head = f"σ = {self.noise:g} (true columns {self.angle:g}° apart), {self.seeds} seeds: **{self.outcome}**."
        collapse = (f" The VAE collapsed a latent direction in {self.collapsed_vae} of {self.seeds} seeds, "
                    f"the VLAE in {self.collapsed_vlae}.") if self.collapsed_vae or self.collapsed_vlae else ""
        if self.usable == 0:
            return (head + collapse + " No seed has two live directions in both models, so |cos| and DtO "
                    "do not measure an angle between used directions here.")
        spread = (f" Over the {self.usable} seeds with two live directions in both models, the VAE's |cos| "
                  f"({self.vae_range[0]:.2f}–{self.vae_range[1]:.2f}) is below the VLAE's "
                  f"({self.vlae_range[0]:.2f}–{self.vlae_range[1]:.2f}) in {self.vae_lower} of {self.usable}")
        test = f"; one-sided sign test p = {min(self.p_holds, self.p_reversed):.3f}"
        if self.outcome == "inconclusive" and self.usable < minimum_seeds():
            test += f" (a sign test needs at least {minimum_seeds()} seeds to reach p ≤ {ALPHA:g})"
        elif self.outcome == "inconclusive":
            test += f" > {ALPHA:g}"
        return head + collapse + spread + test + "."


def decide(frame: pd.DataFrame) -> Verdict:
    """The verdict for the seeds of one true angle and noise level (rows of :func:`seed_frame`)."""
    if frame[["angle", "noise"]].drop_duplicates().shape[0] != 1:
        raise ValueError("decide() takes the seeds of one true angle and one noise level")
    wide = frame.pivot_table(index=["seed", "replicate"], columns="model", values=["abs_cos", "collapsed"],
                             aggfunc="first")
    missing = {"vae", "vlae"} - set(wide["abs_cos"].columns)
    if missing:
        raise ValueError(f"decide() needs rows of both models; missing {sorted(missing)}")
    collapsed = wide["collapsed"][["vae", "vlae"]] > 0
    live = wide["abs_cos"][~collapsed.any(axis=1)]
    lower, usable = int((live["vae"] < live["vlae"]).sum()), len(live)
    higher = int((live["vae"] > live["vlae"]).sum())

    def span(values: Sequence[float]) -> tuple[float, float]:
        return (float(min(values)), float(max(values))) if len(values) else (math.nan, math.nan)

    return Verdict(float(frame["angle"].iloc[0]), float(frame["noise"].iloc[0]), len(wide),
                   int(collapsed["vae"].sum()), int(collapsed["vlae"].sum()), usable, lower,
                   sign_test(lower, usable), sign_test(higher, usable), span(live["vae"]), span(live["vlae"]))


def verdicts(frame: pd.DataFrame) -> list[Verdict]:
    """One :class:`Verdict` per true angle and noise level present in ``frame``."""
    models = frame[frame["model"].isin(["vae", "vlae"])]
    return [decide(group) for _, group in models.groupby(["angle", "noise"], sort=True)]


def study_frame(summary: pd.DataFrame, params: Mapping[str, Any]) -> pd.DataFrame:
    """This run's non-linear study (:func:`companion.ppca.nonlinear.nonlinear_study`) as
    :func:`seed_frame` rows, so that the same decision can be applied to it."""
    frame = summary.assign(angle=float(params["angle"]), noise=float(params["noise"]), seed=int(params["seed"]))
    return frame[["angle", "noise", "seed", "replicate", "model", *MEASURES]]


def verdict_lines(found: Sequence[Verdict], short: bool = False) -> str:
    """Markdown bullets of ``found`` (their sentences, or only the outcome when ``short``)."""
    if not found:
        return "Nothing is recorded at this scale yet, so nothing is decided here."
    return "\n".join(f"- σ = {v.noise:g}: **{v.outcome}**" if short else f"- {v.sentence()}" for v in found)


def plot_seeds(frame: pd.DataFrame) -> Figure:
    """|cos| between the decoder's Jacobian columns per noise level and decoder, one panel per
    true angle: every seed a dot (collapsed ones included), the mean ± 1 sd over seeds a black
    bar (:func:`~companion.plotting.seed_points`)."""
    angles = sorted(frame["angle"].unique())
    fig, axes = plt.subplots(1, len(angles), figsize=(5 * len(angles), 3.6), squeeze=False)
    shown = frame.assign(decoder=frame["model"].map(MODELS))
    for ax, angle in zip(axes[0], angles):
        seed_points(shown[shown["angle"] == angle], "noise", "abs_cos", ax=ax, hue="decoder",
                    hue_order=[MODELS[m] for m in MODELS if m in set(frame["model"])])
        ax.set_xlabel("observation noise σ")
        ax.set_ylabel("|cos| between Jacobian columns")
        ax.set_title(f"true angle {angle:g}°")
        ax.legend(title=None, fontsize=8)
    fig.tight_layout()
    return fig
