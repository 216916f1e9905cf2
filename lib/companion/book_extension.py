"""Sphinx extension of the book: pages that read recorded runs follow the records.

jupyter-cache runs a notebook again only when its code changes, but the chapters, the
"What reproduces" page and the Runs page also read ``data/results``. At every build this
extension fingerprints each chapter's records; for a chapter whose records changed since the
last build it drops the chapter notebook's cached execution (so myst-nb runs it again) and
marks the chapter and the two summary pages as outdated. An unchanged store costs nothing.
The chapters that must run are then executed side by side, one per CPU core, into the same
cache, before Sphinx reads them one at a time; myst-nb then finds each in the cache.

It also serves the Library reference and the chapters' downloads: a docstring's ``|`` is
maths (|cos|, p(x|z)), not reStructuredText; a docstring's link to a name the library
re-exports or imports (``companion.data.batches``, :data:`MODELS` in the ``companion.vlae``
docstring) goes to where that object is documented; each chapter's download
menu offers its Jupytext source ``notebooks/NAME.py``, copied next to the ``.ipynb`` in
``_sources/``.
"""

from __future__ import annotations

import hashlib
import importlib
import multiprocessing
import os
import re
import shutil
from collections.abc import Collection
from pathlib import Path
from typing import Any

from companion.chapters import CHAPTERS
from companion.results import stored_results_dir

#: Pages that read every chapter's records (their front matter also forces execution).
SUMMARY_DOCS = ("summary", "runs")


