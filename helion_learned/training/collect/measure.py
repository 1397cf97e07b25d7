"""Measuring one workload with Helion's own searches (Helion writes the CSV/meta rows itself).

Which configs get CSV rows (Helion's ``LocalBenchmarkProvider.benchmark``; our ``FiniteSearch``
subclass only replaces ``_autotune`` and runs ``autotune()``, so Helion's logging and tracing
path is the same as in any Helion search):

* every config that is benchmarked gets a ``started`` row and a result row (``ok``, ``error``,
  ``timeout``, ``accuracy_error``, ...); a config failing precompile gets its result row;
* a config failing to compile gets an ``error`` row: with ``autotune_log_details`` on (as here)
  Helion traces the search, and then it logs compile failures too;
* a config that the autotune budget cut off gets **no row**: ``benchmark`` pre-fills every slot
  with a placeholder ``BenchmarkResult(perf=inf, status="error")`` and, once
  ``_autotune_budget_exceeded`` fires (checked before each compile and each benchmark; the
  precompile wait in between is not budget-aware), stops and returns the placeholders unlogged.

The last case is what left workloads with all configs "error" and no CSV rows on H100 (only the
``.meta.jsonl`` record, written at the end of every logged run, with an empty ``configs`` map):
the finite search started near the deadline, compiling and precompiling its ~130 configs ran past
Helion's budget, and the benchmark loop stopped before its first config ("Autotuning complete ...
after searching 0 configs"). Those configs were never run, so logging them as failed would be
wrong data, and Helion has no status for "not run". Instead :func:`finite_search` reports the
cut (``truncated``) by watching ``_autotune_budget_exceeded``, and the worker rolls the whole
workload back (see :mod:`.files`) so a later call measures it in full.
"""

from __future__ import annotations

import contextlib
import gc
import inspect
import math
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any


def finite_search(bound: Any, args: tuple, configs: list[Any]) -> dict[str, Any]:
    """Benchmark ``configs`` with Helion's FiniteSearch under Helion's logging.

    ``truncated`` is true when Helion's budget cut the list short (some configs were not run);
    ``statuses`` then counts Helion's placeholders for those as "error".
    """
    from helion.autotuner.finite_search import FiniteSearch
    from helion.autotuner.search_space_logger import canonical_config_id

    class _Recording(FiniteSearch):
        recorded: list[Any] = []  # noqa: RUF012
        budget_hit = False

        def _autotune(self) -> Any:
            # As FiniteSearch._autotune, but keeps every result and survives "nothing ran".
            self.recorded = self.benchmark_batch(self.configs, desc="Benchmarking",
                                                 raise_if_no_viable_config=False)
            ok = [r for r in self.recorded if math.isfinite(r.perf)]
            return min(ok, key=lambda r: r.perf).config if ok else self.configs[0]

        def _autotune_budget_exceeded(self) -> bool:
            # The provider checks this before each config and stops at the first True.
            hit = super()._autotune_budget_exceeded()
            self.budget_hit = self.budget_hit or hit
            return hit

    search = _Recording(bound, args, configs=configs)
    search.autotune()
    ok = [r for r in search.recorded if r.status == "ok" and math.isfinite(r.perf)]
    best = min(ok, key=lambda r: r.perf) if ok else None
    return {
        "best_ms": float(best.perf) if best else None,
        "best_config_id": canonical_config_id(best.config) if best else None,
        "statuses": dict(Counter(str(r.status) for r in search.recorded)),
        "n_measured": len(search.recorded),
        "truncated": search.budget_hit,
        "helion_run_id": search._kernel_metadata.run_id,
    }


def real_autotune(bound: Any, args: tuple, search_cls: type | None = None, *,
                  effort: str = "quick") -> dict[str, Any]:
    """A real Helion search (LFBOTreeSearch, or PatternSearch without sklearn; ``search_cls``
    another, e.g. helion_learned's LearnedPriorLFBOTreeSearch) with the effort profile's settings
    (``quick`` or ``full``). A search cut by its budget is kept: returning the best so far is
    Helion's own behaviour; ``budget_hit`` says whether it was cut."""
    from helion.autotuner.effort_profile import get_effort_profile
    from helion.autotuner.search_space_logger import canonical_config_id

    t0 = time.time()
    try:
        from helion.autotuner.surrogate_pattern_search import HAS_ML_DEPS
        from helion.autotuner.surrogate_pattern_search import LFBOTreeSearch as cls
    except ImportError:
        HAS_ML_DEPS = False
    if not HAS_ML_DEPS:
        from helion.autotuner.pattern_search import PatternSearch as cls
    if search_cls is not None:
        cls = search_cls
    # Helion also reads the effort from the settings (rebenchmark threshold, full effort's final
    # selection), not only from the constructor's keyword arguments: set both, then restore.
    saved_effort = bound.settings.autotune_effort
    bound.settings.autotune_effort = effort
    try:
        params = inspect.signature(cls.__init__).parameters
        kwargs = {k: v for k, v in cls.get_kwargs_from_profile(
            get_effort_profile(effort), bound.settings).items() if k in params}
        search = cls(bound, args, **kwargs)
        best = search.autotune()
    except Exception as e:  # the finite measurements stand on their own
        return {"search": cls.__name__, "error": f"{type(e).__name__}: {e}"[:500],
                "elapsed_s": round(time.time() - t0, 2)}
    finally:
        bound.settings.autotune_effort = saved_effort
    perf = search.best_perf_so_far
    budget = getattr(bound.settings, "autotune_budget_seconds", None)
    elapsed = time.time() - t0
    return {"search": cls.__name__, "effort": effort, "best_config_id": canonical_config_id(best),
            "best_ms": float(perf) if math.isfinite(perf) else None,
            "budget_s": budget, "elapsed_s": round(elapsed, 2),
            # Helion stops at its budget and returns the best so far: a cut search is a
            # truncated one, recorded so that "best known" can say which it was.
            "budget_hit": bool(budget) and elapsed >= 0.95 * float(budget)}


def is_fatal(e: BaseException) -> bool:
    """Errors after which this process's CUDA context is unusable."""
    from helion import exc

    if isinstance(e, exc.TritonUnrecoverableRuntimeError):
        return True
    text = str(e).lower()
    return any(s in text for s in ("illegal memory access", "unspecified launch failure",
                                   "device-side assert", "misaligned address", "cuda error"))


def release_memory() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@contextlib.contextmanager
def without_learned_heuristics() -> Iterator[None]:
    """Measure Helion as shipped: take any installed helion_learned heuristic out meanwhile."""
    from helion._compiler import autotuner_heuristics as ah

    saved = dict(ah.HEURISTICS_BY_BACKEND)
    for backend, heuristics in saved.items():
        ah.HEURISTICS_BY_BACKEND[backend] = tuple(
            h for h in heuristics if not getattr(h, "_helion_learned", False)
            and not str(getattr(h, "__module__", "")).startswith("helion_learned"))
    try:
        yield
    finally:
        ah.HEURISTICS_BY_BACKEND.update(saved)
