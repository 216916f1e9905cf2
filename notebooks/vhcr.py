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
# # VHCR: a hierarchical latent structure for conversations

# %% tags=["remove-input"]
# the claims this chapter decides, as the summary page shows them (from the recorded runs)
from IPython.display import HTML

from companion.summary import key_results_html

HTML(key_results_html("vhcr"))

# %% [markdown]
# A conversation model assigns a probability to a whole conversation $x_1, \dots, x_n$ (each
# $x_t$ a turn of words). **HRED** {cite}`serban2016hred` encodes every turn with a GRU, runs a
# *context* GRU over the turn encodings and decodes the next turn from the context state.
# **VHRED** {cite}`serban2017vhred` adds a Gaussian latent variable $z_t$ per turn, trained as a
# variational autoencoder {cite}`kingma2014vae`, hoping that $z_t$ captures what the reply is
# about. In practice the KL term of its ELBO goes to zero: the decoder, an autoregressive RNN that
# also sees the context, models the data without the latent, and the latent becomes
# uninformative ("degeneration", the same posterior collapse that {cite}`bowman2016continuous`
# fought with KL annealing and word drop).
#
# **VHCR** {cite}`park2018vhcr` attacks the two causes its authors name: a diagonal-Gaussian
# posterior codes information inefficiently, and the autoregressive context is too strong. It
# adds a *conversation* latent $z_{conv} \sim \mathcal N(0, I)$ shared by every turn, on which the
# context GRU, the per-turn latents and the decoder all depend, and it regularises the context
# with **utterance drop**: during training, the encodings of randomly chosen turns are replaced
# by one learned vector $h_{unk}$, so the model cannot rely on the exact history and must use
# $z_{conv}$. Its training objective is the ELBO
#
# $$
# \begin{aligned}
# \log p(x) \ge{} & \mathbb E_q\Big[\sum_{t} \log p(x_t \mid x_{<t}, z_t, z_{conv})\Big]
# - \mathrm{KL}\big(q(z_{conv} \mid x)\,\|\,p(z_{conv})\big) \\
# & - \sum_t \mathbb E_q\,\mathrm{KL}\big(q(z_t \mid x_{\le t}, z_{conv})\,\|\,p(z_t \mid x_{<t}, z_{conv})\big),
# \end{aligned}
# $$
#
# with both KL terms in closed form and multiplied by a weight β that rises linearly from 0 to 1
# (KL annealing). This chapter trains HRED, VHRED (with and without word drop) and VHCR (with and
# without utterance drop) and follows each latent's KL over training. Because no real corpus at
# CPU budget can decide the paper's mechanism, it also tests it on a *designed* corpus whose
# conversation-level latent and best achievable NLL are known (near the end of the chapter).
#
# *The code behind this chapter:* {py:class}`~companion.vhcr.models.HRED`,
# {py:class}`~companion.vhcr.models.VHRED` and {py:class}`~companion.vhcr.models.VHCR` (the
# models), {py:func}`~companion.vhcr.kl.gaussian_kl` and {py:func}`~companion.vhcr.kl.kl_weight`
# (the KL terms and their annealing), {py:func}`~companion.vhcr.experiments.train_variant`
# (training with {py:func}`~companion.training.train`),
# {py:func}`~companion.vhcr.evaluation.evaluate_likelihood` (NLL by importance sampling),
# {py:class}`~companion.vhcr.designed.DesignedCorpus` (the designed corpus and its exact
# probabilities) and
# {py:data}`~companion.vhcr.evidence.CLAIMS` with {py:func}`~companion.vhcr.evidence.findings`
# (the paper's claims and what the runs say about them, decided by
# {py:func}`~companion.evidence.decide`).

# %% tags=["parameters", "hide-cell"]
profile = "cpu"
seed = 0
device = "auto"
data_dir = None
models = None
dataset = None
train_conversations = None
eval_conversations = None
max_vocab_size = None
min_count = None
max_turns = None
max_tokens = None
embedding_size = None
encoder_size = None
context_size = None
decoder_size = None
latent_size = None
batch_size = None
learning_rate = None
epochs = None
kl_annealing_steps = None
word_drop = None
utterance_drop = None
grad_clip = None
importance_samples = None
decoding = None
beam_size = None
replies = None
word_vectors = None

# %% tags=["hide-input"]
from companion.chapters import chapter_settings

