"""Helpers shared by the suite tests: fresh kernel copies and the new families."""

from __future__ import annotations

import helion

from helion_learned.training.suite.registry import SUITE
from helion_learned.training.suite.registry import SuiteKernel

N_ORIGINAL = 24  # families of the shipped model's training data, first in SUITE
ORIGINAL = list(SUITE)[:N_ORIGINAL]
NEW = list(SUITE)[N_ORIGINAL:]


def fresh(sk: SuiteKernel, **overrides: object) -> helion.Kernel:
    """A new Kernel over the same function: binds (and heuristics) run again, and the suite's
    module-level kernels keep no state from the test."""
    return helion.kernel(sk.kernel.fn, **{**sk.kernel.settings.to_dict(), **overrides})


def one_family_per_kernel(names: list[str]) -> list[str]:
    """The first family of each distinct kernel among ``names`` (SUITE order)."""
    seen: set[int] = set()
    out = []
    for name in names:
        if id(SUITE[name].kernel) not in seen:
            seen.add(id(SUITE[name].kernel))
            out.append(name)
    return out
