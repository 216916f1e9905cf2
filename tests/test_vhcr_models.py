"""HRED, VHRED, VHCR: padding invariance, ELBO decomposition, utterance and word drop."""

import math

import pytest
import torch
import torch.nn.functional as F

import companion.vhcr.models as models
from companion.training import TrainState
from companion.vhcr.experiments import annealed_loss
from companion.vhcr.modules import drop_utterances, utterance_drop_mask, word_drop
from companion.vhcr.text import PAD_ID, SOS_ID, UNK_ID

VOCABULARY = 23
SIZES = dict(vocabulary_size=VOCABULARY, embedding_size=8, encoder_size=6, context_size=10, decoder_size=7)


def _models(**options):
    torch.manual_seed(0)
    return {
        "hred": models.HRED(**SIZES),
        "vhred": models.VHRED(**SIZES, latent_size=3, **options.get("vhred", {})),
        "vhcr": models.VHCR(**SIZES, latent_size=3, conversation_latent_size=4, **options.get("vhcr", {})),
    }


def _batch():
    """Two conversations: 4 turns and 3 turns, turns of 1 to 5 tokens (last one <eos> = 3)."""
    generator = torch.Generator().manual_seed(1)
    lengths = torch.tensor([[3, 5, 2, 4], [2, 1, 3, 0]])
    tokens = torch.full((2, 4, 5), PAD_ID)
    for b in range(2):
        for t in range(4):
            n = int(lengths[b, t])
            if n:
                tokens[b, t, :n - 1] = torch.randint(4, VOCABULARY, (n - 1,), generator=generator)
                tokens[b, t, n - 1] = 3
    return tokens, lengths


def _terms_dict(terms):
    return {name: getattr(terms, name) for name in
            ("reconstruction", "kl_conversation", "kl_utterance", "log_prior", "log_posterior", "words")}


@pytest.fixture
def posterior_means(monkeypatch):
    """Latents at their means, so the models are deterministic."""
    monkeypatch.setattr(models, "reparameterize", lambda mean, var: mean)


@pytest.mark.parametrize("name", ["hred", "vhred", "vhcr"])
def test_padding_changes_no_term(name, posterior_means):
    model = _models()[name].eval()
    tokens, lengths = _batch()
    padded_tokens = F.pad(tokens, (0, 6, 0, 3), value=PAD_ID)
    padded_lengths = F.pad(lengths, (0, 3))
    plain, padded = _terms_dict(model(tokens, lengths)), _terms_dict(model(padded_tokens, padded_lengths))
    alone = _terms_dict(model(tokens[1:, :3, :3], lengths[1:, :3]))
    for key in plain:
        assert torch.allclose(plain[key], padded[key], atol=1e-5), key
        assert torch.allclose(plain[key][1:], alone[key], atol=1e-5), key


def test_words_count_every_target_token():
    terms = _models()["hred"](*_batch())
    assert terms.words.tolist() == [5 + 2 + 4, 1 + 3]


def test_uniform_decoder_gives_log_vocabulary_per_word():
    model = _models()["hred"].eval()
    torch.nn.init.zeros_(model.decoder.output.weight)
    torch.nn.init.zeros_(model.decoder.output.bias)
    terms = model(*_batch())
    assert torch.allclose(terms.reconstruction / terms.words, torch.full((2,), math.log(VOCABULARY)))


def test_hred_has_no_latent_terms():
    terms = _models()["hred"](*_batch())
    for value in (terms.kl_conversation, terms.kl_utterance, terms.log_prior, terms.log_posterior):
        assert value.abs().sum() == 0


@pytest.mark.parametrize("name", ["vhred", "vhcr"])
def test_negative_elbo_is_reconstruction_plus_kls_and_matches_the_sampled_bound(name):
    model = _models()[name].eval()
    tokens, lengths = _batch()
    copies = 2000
    with torch.no_grad():
        terms = model(tokens[:1].expand(copies, -1, -1), lengths[:1].expand(copies, -1))
    assert torch.allclose(terms.negative_elbo, terms.reconstruction + terms.kl_conversation + terms.kl_utterance)
    # E_q[log q(z|x) - log p(z)] = KL, so −log w and the closed-form bound agree on average
    difference = (-terms.log_weight - terms.negative_elbo)
    assert difference.mean().abs().item() < 4 * difference.std().item() / math.sqrt(copies)
    if name == "vhred":
        assert terms.kl_conversation.abs().sum() == 0


def test_training_loss_at_full_weight_is_negative_elbo_per_word(posterior_means):
    model = _models()["vhcr"].eval()
    batch = _batch()
    terms = model(*batch)
    state = TrainState(model=model, optimizer=torch.optim.SGD(model.parameters(), lr=0.1), step=10)
    full = annealed_loss(annealing_steps=10)(model, batch, state)
    assert full["kl_weight"].item() == 1.0
    assert full["loss"].item() == pytest.approx((terms.negative_elbo.sum() / terms.words.sum()).item(), rel=1e-5)
    state.step = 0
    assert annealed_loss(10)(model, batch, state)["loss"].item() == pytest.approx(
        (terms.reconstruction.sum() / terms.words.sum()).item(), rel=1e-5)


