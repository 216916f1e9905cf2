"""How the book decides a claim: claims declared once, one decision type, one rule.

Each chapter's ``evidence`` module declares its paper's claims once (``CLAIMS`` there, a
tuple of :class:`Claim`: the sentence, the paper's number and source, the rule) and turns its
records into :class:`Finding` objects, one per claim and setting: the effect in the paper's
direction (positive = as the paper says), its spread and p-value over seeds, and whether the
runs can test the claim at all. :func:`decide` turns a paper's findings at one scale into
:class:`Decision` objects; the chapters and the summary page show the same decisions.

The rule, stated once here and quoted by the pages:

- **not run**: no seed has both sides;
- **not tested at this scale**: a condition the claim presupposes failed (e.g. a SplitNet cut
  that destroys the network before fine-tuning, or every latent collapsed in every model): the
  runs are valid but cannot speak to the claim; the reason is given;
- **inconclusive**: fewer than :data:`MIN_SEEDS` seeds, or the Holm-adjusted p ≥ :data:`ALPHA`
  (the difference is inside the seed noise);
- **reproduced**: adjusted p < :data:`ALPHA` and the effect is in the paper's direction;
- **not reproduced**: adjusted p < :data:`ALPHA` and the effect is against it.

Multiplicity: a paper's tested effects at one scale are one family; their p-values are
adjusted by Holm's step-down method (:func:`holm`) and the verdict is decided on the adjusted
one. Verifications (a closed-form identity checked on every fit) and measurements (a timing)
have no p-value; they are reproduced or not by a stated criterion and stay out of the family.

The tests behind p: a two-sided paired t-test over seeds (:func:`paired_statistics`, the two
sides trained with the same seed, data order and budget); where per-seed differences are not
on one scale, the exact one-sided :func:`sign_test`; error rates on a shared test set are
decided on paired test predictions (:mod:`companion.splitnet.evidence`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
from scipy import stats

REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTED, NOT_RUN = (
    "reproduced", "not reproduced", "inconclusive", "not tested at this scale", "not run")
#: The five verdicts a claim can get.
VERDICTS = (REPRODUCED, NOT_REPRODUCED, INCONCLUSIVE, NOT_TESTED, NOT_RUN)
#: Fewest seeds a verdict other than "inconclusive" needs.
MIN_SEEDS = 3
#: Significance level, applied to the Holm-adjusted p-value.
ALPHA = 0.05
#: The kinds of claim, an effect tested over seeds, a verification of an identity, a measurement.
EFFECT, VERIFICATION, MEASUREMENT = "effect", "verification", "measurement"
KINDS = (EFFECT, VERIFICATION, MEASUREMENT)
#: The rule in one sentence, for the pages that quote it.
RULE = (f"paired over seeds (both sides trained with the same seed): reproduced when the "
        f"Holm-adjusted p (over the paper's tested claims at that scale) is below {ALPHA} and the "
        f"effect is in the paper's direction, not reproduced when it is below {ALPHA} the other way, "
        f"inconclusive with fewer than {MIN_SEEDS} seeds or adjusted p ≥ {ALPHA}, not tested at this "
        f"scale when a condition the claim presupposes fails, not run without runs")


@dataclass(frozen=True)
class Claim:
    """A claim of a paper, declared once (in its chapter's ``evidence.CLAIMS``)."""

    #: stable identifier, e.g. ``"vlae/beats-vae"`` (the chapter's name first)
    key: str
    #: the family it belongs to, e.g. ``"VLAE (ICML 2019)"``
    paper: str
    #: the claim as the book words it
    sentence: str
    #: the paper's number (or statement) and its source
    reported: str
    #: how the claim is decided, in one sentence
    rule: str
    #: EFFECT, VERIFICATION or MEASUREMENT
    kind: str = EFFECT
    #: the research summary's own words the claim rests on (empty where it has none)
    quote: str = ""
    #: the unit of the finding's effect, for plots (e.g. "nats of log p(x)")
    unit: str = ""
    #: labels of the entries of the book's errata page (``book/errata.md``) that bear on the claim
    errata: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"claim {self.key!r}: kind={self.kind!r} is not one of {KINDS}")

    @property
    def chapter(self) -> str:
        """The chapter that decides the claim (the key's first part)."""
        return self.key.split("/", 1)[0]


@dataclass(frozen=True)
class Finding:
    """What the runs of one setting say about one claim, before the family is adjusted.

    ``effect`` is positive in the paper's direction; ``p_value`` is NaN where the test has
    none (a verification or measurement, which give ``passed`` instead). A non-empty
    ``untested`` is the reason the runs cannot test the claim (the verdict is then NOT_TESTED).
    ``caveat`` says where the setting differs from the paper's in a way that bears on the claim.
    """

    claim: Claim
    scale: str
    setting: str
    seeds: int
    effect: float = math.nan
    spread: float = math.nan
    p_value: float = math.nan
    detail: str = ""
    untested: str = ""
    passed: bool | None = None
    #: where our setting differs from the paper's in a way a reader must know (shown beside it)
    caveat: str = ""
    #: the paper's own effect on the same comparison, in the effect's unit (NaN where it has none)
    paper_effect: float = math.nan


@dataclass(frozen=True)
class Decision:
    """A claim decided on one scale and setting: the finding, the adjusted p and the verdict."""

    finding: Finding
    p_adjusted: float
    verdict: str

    @property
    def claim(self) -> Claim:
        return self.finding.claim

    @property
    def reason(self) -> str:
        """Why the claim is not tested here (empty when it is)."""
        return self.finding.untested


