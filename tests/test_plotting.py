"""companion.plotting.seed_points: every seed drawn, and each mean bar over its own seeds' dots."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

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
