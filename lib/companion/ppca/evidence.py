"""The study's claims, declared once, and what the recorded runs say about each.

Three claims of the research summary's last slide (:data:`CLAIMS`), decided by
:func:`companion.evidence.decide` on the :class:`~companion.evidence.Finding` objects of
:func:`findings`:

- *a diagonal posterior makes W's columns orthogonal* and *diagonal and full-covariance
  posteriors reach the same ELBO* are verifications: closed-form checks on every recorded linear
  fit, passed by the criterion their rule states (:data:`ORTHOGONAL_COS`,
  :data:`ELBO_SHORTFALL`);
- *in a non-linear model a diagonal q keeps the decoder's columns closer to orthogonal* is an
  effect, tested per true angle and noise level on the seeds of the non-linear study. In a seed
  both models train on the same data from the same random seed, so the comparison is paired. A
  seed counts only when neither model has a collapsed latent direction
  (:func:`companion.ppca.metrics.collapsed_directions`): with a direction switched off, |cos|
  compares a live column with a dead one, and DtO goes to 0 whatever the angle. Over the seeds
  that count, an exact two-sided sign test (per-seed differences are not on one scale); the
  effect is the median per-seed difference VLAE |cos| − VAE |cos| (positive: as the claim
  says). When no seed counts the runs cannot test the claim ("not tested at this scale").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from companion import results
from companion.evidence import EFFECT, VERIFICATION, Claim, Finding, sign_test
from companion.plotting import FIGURE_WIDTH, seed_points
from companion.reproduce.plan import planned_records
from companion.ppca.settings import PPCASettings

#: The family the study's claims belong to.
PAPER = "PPCA orthogonality study"
#: A diagonal-q fit is orthogonal when its columns' mean |cos| is below this, and a full-q
#: fit is not when its mean over the fits is above it.
ORTHOGONAL_COS = 0.05
#: Largest shortfall (nats per point) of a fit's ELBO below the PPCA log-likelihood that counts
#: as reaching it.
ELBO_SHORTFALL = 1e-3
_EXACT = "closed-form check on every recorded fit"

DIAGONAL_ORTHOGONAL = Claim(
    "ppca/diagonal-orthogonal", PAPER, "a diagonal posterior makes W's columns orthogonal (PCA axes)",
    "stated on the summary's last slide, no number",
    f"{_EXACT}: diagonal-q |cos| < {ORTHOGONAL_COS:g} < full-q mean", VERIFICATION,
    quote="Using diagonal q(z|x) encourage diagonal Σ. As a result, it drives columns of W to be orthogonal")
SAME_ELBO = Claim(
    "ppca/same-elbo", PAPER, "diagonal and full-covariance posteriors reach the same ELBO",
    "implied by the slide (the likelihood is rotation invariant)",
    f"{_EXACT}: shortfall < {ELBO_SHORTFALL:g} nats", VERIFICATION)
NONLINEAR_ORTHOGONAL = Claim(
    "ppca/nonlinear-orthogonal", PAPER,
    "in a non-linear model a diagonal q keeps the decoder's columns closer to orthogonal",
    "stated as a possible source of disentanglement, no number",
    "per seed with no collapsed latent direction in either model, is the VAE's |cos| between "
    "decoder-Jacobian columns below the VLAE's? exact two-sided sign test over those seeds, "
    "decided on the Holm-adjusted p", EFFECT, quote="This may be the source of disentanglement in VAEs",
    unit="median |cos| difference (VLAE − VAE)")
#: The study's claims, in the order the pages show them.
CLAIMS: tuple[Claim, ...] = (DIAGONAL_ORTHOGONAL, SAME_ELBO, NONLINEAR_ORTHOGONAL)

def section(finding: Finding) -> str:
    """The label of the chapter's section that decides ``finding`` (the summary links to it)."""
    return "ppca-evidence-cpu-long" if finding.scale == "cpu-long" else "ppca-decisions"


#: The compared decoders and their labels.
MODELS: dict[str, str] = {"truth": "true decoder", "vae": "VAE (diagonal q)", "vlae": "VLAE (full q)"}
#: Per-seed measures and their labels.
MEASURES: dict[str, str] = {"abs_cos": "|cos|", "dto": "DtO", "sap": "SAP", "collapsed": "collapsed"}


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


def two_sided_sign_test(lower: int, higher: int) -> float:
    """Exact two-sided sign test of ``lower`` seeds one way and ``higher`` the other (ties left
    out): twice the smaller one-sided tail, capped at 1."""
    trials = lower + higher
    return min(1.0, 2 * min(sign_test(lower, trials), sign_test(higher, trials)))