def paired_statistics(differences: Sequence[float]) -> tuple[int, float, float, float]:
    """Seeds, mean, sd and two-sided paired t-test p of per-seed differences (p NaN below 2
    seeds; 0 or 1 when every difference is the same, non-zero or zero)."""
    values = [float(value) for value in differences]
    if any(math.isnan(value) for value in values):
        raise ValueError(f"a paired difference is NaN: {values}; a run failed or is incomplete")
    n = len(values)
    if n == 0:
        return 0, math.nan, math.nan, math.nan
    mean = sum(values) / n
    sd = math.sqrt(sum((value - mean) ** 2 for value in values) / (n - 1)) if n > 1 else math.nan
    return n, mean, sd, paired_t_p_value(values)


def paired_t_p_value(differences: Sequence[float]) -> float:
    """Two-sided p-value of a paired t-test that the mean difference is 0 (nan below 2 seeds;
    0 or 1 when every difference is the same, non-zero or zero)."""
    values = [float(value) for value in differences]
    if len(values) < 2:
        return float("nan")
    if max(values) == min(values):
        return 1.0 if values[0] == 0 else 0.0
    return float(stats.ttest_1samp(values, 0.0).pvalue)


def paired_finding(claim: Claim, scale: str, setting: str, differences: Sequence[float], *,
                   detail: str = "", untested: str = "", caveat: str = "") -> Finding:
    """A finding from per-seed paired differences (positive in the paper's direction)."""
    seeds, mean, sd, p = paired_statistics(differences)
    return Finding(claim, scale, setting, seeds, mean, sd, p, detail or describe(mean, sd, seeds, p),
                   untested, caveat=caveat)


def sign_test(successes: int, trials: int) -> float:
    """One-sided exact sign test: P(X ≥ ``successes``) for X ~ Binomial(``trials``, ½)."""
    if not 0 <= successes <= trials:
        raise ValueError(f"successes={successes} must lie between 0 and trials={trials}")
    return sum(math.comb(trials, k) for k in range(successes, trials + 1)) / 2 ** trials


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given; NaN stays NaN and is not
    counted in the family): the i-th smallest of m becomes max over j ≤ i of (m − j + 1)·p_(j),
    capped at 1."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    m = len(indexed)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def verdict(finding: Finding, p_adjusted: float, *, alpha: float = ALPHA,
            min_seeds: int = MIN_SEEDS) -> str:
    """The rule of this module applied to one finding and its adjusted p."""
    if finding.seeds == 0:
        return NOT_RUN
    if finding.untested:
        return NOT_TESTED
    if finding.claim.kind != EFFECT:
        if finding.passed is None:
            raise ValueError(f"{finding.claim.key}: a {finding.claim.kind} needs passed=True/False")
        return REPRODUCED if finding.passed else NOT_REPRODUCED
    if finding.seeds < min_seeds or not p_adjusted < alpha:
        return INCONCLUSIVE
    return REPRODUCED if finding.effect > 0 else NOT_REPRODUCED


def decide(findings: Iterable[Finding]) -> list[Decision]:
    """Decisions on ``findings``: Holm over each paper's tested effects at each scale (the
    findings that have a p-value and can test their claim), then the rule of this module."""
    findings = list(findings)
    adjusted = [math.nan] * len(findings)
    families: dict[tuple[str, str], list[int]] = {}
    for index, finding in enumerate(findings):
        if finding.claim.kind == EFFECT and not finding.untested and not math.isnan(finding.p_value):
            families.setdefault((finding.claim.paper, finding.scale), []).append(index)
    for members in families.values():
        for index, p in zip(members, holm([findings[i].p_value for i in members])):
            adjusted[index] = p
    return [Decision(finding, p, verdict(finding, p)) for finding, p in zip(findings, adjusted)]


def describe(mean: float, sd: float, seeds: int, p: float) -> str:
    """The numbers as a reader checks them, e.g. "+1.23 ± 0.40 over 3 seeds, p = 0.031"."""
    if seeds == 0:
        return "no runs"
    spread = f" ± {sd:.2f}" if seeds > 1 and not math.isnan(sd) else ""
    shown = "" if math.isnan(p) else f", p = {p:.2g}"
    plural = "s" if seeds != 1 else ""
    return f"{mean:+.2f}{spread} over {seeds} seed{plural}{shown}"


def seeds_to_settle(effect: float, spread: float, alpha: float = ALPHA, power: float = 0.8) -> int | None:
    """Seeds a paired t-test would need to find ``effect`` at the observed ``spread`` (normal
    approximation, two-sided ``alpha``, the given power); None when either is not a number or
    the effect is zero."""
    if math.isnan(effect) or math.isnan(spread) or effect == 0 or spread == 0:
        return None
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return max(MIN_SEEDS, math.ceil((z * spread / effect) ** 2) + 1)



def decision_frame(decisions: Iterable[Decision]) -> pd.DataFrame:
    """Decisions as a chapter shows them: one row per claim and setting with the effect, the
    raw and Holm-adjusted p, the verdict and, where the claim is not tested, why."""
    rows = [{"claim": d.claim.sentence, "setting": d.finding.setting, "scale": d.finding.scale,
             "seeds": d.finding.seeds, "ours": d.finding.detail,
             "p": d.finding.p_value, "p (Holm)": d.p_adjusted, "verdict": d.verdict,
             "why not tested": d.reason or "—"} for d in decisions]
    columns = ["claim", "setting", "scale", "seeds", "ours", "p", "p (Holm)", "verdict", "why not tested"]
    return pd.DataFrame(rows, columns=columns)
