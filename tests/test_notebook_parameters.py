"""Bad parameters stop a notebook in its first cells with an error naming the parameter."""

from pathlib import Path

import papermill
import pytest

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
    assert error.exec_count <= 3, "the error must come from the cells right after the parameters"


@pytest.mark.parametrize(("parameters", "named"), [
    ({"dataset": "imagenet"}, "dataset='imagenet'"),
    ({"examples": -4}, "examples=-4"),
    ({"device": "tpu"}, "device='tpu'"),
])
def test_data_chapter_rejects_bad_values(parameters, named, tmp_path):
    error = _failure(ROOT / "notebooks" / "data.ipynb", tmp_path, **parameters)
    assert error.ename == "ParameterError" and named in error.evalue
