"""The built book in a real browser: every page loads cleanly, offline, with its images and math.

The test builds the book as ``make book`` does (the same command and configuration) but from
the chapters' committed outputs, without executing them: ``pytest --nbval`` re-runs every
chapter in the same test run and fails when the code no longer regenerates those outputs, so a
chapter executes once per ``make test``. The pages that read the records (the summary and the
runs page) still execute. It builds into ``.scratch/book-test`` (``make book``'s own build and
cache in ``book/_build`` are left alone), serves its ``html`` on 127.0.0.1 and opens every page
in headless Chromium driven by
Playwright: the system's (Debian's ``chromium``, ``chromium-browser``, Google Chrome) or the one
``playwright install chromium`` downloaded; as root (CI) with neither, apt-get installs Debian's.
The Library reference pages are toc pages like the others. Per page: no console
error, no failed request, no request to another host, every image loaded, every formula typeset
by MathJax, no raw ``$...$`` or Markdown backticks left in the prose, no content wider than the
text column (code may scroll sideways, tables and display equations must fit whole), no link to
a missing page or anchor. The search page must find a term of the introduction. A screenshot of
each page's first screen goes to ``.scratch/book-test/screenshots/``. Each chapter's download menu
offers the notebook and its Jupytext source; both answer 200, with their types and contents.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from playwright.sync_api import BrowserContext, Page, Route, sync_playwright

from companion.runs_page import runs_table_html

ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / ".scratch" / "book-test"
BUILD = OUTPUT / "_build"
HTML = BUILD / "html"
SCREENSHOTS = OUTPUT / "screenshots"
MATHJAX = ROOT / "book" / "_assets" / "mathjax" / "tex-chtml.js"
#: Chromium and Chrome as Linux distributions name them, looked for on PATH.
SYSTEM_CHROMIUMS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
HOST = "127.0.0.1"
# Playwright adds --headless; the rest keep Chromium from calling home on a CI machine.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SEARCH_TERM, SEARCH_HIT = "posterior", "intro.html"


def _toc_documents(entry: dict | list) -> Iterator[str]:
    """Every ``file`` (and the ``root``) named anywhere in a _toc.yml structure."""
    if isinstance(entry, list):
        for item in entry:
            yield from _toc_documents(item)
    elif isinstance(entry, dict):
        for key, value in entry.items():
            if key in ("file", "root"):
                yield str(value)
            elif isinstance(value, (list, dict)):
                yield from _toc_documents(value)


def book_pages() -> list[str]:
    """The pages the build makes: one per toc entry, plus the redirect, search and index pages."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    documents = [re.sub(r"\.(md|ipynb)$", "", name) for name in _toc_documents(toc)]
    return [f"{name}.html" for name in documents] + ["index.html", "search.html", "genindex.html",
                                                     "py-modindex.html"]


def _run(command: list[str], what: str, **kwargs) -> None:
    """Run ``command``; when it fails, fail the test with its warnings and its output's end."""
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if done.returncode != 0:
        output = done.stdout + done.stderr
        flagged = [line for line in output.splitlines()
                   if re.search(r"WARNING|ERROR|Error", line) and "IPKernelApp" not in line]
        pytest.fail(f"{what} failed ({' '.join(command)}, exit {done.returncode}):\n"
                    + "\n".join(flagged[:30]) + f"\n--- end of the output ---\n{output[-2000:]}",
                    pytrace=False)


def find_chromium() -> Path | None:
    """The system's Chromium (or Chrome) on PATH, else Playwright's own if installed, else None."""
    for name in SYSTEM_CHROMIUMS:
        if found := shutil.which(name):
            return Path(found)
    with sync_playwright() as playwright:
        downloaded = Path(playwright.chromium.executable_path)
    return downloaded if downloaded.is_file() else None


@pytest.fixture(scope="module")
def chromium() -> Path:
    """A Chromium to drive; as root with none (CI), Debian's, installed with apt-get."""
    found = find_chromium()
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update"], "apt-get update", env=env)
        _run(["apt-get", "install", "-y", "--no-install-recommends", "chromium"],
             "installing chromium", env=env)
        found = find_chromium()
    if found is None:
        playwright = Path(sys.executable).with_name("playwright")
        pytest.fail("No Chromium found for the browser test. Install one, either: "
                    "sudo apt-get install chromium (Debian; chromium-browser on Ubuntu), "
                    f"or, with no root needed: {playwright} install chromium", pytrace=False)
    return found


