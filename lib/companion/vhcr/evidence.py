"""The VHCR paper's claims, declared once, and what the recorded runs say about them.

:data:`CLAIMS` holds the paper's two claims about the KL term (the sentence, the paper's number
and the rule); :func:`findings` turns the records of one scale (by default the committed
records of its planned grid, :func:`companion.reproduce.plan.planned_records`) into one
:class:`~companion.evidence.Finding` per claim and setting (:func:`settings_of`), which
:func:`companion.evidence.decide` decides for the chapter and the summary page alike:

1. degeneration: VHRED's latent collapses while VHCR's z_conv does not — per seed, the test KL
   per word of VHCR + utterance drop's z_conv against VHRED's z_t;
2. utterance drop keeps z_conv in use — per seed, z_conv's test KL per word with utterance drop
   against without.

The effect is the per-seed log-ratio log(KL in use / KL of the other), KLs being positive and
spanning orders of magnitude, tested by a paired t-test over seeds. A claim is **not tested at
this scale** when the latent that should stay in use is itself collapsed (KL per word below
:data:`COLLAPSED_BELOW`) in every seed: a ratio between two collapsed latents says nothing about
whether the latent is used.

The rest renders the ``cpu-long`` records the sweep committed (the chapter never trains
``cpu-long``), one corpus at a time (:func:`of_dataset`): every table per model with its spread
over seeds, the training histories and the utterance-drop ablation seed by seed; on the designed
corpus (:mod:`companion.vhcr.designed`) the probes of the true topic beside the generator's exact
NLL (:func:`known_latent_summary`) and what an ideal model would gain from z_conv
(:func:`ideal_balance`); and the Chit-Chat pilot of longer annealing and a smaller vocabulary
(:func:`kl_pilot_table`, :func:`kl_pilot_verdict`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from companion import paper
from companion.evidence import RULE, Claim, Decision, Finding, describe, paired_finding, paired_statistics
from companion.plotting import FIGURE_WIDTH, MODEL_COLORS, seed_points
from companion.reproduce.plan import planned_records
from companion.results import load_runs
from companion.vhcr.designed import DESIGN
from companion.vhcr.settings import LABELS, VARIANTS

#: Test metrics per word of each model, as the records name them.
METRICS = ("NLL", "KL z_utt", "KL z_conv")
#: Below this KL per word (nats) a latent counts as collapsed (2% of the 0.503 nats per word the
#: paper reports for VHCR + utterance drop on Cornell).
COLLAPSED_BELOW = 0.01
_COLUMNS = ["variant", "model", "seed", *METRICS]


def per_seed(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per (model, seed) of ``runs`` (from ``load_runs``): the test NLL and KLs per word.

    Rows follow the order of :data:`VARIANTS`, then the seed; a model recorded twice with one
    seed keeps its last row (a chapter's own run, appended after the store); empty (with the
    columns) when nothing is recorded.
    """
    if not len(runs):
        return pd.DataFrame(columns=_COLUMNS)
    missing = [c for c in ("variant", "param_seed", *METRICS) if c not in runs]
    if missing:
        raise ValueError(f"records lack the columns {missing}; expected VHCR chapter records")
    frame = runs.rename(columns={"param_seed": "seed"})[["variant", "seed", *METRICS]].copy()
    frame = frame.drop_duplicates(["variant", "seed"], keep="last")
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
    fig, axes = plt.subplots(1, 2, figsize=(FIGURE_WIDTH, 3.6), sharex=True)
    for model in models:
        frame = curves[curves["model"] == model]
        if not len(frame):
            continue
        for ax, column in zip(axes, ("kl_utterance", "kl_conversation")):
            stats = frame.groupby("step")[column].agg(["mean", "min", "max"])
            if not (stats["max"] > 0).any():
                continue
            ax.plot(stats.index, stats["mean"], marker=".", color=MODEL_COLORS[model], label=model)
            ax.fill_between(stats.index, stats["min"], stats["max"], color=MODEL_COLORS[model], alpha=0.2)
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


