"""Likelihood estimation, decoding and embedding metrics of the VHCR chapter."""

import math

import numpy as np
import pytest
import torch

from companion.data import DataNotFoundError
from companion.vhcr.evaluation import (
    average_score, embedding_metrics, evaluate_likelihood, extrema_score, extrema_vector, greedy_score,
    load_word_vectors, log_mean_exp,
)
from companion.vhcr.generation import beam_search, greedy_decode, sample_decode
from companion.vhcr.models import HRED, VHCR, VHRED
from companion.vhcr.text import EOS_ID, PAD_ID, SOS_ID, ConversationTensors

SIZES = dict(vocabulary_size=15, embedding_size=8, encoder_size=6, context_size=10, decoder_size=7)


def _conversations(count=6):
    generator = torch.Generator().manual_seed(2)
    lengths = torch.randint(2, 6, (count, 4), generator=generator)
    lengths[::2, 3] = 0
    tokens = torch.randint(4, 15, (count, 4, 5), generator=generator)
    mask = torch.arange(5) < lengths.unsqueeze(-1)
    tokens = torch.where(mask, tokens, torch.full_like(tokens, PAD_ID))
    tokens[mask & (torch.arange(5) == lengths.unsqueeze(-1) - 1)] = EOS_ID
    return ConversationTensors(tokens, lengths)


def test_log_mean_exp_is_stable_and_exact():
    values = torch.tensor([[1000.0, 1000.0], [0.0, math.log(3.0)]])
    assert torch.allclose(log_mean_exp(values, dim=1), torch.tensor([1000.0, math.log(2.0)]))


def test_hred_likelihood_is_exact_reconstruction():
    torch.manual_seed(0)
    model = HRED(**SIZES)
    data = _conversations()
    result = evaluate_likelihood(model, data, samples=100)
    assert result["importance_samples"] == 1
    assert result["nll_per_word"] == pytest.approx(result["reconstruction_per_word"])
    expected = model.eval()(data.tokens, data.turn_lengths).reconstruction.sum().item() / data.target_words()
    assert result["nll_per_word"] == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("model_class", [VHRED, VHCR])
def test_importance_sampled_nll_is_below_the_bound_and_stable_in_k(model_class):
    torch.manual_seed(0)
    model = model_class(**SIZES, latent_size=3)
    data = _conversations(4)
    torch.manual_seed(1)
    k100 = evaluate_likelihood(model, data, samples=100, batch_size=100)
    torch.manual_seed(2)
    k300 = evaluate_likelihood(model, data, samples=300, batch_size=300)
    assert k100["importance_samples"] == 100
    assert k100["nll_per_word"] <= k100["negative_elbo_per_word"]
    assert k300["nll_per_word"] <= k300["negative_elbo_per_word"]
    assert k300["nll_per_word"] == pytest.approx(k100["nll_per_word"], rel=0.01)
    assert k100["negative_elbo_per_word"] == pytest.approx(
        k100["reconstruction_per_word"] + k100["kl_utterance_per_word"] + k100["kl_conversation_per_word"])


def _decoder_and_starts(count=5):
    torch.manual_seed(3)
    model = HRED(**SIZES)
    return model.decoder, torch.randn(count, SIZES["decoder_size"]) * 2


def _sequence_log_prob(decoder, start, sequence):
    """log p(sequence up to and including <eos>) under teacher forcing."""
    total, hidden, token = 0.0, start.unsqueeze(0), torch.tensor([SOS_ID])
    for word in sequence.tolist():
        if word == PAD_ID:
            break
        log_probs, hidden = decoder.step(token, hidden)
        total += log_probs[0, word].item()
        token = torch.tensor([word])
    return total


def test_beam_of_one_is_greedy_and_wider_beams_score_higher():
    decoder, starts = _decoder_and_starts()
    greedy = greedy_decode(decoder, starts, max_length=8)
    assert torch.equal(beam_search(decoder, starts, beam_size=1, max_length=8), greedy)
    wide = beam_search(decoder, starts, beam_size=4, max_length=8)
    for start, g, w in zip(starts, greedy, wide):
        assert _sequence_log_prob(decoder, start, w) >= _sequence_log_prob(decoder, start, g) - 1e-5


def test_decoded_replies_pad_after_eos_and_sampling_is_seeded():
    decoder, starts = _decoder_and_starts()
    first = sample_decode(decoder, starts, 12, generator=torch.Generator().manual_seed(0))
    again = sample_decode(decoder, starts, 12, generator=torch.Generator().manual_seed(0))
    assert torch.equal(first, again)
    for row in first.tolist():
        if EOS_ID in row:
            assert all(token == PAD_ID for token in row[row.index(EOS_ID) + 1:])


def test_embedding_scores_known_answers():
    a, b = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    assert average_score(a, b) == pytest.approx(0.0)
    assert average_score(a, a) == pytest.approx(1.0)
    assert extrema_vector(np.array([[1.0, -3.0], [-2.0, 2.0]])).tolist() == [-2.0, -3.0]
    assert extrema_score(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 1.0]])) == pytest.approx(1.0)
    hypothesis, reference = np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([[1.0, 0.0]])
    # hypothesis→reference: (1 + 0) / 2; reference→hypothesis: 1; symmetric mean 0.75
    assert greedy_score(hypothesis, reference) == pytest.approx(0.75)
    assert greedy_score(reference, hypothesis) == pytest.approx(0.75)


def test_embedding_metrics_skip_pairs_without_known_words():
    vectors = {"hi": np.array([1.0, 0.0]), "yo": np.array([0.8, 0.6])}
    result = embedding_metrics([["hi"], ["zzz"]], [["hi", "yo"], ["hi"]], vectors)
    assert result["pairs"] == 1
    assert result["greedy"] == pytest.approx((0.9 + 1.0) / 2)


def test_word_vectors_from_text_and_word2vec_binary(tmp_path):
    (tmp_path / "glove.txt").write_text("hi 1 0 0.5\nyo 0 1 2\n")
    (tmp_path / "w2v.txt").write_text("2 3\nhi 1 0 0.5\nyo 0 1 2\n")
    binary = tmp_path / "w2v.bin"
    binary.write_bytes(b"2 3\n" + b"hi " + np.array([1, 0, 0.5], np.float32).tobytes()
                       + b"\nyo " + np.array([0, 1, 2], np.float32).tobytes())
    for name in ("glove.txt", "w2v.txt", "w2v.bin"):
        vectors = load_word_vectors(tmp_path / name)
        assert sorted(vectors) == ["hi", "yo"] and vectors["yo"].tolist() == [0.0, 1.0, 2.0]
    assert list(load_word_vectors(binary, words=["yo"])) == ["yo"]
    with pytest.raises(DataNotFoundError):
        load_word_vectors(tmp_path / "missing.bin")


def test_probe_reads_a_latent_that_is_there_and_not_one_that_is_not():
    from companion.vhcr.evaluation import probe_accuracy

    rng = np.random.default_rng(0)
    labels = rng.integers(4, size=800)
    carrying = rng.normal(size=(800, 3)) + 3.0 * np.eye(4)[labels][:, :3]  # three axes name labels 0-2
    noise = rng.normal(size=(800, 3))
    assert probe_accuracy(carrying[:600], labels[:600], carrying[600:], labels[600:]) > 0.9
    assert probe_accuracy(noise[:600], labels[:600], noise[600:], labels[600:]) == pytest.approx(0.25, abs=0.1)
