"""Compatibility alias: these kernels now live in :mod:`.attention`, :mod:`.layouts` and
:mod:`.indexing` (kept so that existing module paths keep working)."""

from __future__ import annotations

from .attention import attention
from .attention import attention_ref
from .indexing import embedding
from .indexing import embedding_ref
from .layouts import concat
from .layouts import concat_ref
from .layouts import rotary_embedding
from .layouts import rotary_embedding_ref

__all__ = ["attention", "attention_ref", "concat", "concat_ref", "embedding", "embedding_ref",
           "rotary_embedding", "rotary_embedding_ref"]
