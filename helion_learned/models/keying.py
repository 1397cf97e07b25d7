"""A Helion config generation for keying many partial configs of one bind, with less repeated work.

:func:`.candidates.canonical_key` runs Helion's seed-transfer path (flatten, unflatten, flatten)
once per config; at bind time that was about half of the prediction (~0.8 ms a key on the 2-core
test host). Two lookups inside it depend on the generation alone, not on the config: the
fragment defaults every flatten starts from (it re-derives them, shrinking block sizes through
sympy) and the field map. :func:`key_generation` computes each once per generation (~0.5 ms a
key), on a generation only our caller holds; Helion's own objects are left as they are.

The generation is built on a shallow copy of the config spec (:func:`keying_spec`) whose
``supports_config_key`` answers from a memo: Helion's normalize asks it ~100 times per config, each
through two backend calls and a function-level import (about half of a key's time). The answer
depends on the spec's backend and device alone, fixed for the bind. ~0.6 -> ~0.3 ms a key.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

# Generation methods whose result depends on the generation alone: (name, whether callers
# mutate the result, so each call needs its own copy).
_PER_GENERATION = (("_fragment_default_flat", True), ("_flat_fields", False))


def key_generation(config_spec: Any) -> Any:
    """``config_spec.create_config_generation()`` with :data:`_PER_GENERATION` computed once,
    on :func:`keying_spec`. Keys are the same as with a plain generation
    (tests/runtime/test_keying.py)."""
    gen = keying_spec(config_spec).create_config_generation()
    for name, mutated in _PER_GENERATION:
        method = getattr(gen, name, None)
        if callable(method):  # another Helion without it: that lookup is simply not cached
            setattr(gen, name, _once(method, _fresh_list if mutated else None))
    return gen


def keying_spec(config_spec: Any) -> Any:
    """A shallow copy of ``config_spec`` (Helion's own is left untouched) whose
    ``supports_config_key`` and ``_flat_fields()`` are computed once per key. Both read only the
    spec's backend, device and fields, which do not change while one bind is keyed."""
    try:
        spec = copy.copy(config_spec)
    except Exception:  # not copyable: key on the spec itself, uncached
        return config_spec
    supports = getattr(spec, "supports_config_key", None)  # bound to the copy
    if callable(supports):
        spec.supports_config_key = _memo(supports)
    fields = getattr(spec, "_flat_fields", None)
    if callable(fields):  # the generation's own _flat_fields is cached the same way
        spec._flat_fields = _once(fields, None)
    return spec


def _memo(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method(key)`` computed once per key (hashable, positional); other calls go through."""
    cache: dict[Any, Any] = {}

    @functools.wraps(method)
    def wrapper(key: Any, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return method(key, *args, **kwargs)
        try:
            return cache[key]
        except KeyError:
            value = cache[key] = method(key)
            return value
        except TypeError:  # unhashable
            return method(key)

    return wrapper


_ATOMS = (int, float, str, bool, type(None))


def _fresh_list(values: list[Any]) -> list[Any]:
    """``copy.deepcopy(values)`` for a flat config: its atoms need no copy (deepcopy would
    return them as they are), only what may be mutated (lists of values) is copied."""
    if type(values) is not list:
        return copy.deepcopy(values)
    return [v if type(v) in _ATOMS else copy.deepcopy(v) for v in values]


def _once(method: Callable[..., Any], fresh: Callable[[Any], Any] | None) -> Callable[..., Any]:
    """``method()`` computed on the first call; calls with arguments go to ``method`` itself."""
    cache: list[Any] = []

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if args or kwargs:
            return method(*args, **kwargs)
        if not cache:
            cache.append(method())
        return fresh(cache[0]) if fresh is not None else cache[0]

    return wrapper
