"""The project's files agree with each other: dependencies, notebook pairs, parameters."""

import importlib
import pkgutil
import re
import tomllib
from pathlib import Path

import jupytext
import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
COMMON = {"profile", "seed", "device", "data_dir"}


def _requirement_names(requirements):
    return {re.split(r"[<>=!~ ]", r, maxsplit=1)[0].lower(): r.replace(" ", "") for r in requirements}


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        declared += extra
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in conda["dependencies"] if isinstance(d, dict))
    listed = [r for r in pip_section if not r.startswith("-e")]
    assert _requirement_names(listed) == _requirement_names(declared)


def test_every_notebook_has_a_pair_and_is_in_sync():
    assert NOTEBOOKS, "no notebooks found"
    for source in NOTEBOOKS:
        paired = source.with_suffix(".ipynb")
        assert paired.exists(), f"{source.name} has no paired {paired.name}"
        from_py = jupytext.read(source)
        from_ipynb = nbformat.read(paired, as_version=4)
        cells = lambda nb: [(c.cell_type, c.source.strip()) for c in nb.cells]  # noqa: E731
        assert cells(from_py) == cells(from_ipynb), f"{source.name} and {paired.name} differ: run jupytext --sync"


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_one_parameters_cell_with_the_common_parameters(source):
    notebook = jupytext.read(source)
    tagged = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{source.name} needs exactly one cell tagged 'parameters'"
    names = set(re.findall(r"^(\w+)\s*=", tagged[0].source, flags=re.M))
    assert COMMON <= names, f"{source.name} lacks {COMMON - names}"
    assert re.search(r'^profile\s*=\s*"cpu"', tagged[0].source, flags=re.M)


@pytest.mark.parametrize("source", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_was_executed(source):
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{source.name}: run it before committing"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{source.name} has error outputs"


@pytest.mark.parametrize("page", sorted((ROOT / "book" / "reference").glob("*.md")), ids=lambda page: page.stem)
def test_a_library_reference_page_documents_every_module_of_its_package(page):
    documented = re.findall(r"^\.\. automodule:: (\S+)$", page.read_text(encoding="utf-8"), re.MULTILINE)
    module = importlib.import_module(f"companion.{page.stem}")
    if hasattr(module, "__path__"):
        package = [f"{module.__name__}.{sub.name}" for sub in pkgutil.iter_modules(module.__path__)]
        assert sorted(documented) == sorted([module.__name__, *package])
    else:
        assert module.__name__ in documented


def test_the_introduction_cites_the_companion_as_citation_cff_does():
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    entry = re.search(r"@misc\{companion\d+,.*?\n\}", (ROOT / "book" / "intro.md").read_text(encoding="utf-8"),
                      re.DOTALL).group(0)
    fields = {name: re.sub(r"[{}]", "", value) for name, value in re.findall(r"(\w+)\s*=\s*(.+?),?\n", entry)}
    assert citation["version"] == fields["version"] == project["version"]
    assert citation["title"] == fields["title"]
    assert [author["name"] for author in citation["authors"]] == [fields["author"]]