params = chapter_settings("vhcr", globals())

import time

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import Markdown, display

from companion.config import resolve_device
from companion.display import use_book_display
from companion.evidence import decide, decision_frame
from companion.paper import reported
from companion.reproduce.plan import planned_keys
from companion.results import load_runs, record_run, with_this_run
from companion.tolerance import glue_result, show
from companion.training import use_threads
from companion.vhcr import LABELS, evidence, experiments
from companion.vhcr.corpora import load_dialogue_data
from companion.vhcr.evaluation import load_word_vectors

use_book_display()
torch_device = resolve_device(params.device)
# Small GRUs gain little from a second thread, and threads that share busy cores can slow each
# other down badly: on a CPU the chapter uses one.
use_threads(1 if torch_device.type == "cpu" else 0)
pd.set_option("display.float_format", "{:.4g}".format)
pd.set_option("display.max_colwidth", 90)
started = time.perf_counter()

# %% [markdown]
# ## The three models
#
# {numref}`fig-vhcr-models` draws what each model assumes generates a conversation, and
# {numref}`fig-utterance-drop` what utterance drop does to one training conversation.

# %% tags=["remove-input"]
from myst_nb import glue

from companion.vhcr import figures

for name, figure in [("vhcr_graphical_models", figures.graphical_models()),
                     ("vhcr_utterance_drop", figures.utterance_drop())]:
    glue(name, figure, display=False)
    plt.close(figure)

# %% [markdown]
# ```{glue:figure} vhcr_graphical_models
# :name: fig-vhcr-models
#
# HRED, VHRED and VHCR as generative models over three turns. Squares: the context RNN's
# state $h_t$, a deterministic summary of the turns before $t$ (dashed: the previous turn is read
# into it); grey: the observed turns $x_t$; open circles: latent variables. VHRED adds $z_t$
# per turn; VHCR adds $z_{conv}$ (purple), on which the context and every $z_t$ depend (the
# decoder reads it too; those edges are left out for legibility).
# ```
#
# ```{glue:figure} vhcr_utterance_drop
# :name: fig-utterance-drop
#
# Utterance drop during training: the context RNN reads each turn's encoding, except at
# randomly chosen turns (here 2 and 5, each dropped with probability `utterance_drop`), where it
# reads one learned vector $h_{unk}$ instead. The decoder can no longer count on the exact
# history, which leaves $z_{conv}$ something to carry.
# ```

# %% [markdown]
# ## Data
#
# The default corpus is the Chit-Chat Challenge {cite}`chitchat2018`: open-domain conversations
# between two people, shipped inside a PyPI package. One sender's consecutive messages form a
# turn; conversations with fewer than 3 turns are dropped and the rest are split 80/10/10 by a
# seeded shuffle. Text is cleaned and tokenised as in the authors' code, turns are cut to 29
# words plus `<eos>` and conversations to their first 10 turns; the vocabulary holds the words seen
# at least `min_count` times in the training split. `profile="paper"` reads Cornell
# Movie-Dialogs {cite}`danescu2011cornell` (or, with `dataset="ubuntu"`, the Ubuntu Dialogue
# Corpus {cite}`lowe2015ubuntu`) from their official files.

# %% tags=["full-width"]
data = load_dialogue_data(
    params.dataset, max_vocab_size=params.max_vocab_size, min_count=params.min_count,
    max_turns=params.max_turns, max_tokens=params.max_tokens,
    train_conversations=params.train_conversations, data_dir=params.data_dir, seed=params.seed,
)
test = experiments.evaluation_conversations(data, params.eval_conversations)
pd.Series({**data.summary(), "conversations evaluated": len(test)}, name=params.dataset).to_frame()

# %% [markdown]
# A test conversation as the models see it (unknown words are `<unk>`; we show the one with
# the fewest unknown words among those with more than four turns):

# %% tags=["full-width"]
example = experiments.readable_conversation(data.test, context_turns=4)
experiments.context_table(data.test, data.vocabulary, conversation=example, context_turns=4)

