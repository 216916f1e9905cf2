"""The runs page: every record as a row, links to the chapters in the book, a stale-page guard."""

from html.parser import HTMLParser

import pytest

from companion import results, runs_page


class _Table(HTMLParser):
    """Cells of an HTML table: text, data-sort value and link target per cell."""

    def __init__(self):
        super().__init__()
        self.headers, self.rows, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = {"tag": tag, "text": "", "sort": attrs.get("data-sort"), "href": None}
        elif tag == "a" and self._cell is not None:
            self._cell["href"] = attrs["href"]

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            (self.headers if self._cell["tag"] == "th" else self.rows[-1]).append(self._cell)
            self._cell = None


def _parse(markup):
    table = _Table()
    table.feed(markup)
    return [h["text"] for h in table.headers], [r for r in table.rows if r]


def _record(chapter, date, **changes):
    record = {"chapter": chapter, "run_id": f"{date}-x", "profile": "cpu", "device": "cpu",
              "date": date, "commit": "0123456789abcdef0123456789abcdef01234567",
              "wall_time_s": 75.0,
              "params": {"profile": "cpu", "seed": 0, "device": "auto", "data_dir": None,
                         "steps": 4, "datasets": ["digits", "mnist5k"], "lr": 0.001}}
    record.update(changes)
    return record


def test_no_record_renders_a_sentence_and_no_table():
    markup = runs_page.runs_table_html([], ["vlae"])
    assert "No run is recorded yet" in markup and "<table" not in markup


def test_one_row_per_run_newest_first_with_every_column():
    records = [_record("vlae", "2026-01-02T10:00:00+00:00"),
               _record("ppca", "2026-03-04T05:06:07+00:00", profile="paper", device="cuda:0",
                       wall_time_s=7384.0, commit="fedcba9876543210fedcba9876543210fedcba98+dirty")]
    headers, rows = _parse(runs_page.runs_table_html(records, ["vlae", "ppca"]))
    assert headers == [title for title, _ in runs_page.COLUMNS]
    assert [[cell["text"] for cell in row] for row in rows] == [
        ["ppca", "paper", "datasets=digits,mnist5k lr=0.001 seed=0 steps=4", "cuda:0",
         "2 h 03 min", "2026-03-04 05:06", "fedcba98 (dirty)"],
        ["vlae", "cpu", "datasets=digits,mnist5k lr=0.001 seed=0 steps=4", "cpu",
         "1 min 15 s", "2026-01-02 10:00", "01234567"],
    ]
    assert rows[0][4]["sort"] == "7384.0" and rows[1][5]["sort"] == "2026-01-02T10:00:00+00:00"


def test_only_chapters_in_the_book_are_links():
    records = [_record("vlae", "2026-01-01T00:00:00+00:00"),
               _record("vhcr", "2026-01-02T00:00:00+00:00")]
    _, rows = _parse(runs_page.runs_table_html(records, ["vlae"]))
    assert {row[0]["text"]: row[0]["href"] for row in rows} == {"vhcr": None,
                                                                "vlae": "notebooks/vlae.html"}


def test_values_are_escaped():
    record = _record("vlae", "2026-01-01T00:00:00+00:00", device="<b>gpu</b>",
                     params={"profile": "cpu", "note": "a<script>"})
    markup = runs_page.runs_table_html([record], [])
    assert "<b>gpu" not in markup and "a<script>" not in markup
    _, rows = _parse(markup)
    assert rows[0][3]["text"] == "<b>gpu</b>" and rows[0][2]["text"] == "note=a<script>"


def test_records_written_by_record_run_render(tmp_path):
    results.record_run("ppca", {"profile": "cpu", "seed": 3, "device": "auto", "data_dir": "/d"},
                       {"gap": 0.5}, wall_time_s=2.25, device="cpu", directory=tmp_path)
    _, rows = _parse(runs_page.runs_table_html(results.load_records(directory=tmp_path), ["ppca"]))
    assert [cell["text"] for cell in rows[0][:5]] == ["ppca", "cpu", "data_dir=/d seed=3", "cpu",
                                                      "2.2 s"]


@pytest.mark.parametrize("seconds, text", [(0.04, "0.0 s"), (59.94, "59.9 s"), (60, "1 min 00 s"),
                                           (3599.4, "59 min 59 s"), (3600, "1 h 00 min"),
                                           (90061, "25 h 01 min")])
def test_format_duration(seconds, text):
    assert runs_page.format_duration(seconds) == text


@pytest.mark.parametrize("commit, text", [("a" * 40, "aaaaaaaa"), ("b" * 40 + "+dirty", "bbbbbbbb (dirty)"),
                                          ("unknown", "unknown")])
def test_format_commit(commit, text):
    assert runs_page.format_commit(commit) == text


def test_book_chapters_are_the_notebooks_in_the_toc_in_chapter_order(tmp_path):
    toc = tmp_path / "_toc.yml"
    toc.write_text("format: jb-book\nroot: intro\nparts:\n  - chapters:\n"
                   "      - file: notebooks/ppca\n      - file: notebooks/data.ipynb\n"
                   "#     - file: notebooks/vlae\n      - file: reproduce\n")
    assert runs_page.book_chapters(toc) == ["data", "ppca"]
