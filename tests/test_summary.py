"""The "What reproduces" page lays out the declared claims and their decisions, knowing no
chapter: a fake chapter's evidence module is enough to test it."""

import math
from types import ModuleType

import pytest

from companion import summary
from companion.evidence import (EFFECT, MEASUREMENT, NOT_RUN, NOT_TESTED, REPRODUCED, VERDICTS, VERIFICATION,
                                Claim, Finding, paired_finding)

EFFECT_CLAIM = Claim("toy/effect", "Toy (2020)", "the method helps", "+2.0 nats (Table 1)", "paired t",
                     quote="it helps & <works>", unit="nats")
IDENTITY = Claim("toy/identity", "Toy (2020)", "an identity holds", "stated", "closed form", VERIFICATION)
TIMING = Claim("toy/speed", "Toy (2020)", "it runs 2× faster on 2 GPUs", "2.0×", "≥ 0.9 × 2.0", MEASUREMENT)
UNTESTED = Claim("toy/premise", "Toy (2020)", "the cut is nearly free", "stated", "paired t")


def _fake(findings_by_scale):
    module = ModuleType("toy_evidence")
    module.CLAIMS = (EFFECT_CLAIM, IDENTITY, TIMING, UNTESTED)
    module.findings = lambda scale, runs=None: findings_by_scale.get(scale, [])
    module.section = lambda finding: f"toy-{finding.scale}"
    return module


@pytest.fixture
def fake(monkeypatch):
    def install(findings_by_scale):
        monkeypatch.setattr(summary, "evidence_modules", lambda: {"toy": _fake(findings_by_scale)})
    return install


def test_nothing_recorded_means_every_claim_not_run(fake):
    fake({})
    table = summary.ledger()
    assert list(table["key"]) == ["toy/effect", "toy/identity", "toy/speed", "toy/premise"]
    assert set(table["verdict"]) == {NOT_RUN}


def test_each_claim_at_its_strongest_scale_with_the_others_counted(fake):
    fake({"cpu": [paired_finding(EFFECT_CLAIM, "cpu", "digits", [1.0, 1.1, 0.9])],
          "cpu-long": [paired_finding(EFFECT_CLAIM, "cpu-long", "mnist5k", [2.0, 2.2, 1.9]),
                       Finding(IDENTITY, "cpu-long", "6 fits", 6, passed=True),
                       Finding(TIMING, "cpu-long", "2 CPU processes", 1, passed=True),
                       paired_finding(UNTESTED, "cpu-long", "mnist5k", [1.0, 1.0, 1.1],
                                      untested="the cut costs 60 points")]})
    table = summary.ledger().set_index("key")
    assert table.loc["toy/effect", "scale"] == "cpu-long" and table.loc["toy/effect", "tested on"] == "mnist5k"
    assert table.loc["toy/effect", "other scales"] == "CPU default: 1 reproduced"
    assert table.loc["toy/premise", "verdict"] == NOT_TESTED
    assert table.loc["toy/premise", "note"] == "the cut costs 60 points"
    assert table.loc["toy/effect", "reported"] == "+2.0 nats (Table 1)"
    counts = summary.headline(table.reset_index())
    assert counts[EFFECT][REPRODUCED] == 1 and counts[EFFECT][NOT_TESTED] == 1
    assert counts[VERIFICATION][REPRODUCED] == 1 and counts[MEASUREMENT][REPRODUCED] == 1
    assert summary.measurement_label(table.loc["toy/speed"]) == "reproduced on CPUs"


def test_verdicts_use_the_holm_adjusted_p_of_the_papers_family(fake):
    borderline = [Finding(claim, "cpu-long", "digits", 5, 1.0, 0.5, 0.03) for claim in (EFFECT_CLAIM, UNTESTED)]
    fake({"cpu-long": borderline})
    table = summary.ledger().set_index("key")
    assert table.loc["toy/effect", "p"] == pytest.approx(0.03)
    assert table.loc["toy/effect", "p (Holm)"] == pytest.approx(0.06)
    assert table.loc["toy/effect", "verdict"] == "inconclusive"
    assert "seeds would settle it" in table.loc["toy/effect", "note"]
    assert math.isnan(table.loc["toy/identity", "p"])


def test_every_chapter_declares_claims_with_unique_keys_of_its_own():
    claims = summary.declared_claims()
    assert len({claim.key for claim in claims}) == len(claims)
    for chapter, module in summary.evidence_modules().items():
        assert len(module.CLAIMS) >= 2
        assert all(claim.key.startswith(f"{chapter}/") for claim in module.CLAIMS)


