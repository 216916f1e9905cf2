"""A tiny chapter for the reproduce tests: a notebook that records a run in a second.

``write_notebook(folder)`` writes ``tiny.ipynb``: it takes the chapter parameters ``scale``,
``fail`` (raise), ``flaky`` (a file: fail the first time, when the file is absent) and
``sleep`` (seconds), and records two metric rows with ``value = scale * (seed + 1)`` and
``scale * (seed + 1) ** 2``. Run as a script, this module is ``python -m companion.reproduce``
with the tiny chapter as its only chapter: ``python reproduce_fixture.py FOLDER GRID_JSON [options]``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import nbformat

PARAMETERS = '''profile = "cpu"
seed = 0
device = "auto"
data_dir = None
scale = None
fail = None
flaky = None
sleep = None'''

BODY = '''import time
from pathlib import Path

from companion.results import record_run

params = {"profile": profile, "seed": seed, "scale": 1.0 if scale is None else scale}
if fail:
    raise RuntimeError(f"asked to fail: {fail}")
if flaky and not Path(flaky).exists():
    Path(flaky).write_text("failed once")
    raise RuntimeError("flaky: the first attempt fails")
if sleep:
    time.sleep(sleep)
value = params["scale"] * (seed + 1)
record_run("tiny", params, [{"item": "linear", "value": value},
                            {"item": "square", "value": params["scale"] * (seed + 1) ** 2}],
           wall_time_s=0.0, device="cpu")
print(f"value = {value}")'''

GRID = {"cpu": {"scale": [1.0, 2.0]}, "paper": {"scale": [10.0]}}


def settings(profile: str = "cpu", **given: Any) -> dict[str, Any]:
    """The tiny chapter's parameter check: ``scale`` must be positive (as a chapter's
    ``settings`` raises ParameterError, a ValueError, naming the parameter)."""
    if given.get("scale", 1.0) <= 0:
        raise ValueError(f"scale={given['scale']!r} must be positive")
    return {"profile": profile, **given}


def write_notebook(folder: Path, extra_code: str = "") -> Path:
    """Write the tiny chapter's notebook into ``folder`` (``extra_code`` changes its code)."""
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Tiny chapter"),
        nbformat.v4.new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(BODY + extra_code),
    ]
    path = Path(folder) / "tiny.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, path)
    return path


def chapters(folder: Path, grid: dict | None = None, extra_code: str = "") -> dict:
    """The tiny chapter, its notebook written into ``folder``, as ``main(chapters=...)`` takes."""
    from companion.reproduce import ChapterSpec

    notebook = write_notebook(folder, extra_code)
    # Its code version is the notebook's alone: the library may change while tests run.
    return {"tiny": ChapterSpec("tiny", notebook, grid or GRID, settings, library=Path(folder))}


if __name__ == "__main__":
    import json

    from companion.reproduce.__main__ import main

    sys.exit(main(sys.argv[3:], chapters=chapters(Path(sys.argv[1]), json.loads(sys.argv[2]))))
