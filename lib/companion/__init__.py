"""Companion library to SplitNet, VHCR and VLAE, and a study of PPCA orthogonality.

Modules: :mod:`companion.data` (data sets), :mod:`companion.training` (the shared loop),
:mod:`companion.results` (run records), :mod:`companion.paper` (reported numbers),
:mod:`companion.config` (chapter parameters), and one module or subpackage per method.
"""

__version__ = "0.1.0"
