"""The book extension: pages reading recorded runs are rebuilt (and re-run) when records change."""

from types import SimpleNamespace

import nbformat
import pytest
from jupyter_cache import get_cache

from companion import book_extension


@pytest.fixture
def store(tmp_path, monkeypatch):
    folder = tmp_path / "results"
    folder.mkdir()
    monkeypatch.setattr(book_extension, "stored_results_dir", lambda: folder)
    return folder


def _env(cache_path):
    return SimpleNamespace(found_docs={"intro", "summary", "runs", "notebooks/vlae", "notebooks/ppca"},
                           mystnb_config=SimpleNamespace(execution_cache_path=str(cache_path)),
                           doc2path=lambda doc: cache_path.parent / f"{doc}.ipynb")


def test_only_the_chapter_whose_records_changed_is_outdated(store, tmp_path):
    env = _env(tmp_path / "no-cache")
    outdated = lambda: book_extension.outdated_pages(object(), env, set(), set(), set())  # noqa: E731
    assert set(outdated()) == {"notebooks/vlae", "notebooks/ppca", "summary", "runs"}
    assert outdated() == []
    (store / "vlae").mkdir()
    (store / "vlae" / "run.json").write_text("{}")
    assert outdated() == ["notebooks/vlae", "summary", "runs"]
    assert outdated() == []
    (store / "vlae" / "run.json").write_text('{"changed": 1}')
    assert outdated() == ["notebooks/vlae", "summary", "runs"]


def test_a_forgotten_notebook_is_no_longer_in_the_cache(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1", execution_count=1)])
    path = tmp_path / "chapter.ipynb"
    nbformat.write(notebook, path)
    cache = get_cache(tmp_path / "cache")
    cache.cache_notebook_file(str(path), check_validity=False)
    assert cache.match_cache_file(str(path))
    assert book_extension.forget_execution(tmp_path / "cache", path)
    with pytest.raises(KeyError):
        cache.match_cache_file(str(path))
    assert not book_extension.forget_execution(tmp_path / "cache", path)
