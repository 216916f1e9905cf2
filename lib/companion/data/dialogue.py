"""Conversations: the embedded Chit-Chat Challenge corpus (more loaders in the VHCR chapter).

A conversation is a list of turns (strings). In the Chit-Chat corpus a conversation is a
list of message groups, each a run of consecutive messages from one sender: their texts are
joined with a space into one turn.
"""

from __future__ import annotations

CONVERSATION_SETS = ("chitchat",)


def load_chitchat() -> list[list[str]]:
    """All 7,168 Chit-Chat Challenge conversations as lists of turns, in the package's order."""
    import chitchat_dataset

    conversations = []
    for record in chitchat_dataset.Dataset().values():
        turns = [" ".join(message["text"].strip() for message in group) for group in record["messages"]]
        conversations.append([turn for turn in turns if turn])
    return conversations


def load_conversations(name: str = "chitchat") -> list[list[str]]:
    """Load conversation set ``name`` as a list of conversations, each a list of turns."""
    from companion.config import check_choice

    check_choice("dataset", name, CONVERSATION_SETS)
    return load_chitchat()
