"""companion.display: the book's tables show an em dash where a value is missing, its figures
are drawn at twice their displayed size."""

import base64

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.core.interactiveshell import InteractiveShell

from companion.display import EMPTY, table_html, use_book_display


def frame():
    return pd.DataFrame({"log p(x)": [1.25, np.nan], "model": ["VAE", None]}, index=["a", "b"])


def test_a_missing_value_is_an_em_dash_and_everything_else_is_pandas_html():
    html = table_html(frame())
    assert "NaN" not in html and "None" not in html and html.count(f"<td>{EMPTY}</td>") == 2
    assert html == frame()._repr_html_().replace("<td>NaN</td>", f"<td>{EMPTY}</td>").replace(
        "<td>None</td>", f"<td>{EMPTY}</td>")


def test_a_none_of_a_one_column_object_frame_is_an_em_dash_too():
    settings = pd.Series({"data_dir": None, "dataset": "digits"}, name="value", dtype=object).to_frame()
    html = table_html(settings)
    assert "None" not in html and f"<td>{EMPTY}</td>" in html and "<td>digits</td>" in html


def test_an_ipython_session_shows_every_frame_that_way_and_figures_at_twice_the_density():
    shell = InteractiveShell.instance()
    try:
        use_book_display()
        shown, _ = shell.display_formatter.format(frame())
        assert shown["text/html"] == table_html(frame()) and "NaN" in shown["text/plain"]
        subclass = type("Sub", (pd.DataFrame,), {})
        assert shell.display_formatter.format(subclass(frame()))[0]["text/html"] == table_html(frame())
        figure, axes = plt.subplots(figsize=(2, 1), dpi=50)
        axes.plot([0, 1])
        data, metadata = shell.display_formatter.format(figure)
        plt.close(figure)
        # retina: the PNG holds twice the pixels it is displayed at (its header gives them)
        png = data["image/png"]
        png = base64.b64decode(png) if isinstance(png, str) else png
        width, height = (int.from_bytes(png[offset:offset + 4], "big") for offset in (16, 20))
        assert (width // 2, height // 2) == (metadata["image/png"]["width"], metadata["image/png"]["height"])
    finally:
        InteractiveShell.clear_instance()
