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

import html
import importlib
import math
import re
import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from types import ModuleType

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from companion.chapters import EVIDENCE
from companion.paths import repository_root
from companion.evidence import (ALPHA, EFFECT, INCONCLUSIVE, MIN_SEEDS, KINDS, MEASUREMENT, NOT_REPRODUCED, NOT_RUN, NOT_TESTED,
                                REPRODUCED, VERDICTS, Claim, Decision, decide, seeds_to_settle)

#: Profiles from the strongest evidence to the weakest, with the names the page gives them.
SCALES = {"paper": "paper scale", "cpu-long": "cpu-long", "cpu": "CPU default"}
#: The ledger's columns, in order.
COLUMNS = ["paper", "claim", "kind", "tested on", "scale", "reported", "ours", "seeds", "p", "p (Holm)",
           "verdict", "note", "other scales", "key", "quote", "unit", "effect", "spread", "paper effect",
           "section", "errata"]
#: Each verdict's colour (badges, forest plots); the verdict's word is always shown beside it.
VERDICT_COLOURS = {REPRODUCED: "#1a7f37", NOT_REPRODUCED: "#cf222e", INCONCLUSIVE: "#9a6700",
                   NOT_TESTED: "#6e7781", NOT_RUN: "#6e7781"}
#: What each verdict means, for the page's legend (the rule in full: :data:`companion.evidence.RULE`).
VERDICT_MEANINGS = {
    REPRODUCED: f"the effect is in the paper's direction and the Holm-adjusted p is below {ALPHA} "
                "(a verification or timing: its stated criterion holds)",
    NOT_REPRODUCED: f"the adjusted p is below {ALPHA} and the effect goes against the paper "
                    "(or the criterion fails)",
    INCONCLUSIVE: f"fewer than {MIN_SEEDS} seeds, or the difference is inside the seed noise "
                  f"(adjusted p ≥ {ALPHA})",
    NOT_TESTED: "the runs are valid but a condition the claim presupposes failed; the row says which",
    NOT_RUN: "no run of this claim is recorded yet",
}


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


#: An entry of the errata page: its MyST label, then its heading.
_ERRATA_ENTRY = re.compile(r"^\((errata-[\w-]+)\)=\n#+ (.+)$", re.MULTILINE)


def errata_titles() -> dict[str, str]:
    """Label → heading of every entry of the book's errata page (``book/errata.md``), the
    page a ledger row links to for each entry its claim names (:attr:`Claim.errata`)."""
    text = (repository_root() / "book" / "errata.md").read_text(encoding="utf-8")
    return dict(_ERRATA_ENTRY.findall(text))


def section_link(claim: Claim, decision: Decision | None) -> str:
    """The page (and, for a decision, the section) of the chapter that decides it, as the
    summary page links to it (a path relative to the book's root)."""
    page = f"notebooks/{claim.chapter}.html"
    return page if decision is None else f"{page}#{evidence_modules()[claim.chapter].section(decision.finding)}"


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
                "reported": claim.reported, "key": claim.key, "quote": claim.quote, "unit": claim.unit,
                "errata": claim.errata}
        if not scales:
            rows.append({**base, "tested on": "—", "scale": "—", "ours": "no run recorded", "seeds": 0,
                         "p": math.nan, "p (Holm)": math.nan, "verdict": NOT_RUN, "note": "—",
                         "other scales": "", "effect": math.nan, "spread": math.nan,
                         "paper effect": math.nan, "section": section_link(claim, None)})
            continue
        others = "; ".join(
            f"{SCALES[scale]}: " + ", ".join(f"{count} {word}" for word, count in Counter(
                d.verdict for d in mine if d.finding.scale == scale).items())
            for scale in scales[1:])
        for d in (d for d in mine if d.finding.scale == scales[0]):
            rows.append({**base, "tested on": d.finding.setting, "scale": SCALES[scales[0]],
                         "ours": d.finding.detail, "seeds": d.finding.seeds, "p": d.finding.p_value,
                         "p (Holm)": d.p_adjusted, "verdict": d.verdict, "note": _note(d),
                         "other scales": others, "effect": d.finding.effect, "spread": d.finding.spread,
                         "paper effect": d.finding.paper_effect, "section": section_link(claim, d)})
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


