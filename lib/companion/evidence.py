"""How the book decides a claim from runs over seeds: the verdicts and the test behind them.

A claim is an effect in a stated direction (VLAE's log p(x) above the VAE's, VHCR's KL above
VHRED's, ...). The runs give one *paired* difference per seed (the two sides trained with the
same seed, data order and budget), signed so that a positive value is the paper's direction.
The rule, stated once here and quoted by the chapters:

- **not run**: no seed has both sides;
- **inconclusive**: fewer than :data:`MIN_SEEDS` seeds, or a two-sided paired t-test over the
  seeds gives p ≥ :data:`ALPHA` (the difference is inside the seed noise);
- **reproduced**: p < :data:`ALPHA` and the mean difference is positive (the paper's direction);
- **not reproduced**: p < :data:`ALPHA` and the mean difference is negative.

Where the per-seed differences are not on one scale (an angle between decoder columns, which
a collapsed latent makes meaningless), a chapter counts the seeds in the paper's direction
instead and decides with the exact one-sided :func:`sign_test` at the same :data:`ALPHA`.
Error rates on a shared test set are decided on paired test predictions (SplitNet:
:mod:`companion.splitnet.evidence`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats

#: The four verdicts a claim can get.
VERDICTS = ("reproduced", "not reproduced", "inconclusive", "not run")
#: Fewest seeds a verdict other than "inconclusive" needs.
MIN_SEEDS = 3
#: Significance level of the paired test.
ALPHA = 0.05
#: The rule in one sentence, for the pages that quote it.
RULE = (f"paired over seeds (both sides trained with the same seed): reproduced when a two-sided "
        f"paired t-test gives p < {ALPHA} and the mean difference is in the paper's direction, "
        f"not reproduced when p < {ALPHA} the other way, inconclusive with fewer than "
        f"{MIN_SEEDS} seeds or p ≥ {ALPHA}, not run without runs")


@dataclass(frozen=True)
class Verdict:
    """A claim's verdict with the numbers behind it."""

    verdict: str
    seeds: int
    mean: float
    sd: float
    p_value: float

    @property
    def detail(self) -> str:
        """The numbers as a reader checks them, e.g. "+1.23 ± 0.40 over 3 seeds, p = 0.031"."""
        if self.seeds == 0:
            return "no runs"
        spread = f" ± {self.sd:.2f}" if self.seeds > 1 else ""
        p = "" if math.isnan(self.p_value) else f", p = {self.p_value:.2g}"
        plural = "s" if self.seeds != 1 else ""
        return f"{self.mean:+.2f}{spread} over {self.seeds} seed{plural}{p}"


def paired_t_p_value(differences: Sequence[float]) -> float:
    """Two-sided p-value of a paired t-test that the mean difference is 0 (nan below 2 seeds;
    0 or 1 when every difference is the same, non-zero or zero)."""
    values = [float(value) for value in differences]
    if len(values) < 2:
        return float("nan")
    if max(values) == min(values):
        return 1.0 if values[0] == 0 else 0.0
    return float(stats.ttest_1samp(values, 0.0).pvalue)


def paired_verdict(differences: Sequence[float], *, min_seeds: int = MIN_SEEDS,
                   alpha: float = ALPHA) -> Verdict:
    """The verdict on per-seed paired differences, positive in the paper's direction (see the
    module's rule)."""
    values = [float(value) for value in differences]
    if any(math.isnan(value) for value in values):
        raise ValueError(f"a paired difference is NaN: {values}; a run failed or is incomplete")
    n = len(values)
    if n == 0:
        return Verdict("not run", 0, float("nan"), float("nan"), float("nan"))
    mean = sum(values) / n
    sd = math.sqrt(sum((value - mean) ** 2 for value in values) / (n - 1)) if n > 1 else float("nan")
    p = paired_t_p_value(values)
    if n < min_seeds or not p < alpha:
        verdict = "inconclusive"
    else:
        verdict = "reproduced" if mean > 0 else "not reproduced"
    return Verdict(verdict, n, mean, sd, p)


def sign_test(successes: int, trials: int) -> float:
    """One-sided exact sign test: P(X ≥ ``successes``) for X ~ Binomial(``trials``, ½)."""
    if not 0 <= successes <= trials:
        raise ValueError(f"successes={successes} must lie between 0 and trials={trials}")
    return sum(math.comb(trials, k) for k in range(successes, trials + 1)) / 2 ** trials