# %% [markdown]
# ## Training
#
# Every model is trained with the book's shared loop on the negative ELBO per word (for HRED,
# the cross-entropy), with Adam, gradient-norm clipping and β annealed linearly over
# `kl_annealing_steps` optimiser steps. VHRED + word drop replaces each decoder input word by
# `<unk>` with probability `word_drop`; VHCR + utterance drop replaces each turn's encoding with
# $h_{unk}$ with probability `utterance_drop`, in training only.
#
# *Checked on other machines.* Numbers that come out of training differ slightly from one CPU to
# another (the vector instructions in use decide the order of floating-point sums, and training
# amplifies the difference), so each such result is shown with `show(…, atol=…)` or
# `glue_result(…, atol=…)`: the tolerance within which `make test` requires a re-run on any
# machine to agree with the numbers printed here — three times the largest change we measured across
# CPU kernels (see {doc}`../reproduce`). Everything else is compared exactly.

# %% tags=["full-width"]
trained = {variant: experiments.train_variant(variant, data, params, torch_device) for variant in params.models}
show(pd.DataFrame({
    LABELS[variant]: run.history.epochs.iloc[-1][["reconstruction", "kl_utterance", "kl_conversation"]]
    for variant, run in trained.items()
}).T.rename(columns={"reconstruction": "train reconstruction / word", "kl_utterance": "train KL z_utt / word",
                     "kl_conversation": "train KL z_conv / word"}).astype(float).round(4),
     atol=1e-4, columns={"train reconstruction / word": 1e-3})  # one shown digit: nothing moved

# %% [markdown]
# ## Degeneration: the KL term over training
#
# The KL per word of a latent measures how much information about the conversation the model
# puts into it; zero means the latent is ignored. Curves are rolling means over 10 steps of the
# training batches; the dashed line is β.

# %% mystnb={"figure": {"caption": "KL per word of each latent over the training steps of this run (rolling mean over 10 batches; dashed: \u03b2).", "name": "fig-vhcr-kl-training"}}
history = experiments.kl_history(trained)
variational = [LABELS[v] for v in params.models if v != "hred"]
if variational:
    fig = experiments.plot_kl_over_training(history, variational)
    plt.show()
else:
    print("No KL to follow: models holds no latent-variable model (vhred, vhred_wd, vhcr or vhcr_ud).")

# %%
vhcr_run = next((LABELS[v] for v in ("vhcr_ud", "vhcr") if v in trained), None)
if vhcr_run is not None:
    conversation_kl = history.loc[history["model"] == vhcr_run, "kl_conversation"]
    glue_result("kl_conv_peak", conversation_kl.max(), precision=".3f", atol=1e-3)
    glue_result("kl_conv_peak_step", int(history.loc[conversation_kl.idxmax(), "step"]),
                precision="d", atol=0)
    glue_result("kl_conv_last", conversation_kl.iloc[-1], precision=".1e", atol=1e-7)

# %% [markdown]
# In the default run the picture of the paper shows only at the start. While β is small, the
# conversation latent of VHCR + utterance drop carries up to {glue:text}`kl_conv_peak:.3f` nats
# per word (step {glue:text}`kl_conv_peak_step`), more than any utterance latent; as β approaches 1
# every KL falls by orders of magnitude, z_conv's to {glue:text}`kl_conv_last:.1e` nats per word at
# the last step. VHCR's utterance latents end a few times above VHRED's, but all latents are
# essentially unused. **At CPU scale (600 conversations, 76 steps, 128-unit GRUs) VHCR degenerates
# as well, so these runs cannot test the paper's claim that its KL stays informative: the claim is
# not tested at this scale** (the verdicts under *Recorded runs* at the end). The paper
# trains 1000-unit GRUs for 30 epochs on about 67,000 Cornell conversations. A plausible reading
# of the small run: a decoder still learning basic word statistics gains more from them than from
# a latent whose information costs KL.

# %% [markdown]
# ## Test likelihood and KL
#
# NLL per word is exact for HRED and, for the latent-variable models, estimated by importance
# sampling with `importance_samples` posterior samples per conversation
# ($\log p(x) \approx \log \frac1K \sum_k p(x, z_k)/q(z_k \mid x)$, {cite}`burda2016iwae`), which is
# never above the one-sample bound −ELBO shown beside it. KL columns are per word, for each latent.

# %% tags=["full-width"]
table = experiments.evaluation_table(trained, test, params.importance_samples, params.seed)
ROUNDING = {"NLL": 3, "-ELBO": 3, "KL": 4, "KL z_utt": 4, "KL z_conv": 4}
show(table.round(ROUNDING), atol=1e-4, columns={"NLL": 1e-3, "-ELBO": 1e-3})  # one shown digit

