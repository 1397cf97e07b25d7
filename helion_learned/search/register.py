"""Register the learned searches with Helion and build ``autotuner_fn`` callables for them."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any

SEARCH_NAMES = ("LearnedTopKSearch", "LearnedPriorLFBOTreeSearch")


def _classes() -> dict[str, type]:
    from .prior import LearnedPriorLFBOTreeSearch
    from .topk import LearnedTopKSearch

    return {"LearnedTopKSearch": LearnedTopKSearch,
            "LearnedPriorLFBOTreeSearch": LearnedPriorLFBOTreeSearch}


def register() -> None:
    """Add the learned searches to ``helion.autotuner.search_algorithms`` (idempotent), so that
    ``HELION_AUTOTUNER=<name>`` selects them and Helion's cache keys them as built-in searches."""
    from helion.autotuner import search_algorithms

    search_algorithms.update(_classes())


def unregister() -> None:
    from helion.autotuner import search_algorithms

    for name in SEARCH_NAMES:
        search_algorithms.pop(name, None)


def autotuner(k: int = 8, *, search: str = "LearnedTopKSearch",
              **search_kwargs: Any) -> Callable[..., Any]:
    """An ``autotuner_fn`` for ``@helion.kernel(autotuner_fn=helion_learned.autotuner(k=8))``.

    ``search="LearnedTopKSearch"`` (default) benchmarks the learned top-``k`` plus Helion's own
    configs; ``"LearnedPriorLFBOTreeSearch"`` runs Helion's default search with the learned
    top-``k`` as its prior (``k`` is then ``learned_k``). The search is wrapped in the kernel's
    ``autotune_cache`` class, as Helion's own default autotuner_fn does.
    """
    classes = _classes()
    if search not in classes:
        raise ValueError(f"search={search!r}; expected one of {sorted(classes)}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    cls = classes[search]
    key = "k" if search == "LearnedTopKSearch" else "learned_k"
    register()

    def autotuner_fn(bound_kernel: Any, args: Sequence[object], **kwargs: Any) -> Any:
        from helion.autotuner import cache_classes
        from helion.autotuner.effort_profile import get_effort_profile

        settings = bound_kernel.settings
        params = inspect.signature(cls.__init__).parameters
        kwargs = {**kwargs, **search_kwargs, key: k}
        for name, value in cls.get_kwargs_from_profile(
                get_effort_profile(settings.autotune_effort), settings).items():
            if name not in kwargs and name in params:
                kwargs[name] = value

        def factory() -> Any:
            return cls(bound_kernel, args, **kwargs)

        cache_cls = cache_classes.get(settings.autotune_cache)
        if cache_cls is None:
            raise ValueError(f"unknown autotune_cache {settings.autotune_cache!r}; expected one "
                             f"of {sorted(cache_classes)}")
        return cache_cls(factory(), autotuner_factory=factory)

    return autotuner_fn
