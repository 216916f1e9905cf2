"""Corpus loaders on tiny fixtures in the official Cornell and Ubuntu v1 formats (and their variants)."""

import codecs

import pytest

from companion.data import CorruptDataError, DataNotFoundError
from companion.vhcr.corpora import (
    CORNELL_FILES, MIN_CONVERSATIONS, load_cornell, load_dialogue_data, load_splits, load_ubuntu,
    read_ubuntu_dialog, split_conversations,
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


CORNELL_EXPECTED = [["They do to!", "They do not!"], ["She okay?", "I hope so.", "Let's go. Caf\xe9 au lait?"]]


def _write_cornell(folder, lines=CORNELL_LINES, conversations=CORNELL_CONVERSATIONS):
    """movie_lines.txt and movie_conversations.txt as distributed: ISO-8859-1, LF line ends."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "movie_lines.txt").write_bytes(
        "".join(SEP.join(fields) + "\n" for fields in lines).encode("iso-8859-1"))
    (folder / "movie_conversations.txt").write_bytes(
        "".join(SEP.join(fields) + "\n" for fields in conversations).encode("iso-8859-1"))
    return folder


def _write_cornell_of(folder, count):
    """A Cornell folder of ``count`` two-line conversations (enough for a 80/10/10 split from 6 on)."""
    lines = [[f"L{n}", "u0", "m0", "A", f"line {n}"] for n in range(2 * count)]
    conversations = [["u0", "u1", "m0", f"['L{2 * i}', 'L{2 * i + 1}']"] for i in range(count)]
    return _write_cornell(folder, lines, conversations)


def _crlf(raw):
    return raw.replace(b"\n", b"\r\n")


def _latin1_to_utf8(raw):
    return raw.decode("iso-8859-1").encode("utf-8")


#: How a copy of an official file may differ from it after another tool (editor, converter, OS).
CORNELL_VARIANTS = {
    "crlf": _crlf,
    "utf-8": _latin1_to_utf8,
    "utf-8 with bom": lambda raw: codecs.BOM_UTF8 + _latin1_to_utf8(raw),
    "utf-8 with bom, crlf": lambda raw: codecs.BOM_UTF8 + _crlf(_latin1_to_utf8(raw)),
}
UBUNTU_VARIANTS = {
    "crlf": _crlf,
    "bom": lambda raw: codecs.BOM_UTF8 + raw,
    "bom, crlf": lambda raw: codecs.BOM_UTF8 + _crlf(raw),
}


def _rewrite(paths, variant):
    for path in paths:
        path.write_bytes(variant(path.read_bytes()))


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
    assert conversations == CORNELL_EXPECTED


@pytest.mark.parametrize("variant", sorted(CORNELL_VARIANTS))
def test_cornell_variants_load_the_same_conversations(tmp_path, variant):
    folder = _write_cornell(tmp_path / "cornell")
    _rewrite([folder / name for name in CORNELL_FILES], CORNELL_VARIANTS[variant])
    assert load_cornell(folder) == CORNELL_EXPECTED


@pytest.mark.parametrize("emptied", [["movie_lines.txt"], ["movie_conversations.txt"], list(CORNELL_FILES)])
def test_cornell_empty_file_is_an_error_naming_it_and_its_format(tmp_path, emptied):
    folder = _write_cornell(tmp_path / "cornell")
    for name in emptied:
        (folder / name).write_bytes(b"")  # an interrupted download
    with pytest.raises(CorruptDataError, match=r"\(0 bytes\): holds 0 (lines|conversations), expected at least 1") as error:
        load_cornell(folder)
    assert str(folder / emptied[0]) in str(error.value)
    assert "+++$+++" in str(error.value)
    with pytest.raises(CorruptDataError, match=emptied[0]):
        load_splits("cornell", data_dir=tmp_path)


def test_cornell_with_no_conversation_is_an_error_naming_the_file(tmp_path):
    folder = _write_cornell(tmp_path / "cornell")
    (folder / "movie_conversations.txt").write_bytes(codecs.BOM_UTF8)  # no line, only a byte-order mark
    with pytest.raises(CorruptDataError, match=f"holds 0 conversations, expected at least {MIN_CONVERSATIONS}") as error:
        load_cornell(folder)
    assert str(folder / "movie_conversations.txt") in str(error.value)


@pytest.mark.parametrize("line_ids", ["5", "'L1044'", "[1044, 1045]", "[]", "{'L1044'}", "['L1044', 'L1045'", "L1044"])
def test_cornell_line_id_list_not_a_list_names_file_and_line(tmp_path, line_ids):
    folder = _write_cornell(tmp_path / "cornell", conversations=[CORNELL_CONVERSATIONS[0], ["u0", "u2", "m0", line_ids]])
    with pytest.raises(CorruptDataError, match="line-ID list") as error:
        load_cornell(folder)
    assert f"{folder / 'movie_conversations.txt'}, line 2:" in str(error.value)


@pytest.mark.parametrize(("name", "line", "problem"), [
    ("movie_lines.txt", "", "expected 5 fields"),
    ("movie_lines.txt", "L7 +++$+++ u0 +++$+++ m0 +++$+++ text", "expected 5 fields"),
    ("movie_conversations.txt", "u0 +++$+++ u2 +++$+++ ['L984']", "expected 4 fields"),
    ("movie_conversations.txt", "u0 +++$+++ u2 +++$+++ m0 +++$+++ ['L984', 'L7']", r"line IDs \['L7'\] are not in"),
])
def test_cornell_malformed_line_names_file_and_line(tmp_path, name, line, problem):
    """The authors' script reads every line's fields and looks up every line ID, so the official
    files have no bad line to skip: each one is an error."""
    folder = _write_cornell(tmp_path / "cornell")
    path = folder / name
    kept = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([kept[0], line.encode(), *kept[1:]]))
    with pytest.raises(CorruptDataError, match=problem) as error:
        load_cornell(folder)
    assert f"{path}, line 2:" in str(error.value)


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


@pytest.mark.parametrize("variant", sorted(UBUNTU_VARIANTS))
def test_ubuntu_variants_load_the_same_conversations(tmp_path, variant):
    original = _write_ubuntu(tmp_path / "original")
    root = _write_ubuntu(tmp_path / "ubuntu")
    _rewrite([*root.rglob("*.tsv"), *root.rglob("*.csv")], UBUNTU_VARIANTS[variant])
    for split in ("train", "valid", "test"):
        assert load_ubuntu(root, split) == load_ubuntu(original, split)


def test_ubuntu_empty_dialog_file_is_an_error_naming_it(tmp_path):
    """Not a conversation of no turns, nor skipped: the official lists name only dialogs of three
    turns or more, so an empty one is a damaged extraction, which a skip would hide."""
    root = _write_ubuntu(tmp_path / "ubuntu")
    path = root / "dialogs" / "3" / "2.tsv"
    path.write_bytes(b"")
    with pytest.raises(CorruptDataError, match="0 bytes.*holds 0 lines.*time<TAB>speaker") as error:
        load_ubuntu(root, "train")
    assert str(path) in str(error.value)
    with pytest.raises(CorruptDataError, match="2.tsv"):
        read_ubuntu_dialog(path)


def test_ubuntu_invalid_utf8_names_file_and_line(tmp_path):
    root = _write_ubuntu(tmp_path / "ubuntu")
    path = root / "dialogs" / "3" / "1.tsv"
    path.write_bytes(path.read_bytes().replace(b"it hangs", "it h\xe9ngs".encode("iso-8859-1")))
    with pytest.raises(CorruptDataError, match="line 2: byte .* is not valid utf-8") as error:
        load_ubuntu(root, "train")
    assert str(path) in str(error.value)
    assert not isinstance(error.value, UnicodeDecodeError)


@pytest.mark.parametrize("listing", [b"", b"\n\n", codecs.BOM_UTF8])
def test_ubuntu_split_of_no_dialog_is_an_error_naming_the_folder(tmp_path, listing):
    root = _write_ubuntu(tmp_path / "ubuntu")
    (root / "meta" / "valfiles.csv").write_bytes(listing)
    with pytest.raises(CorruptDataError, match=f"holds 0 valid dialogs, expected at least {MIN_CONVERSATIONS}") as error:
        load_ubuntu(root, "valid")
    assert f"Ubuntu folder {root}" in str(error.value) and "valfiles.csv" in str(error.value)
    with pytest.raises(CorruptDataError, match="valfiles.csv"):
        load_splits("ubuntu", data_dir=tmp_path)


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


def test_load_splits_never_returns_an_empty_split(tmp_path):
    _write_cornell(tmp_path / "cornell")  # 2 conversations: 1 train, 0 valid, 1 test
    with pytest.raises(CorruptDataError, match="no conversation of at least 2 turns is left for valid") as error:
        load_splits("cornell", data_dir=tmp_path)
    assert str(tmp_path / "cornell") in str(error.value) and "valid 0 of 0" in str(error.value)
    root = _write_ubuntu(tmp_path / "ubuntu")
    (root / "meta" / "testfiles.csv").write_text("2.tsv,3\n")  # a dialog of 2 turns, dropped
    with pytest.raises(CorruptDataError, match="is left for test.*test 0 of 1"):
        load_splits("ubuntu", data_dir=tmp_path)


def test_load_splits_of_a_corpus_large_enough_fills_every_split(tmp_path):
    _write_cornell_of(tmp_path / "cornell", 10)
    splits = load_splits("cornell", data_dir=tmp_path)
    assert [len(splits[split]) for split in ("train", "valid", "test")] == [8, 1, 1]


def test_seeded_split_is_80_10_10_and_reproducible():
    conversations = [[str(i)] for i in range(50)]
    first, again = split_conversations(conversations, seed=3), split_conversations(conversations, seed=3)
    assert first == again
    assert [len(first[s]) for s in ("train", "valid", "test")] == [40, 5, 5]
    assert sorted(sum(first.values(), []), key=lambda c: int(c[0])) == conversations
    assert split_conversations(conversations, seed=4) != first


def test_dialogue_data_from_cornell_fixture(tmp_path):
    _write_cornell_of(tmp_path / "cornell", 10)
    data = load_dialogue_data("cornell", max_vocab_size=100, min_count=1, max_turns=10, max_tokens=30,
                              data_dir=tmp_path, seed=0)
    assert (len(data.train), len(data.valid), len(data.test)) == (8, 1, 1)
    assert data.vocabulary.words[:4] == ("<pad>", "<unk>", "<sos>", "<eos>")
    assert data.train.turn_lengths.shape[1] == 10
