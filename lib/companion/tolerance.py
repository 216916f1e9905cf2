"""Shown results with the tolerance within which another machine must reproduce them.

A chapter's numbers that depend on training differ in their last bits from one CPU to another
(kernel choice, summation order), and training amplifies that: an exact comparison of a re-run
with the committed notebook fails on a machine other than the one that wrote it. So a chapter
shows each such result with :func:`show` or :func:`glue_result`, which put the result's
tolerance (and, for a table, its values) into the output's metadata. ``pytest --nbval`` then
compares those outputs with :func:`compare_output` (hooked in by the repository's conftest):
the text around the numbers must be identical, and every number must agree with the committed
one within the stated tolerance. Outputs shown any other way are still compared exactly.

The tolerances are derived from the spread measured across kernel configurations and thread
counts by ``benchmarks/notebook_spread.py``; each chapter states them next to its tables.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
from IPython.display import display

#: key of this module's entry in an output's metadata
METADATA_KEY = "companion"
#: mime type myst-nb's glue gives a value that is not displayed where it is glued
GLUE_MIME = "application/papermill.record/text/plain"

NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])"
                     r"|(?<![\w])(?:nan|NaN|inf)(?![\w])")
_TEXT_MIMES = ("text/plain", GLUE_MIME, "text/markdown")


def _to_float(token: str) -> float:
    return float(token.replace("−", "-"))


def numbers_in(text: str) -> list[float]:
    """Every number written in ``text`` (a standalone token: "T=4" gives 4, "x1" nothing)."""
    return [_to_float(match.group()) for match in NUMBER.finditer(text)]


def skeleton(text: str) -> str:
    """``text`` with every number replaced by ``#`` and runs of white space made one space."""
    return " ".join(NUMBER.sub("#", text).split())


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def output_numbers(output: Mapping[str, Any]) -> list[float]:
    """The numbers a notebook output shows in its plain text (stream text or text mime)."""
    if output.get("output_type") == "stream":
        return numbers_in(_text(output.get("text", "")))
    data = output.get("data", {})
    for mime in _TEXT_MIMES:
        if mime in data:
            return numbers_in(_text(data[mime]))
    return []


def _frame_values(frame: pd.DataFrame) -> dict[str, Any]:
    def cell(value: Any) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return None if math.isnan(float(value)) else float(value)
        try:
            number = float(value)
        except (TypeError, ValueError):
            return str(value)
        return None if math.isnan(number) else number

    return {"columns": [str(column) for column in frame.columns],
            "index": [str(label) for label in frame.index],
            "data": [[cell(value) for value in row] for row in frame.itertuples(index=False)]}


def tolerance_metadata(atol: float, columns: Mapping[str, float] | None = None,
                       frame: pd.DataFrame | None = None) -> dict[str, Any]:
    """The metadata entry that states a result's tolerance (absolute; per column for tables)."""
    if atol < 0 or any(value < 0 for value in (columns or {}).values()):
        raise ValueError("tolerances must be non-negative")
    entry: dict[str, Any] = {"atol": float(atol)}
    if columns:
        if frame is not None:
            unknown = sorted(set(columns) - {str(column) for column in frame.columns})
            if unknown:
                raise ValueError(f"tolerance for column(s) {unknown} not in the table; "
                                 f"columns: {[str(c) for c in frame.columns]}")
        entry["columns"] = {str(name): float(value) for name, value in columns.items()}
    if frame is not None:
        entry["values"] = _frame_values(frame)
    return {METADATA_KEY: entry}


def show(result: pd.DataFrame | str, *, atol: float,
         columns: Mapping[str, float] | None = None) -> None:
    """Display a result table (or a line of text) with the tolerance a re-run must meet.

    ``atol`` applies to every number; ``columns`` overrides it per column of a table (0 for a
    column that must be exact, such as a parameter count).
    """
    if isinstance(result, str):
        display({"text/plain": result}, raw=True, metadata=tolerance_metadata(atol))
        return
    display(result, metadata=tolerance_metadata(atol, columns, result))


def glue_result(name: str, value: float, *, precision: str, atol: float) -> float | int:
    """Glue ``value`` for myst-nb under ``name``, rounded as the prose prints it (``precision``
    is the prose's format spec: ".2f", ".1e", or "d" for an integer), with the tolerance a
    re-run must meet; returns the rounded value."""
    rounded = int(value) if precision == "d" else float(format(float(value), precision))
    metadata = {"scrapbook": {"name": name, "mime_prefix": GLUE_MIME[:-len("text/plain")]},
                **tolerance_metadata(atol)}
    display({GLUE_MIME: repr(rounded)}, raw=True, metadata=metadata)
    return rounded


def _close(reference: Any, value: Any, atol: float) -> bool:
    """Equal within ``atol``: two numbers, or two texts alike but for numbers within ``atol``."""
    if isinstance(reference, float) and isinstance(value, float):
        return abs(reference - value) <= atol * (1 + 1e-9) + 1e-12
    if isinstance(reference, str) and isinstance(value, str):
        ref_numbers, numbers = numbers_in(reference), numbers_in(value)
        return (skeleton(reference) == skeleton(value) and len(ref_numbers) == len(numbers)
                and all((math.isnan(a) and math.isnan(b)) or _close(a, b, atol)
                        for a, b in zip(ref_numbers, numbers)))
    return reference == value


def compare_output(reference: Mapping[str, Any], output: Mapping[str, Any]) -> list[str]:
    """Why ``output`` does not reproduce the committed ``reference`` within its stated
    tolerance (an empty list when it does). ``reference`` carries the tolerance metadata."""
    entry = reference.get("metadata", {}).get(METADATA_KEY)
    if entry is None:
        raise ValueError("the committed output states no tolerance")
    problems = []
    ref_data, data = reference.get("data", {}), output.get("data", {})
    ref_mimes = {mime for mime in ref_data if not mime.startswith("image/")}
    mimes = {mime for mime in data if not mime.startswith("image/")}
    if ref_mimes != mimes:
        return [f"shown as {sorted(mimes)}, committed as {sorted(ref_mimes)}"]
    for mime in sorted(ref_mimes):
        if skeleton(_text(ref_data[mime])) != skeleton(_text(data[mime])):
            problems.append(f"{mime}: the text around the numbers differs")
    atol = entry["atol"]
    if "values" in entry:
        found = output.get("metadata", {}).get(METADATA_KEY, {}).get("values")
        expected = entry["values"]
        if found is None or found["columns"] != expected["columns"] \
                or found["index"] != expected["index"]:
            return problems + ["the table's rows or columns differ"]
        per_column = entry.get("columns", {})
        for label, ref_row, row in zip(expected["index"], expected["data"], found["data"]):
            for column, ref_value, value in zip(expected["columns"], ref_row, row):
                limit = per_column.get(column, atol)
                if not _close(ref_value, value, limit):
                    problems.append(f"row {label!r}, column {column!r}: {value} against "
                                    f"committed {ref_value} (tolerance ±{limit:g})")
        return problems
    ref_numbers, numbers = output_numbers(reference), output_numbers(output)
    if len(ref_numbers) != len(numbers):
        return problems + [f"{len(numbers)} numbers shown, {len(ref_numbers)} committed"]
    for ref_value, value in zip(ref_numbers, numbers):
        if not _close(f"{ref_value!r}", f"{value!r}", atol):
            problems.append(f"{value:g} against committed {ref_value:g} (tolerance ±{atol:g})")
    return problems