# %% [markdown]
# On the designed corpus (`dataset="designed"`, see the last section), whose conversations' topic is
# known, a run also measures the generator's exact NLL on the same test conversations and how much
# of the topic each representation carries: the held-out accuracy of a logistic-regression probe
# fitted on the training conversations.

# %% tags=["full-width"]
if data.latents is not None:
    known_latent = experiments.known_latent_table(trained, data, params.eval_conversations, params.seed)
    show(known_latent.round(3), atol=0.02, columns={"generator NLL": 0, "probe chance": 0, "probe ceiling": 0})
else:
    known_latent = None
    print(f"The conversation latents of {params.dataset} are unknown: no probe.")

# %% [markdown]
# ## Utterance-drop ablation
#
# The same VHCR trained with and without utterance drop: how much each latent carries on the
# test conversations, and the likelihood.

# %%
ablation = [LABELS[v] for v in ("vhcr", "vhcr_ud") if v in trained]
if len(ablation) == 2:
    glue_result("kl_conv_vhcr", table.loc["VHCR", "KL z_conv"], precision=".1e", atol=1e-7)
    glue_result("kl_conv_vhcr_ud", table.loc["VHCR + utterance drop", "KL z_conv"], precision=".1e",
                atol=1e-7)
    glue_result("nll_vhcr", table.loc["VHCR", "NLL"], precision=".3f", atol=1e-3)
    glue_result("nll_vhcr_ud", table.loc["VHCR + utterance drop", "NLL"], precision=".3f", atol=1e-3)

# %% mystnb={"figure": {"caption": "Utterance-drop ablation: the test KL per word of each latent and the test NLL of VHCR with and without utterance drop.", "name": "fig-vhcr-ablation"}}
if len(ablation) == 2:
    fig = experiments.plot_ablation(table, ablation)
    plt.show()
else:
    print("The ablation needs both 'vhcr' and 'vhcr_ud' in models.")

# %% [markdown]
# At this scale utterance drop makes no visible difference: KL of z_conv per word
# {glue:text}`kl_conv_vhcr:.1e` without and {glue:text}`kl_conv_vhcr_ud:.1e` with it, NLL
# {glue:text}`nll_vhcr:.3f` and {glue:text}`nll_vhcr_ud:.3f`. The records below include runs with
# other seeds and a drop rate of 0.5.

# %% [markdown]
# ## Beside the paper
#
# The paper reports NLL and KL per word on Cornell and Ubuntu for every model, but the only
# numbers we could verify from a public source are Cornell's VHCR + utterance drop (NLL 4.026,
# KL 0.503, quoted from the paper's Table 1 in an issue on the authors' repository; a user who
# re-ran the authors' code there measured NLL 4.651 and KL 1.715). Every other cell is "not
# available" (shown as —). Our default numbers come from a different, much smaller corpus and model, so
# only the pattern can be compared, not the values.

# %% tags=["full-width"]
paper_dataset = params.dataset if params.dataset in ("cornell", "ubuntu") else "cornell"
comparison = experiments.paper_comparison(table, reported("vhcr_reported"), params.dataset, paper_dataset)
show(comparison.round(4), atol=1e-4, columns={f"our NLL ({params.dataset})": 1e-3})

# %% [markdown]
# ## Replies with $z_{conv}$ fixed or resampled
#
# For the test conversation above, VHCR + utterance drop generates replies to its first four turns.
# In the left column one draw of $z_{conv} \sim q(z_{conv} \mid \text{context})$ is kept and only
# $z_t$ is redrawn from its prior; in the right column $z_{conv}$ is drawn afresh for every reply.
# Replies are decoded with `decoding` (greedy by default, as the authors' beam of width 1), so all
# their variety comes from the latents: identical replies mean the latents are not used. At CPU
# scale the decoder has learned little beyond a frequent opening and `<unk>`, and both columns
# agree with the collapsed KL above.

# %% tags=["full-width"]
generator_model = trained.get("vhcr_ud", trained.get("vhcr"))
if generator_model is not None:
    replies_table = experiments.reply_examples(
        generator_model.model, data.test, data.vocabulary, conversation=example, context_turns=4,
        replies=params.replies, decoding=params.decoding, beam_size=params.beam_size,
        max_length=params.max_tokens, seed=params.seed)
