"""The VLAE paper's claims, declared once, and how the recorded runs decide them.

Four claims of Park, Kim & Kim (ICML 2019), each decided per setting (data set, likelihood,
sizes and budget: :func:`~companion.vlae.experiments.per_seed`'s setting, never pooled across
settings or scales) on paired differences of test log p(x) over seeds, the two sides trained
with the same seed, data order and budget: VLAE against the VAE, against the strongest
baseline, VLAE at its largest T against its smallest, and VLAE against SA-VAE as the authors'
code runs it (the paper's baseline; ours, the faithful SA-VAE, is among the baselines). :func:`findings` turns one scale's
runs into :class:`~companion.evidence.Finding` objects; :func:`companion.evidence.decide` gives
the verdicts (Holm over the four claims and the settings of one scale), which the chapter and
the summary page show.

A comparison tests its claim only if its two sides were trained with the same settings but
the model and T (same data, epochs, sizes, optimiser, seed): where a recorded pair differs in
any of them, the finding says which and is "not tested at this scale".
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd

from companion import paper
from companion.evidence import Claim, Finding, describe, paired_finding, paired_statistics
from companion.reproduce.plan import planned_records, subgrids
from companion.vlae.experiments import (estimator_check, logit_transformed, model_label, paper_value, per_seed,
                                        setting_of, settings_of)
from companion.vlae.settings import GRID, PROFILES

#: The family the claims belong to (Holm adjusts over it, per scale).
PAPER = "VLAE (ICML 2019)"

#: Parameters in which the two sides of a comparison may differ, which models and T a run
#: trains, where and how fast (they change no model's training, or are the comparison itself).
NOT_TRAINING = ("steps", "models", "device", "data_dir", "threads", "figure_epochs")
#: Where our SA-VAE differs from the paper's in a way that bears on a comparison with it.
SAVAE_CAVEAT = ("our SA-VAE steps up each example's ELBO (Kim et al.); the authors' code steps along the "
                "batch loss, the other way: that SA-VAE, the paper's, is decided in its own row "
                "(\"VLAE beats SA-VAE as the paper ran it\")")
#: Parameters only one model uses, compared only where a side is that model.
MODEL_PARAMETERS = {"svi_lr": "SA-VAE", "authors_svi_lr": "SA-VAE, authors' step", "damping": "VLAE"}


def reported_numbers(table1: pd.DataFrame, poster: pd.DataFrame) -> dict[str, str]:
    """The paper's side of each claim, counted on Table 1 and, for binarised MNIST, the
    published poster: claim key → the number and its source."""
    beats_vae = beats_all = more = 0
    data_sets = list(table1.groupby(["dataset", "likelihood"], sort=False))
    for _, group in data_sets:
        vlae = group[group["model"] == "VLAE"].set_index("steps")["log_px"]
        others = group[group["model"] != "VLAE"]
        beats_vae += int(vlae.max() > float(group.loc[group["model"] == "VAE", "log_px"].iloc[0]))
        beats_all += int(vlae.max() > others["log_px"].max())
        more += int(vlae[8] > vlae[1])
    savae_gains = [float(group.loc[(group["model"] == "VLAE") & (group["steps"] == 4), "log_px"].iloc[0])
                   - float(group.loc[(group["model"] == "SA-VAE") & (group["steps"] == 4), "log_px"].iloc[0])
                   for _, group in data_sets]
    mnist = table1[(table1["dataset"] == "mnist") & (table1["likelihood"] == "gaussian")]
    best = mnist.loc[mnist["model"] == "VLAE", "log_px"].max()
    rival = mnist.loc[mnist["model"] != "VLAE", "log_px"].max()
    published = (poster.loc[poster["model"] == "VLAE", "log_px"].max()
                 - poster.loc[poster["model"] != "VLAE", "log_px"].max())
    n, table_source, poster_source = len(data_sets), table1["source"].iloc[0], poster["source"].iloc[0]
    return {
        "vlae/beats-vae": f"{beats_vae} of {n} data sets ({table_source})",
        "vlae/beats-strongest-baseline": (
            f"{beats_all} of {n} data sets (MNIST: {best:.1f} vs {rival:.1f}; {table_source}); "
            f"binarised MNIST, published: {published:+.2f} over VAE+IAF ({poster_source})"),
        "vlae/more-updates-help": f"T=8 beats T=1 on {more} of {n} data sets ({table_source})",
        "vlae/beats-authors-savae": (
            f"VLAE (T=4) over SA-VAE (T=4): {sum(gain > 0 for gain in savae_gains)} of {n} data sets, "
            f"{min(savae_gains):+.1f} to {max(savae_gains):+.1f} nats; SA-VAE as their code runs it "
            f"({table_source})"),
    }


_REPORTED = reported_numbers(paper.reported("vlae_table1"), paper.reported("vlae_poster"))

_UNIT = "nats of test log p(x)"
#: The paper's claims, in the order the pages show them.
CLAIMS: tuple[Claim, ...] = (
    Claim("vlae/beats-vae", PAPER, "VLAE beats the VAE", _REPORTED["vlae/beats-vae"],
          "test log p(x) of VLAE at T = 4 (else the largest T recorded with the most seeds) minus "
          "the VAE's trained with the same seed, paired over seeds (two-sided t-test)",
          quote="Two challenges for VAEs: reducing amortization error, using expressive posterior "
                "assumptions. We tackle both challenges", unit=_UNIT,
          errata=("errata-vlae-evaluated-epoch", "errata-vlae-bernoulli-test-set", "errata-vlae-initialisation")),
    Claim("vlae/beats-strongest-baseline", PAPER,
          "VLAE beats the strongest baseline (VAE, SA-VAE, VAE+HF, VAE+IAF)",
          _REPORTED["vlae/beats-strongest-baseline"],
          "VLAE minus the baseline with the highest mean log p(x) at the same T (or the VAE), "
          "paired over seeds (two-sided t-test)", unit=_UNIT,
          errata=("errata-vlae-savae-step", "errata-vlae-gradient-clip", "errata-vlae-iaf",
                  "errata-vlae-evaluated-epoch")),
    Claim("vlae/more-updates-help", PAPER, "more Laplace updates help VLAE (largest T over smallest)",
          _REPORTED["vlae/more-updates-help"],
          "VLAE at the largest T minus VLAE at the smallest (among the T recorded with the most "
          "seeds), paired over seeds (two-sided t-test)",
          quote="Iteratively find the mode of posterior distribution", unit=_UNIT,
          errata=("errata-vlae-evaluated-epoch",)),
    Claim("vlae/beats-authors-savae", PAPER,
          "VLAE beats SA-VAE as the paper ran it (the authors' code's step)",
          _REPORTED["vlae/beats-authors-savae"],
          "VLAE minus \"SA-VAE, authors' step\" (the paper's baseline: their code steps along the "
          "batch-mean loss) at the same T, paired over seeds (two-sided t-test); our SA-VAE, a "
          "step up each example's ELBO, is decided in \"the strongest baseline\"", unit=_UNIT,
          errata=("errata-vlae-savae-step", "errata-vlae-gradient-clip")),
)
BEATS_VAE, BEATS_BASELINE, MORE_UPDATES, BEATS_AUTHORS_SAVAE = CLAIMS
#: How the authors' SA-VAE is named in the records.
AUTHORS_SAVAE = "SA-VAE, authors' step"


def claim_steps(frame: pd.DataFrame) -> tuple[int, int, int]:
    """The T at which VLAE meets the baselines (4, the paper's middle setting, else the
    largest), and the smallest and largest T, among the T recorded with the most seeds: one
    extra seed at a new T does not replace a comparison made over several seeds."""
    vlae = frame[frame["model"] == "VLAE"]
    seeds = vlae.groupby(vlae["steps"].astype(int).to_numpy())["seed"].nunique()
    steps = sorted(seeds.index[seeds == seeds.max()])
    return (4 if 4 in steps else steps[-1]), steps[0], steps[-1]


def strongest_baseline(frame: pd.DataFrame, steps: int) -> tuple[str, int] | None:
    """The baseline with the highest mean log p(x) over seeds in one setting's
    :func:`~companion.vlae.experiments.per_seed` table: SA-VAE, VAE+HF or VAE+IAF at
    ``steps``, or the VAE (None when none is recorded)."""
    means = frame.groupby(["model", "steps"])["log_px"].mean()
    rivals = [(model, at) for (model, at) in means.index
              if (model != "VLAE" and at == steps) or model == "VAE"]
    return max(rivals, key=lambda key: means[key]) if rivals else None


def gains_in_run(frame: pd.DataFrame, first: tuple[str, int]) -> pd.Series | None:
    """log p(x) of ``first`` (a (model, T)) minus the VAE trained in the same run, per seed
    (:func:`~companion.vlae.experiments.per_seed`'s ``gain``); None unless every seed's run of
    ``first`` trained a VAE. A model is compared with the VAE it was trained beside, not with
    another run's VAE of the same seed."""
    values = frame.set_index(["model", "steps", "seed"])
    if first not in values.index.droplevel("seed"):
        return None
    gains = values.xs(first, level=["model", "steps"])["gain"]
    return None if gains.isna().any() else gains.sort_index()


def paired_log_px(frame: pd.DataFrame, first: tuple[str, int], second: tuple[str, int]) -> pd.Series:
    """log p(x) of ``first`` minus ``second`` (each a (model, T)) per seed, over the seeds that
    have both; ``frame`` is one setting's :func:`~companion.vlae.experiments.per_seed` table."""
    values = frame.set_index(["model", "steps", "seed"])["log_px"]
    a, b = values.xs(first, level=["model", "steps"]), values.xs(second, level=["model", "steps"])
    return (a - b).dropna().sort_index() if len(a) and len(b) else pd.Series(dtype=float)


def training_mismatch(frame: pd.DataFrame, first: tuple[str, int], second: tuple[str, int]) -> str:
    """Why the pairs of ``first`` and ``second`` (same seed) do not compare like with like: the
    first recorded parameter other than the model and T in which they differ ("" when none)."""
    names = [column.removeprefix("param_") for column in frame.columns if column.startswith("param_")]
    compared = [name for name in names if name not in NOT_TRAINING
                and (name not in MODEL_PARAMETERS or MODEL_PARAMETERS[name] in (first[0], second[0]))]
    arms = frame.set_index(["model", "steps", "seed"])
    a, b = arms.xs(first, level=["model", "steps"]), arms.xs(second, level=["model", "steps"])
    for seed in a.index.intersection(b.index):
        for name in compared:
            ours, theirs = (_plain(side.at[seed, f"param_{name}"]) for side in (a, b))
            if not (ours == theirs or (pd.isna(ours) and pd.isna(theirs))):
                return (f"{model_label(*first)} and {model_label(*second)} of seed {seed} were trained "
                        f"with other settings: {name}={ours!r} and {theirs!r}")
    return ""


def _plain(value: object) -> object:
    """A value read from a frame as Python has it (a NumPy scalar as its int, float, str)."""
    return value.item() if hasattr(value, "item") else value


def paper_gain(dataset: str, likelihood: str, first: tuple[str, int], second: tuple[str, int]) -> float:
    """The paper's Table 1 log p(x) of ``first`` less ``second`` (each a (model, T)) on its data
    set nearest to ``dataset``; the authors' SA-VAE is Table 1's SA-VAE, the strongest of ours
    is theirs at that T (NaN where Table 1 has no such row)."""
    table = paper.reported("vlae_table1")

    def reported(model: str, steps: int) -> float:
        name = "SA-VAE" if model == AUTHORS_SAVAE else model
        return paper_value(table, name, 0 if name == "VAE" else steps, dataset, likelihood)

    return reported(*first) - reported(*second)


def estimator_caveat(runs: pd.DataFrame, steps: int) -> str:
    """What the gap decomposition's estimate of log p(x) (from each image's best Gaussian q*,
    :func:`~companion.vlae.experiments.estimator_check`) makes of VLAE's gain over the VAE at
    ``steps``, beside the comparison's own estimate (from each model's q); empty where no run of
    ``runs`` (one setting's records) kept both models' decompositions."""
    check = estimator_check(runs)
    if check.empty:
        return ""
    vlae = check[check["model"] == model_label("VLAE", steps)].dropna(subset=["gain over VAE, from q*"])
    if vlae.empty:
        return ""
    row = vlae.loc[vlae["images"].idxmax()]
    return (f"with log p(x) estimated instead from each image's best Gaussian q* (converged in K) on "
            f"{row['images']} test images of {row['runs']} run{'s' if row['runs'] != 1 else ''}, VLAE's gain "
            f"is {row['gain over VAE, from q*']:+.1f} nats (from each model's own q, as compared here: "
            f"{row['gain over VAE, from q']:+.1f})")


def setting_findings(scale: str, setting: str, frame: pd.DataFrame, runs: pd.DataFrame | None = None) -> list[Finding]:
    """The four claims on one setting's :func:`~companion.vlae.experiments.per_seed` table
    (``runs``: the setting's records, for :func:`estimator_caveat`)."""
    if not (frame["model"] == "VLAE").any():
        return [Finding(claim, scale, setting, 0, detail="no VLAE run") for claim in CLAIMS]
    main, low, high = claim_steps(frame)
    comparisons = [(BEATS_VAE, ("VLAE", main), ("VAE", 0), ""),
                   (BEATS_BASELINE, ("VLAE", main), strongest_baseline(frame, main), ", the strongest baseline"),
                   (MORE_UPDATES, ("VLAE", high), ("VLAE", low) if high > low else None, ""),
                   (BEATS_AUTHORS_SAVAE, ("VLAE", main),
                    (AUTHORS_SAVAE, main) if ((frame["model"] == AUTHORS_SAVAE) & (frame["steps"] == main)).any()
                    else None, "")]
    found = []
    for claim, first, second, note in comparisons:
        if second is None:
            missing = f"no {AUTHORS_SAVAE} run" if claim is BEATS_AUTHORS_SAVAE else f"only {model_label(*first)} recorded"
            found.append(Finding(claim, scale, setting, 0, detail=missing))
            continue
        within = gains_in_run(frame, first) if second == ("VAE", 0) else None
        differences = (paired_log_px(frame, first, second) if within is None else within).tolist()
        seeds, mean, sd, p = paired_statistics(differences)
        per_seed_text = ", ".join(f"{value:+.2f}" for value in differences)
        detail = (f"{model_label(*first)} over {model_label(*second)}{note}: "
                  f"{describe(mean, sd, seeds, p)} (per seed: {per_seed_text or '—'})")
        caveat = (SAVAE_CAVEAT if second[0] == "SA-VAE"
                  else estimator_caveat(runs, main) if claim is BEATS_VAE and runs is not None else "")
        finding = paired_finding(claim, scale, setting, differences, detail=detail,
                                 untested="" if within is not None else training_mismatch(frame, first, second),
                                 caveat=caveat)
        found.append(replace(finding, paper_effect=paper_gain(
            frame["param_dataset"].iloc[0], frame["param_likelihood"].iloc[0], first, second)))
    return found


def section(finding: Finding) -> str:
    """The label of the chapter's section that decides ``finding`` (the summary links to it)."""
    return "vlae-evidence-cpu-long" if finding.scale == "cpu-long" else "vlae-decisions"


def planned_data_sets(scale: str) -> list[tuple[str, str]]:
    """The (data set, likelihood) pairs the ``scale`` profile's grid plans runs on."""
    profile = PROFILES[scale]
    pairs = [(dataset, likelihood) for grid in subgrids(GRID.get(scale, {}))
             for dataset in grid.get("dataset", [profile.dataset])
             for likelihood in grid.get("likelihood", [profile.likelihood])]
    return list(dict.fromkeys(pairs))


def findings(scale: str, runs: pd.DataFrame | None = None) -> list[Finding]:
    """Every claim on every setting of ``scale``'s runs (the committed records of that profile
    when ``runs`` is None), then "no runs" findings for the data sets its grid plans but no run
    covers."""
    if runs is None:
        runs = planned_records("vlae", scale)
    # the claims are the paper's, on its pixels: runs on the authors' logit transform decide none
    runs = runs[~logit_transformed(runs)] if len(runs) else runs
    frame = per_seed(runs) if len(runs) else pd.DataFrame(columns=["setting", "model"])
    labels = settings_of(runs) if len(runs) else pd.Series(dtype=str)
    found, seen = [], set()
    for setting, group in frame.groupby("setting", sort=False):
        seen.add((group["param_dataset"].iloc[0], group["param_likelihood"].iloc[0]))
        found.extend(setting_findings(scale, setting, group, runs[labels == setting]))
    for dataset, likelihood in planned_data_sets(scale) if scale in PROFILES else []:
        if (dataset, likelihood) not in seen:
            setting = setting_of(replace(PROFILES[scale], dataset=dataset, likelihood=likelihood))
            found.extend(Finding(claim, scale, setting, 0, detail="no runs") for claim in CLAIMS)
    return found
