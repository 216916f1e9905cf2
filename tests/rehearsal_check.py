"""One paper run of a chapter rehearsed (companion.reproduce.rehearsal) and checked: shared by the
rehearsal tests, which sit in three files so that pytest's two workers take the two long ones
(SplitNet's and VHCR's paper-size steps take minutes on one core) side by side."""

from companion.reproduce.plan import registered_chapters
from companion.reproduce.rehearsal import GPUS, rehearse
from companion.results import load_records

#: The paper run each chapter's test rehearses.
ONE_RUN = {
    "data": {"dataset": ["cifar100"]},
    "ppca": {"angle": ["30.0"], "latent_dim": ["2"]},
    "splitnet": {"groups": ["2-2-2"]},
    "vhcr": {"dataset": ["cornell"]},
    "vlae": {"dataset": ["mnist"], "likelihood": ["gaussian"], "steps": ["1"]},
}


def check_one_paper_run(chapter, tmp_path, chapters=None):
    """Rehearse ``chapter``'s run of :data:`ONE_RUN` into ``tmp_path`` and check what it leaves."""
    chapters = chapters or registered_chapters()[0]
    summary, table, calls = rehearse(chapters, [chapter], tmp_path, only=ONE_RUN[chapter],
                                     progress=False, for_test=True)
    assert len(summary) == 1
    assert summary["status"].tolist() == ["done"], summary["error"].tolist()
    # the executed chapter and its record went to the scratch store given, never to data/results
    assert len(list((tmp_path / chapter / "notebooks").glob("*.ipynb"))) == 1
    records = load_records(chapter, tmp_path)
    assert [(record["profile"], record["params"]["device"]) for record in records] == (
        [] if chapter == "data" else [("paper", "cpu")])  # the data chapter records nothing
    assert (tmp_path / "cost.md").read_text().count("ESTIMATE") == 1
    (row,) = table.to_dict("records")
    if chapter == "data":  # it trains nothing
        assert row["calls"] == 0 and calls.empty
        return
    assert row["calls"] >= 1 and row["full_steps"] > calls["steps"].sum()
    assert row["flops_per_step"] > 0 and row["cpu_s_per_step"] > 0 and row["gpu_memory_gib"] > 0
    assert all(row[f"{gpu}_h"] > 0 for gpu in GPUS)
