"""Bad parameters stop a notebook in its first cells with an error naming the parameter."""

import re
from pathlib import Path

import nbformat
import papermill
import pytest

from companion.chapters import chapter_parameters

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _failure(notebook: Path, tmp_path: Path, **parameters) -> papermill.PapermillExecutionError:
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"),
                                   parameters=parameters, progress_bar=False, cwd=str(ROOT))
    return caught.value


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_unknown_profile_stops_in_the_first_cells(notebook, tmp_path):
    error = _failure(notebook, tmp_path, profile="laptop")
    assert error.ename == "ParameterError"
    assert "profile='laptop'" in error.evalue and "'cpu'" in error.evalue
    # the key-results box (a chapter's, the data chapter has none), the parameters, papermill's
    # injected parameters, then the settings: the error must come from that first cell after them
    assert error.exec_count <= 4, "the error must come from the cells right after the parameters"


@pytest.mark.parametrize(("parameters", "named"), [
    ({"dataset": "imagenet"}, "dataset='imagenet'"),
    ({"examples": -4}, "examples=-4"),
    ({"device": "tpu"}, "device='tpu'"),
])
def test_data_chapter_rejects_bad_values(parameters, named, tmp_path):
    error = _failure(ROOT / "notebooks" / "data.ipynb", tmp_path, **parameters)
    assert error.ename == "ParameterError" and named in error.evalue


def test_a_misspelled_parameter_stops_the_notebook_naming_it(tmp_path):
    error = _failure(ROOT / "notebooks" / "data.ipynb", tmp_path, stepz=8)
    assert error.ename == "ParameterError"
    assert "['stepz']" in error.evalue and "'examples'" in error.evalue
    assert error.exec_count <= 3


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_parameters_cell_holds_exactly_the_chapter_parameters(notebook):
    """What reject_unknown_parameters accepts is what the notebook's parameters cell sets."""
    cell = next(c for c in nbformat.read(notebook, as_version=4).cells
                if "parameters" in c.metadata.get("tags", []))
    names = set(re.findall(r"^(\w+) =", cell.source, re.MULTILINE))
    assert names == set(chapter_parameters(notebook.stem))


def test_a_results_folder_that_cannot_be_written_stops_the_notebook_before_it_runs(tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("COMPANION_RESULTS_DIR", str(blocked / "results"))
    error = _failure(ROOT / "notebooks" / "data.ipynb", tmp_path)
    assert error.ename == "ResultsFolderError" and str(blocked / "results") in error.evalue
    assert error.exec_count <= 3
