"""Summary statistics of the data sets, as tables for the chapter "The data"."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from companion.data.images import ImageSet


def image_statistics(sets: Sequence[ImageSet]) -> pd.DataFrame:
    """One row per (data set, split): size, image shape, pixel mean/std, fraction of zeros."""
    return pd.DataFrame([
        {"dataset": data.name, "split": data.split, "images": len(data),
         "image shape": "×".join(map(str, data.shape)), "classes": data.num_classes,
         "pixel mean": round(float(data.images.mean()), 3),
         "pixel std": round(float(data.images.std()), 3),
         "zero pixels": round(float((data.images == 0).mean()), 3)}
        for data in sets
    ])


def class_counts(data: ImageSet) -> pd.Series:
    """Number of images of each class."""
    return pd.Series(np.bincount(data.labels, minlength=data.num_classes), name=data.name)


def conversation_statistics(conversations: Sequence[Sequence[str]]) -> pd.DataFrame:
    """Size of a conversation corpus: conversations, turns, words and long conversations."""
    turns = np.array([len(conversation) for conversation in conversations])
    words = np.array([len(turn.split()) for conversation in conversations for turn in conversation])
    return pd.DataFrame([
        ("conversations", f"{len(conversations):,}"),
        ("turns", f"{turns.sum():,}"),
        ("turns per conversation (median)", f"{np.median(turns):.0f}"),
        ("conversations with ≥ 12 turns", f"{(turns >= 12).mean():.1%}"),
        ("words per turn (mean)", f"{words.mean():.1f}"),
        ("words per turn (95th percentile)", f"{np.percentile(words, 95):.0f}"),
    ], columns=["statistic", "value"]).set_index("statistic")