@pytest.fixture(scope="module")
def site() -> Path:
    """The book built now as `make book` builds it, the chapters rendered from their committed
    outputs (execute_notebooks: off; nbval checks those outputs against the code)."""
    if not MATHJAX.exists():
        _run(["make", "mathjax"], "copying MathJax from npm", cwd=ROOT)
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["execute"]["execute_notebooks"] = "off"
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "_config.yml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    env = {"COMPANION_RESULTS_DIR": str(ROOT / ".scratch" / "results"), **os.environ}
    jupyter_book = Path(sys.executable).with_name("jupyter-book")
    _run([str(jupyter_book), "build", "book/", "--config", str(OUTPUT / "_config.yml"),
          "--path-output", str(OUTPUT), "-W", "-n", "--keep-going"], "jupyter-book build", cwd=ROOT, env=env)
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    return HTML


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    # Notebooks as Jupyter registers them (Python's mimetypes does not know .ipynb).
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".ipynb": "application/x-ipynb+json"}

    def log_message(self, *args: object) -> None:
        """Serve without logging each request to stderr."""


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    """The built site served on 127.0.0.1 at a free port; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://{HOST}:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrowserContext]:
    """Headless Chromium with a fresh profile folder, one 1280×800 window."""
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            user_data_dir=tmp_path_factory.mktemp("chromium-profile"),
            executable_path=str(chromium), headless=True, args=FLAGS,
            viewport={"width": 1280, "height": 800},
        )
        context.set_default_timeout(60_000)  # generous: CI machines may be busy
        yield context
        context.close()


def _open(context: BrowserContext, url: str) -> tuple[Page, list[str]]:
    """Open ``url``, recording console errors, failed requests and requests to other hosts."""
    page = context.new_page()
    problems: list[str] = []

    def only_this_host(route: Route) -> None:
        target = urlsplit(route.request.url)
        if target.scheme in ("http", "https", "ws", "wss") and target.hostname != HOST:
            problems.append(f"request to another host: {route.request.url}")
            route.abort()
        else:
            route.continue_()

    page.route("**/*", only_this_host)
    page.on("console", lambda message: message.type == "error" and problems.append(
        f"console error: {message.text} at {message.location.get('url')}"))
    page.on("pageerror", lambda error: problems.append(f"uncaught exception: {error}"))
    page.on("requestfailed", lambda request: problems.append(
        f"failed request: {request.url} ({request.failure})"))
    page.on("response", lambda response: response.status >= 400 and problems.append(
        f"HTTP {response.status}: {response.url}"))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page, problems


_UNLOADED_IMAGES = """async () => {
  const images = Array.from(document.images);
  images.forEach(image => { image.loading = "eager"; });
  const settled = image => image.complete ? null
    : new Promise(done => { image.addEventListener("load", done); image.addEventListener("error", done); });
  await Promise.race([Promise.all(images.map(settled)), new Promise(done => setTimeout(done, 10000))]);
  return images.filter(image => !(image.complete && image.naturalWidth > 0))
               .map(image => image.getAttribute("src"));
}"""

# Sphinx marks every formula with class "math"; MathJax puts an mjx-container in each one. The
# prose (the article less code and typeset maths) must hold no TeX or Markdown left unrendered.
_MATH_AND_MARKUP = r"""async () => {
  const formulas = Array.from(document.querySelectorAll(".math"));
  if (formulas.length && window.MathJax && MathJax.startup) { await MathJax.startup.promise; }
  const article = document.querySelector("article") || document.body;
  const prose = article.cloneNode(true);
  prose.querySelectorAll("pre, code, script, style, mjx-container, .highlight").forEach(e => e.remove());
  return {
    untypeset: formulas.filter(f => !f.querySelector("mjx-container")).map(f => f.textContent.slice(0, 80)),
    errors: Array.from(document.querySelectorAll("mjx-merror")).map(e => e.textContent.slice(0, 80)),
    rawTeX: prose.textContent.match(/\$\$?[^$\s](?:[^$]*[^$\s])?\$\$?/g) || [],
    rawMarkdown: prose.textContent.match(/`[^`\n]+`/g) || [],
  };
}"""

# Tables, figures, code and display maths must fit the text column (the window, in a cell
# tagged full-width) or scroll inside a box; tables and display equations must fit whole (what
# hides behind a sideways scroll is missed by readers; code may scroll).
_OVERFLOWING = """() => {
  const article = document.querySelector("article");
  if (!article) { return []; }
  // Cells tagged full-width are meant to reach into the right margin, not past the window.
  const right = element => (element.closest(".tag_full-width, .full-width")
    ? document.documentElement.clientWidth : article.getBoundingClientRect().right) + 1;
  const scrollBox = element => {
    for (let box = element; box && box !== article; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== "visible") { return box; }
    }
    return null;
  };
  const name = element => `${element.tagName.toLowerCase()} "${(element.getAttribute("src") || element.textContent).trim().replace(/\\s+/g, " ").slice(0, 60)}"`;
  const spilling = Array.from(article.querySelectorAll("table, img, pre, figure, mjx-container"))
    .filter(element => element.getBoundingClientRect().right > right(element) && !scrollBox(element))
    .map(element => `wider than the text column: ${name(element)}`);
  const hidden = Array.from(article.querySelectorAll("table, mjx-container[display='true']"))
    .filter(element => { const box = scrollBox(element); return box && box.scrollWidth > box.clientWidth + 1; })
    .map(element => `wider than the text column, part of it hidden behind a sideways scroll: ${name(element)}`);
  return spilling.concat(hidden);
}"""


def _broken_links(page: Page) -> list[str]:
    """Links to a page of the site that does not exist, or to an anchor it does not have."""
    broken = []
    for href in set(page.eval_on_selector_all("a[href]", "links => links.map(a => a.href)")):
        target = urlsplit(href)
        if target.hostname != HOST:
            continue
        path = HTML / unquote(target.path).lstrip("/")
        path = path / "index.html" if path.is_dir() else path
        if not path.is_file():
            broken.append(f"link to a missing page: {href}")
        elif target.fragment and path.suffix == ".html":
            anchor = re.escape(unquote(target.fragment))
            if not re.search(rf'\b(id|name)="{anchor}"', path.read_text(encoding="utf-8")):
                broken.append(f"link to a missing anchor: {href}")
    return sorted(broken)


@pytest.mark.parametrize("page_path", book_pages())
def test_page_loads_cleanly_in_chromium(page_path: str, server: str, browser: BrowserContext):
    page, problems = _open(browser, server + page_path)
    try:
        problems += [f"image not loaded: {src}" for src in page.evaluate(_UNLOADED_IMAGES)]
        text = page.evaluate(_MATH_AND_MARKUP)
        problems += [f"formula not typeset: {found}" for found in text["untypeset"]]
        problems += [f"MathJax error: {found}" for found in text["errors"]]
        problems += [f"raw TeX left in the text: {found}" for found in text["rawTeX"]]
        problems += [f"raw Markdown left in the text: {found}" for found in text["rawMarkdown"]]
        problems += page.evaluate(_OVERFLOWING)
        problems += _broken_links(page)
        page.screenshot(path=SCREENSHOTS / page_path.replace("/", "__").replace(".html", ".png"))
    finally:
        page.close()
    assert not problems, f"{page_path}:\n" + "\n".join(problems)


#: What each chapter's download menu offers, and the type the served file must have.
DOWNLOADS = {".ipynb": "application/x-ipynb+json", ".py": "text/x-python"}


@pytest.mark.parametrize("page_path", [page for page in book_pages() if page.startswith("notebooks/")])
def test_a_chapter_downloads_as_its_notebook_and_its_jupytext_source(page_path: str, server: str,
                                                                     browser: BrowserContext):
    page, problems = _open(browser, server + page_path)
    try:
        menu = dict(page.eval_on_selector_all(
            ".dropdown-download-buttons a", "links => links.map(a => [a.textContent.trim(), a.href])"))
        assert set(DOWNLOADS) <= set(menu), f"download menu of {page_path}: {sorted(menu)}"
        responses = {suffix: page.request.get(menu[suffix]) for suffix in DOWNLOADS}
        for suffix, content_type in DOWNLOADS.items():
            response = responses[suffix]
            assert (response.status, response.headers["content-type"]) == (200, content_type), menu[suffix]
            source = ROOT / "notebooks" / f"{Path(page_path).stem}{suffix}"
            assert response.body() == source.read_bytes(), f"{menu[suffix]} is not {source}"
    finally:
        page.close()
    assert not problems, "\n".join(problems)


def test_every_built_page_is_checked(site: Path):
    built = {path.relative_to(site).as_posix() for path in site.rglob("*.html")
             if not path.relative_to(site).parts[0].startswith("_")}
    assert built == set(book_pages())


def test_search_finds_a_term_of_the_introduction(server: str, browser: BrowserContext):
    page, problems = _open(browser, f"{server}search.html?q={SEARCH_TERM}")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=30000)
        hits = page.eval_on_selector_all("#search-results ul.search li a",
                                         "links => links.map(a => a.getAttribute('href'))")
    finally:
        page.close()
    assert not problems, "\n".join(problems)
    assert any(href.split("?")[0].split("#")[0] == SEARCH_HIT for href in hits), hits


@pytest.mark.parametrize("query", ["Laplace", "checkpoint", "iterative_laplace", "Finding"])
def test_search_ranks_chapters_above_the_library_reference(server: str, browser: BrowserContext, query: str):
    # each query is in chapters or prose pages and in the library reference (two of them are
    # names of the library's objects): every chapter and prose hit comes before the first API page
    page, problems = _open(browser, f"{server}search.html?q={query}")
    try:
        page.wait_for_selector("#search-results ul.search li", timeout=30000)
        page.wait_for_function("(document.querySelector('#search-results .search-summary')?.innerText"
                               " || '').includes('Search finished')", timeout=30000)
        hits = [href.split("?")[0].split("#")[0] for href in page.eval_on_selector_all(
            "#search-results ul.search li a", "links => links.map(a => a.getAttribute('href'))")]
    finally:
        page.close()
    assert not problems, "\n".join(problems)
    reference = [index for index, href in enumerate(hits) if href.startswith("reference/")]
    others = [index for index, href in enumerate(hits) if not href.startswith("reference/")]
    assert reference and others, hits
    assert max(others) < min(reference), hits


def test_runs_table_sorts_when_a_header_is_clicked(browser: BrowserContext):
    records = [{"chapter": chapter, "profile": "cpu", "device": "cpu", "commit": "unknown",
                "date": date, "wall_time_s": seconds, "params": {"seed": 0}}
               for chapter, date, seconds in [("vlae", "2026-01-01T00:00:00+00:00", 9.0),
                                              ("ppca", "2026-01-03T00:00:00+00:00", 100.0),
                                              ("data", "2026-01-02T00:00:00+00:00", 20.0)]]
    page = browser.new_page()
    try:
        page.set_content(runs_table_html(records, []))
        column = "rows => rows.map(row => row.cells[0].textContent)"
        assert page.eval_on_selector_all("#runs-table tbody tr", column) == ["ppca", "data", "vlae"]
        page.click("text=wall time")
        assert page.eval_on_selector_all("#runs-table tbody tr", column) == ["vlae", "data", "ppca"]
        page.click("text=wall time")
        assert page.eval_on_selector_all("#runs-table tbody tr", column) == ["ppca", "data", "vlae"]
        page.click("text=chapter")
        assert page.eval_on_selector_all("#runs-table tbody tr", column) == ["data", "ppca", "vlae"]
        assert page.get_attribute("#runs-table th:first-child", "aria-sort") == "ascending"
    finally:
        page.close()


# The least a figure may be scaled at a desk's width: a 2× PNG is drawn at half its pixels, and
# below 0.72 of that its 8-point text falls under 8 px (companion.plotting.FIGURE_WIDTH).
LEGIBLE = 0.72
# Each image of ``images`` shown below LEGIBLE of its drawn size: [scale, its caption's start].
_SHRUNK = """images.map(image => [image.getBoundingClientRect().width / (image.naturalWidth / 2),
                          (image.closest("figure")?.querySelector("figcaption")?.textContent || "").trim().slice(0, 12)])
                .filter(([scale]) => scale < %s)""" % LEGIBLE
# Each image of ``images`` drawn out of its proportions (by more than 2%): [width/height ratio, caption].
_DISTORTED = """images.map(image => [(image.getBoundingClientRect().width / image.getBoundingClientRect().height)
                           / (image.naturalWidth / image.naturalHeight),
                           (image.closest("figure")?.querySelector("figcaption")?.textContent || "").trim().slice(0, 12)])
                .filter(([ratio]) => Math.abs(ratio - 1) > 0.02)"""

# The summary as a reader checks it: a badge per claim row, every figure numbered and captioned,
# no "nan" in any table, at a phone's width nothing wider than the screen, at a desk's every
# figure legible, and no figure out of its proportions.
_LEDGER = """() => {
  const rows = Array.from(document.querySelectorAll("table.ledger tbody tr:not(.ledger-claim)"));
  const figures = Array.from(document.querySelectorAll("article figure"));
  return {
    rows: rows.length,
    unbadged: rows.filter(row => row.querySelectorAll(".verdict").length !== 1).map(row => row.textContent.slice(0, 60)),
    uncaptioned: figures.filter(f => !/Fig\\. ?\\d/.test((f.querySelector("figcaption") || {}).textContent || ""))
                        .map(f => f.outerHTML.slice(0, 80)),
    figures: figures.length,
    nan: Array.from(document.querySelectorAll("article td, article th"))
              .filter(cell => /^\\s*nan\\s*$/i.test(cell.textContent)).length,
    sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    shrunk: ((images) => %s)(Array.from(document.querySelectorAll("article figure img"))),
    distorted: ((images) => %s)(Array.from(document.querySelectorAll("article figure img"))),
  };
}""" % (_SHRUNK, _DISTORTED)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_summary_is_a_claims_ledger_at_a_desk_and_on_a_phone(width: int, server: str, browser: BrowserContext):
    from companion import summary

    page, problems = _open(browser, server + "summary.html")
    try:
        page.set_viewport_size({"width": width, "height": 844})
        page.wait_for_timeout(300)
        found = page.evaluate(_LEDGER)
        page.screenshot(path=SCREENSHOTS / f"summary-{width}px.png", full_page=True)
    finally:
        page.close()
    assert not problems, "\n".join(problems)
    assert found["rows"] == len(summary.ledger()), "one ledger row per claim and setting"
    assert not found["unbadged"], found["unbadged"]
    assert found["figures"] >= 3 and not found["uncaptioned"], found["uncaptioned"]
    assert found["nan"] == 0
    assert found["sideways"] <= 1, f"the page scrolls sideways by {found['sideways']} px at {width} px"
    if width >= 1280:
        assert not found["shrunk"], f"figures shown below {LEGIBLE} of their size (scale, caption): {found['shrunk']}"
    assert not found["distorted"], f"figures drawn out of proportion (ratio, caption): {found['distorted']}"


# A chapter as a reader checks it: every figure of an output numbered and captioned, no "NaN"
# in any table, the set-up cells folded, at a phone's width nothing wider than the screen, at a
# desk's every figure legible, and no figure out of its proportions.
_CHAPTER = """() => {
  const article = document.querySelector("article");
  const outputImages = Array.from(article.querySelectorAll(".cell_output img"));
  return {
    images: outputImages.length,
    uncaptioned: outputImages.filter(image => {
        const figure = image.closest("figure");
        return !figure || !/Fig\\. ?\\d/.test((figure.querySelector("figcaption") || {}).textContent || "");
      }).map(image => (image.getAttribute("src") || "").slice(-40)),
    nan: Array.from(article.querySelectorAll("td, th"))
              .filter(cell => /^\\s*(nan|none)\\s*$/i.test(cell.textContent)).length,
    foldedParameters: article.querySelectorAll(".tag_parameters.tag_hide-cell").length,
    sideways: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    shrunk: ((images) => %s)(Array.from(article.querySelectorAll("img"))),
    distorted: ((images) => %s)(Array.from(article.querySelectorAll("img"))),
  };
}""" % (_SHRUNK, _DISTORTED)


@pytest.mark.parametrize("width", [1280, 390])
@pytest.mark.parametrize("page_path", [page for page in book_pages() if page.startswith("notebooks/")])
def test_a_chapter_captions_every_figure_and_shows_no_nan(page_path: str, width: int, server: str,
                                                          browser: BrowserContext):
    page, problems = _open(browser, server + page_path)
    try:
        page.set_viewport_size({"width": width, "height": 844})
        page.wait_for_timeout(300)
        found = page.evaluate(_CHAPTER)
    finally:
        page.close()
    assert not problems, "\n".join(problems)
    assert found["images"] >= 1 and not found["uncaptioned"], f"figures without a numbered caption: {found['uncaptioned']}"
    assert found["nan"] == 0, f"{found['nan']} table cells read NaN"
    assert found["foldedParameters"] == 1, "the parameters cell is folded away"
    assert found["sideways"] <= 1, f"the page scrolls sideways by {found['sideways']} px at {width} px"
    if width >= 1280:
        assert not found["shrunk"], f"figures shown below {LEGIBLE} of their size (scale, caption): {found['shrunk']}"
    assert not found["distorted"], f"figures drawn out of proportion (ratio, caption): {found['distorted']}"
