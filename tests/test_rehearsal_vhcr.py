"""The VHCR chapter's paper run rehearsed at paper sizes on fixture data (a file of its own,
so that pytest's workers run the long rehearsals side by side)."""

from rehearsal_check import check_one_paper_run


def test_one_paper_run_rehearses(tmp_path):
    check_one_paper_run("vhcr", tmp_path)