else:
    replies_table = pd.DataFrame({"note": ["no VHCR variant in models"]})
replies_table

# %% [markdown]
# ## Embedding metrics
#
# The paper also scores generated replies against the reference replies by the cosine
# similarity of word vectors (Average, Extrema and Greedy matching {cite}`liu2016hownot`) with
# word2vec GoogleNews vectors. The book ships no word vectors: pass a word2vec (`.bin` or text)
# or GloVe file as `word_vectors` to compute them; without one, the metric is not computed.

# %%
if params.word_vectors:
    vectors = load_word_vectors(params.word_vectors, words=data.vocabulary.words)
    embedding = experiments.embedding_table(trained, test, data.vocabulary, vectors, params.decoding,
                                            params.beam_size, params.max_tokens, params.seed)
else:
    embedding = None
    print("Embedding metrics not computed: no word-vector file was given (parameter word_vectors).")
embedding.round(3) if embedding is not None else None

# %% [markdown]
# ## What the CPU runs change, and what the authors' code does
#
# Besides the corpus (Chit-Chat rather than Cornell or Ubuntu) and the model sizes (embeddings
# 64, encoder GRU 64 per direction, context and decoder GRUs 128 and batch 32 by default, half
# those and batch 16 in `cpu-long`, against the authors' 500, 1000, 1000, 1000 and 80), the CPU
# profiles train at a larger learning rate with smaller latents, and our word drop draws per
# token. The authors' code also does things the paper does not say: its utterance drop hides the
# dropped turns from the posterior of $z_{conv}$ as well, and drops turns during evaluation too, so
# their test numbers of VHCR + utterance drop are measured with turns hidden; ours does neither.
# Each difference is stated, with the claims it bears on, in {ref}`errata-vhcr`.

# %% [markdown]
# (vhcr-evidence-cpu-long)=
# ## Evidence at cpu-long scale
#
# The default run above is sized for the book build and cannot decide the paper's claims. The
# `cpu-long` profile trains every model on all 2,757 Chit-Chat training conversations for 1,730
# optimiser steps (10 epochs of batches of 16, β annealed over the first 1,038 steps — the same
# 60% as the default run), with three seeds, and measures NLL (importance sampling, K = 100)
# and the KL per word of each latent on the first 100 test conversations. To afford that many
# steps its GRUs are half the default's (embeddings 32, encoder 32 per direction, context and
# decoder 64; latents 16). A pilot sized it: one step took 0.25–0.31 s of CPU time at these
# sizes against 0.72–0.80 s at the default sizes and batch 32, which would have allowed only
# about 700 steps; it put the grid of 12 trainings at about 1.8 hours of one core (the wall
# times the recorded runs took are printed below). These runs are
# made by `python -m companion.reproduce --profile cpu-long --chapters vhcr` and committed; the
# book only renders their records, and never pools them with
# the default runs. Everything below is read from those records and shown as it is.

# %%
from companion.reproduce.plan import coverage, coverage_sentence

all_long_runs = load_runs("vhcr", profile="cpu-long", keys=planned_keys("vhcr", "cpu-long"))
long_runs = evidence.of_dataset(all_long_runs, "chitchat")
display(Markdown(coverage_sentence(coverage("vhcr", "cpu-long"), "cpu-long")))
long_seeds = evidence.per_seed(long_runs)
evidence.seed_spread(long_seeds)

# %% [markdown]
# The table gives, per model, the number of seeds recorded and the mean, minimum and maximum
# over seeds of the test NLL and of each latent's KL per word. The same numbers with every seed
# drawn ({glue:text}`vhcr_seed_points_caption`; the KL on a log scale, where the claims are
# tested; dotted: the collapse threshold below):

# %%
from companion.plotting import SEED_POINTS_CAPTION

glue("vhcr_seed_points_caption", SEED_POINTS_CAPTION, display=False)

# %% mystnb={"figure": {"caption": "`cpu-long`: test NLL and each latent's KL per word, every seed (KL on a log scale; dotted: the collapse threshold).", "name": "fig-vhcr-seeds-cpu-long"}}
if len(long_seeds):
    evidence.plot_seeds(long_seeds)
    plt.show()
else:
    print("No cpu-long records yet: no seeds to draw.")

