"""Families (kernel x dtype, shapes) added after the original 24, one module per kernel group.

Order matters: :data:`NEW_FAMILIES` is appended to the original families in ``SUITE`` order,
which fixes workload ids; add new families at the end.
"""

from __future__ import annotations

from . import elementwise
from . import gemms
from . import memory
from . import reductions

NEW_FAMILIES = (*elementwise.FAMILIES, *reductions.FAMILIES, *gemms.FAMILIES, *memory.FAMILIES)

__all__ = ["NEW_FAMILIES"]
