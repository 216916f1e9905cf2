"""How the chapters' outputs look in the book: tables with an em dash for a missing value,
never "NaN", and figures at twice the pixel density, sharp on high-density screens.

A chapter calls :func:`use_book_display` once. Every DataFrame it then shows renders as
pandas' own HTML table (same truncation and styling) with :data:`EMPTY` in each missing cell;
only the HTML changes, so the plain text and the values the tolerance checks read
(:mod:`companion.tolerance`) stay what pandas gives. Figures are PNGs drawn at twice their
displayed size (IPython's "retina" format).
"""

from __future__ import annotations

import pandas as pd
from IPython import get_ipython
from matplotlib_inline.backend_inline import set_matplotlib_formats

#: What a table shows where it has no value (a comparison with no second arm, a run not made).
EMPTY = "—"


def table_html(frame: pd.DataFrame) -> str:
    """``frame`` as pandas' notebook HTML, with :data:`EMPTY` for every missing value (pandas'
    ``na_rep`` misses a None in some object columns, so those are replaced first)."""
    frame = frame.apply(lambda column: column.map(lambda value: EMPTY if value is None else value)
                        if column.dtype == object else column)
    return frame.to_html(notebook=True, na_rep=EMPTY, max_rows=pd.get_option("display.max_rows"),
                         max_cols=pd.get_option("display.max_columns"),
                         show_dimensions=pd.get_option("display.show_dimensions"))


def use_book_display() -> None:
    """Show every DataFrame of this IPython session with :func:`table_html` and every figure
    as a 2× PNG (outside IPython, where nothing is displayed, it does nothing)."""
    shell = get_ipython()
    if shell is None:
        return
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, table_html)
    set_matplotlib_formats("retina")