def plot_seeds(seeds: pd.DataFrame) -> Figure:
    """Test NLL (left) and the log10 KL per word of z_t and z_conv (right) per model, every seed a
    dot, the mean ± 1 sd over seeds a black bar (:func:`~companion.plotting.seed_points`; the KL's
    spread is taken on the log scale, where the claims are tested)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(FIGURE_WIDTH, 3.6))
    order = list(dict.fromkeys(seeds["model"]))
    seed_points(seeds, "model", "NLL", ax=left, order=order)
    left.set_ylabel("test NLL per word (nats)")
    kls = seeds.melt(id_vars=["model", "seed"], value_vars=["KL z_utt", "KL z_conv"], var_name="latent",
                     value_name="KL")
    kls = kls[kls["KL"] > 0].copy()  # a model without the latent (HRED: both; VHRED: z_conv) records 0
    kls["log10 KL"] = np.log10(kls["KL"])
    seed_points(kls, "model", "log10 KL", ax=right, order=[m for m in order if m in set(kls["model"])],
                hue="latent", hue_order=["KL z_utt", "KL z_conv"], pair=None)
    right.axhline(np.log10(COLLAPSED_BELOW), color="grey", linestyle=":", linewidth=1)
    right.set_ylabel("test KL per word (log10 nats)")
    right.legend(title=None, fontsize=8)
    for ax in (left, right):
        ax.set_xlabel("")
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def _paired(seeds: pd.DataFrame, first: tuple[str, str], second: tuple[str, str]) -> pd.DataFrame:
    """Per seed, metric ``first[1]`` of variant ``first[0]`` and ``second[1]`` of ``second[0]``."""
    def column(variant: str, metric: str) -> pd.Series:
        rows = seeds[seeds["variant"] == variant]
        return pd.Series(rows[metric].to_numpy(dtype=float), index=rows["seed"].to_numpy(), name=variant)

    return pd.concat([column(*first), column(*second)], axis=1, join="inner").sort_index()


def log_ratios(lower: pd.Series, higher: pd.Series) -> list[float]:
    """Per seed log(higher / lower), both clipped at 1e-12 nats (a KL can be 0)."""
    return np.log(higher.clip(lower=1e-12) / lower.clip(lower=1e-12)).tolist()


#: Parameters that vary inside one setting of recorded runs (the rest define the setting).
_WITHIN_SETTING = ("seed", "device", "data_dir", "profile", "models")


#: How a setting names its data set.
DATASET_NAMES = {"designed": "designed corpus"}


def settings_of(runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The recorded runs split by setting (every parameter but the seed, where it ran and which
    models it trained), each labelled by its data set and the parameters that tell it from the
    other settings of that data set."""
    if not len(runs):
        return []
    columns = [c for c in runs.columns if c.startswith("param_") and c[6:] not in _WITHIN_SETTING]
    keys = runs[columns].apply(lambda row: "|".join(map(str, row)), axis=1)
    labelled = []
    for key in dict.fromkeys(keys):
        group = runs[keys == key]
        first = group.iloc[0]
        same_data = runs[runs["param_dataset"] == first["param_dataset"]]
        differing = [c for c in columns if c != "param_dataset" and same_data[c].map(str).nunique() > 1]
        extra = ", ".join(f"{c[6:].replace('_', ' ')} {first[c]}" for c in differing)  # breaks in a narrow column
        name = DATASET_NAMES.get(first["param_dataset"], first["param_dataset"])
        labelled.append((name + (f" ({extra})" if extra else ""), group))
    return labelled


