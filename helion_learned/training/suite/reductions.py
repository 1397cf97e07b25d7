"""Compatibility alias: the reduction kernels now live in :mod:`.statistics`,
:mod:`.softmax_losses` and :mod:`.norms` (kept so that existing module paths keep working)."""

from __future__ import annotations

from .norms import layer_norm
from .norms import layer_norm_ref
from .norms import rms_norm
from .norms import rms_norm_ref
from .softmax_losses import batch_softmax
from .softmax_losses import cross_entropy
from .softmax_losses import cross_entropy_ref
from .softmax_losses import log_softmax
from .softmax_losses import log_softmax_ref
from .softmax_losses import softmax
from .softmax_losses import softmax_ref
from .statistics import col_mean
from .statistics import col_mean_ref
from .statistics import row_sum
from .statistics import row_sum_ref

__all__ = ["batch_softmax", "col_mean", "col_mean_ref", "cross_entropy", "cross_entropy_ref",
           "layer_norm", "layer_norm_ref", "log_softmax", "log_softmax_ref", "rms_norm",
           "rms_norm_ref", "row_sum", "row_sum_ref", "softmax", "softmax_ref"]
