"""One claim, one decision: every verdict the summary page gives at ``cpu-long`` is the verdict
the chapter's committed notebook shows for the same claim and setting (both come from the
chapter's ``evidence.findings`` through :func:`companion.evidence.decide`)."""

import html
from pathlib import Path

import nbformat
import pytest

from companion import summary
from companion.chapters import EVIDENCE

ROOT = Path(__file__).resolve().parents[1]


def _table_rows(chapter: str) -> list[str]:
    """The rows of every HTML table the chapter's committed notebook shows."""
    notebook = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    pages = [output.get("data", {}).get("text/html", "") for cell in notebook.cells
             if cell.cell_type == "code" for output in cell.outputs]
    return [row for page in pages for row in page.split("<tr")[1:]]


@pytest.mark.parametrize("chapter", list(EVIDENCE))
def test_the_chapter_shows_the_summarys_cpu_long_verdicts(chapter):
    decided = [d for d in summary.decisions(("cpu-long",)) if d.claim.chapter == chapter]
    assert decided, f"no cpu-long decision for {chapter}"
    rows = _table_rows(chapter)
    for decision in decided:
        shown = [row for row in rows if html.escape(decision.claim.sentence, quote=False) in row
                 and html.escape(decision.finding.setting, quote=False) in row and "cpu-long" in row]
        assert shown, f"{chapter}: no row shows {decision.claim.key} on {decision.finding.setting}"
        for row in shown:
            assert f">{decision.verdict}<" in row, (
                f"{chapter}: {decision.claim.key} on {decision.finding.setting}: the summary says "
                f"{decision.verdict!r}, the chapter's row is {row[:400]}")
