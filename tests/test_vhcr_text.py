"""Text pipeline of the VHCR chapter: cleaning, tokens, vocabulary, padding, trimming."""

import torch

from companion.vhcr.text import (
    EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID, Vocabulary, clean_text, encode_conversations, token_mask, tokenize,
    trim_batch,
)


def test_clean_text_follows_the_authors_clean_str():
    assert clean_text("Hello, how ARE you doin'?") == "hello , how are you doin' ?"
    assert clean_text("I don't know... it's <b>fine</b>!") == "i do n't know ... it 's b fine b !"
    assert clean_text("we'll, they're, I'd, I've") == "we 'll , they 're , i 'd , i 've"


def test_tokenize_splits_clitics_and_trailing_full_stops():
    assert tokenize("I'm home. Wait...") == ["i", "'m", "home", ".", "wait", "..."]
    assert tokenize("  ") == []


def test_vocabulary_keeps_frequent_words_in_count_order_with_size_limit():
    conversations = [[["b", "a", "a"], ["c", "a", "b"]], [["d", "b", "c"]]]
    vocabulary = Vocabulary.build(conversations, max_size=2, min_count=2)
    assert vocabulary.words == SPECIAL_TOKENS + ("a", "b")  # c (2) loses to a (3), b (3); d (1) is rare
    assert Vocabulary.build(conversations, max_size=10, min_count=2).words[-1] == "c"
    assert vocabulary.encode(["a", "zebra"]) == [4, UNK_ID]
    assert vocabulary.decode([4, 5, EOS_ID, 4]) == "a b"


def test_encode_conversations_caps_turns_and_tokens_with_eos():
    vocabulary = Vocabulary(SPECIAL_TOKENS + ("x",))
    conversation = [["x"] * 10, ["x"], ["x"], ["x"]]
    padded = encode_conversations([conversation, conversation[:2]], vocabulary, max_turns=3, max_tokens=4)
    assert padded.tokens.shape == (2, 3, 4)
    assert padded.turn_lengths.tolist() == [[4, 2, 2], [4, 2, 0]]
    assert padded.tokens[0, 0].tolist() == [4, 4, 4, EOS_ID]
    assert padded.tokens[1, 2].tolist() == [PAD_ID] * 4
    assert padded.conversation_lengths.tolist() == [3, 2]
    assert padded.target_words() == 2 + 2 + 2


def test_trim_batch_and_masks():
    tokens = torch.zeros(2, 5, 7, dtype=torch.long)
    lengths = torch.tensor([[3, 2, 0, 0, 0], [1, 4, 2, 0, 0]])
    trimmed, trimmed_lengths = trim_batch(tokens, lengths)
    assert trimmed.shape == (2, 3, 4) and trimmed_lengths.shape == (2, 3)
    assert token_mask(torch.tensor([2, 0]), 3).tolist() == [[True, True, False], [False, False, False]]