def test_drop_utterances_replaces_exactly_the_chosen_turns():
    encodings = torch.randn(3, 5, 4)
    replacement = torch.full((4,), 7.0)
    dropped = torch.tensor([False, True, False, False, True])
    result = drop_utterances(encodings, dropped, replacement)
    assert torch.equal(result[:, [1, 4]], replacement.expand(3, 2, 4))
    assert torch.equal(result[:, [0, 2, 3]], encodings[:, [0, 2, 3]])
    per_conversation = torch.zeros(3, 5, dtype=torch.bool)
    per_conversation[2, 0] = True
    assert torch.equal(drop_utterances(encodings, per_conversation, replacement)[2, 0], replacement)
    assert torch.equal(drop_utterances(encodings, per_conversation, replacement)[:2], encodings[:2])


def test_utterance_drop_mask_rate():
    mask = utterance_drop_mask(100_000, 0.25, torch.Generator().manual_seed(0))
    assert mask.float().mean().item() == pytest.approx(0.25, abs=0.01)


def test_utterance_drop_acts_in_training_only(posterior_means):
    dropping = _models(vhcr={"utterance_drop": 0.9})["vhcr"]
    plain = _models()["vhcr"]
    batch = _batch()
    torch.manual_seed(0)
    assert torch.allclose(dropping.eval()(*batch).reconstruction, plain.eval()(*batch).reconstruction)
    torch.manual_seed(0)
    assert not torch.allclose(dropping.train()(*batch).reconstruction, plain.train()(*batch).reconstruction)


def test_utterance_drop_uses_the_learned_vector(posterior_means, monkeypatch):
    model = _models(vhcr={"utterance_drop": 0.5})["vhcr"].train()
    batch = _batch()
    monkeypatch.setattr(models, "utterance_drop_mask", lambda turns, p: torch.ones(turns, dtype=torch.bool))
    model(*batch).reconstruction.sum().backward()
    assert model.unknown_utterance.grad is not None and model.unknown_utterance.grad.abs().sum() > 0


def test_word_drop_keeps_sos_and_replaces_at_the_rate():
    inputs = torch.full((1000, 20), 9)
    inputs[:, 0] = SOS_ID
    dropped = word_drop(inputs, 0.25, torch.Generator().manual_seed(0))
    assert torch.equal(dropped[:, 0], inputs[:, 0])
    assert set(dropped.unique().tolist()) == {SOS_ID, 9, UNK_ID}
    assert (dropped[:, 1:] == UNK_ID).float().mean().item() == pytest.approx(0.25, abs=0.01)
    assert torch.equal(word_drop(inputs, 0.0), inputs)


def test_reply_state_shapes_and_fixed_conversation_latent(posterior_means):
    tokens, lengths = _batch()
    for model in _models().values():
        assert model.eval().reply_state(tokens, lengths).shape == (2, SIZES["decoder_size"])
    vhcr = _models()["vhcr"].eval()
    z = vhcr.sample_conversation_latent(tokens, lengths)
    assert z.shape == (2, 4)
    assert torch.allclose(vhcr.reply_state(tokens, lengths, z), vhcr.reply_state(tokens, lengths))


def test_gradients_reach_every_parameter():
    for name, model in _models(vhcr={"utterance_drop": 0.0}).items():
        terms = model.train()(*_batch())
        terms.negative_elbo.sum().backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None and n != "unknown_utterance"]
        assert not missing, (name, missing)


def test_latent_summary_reads_the_states_the_models_reply_from(posterior_means):
    tokens, lengths = _batch()
    trained = _models()
    hred = trained["hred"].eval().latent_summary(tokens, lengths)
    assert set(hred) == {"context"}
    assert hred["context"].shape == (2, SIZES["context_size"])
    vhred = trained["vhred"].eval()
    summary = vhred.latent_summary(tokens, lengths)
    assert set(summary) == {"context", "z_utt", "z_utt mean"}
    # with latents at their means, a draw is the mean
    assert torch.allclose(summary["z_utt"], summary["z_utt mean"])
    assert torch.allclose(summary["context"], vhred.reply_features(
        vhred.encoder.encode_turns(tokens, lengths), models.conversation_lengths(lengths), None)[:, :10])
    vhcr = trained["vhcr"].eval()
    summary = vhcr.latent_summary(tokens, lengths)
    assert summary["z_conv mean"].shape == (2, 4)
    assert torch.allclose(summary["z_conv mean"], vhcr.sample_conversation_latent(tokens, lengths))
    # z_t averaged over each conversation's predicted turns only (3 and 2 of them)
    encodings = vhcr.encoder.encode_turns(tokens, lengths)
    targets = lengths[:, 1:] > 0
    terms = vhcr.latent_terms(encodings, models.conversation_lengths(lengths), targets, targets.nonzero()[:, 0])
    assert torch.allclose(summary["z_utt mean"][0], terms["z_utt mean"][:3].mean(0))
    assert torch.allclose(summary["z_utt mean"][1], terms["z_utt mean"][3:].mean(0))
