"""The "What reproduces" page: every declared claim, the paper's number, ours, and a verdict.

The page knows no chapter and no record column. It lays out the claims each chapter declares
once (``CLAIMS`` in the chapter's evidence module, :data:`companion.chapters.EVIDENCE`) and the
decisions :func:`companion.evidence.decide` takes on the findings that module computes from the
records (``findings(scale)``), at every scale — the same objects the chapters show. Verdicts are
given per scale (profile) and per setting (data set, sizes), never pooled across them; each
claim is shown at the strongest scale that has runs (paper, then ``cpu-long``, then the CPU
default) with the verdicts at the other scales counted beside it.
"""

from __future__ import annotations

import importlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from types import ModuleType

import pandas as pd

from companion.chapters import EVIDENCE
from companion.evidence import (EFFECT, KINDS, MEASUREMENT, NOT_RUN, VERDICTS, Claim, Decision, decide,
                                seeds_to_settle)

#: Profiles from the strongest evidence to the weakest, with the names the page gives them.
SCALES = {"paper": "paper scale", "cpu-long": "cpu-long", "cpu": "CPU default"}
#: The ledger's columns, in order.
COLUMNS = ["paper", "claim", "kind", "tested on", "scale", "reported", "ours", "seeds", "p", "p (Holm)",
           "verdict", "note", "other scales", "key"]


def evidence_modules() -> dict[str, ModuleType]:
    """Chapter → its evidence module (the one declaring ``CLAIMS`` and ``findings``)."""
    return {chapter: importlib.import_module(name) for chapter, name in EVIDENCE.items()}


def declared_claims() -> list[Claim]:
    """Every claim the chapters declare, in page order (chapter by chapter)."""
    return [claim for module in evidence_modules().values() for claim in module.CLAIMS]


def decisions(scales: Sequence[str] = tuple(SCALES)) -> list[Decision]:
    """Every declared claim decided at every scale, on the records of that scale."""
    return decide(finding for module in evidence_modules().values() for scale in scales
                  for finding in module.findings(scale))


def _note(decision: Decision) -> str:
    """Why the claim is not tested, the finding's caveat, or how many seeds would settle it."""
    finding = decision.finding
    parts = [text for text in (finding.untested, finding.caveat) if text]
    if decision.verdict == "inconclusive" and finding.claim.kind == EFFECT:
        needed = seeds_to_settle(finding.effect, finding.spread)
        if needed is not None:
            parts.append(f"about {needed} seeds would settle it at the observed spread")
    return "; ".join(parts) or "—"


def ledger(decided: Iterable[Decision] | None = None) -> pd.DataFrame:
    """One row per (claim, setting) at the claim's strongest scale with runs, every declared
    claim present (with "not run" when nothing is recorded). Columns: :data:`COLUMNS`."""
    decided = list(decisions() if decided is None else decided)
    rows = []
    for claim in declared_claims():
        mine = [d for d in decided if d.claim.key == claim.key and d.verdict != NOT_RUN]
        scales = [scale for scale in SCALES if any(d.finding.scale == scale for d in mine)]
        base = {"paper": claim.paper, "claim": claim.sentence, "kind": claim.kind,
                "reported": claim.reported, "key": claim.key}
        if not scales:
            rows.append({**base, "tested on": "—", "scale": "—", "ours": "no run recorded", "seeds": 0,
                         "p": math.nan, "p (Holm)": math.nan, "verdict": NOT_RUN, "note": "—",
                         "other scales": ""})
            continue
        others = "; ".join(
            f"{SCALES[scale]}: " + ", ".join(f"{count} {word}" for word, count in Counter(
                d.verdict for d in mine if d.finding.scale == scale).items())
            for scale in scales[1:])
        for d in (d for d in mine if d.finding.scale == scales[0]):
            rows.append({**base, "tested on": d.finding.setting, "scale": SCALES[scales[0]],
                         "ours": d.finding.detail, "seeds": d.finding.seeds, "p": d.finding.p_value,
                         "p (Holm)": d.p_adjusted, "verdict": d.verdict, "note": _note(d),
                         "other scales": others})
    return pd.DataFrame(rows, columns=COLUMNS)


def headline(table: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Verdict counts of the ledger's rows by kind: tested effects apart from verifications
    (closed-form identities) and measurements (timings)."""
    return {kind: {verdict: int(((table["kind"] == kind) & (table["verdict"] == verdict)).sum())
                   for verdict in VERDICTS} for kind in KINDS}


def measurement_label(row: pd.Series) -> str:
    """A measurement's verdict as the headline gives it: "reproduced on CPUs" for a CPU
    timing of a claim the paper made on GPUs (its setting names the CPU)."""
    on_cpus = row["kind"] == MEASUREMENT and "CPU" in str(row["tested on"])
    return f"{row['verdict']} on CPUs" if on_cpus and row["verdict"] != NOT_RUN else row["verdict"]