# %% [markdown]
# The KL of each latent over training (the mean per epoch of the training batches; line: mean
# over seeds, band: minimum to maximum) shows whether a latent collapses as β reaches 1; the
# dotted line is the collapse threshold used below, 0.01 nats per word (2% of the 0.503 the
# paper reports for VHCR).

# %% mystnb={"figure": {"caption": "`cpu-long`: each latent's KL per word over training (line: mean over seeds, band: minimum to maximum; dotted: the collapse threshold).", "name": "fig-vhcr-kl-history-cpu-long"}}
long_history = evidence.history(long_runs)
if len(long_history):
    fig = evidence.plot_history(long_history, [LABELS[v] for v in ("vhred", "vhcr", "vhcr_ud")])
    plt.show()
else:
    print("No cpu-long records yet: no training history to draw.")

# %% [markdown]
# The utterance-drop ablation, seed by seed: VHCR trained without and with utterance drop
# (rate 0.25, the paper's), the same seed giving both the same data split and initial weights.

# %%
evidence.ablation(long_seeds)

# %% [markdown]
# Each claim is decided seed by seed on the test set by the book's rule
# ({py:mod}`companion.evidence`; these are the very decisions the summary page shows). The effect
# is the per-seed log-ratio of the two KLs, tested by a paired t-test over seeds, its p adjusted by
# Holm's method over every test of the paper's two claims at this scale (Chit-Chat's and the
# designed corpus's settings below together): **reproduced** when the ratio is above 1 beyond the
# seed noise (adjusted p < 0.05, at least three seeds), **not reproduced** when it is below 1
# beyond the noise, **inconclusive** inside the noise or with fewer than three seeds. A ratio
# between two collapsed latents says nothing about whether the latent is used: when the latent
# that should stay in use carries less than 0.01 nats per word in every seed, the claim is **not
# tested at this scale**, with the KLs in the reason.

# %% tags=["full-width"]
long_decisions = decide(evidence.findings("cpu-long"))
chitchat_decisions = [d for d in long_decisions if d.finding.setting == "chitchat"]
decision_frame(chitchat_decisions)

# %%
display(Markdown(evidence.decision_text(chitchat_decisions)))

# %% [markdown]
# ### What keeps z_conv in use on Chit-Chat? A pilot
#
# Within the authors' settings, two changes could keep z_conv above the threshold at this budget:
# annealing β far longer relative to the run (the authors' README runs anneal over 250,000 steps,
# more than their runs take; ten times the run here, so β reaches only 0.1) and a smaller
# vocabulary (the 1,000 most frequent words, 88% of the training tokens, against 3,836), which
# leaves the decoder less to learn. The pilot (`benchmarks/vhcr_kl_pilot.py --record`) trains
# VHRED and VHCR + utterance drop with each, with seed 0, beside the cpu-long runs of that seed:

# %% tags=["full-width"]
kl_pilot = evidence.kl_pilot_table(load_runs("vhcr/kl-pilot"), long_runs)
display_pilot = kl_pilot.round(4)
display_pilot

# %%
display(Markdown(evidence.kl_pilot_verdict(kl_pilot)))

# %% [markdown]
# (vhcr-designed)=
# ## A designed test of the mechanism
#
# The real corpora at CPU budget cannot decide whether a conversation latent plus utterance drop
# keeps the latent in use: every latent above collapsed. This section asks the question where the
# answer is known, on a corpus the library generates from the seed
# ({py:class}`~companion.vhcr.designed.DesignedCorpus`; nothing is downloaded). **It is a designed
# test of the mechanism, not the paper's data.** Each conversation of six turns draws a *topic* k
# out of 8, shared by all its turns; each turn draws its own *act* out of 4. A turn is the act's
# marker word and five words, each a topic word (probability ½, from a bump around the topic's
# centre on a ring of 32 words, so neighbouring topics share words and one turn names its topic
# only roughly) or a word of the act. The generator's probabilities are exact, so the best NLL any
# of the models can reach, and the topic of every conversation, are known.
#
# What a latent can buy here is computable too. Knowing the topic is worth a lot to a model that
# sees no other turn, but the context GRU can infer it from the turns it reads; a z_conv that
# names the topic then adds only what those turns leave unsaid, while it costs about log 8 nats of
# KL per conversation against a prior that ignores them. Utterance drop hides turns from the
# context in training and so raises what z_conv can add. For an *ideal* model (exact inference,
# unlimited capacity) the table gives, per drop rate, what a topic-naming z_conv gains and costs
# in nats per conversation ({py:meth}`~companion.vhcr.designed.DesignedCorpus.topic_code_balance`,
# Monte Carlo over 20,000 conversations with exact probabilities): it pays only above a drop rate
# of about 0.47. The grid therefore runs the paper's rate 0.25, 0.5 and 0.75 (0 is plain VHCR),
# five seeds each (three at first, see below), with the cpu-long models for 5,000 steps (10 epochs of batches of 16 over 8,000
# training conversations, β annealed over the first 3,000), NLL and KL on all 1,000 test
# conversations. These settings were fixed from the generator's numbers before any run; the
# decisions are made per drop rate and never pooled with Chit-Chat.

