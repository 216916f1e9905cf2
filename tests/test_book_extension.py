"""The book extension: pages reading recorded runs are rebuilt (and re-run) when records change;
docstrings' bars are maths; references to re-exported names resolve; chapters offer their Jupytext source for download."""

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


def _notebook(path, *sources):
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


def test_chapters_run_side_by_side_into_the_cache_and_a_failure_names_its_notebook(tmp_path):
    cache_path = tmp_path / "cache"
    first = _notebook(tmp_path / "first.ipynb", "import os", "print(os.getcwd())")
    second = _notebook(tmp_path / "second.ipynb", "print(6 * 7)")
    ran = book_extension.execute_in_parallel(cache_path, [second, first], timeout=60, workers=2)
    assert sorted(ran) == [first, second]
    cache = get_cache(cache_path)
    _, merged = cache.merge_match_into_file(str(second))
    assert merged.cells[0].outputs[0]["text"] == "42\n"
    _, merged = cache.merge_match_into_file(str(first))
    assert merged.cells[1].outputs[0]["text"].strip() == str(tmp_path)  # run in its own folder
    assert book_extension.execute_in_parallel(cache_path, [first, second], timeout=60) == []
    broken = _notebook(tmp_path / "broken.ipynb", "raise ValueError('no data here')")
    with pytest.raises(RuntimeError, match=r"(?s)broken\.ipynb failed.*no data here"):
        book_extension.execute_in_parallel(cache_path, [broken, first], timeout=60)
    with pytest.raises(KeyError):
        cache.match_cache_file(str(broken))


DOCUMENTED = {"companion.data.batching.batches", "companion.vlae.models.MODELS",
              "companion.vlae.models.LatentVariableModel", "companion.reproduce.executors.Executor.wait",
              "companion.reproduce.executors.LocalExecutor.wait"}


@pytest.mark.parametrize(("target", "module", "expected"), [
    ("companion.data.batches", None, "companion.data.batching.batches"),  # a re-export
    ("LatentVariableModel", "companion.vlae", "companion.vlae.models.LatentVariableModel"),
    ("MODELS", "companion.vlae", "companion.vlae.models.MODELS"),  # the one name ending so
    ("wait", "companion.reproduce.executors", None),  # two methods: the docstring must say which
    ("torch.Tensor", "companion.vlae", None),
])
def test_a_reference_goes_where_the_object_is_documented(target, module, expected):
    assert book_extension.documented_name(DOCUMENTED, target, module, None) == expected


@pytest.fixture
def chapters(tmp_path):
    """A book source folder with a paired chapter and a page; an app building it to out/."""
    (tmp_path / "notebooks").mkdir()
    nbformat.write(nbformat.v4.new_notebook(), tmp_path / "notebooks" / "vlae.ipynb")
    (tmp_path / "notebooks" / "vlae.py").write_text("# %%\n1 + 1\n")
    (tmp_path / "intro.md").write_text("# Intro\n")
    suffixes = {"notebooks/vlae": ".ipynb", "intro": ".md"}
    env = SimpleNamespace(found_docs=set(suffixes), doc2path=lambda doc: tmp_path / f"{doc}{suffixes[doc]}")
    return SimpleNamespace(env=env, outdir=tmp_path / "out", builder=SimpleNamespace(format="html"))


def _download_menu():
    return {"header_buttons": [{"label": "download-buttons", "buttons": [{"text": ".ipynb"}, {"text": ".pdf"}]}],
            "pathto": lambda name, resource: f"../{name}"}


def test_a_chapter_download_menu_offers_its_jupytext_source(chapters):
    chapter, page = _download_menu(), _download_menu()
    book_extension.add_jupytext_download(chapters, "notebooks/vlae", "page.html", chapter, None)
    book_extension.add_jupytext_download(chapters, "intro", "page.html", page, None)
    buttons = chapter["header_buttons"][0]["buttons"]
    assert [button["text"] for button in buttons] == [".ipynb", ".py", ".pdf"]
    assert buttons[1]["url"] == "../_sources/notebooks/vlae.py"
    assert [button["text"] for button in page["header_buttons"][0]["buttons"]] == [".ipynb", ".pdf"]


def test_the_jupytext_source_is_copied_beside_the_notebook(chapters, tmp_path):
    book_extension.copy_jupytext_sources(chapters, None)
    copied = [path.relative_to(tmp_path / "out").as_posix() for path in (tmp_path / "out").rglob("*.*")]
    assert copied == ["_sources/notebooks/vlae.py"]
    assert (tmp_path / "out" / copied[0]).read_text() == "# %%\n1 + 1\n"


def test_a_docstring_bar_is_maths_but_left_alone_in_a_literal():
    lines = ["Mean |cos| of p(x|z), see ``a | b``.", "``|x|`` and |W|"]
    book_extension.escape_bars(None, "function", "f", None, None, lines)
    assert lines == [r"Mean \|cos\| of p(x\|z), see ``a | b``.", r"``|x|`` and \|W\|"]