def results_fingerprint(directory: Path) -> str:
    """A hash of every record file's name and content under ``directory``, subfolders included."""
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*.json")):
        digest.update(path.relative_to(directory).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def forget_execution(cache_path: str | Path, notebook: Path) -> bool:
    """Remove ``notebook``'s cached execution from the jupyter-cache at ``cache_path``."""
    from jupyter_cache import get_cache

    if not Path(cache_path).exists():
        return False
    cache = get_cache(cache_path)
    try:
        record = cache.match_cache_file(str(notebook))
    except KeyError:
        return False
    cache.remove_cache(record.pk)
    return True


def outdated_pages(app: Any, env: Any, added: set, changed: set, removed: set) -> list[str]:
    """Sphinx ``env-get-outdated`` handler: the pages whose recorded runs changed."""
    store = stored_results_dir()
    prints = {chapter: results_fingerprint(store / chapter) for chapter in CHAPTERS}
    previous = getattr(env, "companion_results_fingerprints", {})
    env.companion_results_fingerprints = prints
    stale = [chapter for chapter in CHAPTERS if previous.get(chapter) != prints[chapter]]
    if not stale:
        return []
    docs = []
    for chapter in stale:
        doc = f"notebooks/{chapter}"
        if doc in env.found_docs:
            if app is not None:
                forget_execution(env.mystnb_config.execution_cache_path, Path(env.doc2path(doc)))
            docs.append(doc)
    return docs + [doc for doc in SUMMARY_DOCS if doc in env.found_docs]


def execute_in_parallel(cache_path: str | Path, notebooks: list[Path], timeout: int,
                        workers: int | None = None) -> list[Path]:
    """Run each of ``notebooks`` that has no cached execution, ``workers`` at a time (default:
    one per CPU core), in its own folder, and cache it as myst-nb would: the notebooks that ran.
    A failure raises, with each failed notebook's traceback."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(cache_path)
    todo = []
    for notebook in notebooks:
        try:
            cache.match_cache_file(str(notebook))
        except KeyError:
            todo.append(notebook)
    # The largest first (its outputs, a proxy for its run time), so that the last to start are short.
    todo.sort(key=lambda path: path.stat().st_size, reverse=True)
    if not todo:
        return []
    # Fresh worker processes: a fork would copy the Sphinx application.
    with multiprocessing.get_context("spawn").Pool(min(len(todo), workers or os.cpu_count() or 1)) as pool:
        results = pool.starmap(_execute, [(path, timeout) for path in todo], chunksize=1)
    failed = []
    for path, (executed, seconds, error) in zip(todo, results):
        if error is None:
            cache.cache_notebook_bundle(CacheBundleIn(executed, str(path), data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
        else:
            failed.append(f"Executing {path} failed:\n{error}\n")
    if failed:
        raise RuntimeError("".join(failed))
    return todo


def _execute(notebook: Path, timeout: int) -> tuple[Any, float, str | None]:
    """One notebook run in its folder: the executed notebook, its seconds, and its traceback or None."""
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    content = nbformat.read(notebook, as_version=4)
    result = single_nb_execution(content, cwd=str(notebook.parent), timeout=timeout,
                                 allow_errors=False, meta_override=True)
    return content, result.time, None if result.err is None else result.exc_string


def execute_chapters(app: Any, env: Any, docnames: list[str]) -> None:
    """Sphinx ``env-before-read-docs`` handler: the chapter notebooks to be read, run in parallel."""
    config = env.mystnb_config
    if config.execution_mode != "cache":
        return
    chapters = [Path(env.doc2path(doc)) for doc in docnames if doc.startswith("notebooks/")]
    chapters = [path for path in chapters if path.suffix == ".ipynb"]
    ran = execute_in_parallel(config.execution_cache_path, chapters, config.execution_timeout)
    if ran:
        from sphinx.util import logging

        logging.getLogger(__name__).info(f"ran {', '.join(path.stem for path in ran)} in parallel")


#: An inline literal (``…``) of a docstring line: left as it is.
INLINE_LITERAL = re.compile(r"(``.+?``)")


def escape_bars(app: Any, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """``autodoc-process-docstring`` handler: each ``|`` outside inline literals escaped.

    The docstrings write maths in plain Unicode, where ``|`` is an absolute value or a
    conditional; reStructuredText would read ``|cos|`` as a substitution.
    """
    for index, line in enumerate(lines):
        lines[index] = "".join(part if INLINE_LITERAL.fullmatch(part) else part.replace("|", r"\|")
                               for part in INLINE_LITERAL.split(line))


def _imported_object(dotted: str) -> Any:
    """The object ``dotted`` names (a module, then attributes), or None."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            found = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            found = getattr(found, attribute, None)
        return found
    return None


def documented_name(documented: Collection[str], target: str, module: str | None,
                    cls: str | None) -> str | None:
    """The documented full name a Python reference ``target`` means, or None.

    The reference stands in the docstring of ``module`` (and class ``cls``). First the object
    it names there (a re-export or an import of the library, where autodoc documents it under
    its defining module); else the one documented object of the library whose name ends so.
    """
    contexts = [f"{module}.{cls}." if module and cls else "", f"{module}." if module else "", ""]
    for candidate in dict.fromkeys(context + target for context in contexts):
        if not candidate.startswith("companion."):
            continue
        found = _imported_object(candidate)
        name = f"{getattr(found, '__module__', '')}.{getattr(found, '__qualname__', '')}"
        if name in documented:
            return name
    ending = [name for name in documented if name.startswith("companion.") and name.endswith("." + target)]
    return ending[0] if len(ending) == 1 else None


def resolve_library_reference(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Sphinx ``missing-reference`` handler: Python references as :func:`documented_name` reads them."""
    if node.get("refdomain") != "py":
        return None
    domain = env.get_domain("py")
    name = documented_name(domain.objects, node["reftarget"], node.get("py:module"), node.get("py:class"))
    if name is None:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], name, node, contnode)


def jupytext_source(app: Any, docname: str) -> Path | None:
    """The Jupytext ``.py`` paired with the notebook page ``docname``, if it has one."""
    source = Path(app.env.doc2path(docname))
    paired = source.with_suffix(".py")
    return paired if source.suffix == ".ipynb" and paired.is_file() else None


def add_jupytext_download(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """``html-page-context`` handler: a ``.py`` entry in a chapter's download menu."""
    paired = jupytext_source(app, pagename)
    if paired is None:
        return
    for group in context.get("header_buttons", []):
        if group.get("label") == "download-buttons":
            group["buttons"].insert(1, {
                "type": "link", "text": ".py", "icon": "fas fa-code",
                "url": f"{context['pathto']('_sources', 1)}/{Path(pagename).parent.as_posix()}/{paired.name}",
                "tooltip": "Download the Jupytext source", "label": "download-jupytext-button",
            })


def copy_jupytext_sources(app: Any, exception: Exception | None) -> None:
    """``build-finished`` handler: each chapter's ``.py`` into ``_sources/`` beside its ``.ipynb``."""
    if exception is not None or app.builder.format != "html":
        return
    for docname in sorted(app.env.found_docs):
        paired = jupytext_source(app, docname)
        if paired is not None:
            target = Path(app.outdir) / "_sources" / Path(docname).parent / paired.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(paired, target)


def search_scorer_in_book(app: Any, config: Any) -> None:
    """Read ``html_search_scorer`` relative to the book's folder: Sphinx opens it relative to the
    working directory, and Jupyter Book builds with no configuration directory of its own."""
    scorer = config.html_search_scorer
    if scorer and not Path(scorer).is_absolute():
        config.html_search_scorer = str(Path(app.srcdir) / scorer)


def setup(app: Any) -> dict[str, Any]:
    """Register the handlers (listed in _config.yml's sphinx extensions)."""
    app.connect("config-inited", search_scorer_in_book)
    app.connect("env-get-outdated", outdated_pages)
    app.connect("env-before-read-docs", execute_chapters)
    app.connect("autodoc-process-docstring", escape_bars)
    app.connect("missing-reference", resolve_library_reference)
    # After sphinx_book_theme fills the download menu (its handler has priority 501).
    app.connect("html-page-context", add_jupytext_download, priority=502)
    app.connect("build-finished", copy_jupytext_sources)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
