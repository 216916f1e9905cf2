"""Where the project's folders are: the repository root, shipped data, results."""

from __future__ import annotations

import os
from pathlib import Path


def repository_root() -> Path:
    """The checkout holding ``data/`` ($COMPANION_ROOT overrides; the package lives in lib/)."""
    if os.environ.get("COMPANION_ROOT"):
        return Path(os.environ["COMPANION_ROOT"]).expanduser()
    return Path(__file__).resolve().parents[2]
