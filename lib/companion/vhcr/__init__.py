"""HRED, VHRED and VHCR (Park, Cho & Kim, NAACL 2018): hierarchical latent conversation models.

Modules: :mod:`~companion.vhcr.text` (cleaning, tokens, vocabulary, padded tensors),
:mod:`~companion.vhcr.corpora` (Chit-Chat, Cornell Movie-Dialogs, Ubuntu v1),
:mod:`~companion.vhcr.kl` (Gaussian KL, annealing), :mod:`~companion.vhcr.modules` (encoders,
decoder, word and utterance drop), :mod:`~companion.vhcr.models` (HRED, VHRED, VHCR),
:mod:`~companion.vhcr.generation` (greedy, sampling, beam search),
:mod:`~companion.vhcr.evaluation` (likelihood, KL, embedding metrics),
:mod:`~companion.vhcr.settings` (chapter parameters), :mod:`~companion.vhcr.experiments`
(the chapter's runs, tables and figures) and :mod:`~companion.vhcr.evidence` (the committed
``cpu-long`` records rendered: spreads over seeds and the claims' verdicts).
"""

from companion.vhcr.models import HRED, VHCR, VHRED, ConversationTerms, HierarchicalModel
from companion.vhcr.settings import GRID, LABELS, PROFILES, VARIANTS, settings

__all__ = [
    "GRID", "HRED", "LABELS", "PROFILES", "VARIANTS", "VHCR", "VHRED", "ConversationTerms",
    "HierarchicalModel", "settings",
]