def paired_seeds(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per seed (run seed, replicate) of one true angle and noise level: the VAE's and
    the VLAE's |cos|, whether each collapsed a direction, and whether the seed counts."""
    if frame[["angle", "noise"]].drop_duplicates().shape[0] != 1:
        raise ValueError("paired_seeds() takes the seeds of one true angle and one noise level")
    wide = frame.pivot_table(index=["seed", "replicate"], columns="model", values=["abs_cos", "collapsed"],
                             aggfunc="first")
    missing = {"vae", "vlae"} - set(wide["abs_cos"].columns)
    if missing:
        raise ValueError(f"paired_seeds() needs rows of both models; missing {sorted(missing)}")
    seeds = pd.DataFrame({"vae": wide["abs_cos"]["vae"], "vlae": wide["abs_cos"]["vlae"],
                          "vae_collapsed": wide["collapsed"]["vae"] > 0,
                          "vlae_collapsed": wide["collapsed"]["vlae"] > 0})
    return seeds.assign(counts=~(seeds["vae_collapsed"] | seeds["vlae_collapsed"]))


def nonlinear_finding(frame: pd.DataFrame, scale: str) -> Finding:
    """The non-linear claim on the seeds of one true angle and noise level (:func:`seed_frame` rows)."""
    seeds = paired_seeds(frame)
    angle, noise = float(frame["angle"].iloc[0]), float(frame["noise"].iloc[0])
    setting = f"σ = {noise:g}, true columns {angle:g}° apart"
    collapsed_vae, collapsed_vlae = int(seeds["vae_collapsed"].sum()), int(seeds["vlae_collapsed"].sum())
    collapse = (f"the VAE collapsed a latent direction in {collapsed_vae} of {len(seeds)} seeds, the VLAE in "
                f"{collapsed_vlae}")
    live = seeds[seeds["counts"]]
    if live.empty:
        return Finding(NONLINEAR_ORTHOGONAL, scale, setting, len(seeds), detail=collapse,
                       untested=("no seed has two live directions in both models, so |cos| does not "
                                 "measure an angle between used directions"))
    differences = live["vlae"] - live["vae"]
    lower, higher = int((differences > 0).sum()), int((differences < 0).sum())
    p = two_sided_sign_test(lower, higher)
    spread = float(differences.std()) if len(live) > 1 else math.nan
    shown = f"{collapse}; " if collapsed_vae or collapsed_vlae else ""
    detail = (f"{shown}over the {len(live)} seeds that count, the VAE's |cos| "
              f"({live['vae'].min():.2f}–{live['vae'].max():.2f}) is below the VLAE's "
              f"({live['vlae'].min():.2f}–{live['vlae'].max():.2f}) in {lower} of {len(live)}; median "
              f"difference {differences.median():+.2f}, two-sided sign test p = {p:.2g}")
    return Finding(NONLINEAR_ORTHOGONAL, scale, setting, len(seeds), float(differences.median()), spread, p,
                   detail)


def linear_findings(runs: pd.DataFrame, scale: str) -> list[Finding]:
    """The two verifications on every recorded linear fit (per-cell means of :func:`load_runs` rows)."""
    fits = runs[runs["section"] == "linear"] if len(runs) and "section" in runs else runs.iloc[0:0]
    diagonal = fits[fits["method"] == "diagonal"] if len(fits) else fits
    full = fits[fits["method"] == "full"] if len(fits) else fits
    if diagonal.empty or full.empty:
        return []
    count = fits["run_id"].nunique()
    setting = "linear VAEs, every recorded fit"
    worst, mean_full = float(diagonal["abs_cos"].max()), float(full["abs_cos"].mean())
    deficit = float(max(diagonal["elbo_deficit"].max(), full["elbo_deficit"].max()))
    return [
        Finding(DIAGONAL_ORTHOGONAL, scale, setting, count,
                detail=(f"{len(diagonal)} fits of {count} runs: largest |cos| between columns: diagonal q "
                        f"{worst:.3f}, full q {mean_full:.2f} on average"),
                passed=worst < ORTHOGONAL_COS < mean_full),
        Finding(SAME_ELBO, scale, setting, count,
                detail=(f"{len(diagonal) + len(full)} fits of {count} runs: largest ELBO shortfall from the "
                        f"PPCA log-likelihood {deficit:.1e} nats"),
                passed=deficit < ELBO_SHORTFALL),
    ]


def findings(scale: str, runs: pd.DataFrame | None = None) -> list[Finding]:
    """Every claim of :data:`CLAIMS` on the runs of ``scale`` (by default the committed records
    of that profile): the verifications on the linear fits, the non-linear claim per true angle
    and noise level."""
    runs = planned_records("ppca", scale) if runs is None else runs
    frame = seed_frame(runs)
    models = frame[frame["model"].isin(["vae", "vlae"])]
    return [*linear_findings(runs, scale),
            *(nonlinear_finding(group, scale) for _, group in models.groupby(["angle", "noise"], sort=True))]


def with_this_run(runs: pd.DataFrame, params: PPCASettings, rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """``runs`` (from :func:`companion.results.load_runs`) with this run's ``rows`` in place of a
    recorded run of the same parameters: what the chapter decides on before it records the run."""
    key = results.run_key("ppca", params.record())
    if len(runs) and "run_id" in runs:
        runs = runs[~runs["run_id"].astype(str).str.endswith(key)]
    return results.with_this_run("ppca", runs, params.record(), rows)


def plot_seeds(frame: pd.DataFrame) -> Figure:
    """|cos| between the decoder's Jacobian columns per noise level and decoder, one panel per
    true angle: every seed a dot (collapsed ones included), the mean ± 1 sd over seeds a black
    bar (:func:`~companion.plotting.seed_points`)."""
    angles = sorted(frame["angle"].unique())
    fig, axes = plt.subplots(1, len(angles), figsize=(min(5 * len(angles), FIGURE_WIDTH), 3.6), squeeze=False)
    # a replicate of a seed is the unit: the decoders trained on its data are joined
    shown = frame.assign(decoder=frame["model"].map(MODELS),
                         unit=frame["seed"].astype(str) + "/" + frame["replicate"].astype(str))
    for ax, angle in zip(axes[0], angles):
        seed_points(shown[shown["angle"] == angle], "noise", "abs_cos", ax=ax, hue="decoder",
                    hue_order=[MODELS[m] for m in MODELS if m in set(frame["model"])], pair="unit")
        ax.set_xlabel("observation noise σ")
        ax.set_ylabel("|cos| between Jacobian columns")
        ax.set_title(f"true angle {angle:g}°")
        ax.legend(title=None, fontsize=8)
    fig.tight_layout()
    return fig