def test_the_real_ledger_has_a_row_per_declared_claim_and_known_verdicts():
    table = summary.ledger()
    assert {claim.key for claim in summary.declared_claims()} == set(table["key"])
    assert set(table["verdict"]) <= set(VERDICTS)


def test_the_ledger_html_has_a_badge_a_link_and_no_nan_per_row(fake):
    fake({"cpu-long": [paired_finding(EFFECT_CLAIM, "cpu-long", "mnist5k", [2.0, 2.2, 1.9]),
                       Finding(IDENTITY, "cpu-long", "6 fits", 6, passed=True)]})
    table = summary.ledger()
    page = summary.ledger_html(table)
    assert page.count("<tr>") == len(table) + 1  # the column heads and one row per claim and setting
    assert page.count('<tr class="ledger-claim">') == table["claim"].nunique()  # each claim heads its rows
    assert page.count('class="verdict verdict-') == len(table)
    assert '<span class="verdict verdict-reproduced">reproduced</span>' in page
    assert '<span class="verdict verdict-not-run">not run</span>' in page
    assert 'href="notebooks/toy.html#toy-cpu-long"' in page  # the section that decides it
    assert 'href="notebooks/toy.html"' in page  # a claim not run links to its chapter
    assert "nan" not in page.lower() and "&lt;works&gt;" in page  # text is escaped


def test_the_forest_plot_draws_each_tested_effect_with_its_t_interval(fake):
    fake({"cpu-long": [paired_finding(EFFECT_CLAIM, "cpu-long", "mnist5k", [2.0, 2.2, 1.9])]})
    table = summary.ledger()
    figure = summary.forest_plot(table)
    (ax,) = figure.axes
    (line, caps, (bars,)) = ax.containers[0]
    assert line.get_xdata()[0] == pytest.approx(2.0333, abs=1e-3)
    # t(0.975, 2) = 4.303, sd 0.153, 3 seeds: half-width 0.380
    assert summary.interval(2.0333, 0.15275, 3) == pytest.approx(0.3796, abs=1e-3)
    assert bars.get_segments()[0][:, 0] == pytest.approx([2.0333 - 0.3796, 2.0333 + 0.3796], abs=1e-3)
    assert math.isnan(summary.interval(1.0, 0.5, 1))
    fake({"cpu-long": [Finding(IDENTITY, "cpu-long", "6 fits", 6, passed=True)]})
    assert summary.forest_plot(summary.ledger()) is None  # nothing tested over seeds


def test_every_verdict_has_a_colour_and_a_meaning():
    assert set(summary.VERDICT_COLOURS) == set(summary.VERDICT_MEANINGS) == set(VERDICTS)
    legend = summary.legend_html()
    assert all(summary.badge(verdict) in legend for verdict in VERDICTS)


def test_a_chapter_opens_with_its_own_claims_decided(fake):
    fake({"cpu-long": [paired_finding(EFFECT_CLAIM, "cpu-long", "mnist5k", [2.0, 2.2, 1.9])]})
    box = summary.key_results_html("toy")
    assert box.count("<li>") == 4  # the toy chapter's four claims
    assert '<span class="verdict verdict-reproduced">reproduced</span> <strong>the method helps</strong>' in box
    assert box.count('href="#toy-cpu-long"') == 1  # claims not run have no section to link to
    assert summary.key_results_html("other").count("<li>") == 0


def test_every_declared_claim_names_errata_entries_that_the_page_has():
    titles = summary.errata_titles()
    assert "errata-vlae-savae-step" in titles and titles["errata-vlae-savae-step"].startswith("SA-VAE steps up")
    named = [label for claim in summary.declared_claims() for label in claim.errata]
    assert named and set(named) <= set(titles), sorted(set(named) - set(titles))


def test_a_claim_row_links_to_the_errata_entries_that_bear_on_it(monkeypatch):
    monkeypatch.setattr(summary, "errata_titles", lambda: {"errata-toy-step": "Their step goes <up>"})
    with_errata = Claim("toy/effect", "Toy (2020)", "the method helps", "+2.0 nats", "paired t",
                        errata=("errata-toy-step",))
    module = _fake({})
    module.CLAIMS = (with_errata, IDENTITY)
    monkeypatch.setattr(summary, "evidence_modules", lambda: {"toy": module})
    page = summary.ledger_html(summary.ledger())
    assert page.count('href="errata.html#errata-toy-step"') == 1  # under its own claim only
    assert ">Their step goes &lt;up&gt;</a>" in page
    assert page.count("ledger-errata") == 1
