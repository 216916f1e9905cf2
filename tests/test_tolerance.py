"""Results shown with a tolerance: re-runs within it pass, a changed result still fails."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from companion.tolerance import (METADATA_KEY, NUMBER, compare_output, numbers_in, output_numbers,
                                 skeleton, tolerance_metadata)

ROOT = Path(__file__).resolve().parents[1]


def test_numbers_are_read_as_written():
    assert numbers_in("VLAE (T=4) 30.53, −0.19 and 1e-05; x1 nan") == [4, 30.53, -0.19, 1e-05,
                                                                        pytest.approx(float("nan"),
                                                                                      nan_ok=True)]
    assert skeleton("a   1.5\n b 2") == "a # b #"


def _frame_output(frame: pd.DataFrame, atol: float, columns=None) -> dict:
    return {"output_type": "execute_result",
            "data": {"text/plain": frame.to_string(), "text/html": frame.to_html()},
            "metadata": tolerance_metadata(atol, columns, frame)}


def test_table_within_tolerance_passes_and_outside_fails():
    committed = pd.DataFrame({"log p(x)": [25.25, 30.53], "params": [302490, 158508]},
                             index=["VAE", "VLAE"])
    rerun = committed.assign(**{"log p(x)": [25.27, 30.50]})
    reference = _frame_output(committed, 0.05, {"params": 0})
    assert compare_output(reference, _frame_output(rerun, 0.05, {"params": 0})) == []
    moved = committed.assign(**{"log p(x)": [25.25, 30.60]})
    problems = compare_output(reference, _frame_output(moved, 0.05, {"params": 0}))
    assert len(problems) == 1 and "'VLAE'" in problems[0] and "log p(x)" in problems[0]
    one_more_parameter = committed.assign(params=[302490, 158509])
    assert compare_output(reference, _frame_output(one_more_parameter, 0.05, {"params": 0}))


def test_text_cells_compare_their_numbers_and_words():
    committed = pd.DataFrame({"SAP": ["0.57 ± 0.30"], "verdict": ["holds"]})
    reference = _frame_output(committed, 0.02)
    close = committed.assign(SAP=["0.58 ± 0.31"])
    assert compare_output(reference, _frame_output(close, 0.02)) == []
    flipped = committed.assign(verdict=["does not hold"])
    assert compare_output(reference, _frame_output(flipped, 0.02))


def test_changed_rows_fail():
    committed = pd.DataFrame({"x": [1.0]}, index=["VAE"])
    assert compare_output(_frame_output(committed, 1.0),
                          _frame_output(committed.rename(index={"VAE": "VLAE"}), 1.0))


def test_a_tolerance_for_a_missing_column_is_refused():
    with pytest.raises(ValueError, match="not in the table"):
        tolerance_metadata(0.1, {"log p(x) ": 0.1}, pd.DataFrame({"log p(x)": [1.0]}))


def _committed_results(notebook: str) -> list[dict]:
    cells = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4).cells
    return [output for cell in cells if cell.cell_type == "code" for output in cell.outputs
            if METADATA_KEY in output.get("metadata", {})]


@pytest.mark.parametrize("notebook", ["vlae", "splitnet", "vhcr", "ppca"])
def test_every_committed_result_fails_when_perturbed_beyond_its_tolerance(notebook):
    """Each stated result of a chapter is really compared: moving one of its numbers by twice
    its tolerance (plus one unit) is caught, and the unmoved output passes."""
    results = _committed_results(notebook)
    assert results, f"{notebook}.ipynb shows no result with a tolerance"
    for reference in results:
        assert compare_output(reference, reference) == []
        entry = reference["metadata"][METADATA_KEY]
        perturbed = copy.deepcopy(reference)
        if "values" in entry:
            values = perturbed["metadata"][METADATA_KEY]["values"]
            row, column = next((r, c) for r, row in enumerate(values["data"])
                               for c, value in enumerate(row) if isinstance(value, float)
                               or (isinstance(value, str) and numbers_in(value)))
            limit = entry.get("columns", {}).get(values["columns"][column], entry["atol"])
            value = values["data"][row][column]
            if isinstance(value, float):
                values["data"][row][column] = value + 2 * limit + 1
            else:  # a cell such as "0.57 ± 0.30": its first number moves
                first = NUMBER.search(value)
                moved = repr(numbers_in(value)[0] + 2 * limit + 1)
                values["data"][row][column] = value[:first.start()] + moved + value[first.end():]
        else:
            number = output_numbers(reference)[-1]
            mime = next(m for m in ("text/plain", "application/papermill.record/text/plain")
                        if m in perturbed["data"])
            text = perturbed["data"][mime]
            text = "".join(text) if isinstance(text, list) else text
            last = list(NUMBER.finditer(text))[-1]
            moved = repr(round(number + 2 * entry["atol"] + 1, 6))
            perturbed["data"][mime] = text[:last.start()] + moved + text[last.end():]
            assert output_numbers(perturbed)[-1] != number
        assert compare_output(reference, perturbed), "a moved result was not caught"


NOTEBOOK_SOURCE = """
from companion.tolerance import show
show("test error 1.25%", atol=0.5)
"""


@pytest.mark.parametrize(("shown", "passes"), [("1.25", True), ("1.60", True), ("2.25", False)])
def test_nbval_compares_within_the_stated_tolerance(shown, passes):
    """End to end through ``pytest --nbval``: a committed 1.25 ± 0.5 accepts a re-run within
    the tolerance and fails one outside it."""
    folder = ROOT / ".scratch" / "tolerance-test"
    folder.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(textwrap.dedent(NOTEBOOK_SOURCE), execution_count=1)
    cell.outputs = [nbformat.v4.new_output(
        "display_data", data={"text/plain": f"test error {shown}%"},
        metadata=tolerance_metadata(0.5))]
    notebook.cells = [cell]
    path = folder / f"committed_{shown.replace('.', '_')}.ipynb"
    nbformat.write(notebook, path)
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-q", "-p", "no:cacheprovider",
                          str(path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert (run.returncode == 0) == passes, run.stdout[-2000:]
    if not passes:
        assert "outside the tolerance" in run.stdout


@pytest.mark.parametrize("notebook", ["vlae", "splitnet", "vhcr", "ppca"])
def test_no_cell_ends_in_a_bare_glue_result(notebook):
    """``glue_result`` returns the rounded value: as a cell's last expression Jupyter would show
    it once more, as an exact output outside its tolerance (which failed on other CPUs)."""
    import ast

    cells = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4).cells
    for cell in cells:
        if cell.cell_type != "code" or cell.source.lstrip().startswith(("%", "!")):
            continue
        body = ast.parse(cell.source).body
        last = body[-1] if body else None
        bare = (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                and getattr(last.value.func, "id", None) == "glue_result")
        assert not bare, f"{notebook}.ipynb: a cell ends in a bare glue_result(…):\n{cell.source}"
