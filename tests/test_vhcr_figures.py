"""The VHCR chapter's model figures draw each model's variables and utterance drop's dropped turns."""

import matplotlib

matplotlib.use("Agg")

from matplotlib.patches import Circle, Rectangle  # noqa: E402

from companion.vhcr import figures  # noqa: E402


def _latents(ax):
    return [patch for patch in ax.patches if isinstance(patch, Circle) and patch.get_facecolor()[:3] == (1, 1, 1)]


def test_each_model_draws_its_own_latent_variables():
    hred, vhred, vhcr = figures.graphical_models(turns=4).axes
    assert [ax.get_title() for ax in (hred, vhred, vhcr)] == ["HRED", "VHRED", "VHCR"]
    assert len(_latents(hred)) == 0  # HRED has none
    assert len(_latents(vhred)) == 4  # a z_t per turn
    assert len(_latents(vhcr)) == 5  # and z_conv
    assert any("z_{conv}" in text.get_text() for text in vhcr.texts)
    assert not any("z_{conv}" in text.get_text() for text in vhred.texts)


def test_utterance_drop_replaces_exactly_the_dropped_turns():
    (ax,) = figures.utterance_drop(turns=5, dropped=(0, 3)).axes
    hatched = [patch for patch in ax.patches if isinstance(patch, Rectangle) and patch.get_hatch()]
    assert len(hatched) == 2
    assert sum("h_{unk}" in text.get_text() for text in ax.texts) == 2
    assert sum(text.get_text().startswith("enc") for text in ax.texts) == 3
