"""HRED, VHRED and VHCR (Park, Cho & Kim, NAACL 2018): hierarchical latent conversation models.

Modules: :mod:`~companion.vhcr.text` (cleaning, tokens, vocabulary, padded tensors),
:mod:`~companion.vhcr.corpora` (Chit-Chat, Cornell Movie-Dialogs, Ubuntu v1),
:mod:`~companion.vhcr.kl` (Gaussian KL, annealing), :mod:`~companion.vhcr.modules` (encoders,
decoder, word and utterance drop), :mod:`~companion.vhcr.models` (HRED, VHRED, VHCR),
:mod:`~companion.vhcr.generation` (greedy, sampling, beam search),
:mod:`~companion.vhcr.evaluation` (likelihood, KL, embedding metrics),
:mod:`~companion.vhcr.settings` (the chapter's parameters,
:class:`~companion.vhcr.settings.VHCRSettings`, and profiles), :mod:`~companion.vhcr.experiments`
(the chapter's runs, tables, figures and record rows) and :mod:`~companion.vhcr.evidence` (the
paper's claims, declared once, decided on the records; the ``cpu-long`` records rendered).
"""

from companion.vhcr.models import HRED, VHCR, VHRED, ConversationTerms, HierarchicalModel
from companion.vhcr.settings import GRID, LABELS, PROFILES, VARIANTS, VHCRSettings

__all__ = [
    "GRID", "HRED", "LABELS", "PROFILES", "VARIANTS", "VHCR", "VHRED", "ConversationTerms",
    "HierarchicalModel", "VHCRSettings",
]
