"""companion.plotting: seed_points draws every seed, each mean bar over its own seeds' dots; panel_grid wraps panels."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from companion import plotting
from companion.plotting import seed_points


@pytest.mark.parametrize("hue", [None, "model"])
def test_each_mean_bar_sits_on_the_mean_of_its_own_dots(hue):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"tree": np.repeat(["a", "b"], 9), "model": np.tile(np.repeat(["u", "v", "w"], 3), 2),
                          "error": rng.normal(size=18)})
    _, ax = plt.subplots()
    seed_points(frame, "tree", "error", ax=ax, hue=hue)
    dots = [np.asarray(c.get_offsets()) for c in ax.collections if len(c.get_offsets())]
    assert sum(len(d) for d in dots) == len(frame)  # every seed is a dot
    bars = np.concatenate([np.column_stack([line.get_xdata(), line.get_ydata()])
                           for line in ax.lines if line.get_marker() == "_"])
    groups = frame.groupby(["tree", "model"] if hue else "tree")["error"]
    assert len(bars) == groups.ngroups == len(dots)
    for group in dots:
        centre, mean = group[:, 0].mean(), group[:, 1].mean()
        nearest = bars[np.argmin(np.abs(bars[:, 0] - centre))]
        assert nearest[0] == pytest.approx(centre, abs=0.1) and nearest[1] == pytest.approx(mean)
    assert sorted(bars[:, 1]) == pytest.approx(sorted(groups.mean()))


@pytest.mark.parametrize("hue", [None, "model"])
def test_the_dots_of_one_seed_are_joined_and_only_they(hue):
    """Each grey line passes through the dots of one seed: across the categories, or with a hue
    across its levels within a category (a paired test's pairs)."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"tree": np.repeat(["a", "b"], 6), "model": np.tile(np.repeat(["u", "v"], 3), 2),
                          "seed": np.tile([0, 1, 2], 4), "error": rng.normal(size=12)})
    if hue is None:  # one dot per seed and category
        frame = frame[frame["model"] == "u"]
    _, ax = plt.subplots()
    seed_points(frame, "tree", "error", ax=ax, hue=hue)
    dots = np.concatenate([np.asarray(c.get_offsets()) for c in ax.collections if len(c.get_offsets())])
    joined = [np.column_stack([line.get_xdata(), line.get_ydata()]) for line in ax.lines
              if line.get_marker() != "_" and len(line.get_xdata()) > 1 and line.get_color() == "0.6"]
    units = frame.groupby("seed" if hue is None else ["seed", "tree"])
    assert len(joined) == units.ngroups
    for line in joined:
        for point in line:  # every vertex is a dot
            assert np.min(np.hypot(*(dots - point).T)) < 1e-9
        values = frame[frame["error"].isin(line[:, 1])]
        assert values["seed"].nunique() == 1 and len(values) == len(line)
    _, ax = plt.subplots()
    seed_points(frame.drop(columns="seed"), "tree", "error", ax=ax, hue=hue)
    assert not [line for line in ax.lines if line.get_color() == "0.6"]


@pytest.mark.parametrize(("count", "columns", "shape"), [(4, 2, (2, 2)), (3, 2, (2, 2)), (1, 3, (1, 1)), (5, 1, (5, 1))])
def test_a_panel_grid_wraps_at_its_columns_and_hides_what_it_does_not_use(count, columns, shape):
    fig, axes = plotting.panel_grid(count, 2.0, columns=columns)
    assert len(axes) == count and all(ax.get_visible() for ax in axes)
    hidden = [ax for ax in fig.axes if not ax.get_visible()]
    assert len(fig.axes) == shape[0] * shape[1] and len(hidden) == shape[0] * shape[1] - count
    assert tuple(fig.get_size_inches()) == (plotting.FIGURE_WIDTH, 2.0 * shape[0])
    plt.close(fig)
