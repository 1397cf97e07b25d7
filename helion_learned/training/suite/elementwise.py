"""Compatibility alias: the elementwise kernels now live in :mod:`.pointwise`.

Kept so that module paths in existing commands and tests
(``backfill-facts --kernels helion_learned.training.suite.elementwise``) keep working.
"""

from __future__ import annotations

from .pointwise import add
from .pointwise import add_ref
from .pointwise import fma
from .pointwise import fma_ref
from .pointwise import gelu
from .pointwise import gelu_ref
from .pointwise import silu
from .pointwise import silu_ref

__all__ = ["add", "add_ref", "fma", "fma_ref", "gelu", "gelu_ref", "silu", "silu_ref"]
