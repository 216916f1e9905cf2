"""The chapter registry and the parameter tables of the Reproduce page."""

import pytest

from companion.chapters import CHAPTERS, available_chapters, format_parameter, parameter_table, settings_module


def test_every_registered_chapter_is_present_with_its_notebook():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    assert available_chapters() == list(CHAPTERS)
    for chapter in CHAPTERS:
        assert (root / "notebooks" / f"{chapter}.ipynb").exists()


@pytest.mark.parametrize("chapter", list(CHAPTERS))
def test_parameter_table_lists_common_and_profile_parameters(chapter):
    table = parameter_table(chapter)
    assert {"seed", "device", "data_dir"} <= set(table.index)
    assert list(table.columns) == [f'profile="{name}"' for name in settings_module(chapter).PROFILES]
    assert {'profile="cpu"', 'profile="paper"'} <= set(table.columns)


def test_parameters_are_formatted_as_typed():
    assert format_parameter([5 / 12, 0.75]) == "[0.4167, 0.75]"
    assert format_parameter("2-2-2") == "'2-2-2'" and format_parameter(None) == "None"
