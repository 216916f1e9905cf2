"""The designed corpus: exact probabilities normalise, closed forms match samples, latents stay aligned."""

import itertools
import math

import numpy as np
import pytest

from companion.data import CorruptDataError
from companion.vhcr.corpora import load_dialogue_data
from companion.vhcr.designed import DESIGN, DesignedCorpus
from companion.vhcr.text import tokenize

TINY = DesignedCorpus(topics=2, acts=2, turns=2, words=2, topic_words=3, act_words=1, topic_share=0.4,
                      conversations=(40, 10, 10))


def _all_turns(corpus):
    """Every possible turn of ``corpus`` as word ids (marker first, then any later words)."""
    later = range(corpus.acts, len(corpus.vocabulary))
    return [(marker, *rest) for marker in range(corpus.acts)
            for rest in itertools.product(later, repeat=corpus.words - 1)]


def test_conditional_likelihood_sums_to_one_over_every_reply():
    turns = _all_turns(TINY)
    first = turns[3]
    total = math.fsum(math.exp(TINY.log_likelihood(np.array([[first, second]]))[0]) for second in turns)
    assert total == pytest.approx(1.0, abs=1e-12)


def test_sampled_turn_frequencies_match_the_exact_probabilities():
    words, _, _ = TINY.sample(40000, np.random.default_rng(0))
    turns = _all_turns(TINY)
    observed = np.array([np.mean([tuple(c[0]) == turn for c in words]) for turn in turns[:4]])
    per_topic = TINY.turn_log_likelihoods(np.array([[turn, turn] for turn in turns[:4]]))[:, 0]
    expected = np.exp(per_topic).mean(axis=1)  # uniform topics
    assert observed == pytest.approx(expected, abs=4 * math.sqrt(0.25 / 40000))


def test_closed_form_entropy_matches_monte_carlo():
    estimates = DESIGN.monte_carlo_entropies(samples=4000, seed=1)
    exact = DESIGN.entropy_per_word_given_topic()
    assert estimates["given topic"] == pytest.approx(exact, abs=4 * estimates["given topic se"])
    # knowing the topic beats inferring it from the first turn, which beats ignoring the other turns
    assert estimates["given topic"] < estimates["best"] < estimates["without context"]


def test_topic_posterior_is_a_distribution_that_finds_the_topic():
    words, topics, _ = DESIGN.sample(500, np.random.default_rng(2))
    posterior = DESIGN.topic_posterior(words)
    assert posterior.sum(axis=1) == pytest.approx(np.ones(500))
    assert (posterior.argmax(axis=1) == topics).mean() > 0.9


def test_text_round_trips_through_the_tokeniser_and_bad_text_is_named():
    words, _, _ = DESIGN.sample(3, np.random.default_rng(3))
    tokens = [[tokenize(turn) for turn in conversation] for conversation in DESIGN.to_text(words)]
    assert np.array_equal(DESIGN.word_ids(tokens), words)
    with pytest.raises(CorruptDataError, match="'hello' is not a word"):
        DESIGN.word_ids([[["hello"] * DESIGN.words] * DESIGN.turns])
    with pytest.raises(CorruptDataError, match="cut or padded"):
        DESIGN.word_ids([conversation[:-1] for conversation in tokens])


def test_parameters_out_of_range_are_refused():
    with pytest.raises(ValueError, match="topic_share"):
        DesignedCorpus(topic_share=1.0)
    with pytest.raises(ValueError, match="turns"):
        DesignedCorpus(turns=1)


def test_loaded_splits_keep_each_conversations_topic():
    data = load_dialogue_data("designed", max_vocab_size=1000, min_count=1, max_turns=10, max_tokens=30,
                              train_conversations=200, seed=4)
    assert len(data.latents["train"]) == len(data.train) == 200
    assert len(data.latents["test"]) == len(data.test) == DESIGN.conversations[2]
    found = DESIGN.topic_posterior(DESIGN.word_ids(data.test_tokens)).argmax(axis=1)
    assert (found == data.latents["test"]).mean() > 0.9  # a misaligned topic would score 1/K
    again = load_dialogue_data("designed", max_vocab_size=1000, min_count=1, max_turns=10, max_tokens=30,
                               train_conversations=200, seed=4)
    assert np.array_equal(again.latents["test"], data.latents["test"])


def test_a_topic_code_pays_only_when_utterance_drop_hides_enough_turns():
    entropies = DESIGN.monte_carlo_entropies(samples=3000, seed=5)
    balances = [DESIGN.topic_code_balance(rate, samples=3000, seed=5) for rate in (0.0, 0.5, 0.999)]
    # without drop the gain is I(k; x_2…T | x_1), the gap between inferring the topic and being told it
    gap = (entropies["best"] - entropies["given topic"]) * DESIGN.target_words
    assert balances[0]["gain"] == pytest.approx(gap, rel=1e-9)
    # with every turn hidden it is the gap between reading no other turn and being told the topic
    blind = (entropies["without context"] - entropies["given topic"]) * DESIGN.target_words
    assert balances[2]["gain"] == pytest.approx(blind, rel=0.01)
    assert balances[0]["gain"] < balances[1]["gain"] < balances[2]["gain"]
    assert balances[0]["gain"] < balances[0]["cost"] <= math.log(DESIGN.topics)