def badge(verdict: str) -> str:
    """A verdict as a coloured badge that keeps its word (HTML)."""
    slug = verdict.replace(" ", "-")
    return f'<span class="verdict verdict-{slug}">{html.escape(verdict)}</span>'


def legend_html() -> str:
    """The verdicts' badges and what each means: the page states the rule once, here."""
    items = "".join(f"<li>{badge(verdict)} {html.escape(meaning)}</li>"
                    for verdict, meaning in VERDICT_MEANINGS.items())
    return f'<ul class="verdict-legend">{items}</ul>'


def ledger_html(table: pd.DataFrame) -> str:
    """Rows of :func:`ledger` as the claims ledger (HTML), one block per claim: a heading row
    with the claim, the research summary's words, the paper's number and links to the errata
    entries that bear on it (:func:`errata_titles`), then a row per setting
    with the setting and scale, ours (effect, seeds, adjusted p, the note), the verdict badge and
    a link to the section that decides it. Each cell names its column (``data-label``) so that a
    narrow screen can show a row as a block."""

    def text(value: object) -> str:
        return html.escape(str(value))

    titles = errata_titles()

    def differences(labels: Sequence[str]) -> str:
        links = ", ".join(f'<a href="errata.html#{text(label)}">{text(titles[label])}</a>' for label in labels)
        return f'<div class="ledger-errata">Differences that bear on it: {links}</div>' if links else ""

    blocks = []
    for (claim, reported, quote), group in table.groupby(["claim", "reported", "quote"], sort=False):
        said = f'<div class="ledger-quote">“{text(quote)}” (research summary)</div>' if quote else ""
        rows = [f'<tr class="ledger-claim"><th colspan="3" scope="rowgroup"><strong>{text(claim)}</strong>{said}'
                f'<div class="ledger-paper">The paper: {text(reported)}</div>'
                f'{differences(group["errata"].iloc[0])}</th></tr>']
        for _, row in group.iterrows():
            numbers = [f"{row['seeds']} seed{'s' if row['seeds'] != 1 else ''}"]
            if not math.isnan(row["p (Holm)"]):
                numbers.append(f"Holm-adjusted p = {row['p (Holm)']:.2g}")
            note = "" if row["note"] == "—" else f'<div class="ledger-note">{text(row["note"])}</div>'
            elsewhere = f"; {text(row['other scales'])}" if row["other scales"] else ""
            rows.append(
                "<tr>"
                f'<td data-label="Verdict">{badge(row["verdict"])}</td>'
                f'<td data-label="Tested on">{text(row["tested on"])}'
                f'<div class="ledger-small">{text(row["scale"])}{elsewhere}</div>'
                f'<a href="{text(row["section"])}">where it is decided</a></td>'
                f'<td data-label="Ours">{text(row["ours"])}<div class="ledger-small">{", ".join(numbers)}</div>'
                f"{note}</td>"
                "</tr>")
        blocks.append(f"<tbody>{''.join(rows)}</tbody>")
    head = "".join(f'<th scope="col">{name}</th>' for name in ("Verdict", "Tested on", "Ours"))
    return f'<table class="ledger"><thead><tr>{head}</tr></thead>{"".join(blocks)}</table>'


def interval(effect: float, spread: float, seeds: int, level: float = 0.95) -> float:
    """Half-width of the ``level`` t-interval of a mean effect over ``seeds`` with sd ``spread``
    (NaN below 2 seeds)."""
    if seeds < 2 or math.isnan(spread):
        return math.nan
    return float(stats.t.ppf(0.5 + level / 2, seeds - 1) * spread / math.sqrt(seeds))


