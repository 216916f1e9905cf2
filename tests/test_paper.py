"""Reported numbers: every table in data/paper is labelled with its source."""

import pytest

from companion import paper


@pytest.mark.parametrize("table", paper.available_tables())
def test_every_reported_table_has_sources(table):
    frame = paper.reported(table)
    assert not frame.empty
    assert frame["source"].notna().all() and (frame["source"].str.len() > 0).all()


def test_a_missing_table_lists_the_available_ones():
    with pytest.raises(FileNotFoundError, match="available"):
        paper.reported("no_such_table")