# %%
from companion.vhcr.designed import DESIGN

entropies = DESIGN.monte_carlo_entropies()
pd.Series({"told the topic: H(x_t | k)": entropies["given topic"],
           "best (topic inferred from the turns): H(x_2…T | x_1)": entropies["best"],
           "reading no other turn: H(x_t)": entropies["without context"]},
          name="NLL per word (nats)").to_frame().round(4)

# %%
balance = evidence.ideal_balance([0.0, 0.25, 0.5, 0.75])
balance.round(3)

# %% [markdown]
# Per drop rate and model, the mean over seeds of the test NLL and its excess over the generator's
# own NLL on the same conversations, the KL per word of each latent, and the held-out accuracy of a
# probe that names the topic from what a model holds after the conversation: the context GRU's
# last state, a posterior draw and the posterior mean of each latent (z_t averaged over turns).
# Chance is 1/8; the generator's own posterior reaches the ceiling. A draw carries what the
# latent transmits through its noise; a mean, what the encoder separates however little the
# decoder uses it.

# %% tags=["full-width"]
designed_runs = evidence.of_dataset(all_long_runs, "designed")
evidence.known_latent_summary(designed_runs).round(3)

# %% [markdown]
# The mechanism in one figure: VHCR's z_conv against the drop rate it was trained with, each seed
# a line (left: its test KL per conversation, beside the KL an ideal topic code would cost, the
# shaded rates being those where such a code pays; right: how well a probe names the topic from
# one draw of z_conv, which carries only what gets through the posterior's noise).

# %% mystnb={"figure": {"caption": "Designed corpus: VHCR's $z_{conv}$ against the drop rate it was trained with, each seed a line (left: test KL per conversation beside the cost of an ideal topic code; right: how well a probe names the topic from one draw of $z_{conv}$).", "name": "fig-vhcr-drop-curve"}}
curve = evidence.drop_curve(designed_runs)
if len(curve):
    evidence.plot_drop_curve(curve, balance)
    plt.show()
else:
    print("No designed-corpus records yet.")

# %% [markdown]
# The same test KLs seed by seed, per drop rate (every seed a dot, the mean ± 1 sd a black bar;
# dotted: the collapse threshold):

# %% mystnb={"figure": {"caption": "Designed corpus, one figure per setting (its title): test NLL and each latent's KL per word, every seed (KL on a log scale; dotted: the collapse threshold)."}}
for (label, group) in evidence.settings_of(designed_runs):
    seeds_of_rate = evidence.per_seed(group)
    if len(seeds_of_rate):
        fig = evidence.plot_seeds(seeds_of_rate)
        fig.suptitle(label, fontsize=10)
        fig.tight_layout()
        plt.show()
if not len(designed_runs):
    print("No designed-corpus records yet.")

# %%
if len(curve):
    by_rate = curve.groupby("utterance drop")[["KL z_conv / conversation", "probe z_conv"]].mean()
    learned = evidence.known_latent_summary(designed_runs)
    glue("designed_nll_excess", float(learned["NLL − generator"].max()), display=False)
    glue("designed_probe_context", float(learned["probe context"].min()), display=False)
    glue("designed_cost", float(balance["cost"].iloc[0]), display=False)
    for rate in (0.0, 0.25, 0.5, 0.75):
        key = f"{rate:g}".replace(".", "")
        glue(f"designed_kl_{key}", float(by_rate.loc[rate, "KL z_conv / conversation"]), display=False)
        glue(f"designed_probe_{key}", float(by_rate.loc[rate, "probe z_conv"]), display=False)

