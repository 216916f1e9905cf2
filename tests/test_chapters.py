"""The chapter registry, its typed settings and the parameter tables of the Reproduce page."""

from dataclasses import fields, replace
from pathlib import Path

import pytest

from companion.chapters import (CHAPTERS, EVIDENCE, available_chapters, chapter_parameters, format_parameter,
                                parameter_table, profiles_of)
from companion.config import ChapterSettings

ROOT = Path(__file__).resolve().parents[1]


def test_every_registered_chapter_is_present_with_its_notebook():
    assert available_chapters() == list(CHAPTERS)
    for chapter in CHAPTERS:
        assert (ROOT / "notebooks" / f"{chapter}.ipynb").exists()
    assert set(EVIDENCE) <= set(CHAPTERS)


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_profiles_are_typed_settings_of_one_class_named_by_their_profile(chapter):
    profiles = profiles_of(chapter)
    assert {"cpu", "paper"} <= set(profiles)
    kinds = {type(settings) for settings in profiles.values()}
    assert len(kinds) == 1 and issubclass(kinds.pop(), ChapterSettings)
    for name, settings in profiles.items():
        assert settings.profile == name
        assert replace(settings) == settings  # validating a profile again changes nothing


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_parameter_table_lists_every_field_in_every_profile(chapter):
    table = parameter_table(chapter)
    profiles = profiles_of(chapter)
    assert list(table.index) == [f.name for f in fields(profiles["cpu"]) if f.name != "profile"]
    assert list(table.columns) == [f'profile="{profile}"' for profile in profiles]
    assert set(chapter_parameters(chapter)) == {f.name for f in fields(profiles["cpu"])}


def test_parameters_are_formatted_as_typed():
    assert format_parameter([5 / 12, 0.75]) == "[0.4167, 0.75]"
    assert format_parameter((5 / 12, 0.75)) == "[0.4167, 0.75]"
    assert format_parameter("2-2-2") == "'2-2-2'" and format_parameter(None) == "None"
