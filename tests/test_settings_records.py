"""Typed settings keep the run keys of the committed records: a run whose settings did not
change must find its record again (a sweep skips it, a chapter pools it)."""

import json
from pathlib import Path

import pytest

from companion.chapters import CHAPTERS, profiles_of
from companion.config import resolve
from companion.results import run_key, stored_results_dir

ROOT = Path(__file__).resolve().parents[1]


def _records(chapter):
    return [json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((stored_results_dir() / chapter).glob("*.json"))]


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_every_committed_record_of_the_current_parameters_keeps_its_key(chapter):
    profiles = profiles_of(chapter)
    fields = set(next(iter(profiles.values())).record())  # parameters added later, at their old value, are left out
    current = [record for record in _records(chapter) if set(record["params"]) == fields]
    for record in _records(chapter):
        assert run_key(chapter, record["params"]) == record["key"], record["run_id"]
    for record in current:
        settings = resolve(profiles, **record["params"])
        assert settings.record() == record["params"], record["run_id"]
        assert run_key(chapter, settings.record()) == record["key"], record["run_id"]
    if any(record["profile"] == "cpu-long" for record in _records(chapter)):
        assert any(record["profile"] == "cpu-long" for record in current), \
            f"no cpu-long record of {chapter} has the current parameters"
