"""Errors for data that is missing or damaged: each names the files and the folder."""

from __future__ import annotations


class DataNotFoundError(FileNotFoundError):
    """A data set's files are not where they were looked for."""


class CorruptDataError(ValueError):
    """A data file exists but cannot be read as its format (truncated, wrong content)."""
