"""The chapter's figures draw what they say, and labels use the paper's stage numbering."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from companion.plotting import FIGURE_WIDTH  # noqa: E402
from companion.splitnet import figures  # noqa: E402
from companion.splitnet.assignment import LearnedSplitWRN  # noqa: E402
from companion.splitnet.split import off_block_mass  # noqa: E402
from companion.splitnet.wrn import WideResNet  # noqa: E402


def test_readable_names_count_stages_from_one():
    assert figures.readable("stage2_block0_mid") == "stage 3, block 1, middle"
    assert figures.readable("stage1_in") == "stage 2, inputs"
    assert figures.readable("stages.1.0.conv2") == "stage 2, block 1, conv 2"
    assert figures.readable("head.linear") == "classifier"


def test_tree_has_one_node_per_group_at_every_level():
    fig, ax = plt.subplots()
    figures.plot_split_tree("2-4-4", class_groups=[[0, 1], [2], [3, 4], [5]], ax=ax)
    assert len(ax.collections) == 1 + 2 + 4 + 4
    assert [t.get_text() for t in ax.texts if t.get_text().startswith("0")] == ["0 1"]
    plt.close(fig)


def test_block_weights_and_sharpening_figures_have_a_panel_per_layer_and_epoch():
    torch.manual_seed(0)
    model = LearnedSplitWRN(WideResNet(10, 1, 10, 1), "1-2-2")
    layers = ["stages.2.0.conv2", "head.linear"]
    fig = figures.plot_block_weights({"a": model.network, "b": model.network}, model.assignments, layers)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 4 and len(fig.axes) == 5  # one colour bar, every panel scaled to [0, 1]
    shares = off_block_mass(model.network, model.assignments)
    assert panels[0].get_title().endswith(f"a: off-block {100 * shares['stages.2.0.conv2']:.1f}%")
    assert panels[3].get_title().startswith("classifier\nb: ")
    assert fig.get_size_inches()[0] <= FIGURE_WIDTH
    plt.close(fig)
    snapshot = {name: model.assignments.probabilities(name).detach() for name in model.assignments.names}
    fig = figures.plot_assignment_sharpening([snapshot, snapshot], ["classes", "head_in"], [0, 1])
    assert len(fig.axes) == 4
    plt.close(fig)


def test_class_groups_and_error_plot():
    images = np.random.default_rng(0).random((40, 1, 8, 8)).astype(np.float32)
    labels = np.arange(40) % 4
    fig = figures.plot_class_groups(images, labels, [[0, 1, 2], [3]], examples=2)
    assert len(fig.axes) == 2
    plt.close(fig)
    runs = pd.DataFrame({"model": ["baseline", "SplitNet", "SplitNet-R"], "groups": ["1-2-2"] * 3,
                         "params": [3e5, 2e5, 2e5], "test_error": [1.0, 1.2, 1.5]})
    fig, ax = plt.subplots()
    figures.plot_error_vs_parameters(runs, ax=ax)
    assert len(ax.collections) == 3
    plt.close(fig)