# %% [markdown]
# **What the runs show.** Every model learned the corpus: its test NLL lies within
# {glue:text}`designed_nll_excess:.3f` nats per word of the generator's own, and a probe names the
# topic from the context GRU's last state alone at least {glue:text}`designed_probe_context:.3f` of
# the time, in every model: the context carries the topic whatever the latents do. The latents
# follow the ideal model's balance. Without utterance drop, VHCR's z_conv carries
# {glue:text}`designed_kl_0:.2f` nats per conversation on average and, at the paper's rate 0.25,
# below the break-even, {glue:text}`designed_kl_025:.2f`: collapsed, a draw naming the topic
# {glue:text}`designed_probe_025:.2f` of the time (chance 0.125). At 0.5, just above the break-even,
# it carries {glue:text}`designed_kl_05:.2f` nats (a draw names the topic
# {glue:text}`designed_probe_05:.2f` of the time), and at 0.75 {glue:text}`designed_kl_075:.2f`,
# about what an ideal topic code costs ({glue:text}`designed_cost:.2f`), a single draw naming the
# topic {glue:text}`designed_probe_075:.2f` of the time. The posterior means of the latents separate
# the topics in every model (the "mean" probes), so the encoders see the topic; whether the decoder
# is made to use it is what utterance drop decides. On this corpus the paper's mechanism therefore
# shows, but only where hiding turns from the context makes a conversation latent pay, which the
# paper's rate 0.25 does not do here: a designed test, not the paper's data, and one that says the
# drop rate matters.

# %% [markdown]
# The paper's two claims decided on the designed corpus, one setting per drop rate, by the rule of
# the Chit-Chat section (these decisions also appear on the summary page):

# %% tags=["full-width"]
designed_decisions = [d for d in long_decisions if d.finding.setting != "chitchat"]
decision_frame(designed_decisions)

# %%
display(Markdown(evidence.decision_text(designed_decisions)))

# %% [markdown]
# The grid first planned seeds 0–2. When seeds 0–2 of rates 0.25 and 0.5 and seeds 0–1 of 0.75 had
# run, every verdict was inconclusive under Holm's adjustment over the six tests, although the
# sign of each effect agreed in every seed, so seeds 3 and 4 were added at every drop rate (the
# paper's 0.25, where the effect goes against the claim, included). The decisions on seeds 0–2,
# for comparison (with seed 2 of rate 0.75, which landed after that choice):

# %% tags=["full-width"]
from companion.vhcr.settings import DESIGNED_FIRST_SEEDS

first_runs = all_long_runs[(all_long_runs["param_dataset"] != "designed")
                           | all_long_runs["param_seed"].isin(DESIGNED_FIRST_SEEDS)] if len(all_long_runs) else all_long_runs
first_frame = decision_frame([d for d in decide(evidence.findings("cpu-long", first_runs))
                              if d.finding.setting != "chitchat"])
first_frame.assign(setting=first_frame["setting"].str.replace("designed corpus", "designed corpus, seeds 0–2",
                                                              regex=False)) if len(first_frame) else first_frame

# %% [markdown]
# (vhcr-decisions)=
# ## Recorded runs
#
# This run's metrics are recorded; the table lists the runs of this profile stored in
# `data/results/vhcr/` (for the default profile: CPU-scale runs with different seeds and
# utterance-drop rates; cpu-long and paper-scale runs are shown in their own sections).

# %% tags=["full-width"]
rows = experiments.metric_rows(table, trained, embedding, known_latent)
record_run("vhcr", params.record(), rows, wall_time_s=time.perf_counter() - started, device=str(torch_device))
runs = load_runs("vhcr", profile=params.profile)
columns = ["profile", "param_dataset", "param_seed", "param_utterance_drop", "model", "NLL", "KL z_utt", "KL z_conv"]
runs[[c for c in columns if c in runs]].round(ROUNDING) if len(runs) else pd.DataFrame(columns=columns)

# %% [markdown]
# The paper's claims decided on the planned runs of this profile stored there and this run, per
# setting (data set and the parameters that tell the settings apart), by the rule of the
# cpu-long section:

# %% tags=["full-width"]
recorded = with_this_run("vhcr", load_runs("vhcr", profile=params.profile,
                                           keys=planned_keys("vhcr", params.profile)), params.record(), rows)
decisions = decide(evidence.findings(params.profile, recorded))
decision_frame(decisions)

# %%
display(Markdown(evidence.decision_text(decisions)))
