"""The papers' reported numbers, read from ``data/paper/*.csv``.

Each CSV holds one reported table in long form with a ``source`` column saying where the
number was reported (paper, table, and how it was verified). These numbers are never computed:
chapters show them beside the numbers our runs measure.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from companion.paths import repository_root


def paper_dir() -> Path:
    """Folder of the reported-number tables: data/paper."""
    return repository_root() / "data" / "paper"


def available_tables() -> list[str]:
    """Names of the reported tables (CSV file names without the suffix)."""
    return sorted(path.stem for path in paper_dir().glob("*.csv"))


def reported(table: str) -> pd.DataFrame:
    """The reported table ``table`` (e.g. ``"vlae_table1"``) as a DataFrame.

    Raises FileNotFoundError naming the valid tables, and ValueError when the file lacks the
    ``source`` column that labels every reported number.
    """
    path = paper_dir() / f"{table}.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"no reported table {table!r} at {path}; available: {available_tables()}"
        )
    frame = pd.read_csv(path, comment="#")
    if "source" not in frame.columns:
        raise ValueError(f"{path} has no 'source' column: every reported number needs one")
    return frame
