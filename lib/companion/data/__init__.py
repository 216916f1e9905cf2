"""Data sets used by the book.

Image sets load as :class:`ImageSet` (float32 images in [0, 1], shape N×C×H×W, int64 labels)
through :func:`load_images`; conversations load through :func:`load_conversations`.
The defaults ship inside PyPI packages and work offline; the full data sets are read from
their official files in a local folder (see :mod:`companion.data.files`).
"""

from companion.data.batching import batches
from companion.data.catalog import CATALOG, DatasetInfo, catalog_table, load_images
from companion.data.dialogue import load_conversations
from companion.data.errors import CorruptDataError, DataNotFoundError
from companion.data.images import ImageSet
from companion.data.preprocessing import (
    center,
    dynamic_binarize,
    flatten,
    inverse_logit_transform,
    logit_transform,
    pixel_mean,
)

__all__ = [
    "CATALOG", "CorruptDataError", "DataNotFoundError", "DatasetInfo", "ImageSet", "batches",
    "catalog_table", "center", "dynamic_binarize", "flatten", "inverse_logit_transform", "logit_transform", "load_conversations",
    "load_images", "pixel_mean",
]
