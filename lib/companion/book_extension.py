"""Sphinx extension of the book: pages that read recorded runs follow the records.

jupyter-cache runs a notebook again only when its code changes, but the chapters, the
"What reproduces" page and the Runs page also read ``data/results``. At every build this
extension fingerprints each chapter's records; for a chapter whose records changed since the
last build it drops the chapter notebook's cached execution (so myst-nb runs it again) and
marks the chapter and the two summary pages as outdated. An unchanged store costs nothing.
"""

from __future__ import annotations

import hashlib
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


def setup(app: Any) -> dict[str, Any]:
    """Register the handler (listed in _config.yml's sphinx extensions)."""
    app.connect("env-get-outdated", outdated_pages)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
