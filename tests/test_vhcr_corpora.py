"""Corpus loaders on tiny fixtures in the official Cornell and Ubuntu v1 formats."""

import pytest

from companion.data import CorruptDataError, DataNotFoundError
from companion.vhcr.corpora import (
    load_cornell, load_dialogue_data, load_splits, load_ubuntu, read_ubuntu_dialog, split_conversations,
)

SEP = " +++$+++ "
CORNELL_LINES = [
    ["L1045", "u0", "m0", "BIANCA", "They do not!"],
    ["L1044", "u2", "m0", "CAMERON", "They do to!"],
    ["L985", "u0", "m0", "BIANCA", "I hope so."],
    ["L984", "u2", "m0", "CAMERON", "She okay?"],
    ["L925", "u0", "m0", "BIANCA", "Let's go. Caf\xe9 au lait?"],
]
CORNELL_CONVERSATIONS = [
    ["u0", "u2", "m0", "['L1044', 'L1045']"],
    ["u0", "u2", "m0", "['L984', 'L985', 'L925']"],
]


def _write_cornell(folder, lines=CORNELL_LINES, conversations=CORNELL_CONVERSATIONS):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movie_lines.txt").write_bytes(
        "".join(SEP.join(fields) + "\n" for fields in lines).encode("iso-8859-1"))
    (folder / "movie_conversations.txt").write_bytes(
        "".join(SEP.join(fields) + "\n" for fields in conversations).encode("iso-8859-1"))
    return folder


def _write_ubuntu(root):
    dialogs = {
        ("3", "1.tsv"): [
            ("2004-11-23T11:49:00.000Z", "stuNNed", "", "any ideas why java plugin takes so long to load?"),
            ("2004-11-23T11:49:00.000Z", "stuNNed", "", "it hangs"),
            ("2004-11-23T11:52:00.000Z", "crimsun", "stuNNed", "java 1.4?"),
            ("2004-11-23T11:53:00.000Z", "stuNNed", "crimsun", "yes"),
        ],
        ("3", "2.tsv"): [
            ("2004-11-23T12:00:00.000Z", "a", "", "hi"),
            ("2004-11-23T12:01:00.000Z", "b", "a", "hello"),
        ],
        ("4", "7.tsv"): [
            ("2004-11-24T10:00:00.000Z", "x", "", "how do i mount\tan iso"),
            ("2004-11-24T10:01:00.000Z", "y", "x", "mount -o loop"),
            ("2004-11-24T10:02:00.000Z", "x", "y", "thanks"),
        ],
    }
    for (folder, name), lines in dialogs.items():
        path = root / "dialogs" / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join("\t".join(line) + "\n" for line in lines), encoding="utf-8")
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "trainfiles.csv").write_text("1.tsv,3\n2.tsv,3\n")
    (root / "meta" / "valfiles.csv").write_text("7.tsv,4\n")
    (root / "meta" / "testfiles.csv").write_text("7.tsv,4\n")
    return root


def test_cornell_reassembles_conversations_from_line_ids(tmp_path):
    conversations = load_cornell(_write_cornell(tmp_path / "cornell"))
    assert conversations == [["They do to!", "They do not!"], ["She okay?", "I hope so.", "Let's go. Caf\xe9 au lait?"]]


def test_cornell_errors_name_the_file_and_line(tmp_path):
    with pytest.raises(DataNotFoundError, match="movie_lines.txt"):
        load_cornell(tmp_path / "nowhere")
    broken = _write_cornell(tmp_path / "a", conversations=[["u0", "u2", "m0", "['L1', 'L1045']"]])
    with pytest.raises(CorruptDataError, match=r"line 1: line IDs \['L1'\]"):
        load_cornell(broken)
    short = _write_cornell(tmp_path / "b", lines=[["L1", "u0", "m0", "text"]])
    with pytest.raises(CorruptDataError, match="movie_lines.txt, line 1: expected 5 fields"):
        load_cornell(short)


def test_ubuntu_joins_consecutive_lines_of_one_speaker(tmp_path):
    root = _write_ubuntu(tmp_path / "ubuntu")
    assert read_ubuntu_dialog(root / "dialogs" / "3" / "1.tsv") == [
        "any ideas why java plugin takes so long to load? it hangs", "java 1.4?", "yes"]
    assert load_ubuntu(root, "valid") == [["how do i mount\tan iso", "mount -o loop", "thanks"]]
    assert len(load_ubuntu(root, "train")) == 2


def test_ubuntu_split_drops_dialogs_under_three_turns_and_reports_missing_files(tmp_path):
    root = _write_ubuntu(tmp_path / "ubuntu")
    splits = load_splits("ubuntu", data_dir=tmp_path)
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [1, 1, 1]
    (root / "dialogs" / "4" / "7.tsv").unlink()
    with pytest.raises(DataNotFoundError, match="7.tsv"):
        load_ubuntu(root, "test")
    (root / "dialogs" / "3" / "2.tsv").write_text("only two\tfields\n")
    with pytest.raises(CorruptDataError, match="2.tsv, line 1"):
        load_ubuntu(root, "train")


def test_seeded_split_is_80_10_10_and_reproducible():
    conversations = [[str(i)] for i in range(50)]
    first, again = split_conversations(conversations, seed=3), split_conversations(conversations, seed=3)
    assert first == again
    assert [len(first[s]) for s in ("train", "valid", "test")] == [40, 5, 5]
    assert sorted(sum(first.values(), []), key=lambda c: int(c[0])) == conversations
    assert split_conversations(conversations, seed=4) != first


def test_dialogue_data_from_cornell_fixture(tmp_path):
    _write_cornell(tmp_path / "cornell")
    data = load_dialogue_data("cornell", max_vocab_size=100, min_count=1, max_turns=10, max_tokens=30,
                              data_dir=tmp_path, seed=0)
    assert len(data.train) + len(data.valid) + len(data.test) == 2
    assert data.vocabulary.words[:4] == ("<pad>", "<unk>", "<sos>", "<eos>")
    assert data.train.turn_lengths.shape[1] == 10
