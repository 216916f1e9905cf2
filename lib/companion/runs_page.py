"""The book's "Runs" page: every recorded run as one sortable HTML table.

:func:`runs_table_html` turns the records of :func:`companion.results.load_records` into a
self-contained table (inline style and a few lines of inline script, nothing from another host)
whose column headers sort the rows when clicked. Each run links to the chapter it feeds when
that chapter is in the book's table of contents (:func:`book_chapters`).

The module is also a Sphinx extension (``setup``): the page is executed at every build where
the records in ``data/results`` changed, so it never shows a stale list (jupyter-cache alone
would keep the old output, as the page's code does not change when a run is recorded).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from companion.chapters import CHAPTERS
from companion.paths import repository_root

#: The page's document name in the book (book/runs.md).
#: The table's element id, which its sorting script looks up.
TABLE_ID = "runs-table"
#: Parameters not listed among a run's parameters: they have their own column, or say nothing.
_SHOWN_ELSEWHERE = {"profile", "device"}

#: (header, sort type) of each column, in order.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("chapter", "text"),
    ("profile", "text"),
    ("parameters", "text"),
    ("device", "text"),
    ("wall time", "number"),
    ("date (UTC)", "text"),
    ("commit", "text"),
)

EMPTY_MESSAGE = (
    "No run is recorded yet: a chapter run with COMPANION_RESULTS_DIR unset records itself in "
    "data/results/, and appears here after the next build."
)

_STYLE = f"""<style>
#{TABLE_ID} {{ border-collapse: collapse; font-size: 0.85em; width: 100%; }}
#{TABLE_ID} th, #{TABLE_ID} td {{ border-bottom: 1px solid #ccc; padding: 0.3em 0.5em;
  text-align: left; vertical-align: top; }}
#{TABLE_ID} td.number {{ text-align: right; white-space: nowrap; }}
#{TABLE_ID} th button {{ background: none; border: none; color: inherit; cursor: pointer;
  font: inherit; font-weight: bold; padding: 0; white-space: nowrap; }}
#{TABLE_ID} th button::after {{ content: " \\2195"; opacity: 0.4; }}
#{TABLE_ID} th[aria-sort="ascending"] button::after {{ content: " \\25B2"; opacity: 1; }}
#{TABLE_ID} th[aria-sort="descending"] button::after {{ content: " \\25BC"; opacity: 1; }}
#{TABLE_ID} .runs-param {{ display: inline-block; font-family: monospace; margin-right: 0.6em; }}
</style>"""

# Clicking a header sorts the body rows by that column's data-sort values (numbers as numbers),
# ascending first, then descending; aria-sort marks the sorted column.
_SCRIPT = f"""<script>
(function () {{
  var table = document.getElementById("{TABLE_ID}");
  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (header, column) {{
    header.querySelector("button").addEventListener("click", function () {{
      var ascending = header.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(headers, function (other) {{ other.removeAttribute("aria-sort"); }});
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {{
        var x = a.cells[column].getAttribute("data-sort");
        var y = b.cells[column].getAttribute("data-sort");
        var order = header.getAttribute("data-type") === "number" ? x - y : x.localeCompare(y);
        return ascending ? order : -order;
      }});
      rows.forEach(function (row) {{ body.appendChild(row); }});
    }});
  }});
}})();
</script>"""


def book_chapters(toc: Path | None = None) -> list[str]:
    """Chapters whose notebook (``notebooks/<chapter>``) is an entry of the book's _toc.yml."""
    text = (toc or repository_root() / "_toc.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\s*-?\s*file:\s*notebooks/(\w+)(?:\.ipynb)?\s*$", text, flags=re.M))
    return [chapter for chapter in CHAPTERS if chapter in listed]


def format_value(value: Any) -> str:
    """A parameter value as a reader types it: lists comma-joined, floats without noise."""
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(item) for item in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def format_duration(seconds: float) -> str:
    """Wall time in the largest sensible units: 12.3 s, 4 min 05 s, 2 h 03 min."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def format_commit(commit: str) -> str:
    """A commit's first 8 hex digits, "(dirty)" when the checkout had changes."""
    sha, dirty = commit.removesuffix("+dirty"), commit.endswith("+dirty")
    short = sha[:8] if re.fullmatch(r"[0-9a-f]{40}", sha) else sha
    return short + (" (dirty)" if dirty else "")


def run_cells(record: Mapping[str, Any], linked_chapters: Iterable[str]) -> list[tuple[str, str]]:
    """One record's table cells as (inner HTML, sort key) pairs, in the order of COLUMNS."""
    chapter = str(record["chapter"])
    name = html.escape(chapter)
    chapter_cell = (f'<a href="notebooks/{name}.html">{name}</a>'
                    if chapter in set(linked_chapters) else name)
    params = {key: value for key, value in record["params"].items()
              if key not in _SHOWN_ELSEWHERE and not (key == "data_dir" and value is None)}
    pairs = [f"{key}={format_value(value)}" for key, value in sorted(params.items())]
    date = str(record["date"])
    commit = str(record["commit"])
    return [
        (chapter_cell, chapter),
        (html.escape(str(record["profile"])), str(record["profile"])),
        (" ".join(f'<span class="runs-param">{html.escape(pair)}</span>' for pair in pairs),
         " ".join(pairs)),
        (html.escape(str(record["device"])), str(record["device"])),
        (format_duration(float(record["wall_time_s"])), repr(float(record["wall_time_s"]))),
        (html.escape(date[:16].replace("T", " ")), date),
        (f'<span title="{html.escape(commit)}">{html.escape(format_commit(commit))}</span>', commit),
    ]


def runs_table_html(records: Sequence[Mapping[str, Any]], linked_chapters: Iterable[str]) -> str:
    """Every record as a row of a sortable table, newest first; a sentence when there is none."""
    if not records:
        return f"<p>{html.escape(EMPTY_MESSAGE)}</p>"
    linked = list(linked_chapters)
    header = "".join(
        f'<th scope="col" data-type="{kind}"><button type="button">{html.escape(title)}</button></th>'
        for title, kind in COLUMNS
    )
    rows = []
    for record in sorted(records, key=lambda record: str(record["date"]), reverse=True):
        cells = "".join(
            f'<td data-sort="{html.escape(key)}" class="{kind}">{inner}</td>'
            for (inner, key), (_, kind) in zip(run_cells(record, linked), COLUMNS)
        )
        rows.append(f"<tr>{cells}</tr>")
    body = "\n".join(rows)
    return (f'{_STYLE}\n<table id="{TABLE_ID}">\n<thead><tr>{header}</tr></thead>\n'
            f"<tbody>\n{body}\n</tbody>\n</table>\n{_SCRIPT}")