def of_dataset(runs: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The records of ``runs`` made on ``dataset`` (a chapter never pools two corpora)."""
    if not len(runs):
        return runs
    return runs[runs["param_dataset"] == dataset]


#: The designed corpus's columns a record holds (:func:`companion.vhcr.experiments.known_latent_table`).
PROBES = ("probe context", "probe z_utt", "probe z_utt mean", "probe z_conv", "probe z_conv mean")


def known_latent_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Per utterance-drop rate and model, the mean over seeds (and the seed count) of the test
    NLL, its excess over the generator's exact NLL on the same conversations, the KL per word of
    each latent (z_conv's also per conversation, to set beside :func:`ideal_balance`'s cost) and
    the probes' held-out accuracy at naming the true topic (with chance and the
    generator's own posterior, the ceiling), from records on the designed corpus."""
    columns = ["NLL", "NLL − generator", "KL z_utt", "KL z_conv", "KL z_conv / conversation", *PROBES,
               "probe chance", "probe ceiling"]
    if not len(runs):
        return pd.DataFrame(columns=["seeds", *columns])
    frame = runs.copy()
    frame["NLL − generator"] = frame["NLL"] - frame["generator NLL"]
    frame["KL z_conv / conversation"] = frame["KL z_conv"] * DESIGN.target_words
    frame["model"] = frame["variant"].map(LABELS)
    frame["order"] = frame["variant"].map(list(VARIANTS).index)
    frame = frame.rename(columns={"param_utterance_drop": "utterance drop"})
    grouped = frame.sort_values(["utterance drop", "order"]).groupby(["utterance drop", "model"], sort=False)
    table = grouped[[c for c in columns if c in frame]].mean().reindex(columns=columns)
    table.insert(0, "seeds", grouped.size())
    return table


def ideal_balance(rates: Sequence[float], samples: int = 20000) -> pd.DataFrame:
    """Per utterance-drop rate, what a z_conv naming the topic gains and costs an ideal VHCR on
    the designed corpus (nats per conversation,
    :meth:`~companion.vhcr.designed.DesignedCorpus.topic_code_balance`) and whether it pays."""
    rows = []
    for rate in rates:
        balance = DESIGN.topic_code_balance(rate, samples)
        rows.append({"utterance drop": rate, "gain": balance["gain"], "gain se": balance["gain se"],
                     "cost": balance["cost"], "pays": balance["gain"] > balance["cost"]})
    return pd.DataFrame(rows).set_index("utterance drop")


def _paper_kl() -> str:
    """The paper's KL per word of VHCR + utterance drop on Cornell and its source (the only one
    of its numbers verified from a public source), from ``data/paper/vhcr_reported.csv``."""
    reported = paper.reported("vhcr_reported").dropna(subset=["value"])
    row = reported[(reported["dataset"] == "cornell") & (reported["model"] == "VHCR + utterance drop")
                   & (reported["metric"] == "KL")]
    if not len(row):
        return "stated"
    return (f"Cornell: VHCR + utterance drop KL {float(row['value'].iloc[0]):.3f} nats per word "
            f"({row['source'].iloc[0]})")


#: The claims' family on the summary page (Holm's adjustment runs over it).
PAPER = "VHCR (NAACL 2018)"
_RULE = (f"per seed, the log-ratio of the two test KLs per word; {RULE}; not tested at this scale when "
         f"the latent that should stay in use carries less than {COLLAPSED_BELOW:g} nats per word in every seed "
         "(on the designed corpus, where the best NLL is known, instead when a model's test NLL lies closer to "
         "the NLL of reading no other turn than to the best: that model has not learned the corpus)")

#: The paper's claims as this chapter decides them, declared once (see :mod:`companion.evidence`).
CLAIMS: tuple[Claim, ...] = (
    Claim("vhcr/vhred-collapses-vhcr-does-not", PAPER, "VHRED collapses while VHCR's z_conv does not",
          f"{_paper_kl()}; VHRED's collapse stated", _RULE,
          quote="RNN+VAE suffers from uninformative latent variables [...] Hierarchical latent variable "
                "model: efficient coding by sharing global information", unit="log ratio of test KLs",
          errata=("errata-vhcr-cpu-settings", "errata-vhcr-utterance-drop-posterior",
                  "errata-vhcr-utterance-drop-evaluation", "errata-vhcr-nll-per-conversation")),
    Claim("vhcr/utterance-drop-keeps-zconv", PAPER, "utterance drop keeps z_conv in use",
          "stated (ablation table not available to us)", _RULE,
          quote="Regularize the autoregressive power of RNNs: randomly drop hidden states of encoder RNN",
          unit="log ratio of test KLs",
          errata=("errata-vhcr-cpu-settings", "errata-vhcr-utterance-drop-posterior",
                  "errata-vhcr-utterance-drop-evaluation")),
)


def section(finding: Finding) -> str:
    """The label of the chapter's section that decides ``finding`` (the summary links to it)."""
    if finding.setting.startswith("designed corpus"):
        return "vhcr-designed"
    return "vhcr-evidence-cpu-long" if finding.scale == "cpu-long" else "vhcr-decisions"


@dataclass(frozen=True)
class KLComparison:
    """What a claim compares per seed: the test KL per word of a latent that should stay in use
    (``higher``) against one that should not (``lower``), each (variant, metric)."""

    higher: tuple[str, str]
    lower: tuple[str, str]
    higher_name: str
    lower_name: str


#: Claim key → the comparison that decides it.
COMPARISONS: dict[str, KLComparison] = {
    "vhcr/vhred-collapses-vhcr-does-not": KLComparison(
        ("vhcr_ud", "KL z_conv"), ("vhred", "KL z_utt"), "VHCR + utterance drop's z_conv", "VHRED's z_t"),
    "vhcr/utterance-drop-keeps-zconv": KLComparison(
        ("vhcr_ud", "KL z_conv"), ("vhcr", "KL z_conv"), "z_conv with utterance drop", "z_conv without"),
}


def _values(pairs: pd.DataFrame) -> str:
    return "; ".join(f"seed {seed}: {a:.2g} vs {b:.2g}" for seed, (a, b) in pairs.iterrows())


def designed_premise(runs: pd.DataFrame) -> str:
    """Why records on the designed corpus cannot test the claims ("" when they can): a model
    whose test NLL per word lies closer to the corpus's NLL without context, H(x_t), than to the
    generator's own NLL on the same conversations has not learned what the turns say of the topic,
    so its latents' KL says nothing about the mechanism."""
    without_context = DESIGN.monte_carlo_entropies()["without context"]
    unlearned = runs[runs["NLL"] - runs["generator NLL"] > without_context - runs["NLL"]]
    if not len(unlearned):
        return ""
    cases = "; ".join(f"{LABELS[row['variant']]} seed {row['param_seed']}: {row['NLL']:.3f} "
                      f"(best {row['generator NLL']:.3f}, no context {without_context:.3f})"
                      for _, row in unlearned.iterrows())
    return f"a model has not learned the designed corpus (test NLL per word {cases})"


def kl_finding(claim: Claim, scale: str, setting: str, seeds: pd.DataFrame, premise: str | None = None) -> Finding:
    """One claim on the per-seed test KLs of one setting (:func:`per_seed`): the effect is the
    per-seed log-ratio (paired t-test); not tested when the latent that should stay in use is
    collapsed in every seed or, on the designed corpus (``premise`` given: "" or why not,
    :func:`designed_premise`), when its premise fails — there a collapsed latent is an answer."""
    compared = COMPARISONS[claim.key]
    pairs = _paired(seeds, compared.higher, compared.lower)
    higher, lower = pairs.iloc[:, 0], pairs.iloc[:, 1]
    if not len(pairs):
        return paired_finding(claim, scale, setting, [], detail="no seed recorded with both models")
    ratios = log_ratios(lower, higher)
    untested = premise or ""
    if premise is None and (higher < COLLAPSED_BELOW).all():
        untested = (f"{compared.higher_name} is collapsed: below {COLLAPSED_BELOW:g} nats per word in every seed "
                    f"(test KL per word against {compared.lower_name}: {_values(pairs)})")
    count, mean, sd, p = paired_statistics(ratios)
    detail = (f"log KL ratio {describe(mean, sd, count, p)}: {compared.higher_name} above "
              f"{compared.lower_name} in {int((higher > lower).sum())} of {count} seeds, geometric mean "
              f"ratio {float(np.exp(mean)):.3g}")
    return paired_finding(claim, scale, setting, ratios, detail=detail, untested=untested)


def findings(scale: str, runs: pd.DataFrame | None = None) -> list[Finding]:
    """Every claim of :data:`CLAIMS` on each setting of ``runs`` (from ``load_runs``; None: the
    committed records of ``scale``'s planned grid), one finding per claim and setting; one
    "not run" finding per claim when nothing is recorded."""
    if runs is None:
        runs = planned_records("vhcr", scale)
    settings = settings_of(runs) or [("—", runs)]
    found = []
    for setting, group in settings:
        designed = len(group) and (group["param_dataset"] == "designed").all()
        premise = designed_premise(group) if designed else None
        found += [kl_finding(claim, scale, setting, per_seed(group), premise) for claim in CLAIMS]
    return found


def decision_text(decisions: Iterable[Decision]) -> str:
    """Each decision in one line, in full: claim, setting, verdict, the numbers and, when the
    claim is not tested, why (a table cuts long cells)."""
    return "\n".join(
        f"{d.claim.sentence} ({d.finding.setting}): {d.verdict}. {d.finding.detail}."
        + (f" Not tested: {d.reason}." if d.reason else "") for d in decisions)


def ablation(seeds: pd.DataFrame) -> pd.DataFrame:
    """Per seed, VHCR without and with utterance drop: test KL per word of each latent and NLL."""
    frames = []
    for metric in ("KL z_conv", "KL z_utt", "NLL"):
        pairs = _paired(seeds, ("vhcr", metric), ("vhcr_ud", metric))
        pairs.columns = [f"{metric} without", f"{metric} with"]
        frames.append(pairs)
    table = pd.concat(frames, axis=1)
    table.index.name = "seed"
    return table


def kl_pilot_table(pilot: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The Chit-Chat pilot (``vhcr/kl-pilot`` records, ``benchmarks/vhcr_kl_pilot.py``) beside the
    ``cpu-long`` records of its seeds (``reference``): per arm and model the annealing steps, the
    vocabulary cap, test NLL and KL per word of each latent, and whether z_conv is in use (at
    least :data:`COLLAPSED_BELOW` nats per word; VHCR variants only)."""
    columns = ["arm", "model", "seed", "kl_annealing_steps", "max_vocab_size", "NLL", "KL z_utt", "KL z_conv",
               "z_conv in use"]
    if not len(pilot):
        return pd.DataFrame(columns=columns)
    seeds = set(pilot["param_seed"])
    wanted = set(pilot["variant"])
    base = reference[reference["param_seed"].isin(seeds) & reference["variant"].isin(wanted)].assign(
        arm="cpu-long (annealing over 60% of the run)")
    frame = pd.concat([base, pilot], ignore_index=True)
    frame["model"] = frame["variant"].map(LABELS)
    frame = frame.rename(columns={"param_seed": "seed", "param_kl_annealing_steps": "kl_annealing_steps",
                                  "param_max_vocab_size": "max_vocab_size"})
    frame["z_conv in use"] = (frame["KL z_conv"] >= COLLAPSED_BELOW).where(
        frame["variant"].map(lambda v: VARIANTS[v][0] == "vhcr"))
    return frame[columns].reset_index(drop=True)


def kl_pilot_verdict(table: pd.DataFrame | None = None) -> str:
    """The Chit-Chat pilot's result in one sentence, the same on the chapter and the summary page:
    which arms keep VHCR + utterance drop's z_conv in use (``table`` from :func:`kl_pilot_table`;
    None: the committed pilot records beside the committed cpu-long Chit-Chat runs)."""
    if table is None:
        table = kl_pilot_table(load_runs("vhcr/kl-pilot"), of_dataset(planned_records("vhcr", "cpu-long"), "chitchat"))
    rows = table[table["model"] == LABELS["vhcr_ud"]]
    if not len(rows):
        return "Chit-Chat pilot: not run yet."

    def arms(in_use: bool) -> str:
        chosen = rows[rows["z_conv in use"] == in_use]
        return ", ".join(f"{row['arm']} ({row['KL z_conv']:.2g})" for _, row in chosen.iterrows())
    kept, collapsed = arms(True), arms(False)
    threshold = f"{COLLAPSED_BELOW:g} nats per word"
    if not kept:
        return (f"Chit-Chat pilot (seed {', '.join(map(str, sorted(set(rows['seed']))))}): no arm keeps the z_conv "
                f"of VHCR + utterance drop above {threshold} (test KL per word: {collapsed}); none does at CPU budget.")
    return (f"Chit-Chat pilot (seed {', '.join(map(str, sorted(set(rows['seed']))))}): the z_conv of VHCR + "
            f"utterance drop stays above {threshold} with {kept}" + (f", and collapses with {collapsed}" if collapsed else "")
            + " (test KL per word); one seed, so a direction to test, not a decision.")


def drop_curve(runs: pd.DataFrame) -> pd.DataFrame:
    """Per seed and utterance-drop rate on the designed corpus, VHCR's test KL of z_conv per
    conversation and the probe's accuracy from a z_conv draw: rate 0 is VHCR without utterance
    drop (the same in every setting of a seed: the first record), the others VHCR + utterance
    drop at each setting's rate."""
    columns = ["seed", "utterance drop", "KL z_conv / conversation", "probe z_conv"]
    if not len(runs):
        return pd.DataFrame(columns=columns)
    plain = runs[runs["variant"] == "vhcr"].drop_duplicates("param_seed").assign(**{"utterance drop": 0.0})
    dropped = runs[runs["variant"] == "vhcr_ud"].assign(**{"utterance drop": runs["param_utterance_drop"]})
    frame = pd.concat([plain, dropped], ignore_index=True).rename(columns={"param_seed": "seed"})
    frame["KL z_conv / conversation"] = frame["KL z_conv"] * DESIGN.target_words
    if "probe z_conv" not in frame:
        frame["probe z_conv"] = np.nan
    return frame[columns].sort_values(["seed", "utterance drop"]).reset_index(drop=True)


def plot_drop_curve(curve: pd.DataFrame, balance: pd.DataFrame) -> Figure:
    """z_conv's test KL per conversation (left, log scale) and the probe's accuracy from a z_conv
    draw (right) against the utterance-drop rate, one line per seed (the seeds the tests pair);
    left, dashed: what an ideal topic-naming z_conv would cost (its KL), and the rates where it
    would pay (shaded, from ``balance``, :func:`ideal_balance`); right, dotted: chance."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(FIGURE_WIDTH, 3.6), sharex=True)
    for seed, group in curve.groupby("seed"):
        left.plot(group["utterance drop"], group["KL z_conv / conversation"].clip(lower=1e-6), marker="o",
                  label=f"seed {seed}")
        right.plot(group["utterance drop"], group["probe z_conv"], marker="o", label=f"seed {seed}")
    left.axhline(float(balance["cost"].iloc[0]), color="black", linestyle="--", linewidth=1,
                 label="ideal topic code's KL")
    left.axhline(COLLAPSED_BELOW * DESIGN.target_words, color="grey", linestyle=":", linewidth=1,
                 label="collapse threshold")
    paying = balance.index[balance["pays"]]
    if len(paying):
        for ax in (left, right):
            ax.axvspan(min(paying) - 0.05, max(balance.index) + 0.05, color="tab:green", alpha=0.08)
    right.axhline(1 / DESIGN.topics, color="grey", linestyle=":", linewidth=1, label="chance")
    left.set_yscale("log")
    left.set_ylabel("test KL of $z_{conv}$ (nats per conversation)")
    right.set_ylabel("probe accuracy from a $z_{conv}$ draw")
    right.set_ylim(0, 1)
    for ax in (left, right):
        ax.set_xlabel("utterance-drop rate in training (0: VHCR)")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