def forest_plot(table: pd.DataFrame) -> Figure | None:
    """One panel per tested claim of ``table`` (rows of :func:`ledger`), a row per setting: our
    mean effect over seeds in the paper's direction (a dot coloured by verdict, the verdict also
    in words), its 95% t-interval (:func:`interval`), the paper's own effect on the same
    comparison where it reports one (a hollow diamond) and zero (dashed). None when no row has
    an effect over two seeds or more."""
    rows = table[(table["kind"] == EFFECT) & (table["seeds"] >= 2) & table["effect"].notna()]
    if rows.empty:
        return None
    claims = list(dict.fromkeys(rows["claim"]))
    sizes = [int((rows["claim"] == claim).sum()) for claim in claims]
    figure, axes = plt.subplots(len(claims), 1, figsize=(7.0, 0.9 * len(claims) + 0.42 * sum(sizes)),
                                gridspec_kw={"height_ratios": [size + 1.2 for size in sizes]}, squeeze=False)
    for ax, claim in zip(axes[:, 0], claims):
        group = rows[rows["claim"] == claim]
        y = np.arange(len(group))[::-1]
        half = [interval(e, s, n) for e, s, n in zip(group["effect"], group["spread"], group["seeds"])]
        for position, (_, row), width in zip(y, group.iterrows(), half):
            colour = VERDICT_COLOURS[row["verdict"]]
            ax.errorbar(row["effect"], position, xerr=None if math.isnan(width) else width, fmt="o",
                        color=colour, capsize=3, markersize=5)
            if not math.isnan(row["paper effect"]):
                ax.plot(row["paper effect"], position, marker="D", markerfacecolor="none",
                        markeredgecolor="black", markersize=6, linestyle="none")
        ax.axvline(0.0, color="0.4", linestyle="--", linewidth=0.8)
        # the setting without its sizes (the ledger gives them), wrapped; the verdict in words
        ax.set_yticks(y, labels=[textwrap.fill(f"{setting.split(' (z=')[0]}: {verdict}", 34) for setting, verdict
                                 in zip(group["tested on"], group["verdict"])], fontsize=8)
        ax.set_ylim(-0.7, len(group) - 0.3)
        ax.set_title(textwrap.fill(claim, 70), loc="left", fontsize=9)
        ax.set_xlabel(group["unit"].iloc[0], fontsize=8)
        ax.tick_params(axis="x", labelsize=8)
        ax.grid(axis="x", alpha=0.3)
    figure.tight_layout()
    return figure


def rules_html(paper: str) -> str:
    """How each of ``paper``'s claims is decided, folded (a details element, HTML)."""
    items = "".join(f"<li><em>{html.escape(claim.sentence)}</em>: {html.escape(claim.rule)}.</li>"
                    for claim in declared_claims() if claim.paper == paper)
    return f"<details><summary>How each claim is decided</summary><ul>{items}</ul></details>"


def key_results_html(chapter: str) -> str:
    """A chapter's key results (HTML, for the box that opens it): each of its claims and
    settings at the strongest scale with runs, as on the summary page, with the verdict badge,
    our effect and a link to the section of the page that decides it."""
    table = ledger()
    rows = table[table["key"].str.startswith(f"{chapter}/")]
    def link(section: str) -> str:
        anchor = section.partition("#")[2]
        return f' <a href="#{html.escape(anchor)}">how it is decided</a>' if anchor else ""

    items = "".join(
        f'<li>{badge(row["verdict"])} <strong>{html.escape(row["claim"])}</strong>'
        f' ({html.escape(row["tested on"])}, {html.escape(row["scale"])}): {html.escape(row["ours"])}'
        f'{link(row["section"])}</li>' for _, row in rows.iterrows())
    return ('<div class="admonition key-results"><p class="admonition-title">Key results</p>'
            f'<ul>{items}</ul><p>Every claim of the book, decided by one rule: '
            '<a href="../summary.html">What reproduces</a>.</p></div>')
